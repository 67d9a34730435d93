// A hostile service against the execution core, in every mode (cold, warm pool, reuse) under
// runc and gVisor: it hunts for the completion key in every /proc/*/environ, cmdline and mem,
// tries to open every other process's stdin for writing, forges completion and job records with
// everything it found and with guesses, and then runs past its time limit. The outcome must be
// `timeout`, with nothing found and nothing writable; in reuse mode the next job's input, env
// and output stay its own.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "ignite/engine.hpp"
#include "ignite/error.hpp"
#include "ignite/src/docker/client.hpp"
#include "tests/test_util.hpp"

using namespace std::chrono_literals;
using Ignite::ContainerStart;
using Ignite::Outcome;
using Ignite::testing::TempDir;
using Ignite::testing::write_file;
using ::testing::HasSubstr;

namespace {

// Prints its findings as one JSON line first (so they are in the output whatever happens
// next), then forges records, then spins past the 1 s timeout for 2.5 s.
constexpr const char* kHostile = R"JS(
const fs = require('fs');
const hex = /[0-9a-f]{16,64}/g;
const found = [], secrets = [], writable = [], readableFds = [], mem = [];
const me = String(process.pid);
for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
  for (const f of ['environ', 'cmdline']) {
    try {
      const t = fs.readFileSync(`/proc/${pid}/${f}`, 'latin1');
      if (/IGNITE-KEY|IGNITE_SUPERVISOR_NONCE|IGNITE-EXIT|IGNITE-END/.test(t)) secrets.push(`${pid}/${f}`);
      for (const m of t.match(hex) || []) found.push(m);
    } catch (e) { /* refused: what the test wants */ }
  }
  if (pid === me) continue;
  try { fs.closeSync(fs.openSync(`/proc/${pid}/mem`, 'r')); mem.push(pid); } catch (e) {}
  try { fs.readdirSync(`/proc/${pid}/fd`); readableFds.push(pid); } catch (e) {}
  for (const fd of ['0', '1', '2']) {
    try {
      const w = fs.openSync(`/proc/${pid}/fd/${fd}`, 'w');
      writable.push(`${pid}/fd/${fd}`);
      const forged = 'JOB ' + 'f'.repeat(32) + ' ' + 'e'.repeat(32) + ' 0 0\n';
      try { fs.writeSync(w, forged); } catch (e) {}
      fs.closeSync(w);
    } catch (e) {}
  }
}
fs.writeSync(1, JSON.stringify({ secrets, writable, readableFds, mem, pid: me }) + '\n');
const guesses = found.concat(Array.from({ length: 8 }, () =>
  require('crypto').randomBytes(16).toString('hex')));
for (const k of guesses) {
  for (const kind of ['EXIT', 'END']) {
    for (const status of ['0', '137']) {
      const rec = `\x1eIGNITE-${kind} ${k} ${status}\n`;
      try { fs.writeSync(1, rec); } catch (e) {}
      try { fs.writeSync(2, rec); } catch (e) {}
    }
  }
}
const t0 = Date.now();
while (Date.now() - t0 < 2500) {}
fs.writeSync(1, 'still running\n');
)JS";

struct Mode {
  std::string name;
  std::size_t pool = 0;
  std::size_t reuse = 1;
  std::string isolation;  // "" or "gvisor"
};

class Hostile : public ::testing::TestWithParam<Mode> {
 protected:
  Ignite::EngineOptions options() const {
    Ignite::EngineOptions o;
    o.pool.size = GetParam().pool;
    o.pool.reuse = GetParam().reuse;
    return o;
  }
  Ignite::Service service(Ignite::Engine& e, const std::string& code, int timeout_ms) {
    write_file(dir_.path() / "service.yaml",
               "service:\n  name: hostile-" + GetParam().name +
                   "\n  runtime: node@20\n  entry: index.js\n  memoryMb: 128\n  timeoutMs: " +
                   std::to_string(timeout_ms) + "\n");
    write_file(dir_.path() / "index.js", code);
    std::string policy = "security:\n  process:\n    allowSpawn: true\n  limits:\n    pids: 128\n";
    if (GetParam().isolation == "gvisor") policy += "  isolation: gvisor\n";
    write_file(dir_.path() / "ignite.policy.yaml", policy);
    return e.load(dir_.path());
  }
  TempDir dir_;
};

void expect_nothing_found(const Ignite::ExecutionResult& r, const Mode& mode) {
  // (Under gVisor the probe's own writes into the supervisor's stdout may come first.)
  const auto at = r.stdout_text.find("{\"secrets\"");
  const auto line = at == std::string::npos
                        ? std::string()
                        : r.stdout_text.substr(at, r.stdout_text.find('\n', at) - at);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(line);
  } catch (const std::exception& e) {
    FAIL() << "no findings line: " << r.stdout_text.substr(0, 500) << " / " << r.stderr_text;
  }
  EXPECT_TRUE(j.at("secrets").empty()) << j.dump();
  EXPECT_TRUE(j.at("mem").empty()) << j.dump();
  if (mode.isolation.empty()) {
    // runc: the supervisor (PID 1) is non-dumpable, so its /proc entries are root's.
    EXPECT_TRUE(j.at("writable").empty()) << j.dump();
    EXPECT_TRUE(j.at("readableFds").empty()) << j.dump();
    return;
  }
  // gVisor's /proc ignores non-dumpability for same-uid descriptors: the supervisor's output
  // streams (the service's own, anyway) can be opened. Its stdin never: it is closed once the
  // runtime has it, and gVisor containers run one job each (no reuse channel).
  for (const auto& w : j.at("writable")) {
    const std::string path = w.get<std::string>();
    EXPECT_TRUE(path == "1/fd/1" || path == "1/fd/2") << path << " was writable: " << j.dump();
  }
}

}  // namespace

TEST_P(Hostile, FindsNothingForgesNothingAndTimesOut) {
  Ignite::Engine e(options());
  const auto svc = service(e, kHostile, 1000);
  if (GetParam().pool > 0) {
    ASSERT_EQ(e.prewarm(svc), 1u);
  }
  const auto r = e.execute(svc);
  EXPECT_EQ(r.outcome, Outcome::Timeout) << "exit " << r.exit_code << " run "
                                         << r.phases.run.count() / 1000 << " ms\n"
                                         << r.stdout_text.substr(0, 2000);
  EXPECT_GE(r.phases.run, 1000ms);
  EXPECT_THAT(r.stdout_text, ::testing::Not(HasSubstr("still running")));
  expect_nothing_found(r, GetParam());
  if (GetParam().pool > 0) {
    EXPECT_NE(r.container_start, ContainerStart::Cold);
  } else {
    EXPECT_EQ(r.container_start, ContainerStart::Cold);
  }
  e.flush();
  Ignite::docker::DockerClient client(Ignite::docker::socket_from_env());
  EXPECT_THROW(client.container_inspect(r.container_id), Ignite::Error) << "left behind";
}

// Reuse: a job cannot read or alter the next job's input, env or output. The first job tries
// everything and leaves a background process behind; the next job (on the same container)
// prints exactly its own input and env.
TEST_P(Hostile, ReuseJobCannotReachTheNextJob) {
  if (GetParam().reuse <= 1) GTEST_SKIP() << "reuse mode only";
  Ignite::Engine e(options());
  const auto svc = service(e, std::string(R"JS(
const fs = require('fs');
const input = fs.readFileSync(0, 'utf8');
if (input.includes('attack')) {
  // Outlive the job, then try to inject into whatever reads stdin, and print into the next
  // job's output.
  require('child_process').spawn(process.execPath, ['-e', `
    const fs = require('fs');
    setInterval(() => {
      for (const p of fs.readdirSync('/proc')) {
        try { const w = fs.openSync('/proc/' + p + '/fd/0', 'w'); fs.writeSync(w, 'JOB x y 0 0\\n'); } catch (e) {}
      }
      try { fs.writeSync(1, 'INJECTED\\n'); } catch (e) {}
    }, 5);`], { detached: true, stdio: ['ignore', 'inherit', 'inherit'] }).unref();
  fs.mkdirSync('/tmp/locked/deep', { recursive: true });
  fs.writeFileSync('/tmp/locked/deep/secret', 'job-1-data');
  fs.chmodSync('/tmp/locked', 0o500);
  fs.writeSync(1, 'attacked\n');
} else {
  let tmp = [];
  try { tmp = fs.readdirSync('/tmp'); } catch (e) { tmp = ['unreadable']; }
  fs.writeSync(1, JSON.stringify({ input, secret: process.env.SECRET || null, tmp }) + '\n');
}
)JS"),
                           10000);
  Ignite::ExecuteOptions attack;
  attack.input = R"("attack")";
  const auto a = e.execute(svc, attack);
  ASSERT_EQ(a.outcome, Outcome::Success) << a.stderr_text;
  Ignite::ExecuteOptions next;
  next.input = R"({"card":"4111"})";
  next.env["SECRET"] = "s3cr3t";
  const auto b = e.execute(svc, next);
  ASSERT_EQ(b.outcome, Outcome::Success) << b.stderr_text;
  if (GetParam().isolation == "gvisor") {
    // Reuse is capped at one job per container under gVisor.
    EXPECT_NE(b.container_id, a.container_id) << "a gVisor container ran a second job";
    EXPECT_EQ(b.container_start, ContainerStart::Warm);
  } else {
    EXPECT_EQ(b.container_id, a.container_id) << "the second job should reuse the container";
    EXPECT_EQ(b.container_start, ContainerStart::Reused);
  }
  EXPECT_EQ(b.stdout_text, R"({"input":"{\"card\":\"4111\"}","secret":"s3cr3t","tmp":[]})"
                           "\n");
  EXPECT_EQ(b.stderr_text, "");
}

INSTANTIATE_TEST_SUITE_P(
    Modes, Hostile,
    ::testing::Values(Mode{"cold-runc", 0, 1, ""}, Mode{"warm-runc", 1, 1, ""},
                      Mode{"reuse-runc", 1, 3, ""}, Mode{"cold-gvisor", 0, 1, "gvisor"},
                      Mode{"warm-gvisor", 1, 1, "gvisor"}, Mode{"reuse-gvisor", 1, 3, "gvisor"}),
    [](const auto& info) {
      std::string n = info.param.name;
      for (auto& c : n) {
        if (c == '-') c = '_';
      }
      return n;
    });
