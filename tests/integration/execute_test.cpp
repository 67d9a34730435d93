// Engine::execute on the real Docker daemon: every runtime, input, exit codes, limits, cleanup.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "ignite/engine.hpp"
#include "ignite/error.hpp"
#include "ignite/src/docker/client.hpp"
#include "ignite/src/format_util.hpp"
#include "ignite/src/reaper.hpp"
#include "tests/test_util.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Ignite::Outcome;
using Ignite::testing::example_service;
using Ignite::testing::TempDir;
using Ignite::testing::write_file;
using ::testing::HasSubstr;

namespace {

Ignite::Engine& engine() {
  static Ignite::Engine e;
  return e;
}

// A throwaway node service whose index.js is `code`.
struct ScratchService {
  TempDir dir;
  Ignite::Service svc;
  explicit ScratchService(const std::string& code, const std::string& extra_yaml = "",
                          int memory_mb = 128, int timeout_ms = 10000,
                          const std::string& name = "scratch") {
    write_file(dir.path() / "service.yaml",
               "service:\n  name: " + name + "\n  runtime: node@20\n  entry: index.js\n  memoryMb: " +
                   std::to_string(memory_mb) + "\n  timeoutMs: " + std::to_string(timeout_ms) +
                   "\n" + extra_yaml);
    write_file(dir.path() / "index.js", code);
    svc = engine().load(dir.path());
  }
};

std::vector<nlohmann::json> our_containers() {
  Ignite::docker::DockerClient client(Ignite::docker::socket_from_env());
  return client.containers_list({"dev.ignite.session=" + engine().session_id()}, true);
}

struct RuntimeCase {
  std::string service;
  std::string runtime;  // override, or empty
  std::string expect_version_prefix;
};

class PerRuntime : public ::testing::TestWithParam<RuntimeCase> {};

}  // namespace

TEST_P(PerRuntime, HelloServiceGreetsFromInput) {
  const auto& c = GetParam();
  const auto svc = engine().load(example_service(c.service));
  Ignite::ExecuteOptions opt;
  opt.input = R"({"name":"Ignite"})";
  if (!c.runtime.empty()) opt.runtime = c.runtime;
  const auto r = engine().execute(svc, opt);
  EXPECT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.stdout_text, HasSubstr("Hello, Ignite!\n"));
  const auto last_line = r.stdout_text.substr(r.stdout_text.find('{'));
  const auto j = nlohmann::json::parse(last_line);
  EXPECT_EQ(j.at("ok"), true);
  EXPECT_EQ(j.at("name"), "Ignite");
  if (!c.expect_version_prefix.empty()) {
    EXPECT_EQ(j.at("version").get<std::string>().rfind(c.expect_version_prefix, 0), 0u)
        << j.dump();
  }
  EXPECT_EQ(r.stderr_text, "");
  EXPECT_FALSE(r.stdout_truncated);
}

INSTANTIATE_TEST_SUITE_P(
    Runtimes, PerRuntime,
    ::testing::Values(RuntimeCase{"hello-node", "node@18", "18."},
                      RuntimeCase{"hello-node", "", "20."},
                      RuntimeCase{"hello-node", "node@22", "22."},
                      RuntimeCase{"hello-node", "node@24", "24."},
                      RuntimeCase{"hello-bun", "", "1.4."},
                      RuntimeCase{"hello-deno", "", "2.9."},
                      RuntimeCase{"hello-quickjs", "", ""}),
    [](const auto& info) {
      std::string n = info.param.service + "_" + info.param.runtime;
      for (auto& ch : n) if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
      return n;
    });

TEST(Execute, NoInputMeansEmptyStdinAndDefaultName) {
  const auto r = engine().execute(engine().load(example_service("hello-node")));
  EXPECT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  EXPECT_THAT(r.stdout_text, HasSubstr("Hello, World!"));
}

TEST(Execute, LargeInputRoundTrips) {
  ScratchService s(R"(
const chunks = [];
process.stdin.on('data', c => chunks.push(c));
process.stdin.on('end', () => {
  const text = Buffer.concat(chunks).toString();
  const v = JSON.parse(text);
  console.log(JSON.stringify({len: text.length, items: v.items.length, last: v.items[v.items.length-1],
                              env: (process.env.IGNITE_INPUT || '').length,
                              bytes: process.env.IGNITE_INPUT_BYTES}));
});
)");
  nlohmann::json input;
  input["items"] = nlohmann::json::array();
  std::size_t approx = 0;
  for (int i = 0; approx < (1u << 20) + 100; ++i) {
    std::string item = "item-" + std::to_string(i) + "-padding-padding";
    approx += item.size() + 3;
    input["items"].push_back(std::move(item));
  }
  const std::string text = input.dump();
  Ignite::ExecuteOptions opt;
  opt.input = text;
  const auto r = engine().execute(s.svc, opt);
  ASSERT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  const auto j = nlohmann::json::parse(r.stdout_text);
  EXPECT_EQ(j.at("len"), text.size());
  EXPECT_EQ(j.at("items"), input["items"].size());
  EXPECT_EQ(j.at("last"), input["items"].back());
  EXPECT_EQ(j.at("env"), 0);  // too large for one environment variable
  EXPECT_EQ(j.at("bytes"), std::to_string(text.size()));
}

TEST(Execute, SmallInputAlsoInEnvironment) {
  ScratchService s("console.log(process.env.IGNITE_INPUT)");
  Ignite::ExecuteOptions opt;
  opt.input = "false";  // falsy inputs survive (the reference turned them into "")
  EXPECT_EQ(engine().execute(s.svc, opt).stdout_text, "false\n");
}

TEST(Execute, RejectsInvalidJsonInputWithoutContainer) {
  ScratchService s("");
  Ignite::ExecuteOptions opt;
  opt.input = "{not json";
  try {
    engine().execute(s.svc, opt);
    FAIL();
  } catch (const Ignite::Error& e) {
    EXPECT_EQ(e.code(), Ignite::ErrorCode::InvalidArgument);
    EXPECT_THAT(e.message(), HasSubstr("input"));
  }
}

TEST(Execute, ExitCodeAndStreamsSeparated) {
  ScratchService s("console.log('to out'); console.error('to err'); process.exit(3);");
  const auto r = engine().execute(s.svc);
  EXPECT_EQ(r.outcome, Outcome::Error);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.stdout_text, "to out\n");
  EXPECT_EQ(r.stderr_text, "to err\n");
}

TEST(Execute, ServiceExiting124IsNotATimeout) {
  ScratchService s("process.exit(124)");
  const auto r = engine().execute(s.svc);
  EXPECT_EQ(r.outcome, Outcome::Error);
  EXPECT_EQ(r.exit_code, 124);
}

TEST(Execute, EnvFromYamlAndOptions) {
  ScratchService s("console.log(process.env.A + '|' + process.env.B + '|' + process.env.NODE_ENV)",
                   "  env:\n    A: from-yaml\n    B: from-yaml\n");
  Ignite::ExecuteOptions opt;
  opt.env["B"] = "line1\nline2=x";
  const auto r = engine().execute(s.svc, opt);
  EXPECT_EQ(r.stdout_text, "from-yaml|line1\nline2=x|production\n");
}

TEST(Execute, SpinLoopKilledAtTimeout) {
  ScratchService s("process.on('SIGTERM', () => {}); for (;;) {}", "", 128, 1000);
  const auto r = engine().execute(s.svc);
  EXPECT_EQ(r.outcome, Outcome::Timeout);
  EXPECT_GE(r.phases.run, 1000ms);
  // The kill goes out at the deadline: waiting for SIGTERM's grace would take 10 s more. The
  // bound leaves room for a loaded host.
  EXPECT_LE(r.phases.run, 2500ms);
}

TEST(Execute, AllocationLoopStoppedAsMemoryLimit) {
  ScratchService s("const keep = []; for (;;) keep.push(Buffer.alloc(1 << 20, 1));", "", 64, 20000);
  const auto r = engine().execute(s.svc);
  EXPECT_EQ(r.outcome, Outcome::MemoryLimit) << r.stderr_text;
  EXPECT_TRUE(r.oom_killed);
  EXPECT_EQ(r.exit_code, 137);
}

TEST(Execute, OutputFloodCutAtCap) {
  // Blocking writes: process.stdout.write would queue inside node while a slow reader (a
  // loaded host) drains the pipe, and end as a memory-limit kill instead.
  ScratchService s("const fs = require('fs'); const line = 'x'.repeat(1023) + '\\n';"
                   "for (;;) fs.writeSync(1, line);");
  Ignite::ExecuteOptions opt;
  opt.output_limit = 64 * 1024;
  std::size_t streamed = 0;
  opt.on_stdout = [&](std::string_view d) { streamed += d.size(); };
  const auto r = engine().execute(s.svc, opt);
  EXPECT_EQ(r.outcome, Outcome::OutputLimit) << "exit " << r.exit_code << " peak " << r.memory_peak_mb.value_or(-1) << " oom " << r.oom_killed << " out " << r.stdout_text.size() << " err " << r.stderr_text.substr(0, 300) << " run " << std::chrono::duration_cast<std::chrono::milliseconds>(r.phases.run).count() << " ms";
  EXPECT_TRUE(r.stdout_truncated);
  EXPECT_EQ(r.stdout_text.size(), 64u * 1024u);
  EXPECT_GE(streamed, 64u * 1024u);
}

TEST(Execute, StderrFloodAloneIsCutAtCap) {
  ScratchService s("const fs = require('fs'); const b = 'e'.repeat(1 << 16); fs.writeSync(1, 'ok\\n');"
                   "for (;;) fs.writeSync(2, b);");
  Ignite::ExecuteOptions opt;
  opt.output_limit = 100000;
  const auto r = engine().execute(s.svc, opt);
  EXPECT_EQ(r.outcome, Outcome::OutputLimit) << "exit " << r.exit_code;
  EXPECT_TRUE(r.stderr_truncated);
  EXPECT_EQ(r.stderr_text.size(), 100000u);
  EXPECT_EQ(r.stderr_text.find_first_not_of('e'), std::string::npos);
  EXPECT_FALSE(r.stdout_truncated);
  // The daemon relays the two streams independently: the flood on stderr may end the run
  // before the stdout line arrived.
  EXPECT_THAT(r.stdout_text, ::testing::AnyOf("", "ok\n"));
}

// The CPU limit reaches the container's cgroup (quota per 100 ms period), and a CPU-bound
// service is actually throttled by it: from service.yaml and from ExecuteOptions::cpus.
TEST(Execute, CpuLimitIsEnforcedByTheCgroup) {
  ScratchService s(R"(
const fs = require('fs');
const read = (p) => { try { return fs.readFileSync(p, 'utf8').trim(); } catch { return null; } };
const quota = read('/sys/fs/cgroup/cpu.max') ||
    `${read('/sys/fs/cgroup/cpu/cpu.cfs_quota_us')} ${read('/sys/fs/cgroup/cpu/cpu.cfs_period_us')}`;
// Spin for 400 ms of CPU time (not wall time: on a loaded host the spin gets less CPU, but a
// quarter-CPU quota still throttles it in nearly every 100 ms period).
for (let u = process.cpuUsage(); u.user + u.system < 400000; u = process.cpuUsage()) {}
const stat = read('/sys/fs/cgroup/cpu.stat') || read('/sys/fs/cgroup/cpu/cpu.stat') || '';
const throttled = Number((/nr_throttled (\d+)/.exec(stat) || [])[1] || 0);
console.log(JSON.stringify({ quota, throttled }));
)",
                   "  cpuLimit: 0.25\n");
  const auto r = engine().execute(s.svc);
  ASSERT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  const auto j = nlohmann::json::parse(r.stdout_text);
  EXPECT_EQ(j.at("quota"), "25000 100000") << r.stdout_text;
  // 400 ms of CPU against a quarter of a CPU: at least 1.6 s, throttled in most periods.
  EXPECT_GE(j.at("throttled").get<int>(), 3) << r.stdout_text;

  Ignite::ExecuteOptions half_cpu;
  half_cpu.cpus = 0.5;
  const auto half = engine().execute(s.svc, half_cpu);
  ASSERT_EQ(half.outcome, Outcome::Success) << half.stderr_text;
  EXPECT_EQ(nlohmann::json::parse(half.stdout_text).at("quota"), "50000 100000");
}

TEST(Execute, RootfsIsReadOnlyAndTmpWritable) {
  ScratchService s(R"(
const fs = require('fs');
const tryWrite = p => { try { fs.writeFileSync(p, 'x'); return 'ok'; } catch (e) { return e.code; } };
console.log(JSON.stringify({root: tryWrite('/x'), app: tryWrite('/app/x'), etc: tryWrite('/etc/x'),
                            tmp: tryWrite('/tmp/x'), uid: process.getuid()}));
)");
  const auto r = engine().execute(s.svc);
  ASSERT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  const auto j = nlohmann::json::parse(r.stdout_text);
  EXPECT_EQ(j.at("root"), "EROFS");
  EXPECT_EQ(j.at("app"), "EROFS");
  EXPECT_EQ(j.at("etc"), "EROFS");
  EXPECT_EQ(j.at("tmp"), "ok");
  EXPECT_EQ(j.at("uid"), 1000);
  EXPECT_FALSE(fs::exists(s.dir.path() / "x"));
}

TEST(Execute, NoNetworkByDefault) {
  ScratchService s(R"(
const os = require('os');
console.log(JSON.stringify(Object.keys(os.networkInterfaces())));
)");
  const auto r = engine().execute(s.svc);
  ASSERT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  EXPECT_EQ(r.stdout_text, "[\"lo\"]\n");
}

TEST(Execute, CancellationKillsContainer) {
  ScratchService s("setInterval(() => {}, 1000);", "", 128, 30000);
  std::stop_source stop;
  Ignite::ExecuteOptions opt;
  opt.stop_token = stop.get_token();
  std::jthread canceller([&] {
    std::this_thread::sleep_for(700ms);
    stop.request_stop();
  });
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = engine().execute(s.svc, opt);
  EXPECT_EQ(r.outcome, Outcome::Cancelled);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
}

TEST(Execute, MissingRuntimeImageIsAClearError) {
  Ignite::Engine e;
  Ignite::Runtime rt;
  rt.name = "ghost";
  rt.versions = {{"1", "ignite-test/does-not-exist:1"}};
  rt.default_version = "1";
  rt.command = {"ghost"};
  e.register_runtime(rt);
  TempDir dir;
  write_file(dir.path() / "service.yaml",
             "service:\n  name: g\n  runtime: ghost\n  entry: index.js\n  memoryMb: 64\n  timeoutMs: 1000\n");
  write_file(dir.path() / "index.js", "");
  try {
    e.execute(e.load(dir.path()));
    FAIL();
  } catch (const Ignite::Error& err) {
    EXPECT_EQ(err.code(), Ignite::ErrorCode::Runtime);
    EXPECT_THAT(err.message(), HasSubstr("ignite-test/does-not-exist:1"));
    EXPECT_THAT(err.message(), HasSubstr("tools/bootstrap"));
  }
}

TEST(Execute, ConcurrentExecutionsAllSucceed) {
  const auto svc = engine().load(example_service("hello-quickjs"));
  std::vector<Ignite::ExecutionResult> results(4);
  {
    std::vector<std::jthread> threads;
    for (int i = 0; i < 4; ++i) {
      threads.emplace_back(Ignite::testing::guarded([&, i] {
        Ignite::ExecuteOptions opt;
        opt.input = "{\"name\":\"t" + std::to_string(i) + "\"}";
        results[i] = engine().execute(svc, opt);
      }));
    }
  }
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(results[i].outcome, Outcome::Success);
    EXPECT_THAT(results[i].stdout_text, HasSubstr("Hello, t" + std::to_string(i) + "!"));
  }
}

// Services whose per-service images this binary builds and removes at the end (the example
// services' images are shared with other test binaries running in parallel and stay cached).
std::vector<std::string>& scratch_names() {
  static std::vector<std::string> names{"scratch"};
  return names;
}

std::string unique_name(const std::string& prefix);

TEST(Execute, QuickJsModuleEntry) {
  TempDir dir;
  write_file(dir.path() / "service.yaml",
             "service:\n  name: qjs-module\n  runtime: quickjs\n  entry: main.mjs\n  memoryMb: 32\n  timeoutMs: 5000\n");
  write_file(dir.path() / "main.mjs",
             "import * as std from 'std';\nconst input = JSON.parse(std.in.readAsString());\n"
             "console.log(`module ${input.n * 2}`);\n");
  Ignite::ExecuteOptions opt;
  opt.input = R"({"n":21})";
  const auto r = engine().execute(engine().load(dir.path()), opt);
  EXPECT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  EXPECT_EQ(r.stdout_text, "module 42\n");
}

TEST(Execute, ConcurrencyIsBounded) {
  Ignite::EngineOptions eo;
  eo.max_concurrent = 1;
  Ignite::Engine single(eo);
  ScratchService s("setTimeout(() => console.log(Date.now()), 400)");
  std::vector<std::pair<std::int64_t, std::int64_t>> spans(2);
  {
    std::vector<std::jthread> threads;
    for (int i = 0; i < 2; ++i) {
      threads.emplace_back(Ignite::testing::guarded([&, i] {
        const auto r = single.execute(s.svc);
        ASSERT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
        const std::int64_t end = std::stoll(r.stdout_text);
        spans[i] = {end - std::chrono::duration_cast<std::chrono::milliseconds>(r.phases.run).count(),
                    end};
      }));
    }
  }
  // With one slot the two runs never overlap: one ends before the other starts.
  const bool disjoint = spans[0].second <= spans[1].first + 50 || spans[1].second <= spans[0].first + 50;
  EXPECT_TRUE(disjoint) << spans[0].first << "-" << spans[0].second << " vs " << spans[1].first
                        << "-" << spans[1].second;
}

TEST(Execute, FloodKeepsHostMemoryBounded) {
  auto rss_kb = [] {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    }
    return 0L;
  };
  // Blocking 64 KiB writes on both streams, as fast as the pipes take them. (process.stdout
  // would queue inside node instead and end as a memory-limit kill.)
  ScratchService s("const fs = require('fs'); const b = 'y'.repeat(1 << 16);"
                   "for (;;) { fs.writeSync(1, b); fs.writeSync(2, b); }");
  const long before = rss_kb();
  const auto r = engine().execute(s.svc);
  const long after = rss_kb();
  EXPECT_EQ(r.outcome, Outcome::OutputLimit);
  EXPECT_LE(r.stdout_text.size(), Ignite::kDefaultOutputLimit);
  EXPECT_LE(r.stderr_text.size(), Ignite::kDefaultOutputLimit);
  EXPECT_LT(after - before, 32 * 1024) << "host RSS grew by " << (after - before) << " KiB";
}

TEST(Execute, RemoveContainersCleansUpAfterAbandonedRuns) {
  // Real leftovers of this Engine's session (as a caller that abandoned runs would leave): one
  // created, one running. Owned by this live process, so no other Engine's reaper touches them.
  Ignite::Engine e;
  Ignite::docker::DockerClient client(Ignite::docker::socket_from_env());
  const auto rt = e.runtimes().resolve("quickjs");
  std::vector<std::string> ids;
  for (int i = 0; i < 2; ++i) {
    nlohmann::json labels = {{"dev.ignite.managed", "true"},
                             {"dev.ignite.session", e.session_id()},
                             {"dev.ignite.service", "leftover"}};
    for (const auto& [k, v] : Ignite::detail::owner_labels()) labels[k] = v;
    ids.push_back(client.container_create(
        {{"Image", rt.image},
         {"Cmd", {"qjs", "--std", "-e", "os.sleep(60000)"}},
         {"Labels", labels},
         {"HostConfig", {{"Memory", 32 << 20}, {"NetworkMode", "none"}}}}));
  }
  client.container_start(ids[1]);
  EXPECT_EQ(e.remove_containers(), 2u);
  for (const auto& id : ids) {
    EXPECT_THROW(client.container_inspect(id), Ignite::Error) << id << " is still there";
  }
  EXPECT_TRUE(client.containers_list({"dev.ignite.session=" + e.session_id()}, true).empty());
  EXPECT_EQ(e.remove_containers(), 0u);
}

TEST(Execute, ExtraLabelsAreOnEveryContainer) {
  Ignite::EngineOptions o;
  o.labels = {{"com.example.job", "job-" + std::to_string(::getpid())}};
  Ignite::Engine e(o);
  ScratchService s("console.log('up'); setTimeout(() => {}, 300);");
  std::size_t seen = 0;
  Ignite::ExecuteOptions opt;
  // While the service runs, its container carries the label.
  opt.on_stdout = [&](std::string_view) {
    Ignite::docker::DockerClient client(Ignite::docker::socket_from_env());
    seen = client.containers_list({"com.example.job=" + o.labels.begin()->second}, true).size();
  };
  const auto r = e.execute(s.svc, opt);
  ASSERT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  EXPECT_EQ(seen, 1u);
}

TEST(Execute, ExtraLabelsAreOnTheImagesTheEngineBuilds) {
  Ignite::EngineOptions o;
  o.labels = {{"com.example.job", "job-" + std::to_string(::getpid())}};
  Ignite::Engine e(o);
  // Baked with content of its own: this Engine builds the image, no earlier run had it.
  ScratchService s("console.log('" + Ignite::detail::random_hex(8) + "');");
  Ignite::ExecuteOptions opt;
  opt.delivery = Ignite::CodeDelivery::Baked;
  const auto r = e.execute(s.svc, opt);
  ASSERT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  ASSERT_TRUE(r.cold_start);
  Ignite::docker::DockerClient client(Ignite::docker::socket_from_env());
  const auto info = client.image_inspect(r.image);
  ASSERT_TRUE(info) << r.image;
  EXPECT_EQ(info->at("Config").at("Labels").value("com.example.job", ""),
            o.labels.begin()->second);
  client.image_remove(r.image, /*force=*/true);
}

TEST(Execute, ReservedOrMalformedLabelsAreRefused) {
  Ignite::EngineOptions o;
  o.labels = {{"dev.ignite.session", "forged"}};
  try {
    Ignite::Engine e(o);
    ADD_FAILURE() << "a dev.ignite.* label was accepted";
  } catch (const Ignite::Error& err) {
    EXPECT_EQ(err.code(), Ignite::ErrorCode::Config);
    EXPECT_THAT(err.message(), HasSubstr("dev.ignite.session"));
  }
  const char* saved = std::getenv("IGNITE_LABELS");
  const std::string keep = saved ? saved : "";
  ::setenv("IGNITE_LABELS", "no-equals-sign", 1);
  try {
    Ignite::Engine e;
    ADD_FAILURE() << "a malformed IGNITE_LABELS was accepted";
  } catch (const Ignite::Error& err) {
    EXPECT_EQ(err.code(), Ignite::ErrorCode::Config);
    EXPECT_THAT(err.message(), HasSubstr("IGNITE_LABELS"));
  }
  if (saved) {
    ::setenv("IGNITE_LABELS", keep.c_str(), 1);
  } else {
    ::unsetenv("IGNITE_LABELS");
  }
}

std::string unique_name(const std::string& prefix) {
  static int n = 0;
  scratch_names().push_back(prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
  return scratch_names().back();
}

TEST(Images, SecondRunReusesImage) {
  ScratchService s("console.log('hi')", "", 128, 10000, unique_name("reuse"));
  std::vector<std::string> build_lines;
  Ignite::ExecuteOptions opt;
  opt.on_build_output = [&](std::string_view l) { build_lines.emplace_back(l); };
  const auto first = engine().execute(s.svc, opt);
  ASSERT_EQ(first.outcome, Outcome::Success) << first.stderr_text;
  EXPECT_TRUE(first.cold_start);
  EXPECT_GT(first.phases.build.count(), 0);
  EXPECT_FALSE(build_lines.empty());
  build_lines.clear();
  const auto second = engine().execute(s.svc, opt);
  EXPECT_FALSE(second.cold_start);
  EXPECT_EQ(second.phases.build.count(), 0);
  EXPECT_EQ(second.image, first.image);
  EXPECT_TRUE(build_lines.empty());
  // Mount delivery: editing the code needs no rebuild and the edit is what runs.
  write_file(s.dir.path() / "index.js", "console.log('edited')");
  const auto third = engine().execute(s.svc, opt);
  EXPECT_FALSE(third.cold_start);
  EXPECT_EQ(third.stdout_text, "edited\n");
  // A runtime override is a different image, never the same tag.
  opt.runtime = "node@22";
  const auto other = engine().execute(s.svc, opt);
  EXPECT_NE(other.image, first.image);
}

TEST(Images, BakedDeliveryCopiesFilesButNotSecrets) {
  ScratchService s(R"(
const fs = require('fs');
console.log(JSON.stringify({files: fs.readdirSync('/app').sort(), dep: require('leftish')()}));
)", "", 128, 10000, unique_name("baked"));
  write_file(s.dir.path() / ".env", "SECRET=1");
  write_file(s.dir.path() / ".git/config", "x");
  write_file(s.dir.path() / "skip.txt", "x");
  write_file(s.dir.path() / ".igniteignore", "skip.txt\n");
  write_file(s.dir.path() / "node_modules/leftish/index.js", "module.exports = () => 'dep-ok';");
  Ignite::ExecuteOptions opt;
  opt.delivery = Ignite::CodeDelivery::Baked;
  const auto r = engine().execute(s.svc, opt);
  ASSERT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  const auto j = nlohmann::json::parse(r.stdout_text);
  EXPECT_EQ(j.at("files"), nlohmann::json({".igniteignore", "index.js", "service.yaml"}));
  EXPECT_EQ(j.at("dep"), "dep-ok");
  EXPECT_TRUE(r.cold_start);
  // Baked: an edit is a new image.
  write_file(s.dir.path() / "index.js", "console.log('v2')");
  const auto r2 = engine().execute(s.svc, opt);
  EXPECT_TRUE(r2.cold_start);
  EXPECT_NE(r2.image, r.image);
  EXPECT_EQ(r2.stdout_text, "v2\n");
}

TEST(Images, VendoredDependenciesResolveUnderTheMount) {
  // node_modules is copied to /node_modules in the image, which the read-only /app mount
  // cannot hide (the reference's mount hid the image's dependencies).
  ScratchService s("import('esm-dep').then(m => console.log(m.default, require('cjs-dep')));",
                   "", 128, 10000, unique_name("deps"));
  write_file(s.dir.path() / "node_modules/cjs-dep/index.js", "module.exports = 'cjs-ok';");
  write_file(s.dir.path() / "node_modules/esm-dep/package.json",
             R"({"name":"esm-dep","type":"module","exports":"./index.js"})");
  write_file(s.dir.path() / "node_modules/esm-dep/index.js", "export default 'esm-ok';");
  const auto r = engine().execute(s.svc);
  ASSERT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  EXPECT_EQ(r.stdout_text, "esm-ok cjs-ok\n");
}

TEST(Preflight, ImageSizeAndHistoryFromRealRuns) {
  // The run gets all the time a loaded host needs; the timeout under test is set afterwards
  // from the recorded run itself (same directory, so the same history and image).
  ScratchService s("setTimeout(() => console.log('done'), 300)", "", 128, 20000, unique_name("pf"));
  auto before = engine().preflight(s.svc);
  for (const auto& c : before.checks) EXPECT_NE(c.name, "image-size");
  const auto r = engine().execute(s.svc);
  ASSERT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  ASSERT_TRUE(engine().last_execution(s.svc));
  const auto last = engine().last_execution(s.svc)->count();
  EXPECT_GE(last, 300);
  const auto with_timeout = [&](std::int64_t ms) {
    auto yaml = Ignite::testing::read_file(s.dir.path() / "service.yaml");
    yaml.replace(yaml.find("timeoutMs: 20000"), 16, "timeoutMs: " + std::to_string(ms));
    write_file(s.dir.path() / "service.yaml", yaml);
    return engine().preflight(engine().load(s.dir.path()));
  };
  // last run + 400 ms < last run + the 500 ms cold-start buffer: the timeout check warns.
  const auto after = with_timeout(last + 400);
  ASSERT_EQ(after.checks.size(), 4u);
  EXPECT_EQ(after.checks[3].name, "image-size");
  EXPECT_EQ(after.checks[3].status, Ignite::CheckStatus::Pass);
  EXPECT_EQ(after.checks[2].name, "timeout-config");
  EXPECT_EQ(after.checks[2].status, Ignite::CheckStatus::Warn);
  EXPECT_THAT(after.checks[2].message, HasSubstr("may be too short"));
}

TEST(Audit, PolicyDecidesNetworkAndReportsKernelFacts) {
  ScratchService s("console.log(JSON.stringify(Object.keys(require('os').networkInterfaces()).sort()))",
                   "  network: true\n");
  // service.yaml asks for a network: outside audit mode it gets one.
  EXPECT_NE(engine().execute(s.svc).stdout_text, "[\"lo\"]\n");
  Ignite::ExecuteOptions audit;
  audit.audit = true;
  // The default policy has no network, whatever service.yaml says.
  const auto r = engine().execute(s.svc, audit);
  EXPECT_EQ(r.stdout_text, "[\"lo\"]\n");
  ASSERT_TRUE(r.audit);
  EXPECT_FALSE(r.audit->policy.network_enabled);
  EXPECT_TRUE(r.audit->events.empty());
  write_file(s.dir.path() / "ignite.policy.yaml", "security:\n  network:\n    enabled: \"no\"\n");
  try {
    engine().execute(s.svc, audit);
    FAIL();
  } catch (const Ignite::Error& e) {
    EXPECT_EQ(e.code(), Ignite::ErrorCode::Config);
    EXPECT_THAT(e.message(), HasSubstr("ignite.policy.yaml: security.network.enabled must be true or false"));
  }
  ScratchService oom("const k = []; for (;;) k.push(Buffer.alloc(1 << 20, 1));", "", 48, 20000);
  const auto o = engine().execute(oom.svc, audit);
  EXPECT_EQ(o.outcome, Outcome::MemoryLimit);
  ASSERT_TRUE(o.audit);
  // Kernel facts: the OOM kill, then the exit signal it caused (137 = 128 + SIGKILL).
  ASSERT_EQ(o.audit->events.size(), 2u);
  EXPECT_EQ(o.audit->events[0].action, "oom-kill");
  EXPECT_EQ(o.audit->events[1].action, "signal");
  EXPECT_EQ(o.audit->events[1].target, "signal 9");
}

// Runs last (gtest keeps declaration order within a binary): nothing of ours may remain, and
// the per-service images the tests built are removed.
TEST(ZZCleanup, NoContainersLeftBehind) {
  engine().flush();  // removal is queued off the critical path
  EXPECT_EQ(our_containers().size(), 0u);
  Ignite::docker::DockerClient client(Ignite::docker::socket_from_env());
  for (const auto& name : scratch_names()) {
    for (const auto& img : client.images_list({"dev.ignite.service=" + name})) {
      client.image_remove(img.at("Id").get<std::string>(), true);
    }
  }
  EXPECT_TRUE(client.images_list({"dev.ignite.service=scratch"}).empty());
}
