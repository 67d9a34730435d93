// File: ignite/preflight.hpp
//
// Preflight: heuristic checks run before a service executes (reference §4). Each check compares
// one configured value with a threshold from service.yaml's `preflight:` block (or its default)
// and passes, warns or fails; a failure is data in the result, never an exception. The checks
// are pure: Docker facts such as the image size are passed in by the caller.
//
//   memory-allocation  memoryMb against baseMb + dependencies * perDependencyMb
//   dependency-count   top-level node_modules packages (warns, never fails)
//   timeout-config     timeoutMs against minMs / maxMs and the last execution time
//   cpu-time-config    cpuTimeMs against what timeoutMs allows at cpuLimit (only when set)
//   image-size         the per-service image, only when PreflightInputs::image is set
//
// Example:
//   Ignite::PreflightResult pf = Ignite::run_preflight(svc);
//   for (const auto& c : pf.checks) std::cout << c.name << ": " << c.message << "\n";
//   if (pf.overall == Ignite::CheckStatus::Fail) return 1;
//
// Thread-safety: the functions are pure and may run concurrently.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ignite/service.hpp"

namespace Ignite {

enum class CheckStatus { Pass, Warn, Fail };

// "pass", "warn", "fail".
std::string_view to_string(CheckStatus status) noexcept;

// Check names, as they appear in results, JSON and reports.
inline constexpr std::string_view kCheckMemory = "memory-allocation";
inline constexpr std::string_view kCheckDependencies = "dependency-count";
inline constexpr std::string_view kCheckTimeout = "timeout-config";
inline constexpr std::string_view kCheckCpuTime = "cpu-time-config";
inline constexpr std::string_view kCheckImageSize = "image-size";

// A check's measured value or threshold: a number (JSON number) or text.
using CheckValue = std::variant<double, std::string>;

// One check's verdict: its name (kCheck*), status, message and the compared numbers.
struct PreflightCheck {
  std::string name;
  CheckStatus status = CheckStatus::Pass;
  std::string message;
  std::optional<CheckValue> value;
  std::optional<CheckValue> threshold;
};

// Every check of one preflight run and the worst status among them. A plain value; a failed
// check is data here, never an exception.
struct PreflightResult {
  std::string service_name;
  std::string timestamp;  // ISO-8601 UTC with milliseconds, e.g. "2026-01-24T10:15:30.123Z"
  std::vector<PreflightCheck> checks;
  CheckStatus overall = CheckStatus::Pass;  // the worst status among checks
};

// What the caller learnt about the service's image (e.g. from Docker's image inspect).
struct ImageFacts {
  std::string ref{};                          // e.g. "ignite-svc/hello:latest"
  std::optional<std::uint64_t> size_bytes{};  // nullopt: the image does not exist
};

// Facts about the service that run_preflight() cannot find out itself (it never calls Docker).
struct PreflightInputs {
  // Duration of the previous execution; enables the "may be too short" timeout warning.
  std::optional<std::chrono::milliseconds> last_execution{};
  // Adds the image-size check.
  std::optional<ImageFacts> image{};
};

// Runs the checks in reference order (memory, dependencies, timeout, then image when given);
// cpu-time-config (Ignite's) follows timeout-config when service.cpuTimeMs is set.
// Thresholds come from service.config.preflight, else the reference §1.5 defaults.
PreflightResult run_preflight(const Service& service, const PreflightInputs& inputs = {});

// Fail if any check failed, else Warn if any warned, else Pass (also for no checks).
CheckStatus overall_status(const std::vector<PreflightCheck>& checks) noexcept;

}  // namespace Ignite
