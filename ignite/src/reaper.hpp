// Leak-proof cleanup without a privileged sidecar: every container Ignite creates names its
// owner (host, pid and the pid's start time, so a recycled pid is not mistaken for the owner).
// A new Engine removes containers whose owner on this host is gone; `ignite gc` does the same
// on demand, optionally also dropping the per-service image cache.
#pragma once

#include <cstddef>
#include <map>
#include <string>

#include "ignite/src/docker/client.hpp"

namespace Ignite::detail {

struct Owner {
  std::string host;
  long pid = 0;
  std::string start;  // /proc/<pid>/stat starttime (clock ticks since boot), "" if unknown
};

// This process as an owner.
Owner self_owner();

// Labels identifying this process as the owner, added to every container.
std::map<std::string, std::string> owner_labels();

// The owner a container's (or swarm object's) Ignite labels name; pid 0 when unreadable.
Owner owner_from_labels(const nlohmann::json& labels);

// True when `owner` is a process on this host that is still the same process.
bool owner_alive(const Owner& owner);

struct ReapResult {
  std::size_t containers = 0;
  std::size_t images = 0;
};

// Removes Ignite containers whose owning process on this host has exited. Containers of other
// hosts (a shared daemon) and of live processes are left alone. With `all_service_images`, also
// removes every per-service image (dev.ignite.kind=service) no container uses. Never throws for
// a resource that disappeared meanwhile.
ReapResult reap(docker::DockerClient& docker, bool all_service_images = false);

}  // namespace Ignite::detail
