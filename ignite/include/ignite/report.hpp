// File: ignite/report.hpp
//
// The execution report (reference §7): a preflight result, optionally the execution that
// followed, and the warnings derived from both, with a plain-text rendering for terminals and
// files. The JSON form is in ignite/json.hpp.
//
// Example:
//   Ignite::PreflightResult pf = Ignite::run_preflight(svc);
//   Ignite::ExecutionResult r = engine.execute(svc);
//   Ignite::ExecutionReport report = Ignite::make_report(pf, r);
//   std::cout << Ignite::format_report_text(report, isatty(1)) << "\n";
//
// Thread-safety: the functions are pure and may run concurrently.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ignite/execution.hpp"
#include "ignite/preflight.hpp"

namespace Ignite {

// How serious a report warning is (reference §7.1).
enum class WarningLevel { Info, Warning, Critical };

// "info", "warning", "critical".
std::string_view to_string(WarningLevel level) noexcept;

// One warning of a report: what happened and, where there is one, what to change.
struct Warning {
  WarningLevel level = WarningLevel::Warning;
  std::string message;
  std::optional<std::string> suggestion;
};

// The limits the execution ran under, so that a timeout or memory-limit warning can name them.
// ExecutionResult does not carry them; leave a field unset to word the warning without it.
struct ReportLimits {
  std::optional<std::chrono::milliseconds> timeout{};
  std::optional<double> memory_mb{};
  std::optional<std::chrono::microseconds> cpu_time{};  // the CPU-time limit
};

// The report of `ignite run` and POST .../execute?report (reference §7.1): preflight, the
// execution when there was one, and warnings derived from both.
struct ExecutionReport {
  std::string service_name;  // preflight.service_name
  std::string timestamp;     // when the report was made, ISO-8601 UTC with milliseconds
  PreflightResult preflight;
  std::optional<ExecutionResult> execution;
  std::vector<Warning> warnings;
};

// Builds a report with the reference §7.2 warnings, in order:
//   - one per failed (critical) or warned (warning) preflight check, with a fixed suggestion;
//   - "Cold start time <n>ms is high" (warning) when a cold start's build + create + start
//     phases took more than 500 ms;
//   - one critical warning when Ignite stopped the service (timeout, memory limit, output
//     limit, CPU-time limit, cancellation), else "Service exited with code <n>" for a non-zero exit. The exit
//     code of a container Ignite killed says nothing about the service, so it is not repeated.
ExecutionReport make_report(PreflightResult preflight,
                            std::optional<ExecutionResult> execution = std::nullopt,
                            const ReportLimits& limits = {});

// Reference §7.3 text (lines joined with "\n", no final newline: print it with one), plus
// Ignite's additions: times to the microsecond, the CPU time (when measured), the outcome,
// truncated streams and a STDERR block. ANSI colours only
// when `color` is true.
std::string format_report_text(const ExecutionReport& report, bool color);

// The `ignite preflight` listing: a blank line, then per check "  <icon> <name>", its message
// indented by four spaces and a blank line, then "<icon> Preflight: <STATUS>". Lines are joined
// with "\n" with no final newline, as format_report_text.
std::string format_preflight_text(const PreflightResult& result, bool color);

}  // namespace Ignite
