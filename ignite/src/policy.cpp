#include "ignite/policy.hpp"

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
    policy.source = file;
    return policy;
  }
  return policy;
}

}  // namespace Ignite
