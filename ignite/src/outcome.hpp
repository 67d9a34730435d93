// The outcome of an execution, from what the channel and the finaliser found: cancelled >
// timeout > cpu_limit > output_limit > memory_limit (an OOM kill, or a runtime that died of a
// signal with its cgroup at the limit) > success (exit 0) / error. And, in audit mode, the audit: the
// bootstrap's events first, then the kernel-level facts (OOM kill, timeout, output limit,
// CPU-time limit, refused forks, death by a signal).
//
// Thread-safety: pure functions of their arguments; call from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "ignite/execution.hpp"
#include "ignite/policy.hpp"
#include "ignite/src/job_channel.hpp"

namespace Ignite::detail {

// Sets result.outcome from `end` and result's exit_code, oom_killed and memory_peak_mb; at the
// memory limit, memory_peak_mb becomes the limit.
void classify(ExecutionResult& result, const JobEnd& end, double memory_limit_mb);

// The audit of an execution under `policy`: `reported` (the bootstrap's events), then the
// resource events. `pids_max_hits`: refused process creations (CgroupPidsEvents);
// `default_pids_limit`: EngineOptions::pids_limit.
SecurityAudit make_audit(const SecurityPolicy& policy, std::vector<SecurityEvent> reported,
                         const ExecutionResult& result, const JobEnd& end,
                         std::chrono::milliseconds timeout,
                         std::optional<std::chrono::microseconds> cpu_time_limit,
                         std::uint64_t pids_max_hits, int default_pids_limit);

}  // namespace Ignite::detail
