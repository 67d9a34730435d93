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
//     isolation: runc            # or gvisor: the container runs under gVisor's runsc
//     limits: {pids: 64, openFiles: 256, fileSizeMb: 16, tmpfsMb: 16, outputBytes: 1048576}
//
// A policy file, when present, is enforced on every run; audit mode enforces the default policy
// when there is none. Enforcement is below the service's code: `network.enabled: false` leaves
// the container only loopback, `readOnly` makes the root filesystem read-only, `allowSpawn:
// false` installs a seccomp filter refusing fork/vfork/clone of new processes (threads still
// work) and `allowedCommands` narrows Deno's --allow-run.
//
// Unlike the reference, values are type-checked: `enabled: "no"` is an error naming the file
// and field, not a truthy string, and a file that cannot be parsed is an error rather than
// silently skipped.
//
// Example:
//   Ignite::SecurityPolicy p = Ignite::load_policy(svc.path);
//   if (!p.network_enabled) { ... }
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace Ignite {

// The OCI runtime containers run under: runc (Docker's default) or gVisor's runsc (a user-space
// kernel; security.isolation: gvisor).
enum class Isolation { Runc, Gvisor };

// security.limits: tighter limits than the Engine's defaults; unset fields keep the defaults.
struct PolicyLimits {
  std::optional<int> pids;                  // >= 16 (runtimes hang below); > 32 under gVisor
  std::optional<int> open_files;            // RLIMIT_NOFILE
  std::optional<int> file_size_mb;          // RLIMIT_FSIZE
  std::optional<int> tmpfs_mb;              // size of /tmp
  std::optional<std::size_t> output_bytes;  // cap per stream
};

// A service's security policy (ignite.policy.yaml), or the default one (no network, read-only
// root, no process spawning) in audit mode. What enforces each field: docs/threat-model.md.
struct SecurityPolicy {
  bool network_enabled = false;
  bool filesystem_read_only = true;
  bool allow_spawn = false;
  std::vector<std::string> allowed_commands;
  Isolation isolation = Isolation::Runc;
  PolicyLimits limits;
  std::optional<std::filesystem::path> source;  // the file it came from; nullopt = default
};

// Throws Error(Config) "<file>: security.<field> must be ..." on a malformed policy file.
SecurityPolicy load_policy(const std::filesystem::path& service_dir);

}  // namespace Ignite
