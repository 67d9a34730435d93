// File: ignite/policy.hpp
//
// The security policy applied in audit mode (reference §6.1), read from the first of
// ignite.policy.yaml, ignite.policy.yml, .ignite-policy.yaml, .ignite-policy.yml in the service
// directory, else the default (no network, read-only filesystem, no process spawning).
//
//   security:
//     network: {enabled: false}
//     filesystem: {readOnly: true}
//     process: {allowSpawn: false, allowedCommands: [node]}
//
// Unlike the reference, values are type-checked: `enabled: "no"` is an error naming the file
// and field, not a truthy string, and a file that cannot be parsed is an error rather than
// silently skipped.
//
// Example:
//   Ignite::SecurityPolicy p = Ignite::load_policy(svc.path);
//   if (!p.network_enabled) { ... }
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace Ignite {

struct SecurityPolicy {
  bool network_enabled = false;
  bool filesystem_read_only = true;
  bool allow_spawn = false;
  std::vector<std::string> allowed_commands;
  std::optional<std::filesystem::path> source;  // the file it came from; nullopt = default
};

// Throws Error(Config) "<file>: security.<field> must be ..." on a malformed policy file.
SecurityPolicy load_policy(const std::filesystem::path& service_dir);

}  // namespace Ignite
