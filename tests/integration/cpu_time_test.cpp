// CPU time and the CPU-time limit on the real Docker daemon: a spin loop ends as cpu_limit
// after about its limit of CPU, a sleeping service with the same limit succeeds, the reported
// CPU time matches what the kernel accounted to the container's cgroup (read here, by the
// test), and a pooled or reused container charges a job only with its own share; in the cold
// path, the warm pool and reuse mode, under runc and gVisor.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <vector>

#include "ignite/engine.hpp"
#include "ignite/error.hpp"
#include "ignite/json.hpp"
#include "ignite/src/docker/client.hpp"
#include "tests/test_util.hpp"

using namespace std::chrono;
using namespace std::chrono_literals;
using Ignite::ContainerStart;
using Ignite::Outcome;
using Ignite::testing::TempDir;
using Ignite::testing::write_file;

namespace {

// How far past its limit a killed spin loop may get: the poll sees the limit within ~1 ms of
// CPU per core, the daemon's kill takes a few ms more (docs/resource-accounting.md has the
// measured numbers; this bound leaves room for a loaded machine).
constexpr auto kOvershoot = 100ms;
// Under gVisor the kill also runs the sandbox's teardown inside the cgroup (up to ~80 ms of CPU
// measured here).
constexpr auto kOvershootGvisor = 150ms;

Ignite::EngineOptions pool_options(std::size_t size, std::size_t reuse = 1) {
  Ignite::EngineOptions o;
  o.pool.size = size;
  o.pool.reuse = reuse;
  return o;
}

// The CPU time the kernel accounted to container `id`'s cgroup, read by the test itself (v1
// cpuacct or v2 cpu.stat); nullopt when the cgroup is not here.
std::optional<microseconds> kernel_cpu(const std::string& id) {
  {
    std::ifstream v1("/sys/fs/cgroup/cpuacct/docker/" + id + "/cpuacct.usage");
    long long ns = 0;
    if (v1 >> ns) return duration_cast<microseconds>(nanoseconds(ns));
  }
  for (const std::string& dir :
       {"/sys/fs/cgroup/system.slice/docker-" + id + ".scope", "/sys/fs/cgroup/docker/" + id}) {
    std::ifstream v2(dir + "/cpu.stat");
    std::string key;
    long long us = 0;
    if (v2 >> key >> us && key == "usage_usec") return microseconds(us);
  }
  return std::nullopt;
}

std::string running_container_of(const Ignite::Engine& e) {
  Ignite::docker::DockerClient client(Ignite::docker::socket_from_env());
  for (const auto& c :
       client.containers_list({"dev.ignite.session=" + e.session_id()}, /*all=*/false)) {
    return c.value("Id", "");
  }
  return "";
}

double ms(microseconds d) { return static_cast<double>(d.count()) / 1000.0; }

// A throwaway service: `code` in index.js, `extra` appended to the service block, a policy
// file when `isolation` is "gvisor".
struct Scratch {
  TempDir dir;
  Scratch(const std::string& runtime, const std::string& code, const std::string& extra = "",
          const std::string& isolation = "", const std::string& name = "cpu-scratch") {
    write_file(dir.path() / "service.yaml", "service:\n  name: " + name +
                                                "\n  runtime: " + runtime +
                                                "\n  entry: index.js\n  memoryMb: 128\n"
                                                "  timeoutMs: 10000\n" +
                                                extra);
    write_file(dir.path() / "index.js", code);
    if (isolation == "gvisor") {
      write_file(dir.path() / "ignite.policy.yaml",
                 "security:\n  isolation: gvisor\n  process:\n    allowSpawn: true\n");
    }
  }
};

constexpr const char* kSpin = "for (;;) {}\n";
constexpr const char* kSleepQjs = "os.sleep(1000); print('slept');\n";

// ---- every mode and isolation ----------------------------------------------------------------

struct Mode {
  std::string name;
  std::size_t pool = 0;
  std::size_t reuse = 1;
  std::string isolation;
};

class CpuLimit : public ::testing::TestWithParam<Mode> {};

}  // namespace

TEST_P(CpuLimit, SpinLoopEndsAsCpuLimitAfterAboutItsLimit) {
  const Mode& m = GetParam();
  // Under gVisor a cold container's CPU time includes the sandbox's start-up (100-125 ms of CPU,
  // seen to leave the spin only 86 ms of a 200 ms limit): the limit there has room for it, so
  // the spin itself still runs for at least 100 ms.
  const auto limit = m.isolation == "gvisor" && m.pool == 0 ? 400ms : 200ms;
  Scratch s("quickjs", kSpin,
            "  cpuTimeMs: " + std::to_string(limit.count()) + "\n  reuse: 3\n", m.isolation);
  Ignite::Engine e(pool_options(m.pool, m.reuse));
  const auto svc = e.load(s.dir.path());
  if (m.pool > 0) {
    ASSERT_GE(e.prewarm(svc), 1u);
  }
  const auto r = e.execute(svc);
  std::cout << m.name << ": spin cpu " << ms(r.cpu_time.value_or(-1us)) << " ms, run "
            << ms(r.phases.run) << " ms, start " << Ignite::to_string(r.container_start) << "\n";
  EXPECT_EQ(r.outcome, Outcome::CpuLimit) << r.stderr_text;
  EXPECT_EQ(r.container_start, m.pool > 0 ? ContainerStart::Warm : ContainerStart::Cold);
  ASSERT_TRUE(r.cpu_time.has_value());
  EXPECT_GT(*r.cpu_time, limit);
  EXPECT_LT(*r.cpu_time, limit + (m.isolation == "gvisor" ? kOvershootGvisor : kOvershoot));
  // CPU time is not wall time, but a spin loop on one CPU spends them together.
  EXPECT_GE(r.phases.run, 100ms);
  EXPECT_LT(r.phases.run, 5s) << "ended by the wall-clock timeout, not the CPU-time limit";
  EXPECT_EQ(nlohmann::json(r).at("outcome"), "cpu_limit");
}

TEST_P(CpuLimit, SleepingServiceWithTheSameLimitSucceeds) {
  const Mode& m = GetParam();
  // Under gVisor a cold container's CPU time includes the sandbox's start-up (hundreds of ms of
  // CPU): the limit there has room for it.
  const std::string limit = m.isolation == "gvisor" && m.pool == 0 ? "1500" : "200";
  Scratch s("quickjs", kSleepQjs, "  cpuTimeMs: " + limit + "\n  reuse: 3\n", m.isolation);
  Ignite::Engine e(pool_options(m.pool, m.reuse));
  const auto svc = e.load(s.dir.path());
  if (m.pool > 0) {
    ASSERT_GE(e.prewarm(svc), 1u);
  }
  const auto r = e.execute(svc);
  std::cout << m.name << ": sleep cpu " << ms(r.cpu_time.value_or(-1us)) << " ms, run "
            << ms(r.phases.run) << " ms\n";
  EXPECT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  EXPECT_EQ(r.stdout_text, "slept\n");
  EXPECT_GE(r.phases.run, 1s) << "wall time without CPU is not CPU time";
  ASSERT_TRUE(r.cpu_time.has_value());
  EXPECT_LT(*r.cpu_time, milliseconds(std::stoi(limit)));
}

INSTANTIATE_TEST_SUITE_P(Modes, CpuLimit,
                         ::testing::Values(Mode{"cold_runc", 0, 1, ""}, Mode{"warm_runc", 1, 1, ""},
                                           Mode{"reuse_runc", 1, 3, ""},
                                           Mode{"cold_gvisor", 0, 1, "gvisor"},
                                           Mode{"warm_gvisor", 1, 1, "gvisor"}),
                         [](const auto& info) { return info.param.name; });

// ---- what the kernel accounted ---------------------------------------------------------------

TEST(CpuTime, ColdMatchesTheKernelsAccountingOfTheContainer) {
  // A fixed amount of work (a loaded machine does not shrink it), says so, then sleeps: the
  // test reads the container's cgroup while it sleeps, and the job's total can exceed that
  // reading only by the sleep and the exit (little CPU).
  Scratch s("node", R"(
let x = 0;
for (let i = 0; i < 5e7; i++) x = (x * 31 + i) % 1000003;
console.log('spun ' + x);
setTimeout(() => console.log('done'), 700);
)");
  Ignite::Engine e;
  const auto svc = e.load(s.dir.path());
  std::optional<microseconds> kernel;
  Ignite::ExecuteOptions opt;
  opt.on_stdout = [&](std::string_view d) {
    if (!kernel && d.find("spun") != std::string_view::npos) {
      kernel = kernel_cpu(running_container_of(e));
    }
  };
  const auto r = e.execute(svc, opt);
  ASSERT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  ASSERT_TRUE(kernel.has_value()) << "the test could not read the container's cgroup";
  ASSERT_TRUE(r.cpu_time.has_value());
  std::cout << "cold node: kernel at 'spun' " << ms(*kernel) << " ms, reported " << ms(*r.cpu_time)
            << " ms\n";
  EXPECT_GE(*kernel, 100ms) << "node's start-up and the loop ran on the CPU";
  EXPECT_GE(*r.cpu_time, *kernel);
  EXPECT_LE(*r.cpu_time, *kernel + 50ms);
}

TEST(CpuTime, ReusedContainersSecondJobReportsOnlyItsOwnCpuTime) {
  Scratch s("quickjs", R"(
const input = JSON.parse(std.in.readAsString() || '{}');
let x = 0;
for (let i = 0; i < (input.work || 0); i++) x += i;
print('ok');
)",
            "  reuse: 5\n");
  Ignite::Engine e(pool_options(1, 5));
  const auto svc = e.load(s.dir.path());
  // A fixed amount of work (~300 ms of CPU here), so that a loaded machine does not shrink it.
  const auto r1 = e.execute(svc, {.input = R"({"work":4000000})"});
  ASSERT_EQ(r1.outcome, Outcome::Success) << r1.stderr_text;
  // The container waits for its next job: the kernel's count before and after job 2.
  const auto before = kernel_cpu(r1.container_id);
  const auto r2 = e.execute(svc, {.input = "{}"});
  const auto after = kernel_cpu(r2.container_id);
  ASSERT_EQ(r2.outcome, Outcome::Success) << r2.stderr_text;
  ASSERT_EQ(r2.container_id, r1.container_id);
  ASSERT_EQ(r2.container_start, ContainerStart::Reused);
  ASSERT_TRUE(r1.cpu_time && r2.cpu_time && before && after);
  std::cout << "reuse: job 1 " << ms(*r1.cpu_time) << " ms, job 2 " << ms(*r2.cpu_time)
            << " ms, kernel during job 2 " << ms(*after - *before) << " ms\n";
  EXPECT_GE(*r1.cpu_time, 150ms);
  EXPECT_LT(*r2.cpu_time, 100ms) << "job 2 was charged with job 1's CPU time";
  // Job 2's share is what the kernel counted around it, less the supervisor's few
  // microseconds of clean-up after the job's end.
  EXPECT_LE(*r2.cpu_time, *after - *before + 1ms);
  EXPECT_GE(*r2.cpu_time + 20ms, *after - *before);
}

TEST(CpuTime, WarmJobIsNotChargedWithTheRuntimesBoot) {
  Scratch s("node", "console.log('hi');\n");
  Ignite::Engine cold_engine;
  const auto cold = cold_engine.execute(cold_engine.load(s.dir.path()));
  Ignite::Engine e(pool_options(1));
  const auto svc = e.load(s.dir.path());
  ASSERT_GE(e.prewarm(svc), 1u);
  const auto warm = e.execute(svc);
  ASSERT_EQ(cold.outcome, Outcome::Success) << cold.stderr_text;
  ASSERT_EQ(warm.outcome, Outcome::Success) << warm.stderr_text;
  ASSERT_EQ(warm.container_start, ContainerStart::Warm);
  ASSERT_TRUE(cold.cpu_time && warm.cpu_time);
  std::cout << "node hello: cold " << ms(*cold.cpu_time) << " ms, warm " << ms(*warm.cpu_time)
            << " ms of CPU\n";
  // node's start-up alone takes tens of ms of CPU; the warm job ran after it.
  EXPECT_GT(*cold.cpu_time, 20ms);
  EXPECT_LT(*warm.cpu_time, *cold.cpu_time);
}

// Whether container `id` runs its supervisor in reuse mode with pre-boot (its command).
bool preboots(const std::string& id) {
  Ignite::docker::DockerClient client(Ignite::docker::socket_from_env());
  const nlohmann::json info = client.container_inspect(id);
  for (const auto& arg : info["Config"]["Cmd"]) {
    if (arg == "--preboot") return true;
  }
  return false;
}

// Reuse mode with pre-boot: while a job runs, the runtime of the job after it boots in the same
// cgroup (the supervisor forks it once the job before has been cleaned up). A job that comes
// after a pause has nothing booting beside it; jobs back to back each have one boot beside
// them. All run the same code and are charged alike: the boots are no one's.
TEST(CpuTime, PrebootedReuseJobIsNotChargedWithTheNextRuntimesBoot) {
  Scratch s("node", "setTimeout(() => console.log('done'), 150);\n", "  reuse: 20\n");
  Ignite::Engine e(pool_options(1, 20));
  const auto svc = e.load(s.dir.path());
  const auto first = e.execute(svc);
  ASSERT_EQ(first.outcome, Outcome::Success) << first.stderr_text;
  ASSERT_TRUE(preboots(first.container_id)) << "reuse mode for node boots each job's runtime ahead";
  const auto check = [&](const Ignite::ExecutionResult& r) {
    EXPECT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
    EXPECT_EQ(r.container_start, ContainerStart::Reused);
    EXPECT_EQ(r.container_id, first.container_id);
    return r.cpu_time.value_or(0us);
  };
  // Alone: after a pause in which the runtimes for the next two jobs booted.
  constexpr int kAlone = 3, kJobs = 6;
  microseconds alone{0};
  std::cout << "node reuse with pre-boot: alone";
  for (int i = 0; i < kAlone; ++i) {
    std::this_thread::sleep_for(1500ms);
    const auto t = check(e.execute(svc));
    std::cout << " " << ms(t);
    alone += t;
  }
  // Back to back, each with the boot of the runtime for the job after it beside it.
  const auto before = kernel_cpu(first.container_id);
  microseconds charged{0};
  std::vector<microseconds> each;
  std::cout << " ms; back to back";
  for (int i = 0; i < kJobs; ++i) {
    each.push_back(check(e.execute(svc)));
    std::cout << " " << ms(each.back());
    charged += each.back();
  }
  const auto after = kernel_cpu(first.container_id);
  ASSERT_TRUE(before && after);
  const auto kernel = *after - *before;
  std::cout << " ms; kernel " << ms(kernel) << " ms for the " << kJobs << " back to back\n";
  // The boots beside them ran (Node.js boots in 20-40 ms of CPU) and were not charged.
  EXPECT_GE(kernel - charged, kJobs * 15ms);
  // Each is charged as a job with nothing beside it: the supervisor's end record bounds the
  // job's share by the cgroup readings it took at the job's arrival and end, so neither the
  // boot beside the job nor the one it starts right after the record is counted. The margin:
  // the same code's CPU time varies on a loaded machine, where one job in six was seen charged
  // 13 ms over the others (a fresh-clone CI run); a charged boot would add 20-40 ms to every
  // job, so at most one may pass the per-job bound and the mean leaves the highest out.
  std::sort(each.begin(), each.end());
  for (std::size_t i = 0; i + 1 < each.size(); ++i) EXPECT_LE(each[i], alone / kAlone + 6ms);
  const microseconds rest = charged - each.back();
  EXPECT_LE(rest / (kJobs - 1), alone / kAlone + 3ms);
  EXPECT_GE(charged / kJobs + 3ms, alone / kAlone);
}

// The limit is enforced on the cgroup's reading while the job runs, before the end record
// says what a boot beside it used: a reuse-mode job with a CPU-time limit boots its own
// runtime (no pre-boot), so the limit counts only the job.
TEST(CpuTime, ReuseJobsWithALimitGetNoPreboot) {
  Scratch s("node", "console.log('hi');\n", "  reuse: 5\n  cpuTimeMs: 2000\n");
  Ignite::Engine e(pool_options(1, 5));
  const auto svc = e.load(s.dir.path());
  const auto r1 = e.execute(svc);
  const auto r2 = e.execute(svc);
  ASSERT_EQ(r1.outcome, Outcome::Success) << r1.stderr_text;
  ASSERT_EQ(r2.outcome, Outcome::Success) << r2.stderr_text;
  ASSERT_EQ(r2.container_start, ContainerStart::Reused);
  EXPECT_FALSE(preboots(r2.container_id));
  ASSERT_TRUE(r2.cpu_time.has_value());
  // Its own runtime's boot is the job's, as in the cold path.
  EXPECT_GT(*r2.cpu_time, 10ms);
}

TEST(CpuTime, OptionOverridesServiceYamlAndIsValidated) {
  Scratch s("quickjs", kSpin, "  cpuTimeMs: 100000\n");
  Ignite::Engine e;
  const auto svc = e.load(s.dir.path());
  const auto r = e.execute(svc, {.timeout = 5s, .cpu_time_limit = 150ms});
  EXPECT_EQ(r.outcome, Outcome::CpuLimit);
  ASSERT_TRUE(r.cpu_time.has_value());
  EXPECT_GT(*r.cpu_time, 150ms);
  EXPECT_LT(*r.cpu_time, 150ms + kOvershoot);
  try {
    e.execute(svc, {.cpu_time_limit = 0ms});
    ADD_FAILURE() << "a zero CPU-time limit was accepted";
  } catch (const Ignite::Error& err) {
    EXPECT_EQ(err.code(), Ignite::ErrorCode::InvalidArgument);
    EXPECT_THAT(err.message(), ::testing::HasSubstr("cpu_time_limit"));
  }
}

TEST(CpuTime, ReuseJobOverItsLimitEndsItsContainer) {
  Scratch s("quickjs", R"(
const input = JSON.parse(std.in.readAsString() || '{}');
if (input.spin) for (;;) {}
print('ok');
)",
            "  reuse: 5\n  cpuTimeMs: 200\n");
  Ignite::Engine e(pool_options(1, 5));
  const auto svc = e.load(s.dir.path());
  const auto ok1 = e.execute(svc, {.input = "{}"});
  const auto spin = e.execute(svc, {.input = R"({"spin":true})"});
  const auto ok2 = e.execute(svc, {.input = "{}"});
  EXPECT_EQ(ok1.outcome, Outcome::Success);
  EXPECT_EQ(spin.outcome, Outcome::CpuLimit);
  EXPECT_EQ(spin.container_id, ok1.container_id);
  EXPECT_EQ(ok2.outcome, Outcome::Success);
  EXPECT_NE(ok2.container_id, spin.container_id) << "a killed job's container is not reused";
  ASSERT_TRUE(spin.cpu_time.has_value());
  EXPECT_LT(*spin.cpu_time, 200ms + kOvershoot);
}

TEST(CpuTime, AuditRecordsTheCpuLimitKill) {
  Scratch s("quickjs", kSpin, "  cpuTimeMs: 100\n");
  Ignite::Engine e;
  const auto r = e.execute(e.load(s.dir.path()), {.audit = true});
  ASSERT_EQ(r.outcome, Outcome::CpuLimit);
  ASSERT_TRUE(r.audit.has_value());
  bool found = false;
  for (const auto& ev : r.audit->events) {
    if (ev.action == "cpu-limit-kill") {
      found = true;
      EXPECT_EQ(ev.type, "resource");
      EXPECT_THAT(ev.details, ::testing::HasSubstr("passed the limit of 100ms"));
    }
  }
  EXPECT_TRUE(found) << nlohmann::json(*r.audit).dump();
}

TEST(CpuTime, JsonCarriesFractionalMilliseconds) {
  Scratch s("quickjs", "print('x');\n");
  Ignite::Engine e;
  const auto r = e.execute(e.load(s.dir.path()));
  ASSERT_EQ(r.outcome, Outcome::Success);
  ASSERT_TRUE(r.cpu_time.has_value());
  const nlohmann::json j = r;
  EXPECT_DOUBLE_EQ(j.at("cpuTimeMs").get<double>(), ms(*r.cpu_time));
  EXPECT_DOUBLE_EQ(j.at("executionTimeMs").get<double>(), ms(r.duration));
  EXPECT_DOUBLE_EQ(j.at("phases").at("runMs").get<double>(), ms(r.phases.run));
  // Microseconds, not whole milliseconds: that all of these are whole milliseconds by chance
  // is a 1-in-10^12 event.
  int whole = 0;
  for (const auto d : {r.duration, r.phases.create, r.phases.start, r.phases.run}) {
    if (d.count() % 1000 == 0) ++whole;
  }
  EXPECT_LT(whole, 4) << "times look rounded to whole milliseconds";
}
