#include "ignite/service.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <regex>
#include <system_error>
#include <vector>

#include "ignite/error.hpp"
#include "ignite/runtime.hpp"
#include "ignite/src/format_util.hpp"
#include "ignite/src/yaml_util.hpp"

namespace fs = std::filesystem;

namespace Ignite {
namespace {

using detail::as_number;
using detail::join;
using detail::as_string;

// Lexically normalises `entry`; nullopt when it is absolute or climbs out of the directory at
// any point ("a/../../x" included, which the reference let through).
std::optional<std::string> normalise_entry(const std::string& entry) {
  if (entry.empty() || entry.front() == '/' || entry.front() == '\\') return std::nullopt;
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= entry.size()) {
    const std::size_t slash = entry.find('/', start);
    const std::string part =
        entry.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (part == "..") {
      if (parts.empty()) return std::nullopt;
      parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  if (parts.empty()) return std::nullopt;
  return join(parts, "/");
}

constexpr double kMaxCpuTimeMs = 1e12;

// Positive finite number rule shared by memoryMb, cpuLimit, timeoutMs and cpuTimeMs.
std::optional<double> positive_number(const YAML::Node& node) {
  auto n = as_number(node);
  if (!n || !std::isfinite(*n) || *n <= 0) return std::nullopt;
  return n;
}

void check_preflight(const YAML::Node& pf, PreflightConfig& out, std::vector<std::string>& errors) {
  if (!pf.IsMap()) {
    errors.push_back("preflight must be an object");
    return;
  }
  struct Field {
    const char* name;
    std::optional<double>* target;
  };
  struct Section {
    const char* name;
    std::vector<Field> fields;
    // The pair whose first member must be less than the second.
    const char* lower;
    const char* upper;
  };
  const Section sections[] = {
      {"memory",
       {{"baseMb", &out.memory.base_mb},
        {"perDependencyMb", &out.memory.per_dependency_mb},
        {"warnRatio", &out.memory.warn_ratio},
        {"failRatio", &out.memory.fail_ratio}},
       // The check fails below failRatio and warns below warnRatio, so failRatio < warnRatio.
       "failRatio",
       "warnRatio"},
      {"dependencies",
       {{"warnCount", &out.dependencies.warn_count}, {"infoCount", &out.dependencies.info_count}},
       "infoCount",
       "warnCount"},
      {"image", {{"warnMb", &out.image.warn_mb}, {"failMb", &out.image.fail_mb}}, "warnMb", "failMb"},
      {"timeout",
       {{"minMs", &out.timeout.min_ms},
        {"maxMs", &out.timeout.max_ms},
        {"coldStartBufferMs", &out.timeout.cold_start_buffer_ms}},
       "minMs",
       "maxMs"},
  };
  for (const auto& section : sections) {
    const YAML::Node node = pf[section.name];
    if (!node) continue;
    const std::string prefix = std::string("preflight.") + section.name;
    if (!node.IsMap()) {
      errors.push_back(prefix + " must be an object");
      continue;
    }
    std::optional<double> lower, upper;
    for (const auto& field : section.fields) {
      const YAML::Node value = node[field.name];
      if (!value) continue;
      auto n = as_number(value);
      if (!n || !std::isfinite(*n)) {
        errors.push_back(prefix + "." + field.name + " must be a number");
        continue;
      }
      if (*n <= 0) {
        errors.push_back(prefix + "." + field.name + " must be a positive number");
        continue;
      }
      *field.target = *n;
      if (std::string_view(field.name) == section.lower) lower = *n;
      if (std::string_view(field.name) == section.upper) upper = *n;
    }
    if (lower && upper && *lower >= *upper) {
      errors.push_back(prefix + "." + section.lower + " must be less than " + prefix + "." +
                       section.upper);
    }
  }
}

// Reference §1.3: top-level packages, scopes counted per package, symlinks and dot-dirs skipped.
void scan_node_modules(Service& svc) {
  const fs::path nm = svc.path / "node_modules";
  std::error_code ec;
  if (!fs::is_directory(fs::symlink_status(nm, ec))) return;
  svc.has_node_modules = true;
  for (auto it = fs::recursive_directory_iterator(nm, fs::directory_options::skip_permission_denied,
                                                  ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec) && !it->is_symlink(ec)) svc.node_modules_size += it->file_size(ec);
  }
  for (const auto& entry : fs::directory_iterator(nm, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.' || entry.is_symlink(ec) || !entry.is_directory(ec)) continue;
    if (name[0] == '@') {
      for (const auto& scoped : fs::directory_iterator(entry.path(), ec)) {
        if (!scoped.is_symlink(ec) && scoped.is_directory(ec)) ++svc.dependency_count;
      }
    } else {
      ++svc.dependency_count;
    }
  }
}

}  // namespace

bool is_valid_env_name(std::string_view name) noexcept {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!(alpha || (i > 0 && digit))) return false;
  }
  return true;
}

std::optional<std::string> validate_name(std::string_view name) {
  if (name.empty()) return "Name is required";
  if (name.find("..") != std::string_view::npos || name.find('/') != std::string_view::npos ||
      name.find('\\') != std::string_view::npos) {
    return "Name contains invalid characters";
  }
  static const std::regex kName("^[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$|^[a-z0-9]$");
  if (!std::regex_match(std::string(name), kName)) {
    return "Name must be lowercase alphanumeric with hyphens (1-63 chars)";
  }
  return std::nullopt;
}

Service load_service(const fs::path& dir, const RuntimeRegistry* registry) {
  std::error_code ec;
  fs::path abs = fs::absolute(dir, ec);
  if (ec) throw Error(ErrorCode::Service, "Cannot resolve service path " + dir.string());
  abs = abs.lexically_normal();
  if (!abs.empty() && abs.filename().empty()) abs = abs.parent_path();
  const fs::path yaml_path = abs / "service.yaml";
  if (!fs::is_regular_file(yaml_path, ec)) {
    throw Error(ErrorCode::Service, "Cannot read service.yaml at " + yaml_path.string());
  }
  const YAML::Node doc = detail::load_yaml_file(yaml_path);
  const std::string file_note = " (in " + yaml_path.string() + ")";

  if (!doc.IsMap()) {
    throw Error(ErrorCode::Config, "Invalid service.yaml: Config must be an object" + file_note);
  }
  const YAML::Node s = doc["service"];
  if (!s || !s.IsMap()) {
    throw Error(ErrorCode::Config, "Invalid service.yaml: Missing service block" + file_note);
  }

  static const RuntimeRegistry kBuiltins = RuntimeRegistry::builtins();
  const RuntimeRegistry& reg = registry != nullptr ? *registry : kBuiltins;

  Service svc;
  svc.path = abs;
  ServiceConfig& cfg = svc.config;
  std::vector<std::string> errors;

  if (auto name = as_string(s["name"]); !name || name->empty()) {
    errors.push_back("service.name is required");
  } else if (auto problem = validate_name(*name)) {
    errors.push_back("service.name invalid: " + *problem);
  } else {
    cfg.name = *name;
  }

  auto runtime = as_string(s["runtime"]);
  if (!runtime || !reg.is_valid(*runtime)) {
    errors.push_back("service.runtime must be one of: " + join(reg.names(), ", "));
  } else {
    cfg.runtime = *runtime;
  }

  if (auto entry = as_string(s["entry"]); !entry || entry->empty()) {
    errors.push_back("service.entry is required");
  } else if (auto norm = normalise_entry(*entry); !norm) {
    errors.push_back("service.entry must be a relative path within the service directory");
  } else {
    cfg.entry = *norm;
  }

  if (auto mem = positive_number(s["memoryMb"])) {
    cfg.memory_mb = *mem;
  } else {
    errors.push_back("service.memoryMb must be a positive number");
  }
  if (s["cpuLimit"]) {
    if (auto cpu = positive_number(s["cpuLimit"])) {
      cfg.cpu_limit = *cpu;
    } else {
      errors.push_back("service.cpuLimit must be a positive number");
    }
  }
  if (auto timeout = positive_number(s["timeoutMs"])) {
    cfg.timeout_ms = *timeout;
  } else {
    errors.push_back("service.timeoutMs must be a positive number");
  }
  if (const YAML::Node cpu_time = s["cpuTimeMs"]) {
    // Bounded so that it converts to std::chrono::microseconds without overflow.
    if (auto ms = positive_number(cpu_time); ms && *ms <= kMaxCpuTimeMs) {
      cfg.cpu_time_ms = *ms;
    } else {
      errors.push_back(
          "service.cpuTimeMs must be a positive number of milliseconds of CPU time, at most 1e12");
    }
  }
  if (const YAML::Node reuse = s["reuse"]) {
    // An integer count of jobs per container: 1 (each job its own container) to 10000.
    const auto n = positive_number(reuse);
    if (n && *n == std::floor(*n) && *n <= 10000) {
      cfg.reuse = static_cast<std::size_t>(*n);
    } else {
      errors.push_back("service.reuse must be a whole number from 1 to 10000");
    }
  }
  if (const YAML::Node net = s["network"]) {
    if (auto b = detail::as_bool(net)) {
      cfg.network = *b;
    } else {
      errors.push_back("service.network must be a boolean");
    }
  }

  if (const YAML::Node env = s["env"]) {
    if (!env.IsMap()) {
      errors.push_back("service.env must be an object");
    } else {
      for (const auto& kv : env) {
        const std::string key = kv.first.Scalar();
        if (!is_valid_env_name(key)) {
          errors.push_back("service.env." + key +
                           " is not a valid environment variable name (letters, digits, _)");
          continue;
        }
        // Numbers and booleans are written as strings by careful authors; the contract is
        // strings only, so `PORT: 3000` is an error rather than a silent conversion.
        auto value = as_string(kv.second);
        if (!value) {
          errors.push_back("service.env." + key + " must be a string");
        } else if (value->find('\0') != std::string::npos) {
          errors.push_back("service.env." + key + " must not contain NUL characters");
        } else {
          cfg.env[key] = *value;
        }
      }
    }
  }

  if (const YAML::Node allowed = s["overridableEnv"]) {
    if (!allowed.IsSequence()) {
      errors.push_back("service.overridableEnv must be a list of environment variable names");
    } else {
      for (std::size_t i = 0; i < allowed.size(); ++i) {
        const std::string at = "service.overridableEnv[" + std::to_string(i) + "]";
        const auto name = allowed[i].IsScalar() ? as_string(allowed[i]) : std::nullopt;
        if (!name || !is_valid_env_name(*name)) {
          errors.push_back(at + " must be an environment variable name (letters, digits, _)");
        } else if (name->rfind("IGNITE_", 0) == 0) {
          errors.push_back(at + ": " + *name + " is reserved (IGNITE_* is set by Ignite)");
        } else if (std::find(cfg.overridable_env.begin(), cfg.overridable_env.end(), *name) !=
                   cfg.overridable_env.end()) {
          errors.push_back(at + ": " + *name + " is listed twice");
        } else {
          cfg.overridable_env.push_back(*name);
        }
      }
    }
  }

  if (const YAML::Node pf = doc["preflight"]) check_preflight(pf, cfg.preflight, errors);

  if (!errors.empty()) {
    throw Error(ErrorCode::Config, "Invalid service.yaml: " + join(errors, ", ") + file_note);
  }

  svc.entry_path = abs / cfg.entry;
  if (!fs::exists(fs::symlink_status(svc.entry_path, ec))) {
    throw Error(ErrorCode::Service, "Entry file not found: " + svc.entry_path.string());
  }
  // The container sees /app through a bind mount: a symlink that resolves outside the service
  // directory would dangle there at best and read host files at worst, so refuse it here.
  const fs::path real_root = fs::canonical(abs, ec);
  const fs::path real_entry = fs::canonical(svc.entry_path, ec);
  if (ec) throw Error(ErrorCode::Service, "Entry file not found: " + svc.entry_path.string());
  const auto rel = real_entry.lexically_relative(real_root);
  if (rel.empty() || *rel.begin() == "..") {
    throw Error(ErrorCode::Config, "Invalid service.yaml: service.entry resolves outside the "
                                   "service directory (" +
                                       svc.entry_path.string() + " -> " + real_entry.string() +
                                       ")" + file_note);
  }
  if (!fs::is_regular_file(real_entry, ec)) {
    throw Error(ErrorCode::Service, "Entry file is not a regular file: " + svc.entry_path.string());
  }

  scan_node_modules(svc);
  return svc;
}

}  // namespace Ignite
