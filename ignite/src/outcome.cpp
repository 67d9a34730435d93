#include "ignite/src/outcome.hpp"

#include <string>

#include "ignite/src/format_util.hpp"

namespace Ignite::detail {
namespace {

// " (SIGKILL)" for the signals services commonly die of.
std::string signal_name(int sig) {
  switch (sig) {
    case 6: return " (SIGABRT)";
    case 9: return " (SIGKILL)";
    case 11: return " (SIGSEGV)";
    case 15: return " (SIGTERM)";
    case 31: return " (SIGSYS)";
    default: return "";
  }
}

}  // namespace

void classify(ExecutionResult& result, const JobEnd& end, double memory_limit_mb) {
  // A runtime can die of its own allocation failure at the limit before the OOM killer acts
  // (gVisor reports ENOMEM to the process): killed by a signal with the cgroup at its limit is
  // the memory limit too.
  const bool died_at_limit = !result.oom_killed && result.exit_code > 128 &&
                             result.memory_peak_mb && *result.memory_peak_mb >= 0.9 * memory_limit_mb;
  if (result.oom_killed || died_at_limit) result.memory_peak_mb = memory_limit_mb;
  if (end.cancelled) {
    result.outcome = Outcome::Cancelled;
  } else if (end.timed_out) {
    result.outcome = Outcome::Timeout;
  } else if (end.cpu_exceeded) {
    result.outcome = Outcome::CpuLimit;
  } else if (end.flooded) {
    result.outcome = Outcome::OutputLimit;
  } else if (result.oom_killed || died_at_limit) {
    result.outcome = Outcome::MemoryLimit;
  } else {
    result.outcome = result.exit_code == 0 ? Outcome::Success : Outcome::Error;
  }
}

SecurityAudit make_audit(const SecurityPolicy& policy, std::vector<SecurityEvent> reported,
                         const ExecutionResult& result, const JobEnd& end,
                         std::chrono::milliseconds timeout,
                         std::optional<std::chrono::microseconds> cpu_time_limit,
                         std::uint64_t pids_max_hits, int default_pids_limit) {
  SecurityAudit audit;
  audit.policy = policy;
  // Events are never inferred from what the service printed: first what the bootstrap
  // reported through the nonce channel, in order of occurrence, then kernel-level facts.
  audit.events = std::move(reported);
  auto event = [&](std::string action, std::string target, std::string details,
                   bool allowed = false) {
    audit.events.push_back({"resource", std::move(action), std::move(target), allowed,
                            iso8601_now(), std::move(details)});
  };
  if (result.oom_killed) event("oom-kill", "memory", "the kernel OOM killer stopped the container");
  if (end.timed_out) {
    event("timeout-kill", "time", "killed after " + std::to_string(timeout.count()) + "ms");
  }
  if (end.cpu_exceeded && cpu_time_limit) {
    event("cpu-limit-kill", "cpu",
          "CPU time " + js_number(static_cast<double>(result.cpu_time.value_or(*cpu_time_limit).count()) / 1000.0) +
              "ms passed the limit of " +
              js_number(static_cast<double>(cpu_time_limit->count()) / 1000.0) + "ms");
  }
  if (end.flooded) event("output-limit-kill", "output", "output exceeded the limit");
  if (pids_max_hits > 0) {
    const int limit = policy.limits.pids.value_or(default_pids_limit);
    event("pids-limit", "pids",
          "the pids limit (" + std::to_string(limit) + ") refused " +
              std::to_string(pids_max_hits) + " process/thread creations");
  }
  if (result.exit_code > 128 && result.exit_code < 128 + 65) {
    const int sig = result.exit_code - 128;
    // An observation, not a policy decision: a service may also exit with such a code itself.
    event("signal", "signal " + std::to_string(sig),
          "exit code " + std::to_string(result.exit_code) + ": the process ended on signal " +
              std::to_string(sig) + signal_name(sig) + ", or exited with that code itself",
          true);
  }
  return audit;
}

}  // namespace Ignite::detail
