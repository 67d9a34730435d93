// Reuse mode with pre-boot (supervisor.c): the next job's runtime boots while a job runs, in
// the same container, as the same uid. A hostile job must not reach it: no ptrace, no
// /proc/<pid>/{mem,fd,environ}, no Node.js inspector through SIGUSR1; SIGKILL or SIGSTOP of it
// only makes the next job boot fresh. Jobs still get their own env and input, and a job that
// uses most of its memory limit succeeds as it does cold (the pre-boot is the OOM killer's
// first choice).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>

#include "ignite/engine.hpp"
#include "tests/test_util.hpp"

using Ignite::ContainerStart;
using Ignite::Outcome;
using Ignite::testing::TempDir;
using Ignite::testing::write_file;
using ::testing::HasSubstr;

namespace {

Ignite::EngineOptions reuse_options() {
  Ignite::EngineOptions o;
  o.pool.size = 1;
  o.pool.reuse = 20;
  return o;
}

struct PrebootService {
  TempDir dir;
  PrebootService(const std::string& runtime, const std::string& entry, const std::string& code,
                 int memory_mb = 128) {
    write_file(dir.path() / "service.yaml",
               "service:\n  name: preboot-" + runtime.substr(0, runtime.find('@')) +
                   "\n  runtime: " + runtime + "\n  entry: " + entry +
                   "\n  memoryMb: " + std::to_string(memory_mb) + "\n  timeoutMs: 20000\n");
    write_file(dir.path() / entry, code);
  }
  Ignite::Service load(Ignite::Engine& e) const { return e.load(dir.path()); }
};

// What a job prints when it is not attacking: its input, its env, and anything of the
// pre-boot's machinery that leaked into its environment.
constexpr const char* kReport = R"JS(
function report(input) {
  const leaked = Object.keys(process.env).filter((k) =>
    /^(IGNITE_SAVED_|IGNITE_RESTORE|IGNITE_PREBOOT|IGNITE_RUNNER|LD_PRELOAD|LD_AUDIT|DENO_EMIT)/.test(k));
  require('fs').writeSync(1, JSON.stringify({ input, secret: process.env.SECRET || null,
    home: process.env.HOME, leaked }) + '\n');
}
)JS";

std::string expected_report(const std::string& input, const std::string& secret) {
  return nlohmann::ordered_json{{"input", input},
                                {"secret", secret},
                                {"home", "/tmp"},
                                {"leaked", nlohmann::json::array()}}
             .dump() +
         "\n";
}

Ignite::ExecuteOptions input_only(const std::string& input) {
  Ignite::ExecuteOptions o;
  o.input = input;
  return o;
}

Ignite::ExecuteOptions job(const std::string& input, const std::string& secret) {
  Ignite::ExecuteOptions o;
  o.input = input;
  o.env["SECRET"] = secret;
  return o;
}

}  // namespace

// The job before probes every other process of the container with ptrace, process_vm_readv,
// /proc/<pid>/mem, /proc/<pid>/fd/0, /proc/<pid>/fd and /proc/<pid>/environ: the pre-booted
// runtime refuses all of it, while a process the job started itself (the control) allows it.
TEST(Preboot, TheNextRuntimeIsOutOfReachOfTheJobBefore) {
  PrebootService s("node@20", "index.js", std::string(kReport) + R"JS(
const fs = require('fs'), cp = require('child_process');
const input = fs.readFileSync(0, 'utf8');
if (input.includes('attack')) {
  const pids = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p) && p !== '1' && p !== String(process.pid));
  const cmdlines = pids.map((p) => fs.readFileSync(`/proc/${p}/cmdline`, 'latin1').split('\0').join(' '));
  const control = cp.spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
  const probe = cp.execFileSync('/app/ptrace_probe', [...pids, String(control.pid)], { encoding: 'utf8' });
  control.kill('SIGKILL');
  const oom = (p) => fs.readFileSync(`/proc/${p}/oom_score_adj`, 'latin1').trim();
  fs.writeSync(1, JSON.stringify({ pids, cmdlines, control: String(control.pid), probe,
    oom: { next: oom(pids[0]), self: oom('self') } }) + '\n');
} else {
  report(input);
}
)JS");
  const auto probe = Ignite::testing::runfile("tests/integration/ptrace_probe");
  std::filesystem::copy_file(probe, s.dir.path() / "ptrace_probe");
  std::filesystem::permissions(
      s.dir.path() / "ptrace_probe",
      std::filesystem::perms::owner_all | std::filesystem::perms::group_read |
          std::filesystem::perms::group_exec | std::filesystem::perms::others_read |
          std::filesystem::perms::others_exec);
  Ignite::Engine e(reuse_options());
  const auto svc = s.load(e);
  const auto a = e.execute(svc, job(R"("attack")", "a"));
  ASSERT_EQ(a.outcome, Outcome::Success) << a.stderr_text;
  const auto found = nlohmann::json::parse(a.stdout_text);
  // Exactly one other process: the next job's runtime, booted with the runner.
  ASSERT_EQ(found.at("pids").size(), 1u) << found.dump();
  EXPECT_THAT(found.at("cmdlines").at(0).get<std::string>(), HasSubstr("runner-node.cjs"));
  const std::string pre = found.at("pids").at(0), control = found.at("control");
  // The OOM killer's first choice is the pre-boot, not the job (whose runtime was one).
  EXPECT_EQ(found.at("oom").at("next"), "1000") << found.dump();
  EXPECT_EQ(found.at("oom").at("self"), "0") << found.dump();
  std::map<std::string, std::map<std::string, std::string>> results;
  const std::regex field(R"((\w+)=(\w+))");
  std::istringstream lines(found.at("probe").get<std::string>());
  for (std::string line; std::getline(lines, line);) {
    const std::string pid = line.substr(0, line.find(' '));
    for (std::sregex_iterator it(line.begin(), line.end(), field), end; it != end; ++it) {
      results[pid][(*it)[1]] = (*it)[2];
    }
  }
  ASSERT_EQ(results[control].size(), 6u) << found.dump();
  ASSERT_EQ(results[pre].size(), 6u) << found.dump();
  for (const auto& [way, r] : results[control]) {
    EXPECT_EQ(r, "ok") << "the control refused " << way << ": the probe proves nothing\n"
                       << found.dump();
  }
  for (const auto& [way, r] : results[pre]) {
    EXPECT_NE(r, "ok") << "the job before reached the pre-booted runtime by " << way << "\n"
                       << found.dump();
  }
  // The next job runs in that runtime and sees only its own input and env.
  const auto b = e.execute(svc, job(R"({"card":"4111"})", "s3cr3t"));
  ASSERT_EQ(b.outcome, Outcome::Success) << b.stderr_text;
  EXPECT_EQ(b.container_id, a.container_id);
  EXPECT_EQ(b.container_start, ContainerStart::Reused);
  EXPECT_EQ(b.stdout_text, expected_report(R"({"card":"4111"})", "s3cr3t"));
  EXPECT_EQ(b.stderr_text, "");
}

// SIGUSR1 would start Node.js's inspector on 127.0.0.1:9229, from where the job before could
// drive the next job's runtime: the supervisor holds the port, so the inspector cannot start.
// SIGKILL and SIGSTOP only make the next job boot its runtime fresh (or continue it): every job
// succeeds, in the same container.
TEST(Preboot, SignalsToTheNextRuntimeOnlyMakeItBootFresh) {
  PrebootService s("node@20", "index.js", std::string(kReport) + R"JS(
const fs = require('fs'), net = require('net');
const input = fs.readFileSync(0, 'utf8');
const act = JSON.parse(input).act;
const others = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p) && p !== '1' && p !== String(process.pid)).map(Number);
const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
if (act === 'usr1') {
  sleep(2000);  // the next runtime has booted (its inspector's SIGUSR1 handler is installed)
  const sig = others.map((p) => fs.readFileSync(`/proc/${p}/status`, 'utf8').split('\n').filter((l) => /^Sig|^State|^Threads/.test(l)).join(' '));
  for (const p of others) process.kill(p, 'SIGUSR1');
  sleep(1000);
  const alive = others.filter((p) => { try { process.kill(p, 0); return true; } catch (e) { return false; } });
  let got = '';
  const s = net.connect(9229, '127.0.0.1', () => s.write('GET /json/list HTTP/1.0\r\n\r\n'));
  s.on('data', (d) => { got += d; });
  s.on('error', (e) => { got += 'error ' + e.code; });
  setTimeout(() => {
    s.destroy();
    fs.writeSync(1, JSON.stringify({ others: others.length, alive: alive.length, got, sig }) + '\n');
  }, 1000);
} else {
  if (act === 'kill') for (const p of others) process.kill(p, 'SIGKILL');
  if (act === 'stop') for (const p of others) process.kill(p, 'SIGSTOP');
  report(input);
}
)JS");
  Ignite::Engine e(reuse_options());
  const auto svc = s.load(e);
  const auto a = e.execute(svc, job(R"({"act":"usr1"})", "a"));
  ASSERT_EQ(a.outcome, Outcome::Success) << a.stderr_text;
  const auto usr1 = nlohmann::json::parse(a.stdout_text);
  EXPECT_EQ(usr1.at("others"), 1) << usr1.dump();
  EXPECT_EQ(usr1.at("alive"), 1)
      << usr1.dump()
      << "SIGUSR1 killed the pre-boot: its handler was not installed yet, the test proves nothing";
  EXPECT_EQ(usr1.at("got"), "") << "an inspector answered on 127.0.0.1:9229";

  const auto b = e.execute(svc, job(R"({"act":"none"})", "b"));
  ASSERT_EQ(b.outcome, Outcome::Success) << b.stderr_text;
  EXPECT_EQ(b.stdout_text, expected_report(R"({"act":"none"})", "b"));
  // The signalled runtime ran this job: its inspector tried to start and found the port taken.
  EXPECT_THAT(b.stderr_text, HasSubstr("address already in use"));

  const auto c = e.execute(svc, job(R"({"act":"kill"})", "c"));
  const auto d = e.execute(svc, job(R"({"act":"stop"})", "d"));
  const auto f = e.execute(svc, job(R"({"act":"none"})", "f"));
  for (const auto* r : {&c, &d, &f}) {
    ASSERT_EQ(r->outcome, Outcome::Success)
        << "job " << r->container_job << " exit " << r->exit_code << "\n" << r->stdout_text
        << r->stderr_text;
    EXPECT_EQ(r->container_id, a.container_id);
    EXPECT_EQ(r->container_start, ContainerStart::Reused);
  }
  EXPECT_EQ(d.stdout_text, expected_report(R"({"act":"stop"})", "d"));
  EXPECT_EQ(f.stdout_text, expected_report(R"({"act":"none"})", "f"));
}

// A job that uses most of memoryMb succeeds as it does cold: the pre-booted runtime goes to the
// OOM killer instead of the job (its oom_score_adj is 1000 until it gets its own job, then 0;
// checked above), and the next job boots fresh. The heavy job fills its own memory up to 3 MiB
// below the container's limit: that fits alone (cold), not next to a pre-booted Node.js
// (~6 MiB of its own). A job's reported memory peak leaves the pre-boot out (roughly).
TEST(Preboot, AJobNearItsMemoryLimitSucceedsAsItDoesCold) {
  PrebootService s("node@20", "index.js", R"JS(
const fs = require('fs');
// Other processes, not counting the dead ones the supervisor has not reaped yet.
const others = () => fs.readdirSync('/proc').filter((p) => {
  if (!/^\d+$/.test(p) || p === '1' || p === String(process.pid)) return false;
  try { return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${p}/stat`, 'latin1')); } catch (e) { return false; }
}).length;
const limit = (() => {
  for (const f of ['/sys/fs/cgroup/memory/memory.limit_in_bytes', '/sys/fs/cgroup/memory.max']) {
    try { return Number(fs.readFileSync(f, 'utf8')); } catch (e) {}
  }
  return 0;
})();
// All it maps (its runtime's code too: those pages may be charged to this container).
const rss = () => Number(fs.readFileSync('/proc/self/status', 'utf8').match(/VmRSS:\s+(\d+)/)[1]) * 1024;
const input = JSON.parse(fs.readFileSync(0, 'utf8'));
const before = others();
const held = [];
if (input.heavy) {
  while (rss() < limit - 4.5 * 1048576) held.push(Buffer.alloc(1048576, 1));
} else {
  held.push(Buffer.alloc(1048576, 1));
}
console.log(JSON.stringify({ heavy: !!input.heavy, near: input.heavy ? limit - rss() < 5.5 * 1048576 : true, before, after: others() }));
)JS");
  const std::string heavy = R"({"heavy":true})", light = R"({"heavy":false})";
  Ignite::Engine cold;
  const auto cold_svc = s.load(cold);
  const auto cold_heavy = cold.execute(cold_svc, input_only(heavy));
  const auto cold_light = cold.execute(cold_svc, input_only(light));
  ASSERT_EQ(cold_heavy.outcome, Outcome::Success) << cold_heavy.stderr_text;
  EXPECT_EQ(cold_heavy.stdout_text, R"({"heavy":true,"near":true,"before":0,"after":0})" "\n");
  ASSERT_EQ(cold_light.outcome, Outcome::Success) << cold_light.stderr_text;

  Ignite::Engine e(reuse_options());
  const auto svc = s.load(e);
  const auto first = e.execute(svc, input_only(light));
  const auto second = e.execute(svc, input_only(light));
  const auto big = e.execute(svc, input_only(heavy));
  const auto after = e.execute(svc, input_only(light));
  for (const auto* r : {&first, &second, &big, &after}) {
    ASSERT_EQ(r->outcome, Outcome::Success)
        << "exit " << r->exit_code << " peak " << r->memory_peak_mb.value_or(-1) << "\n"
        << r->stdout_text << r->stderr_text;
    EXPECT_EQ(r->container_id, first.container_id);
  }
  // The pre-boot was there when the job started; the OOM killer took it if the job needed its
  // memory (whether it did depends on which cgroup the runtime's code pages are charged to).
  EXPECT_THAT(big.stdout_text,
              ::testing::AnyOf(R"({"heavy":true,"near":true,"before":1,"after":0})" "\n",
                               R"({"heavy":true,"near":true,"before":1,"after":1})" "\n"));
  EXPECT_EQ(after.stdout_text, R"({"heavy":false,"near":true,"before":1,"after":1})" "\n");
  ASSERT_TRUE(second.memory_peak_mb && cold_light.memory_peak_mb);
  const std::string peaks = "cold " + std::to_string(*cold_light.memory_peak_mb) + " " +
                            std::to_string(cold_heavy.memory_peak_mb.value_or(-1)) + ", reuse " +
                            std::to_string(*second.memory_peak_mb) + " " +
                            std::to_string(big.memory_peak_mb.value_or(-1));
  // The pre-boot's memory at the end of the job is taken out; what it held only while booting
  // is not (a few MiB): the light job stays near the cold one, below two runtimes' worth.
  EXPECT_LT(*second.memory_peak_mb, *cold_light.memory_peak_mb + 6.0) << peaks;
  EXPECT_GT(*second.memory_peak_mb, 1.0) << peaks;
}

// Deno boots ahead too, with HOME and DENO_DIR (paths under /tmp, which the job before may
// write) moved aside during the boot: each job sees its own input and env, and the container's
// HOME.
TEST(Preboot, DenoJobsGetTheirOwnInputAndEnv) {
  PrebootService s("deno", "index.ts", R"TS(
const input = new TextDecoder().decode(await new Response(Deno.stdin.readable).arrayBuffer());
const leaked = Object.keys(Deno.env.toObject()).filter((k) =>
  /^(IGNITE_SAVED_|IGNITE_RESTORE|IGNITE_PREBOOT|IGNITE_RUNNER|LD_PRELOAD|LD_AUDIT|DENO_EMIT)/.test(k));
console.log(JSON.stringify({ input, secret: Deno.env.get('SECRET') ?? null,
  home: Deno.env.get('HOME'), leaked }));
)TS");
  Ignite::Engine e(reuse_options());
  const auto svc = s.load(e);
  std::string first_id;
  for (int n = 1; n <= 4; ++n) {
    const std::string input = R"({"n":)" + std::to_string(n) + "}";
    const auto r = e.execute(svc, job(input, "secret-" + std::to_string(n)));
    ASSERT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
    EXPECT_EQ(r.stdout_text, expected_report(input, "secret-" + std::to_string(n)));
    EXPECT_EQ(r.stderr_text, "");
    if (n == 1) first_id = r.container_id;
    EXPECT_EQ(r.container_id, first_id);
  }
}
