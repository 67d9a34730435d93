// Preflight checks: every reference §12 vector with exact messages and thresholds, the
// image-size check, config overrides and JSON shapes.
#include "ignite/preflight.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>

#include "ignite/json.hpp"
#include "ignite/service.hpp"

using Ignite::CheckStatus;
using Ignite::CheckValue;
using Ignite::PreflightCheck;
using Ignite::PreflightInputs;
using Ignite::Service;
using namespace std::chrono_literals;

namespace {

// The reference test's mock service: memoryMb 128, timeoutMs 5000, no dependencies.
Service mock_service(double memory_mb = 128, int deps = 0, double timeout_ms = 5000) {
  Service s;
  s.config.name = "mock-service";
  s.config.runtime = "bun";
  s.config.entry = "index.ts";
  s.config.memory_mb = memory_mb;
  s.config.timeout_ms = timeout_ms;
  s.path = "/tmp/mock-service";
  s.dependency_count = deps;
  s.has_node_modules = deps > 0;
  return s;
}

PreflightCheck find(const Ignite::PreflightResult& r, std::string_view name) {
  for (const auto& c : r.checks) {
    if (c.name == name) return c;
  }
  ADD_FAILURE() << "no check " << name;
  return {};
}

CheckValue num(double v) { return CheckValue(v); }

}  // namespace

TEST(Preflight, StatusNames) {
  EXPECT_EQ(Ignite::to_string(CheckStatus::Pass), "pass");
  EXPECT_EQ(Ignite::to_string(CheckStatus::Warn), "warn");
  EXPECT_EQ(Ignite::to_string(CheckStatus::Fail), "fail");
}

TEST(Preflight, ChecksInReferenceOrderWithoutImage) {
  const auto r = Ignite::run_preflight(mock_service());
  EXPECT_EQ(r.service_name, "mock-service");
  ASSERT_EQ(r.checks.size(), 3u);
  EXPECT_EQ(r.checks[0].name, "memory-allocation");
  EXPECT_EQ(r.checks[1].name, "dependency-count");
  EXPECT_EQ(r.checks[2].name, "timeout-config");
  EXPECT_EQ(r.overall, CheckStatus::Pass);
  EXPECT_TRUE(
      std::regex_match(r.timestamp, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
      << r.timestamp;
}

TEST(Preflight, MemoryPassWith10Deps) {
  const auto r = Ignite::run_preflight(mock_service(128, 10));
  const auto c = find(r, "memory-allocation");
  EXPECT_EQ(c.status, CheckStatus::Pass);
  EXPECT_EQ(c.message, "Configured memory 128MB exceeds estimated need of 70MB");
  EXPECT_EQ(c.value, num(128));
  EXPECT_EQ(c.threshold, num(70));
  EXPECT_EQ(r.overall, CheckStatus::Pass);
}

TEST(Preflight, MemoryWarn55With5Deps) {
  const auto r = Ignite::run_preflight(mock_service(55, 5));
  const auto c = find(r, "memory-allocation");
  EXPECT_EQ(c.status, CheckStatus::Warn);
  EXPECT_EQ(c.message, "Configured memory 55MB is close to estimated need of 60MB");
  EXPECT_EQ(c.value, num(55));
  EXPECT_EQ(c.threshold, num(60));
  EXPECT_EQ(r.overall, CheckStatus::Warn);
}

TEST(Preflight, MemoryFail30With10Deps) {
  const auto r = Ignite::run_preflight(mock_service(30, 10));
  const auto c = find(r, "memory-allocation");
  EXPECT_EQ(c.status, CheckStatus::Fail);
  EXPECT_EQ(c.message,
            "Configured memory 30MB may be insufficient. Estimated need: 70MB based on 10 "
            "dependencies");
  EXPECT_EQ(c.value, num(30));
  EXPECT_EQ(c.threshold, num(56));
  EXPECT_EQ(r.overall, CheckStatus::Fail);
}

TEST(Preflight, MemoryEqualToEstimatePasses) {
  const auto c = find(Ignite::run_preflight(mock_service(60, 5)), "memory-allocation");
  EXPECT_EQ(c.status, CheckStatus::Pass);
  EXPECT_EQ(c.message, "Configured memory 60MB exceeds estimated need of 60MB");
}

TEST(Preflight, MemoryThresholdsFromConfigAreRounded) {
  auto svc = mock_service(100, 3);
  svc.config.preflight.memory.base_mb = 40;
  svc.config.preflight.memory.per_dependency_mb = 1.5;  // estimate 44.5
  svc.config.preflight.memory.warn_ratio = 3;           // 133.5 -> 134
  svc.config.preflight.memory.fail_ratio = 2.25;        // 100.125 -> 100
  const auto c = find(Ignite::run_preflight(svc), "memory-allocation");
  EXPECT_EQ(c.status, CheckStatus::Fail);
  EXPECT_EQ(c.message,
            "Configured memory 100MB may be insufficient. Estimated need: 44.5MB based on 3 "
            "dependencies");
  EXPECT_EQ(c.threshold, num(100));
  svc.config.memory_mb = 120.5;
  const auto w = find(Ignite::run_preflight(svc), "memory-allocation");
  EXPECT_EQ(w.status, CheckStatus::Warn);
  EXPECT_EQ(w.message, "Configured memory 120.5MB is close to estimated need of 44.5MB");
  EXPECT_EQ(w.value, num(120.5));
  EXPECT_EQ(w.threshold, num(134));
}

TEST(Preflight, DependencyCounts) {
  auto low = mock_service(512, 10);
  low.node_modules_size = 3 * 1024 * 1024 + 600 * 1024;  // 3.59 MB -> 4
  const auto l = find(Ignite::run_preflight(low), "dependency-count");
  EXPECT_EQ(l.status, CheckStatus::Pass);
  EXPECT_EQ(l.message, "Low dependency count (10). node_modules size: 4MB");
  EXPECT_EQ(l.value, num(10));
  EXPECT_EQ(l.threshold, num(50));

  const auto m = find(Ignite::run_preflight(mock_service(512, 60)), "dependency-count");
  EXPECT_EQ(m.status, CheckStatus::Pass);
  EXPECT_EQ(m.message, "Moderate dependency count (60). node_modules size: 0MB");
  EXPECT_EQ(m.value, num(60));
  EXPECT_EQ(m.threshold, num(50));

  const auto r = Ignite::run_preflight(mock_service(512, 150));
  const auto h = find(r, "dependency-count");
  EXPECT_EQ(h.status, CheckStatus::Warn);
  EXPECT_EQ(h.message,
            "High dependency count (150). node_modules size: 0MB. Consider reducing dependencies "
            "for faster cold starts.");
  EXPECT_EQ(h.value, num(150));
  EXPECT_EQ(h.threshold, num(100));
  EXPECT_EQ(r.overall, CheckStatus::Warn);
}

TEST(Preflight, DependencyBoundariesAndConfig) {
  // "> warnCount" and "> infoCount": the boundary values themselves stay in the lower band.
  EXPECT_THAT(find(Ignite::run_preflight(mock_service(512, 50)), "dependency-count").message,
              ::testing::StartsWith("Low dependency count (50)"));
  EXPECT_EQ(find(Ignite::run_preflight(mock_service(512, 100)), "dependency-count").status,
            CheckStatus::Pass);
  auto svc = mock_service(512, 20);
  svc.config.preflight.dependencies.warn_count = 15;
  svc.config.preflight.dependencies.info_count = 5;
  const auto c = find(Ignite::run_preflight(svc), "dependency-count");
  EXPECT_EQ(c.status, CheckStatus::Warn);
  EXPECT_EQ(c.threshold, num(15));
}

TEST(Preflight, CpuTimeCheckOnlyWhenSetAndAfterTheTimeout) {
  auto svc = mock_service();
  svc.config.cpu_time_ms = 2000;
  const auto r = Ignite::run_preflight(svc);
  ASSERT_EQ(r.checks.size(), 4u);
  EXPECT_EQ(r.checks[2].name, "timeout-config");
  EXPECT_EQ(r.checks[3].name, "cpu-time-config");
  EXPECT_EQ(r.checks[3].status, CheckStatus::Pass);
  EXPECT_EQ(r.checks[3].message,
            "CPU-time limit 2000ms can be reached within timeoutMs 5000ms at cpuLimit 1 (at most "
            "5000ms of CPU)");
  EXPECT_EQ(r.checks[3].value, num(2000));
  EXPECT_EQ(r.checks[3].threshold, num(5000));
}

TEST(Preflight, CpuTimeBeyondWhatTheTimeoutAllowsWarns) {
  auto svc = mock_service();
  svc.config.cpu_time_ms = 6000;
  auto c = find(Ignite::run_preflight(svc), "cpu-time-config");
  EXPECT_EQ(c.status, CheckStatus::Warn);
  EXPECT_EQ(c.message,
            "CPU-time limit 6000ms cannot be reached within timeoutMs 5000ms at cpuLimit 1 (at "
            "most 5000ms of CPU): the timeout ends a busy service first");
  const auto report = Ignite::make_report(Ignite::run_preflight(svc));
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_EQ(report.warnings[0].suggestion,
            "Lower cpuTimeMs, or raise timeoutMs or cpuLimit, so that the CPU-time limit can act");
  // Two CPUs use CPU time twice as fast as wall time passes.
  svc.config.cpu_limit = 2;
  c = find(Ignite::run_preflight(svc), "cpu-time-config");
  EXPECT_EQ(c.status, CheckStatus::Pass);
  EXPECT_EQ(c.threshold, num(10000));
}

TEST(Preflight, Timeout5000Passes) {
  const auto c = find(Ignite::run_preflight(mock_service()), "timeout-config");
  EXPECT_EQ(c.status, CheckStatus::Pass);
  EXPECT_EQ(c.message, "Timeout 5000ms is within acceptable range");
  EXPECT_EQ(c.value, num(5000));
  EXPECT_EQ(c.threshold, num(30000));
}

TEST(Preflight, Timeout50Fails) {
  const auto r = Ignite::run_preflight(mock_service(128, 0, 50));
  const auto c = find(r, "timeout-config");
  EXPECT_EQ(c.status, CheckStatus::Fail);
  EXPECT_EQ(c.message, "Timeout 50ms is below minimum 100ms");
  EXPECT_EQ(c.value, num(50));
  EXPECT_EQ(c.threshold, num(100));
  EXPECT_EQ(r.overall, CheckStatus::Fail);
}

TEST(Preflight, Timeout60000Warns) {
  const auto c = find(Ignite::run_preflight(mock_service(128, 0, 60000)), "timeout-config");
  EXPECT_EQ(c.status, CheckStatus::Warn);
  EXPECT_EQ(c.message, "Timeout 60000ms exceeds recommended maximum 30000ms");
  EXPECT_EQ(c.value, num(60000));
  EXPECT_EQ(c.threshold, num(30000));
}

TEST(Preflight, Timeout1000WithLast800Warns) {
  const auto r = Ignite::run_preflight(mock_service(128, 0, 1000), {.last_execution = 800ms});
  const auto c = find(r, "timeout-config");
  EXPECT_EQ(c.status, CheckStatus::Warn);
  EXPECT_EQ(c.message,
            "Timeout 1000ms may be too short. Last execution: 800ms + 500ms cold start buffer = "
            "1300ms");
  EXPECT_EQ(c.value, num(1000));
  EXPECT_EQ(c.threshold, num(1300));
  EXPECT_EQ(r.overall, CheckStatus::Warn);
  // Enough headroom passes.
  EXPECT_EQ(find(Ignite::run_preflight(mock_service(128, 0, 1300), {.last_execution = 800ms}),
                 "timeout-config")
                .status,
            CheckStatus::Pass);
}

TEST(Preflight, Timeout30000ExactlyPasses) {
  const auto c = find(Ignite::run_preflight(mock_service(128, 0, 30000)), "timeout-config");
  EXPECT_EQ(c.status, CheckStatus::Pass);
  EXPECT_EQ(c.message, "Timeout 30000ms is within acceptable range");
}

TEST(Preflight, TimeoutConfigOverrides) {
  auto svc = mock_service(128, 0, 1000);
  svc.config.preflight.timeout.min_ms = 2000;
  const auto c = find(Ignite::run_preflight(svc), "timeout-config");
  EXPECT_EQ(c.message, "Timeout 1000ms is below minimum 2000ms");
  svc.config.preflight.timeout.min_ms = 10;
  svc.config.preflight.timeout.cold_start_buffer_ms = 250.5;
  const auto w = find(Ignite::run_preflight(svc, {.last_execution = 900ms}), "timeout-config");
  EXPECT_EQ(w.message,
            "Timeout 1000ms may be too short. Last execution: 900ms + 250.5ms cold start buffer = "
            "1150.5ms");
  EXPECT_EQ(w.threshold, num(1150.5));
}

TEST(Preflight, ImageNotFound) {
  const auto r = Ignite::run_preflight(
      mock_service(), {.image = Ignite::ImageFacts{"ignite-svc/x:latest", std::nullopt}});
  ASSERT_EQ(r.checks.size(), 4u);
  const auto& c = r.checks[3];
  EXPECT_EQ(c.name, "image-size");
  EXPECT_EQ(c.status, CheckStatus::Fail);
  EXPECT_EQ(c.message, "Image \"ignite-svc/x:latest\" not found. Build the image first.");
  EXPECT_FALSE(c.value);
  EXPECT_FALSE(c.threshold);
  EXPECT_EQ(r.overall, CheckStatus::Fail);
}

TEST(Preflight, ImageSizes) {
  constexpr std::uint64_t kMiB = 1024 * 1024;
  auto image = [](std::uint64_t bytes) {
    return PreflightInputs{.image = Ignite::ImageFacts{"img", bytes}};
  };
  const auto big = Ignite::run_preflight(mock_service(), image(1200 * kMiB));
  EXPECT_EQ(big.checks[3].status, CheckStatus::Fail);
  EXPECT_EQ(big.checks[3].message, "Image size 1200MB exceeds 1000MB limit");
  EXPECT_EQ(big.checks[3].value, num(1200));
  EXPECT_EQ(big.checks[3].threshold, num(1000));
  EXPECT_EQ(big.overall, CheckStatus::Fail);

  const auto mid =
      Ignite::run_preflight(mock_service(), image(600 * kMiB + kMiB / 2));  // 600.5 -> 601
  EXPECT_EQ(mid.checks[3].status, CheckStatus::Warn);
  EXPECT_EQ(mid.checks[3].message, "Image size 601MB exceeds recommended 500MB");
  EXPECT_EQ(mid.checks[3].threshold, num(500));
  EXPECT_EQ(mid.overall, CheckStatus::Warn);

  const auto ok = Ignite::run_preflight(mock_service(), image(120 * kMiB));
  EXPECT_EQ(ok.checks[3].status, CheckStatus::Pass);
  EXPECT_EQ(ok.checks[3].message, "Image size 120MB is within limits");
  EXPECT_EQ(ok.checks[3].value, num(120));
  EXPECT_EQ(ok.checks[3].threshold, num(500));
  EXPECT_EQ(ok.overall, CheckStatus::Pass);

  // Exactly at the limits: "exceeds" means strictly greater.
  EXPECT_EQ(Ignite::run_preflight(mock_service(), image(1000 * kMiB)).checks[3].status,
            CheckStatus::Warn);
  EXPECT_EQ(Ignite::run_preflight(mock_service(), image(500 * kMiB)).checks[3].status,
            CheckStatus::Pass);

  auto svc = mock_service();
  svc.config.preflight.image.warn_mb = 50;
  svc.config.preflight.image.fail_mb = 100;
  EXPECT_EQ(Ignite::run_preflight(svc, image(120 * kMiB)).checks[3].message,
            "Image size 120MB exceeds 100MB limit");
}

TEST(Preflight, OverallStatus) {
  using Ignite::overall_status;
  EXPECT_EQ(overall_status({}), CheckStatus::Pass);
  std::vector<PreflightCheck> checks(3);
  checks[1].status = CheckStatus::Warn;
  EXPECT_EQ(overall_status(checks), CheckStatus::Warn);
  checks[0].status = CheckStatus::Fail;
  EXPECT_EQ(overall_status(checks), CheckStatus::Fail);
}

TEST(PreflightJson, Shape) {
  auto r = Ignite::run_preflight(
      mock_service(128, 0, 1000),
      {.last_execution = 800ms, .image = Ignite::ImageFacts{"img", std::nullopt}});
  r.timestamp = "2026-01-24T10:15:30.123Z";
  const nlohmann::json j = r;
  EXPECT_EQ(j["serviceName"], "mock-service");
  EXPECT_EQ(j["timestamp"], "2026-01-24T10:15:30.123Z");
  EXPECT_EQ(j["overallStatus"], "fail");
  ASSERT_EQ(j["checks"].size(), 4u);
  EXPECT_EQ(j["checks"][0], nlohmann::json::parse(R"({"name":"memory-allocation","status":"pass",
              "message":"Configured memory 128MB exceeds estimated need of 50MB",
              "value":128,"threshold":50})"));
  EXPECT_EQ(j["checks"][2]["threshold"], 1300);
  EXPECT_TRUE(j["checks"][2]["threshold"].is_number_integer());
  // Absent value/threshold are left out, not null.
  EXPECT_EQ(j["checks"][3], nlohmann::json::parse(R"({"name":"image-size","status":"fail",
              "message":"Image \"img\" not found. Build the image first."})"));
  EXPECT_EQ(j.size(), 4u);

  PreflightCheck text{"custom", CheckStatus::Warn, "m", CheckValue(std::string("v")),
                      CheckValue(0.5)};
  const nlohmann::json t = text;
  EXPECT_EQ(t.dump(),
            R"({"message":"m","name":"custom","status":"warn","threshold":0.5,"value":"v"})");
}
