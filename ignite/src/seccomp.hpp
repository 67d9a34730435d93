// The seccomp profile for services that may not start processes (policy allowSpawn: false).
//
// Docker replaces its default profile with the one given, so this profile carries its own
// deny list of the kernel interfaces a service never needs (namespaces, mounts, keyrings,
// module loading, tracing, bpf, io_uring ...) on top of what `CapDrop: ALL` and
// `no-new-privileges` already refuse, plus the spawn rules: fork and vfork fail with EPERM,
// clone fails with EPERM unless it creates a thread (CLONE_THREAD), and clone3 reports ENOSYS
// so libc falls back to the filtered clone. The runtime's own threads keep working.
#pragma once

#include <string>

namespace Ignite::detail {

// The profile as the JSON text the Engine API takes in `SecurityOpt: ["seccomp=<json>"]`.
const std::string& no_spawn_seccomp_profile();

}  // namespace Ignite::detail
