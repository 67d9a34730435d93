#include "ignite/report.hpp"

#include "ignite/src/format_util.hpp"

namespace Ignite {
namespace {

using detail::js_number;

constexpr long long kColdStartWarnMs = 500;

constexpr std::string_view kGreen = "\x1b[32m";
constexpr std::string_view kYellow = "\x1b[33m";
constexpr std::string_view kRed = "\x1b[31m";
constexpr std::string_view kCyan = "\x1b[36m";
constexpr std::string_view kReset = "\x1b[0m";

// 50 x U+2500 BOX DRAWINGS LIGHT HORIZONTAL.
std::string divider() {
  std::string out;
  for (int i = 0; i < 50; ++i) out += "\u2500";
  return out;
}

std::string_view check_color(CheckStatus s) {
  switch (s) {
    case CheckStatus::Pass:
      return kGreen;
    case CheckStatus::Warn:
      return kYellow;
    case CheckStatus::Fail:
      return kRed;
  }
  return kRed;
}

std::string_view check_icon(CheckStatus s) {
  switch (s) {
    case CheckStatus::Pass:
      return "\u2713";
    case CheckStatus::Warn:
      return "\u26a0";
    case CheckStatus::Fail:
      return "\u2717";
  }
  return "\u2717";
}

std::string_view level_color(WarningLevel l) {
  switch (l) {
    case WarningLevel::Info:
      return kCyan;
    case WarningLevel::Warning:
      return kYellow;
    case WarningLevel::Critical:
      return kRed;
  }
  return kRed;
}

std::string_view level_icon(WarningLevel l) {
  switch (l) {
    case WarningLevel::Info:
      return "\u2139";
    case WarningLevel::Warning:
      return "\u26a0";
    case WarningLevel::Critical:
      return "\u2717";
  }
  return "\u2717";
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

// Reference warnings.ts wording, kept literally.
std::string suggestion_for(std::string_view check, CheckStatus status) {
  const bool fail = status == CheckStatus::Fail;
  if (check == kCheckImageSize) {
    return fail ? "Use a smaller base image (e.g., node:alpine) or multi-stage builds"
                : "Consider optimizing image size by removing unused files";
  }
  if (check == kCheckMemory) {
    return fail ? "Increase memoryMb in service.yaml or reduce dependencies"
                : "Monitor memory usage and adjust if needed";
  }
  if (check == kCheckDependencies) {
    return fail ? "Remove unused dependencies or use lighter alternatives"
                : "Review dependencies for unused packages";
  }
  if (check == kCheckTimeout) {
    return fail ? "Increase timeoutMs or optimize service execution time"
                : "Consider adding buffer time for cold starts";
  }
  if (check == kCheckCpuTime) {
    return "Lower cpuTimeMs, or raise timeoutMs or cpuLimit, so that the CPU-time limit can act";
  }
  return "Review configuration";
}

long long cold_start_ms(const ExecutionResult& r) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(r.phases.build + r.phases.create +
                                                               r.phases.start)
      .count();
}

// "12.345ms": milliseconds to the microsecond, as the JSON has them.
std::string ms_text(std::chrono::microseconds d) {
  return js_number(static_cast<double>(d.count()) / 1000.0) + "ms";
}

// JavaScript String.prototype.trim for the ASCII whitespace a process prints.
std::string_view trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\n\r\f\v";
  const auto first = s.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(kSpace) - first + 1);
}

void add_block(std::vector<std::string>& lines, std::string_view title, std::string_view text) {
  const std::string_view body = trim(text);
  if (body.empty()) return;
  lines.emplace_back();
  lines.emplace_back(title);
  std::size_t start = 0;
  while (true) {
    const auto nl = body.find('\n', start);
    lines.push_back("  " + std::string(body.substr(start, nl - start)));
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
}

std::string join(const std::vector<std::string>& lines) {
  std::string out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) out += '\n';
    out += lines[i];
  }
  return out;
}

}  // namespace

std::string_view to_string(WarningLevel level) noexcept {
  switch (level) {
    case WarningLevel::Info:
      return "info";
    case WarningLevel::Warning:
      return "warning";
    case WarningLevel::Critical:
      return "critical";
  }
  return "critical";
}

ExecutionReport make_report(PreflightResult preflight, std::optional<ExecutionResult> execution,
                            const ReportLimits& limits) {
  ExecutionReport report;
  report.service_name = preflight.service_name;
  report.timestamp = detail::iso8601_now();

  for (const auto& c : preflight.checks) {
    if (c.status == CheckStatus::Pass) continue;
    report.warnings.push_back(
        {c.status == CheckStatus::Fail ? WarningLevel::Critical : WarningLevel::Warning, c.message,
         suggestion_for(c.name, c.status)});
  }

  if (execution) {
    const ExecutionResult& r = *execution;
    if (r.cold_start && cold_start_ms(r) > kColdStartWarnMs) {
      report.warnings.push_back(
          {WarningLevel::Warning,
           "Cold start time " + std::to_string(cold_start_ms(r)) + "ms is high",
           "Reduce dependencies or use lighter base images"});
    }
    switch (r.outcome) {
      case Outcome::Timeout:
        report.warnings.push_back(
            {WarningLevel::Critical,
             limits.timeout
                 ? "Service timed out after " + std::to_string(limits.timeout->count()) + "ms"
                 : std::string("Service timed out"),
             "Increase timeoutMs or optimise execution time"});
        break;
      case Outcome::MemoryLimit:
        report.warnings.push_back(
            {WarningLevel::Critical,
             limits.memory_mb
                 ? "Service was killed due to memory limit (" + js_number(*limits.memory_mb) + "MB)"
                 : std::string("Service was killed due to memory limit"),
             "Increase memoryMb in service.yaml or reduce memory usage"});
        break;
      case Outcome::OutputLimit:
        report.warnings.push_back({WarningLevel::Critical,
                                   "Service output exceeded the limit and was truncated",
                                   "Print less output or raise the output limit"});
        break;
      case Outcome::Cancelled:
        report.warnings.push_back(
            {WarningLevel::Critical, "Execution was cancelled", std::nullopt});
        break;
      case Outcome::CpuLimit:
        report.warnings.push_back(
            {WarningLevel::Critical,
             limits.cpu_time ? "Service was killed after using its CPU-time limit (" +
                                   ms_text(*limits.cpu_time) + " of CPU)"
                             : std::string("Service was killed after using its CPU-time limit"),
             "Increase cpuTimeMs in service.yaml or reduce the work the service does"});
        break;
      case Outcome::Success:
      case Outcome::Error:
        if (r.exit_code != 0) {
          report.warnings.push_back({WarningLevel::Critical,
                                     "Service exited with code " + std::to_string(r.exit_code),
                                     "Check stderr output for error details"});
        }
        break;
    }
  }

  report.preflight = std::move(preflight);
  report.execution = std::move(execution);
  return report;
}

std::string format_report_text(const ExecutionReport& report, bool color) {
  auto paint = [color](std::string_view code, std::string_view text) {
    return color ? std::string(code) + std::string(text) + std::string(kReset) : std::string(text);
  };
  const std::string rule = divider();
  std::vector<std::string> lines = {"",
                                    "  IGNITE EXECUTION REPORT",
                                    "  Service: " + report.service_name,
                                    "  Time: " + report.timestamp,
                                    "",
                                    rule,
                                    "",
                                    "  PREFLIGHT CHECKS",
                                    ""};
  for (const auto& c : report.preflight.checks) {
    lines.push_back("  " + paint(check_color(c.status), check_icon(c.status)) + " " + c.name +
                    ": " + c.message);
  }
  lines.emplace_back();
  lines.push_back(rule);

  if (report.execution) {
    const ExecutionResult& r = *report.execution;
    lines.insert(lines.end(), {"", "  EXECUTION METRICS", ""});
    lines.push_back("  Duration: " + ms_text(r.duration));
    if (r.cpu_time) lines.push_back("  CPU Time: " + ms_text(*r.cpu_time));
    lines.push_back("  Memory: " + js_number(r.memory_peak_mb.value_or(0)) + "MB");
    lines.push_back(std::string("  Cold Start: ") + (r.cold_start ? "Yes" : "No"));
    if (r.cold_start && cold_start_ms(r) != 0) {
      lines.push_back("  Cold Start Time: " + std::to_string(cold_start_ms(r)) + "ms");
    }
    lines.push_back("  Exit Code: " + std::to_string(r.exit_code));
    lines.push_back("  Outcome: " + std::string(to_string(r.outcome)));
    if (r.stdout_truncated || r.stderr_truncated) {
      std::string which = r.stdout_truncated ? "stdout" : "";
      if (r.stderr_truncated) which += which.empty() ? "stderr" : ", stderr";
      lines.push_back("  Truncated: " + which);
    }
    add_block(lines, "  STDOUT:", r.stdout_text);
    add_block(lines, "  STDERR:", r.stderr_text);
    lines.emplace_back();
    lines.push_back(rule);
  }

  if (!report.warnings.empty()) {
    lines.insert(lines.end(), {"", "  WARNINGS", ""});
    for (const auto& w : report.warnings) {
      lines.push_back("  " + paint(level_color(w.level), level_icon(w.level)) + " " + w.message);
      if (w.suggestion) lines.push_back("    \u2192 " + *w.suggestion);
    }
    lines.emplace_back();
    lines.push_back(rule);
  }

  const CheckStatus overall = report.preflight.overall;
  lines.emplace_back();
  lines.push_back("  " +
                  paint(check_color(overall), std::string(check_icon(overall)) +
                                                  " Overall Status: " + upper(to_string(overall))));
  lines.emplace_back();
  return join(lines);
}

std::string format_preflight_text(const PreflightResult& result, bool color) {
  auto paint = [color](std::string_view code, std::string_view text) {
    return color ? std::string(code) + std::string(text) + std::string(kReset) : std::string(text);
  };
  std::vector<std::string> lines = {""};
  for (const auto& c : result.checks) {
    lines.push_back("  " + paint(check_color(c.status), check_icon(c.status)) + " " + c.name);
    lines.push_back("    " + c.message);
    lines.emplace_back();
  }
  lines.push_back(paint(
      check_color(result.overall),
      std::string(check_icon(result.overall)) + " Preflight: " + upper(to_string(result.overall))));
  lines.emplace_back();
  return join(lines);
}

}  // namespace Ignite
