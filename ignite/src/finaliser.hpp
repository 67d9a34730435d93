// The finaliser: what happens to a leased container once its job's stream is done, up to the
// exit status and the OOM verdict. A job complete in band needs no Engine API call (except to
// tell an OOM kill when no cgroup counter is readable); any other job is killed (unless its
// stream ended), waited for and, when it died of SIGKILL, inspected for an OOM kill.
//
// Bounds: every call runs in a CancelScope with no token (the kill is what a cancel asks for)
// and is bounded by the client's timeouts; after a cancellation the kill and the wait are
// bounded by kCancelCleanupBound each. A daemon that missed those bounds gets no further call:
// the execution ends now, the container is removed in the background (the Lease), retried
// until it goes.
//
// Thread-safety: runs on the execution's thread.
#pragma once

#include <chrono>
#include <cstdint>

#include "ignite/src/cgroup_stats.hpp"
#include "ignite/src/job_channel.hpp"
#include "ignite/src/lease.hpp"

namespace Ignite::detail {

// How long a cancelled execution spends on its kill and on the daemon's exit report, each.
inline constexpr std::chrono::milliseconds kCancelCleanupBound{500};

struct Finalised {
  int exit_code = -1;
  bool oom_killed = false;
};

// `ooms` counted `ooms_before` OOM kills in the container's cgroup when the job started.
Finalised finalise(Lease& lease, const JobEnd& end, const CgroupOomKills& ooms,
                   std::uint64_t ooms_before);

}  // namespace Ignite::detail
