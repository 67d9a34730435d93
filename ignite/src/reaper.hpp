// Leak-proof cleanup without a privileged sidecar: every container Ignite creates names its
// owner (host, pid and the pid's start time, so a recycled pid is not mistaken for the owner).
// A new Engine removes containers whose owner on this host is gone; `ignite gc` does the same
// on demand, optionally also dropping the per-service image cache.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <map>
#include <stop_token>
#include <string>
#include <vector>

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
// removes dangling Ignite images older than kDanglingImageAge (reap_dangling_images) and every
// per-service image (dev.ignite.kind=service) no container uses. Never throws for a resource
// that disappeared meanwhile.
ReapResult reap(docker::DockerClient& docker, bool all_service_images = false);

// Age from which a dangling Ignite image counts as left over. A build removes what it leaves
// itself (remove_build_leftovers); this catches what a process that died mid-build left. The
// newest image of a build in progress is at most one step old, and the step's container keeps
// it from being removed.
inline constexpr std::chrono::minutes kDanglingImageAge{10};

// Removes dangling images (untagged, with no image built on them) labelled
// dev.ignite.managed=true and created more than `older_than` ago (by the daemon's clock
// against this host's), and with them their untagged parents. Only without force: an image a
// container uses stays. `more_labels` ("key=value") narrow the selection. Returns how many
// were removed.
std::size_t reap_dangling_images(docker::DockerClient& docker, std::chrono::seconds older_than,
                                 const std::vector<std::string>& more_labels = {});

// Whether the start-up sweep of dangling images is due: false when `stamp` was touched less
// than `every` ago, else touches it (creating its directory) and returns true. Listing the
// daemon's images costs it 8-10 ms with a hundred images, next to the first executions of a
// process that has just started (every CLI run); leftovers of crashed builds are rare and wait
// kDanglingImageAge anyway. An unwritable stamp makes every start sweep.
bool sweep_due(const std::filesystem::path& stamp, std::chrono::seconds every);

// Removes what one image build that did not finish (an error, a cancellation, a stopped
// client) left: the dangling images carrying its dev.ignite.build=`build` label. The daemon
// finishes the step in progress after the client has gone and commits it, so this looks
// again until no container of the build is left and two looks in a row found nothing (and
// kBuildLeftoverSettle has passed), or until `deadline` or a stop of `stop`. Never throws;
// returns how many images it removed.
inline constexpr std::chrono::seconds kBuildLeftoverSettle{2};
std::size_t remove_build_leftovers(docker::DockerClient& docker, const std::string& build,
                                   std::chrono::steady_clock::time_point deadline,
                                   std::stop_token stop = {});

}  // namespace Ignite::detail
