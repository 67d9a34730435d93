// The warm pool and reuse mode on the real Docker daemon: used-once containers, in-band exit
// status equal to the cold path's, refill, drain, dead pooled containers, limits inside the
// pool, reuse isolation between jobs, and no leaks under a mixed load.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <future>
#include <thread>

#include "ignite/engine.hpp"
#include "ignite/error.hpp"
#include "ignite/src/docker/client.hpp"
#include "ignite/src/pool.hpp"
#include "tests/test_util.hpp"

using namespace std::chrono_literals;
using Ignite::ContainerStart;
using Ignite::Outcome;
using Ignite::testing::example_service;
using Ignite::testing::eventually;
using Ignite::testing::TempDir;
using Ignite::testing::write_file;
using ::testing::HasSubstr;

namespace {

Ignite::docker::DockerClient& client() {
  static Ignite::docker::DockerClient c(Ignite::docker::socket_from_env());
  return c;
}

Ignite::EngineOptions pool_options(std::size_t size, std::size_t reuse = 1) {
  Ignite::EngineOptions o;
  o.pool.size = size;
  o.pool.reuse = reuse;
  return o;
}

std::vector<nlohmann::json> containers_of(const Ignite::Engine& e, const std::string& extra = "") {
  std::vector<std::string> filters = {"dev.ignite.session=" + e.session_id()};
  if (!extra.empty()) filters.push_back(extra);
  return client().containers_list(filters, true);
}

bool exists(const std::string& id) {
  try {
    client().container_inspect(id);
    return true;
  } catch (const Ignite::Error& e) {
    if (e.code() == Ignite::ErrorCode::NotFound) return false;
    throw;
  }
}

struct Scratch {
  TempDir dir;
  Scratch(const std::string& runtime, const std::string& entry, const std::string& code,
          const std::string& extra_yaml = "", const std::string& policy = "",
          const std::string& name = "pool-scratch", int memory_mb = 128) {
    write_file(dir.path() / "service.yaml",
               "service:\n  name: " + name + "\n  runtime: " + runtime + "\n  entry: " + entry +
                   "\n  memoryMb: " + std::to_string(memory_mb) + "\n  timeoutMs: 10000\n" +
                   extra_yaml);
    write_file(dir.path() / entry, code);
    if (!policy.empty()) write_file(dir.path() / "ignite.policy.yaml", policy);
  }
  Ignite::Service load(Ignite::Engine& e) const { return e.load(dir.path()); }
};


class WarmPerRuntime : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST_P(WarmPerRuntime, HelloRunsOnAPooledContainerUsedOnce) {
  Ignite::Engine e(pool_options(2));
  const auto svc = e.load(example_service(GetParam()));
  ASSERT_EQ(e.prewarm(svc), 2u);
  std::vector<std::string> ids;
  for (int i = 0; i < 2; ++i) {
    const auto r = e.execute(svc, {.input = R"({"name":"Pool"})"});
    EXPECT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
    EXPECT_EQ(r.container_start, ContainerStart::Warm);
    EXPECT_EQ(r.container_job, 1u);
    EXPECT_THAT(r.stdout_text, HasSubstr("Hello, Pool!\n"));
    // The runner's ready line and the supervisor's records never reach the output.
    EXPECT_EQ(r.stderr_text, "");
    EXPECT_EQ(r.stdout_text.find('\x1e'), std::string::npos);
    EXPECT_EQ(r.phases.create.count(), 0);
    ids.push_back(r.container_id);
  }
  EXPECT_NE(ids[0], ids[1]);
  e.flush();
  for (const auto& id : ids) EXPECT_FALSE(exists(id)) << "a pooled container served twice";
}

INSTANTIATE_TEST_SUITE_P(Runtimes, WarmPerRuntime,
                         ::testing::Values("hello-node", "hello-bun", "hello-deno", "hello-quickjs"),
                         [](const auto& info) {
                           std::string n = info.param.substr(6);
                           return n;
                         });

namespace {
struct ExitCase {
  std::string name, runtime, entry, code;
};
class ExitParity : public ::testing::TestWithParam<ExitCase> {};
}  // namespace

// The supervisor's in-band status must be what the daemon reports on the cold path.
TEST_P(ExitParity, WarmExitStatusEqualsColdPath) {
  const auto& c = GetParam();
  Scratch s(c.runtime, c.entry, c.code);
  Ignite::Engine warm(pool_options(1));
  Ignite::Engine cold;
  const auto svc = warm.load(s.dir.path());
  ASSERT_EQ(warm.prewarm(svc), 1u);
  const auto w = warm.execute(svc, {.input = "{}"});
  const auto k = cold.execute(svc, {.input = "{}"});
  ASSERT_EQ(w.container_start, ContainerStart::Warm);
  ASSERT_EQ(k.container_start, ContainerStart::Cold);
  EXPECT_EQ(w.exit_code, k.exit_code) << "warm stderr: " << w.stderr_text << "\ncold stderr: " << k.stderr_text;
  EXPECT_EQ(w.outcome, k.outcome);
  EXPECT_EQ(w.stdout_text, k.stdout_text);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ExitParity,
    ::testing::Values(
        ExitCase{"node_exit3", "node", "index.js", "console.log('a'); process.exit(3);"},
        ExitCase{"node_throw", "node", "index.js", "console.log('a'); throw new Error('boom');"},
        ExitCase{"node_exitcode", "node", "index.js", "process.exitCode = 5; setTimeout(() => console.log('late'), 50);"},
        ExitCase{"node_rejection", "node", "index.js", "Promise.reject(new Error('x'));"},
        ExitCase{"node_selfkill", "node", "index.js", "process.kill(process.pid, 'SIGKILL');"},
        ExitCase{"bun_exit3", "bun", "index.ts", "console.log('a'); process.exit(3);"},
        ExitCase{"deno_exit3", "deno", "index.ts", "console.log('a'); Deno.exit(3);"},
        ExitCase{"deno_throw", "deno", "index.ts", "console.log('a'); throw new Error('boom');"},
        ExitCase{"quickjs_exit3", "quickjs", "index.js", "print('a'); std.exit(3);"},
        ExitCase{"quickjs_throw", "quickjs", "index.js", "print('a'); throw new Error('boom');"},
        ExitCase{"quickjs_timer", "quickjs", "index.js", "os.setTimeout(() => { print('late'); std.exit(7); }, 50);"}),
    [](const auto& info) { return info.param.name; });

TEST(Pool, JobEnvironmentReachesTheServiceAndPoolSecretsDoNot) {
  Scratch s("node", "index.js", R"(
let input = '';
process.stdin.on('data', (d) => input += d).on('end', () => {
  console.log(JSON.stringify({foo: process.env.FOO, greeting: process.env.GREETING,
    env_input: process.env.IGNITE_INPUT, bytes: process.env.IGNITE_INPUT_BYTES, stdin: input,
    runner: process.env.IGNITE_RUNNER ?? null, nonce: process.env.IGNITE_SUPERVISOR_NONCE ?? null,
    node_env: process.env.NODE_ENV,
    environ: require('fs').readFileSync('/proc/self/environ', 'utf8').includes('IGNITE_SUPERVISOR_NONCE'),
    parent_environ: (() => { try { require('fs').readFileSync('/proc/' + process.ppid + '/environ'); return 'readable'; } catch (e) { return e.code; } })()}));
});
)",
            "  env:\n    GREETING: hi\n");
  Ignite::Engine e(pool_options(1));
  const auto svc = s.load(e);
  ASSERT_EQ(e.prewarm(svc), 1u);
  const auto r = e.execute(svc, {.input = R"({"n":1})", .env = {{"FOO", "bar baz"}, {"NODE_ENV", "test"}}});
  ASSERT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  ASSERT_EQ(r.container_start, ContainerStart::Warm);
  const auto j = nlohmann::json::parse(r.stdout_text);
  EXPECT_EQ(j.at("foo"), "bar baz");
  EXPECT_EQ(j.at("greeting"), "hi");
  EXPECT_EQ(j.at("env_input"), R"({"n":1})");
  EXPECT_EQ(j.at("bytes"), "7");
  EXPECT_EQ(j.at("stdin"), R"({"n":1})");
  EXPECT_EQ(j.at("node_env"), "test");
  EXPECT_TRUE(j.at("runner").is_null());
  EXPECT_TRUE(j.at("nonce").is_null());
  EXPECT_EQ(j.at("environ"), false);
  // The supervisor is not dumpable: the service cannot read the nonce from its environment.
  EXPECT_EQ(j.at("parent_environ"), "EACCES");
}

TEST(Pool, ForgedRecordsAreOrdinaryOutput) {
  // Look-alike records without the nonce stay in the output and end nothing.
  Scratch s("node", "index.js", R"(
process.stdout.write('\x1eIGNITE-EXIT 00000000000000000000000000000000 0\n');
process.stderr.write('\x1eIGNITE-EXIT fake 0\n\x1eIGNITE-READY\n');
setTimeout(() => { console.log('after'); process.exit(4); }, 100);
)");
  Ignite::Engine e(pool_options(1));
  const auto svc = s.load(e);
  ASSERT_EQ(e.prewarm(svc), 1u);
  const auto r = e.execute(svc);
  EXPECT_EQ(r.container_start, ContainerStart::Warm);
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_THAT(r.stdout_text, HasSubstr("IGNITE-EXIT 00000000000000000000000000000000 0\n"));
  EXPECT_THAT(r.stdout_text, HasSubstr("after\n"));
  EXPECT_THAT(r.stderr_text, HasSubstr("IGNITE-EXIT fake 0\n"));
}

TEST(Pool, RefillsAfterEachTake) {
  Ignite::Engine e(pool_options(2));
  const auto svc = e.load(example_service("hello-quickjs"));
  ASSERT_EQ(e.prewarm(svc), 2u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(e.execute(svc, {.input = "{}"}).container_start, ContainerStart::Warm);
    ASSERT_TRUE(eventually([&] { return e.pool_stats().ready == 2; })) << "pool did not refill";
  }
  const auto st = e.pool_stats();
  EXPECT_EQ(st.created, 5u);
  EXPECT_EQ(st.dispatched, 3u);
}

TEST(Pool, FirstExecutionOfAKeyFillsThePool) {
  Ignite::Engine e(pool_options(1));
  const auto svc = e.load(example_service("hello-quickjs"));
  const auto first = e.execute(svc, {.input = "{}"});
  EXPECT_EQ(first.outcome, Outcome::Success) << first.stderr_text;
  ASSERT_TRUE(eventually([&] { return e.pool_stats().ready == 1; }));
  EXPECT_EQ(e.execute(svc, {.input = "{}"}).container_start, ContainerStart::Warm);
}

TEST(Pool, DrainRemovesReadyContainersAndDestructorLeavesNothing) {
  std::string session;
  {
    Ignite::Engine e(pool_options(3));
    session = e.session_id();
    const auto svc = e.load(example_service("hello-quickjs"));
    ASSERT_EQ(e.prewarm(svc), 3u);
    EXPECT_EQ(containers_of(e, "dev.ignite.pool=warm").size(), 3u);
    e.drain_pool();
    e.flush();
    EXPECT_EQ(e.pool_stats().ready, 0u);
    EXPECT_TRUE(containers_of(e).empty());
    ASSERT_EQ(e.prewarm(svc), 3u);  // asked again: fills again
  }
  EXPECT_TRUE(client().containers_list({"dev.ignite.session=" + session}, true).empty());
}

TEST(Pool, IdleContainersExpireAndMemoryBudgetCapsThePool) {
  Ignite::EngineOptions o = pool_options(3);
  o.pool.idle_expiry = 1s;
  o.pool.memory_budget_mb = 140;  // two 64 MB quickjs containers fit, a third does not
  Ignite::Engine e(o);
  const auto svc = e.load(example_service("hello-quickjs"));
  EXPECT_EQ(e.prewarm(svc), 2u);
  EXPECT_EQ(e.pool_stats().ready, 2u);
  ASSERT_TRUE(eventually([&] { return e.pool_stats().ready == 0; })) << "idle containers stayed";
  EXPECT_EQ(e.pool_stats().expired, 2u);
  e.flush();
  EXPECT_TRUE(containers_of(e).empty());
}

TEST(Pool, PooledContainerKilledFromOutsideIsDiscarded) {
  Ignite::Engine e(pool_options(1));
  const auto svc = e.load(example_service("hello-quickjs"));
  ASSERT_EQ(e.prewarm(svc), 1u);
  const auto ready = containers_of(e, "dev.ignite.pool=warm");
  ASSERT_EQ(ready.size(), 1u);
  const std::string dead = ready[0].at("Id").get<std::string>();
  client().container_kill(dead, "KILL");
  // The kill is asynchronous in the daemon: wait until it reports the container exited.
  ASSERT_TRUE(eventually([&] {
    return !client().container_inspect(dead).at("State").value("Running", true);
  })) << "the killed container kept running";
  const auto r = e.execute(svc, {.input = R"({"name":"Survivor"})"});
  EXPECT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  EXPECT_THAT(r.stdout_text, HasSubstr("Hello, Survivor!"));
  EXPECT_NE(r.container_id, dead);
  EXPECT_GE(e.pool_stats().discarded, 1u);
}

TEST(Pool, TimeoutInsideThePoolKillsAndRemovesTheContainer) {
  Scratch s("quickjs", "index.js", "for (;;) {}");
  Ignite::Engine e(pool_options(1));
  const auto svc = s.load(e);
  ASSERT_EQ(e.prewarm(svc, {.timeout = 800ms}), 1u);
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = e.execute(svc, {.timeout = 800ms});
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  EXPECT_EQ(r.container_start, ContainerStart::Warm);
  EXPECT_EQ(r.outcome, Outcome::Timeout);
  EXPECT_EQ(r.exit_code, 137);
  e.flush();
  EXPECT_FALSE(exists(r.container_id));
}

TEST(Pool, MemoryAndOutputLimitsHoldInsideThePool) {
  Scratch mem("node", "index.js",
              "const a = []; for (;;) a.push(Buffer.alloc(1 << 20, 1));", "", "", "pool-mem", 64);
  Scratch flood("quickjs", "index.js", "const s = 'x'.repeat(65536); for (;;) std.out.puts(s);");
  Ignite::Engine e(pool_options(1));
  const auto m = mem.load(e);
  ASSERT_EQ(e.prewarm(m), 1u);
  const auto rm = e.execute(m);
  EXPECT_EQ(rm.container_start, ContainerStart::Warm);
  EXPECT_EQ(rm.outcome, Outcome::MemoryLimit) << rm.exit_code << " " << rm.stderr_text.substr(0, 500);
  const auto f = flood.load(e);
  ASSERT_EQ(e.prewarm(f), 1u);
  const auto rf = e.execute(f, {.output_limit = 100000});
  EXPECT_EQ(rf.container_start, ContainerStart::Warm);
  EXPECT_EQ(rf.outcome, Outcome::OutputLimit);
  EXPECT_EQ(rf.stdout_text.size(), 100000u);
  EXPECT_TRUE(rf.stdout_truncated);
}

TEST(Pool, CancelInsideThePool) {
  Scratch s("quickjs", "index.js", "for (;;) {}");
  Ignite::Engine e(pool_options(1));
  const auto svc = s.load(e);
  ASSERT_EQ(e.prewarm(svc), 1u);
  std::stop_source stop;
  // jthread: joined even when execute() throws, so a failure fails this test, not the binary.
  std::jthread canceller([&] {
    std::this_thread::sleep_for(300ms);
    stop.request_stop();
  });
  const auto r = e.execute(svc, {.stop_token = stop.get_token()});
  EXPECT_EQ(r.container_start, ContainerStart::Warm);
  EXPECT_EQ(r.outcome, Outcome::Cancelled);
}

TEST(Pool, AuditWorksInsideThePool) {
  Scratch s("node", "index.js", R"(
const net = require('net');
const sock = net.connect(80, 'example.com');
sock.on('error', () => { console.log('blocked'); });
)",
            "", "security:\n  process:\n    allowSpawn: true\n");
  Ignite::Engine e(pool_options(1));
  const auto svc = s.load(e);
  ASSERT_EQ(e.prewarm(svc, {.audit = true}), 1u);
  const auto r = e.execute(svc, {.audit = true});
  ASSERT_EQ(r.container_start, ContainerStart::Warm);
  EXPECT_EQ(r.stdout_text, "blocked\n");
  ASSERT_TRUE(r.audit.has_value());
  bool connect = false;
  for (const auto& ev : r.audit->events) {
    connect = connect || (ev.type == "network" && ev.action == "connect" && ev.target == "example.com:80");
  }
  EXPECT_TRUE(connect) << "the audit bootstrap did not report the connection";
  EXPECT_EQ(r.stderr_text.find("IGNITE-AUDIT"), std::string::npos);
}

TEST(Pool, NoSpawnPolicyRunsColdAndPrewarmSaysWhy) {
  Scratch s("quickjs", "index.js", "print('cold');", "", "security:\n  process:\n    allowSpawn: false\n");
  Ignite::Engine e(pool_options(2));
  const auto svc = s.load(e);
  try {
    e.prewarm(svc);
    FAIL() << "prewarm must refuse a service the pool cannot serve";
  } catch (const Ignite::Error& err) {
    EXPECT_EQ(err.code(), Ignite::ErrorCode::Config);
    EXPECT_THAT(err.what(), HasSubstr("allowSpawn"));
  }
  const auto r = e.execute(svc);
  EXPECT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  EXPECT_EQ(r.container_start, ContainerStart::Cold);
  EXPECT_EQ(r.stdout_text, "cold\n");
}

TEST(Pool, ColdContainersAreRemovedOffTheCriticalPathAndFlushWaits) {
  Ignite::Engine e;
  const auto svc = e.load(example_service("hello-quickjs"));
  const auto r = e.execute(svc, {.input = "{}"});
  EXPECT_EQ(r.container_start, ContainerStart::Cold);
  ASSERT_FALSE(r.container_id.empty());
  e.flush();
  EXPECT_FALSE(exists(r.container_id));
}

TEST(Pool, PrewarmEndsOnAStopRequest) {
  // Four node containers one at a time take seconds; a stop 300 ms in ends the wait at once.
  Ignite::EngineOptions o = pool_options(4);
  o.pool.refill_concurrency = 1;
  Ignite::Engine e(o);
  const auto svc = e.load(example_service("hello-node"));
  std::stop_source stop;
  std::jthread stopper([&] {
    std::this_thread::sleep_for(300ms);
    stop.request_stop();
  });
  Ignite::ExecuteOptions opt;
  opt.stop_token = stop.get_token();
  const auto t0 = std::chrono::steady_clock::now();
  try {
    e.prewarm(svc, opt);
    FAIL() << "prewarm returned despite the stop request";
  } catch (const Ignite::Error& err) {
    EXPECT_EQ(err.code(), Ignite::ErrorCode::Cancelled) << err.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms);
  e.drain_pool();
  e.flush();
  EXPECT_TRUE(eventually([&] { return containers_of(e).empty(); }));
}

TEST(Pool, KeepContainersLeavesThemStoppedUntilReleased) {
  Ignite::EngineOptions o;
  o.keep_containers = true;
  Ignite::Engine e(o);
  const auto svc = e.load(example_service("hello-quickjs"));
  const auto r = e.execute(svc, {.input = "{}"});
  ASSERT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  e.flush();
  ASSERT_TRUE(exists(r.container_id));
  // Stopped (the supervisor exits right after its completion record), logs kept.
  EXPECT_TRUE(eventually([&] {
    return !client().container_inspect(r.container_id)
                .value("State", nlohmann::json::object())
                .value("Running", true);
  }));
  EXPECT_FALSE(e.release_kept("not-a-kept-id"));
  EXPECT_TRUE(e.release_kept(r.container_id));
  EXPECT_FALSE(e.release_kept(r.container_id));  // once
  e.flush();
  EXPECT_FALSE(exists(r.container_id));
  // remove_containers() removes kept ones too.
  const auto r2 = e.execute(svc, {.input = "{}"});
  e.flush();
  ASSERT_TRUE(exists(r2.container_id));
  EXPECT_EQ(e.remove_containers(), 1u);
  EXPECT_FALSE(exists(r2.container_id));
}

TEST(Pool, PrewarmRefusesWhenThePoolIsOff) {
  Ignite::Engine e;
  const auto svc = e.load(example_service("hello-quickjs"));
  EXPECT_THROW(e.prewarm(svc), Ignite::Error);
}

// ---- reuse --------------------------------------------------------------------------------

TEST(Reuse, JobsShareAContainerButNotTmpOrProcesses) {
  Scratch s("node", "index.js", R"(
const fs = require('fs');
const before = fs.readdirSync('/tmp');
fs.writeFileSync('/tmp/mark', 'x');
const pids = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p));
const procs = pids.length;
const leftovers = pids.filter((p) => {
  try { return fs.readFileSync(`/proc/${p}/cmdline`, 'latin1').includes('setInterval'); } catch (e) { return false; }
}).length;
// A background process that would outlive the job if nothing stopped it.
require('child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'],
  {detached: true, stdio: 'ignore'}).unref();
console.log(JSON.stringify({before, procs, leftovers}));
)",
            "  reuse: 3\n");
  Ignite::Engine e(pool_options(1, 10));
  const auto svc = s.load(e);
  std::vector<Ignite::ExecutionResult> rs;
  for (int i = 0; i < 4; ++i) rs.push_back(e.execute(svc));
  for (const auto& r : rs) ASSERT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  // First job: the pool's first container (the key had none ready: it waited for it).
  EXPECT_EQ(rs[0].container_job, 1u);
  EXPECT_EQ(rs[1].container_job, 2u);
  EXPECT_EQ(rs[2].container_job, 3u);
  EXPECT_EQ(rs[1].container_start, ContainerStart::Reused);
  EXPECT_EQ(rs[0].container_id, rs[1].container_id);
  EXPECT_EQ(rs[1].container_id, rs[2].container_id);
  EXPECT_NE(rs[3].container_id, rs[2].container_id) << "reuse: 3 allows three jobs per container";
  for (const auto& r : rs) {
    const auto j = nlohmann::json::parse(r.stdout_text);
    EXPECT_TRUE(j.at("before").empty()) << "/tmp kept files of an earlier job: " << j.dump();
    // The supervisor (PID 1), this runtime and the next job's runtime, booted ahead
    // (supervisor.c, pre-boot): the previous job's background process is gone.
    EXPECT_EQ(j.at("leftovers"), 0) << j.dump();
    EXPECT_EQ(j.at("procs"), 3) << j.dump();
  }
  e.flush();
  EXPECT_FALSE(exists(rs[0].container_id)) << "a container past its reuse count must be removed";
}

// A container on its last job does not come back: its replacement is started while that job
// runs, so the job after it finds a container instead of waiting for a start.
TEST(Reuse, TheReplacementStartsDuringTheLastJob) {
  Scratch s("quickjs", "index.js", R"(
const input = JSON.parse(std.in.readAsString() || '{}');
print('job ' + input.n);
os.sleep(input.ms);
)",
            "  reuse: 2\n");
  Ignite::Engine e(pool_options(1, 10));
  const auto svc = s.load(e);
  const auto first = e.execute(svc, {.input = R"({"n":1,"ms":0})"});
  ASSERT_EQ(first.outcome, Outcome::Success) << first.stderr_text;
  ASSERT_EQ(first.container_job, 1u);
  const std::size_t created_before = e.pool_stats().created;
  // The second (and last) job of that container: while it sleeps, a second container starts.
  std::atomic<bool> replaced_meanwhile = false;
  Ignite::ExecuteOptions last;
  last.input = R"({"n":2,"ms":3000})";
  last.on_stdout = [&](std::string_view) {
    replaced_meanwhile = eventually([&] { return e.pool_stats().created > created_before; },
                                    std::chrono::milliseconds(2500));
  };
  const auto second = e.execute(svc, last);
  ASSERT_EQ(second.outcome, Outcome::Success) << second.stderr_text;
  EXPECT_EQ(second.container_id, first.container_id);
  EXPECT_EQ(second.container_job, 2u);
  EXPECT_TRUE(replaced_meanwhile) << "no container was started while the last job ran";
  const auto third = e.execute(svc, {.input = R"({"n":3,"ms":0})"});
  ASSERT_EQ(third.outcome, Outcome::Success) << third.stderr_text;
  EXPECT_NE(third.container_id, first.container_id);
  EXPECT_EQ(third.container_start, ContainerStart::Warm);
  EXPECT_EQ(third.container_job, 1u);
  // One replacement, not two: the lent count did not go negative or double-count.
  EXPECT_EQ(e.pool_stats().created, created_before + 1);
}

// With more jobs per container, the replacement starts a few jobs ahead (Pool::counts_as_lent:
// 2 of 8 here), and the old container is used up first.
TEST(Reuse, TheReplacementStartsAFewJobsAhead) {
  static_assert(Ignite::detail::Pool::replacement_lead(8) == 2);
  static_assert(Ignite::detail::Pool::replacement_lead(50) == 8);
  Scratch s("quickjs", "index.js", "print('ok');\n", "  reuse: 8\n");
  Ignite::Engine e(pool_options(1, 10));
  const auto svc = s.load(e);
  std::vector<Ignite::ExecutionResult> rs;
  std::vector<std::size_t> created;  // before each job (the first job's take started one)
  for (int i = 0; i < 9; ++i) {
    if (i == 7) {
      // After the 7th job's take, a replacement is on its way.
      ASSERT_TRUE(eventually([&] { return e.pool_stats().created > created[1]; }))
          << "no replacement after job 7 of 8";
    }
    created.push_back(e.pool_stats().created);
    rs.push_back(e.execute(svc));
    ASSERT_EQ(rs.back().outcome, Outcome::Success) << rs.back().stderr_text;
  }
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(rs[i].container_id, rs[0].container_id) << "job " << i + 1;
    EXPECT_EQ(rs[i].container_job, static_cast<std::size_t>(i + 1));
  }
  // Jobs 1-6 started nothing; the 9th runs on the replacement, started before it was needed.
  EXPECT_EQ(created[1], 1u);
  EXPECT_EQ(created[6], created[1]) << "a replacement was started before the last two jobs";
  EXPECT_NE(rs[8].container_id, rs[0].container_id);
  EXPECT_EQ(rs[8].container_start, ContainerStart::Warm);
  EXPECT_EQ(e.pool_stats().created, created[1] + 1);
}

TEST(Reuse, InputsExitCodesAndOutputStayPerJob) {
  Scratch s("quickjs", "index.js", R"(
const input = JSON.parse(std.in.readAsString() || '{}');
print('job ' + input.n + ' env ' + std.getenv('IGNITE_INPUT'));
std.err.puts('err ' + input.n + '\n');
std.exit(input.n % 4);
)",
            "  reuse: 10\n");
  Ignite::Engine e(pool_options(1, 10));
  const auto svc = s.load(e);
  std::string first_id;
  for (int n = 1; n <= 8; ++n) {
    const std::string input = R"({"n":)" + std::to_string(n) + "}";
    const auto r = e.execute(svc, {.input = input});
    EXPECT_EQ(r.exit_code, n % 4);
    EXPECT_EQ(r.stdout_text, "job " + std::to_string(n) + " env " + input + "\n");
    EXPECT_EQ(r.stderr_text, "err " + std::to_string(n) + "\n");
    if (n == 1) first_id = r.container_id;
    EXPECT_EQ(r.container_id, first_id);
    EXPECT_EQ(r.container_job, static_cast<std::size_t>(n));
  }
}

TEST(Reuse, NeverSharedAcrossServicesOrLimits) {
  Scratch a("quickjs", "index.js", "print('a');", "  reuse: 5\n", "", "reuse-a");
  Scratch b("quickjs", "index.js", "print('b');", "  reuse: 5\n", "", "reuse-b");
  Ignite::Engine e(pool_options(1, 10));
  const auto sa = a.load(e), sb = b.load(e);
  const auto ra1 = e.execute(sa), rb1 = e.execute(sb), ra2 = e.execute(sa);
  const auto ra3 = e.execute(sa, {.memory_mb = 96.0});
  EXPECT_EQ(ra1.stdout_text, "a\n");
  EXPECT_EQ(rb1.stdout_text, "b\n");
  EXPECT_EQ(ra1.container_id, ra2.container_id);
  EXPECT_NE(ra1.container_id, rb1.container_id);
  EXPECT_NE(ra3.container_id, ra1.container_id) << "other limits, other container";
}

TEST(Reuse, AJobThatTimesOutEndsItsContainer) {
  Scratch s("quickjs", "index.js", "const i = JSON.parse(std.in.readAsString()); if (i.spin) for (;;) {} print('ok');",
            "  reuse: 10\n");
  Ignite::Engine e(pool_options(1, 10));
  const auto svc = s.load(e);
  const auto ok1 = e.execute(svc, {.input = "{}"});
  const auto spin = e.execute(svc, {.input = R"({"spin":true})", .timeout = 500ms});
  const auto ok2 = e.execute(svc, {.input = "{}"});
  EXPECT_EQ(ok1.stdout_text, "ok\n");
  EXPECT_EQ(spin.outcome, Outcome::Timeout);
  EXPECT_EQ(spin.container_id, ok1.container_id);
  EXPECT_EQ(ok2.outcome, Outcome::Success);
  EXPECT_NE(ok2.container_id, spin.container_id);
  e.flush();
  EXPECT_FALSE(exists(spin.container_id));
}

TEST(Reuse, ServiceYamlCannotTurnReuseOnOrRaiseIt) {
  // reuse is the operator's decision: a service's own `reuse: 5` gets single-use containers
  // when the Engine allows 1 job per container, and the cold path when the pool is off.
  Scratch s("quickjs", "index.js", "print('r');", "  reuse: 5\n");
  Ignite::Engine single(pool_options(1));
  const auto svc = s.load(single);
  const auto a = single.execute(svc), b = single.execute(svc);
  EXPECT_EQ(a.stdout_text, "r\n");
  EXPECT_EQ(b.container_job, 1u);
  EXPECT_NE(a.container_id, b.container_id);
  EXPECT_NE(b.container_start, ContainerStart::Reused);

  Ignite::Engine off;  // pool size 0
  EXPECT_EQ(off.execute(svc).container_start, ContainerStart::Cold);
  EXPECT_EQ(off.execute(svc).container_start, ContainerStart::Cold);

  // Allowed 10, asked for 2: two jobs per container.
  Scratch two("quickjs", "index.js", "print('r');", "  reuse: 2\n", "", "reuse-two");
  Ignite::Engine many(pool_options(1, 10));
  const auto svc2 = two.load(many);
  const auto r1 = many.execute(svc2), r2 = many.execute(svc2), r3 = many.execute(svc2);
  EXPECT_EQ(r1.container_id, r2.container_id);
  EXPECT_NE(r3.container_id, r2.container_id);
}

TEST(Reuse, AJobKilledBySignalEndsItsContainer) {
  Scratch s("node", "index.js",
            "const i = JSON.parse(require('fs').readFileSync(0, 'utf8') || '{}');"
            "if (i.crash) process.kill(process.pid, 'SIGSEGV'); console.log('ok');");
  Ignite::Engine e(pool_options(1, 10));
  const auto svc = s.load(e);
  const auto ok = e.execute(svc, {.input = "{}"});
  const auto crash = e.execute(svc, {.input = R"({"crash":true})"});
  const auto after = e.execute(svc, {.input = "{}"});
  ASSERT_EQ(ok.outcome, Outcome::Success) << ok.stderr_text;
  EXPECT_EQ(crash.exit_code, 128 + 11);
  EXPECT_EQ(crash.container_id, ok.container_id);
  EXPECT_EQ(after.outcome, Outcome::Success);
  EXPECT_NE(after.container_id, crash.container_id) << "a crashed job's container was reused";
}

// ---- load -----------------------------------------------------------------------------------

TEST(Pool, TwoHundredMixedExecutionsLeaveNothingBehind) {
  Scratch fail("quickjs", "index.js", "print('no'); std.exit(2);", "", "", "mixed-fail");
  Scratch spin("quickjs", "index.js", "for (;;) {}", "", "", "mixed-spin");
  Scratch reuse("quickjs", "index.js", "print(std.in.readAsString());", "  reuse: 7\n", "", "mixed-reuse");
  Scratch nospawn("quickjs", "index.js", "print('cold');", "",
                  "security:\n  process:\n    allowSpawn: false\n", "mixed-cold");
  std::string session;
  std::atomic<int> wrong{0};
  std::map<ContainerStart, int> starts;
  std::mutex mu;
  {
    // Every pooled service may run up to 7 jobs per container (mixed-reuse asks for exactly 7).
    Ignite::Engine e(pool_options(2, 7));
    session = e.session_id();
    const auto hello = e.load(example_service("hello-quickjs"));
    const auto sf = fail.load(e), ss = spin.load(e), sr = reuse.load(e), sn = nospawn.load(e);
    std::atomic<int> next{0};
    auto worker = [&] {
      for (int i; (i = next++) < 200;) {
        std::string why;
        Ignite::ExecutionResult r;
        switch (i % 10) {
          case 0: case 1: case 2: case 3:
            r = e.execute(hello, {.input = R"({"name":"m)" + std::to_string(i) + "\"}"});
            if (r.stdout_text.find("Hello, m" + std::to_string(i) + "!") == std::string::npos) why = "hello";
            break;
          case 4:
            r = e.execute(sf);
            if (r.exit_code != 2 || r.outcome != Outcome::Error) why = "fail";
            break;
          case 5:
            if (i % 40 == 5) {
              r = e.execute(ss, {.timeout = 300ms});
              if (r.outcome != Outcome::Timeout) why = "timeout";
            } else {
              r = e.execute(sn);
              if (r.stdout_text != "cold\n" || r.container_start != ContainerStart::Cold) why = "cold";
            }
            break;
          default:
            r = e.execute(sr, {.input = std::to_string(i)});
            if (r.stdout_text != std::to_string(i) + "\n") why = "reuse";
            break;
        }
        std::lock_guard lock(mu);
        ++starts[r.container_start];
        if (!why.empty()) {
          ++wrong;
          ADD_FAILURE() << "execution " << i << " (" << why << "): " << Ignite::to_string(r.outcome)
                        << " exit " << r.exit_code << " out=" << r.stdout_text << " err=" << r.stderr_text;
        }
      }
    };
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) threads.emplace_back(Ignite::testing::guarded(worker));
    for (auto& t : threads) t.join();
  }
  EXPECT_EQ(wrong, 0);
  // All three kinds of container were exercised.
  EXPECT_GT(starts[ContainerStart::Warm], 0);
  EXPECT_GT(starts[ContainerStart::Reused], 0);
  EXPECT_GT(starts[ContainerStart::Cold], 0);
  EXPECT_TRUE(client().containers_list({"dev.ignite.session=" + session}, true).empty())
      << "containers left after the Engine was destroyed";
}
