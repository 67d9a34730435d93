#include "ignite/preflight.hpp"

#include "ignite/src/format_util.hpp"

namespace Ignite {
namespace {

using detail::js_number;
using detail::js_round;

constexpr double kMiB = 1024.0 * 1024.0;

// Reference §1.5 defaults.
constexpr double kBaseMb = 50;
constexpr double kPerDependencyMb = 2;
constexpr double kWarnRatio = 1;
constexpr double kFailRatio = 0.8;
constexpr double kDepsWarnCount = 100;
constexpr double kDepsInfoCount = 50;
constexpr double kImageWarnMb = 500;
constexpr double kImageFailMb = 1000;
constexpr double kTimeoutMinMs = 100;
constexpr double kTimeoutMaxMs = 30000;
constexpr double kColdStartBufferMs = 500;

PreflightCheck check(std::string_view name, CheckStatus status, std::string message,
                     std::optional<CheckValue> value, std::optional<CheckValue> threshold) {
  return {std::string(name), status, std::move(message), std::move(value), std::move(threshold)};
}

PreflightCheck check_memory(const Service& svc) {
  const auto& c = svc.config.preflight.memory;
  const double deps = svc.dependency_count;
  const double estimate =
      c.base_mb.value_or(kBaseMb) + deps * c.per_dependency_mb.value_or(kPerDependencyMb);
  const double warn_at = estimate * c.warn_ratio.value_or(kWarnRatio);
  const double fail_at = estimate * c.fail_ratio.value_or(kFailRatio);
  const double configured = svc.config.memory_mb;
  const std::string cfg = "Configured memory " + js_number(configured) + "MB ";
  const std::string est = js_number(estimate) + "MB";
  if (configured < fail_at) {
    return check(kCheckMemory, CheckStatus::Fail,
                 cfg + "may be insufficient. Estimated need: " + est + " based on " +
                     js_number(deps) + " dependencies",
                 configured, js_round(fail_at));
  }
  if (configured < warn_at) {
    return check(kCheckMemory, CheckStatus::Warn, cfg + "is close to estimated need of " + est,
                 configured, js_round(warn_at));
  }
  return check(kCheckMemory, CheckStatus::Pass, cfg + "exceeds estimated need of " + est,
               configured, js_round(warn_at));
}

PreflightCheck check_dependencies(const Service& svc) {
  const auto& c = svc.config.preflight.dependencies;
  const double deps = svc.dependency_count;
  const double warn_count = c.warn_count.value_or(kDepsWarnCount);
  const double info_count = c.info_count.value_or(kDepsInfoCount);
  const std::string count = "(" + js_number(deps) + "). node_modules size: " +
                            js_number(js_round(static_cast<double>(svc.node_modules_size) / kMiB)) +
                            "MB";
  if (deps > warn_count) {
    return check(kCheckDependencies, CheckStatus::Warn,
                 "High dependency count " + count +
                     ". Consider reducing dependencies for faster cold starts.",
                 deps, warn_count);
  }
  if (deps > info_count) {
    return check(kCheckDependencies, CheckStatus::Pass, "Moderate dependency count " + count, deps,
                 info_count);
  }
  return check(kCheckDependencies, CheckStatus::Pass, "Low dependency count " + count, deps,
               info_count);
}

PreflightCheck check_timeout(const Service& svc, std::optional<std::chrono::milliseconds> last) {
  const auto& c = svc.config.preflight.timeout;
  const double t = svc.config.timeout_ms;
  const double min_ms = c.min_ms.value_or(kTimeoutMinMs);
  const double max_ms = c.max_ms.value_or(kTimeoutMaxMs);
  const double buffer = c.cold_start_buffer_ms.value_or(kColdStartBufferMs);
  const std::string timeout = "Timeout " + js_number(t) + "ms ";
  if (t < min_ms) {
    return check(kCheckTimeout, CheckStatus::Fail,
                 timeout + "is below minimum " + js_number(min_ms) + "ms", t, min_ms);
  }
  if (t > max_ms) {
    return check(kCheckTimeout, CheckStatus::Warn,
                 timeout + "exceeds recommended maximum " + js_number(max_ms) + "ms", t, max_ms);
  }
  if (last) {
    const double last_ms = static_cast<double>(last->count());
    const double needed = last_ms + buffer;
    if (t < needed) {
      return check(kCheckTimeout, CheckStatus::Warn,
                   timeout + "may be too short. Last execution: " + js_number(last_ms) + "ms + " +
                       js_number(buffer) + "ms cold start buffer = " + js_number(needed) + "ms",
                   t, needed);
    }
  }
  return check(kCheckTimeout, CheckStatus::Pass, timeout + "is within acceptable range", t, max_ms);
}

// A CPU-time limit that a service held to cpuLimit CPUs cannot use up before timeoutMs passes
// never acts: the wall-clock timeout ends a busy service first.
PreflightCheck check_cpu_time(const Service& svc) {
  const double limit = *svc.config.cpu_time_ms;
  const double cpus = svc.config.cpu_limit.value_or(1);
  const double reachable = svc.config.timeout_ms * cpus;
  const std::string text = "CPU-time limit " + js_number(limit) + "ms ";
  const std::string within = "timeoutMs " + js_number(svc.config.timeout_ms) + "ms at cpuLimit " +
                             js_number(cpus) + " (at most " + js_number(js_round(reachable)) +
                             "ms of CPU)";
  if (limit >= reachable) {
    return check(kCheckCpuTime, CheckStatus::Warn,
                 text + "cannot be reached within " + within +
                     ": the timeout ends a busy service first",
                 limit, js_round(reachable));
  }
  return check(kCheckCpuTime, CheckStatus::Pass, text + "can be reached within " + within, limit,
               js_round(reachable));
}

PreflightCheck check_image(const Service& svc, const ImageFacts& image) {
  if (!image.size_bytes) {
    return check(kCheckImageSize, CheckStatus::Fail,
                 "Image \"" + image.ref + "\" not found. Build the image first.", std::nullopt,
                 std::nullopt);
  }
  const auto& c = svc.config.preflight.image;
  const double warn_mb = c.warn_mb.value_or(kImageWarnMb);
  const double fail_mb = c.fail_mb.value_or(kImageFailMb);
  const double size_mb = js_round(static_cast<double>(*image.size_bytes) / kMiB);
  const std::string size = "Image size " + js_number(size_mb) + "MB ";
  if (size_mb > fail_mb) {
    return check(kCheckImageSize, CheckStatus::Fail,
                 size + "exceeds " + js_number(fail_mb) + "MB limit", size_mb, fail_mb);
  }
  if (size_mb > warn_mb) {
    return check(kCheckImageSize, CheckStatus::Warn,
                 size + "exceeds recommended " + js_number(warn_mb) + "MB", size_mb, warn_mb);
  }
  return check(kCheckImageSize, CheckStatus::Pass, size + "is within limits", size_mb, warn_mb);
}

}  // namespace

std::string_view to_string(CheckStatus status) noexcept {
  switch (status) {
    case CheckStatus::Pass:
      return "pass";
    case CheckStatus::Warn:
      return "warn";
    case CheckStatus::Fail:
      return "fail";
  }
  return "fail";
}

CheckStatus overall_status(const std::vector<PreflightCheck>& checks) noexcept {
  CheckStatus overall = CheckStatus::Pass;
  for (const auto& c : checks) {
    if (c.status == CheckStatus::Fail) return CheckStatus::Fail;
    if (c.status == CheckStatus::Warn) overall = CheckStatus::Warn;
  }
  return overall;
}

PreflightResult run_preflight(const Service& service, const PreflightInputs& inputs) {
  PreflightResult result;
  result.service_name = service.config.name;
  result.timestamp = detail::iso8601_now();
  result.checks.push_back(check_memory(service));
  result.checks.push_back(check_dependencies(service));
  result.checks.push_back(check_timeout(service, inputs.last_execution));
  if (service.config.cpu_time_ms) result.checks.push_back(check_cpu_time(service));
  if (inputs.image) result.checks.push_back(check_image(service, *inputs.image));
  result.overall = overall_status(result.checks);
  return result;
}

}  // namespace Ignite
