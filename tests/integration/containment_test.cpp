// Hostile workloads, each in a real container under runc and under gVisor (runsc): the service
// is contained, stopped within timeout + 250 ms where it must be, the outcome names the limit,
// the host process's memory stays bounded, and nothing is left behind.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "ignite/engine.hpp"
#include "ignite/error.hpp"
#include "ignite/src/docker/client.hpp"
#include "tests/test_util.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Ignite::Outcome;
using Ignite::testing::TempDir;
using Ignite::testing::write_file;
using ::testing::AnyOf;
using ::testing::HasSubstr;

namespace {

Ignite::Engine& engine() {
  static Ignite::Engine e;
  return e;
}

long rss_kb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

class Containment : public ::testing::TestWithParam<std::string> {
 protected:
  // A node service; under gVisor its policy file selects runsc (with a pids limit gVisor's own
  // threads fit in).
  Ignite::Service service(const std::string& code, int memory_mb = 128, int timeout_ms = 10000) {
    write_file(dir_.path() / "service.yaml",
               "service:\n  name: contain-" + GetParam() + "\n  runtime: node@20\n  entry: index.js\n"
               "  memoryMb: " + std::to_string(memory_mb) + "\n  timeoutMs: " +
                   std::to_string(timeout_ms) + "\n");
    write_file(dir_.path() / "index.js", code);
    std::string policy = "security:\n  process:\n    allowSpawn: true\n  limits:\n    pids: 128\n";
    if (GetParam() == "gvisor") policy += "  isolation: gvisor\n";
    write_file(dir_.path() / "ignite.policy.yaml", policy);
    return engine().load(dir_.path());
  }
  void TearDown() override {
    engine().flush();  // removal is queued off the critical path
    Ignite::docker::DockerClient client(Ignite::docker::socket_from_env());
    EXPECT_TRUE(client.containers_list({"dev.ignite.session=" + engine().session_id()}, true).empty())
        << "a container was left behind";
  }
  TempDir dir_;
};

}  // namespace

TEST_P(Containment, ForkBombHitsPidsLimit) {
  const auto r = engine().execute(service(R"(
const { spawn } = require('child_process');
let n = 0, err = null;
for (;;) {
  try { const c = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], {stdio: 'ignore'});
        c.on('error', () => {}); if (!c.pid) { err = 'no pid'; break; } n++; }
  catch (e) { err = e.code; break; }
  if (n > 1000) break;
}
console.log(JSON.stringify({n, err}));
process.exit(0);
)"));
  // Under gVisor the runtime may itself die when it can no longer create threads: contained
  // either way, well before the timeout.
  ASSERT_THAT(r.outcome, AnyOf(Outcome::Success, Outcome::Error)) << r.stderr_text;
  EXPECT_LT(r.phases.run, 8s);
  if (r.outcome == Outcome::Success) {
    const auto j = nlohmann::json::parse(r.stdout_text);
    EXPECT_LT(j.at("n").get<int>(), 128);  // the pids limit, not the loop bound, stopped it
    EXPECT_FALSE(j.at("err").is_null());
  }
}

TEST_P(Containment, MemoryBombIsKilled) {
  const auto before = rss_kb();
  const auto r = engine().execute(service("const k = []; for (;;) k.push(Buffer.alloc(1 << 20, 1));", 64, 20000));
  EXPECT_EQ(r.outcome, Outcome::MemoryLimit) << r.stderr_text;
  EXPECT_LT(rss_kb() - before, 32 * 1024);
}

TEST_P(Containment, SpinIgnoringSigtermKilledAtTimeout) {
  const auto r = engine().execute(service("process.on('SIGTERM', () => {}); for (;;) {}", 128, 1500));
  EXPECT_EQ(r.outcome, Outcome::Timeout);
  EXPECT_GE(r.phases.run, 1500ms);
  // Ignite's kill went out at the deadline (SIGTERM's grace would add 10 s; the bound leaves
  // room for a loaded host) and the daemon completed it promptly.
  EXPECT_LE(r.phases.run, 2750ms);
  EXPECT_LT(r.phases.cleanup, 5s);
}

TEST_P(Containment, OutputFloodOnBothStreams) {
  const auto before = rss_kb();
  const auto r = engine().execute(service(
      "const fs = require('fs'); const b = 'f'.repeat(1 << 16);"
      "for (;;) { fs.writeSync(1, b); fs.writeSync(2, b); }"));
  EXPECT_EQ(r.outcome, Outcome::OutputLimit);
  EXPECT_TRUE(r.stdout_truncated || r.stderr_truncated);
  EXPECT_LE(r.stdout_text.size(), Ignite::kDefaultOutputLimit);
  EXPECT_LE(r.stderr_text.size(), Ignite::kDefaultOutputLimit);
  EXPECT_LT(rss_kb() - before, 32 * 1024);
}

TEST_P(Containment, NetworkIsUnreachable) {
  const auto r = engine().execute(service(R"(
const net = require('net'), dns = require('dns');
const tcp = new Promise(res => { const s = net.connect(80, '1.1.1.1'); s.on('connect', () => res('connected'));
  s.on('error', e => res(e.code)); setTimeout(() => res('timeout'), 3000); });
const name = new Promise(res => dns.lookup('example.com', e => res(e ? e.code : 'resolved')));
Promise.all([tcp, name]).then(([t, n]) => { console.log(JSON.stringify({tcp: t, dns: n})); process.exit(0); });
)"));
  ASSERT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  const auto j = nlohmann::json::parse(r.stdout_text);
  EXPECT_NE(j.at("tcp"), "connected");
  EXPECT_NE(j.at("dns"), "resolved");
}

TEST_P(Containment, WritesOutsideTmpFailAndTmpIsBounded) {
  const auto r = engine().execute(service(R"(
const fs = require('fs');
const w = p => { try { fs.writeFileSync(p, 'x'); return 'written'; } catch (e) { return e.code; } };
let fill = 'ok';
try { for (let i = 0; i < 100; i++) fs.writeFileSync('/tmp/fill' + i, Buffer.alloc(1 << 20)); } catch (e) { fill = e.code; }
console.log(JSON.stringify({root: w('/x'), app: w('/app/x'), etc: w('/etc/passwd'), fill}));
)"));
  ASSERT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  const auto j = nlohmann::json::parse(r.stdout_text);
  EXPECT_NE(j.at("root"), "written");
  EXPECT_NE(j.at("app"), "written");
  EXPECT_NE(j.at("etc"), "written");
  EXPECT_EQ(j.at("fill"), "ENOSPC");  // /tmp is a 64 MiB tmpfs
  EXPECT_FALSE(fs::exists(dir_.path() / "x"));
}

TEST_P(Containment, SymlinksDoNotReachTheHost) {
  TempDir secret_dir;
  const fs::path secret = secret_dir.path() / "host-secret.txt";
  write_file(secret, "host secret");
  const auto svc = service(R"(
const fs = require('fs');
const r = p => { try { return fs.readFileSync(p, 'utf8'); } catch (e) { return e.code; } };
console.log(JSON.stringify({abs: r('/app/to-host'), up: r('/app/up/' + process.env.SECRET_REL)}));
)");
  fs::create_symlink(secret, dir_.path() / "to-host");
  fs::create_directory_symlink("../..", dir_.path() / "up");
  Ignite::ExecuteOptions opt;
  opt.env["SECRET_REL"] = secret.relative_path().string();
  const auto r = engine().execute(svc, opt);
  ASSERT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  EXPECT_THAT(r.stdout_text, ::testing::Not(HasSubstr("host secret")));
}

TEST_P(Containment, DetachedChildDoesNotOutliveTheRun) {
  const auto r = engine().execute(service(R"(
const { spawn } = require('child_process');
const c = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], {detached: true, stdio: 'ignore'});
c.unref();
console.log('parent done');
)", 128, 20000));
  EXPECT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  EXPECT_EQ(r.stdout_text, "parent done\n");
  EXPECT_LT(r.phases.run, 5s);  // the container ended with its main process
}

TEST_P(Containment, LargeInputs) {
  const auto svc = service(R"(
let n = 0; process.stdin.on('data', c => n += c.length); process.stdin.on('end', () => console.log(n));
)", 256, 30000);
  for (const std::size_t size : {std::size_t{1} << 20, std::size_t{50} << 20}) {
    std::string input = "\"" + std::string(size - 2, 'a') + "\"";
    Ignite::ExecuteOptions opt;
    opt.input = input;
    const auto before = rss_kb();
    const auto r = engine().execute(svc, opt);
    ASSERT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
    EXPECT_EQ(r.stdout_text, std::to_string(size) + "\n");
    // The input is held once by the caller; the engine adds no copy of it.
    EXPECT_LT(rss_kb() - before, 32 * 1024);
  }
}

TEST_P(Containment, HostileEnvironmentValues) {
  const auto svc = service("console.log(JSON.stringify([process.env.A, process.env.B]))");
  Ignite::ExecuteOptions opt;
  opt.env["A"] = "x=y=z";
  opt.env["B"] = "line1\nline2";
  const auto r = engine().execute(svc, opt);
  ASSERT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  EXPECT_EQ(nlohmann::json::parse(r.stdout_text), nlohmann::json({"x=y=z", "line1\nline2"}));
  Ignite::ExecuteOptions nul;
  nul.env["C"] = std::string("a\0b", 3);
  EXPECT_THROW(engine().execute(svc, nul), Ignite::Error);
  Ignite::ExecuteOptions bad_name;
  bad_name.env["A=B"] = "x";
  EXPECT_THROW(engine().execute(svc, bad_name), Ignite::Error);
}

INSTANTIATE_TEST_SUITE_P(Isolation, Containment, ::testing::Values("runc", "gvisor"));
