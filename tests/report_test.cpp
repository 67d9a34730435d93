// Reports: §7.2 warnings (plus Ignite's outcome warnings), the §7.3 text rendering with colour on
// and off, the `ignite preflight` listing and the JSON shapes.
#include "ignite/report.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ignite/json.hpp"

using Ignite::CheckStatus;
using Ignite::ExecutionResult;
using Ignite::Outcome;
using Ignite::PreflightCheck;
using Ignite::PreflightResult;
using Ignite::WarningLevel;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

namespace {

const std::string kRule =
    "\u2500\u2500\u2500\u2500\u2500\u2500\u2500\u2500\u2500\u2500"
    "\u2500\u2500\u2500\u2500\u2500\u2500\u2500\u2500\u2500\u2500"
    "\u2500\u2500\u2500\u2500\u2500\u2500\u2500\u2500\u2500\u2500"
    "\u2500\u2500\u2500\u2500\u2500\u2500\u2500\u2500\u2500\u2500"
    "\u2500\u2500\u2500\u2500\u2500\u2500\u2500\u2500\u2500\u2500";

PreflightResult preflight(std::vector<PreflightCheck> checks) {
  PreflightResult r;
  r.service_name = "hello";
  r.timestamp = "2026-01-24T10:15:30.123Z";
  r.checks = std::move(checks);
  r.overall = Ignite::overall_status(r.checks);
  return r;
}

PreflightCheck pass_check(std::string name, std::string message) {
  return {std::move(name), CheckStatus::Pass, std::move(message), 128.0, 70.0};
}

ExecutionResult execution(int exit_code = 0, Outcome outcome = Outcome::Success) {
  ExecutionResult r;
  r.service_name = "hello";
  r.runtime = "node@20";
  r.image = "ignite-svc/hello:latest";
  r.outcome = outcome;
  r.exit_code = exit_code;
  r.duration = 1234ms;
  r.stdout_text = "Hello, World!\n{\"ok\":true}\n";
  return r;
}

std::vector<std::string> messages(const Ignite::ExecutionReport& r) {
  std::vector<std::string> out;
  for (const auto& w : r.warnings) out.push_back(w.message);
  return out;
}

}  // namespace

TEST(Report, LevelNames) {
  EXPECT_EQ(Ignite::to_string(WarningLevel::Info), "info");
  EXPECT_EQ(Ignite::to_string(WarningLevel::Warning), "warning");
  EXPECT_EQ(Ignite::to_string(WarningLevel::Critical), "critical");
}

TEST(Report, PreflightWarningsWithReferenceSuggestions) {
  const auto pf = preflight({
      {"memory-allocation", CheckStatus::Fail, "mem fail", {}, {}},
      {"memory-allocation", CheckStatus::Warn, "mem warn", {}, {}},
      {"dependency-count", CheckStatus::Fail, "dep fail", {}, {}},
      {"dependency-count", CheckStatus::Warn, "dep warn", {}, {}},
      {"timeout-config", CheckStatus::Fail, "t fail", {}, {}},
      {"timeout-config", CheckStatus::Warn, "t warn", {}, {}},
      {"image-size", CheckStatus::Fail, "img fail", {}, {}},
      {"image-size", CheckStatus::Warn, "img warn", {}, {}},
      {"something-else", CheckStatus::Fail, "other fail", {}, {}},
      {"something-else", CheckStatus::Warn, "other warn", {}, {}},
      {"memory-allocation", CheckStatus::Pass, "fine", {}, {}},
  });
  const auto r = Ignite::make_report(pf);
  EXPECT_EQ(r.service_name, "hello");
  EXPECT_NE(r.timestamp, "");
  EXPECT_FALSE(r.execution);
  ASSERT_EQ(r.warnings.size(), 10u);
  const std::pair<WarningLevel, const char*> expected[] = {
      {WarningLevel::Critical, "Increase memoryMb in service.yaml or reduce dependencies"},
      {WarningLevel::Warning, "Monitor memory usage and adjust if needed"},
      {WarningLevel::Critical, "Remove unused dependencies or use lighter alternatives"},
      {WarningLevel::Warning, "Review dependencies for unused packages"},
      {WarningLevel::Critical, "Increase timeoutMs or optimize service execution time"},
      {WarningLevel::Warning, "Consider adding buffer time for cold starts"},
      {WarningLevel::Critical,
       "Use a smaller base image (e.g., node:alpine) or multi-stage builds"},
      {WarningLevel::Warning, "Consider optimizing image size by removing unused files"},
      {WarningLevel::Critical, "Review configuration"},
      {WarningLevel::Warning, "Review configuration"},
  };
  for (std::size_t i = 0; i < r.warnings.size(); ++i) {
    EXPECT_EQ(r.warnings[i].level, expected[i].first) << i;
    EXPECT_EQ(r.warnings[i].suggestion, expected[i].second) << i;
    EXPECT_EQ(r.warnings[i].message, pf.checks[i].message) << i;
  }
}

TEST(Report, ColdStartWarningAbove500ms) {
  auto e = execution();
  e.cold_start = true;
  e.phases.build = 400ms;
  e.phases.create = 60ms;
  e.phases.start = 41ms;  // 501
  auto r = Ignite::make_report(preflight({}), e);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0].level, WarningLevel::Warning);
  EXPECT_EQ(r.warnings[0].message, "Cold start time 501ms is high");
  EXPECT_EQ(r.warnings[0].suggestion, "Reduce dependencies or use lighter base images");

  e.phases.start = 40ms;  // exactly 500: no warning
  EXPECT_TRUE(Ignite::make_report(preflight({}), e).warnings.empty());
  e.phases.start = 900ms;
  e.cold_start = false;  // warm runs never warn
  EXPECT_TRUE(Ignite::make_report(preflight({}), e).warnings.empty());
}

TEST(Report, NonZeroExit) {
  const auto r = Ignite::make_report(preflight({}), execution(3, Outcome::Error));
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0].level, WarningLevel::Critical);
  EXPECT_EQ(r.warnings[0].message, "Service exited with code 3");
  EXPECT_EQ(r.warnings[0].suggestion, "Check stderr output for error details");
}

TEST(Report, OutcomeWarnings) {
  const Ignite::ReportLimits limits{.timeout = 5000ms, .memory_mb = 64};
  auto t = Ignite::make_report(preflight({}), execution(137, Outcome::Timeout), limits);
  ASSERT_EQ(t.warnings.size(), 1u);  // the kill's exit code is not reported as the service's
  EXPECT_EQ(t.warnings[0].level, WarningLevel::Critical);
  EXPECT_EQ(t.warnings[0].message, "Service timed out after 5000ms");
  EXPECT_EQ(t.warnings[0].suggestion, "Increase timeoutMs or optimise execution time");
  EXPECT_EQ(messages(Ignite::make_report(preflight({}), execution(137, Outcome::Timeout))),
            std::vector<std::string>{"Service timed out"});

  auto m = Ignite::make_report(preflight({}), execution(137, Outcome::MemoryLimit), limits);
  ASSERT_EQ(m.warnings.size(), 1u);
  EXPECT_EQ(m.warnings[0].level, WarningLevel::Critical);
  EXPECT_EQ(m.warnings[0].message, "Service was killed due to memory limit (64MB)");
  EXPECT_EQ(messages(Ignite::make_report(preflight({}), execution(137, Outcome::MemoryLimit))),
            std::vector<std::string>{"Service was killed due to memory limit"});

  auto o = Ignite::make_report(preflight({}), execution(137, Outcome::OutputLimit));
  EXPECT_EQ(messages(o),
            std::vector<std::string>{"Service output exceeded the limit and was truncated"});
  EXPECT_EQ(o.warnings[0].level, WarningLevel::Critical);

  auto c = Ignite::make_report(preflight({}), execution(137, Outcome::Cancelled));
  EXPECT_EQ(messages(c), std::vector<std::string>{"Execution was cancelled"});
  EXPECT_EQ(c.warnings[0].level, WarningLevel::Critical);
  EXPECT_FALSE(c.warnings[0].suggestion);

  auto cpu = Ignite::make_report(preflight({}), execution(137, Outcome::CpuLimit),
                                 {.cpu_time = 250ms});
  EXPECT_EQ(messages(cpu),
            std::vector<std::string>{"Service was killed after using its CPU-time limit (250ms of CPU)"});
  EXPECT_EQ(cpu.warnings[0].level, WarningLevel::Critical);
  EXPECT_EQ(cpu.warnings[0].suggestion,
            "Increase cpuTimeMs in service.yaml or reduce the work the service does");
  EXPECT_EQ(messages(Ignite::make_report(preflight({}), execution(137, Outcome::CpuLimit))),
            std::vector<std::string>{"Service was killed after using its CPU-time limit"});
}

TEST(ReportText, PreciseTimesAndCpuTimeNextToWallTimeAndMemory) {
  auto e = execution(137, Outcome::CpuLimit);
  e.duration = 12345us;
  e.cpu_time = 200417us;
  e.memory_peak_mb = 3.5;
  auto r = Ignite::make_report(preflight({}), e, {.cpu_time = 200ms});
  const std::string text = Ignite::format_report_text(r, false);
  EXPECT_THAT(text, HasSubstr("  Duration: 12.345ms\n  CPU Time: 200.417ms\n  Memory: 3.5MB\n"));
  EXPECT_THAT(text, HasSubstr("  Outcome: cpu_limit\n"));
  // Without a reading (a daemon whose cgroups are not visible here) there is no CPU line.
  e.cpu_time.reset();
  EXPECT_THAT(Ignite::format_report_text(Ignite::make_report(preflight({}), e), false),
              Not(HasSubstr("CPU Time")));
}

TEST(ReportText, WithoutExecutionNoColour) {
  auto r = Ignite::make_report(preflight({
      pass_check("memory-allocation", "Configured memory 128MB exceeds estimated need of 50MB"),
      {"timeout-config", CheckStatus::Warn, "Timeout 60000ms exceeds recommended maximum 30000ms",
       60000.0, 30000.0},
  }));
  r.timestamp = "2026-01-24T10:15:31.000Z";
  const std::string expected =
      "\n"
      "  IGNITE EXECUTION REPORT\n"
      "  Service: hello\n"
      "  Time: 2026-01-24T10:15:31.000Z\n"
      "\n" +
      kRule +
      "\n"
      "\n"
      "  PREFLIGHT CHECKS\n"
      "\n"
      "  \u2713 memory-allocation: Configured memory 128MB exceeds estimated need of 50MB\n"
      "  \u26a0 timeout-config: Timeout 60000ms exceeds recommended maximum 30000ms\n"
      "\n" +
      kRule +
      "\n"
      "\n"
      "  WARNINGS\n"
      "\n"
      "  \u26a0 Timeout 60000ms exceeds recommended maximum 30000ms\n"
      "    \u2192 Consider adding buffer time for cold starts\n"
      "\n" +
      kRule +
      "\n"
      "\n"
      "  \u26a0 Overall Status: WARN\n";
  const std::string text = Ignite::format_report_text(r, false);
  EXPECT_EQ(text, expected);
  EXPECT_EQ(text.find('\x1b'), std::string::npos);
}

TEST(ReportText, WithExecutionAndColour) {
  auto e = execution(2, Outcome::Error);
  e.memory_peak_mb = 12.5;
  e.cold_start = true;
  e.phases.build = 300ms;
  e.phases.create = 20ms;
  e.phases.start = 30ms;
  e.stderr_text = "  Error: boom\n    at main\n";
  auto r = Ignite::make_report(preflight({pass_check("memory-allocation", "ok"),
                                          {"timeout-config", CheckStatus::Fail,
                                           "Timeout 50ms is below minimum 100ms", 50.0, 100.0}}),
                               e);
  r.timestamp = "T";
  const std::string expected =
      "\n"
      "  IGNITE EXECUTION REPORT\n"
      "  Service: hello\n"
      "  Time: T\n"
      "\n" +
      kRule +
      "\n"
      "\n"
      "  PREFLIGHT CHECKS\n"
      "\n"
      "  \x1b[32m\u2713\x1b[0m memory-allocation: ok\n"
      "  \x1b[31m\u2717\x1b[0m timeout-config: Timeout 50ms is below minimum 100ms\n"
      "\n" +
      kRule +
      "\n"
      "\n"
      "  EXECUTION METRICS\n"
      "\n"
      "  Duration: 1234ms\n"
      "  Memory: 12.5MB\n"
      "  Cold Start: Yes\n"
      "  Cold Start Time: 350ms\n"
      "  Exit Code: 2\n"
      "  Outcome: error\n"
      "\n"
      "  STDOUT:\n"
      "  Hello, World!\n"
      "  {\"ok\":true}\n"
      "\n"
      "  STDERR:\n"
      "  Error: boom\n"
      "      at main\n"
      "\n" +
      kRule +
      "\n"
      "\n"
      "  WARNINGS\n"
      "\n"
      "  \x1b[31m\u2717\x1b[0m Timeout 50ms is below minimum 100ms\n"
      "    \u2192 Increase timeoutMs or optimize service execution time\n"
      "  \x1b[31m\u2717\x1b[0m Service exited with code 2\n"
      "    \u2192 Check stderr output for error details\n"
      "\n" +
      kRule +
      "\n"
      "\n"
      "  \x1b[31m\u2717 Overall Status: FAIL\x1b[0m\n";
  EXPECT_EQ(Ignite::format_report_text(r, true), expected);
  const std::string plain = Ignite::format_report_text(r, false);
  EXPECT_EQ(plain.find('\x1b'), std::string::npos);
  EXPECT_THAT(plain, HasSubstr("  \u2717 timeout-config: Timeout 50ms"));
  EXPECT_THAT(plain, HasSubstr("\n  \u2717 Overall Status: FAIL\n"));
}

TEST(ReportText, WarmRunNoOutputTruncated) {
  auto e = execution(137, Outcome::OutputLimit);
  e.stdout_text = "  \n";
  e.stderr_text = "";
  e.stdout_truncated = true;
  e.stderr_truncated = true;
  auto r = Ignite::make_report(preflight({pass_check("memory-allocation", "ok")}), e);
  const std::string text = Ignite::format_report_text(r, false);
  EXPECT_THAT(text, HasSubstr("  Memory: 0MB\n  Cold Start: No\n  Exit Code: 137\n"
                              "  Outcome: output_limit\n  Truncated: stdout, stderr\n\n" +
                              kRule));
  EXPECT_THAT(text, Not(HasSubstr("Cold Start Time")));
  EXPECT_THAT(text, Not(HasSubstr("STDOUT")));
  EXPECT_THAT(text, Not(HasSubstr("STDERR")));
  EXPECT_THAT(text, HasSubstr("\n  \u2713 Overall Status: PASS\n"));
}

TEST(PreflightText, Listing) {
  const auto pf = preflight({pass_check("memory-allocation", "Configured memory 128MB ok"),
                             {"dependency-count", CheckStatus::Warn, "High", 150.0, 100.0}});
  EXPECT_EQ(Ignite::format_preflight_text(pf, false),
            "\n"
            "  \u2713 memory-allocation\n"
            "    Configured memory 128MB ok\n"
            "\n"
            "  \u26a0 dependency-count\n"
            "    High\n"
            "\n"
            "\u26a0 Preflight: WARN\n");
  EXPECT_EQ(Ignite::format_preflight_text(pf, true),
            "\n"
            "  \x1b[32m\u2713\x1b[0m memory-allocation\n"
            "    Configured memory 128MB ok\n"
            "\n"
            "  \x1b[33m\u26a0\x1b[0m dependency-count\n"
            "    High\n"
            "\n"
            "\x1b[33m\u26a0 Preflight: WARN\x1b[0m\n");
}

TEST(ReportJson, ShapeWithoutExecution) {
  auto r = Ignite::make_report(preflight({
      {"timeout-config", CheckStatus::Warn, "w", 60000.0, 30000.0},
  }));
  r.timestamp = "2026-01-24T10:15:31.000Z";
  r.warnings.push_back({WarningLevel::Info, "note", std::nullopt});
  const nlohmann::json j = r;
  EXPECT_EQ(j, nlohmann::json::parse(R"({
    "serviceName": "hello",
    "timestamp": "2026-01-24T10:15:31.000Z",
    "preflight": {
      "serviceName": "hello",
      "timestamp": "2026-01-24T10:15:30.123Z",
      "checks": [{"name": "timeout-config", "status": "warn", "message": "w",
                  "value": 60000, "threshold": 30000}],
      "overallStatus": "warn"
    },
    "warnings": [
      {"level": "warning", "message": "w", "suggestion": "Consider adding buffer time for cold starts"},
      {"level": "info", "message": "note"}
    ]
  })"));
  EXPECT_FALSE(j.contains("execution"));
}

TEST(ReportJson, ExecutionUsesExecutionResultShape) {
  const auto e = execution(1, Outcome::Error);
  const auto r = Ignite::make_report(preflight({}), e);
  const nlohmann::json j = r;
  ASSERT_TRUE(j.contains("execution"));
  EXPECT_EQ(j["execution"], nlohmann::json(e));
  EXPECT_EQ(j["execution"]["exitCode"], 1);
  EXPECT_EQ(j["execution"]["outcome"], "error");
  EXPECT_EQ(j["warnings"][0]["message"], "Service exited with code 1");
  EXPECT_EQ(j["preflight"]["checks"], nlohmann::json::array());
}

TEST(ReportJson, TimesAreFractionalMillisecondsAndCpuTimeOnlyWhenMeasured) {
  auto e = execution(0, Outcome::Success);
  e.duration = 12345us;
  e.phases.run = 8001us;
  e.phases.create = 2000us;
  const nlohmann::json without = e;
  EXPECT_FALSE(without.contains("cpuTimeMs"));
  e.cpu_time = 4567us;
  const nlohmann::json j = e;
  EXPECT_EQ(j["executionTimeMs"].dump(), "12.345");
  EXPECT_EQ(j["cpuTimeMs"].dump(), "4.567");
  EXPECT_EQ(j["phases"]["runMs"].dump(), "8.001");
  EXPECT_EQ(j["phases"]["createMs"].dump(), "2") << "integral values print as integers";
  EXPECT_EQ(nlohmann::json(execution(137, Outcome::CpuLimit))["outcome"], "cpu_limit");
  Ignite::ServiceConfig c;
  c.cpu_time_ms = 250;
  EXPECT_EQ(nlohmann::json(c)["cpuTimeMs"], 250);
  EXPECT_FALSE(nlohmann::json(Ignite::ServiceConfig{}).contains("cpuTimeMs"));
}
