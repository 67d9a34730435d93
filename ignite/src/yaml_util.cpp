#include "ignite/src/yaml_util.hpp"

#include <cctype>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <vector>

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

bool is_blank(char c) { return c == ' ' || c == '\t'; }
// Whitespace or end of line/text after position i: what makes `-`, `?` and `:` indicators.
bool ends_token(std::string_view t, std::size_t i) {
  return i >= t.size() || is_blank(t[i]) || t[i] == '\n' || t[i] == '\r';
}
bool is_flow_indicator(char c) { return c == ',' || c == '[' || c == ']' || c == '{' || c == '}'; }

// Non-empty, and every character a digit in `base` (8, 10 or 16).
bool all_digits(std::string_view s, int base) {
  if (s.empty()) return false;
  for (const char c : s) {
    const bool ok = base == 16 ? std::isxdigit(static_cast<unsigned char>(c)) != 0
                               : c >= '0' && c < static_cast<char>('0' + base);
    if (!ok) return false;
  }
  return true;
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? -- scanned by hand: libstdc++'s
// std::regex recurses once per character and overflows the stack on a long scalar.
bool is_decimal_number(std::string_view s) {
  const std::size_t n = s.size();
  std::size_t i = 0;
  auto digits = [&] {
    const std::size_t from = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') ++i;
    return i - from;
  };
  if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
  const std::size_t whole = digits();
  std::size_t fraction = 0;
  if (i < n && s[i] == '.') {
    ++i;
    fraction = digits();
  }
  if (whole == 0 && fraction == 0) return false;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    if (digits() == 0) return false;
  }
  return i == n;
}

}  // namespace

std::string YamlNestingProblem::message() const {
  return std::to_string(line) + ":" + std::to_string(column) + ": YAML nesting deeper than " +
         std::to_string(kMaxYamlNesting) + " levels";
}

std::optional<YamlNestingProblem> yaml_nesting_problem(std::string_view t) {
  const std::size_t n = t.size();
  std::vector<std::size_t> block;  // columns of the open block-context nodes
  int flow = 0;                    // open `[` / `{`
  int line = 1;
  std::size_t line_start = 0;
  std::size_t line_indent = 0;  // indentation of the current structural line
  bool line_begin = true;       // at the first character of a line
  bool node_start = true;       // where a node (and so a collection or a quote) may begin
  // The last block level pushed is a node not yet seen: a flow collection there is that level.
  bool fresh_block_node = false;
  bool flow_shares_level = false;
  std::size_t i = t.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;
  if (i == 3) line_start = 3;
  auto too_deep = [&] {
    return static_cast<int>(block.size()) + flow - (flow_shares_level ? 1 : 0) > kMaxYamlNesting;
  };
  auto problem = [&](std::size_t at) {
    return YamlNestingProblem{line, static_cast<int>(at - line_start) + 1};
  };
  auto newline = [&](std::size_t at) {  // t[at] == '\n'
    ++line;
    line_start = at + 1;
  };
  while (i < n) {
    if (line_begin) {
      line_begin = false;
      if (flow == 0) {
        std::size_t j = i;
        while (j < n && t[j] == ' ') ++j;
        if (j >= n) break;
        const char c = t[j];
        // Blank and comment lines, and tab-led ones, are no structure.
        if (c != '\n' && c != '\r' && c != '#' && c != '\t') {
          line_indent = j - i;
          if (line_indent == 0 && (t.substr(j, 3) == "---" || t.substr(j, 3) == "...") &&
              ends_token(t, j + 3)) {
            block.clear();
            node_start = true;
            fresh_block_node = false;
            i = j + 3;
            continue;
          }
          while (!block.empty() && block.back() >= line_indent) block.pop_back();
          block.push_back(line_indent);
          if (too_deep()) return problem(j);
          node_start = true;
          fresh_block_node = true;
        }
        i = j;
        continue;
      }
    }
    const char c = t[i];
    if (c == '\n') {
      newline(i);
      line_begin = true;
      ++i;
      continue;
    }
    if (is_blank(c) || c == '\r') {
      ++i;
      continue;
    }
    if (c == '#' && (i == line_start || is_blank(t[i - 1]))) {
      while (i < n && t[i] != '\n') ++i;
      continue;
    }
    if (node_start) {
      if ((c == '-' || c == '?') && flow == 0 && ends_token(t, i + 1)) {
        // A block sequence entry or explicit key: its node is one level deeper.
        std::size_t k = i + 1;
        while (k < n && t[k] == ' ') ++k;
        block.push_back(k - line_start);
        if (too_deep()) return problem(i);
        fresh_block_node = true;
        i = i + 1;
        continue;
      }
      if (c == '!' || c == '&') {  // tag or anchor: the node follows
        while (i < n && !ends_token(t, i) && !(flow > 0 && is_flow_indicator(t[i]))) ++i;
        continue;
      }
      if (c == '"' || c == '\'') {
        ++i;
        while (i < n) {
          if (t[i] == '\n') newline(i);
          if (c == '"' && t[i] == '\\') {
            ++i;
            if (i < n && t[i] == '\n') newline(i);
          } else if (t[i] == c) {
            if (c == '\'' && i + 1 < n && t[i + 1] == '\'') {
              ++i;
            } else {
              break;
            }
          }
          ++i;
        }
        ++i;  // the closing quote
        node_start = false;
        fresh_block_node = false;
        continue;
      }
      if ((c == '|' || c == '>') && flow == 0) {
        // Block scalar: every following line indented past this one, or blank, is content.
        while (i < n && t[i] != '\n') ++i;
        while (i < n) {
          std::size_t j = i + 1;
          while (j < n && t[j] == ' ') ++j;
          const bool blank = j >= n || t[j] == '\n' || t[j] == '\r';
          if (!blank && j - (i + 1) <= line_indent) break;
          newline(i);
          i = j;
          while (i < n && t[i] != '\n') ++i;
        }
        node_start = false;
        fresh_block_node = false;
        continue;
      }
    }
    if (c == '[' || c == '{') {
      // In block context only a node may start a flow collection (`a[b` is a plain scalar).
      if (flow > 0 || node_start) {
        if (flow == 0) flow_shares_level = fresh_block_node;
        ++flow;
        if (too_deep()) return problem(i);
        node_start = true;
        ++i;
        continue;
      }
    } else if (flow > 0 && (c == ']' || c == '}')) {
      if (--flow == 0) flow_shares_level = false;
      node_start = false;
      fresh_block_node = false;
      ++i;
      continue;
    } else if (flow > 0 && c == ',') {
      node_start = true;
      fresh_block_node = false;
      ++i;
      continue;
    } else if (c == ':' && (ends_token(t, i + 1) || (flow > 0 && is_flow_indicator(t[i + 1])))) {
      node_start = true;
      fresh_block_node = false;
      ++i;
      continue;
    }
    node_start = false;
    fresh_block_node = false;
    ++i;
  }
  return std::nullopt;
}

bool is_valid_utf8(std::string_view s) noexcept {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    std::uint32_t cp;
    if (b >= 0xC2 && b <= 0xDF) {
      len = 2;
      cp = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
      len = 3;
      cp = b & 0x0F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      len = 4;
      cp = b & 0x07;
    } else {
      return false;  // continuation byte, overlong lead (C0, C1) or past U+10FFFF (F5..FF)
    }
    if (s.size() - i < len) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto cb = static_cast<unsigned char>(s[i + k]);
      if ((cb & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cb & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

YAML::Node load_yaml_text(const std::string& text, const std::string& file_label) {
  if (const auto deep = yaml_nesting_problem(text)) {
    throw Error(ErrorCode::Config, file_label + ":" + deep->message());
  }
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
  if (is_decimal_number(s)) {
    try {
      return std::stod(s);
    } catch (...) {
      return std::numeric_limits<double>::infinity();  // out of range: still a number
    }
  }
  const bool hex = s.size() > 2 && s[0] == '0' && s[1] == 'x' && all_digits(s.substr(2), 16);
  if (hex || (s.size() > 2 && s[0] == '0' && s[1] == 'o' && all_digits(s.substr(2), 8))) {
    try {
      return static_cast<double>(std::stoull(s.substr(2), nullptr, hex ? 16 : 8));
    } catch (const std::out_of_range&) {
      return std::numeric_limits<double>::infinity();  // past 64 bits: still a number
    }
  }
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
