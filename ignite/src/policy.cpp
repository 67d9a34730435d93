#include "ignite/policy.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "ignite/error.hpp"
#include "ignite/src/yaml_util.hpp"

namespace fs = std::filesystem;

namespace Ignite {
namespace {

constexpr const char* kPolicyFiles[] = {"ignite.policy.yaml", "ignite.policy.yml",
                                        ".ignite-policy.yaml", ".ignite-policy.yml"};

void read_bool(const YAML::Node& section, const char* key, const std::string& where, bool& out) {
  const YAML::Node v = section[key];
  if (!v) return;
  auto b = detail::as_bool(v);
  if (!b) throw Error(ErrorCode::Config, where + "." + key + " must be true or false");
  out = *b;
}

template <typename T>
void read_positive(const YAML::Node& limits, const char* key, const std::string& where,
                   std::optional<T>& out, double min = 1) {
  const YAML::Node v = limits[key];
  if (!v) return;
  auto n = detail::as_number(v);
  // Bounded by T too: converting a double outside T's range is undefined behaviour.
  const double max = std::min(1e15, static_cast<double>(std::numeric_limits<T>::max()));
  if (!n || !std::isfinite(*n) || *n != std::floor(*n) || *n < min || *n > max) {
    throw Error(ErrorCode::Config, where + "." + key + " must be an integer of at least " +
                                       std::to_string(static_cast<long long>(min)));
  }
  out = static_cast<T>(*n);
}

YAML::Node section(const YAML::Node& security, const char* key, const std::string& where) {
  const YAML::Node s = security[key];
  if (s && !s.IsMap()) throw Error(ErrorCode::Config, where + "." + key + " must be a map");
  return s;
}

}  // namespace

SecurityPolicy load_policy(const fs::path& dir) {
  SecurityPolicy policy;
  for (const char* name : kPolicyFiles) {
    const fs::path file = dir / name;
    std::error_code ec;
    if (!fs::exists(file, ec)) continue;
    const YAML::Node doc = detail::load_yaml_file(file);
    const std::string where = file.string() + ": security";
    if (!doc.IsMap() || !doc["security"] || !doc["security"].IsMap()) {
      throw Error(ErrorCode::Config, file.string() + ": expected a `security:` map");
    }
    const YAML::Node security = doc["security"];
    if (auto n = section(security, "network", where)) {
      read_bool(n, "enabled", where + ".network", policy.network_enabled);
    }
    if (auto f = section(security, "filesystem", where)) {
      read_bool(f, "readOnly", where + ".filesystem", policy.filesystem_read_only);
    }
    if (auto p = section(security, "process", where)) {
      read_bool(p, "allowSpawn", where + ".process", policy.allow_spawn);
      if (p["allowedCommands"]) {
        policy.allowed_commands = detail::string_list(p, "allowedCommands", where + ".process");
      }
    }
    if (const YAML::Node iso = security["isolation"]) {
      const auto v = detail::as_string(iso);
      if (v == "runc") {
        policy.isolation = Isolation::Runc;
      } else if (v == "gvisor") {
        policy.isolation = Isolation::Gvisor;
      } else {
        throw Error(ErrorCode::Config, where + ".isolation must be \"runc\" or \"gvisor\"");
      }
    }
    if (auto l = section(security, "limits", where)) {
      const std::string lw = where + ".limits";
      read_positive(l, "pids", lw, policy.limits.pids, 16);
      read_positive(l, "openFiles", lw, policy.limits.open_files, 16);
      read_positive(l, "fileSizeMb", lw, policy.limits.file_size_mb);
      read_positive(l, "tmpfsMb", lw, policy.limits.tmpfs_mb);
      read_positive(l, "outputBytes", lw, policy.limits.output_bytes);
    }
    // gVisor (Debian's runsc) mis-applies seccomp clone filters -- thread creation fails -- so
    // the spawn refusal cannot be enforced there; refuse rather than pretend.
    if (policy.isolation == Isolation::Gvisor && !policy.allow_spawn) {
      throw Error(ErrorCode::Config,
                  where + ".process.allowSpawn: false cannot be enforced under isolation: gvisor "
                          "(gVisor cannot apply the seccomp spawn filter here); set allowSpawn: "
                          "true or use isolation: runc");
    }
    // gVisor's own threads count against the pids limit: the sandbox cannot start at 32.
    if (policy.isolation == Isolation::Gvisor && policy.limits.pids && *policy.limits.pids <= 32) {
      throw Error(ErrorCode::Config, where + ".limits.pids must be above 32 with isolation: gvisor");
    }
    policy.source = file;
    return policy;
  }
  return policy;
}

}  // namespace Ignite
