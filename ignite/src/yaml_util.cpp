#include "ignite/src/yaml_util.hpp"

#include <cmath>
#include <fstream>
#include <limits>
#include <regex>
#include <sstream>

#include "ignite/error.hpp"

namespace Ignite::detail {
namespace {

// A missing key yields an invalid node on which every accessor but IsDefined() throws.
bool is_plain(const YAML::Node& node) {
  return node.IsDefined() && node.IsScalar() && node.Tag() == "?";
}

bool is_null_scalar(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return true;
  if (!is_plain(node)) return false;
  const std::string& s = node.Scalar();
  return s == "~" || s == "null" || s == "Null" || s == "NULL" || s.empty();
}

}  // namespace

YAML::Node load_yaml_text(const std::string& text, const std::string& file_label) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    // yaml-cpp marks are 0-based; editors count from 1.
    throw Error(ErrorCode::Config, file_label + ":" + std::to_string(e.mark.line + 1) + ":" +
                                       std::to_string(e.mark.column + 1) +
                                       ": YAML syntax error: " + e.msg);
  }
}

YAML::Node load_yaml_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw Error(ErrorCode::Service, "Cannot read " + path.filename().string() + " at " +
                                        path.string());
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return load_yaml_text(ss.str(), path.string());
}

std::optional<double> as_number(const YAML::Node& node) {
  if (!is_plain(node)) return std::nullopt;
  const std::string& s = node.Scalar();
  static const std::regex kInt(R"([-+]?[0-9]+)");
  static const std::regex kFloat(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");
  static const std::regex kHex(R"(0x[0-9a-fA-F]+)");
  static const std::regex kOct(R"(0o[0-7]+)");
  if (std::regex_match(s, kInt) || std::regex_match(s, kFloat)) {
    try {
      return std::stod(s);
    } catch (...) {
      return std::numeric_limits<double>::infinity();  // out of range: still a number
    }
  }
  if (std::regex_match(s, kHex)) return static_cast<double>(std::stoull(s.substr(2), nullptr, 16));
  if (std::regex_match(s, kOct)) return static_cast<double>(std::stoull(s.substr(2), nullptr, 8));
  if (s == ".inf" || s == ".Inf" || s == ".INF" || s == "+.inf" || s == "+.Inf" || s == "+.INF") {
    return std::numeric_limits<double>::infinity();
  }
  if (s == "-.inf" || s == "-.Inf" || s == "-.INF") return -std::numeric_limits<double>::infinity();
  if (s == ".nan" || s == ".NaN" || s == ".NAN") return std::numeric_limits<double>::quiet_NaN();
  return std::nullopt;
}

std::optional<bool> as_bool(const YAML::Node& node) {
  if (!is_plain(node)) return std::nullopt;
  const std::string& s = node.Scalar();
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  return std::nullopt;
}

std::optional<std::string> as_string(const YAML::Node& node) {
  if (!node.IsDefined() || !node.IsScalar()) return std::nullopt;
  if (is_plain(node) && (as_number(node) || as_bool(node) || is_null_scalar(node))) {
    return std::nullopt;
  }
  return node.Scalar();
}

std::string require_string(const YAML::Node& map, const char* key, const std::string& where) {
  auto v = optional_string(map, key, where);
  if (!v || v->empty()) {
    throw Error(ErrorCode::Config, where + "." + key + " is required (a non-empty string)");
  }
  return *v;
}

std::optional<std::string> optional_string(const YAML::Node& map, const char* key,
                                           const std::string& where) {
  const YAML::Node n = map[key];
  if (!n) return std::nullopt;
  auto s = as_string(n);
  if (!s) throw Error(ErrorCode::Config, where + "." + key + " must be a string");
  return s;
}

std::vector<std::string> string_list(const YAML::Node& map, const char* key,
                                     const std::string& where) {
  const YAML::Node n = map[key];
  if (!n || !n.IsSequence() || n.size() == 0) {
    throw Error(ErrorCode::Config, where + "." + key + " must be a non-empty list of strings");
  }
  std::vector<std::string> out;
  for (const auto& item : n) {
    auto s = as_string(item);
    if (!s) throw Error(ErrorCode::Config, where + "." + key + " must contain only strings");
    out.push_back(*s);
  }
  return out;
}

}  // namespace Ignite::detail
