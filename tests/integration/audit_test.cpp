// Audit mode on real containers: the per-runtime bootstraps report network, filesystem and
// process attempts through the nonce channel on stderr; the engine decides `allowed` from the
// policy, keeps the records out of stderr_text, ignores look-alike lines the service prints,
// and adds kernel facts (pids limit hits, exit signal). Without audit nothing of this runs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <tuple>

#include "ignite/engine.hpp"
#include "ignite/error.hpp"
#include "ignite/json.hpp"
#include "ignite/src/docker/client.hpp"
#include "tests/test_util.hpp"

using Ignite::Outcome;
using Ignite::SecurityEvent;
using Ignite::testing::run_command;
using Ignite::testing::runfile;
using Ignite::testing::TempDir;
using Ignite::testing::write_file;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

Ignite::Engine& engine() {
  static Ignite::Engine e;
  return e;
}

// Unique per test process, so concurrent runs never remove each other's images.
const std::string& service_name() {
  static const std::string name = "audit-test-" + std::to_string(::getpid());
  return name;
}

// After every test (parameterised ones included): nothing of ours may remain, and the
// per-service images these tests built are removed.
class Cleanup : public ::testing::Environment {
 public:
  void TearDown() override {
    engine().flush();  // removal is queued off the critical path
    Ignite::docker::DockerClient client(Ignite::docker::socket_from_env());
    EXPECT_TRUE(
        client.containers_list({"dev.ignite.session=" + engine().session_id()}, true).empty());
    for (const auto& img : client.images_list({"dev.ignite.service=" + service_name()})) {
      client.image_remove(img.at("Id").get<std::string>(), true);
    }
    EXPECT_TRUE(client.images_list({"dev.ignite.service=" + service_name()}).empty());
  }
};
[[maybe_unused]] ::testing::Environment* const kCleanup =
    ::testing::AddGlobalTestEnvironment(new Cleanup);

struct Svc {
  TempDir dir;
  Svc(const std::string& runtime, const std::string& entry, const std::string& code,
      const std::string& policy = "", int memory_mb = 192) {
    write_file(dir.path() / "service.yaml", "service:\n  name: " + service_name() +
                                                "\n  runtime: " + runtime +
                                                "\n  entry: " + entry +
                                                "\n  memoryMb: " + std::to_string(memory_mb) +
                                                "\n  timeoutMs: 15000\n");
    write_file(dir.path() / entry, code);
    if (!policy.empty()) write_file(dir.path() / "ignite.policy.yaml", policy);
  }
  Ignite::ExecutionResult run(bool audit, const std::optional<std::string>& input = std::nullopt) {
    Ignite::ExecuteOptions opt;
    opt.audit = audit;
    opt.input = input;
    return engine().execute(engine().load(dir.path()), opt);
  }
};

using Triple = std::tuple<std::string, std::string, std::string>;  // type, action, target

// The events the bootstrap reported (kernel facts are type "resource").
std::vector<SecurityEvent> reported(const Ignite::ExecutionResult& r) {
  std::vector<SecurityEvent> out;
  if (!r.audit) return out;
  for (const auto& e : r.audit->events) {
    if (e.type != "resource") out.push_back(e);
  }
  return out;
}

std::vector<Triple> triples(const std::vector<SecurityEvent>& events) {
  std::vector<Triple> out;
  for (const auto& e : events) out.emplace_back(e.type, e.action, e.target);
  return out;
}

const std::string kFake =
    "\x1eIGNITE-AUDIT fake {\"type\":\"network\",\"action\":\"connect\",\"target\":\"evil.example:1\","
    "\"time\":1767225600000,\"details\":\"forged\"}\n";
const std::string kInput = R"({"name":"audit","list":[1,2,3],"text":"line\nbreak"})";

struct RuntimeCase {
  std::string name;
  std::string runtime;
  std::string entry;
  std::string code;
  std::vector<Triple> expected;
};

// Each service: stderr text (one ordinary line, one forged audit line), writes to /app/x,
// /etc/x and /tmp/ok, a spawn, a network attempt, then echoes its stdin as {"input": ...}.
std::vector<RuntimeCase> runtime_cases() {
  const std::string fake_js = R"('\x1eIGNITE-AUDIT fake {"type":"network","action":"connect","target":"evil.example:1","time":1767225600000,"details":"forged"}\n')";
  return {
      {"node", "node@20", "index.js",
       "const fs = require('fs');\n"
       "process.stderr.write('service says hi\\n');\n"
       "process.stderr.write(" + fake_js + ");\n"
       "for (const p of ['/app/x', '/etc/x', '/tmp/ok']) { try { fs.writeFileSync(p, 'x'); } catch (e) {} }\n"
       "require('child_process').spawnSync(process.execPath, ['-e', '0']);\n"
       "fetch('http://example.com/').catch(() => {}).finally(() => {\n"
       "  let input = ''; process.stdin.setEncoding('utf8');\n"
       "  process.stdin.on('data', d => input += d).on('end', () => console.log(JSON.stringify({input})));\n"
       "});\n",
       {{"filesystem", "write", "/app/x"},
        {"filesystem", "write", "/etc/x"},
        {"process", "spawn", "/usr/local/bin/node"},
        {"network", "connect", "example.com:80"}}},
      {"node_esm_24", "node@24", "index.mjs",
       "import { writeFileSync } from 'node:fs';\n"
       "import { spawnSync } from 'node:child_process';\n"
       "process.stderr.write('service says hi\\n');\n"
       "process.stderr.write(" + fake_js + ");\n"
       "for (const p of ['/app/x', '/etc/x', '/tmp/ok']) { try { writeFileSync(p, 'x'); } catch (e) {} }\n"
       "spawnSync(process.execPath, ['-e', '0']);\n"
       "await fetch('https://example.com/').catch(() => {});\n"
       "let input = ''; process.stdin.setEncoding('utf8');\n"
       "for await (const d of process.stdin) input += d;\n"
       "console.log(JSON.stringify({input}));\n",
       {{"filesystem", "write", "/app/x"},
        {"filesystem", "write", "/etc/x"},
        {"process", "spawn", "/usr/local/bin/node"},
        {"network", "connect", "example.com:443"}}},
      {"bun", "bun", "index.ts",
       "import { writeFileSync } from 'node:fs';\n"
       "process.stderr.write('service says hi\\n');\n"
       "process.stderr.write(" + fake_js + ");\n"
       "for (const p of ['/app/x', '/etc/x', '/tmp/ok']) { try { writeFileSync(p, 'x'); } catch (e) {} }\n"
       "try { Bun.spawnSync(['/usr/local/bin/bun', '--version']); } catch (e) {}\n"
       "await fetch('http://example.com/').catch(() => {});\n"
       "console.log(JSON.stringify({input: await Bun.stdin.text()}));\n",
       {{"filesystem", "write", "/app/x"},
        {"filesystem", "write", "/etc/x"},
        {"process", "spawn", "/usr/local/bin/bun"},
        {"network", "connect", "example.com:80"}}},
      {"deno", "deno", "index.ts",
       "const enc = new TextEncoder();\n"
       "Deno.stderr.writeSync(enc.encode('service says hi\\n'));\n"
       "Deno.stderr.writeSync(enc.encode(" + fake_js + "));\n"
       "for (const p of ['/app/x', '/etc/x', '/tmp/ok']) { try { Deno.writeTextFileSync(p, 'x'); } catch (_e) { /* refused */ } }\n"
       "try { new Deno.Command('/usr/local/bin/deno', { args: ['--version'] }).outputSync(); } catch (_e) { /* refused */ }\n"
       "await fetch('http://example.com/').catch(() => {});\n"
       "console.log(JSON.stringify({ input: await new Response(Deno.stdin.readable).text() }));\n",
       {{"filesystem", "write", "/app/x"},
        {"filesystem", "write", "/etc/x"},
        {"process", "spawn", "/usr/local/bin/deno"},
        {"network", "connect", "example.com:80"}}},
      {"quickjs", "quickjs", "index.js",
       "std.err.puts('service says hi\\n');\n"
       "std.err.puts(" + fake_js + ");\n"
       "std.err.flush();\n"
       "['/app/x', '/etc/x', '/tmp/ok'].forEach(function (p) { var f = std.open(p, 'w'); if (f) f.close(); });\n"
       "try { os.exec(['/usr/local/bin/qjs', '-e', '0']); } catch (e) {}\n"
       "try { std.urlGet('http://example.com/'); } catch (e) {}\n"
       "print(JSON.stringify({input: std.in.readAsString()}));\n",
       {{"filesystem", "write", "/app/x"},
        {"filesystem", "write", "/etc/x"},
        {"process", "spawn", "/usr/local/bin/qjs"},
        {"network", "connect", "example.com:80"}}},
  };
}

class PerRuntime : public ::testing::TestWithParam<RuntimeCase> {};

bool is_iso(const std::string& t) {
  static const std::regex iso(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$)");
  return std::regex_match(t, iso);
}

}  // namespace

TEST_P(PerRuntime, ReportsAttemptsThroughTheNonceChannel) {
  const auto& c = GetParam();
  Svc s(c.runtime, c.entry, c.code);
  const auto r = s.run(true, kInput);
  ASSERT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  // The input reached the service intact, without the nonce line.
  EXPECT_EQ(nlohmann::json::parse(r.stdout_text).at("input"), kInput) << r.stdout_text;
  ASSERT_TRUE(r.audit);
  const auto events = reported(r);
  // In order of occurrence; /tmp/ok is no event; the forged line is none either.
  EXPECT_EQ(triples(events), c.expected) << nlohmann::json(*r.audit).dump(2);
  for (const auto& e : events) {
    EXPECT_FALSE(e.allowed) << e.type << " " << e.target;  // the default policy refuses all
    EXPECT_TRUE(is_iso(e.timestamp)) << e.timestamp;
    EXPECT_FALSE(e.details.empty());
  }
  for (std::size_t i = 1; i < events.size(); ++i) EXPECT_LE(events[i - 1].timestamp, events[i].timestamp);
  // stderr keeps the service's own lines, the forged one included, and no real record.
  EXPECT_EQ(r.stderr_text, "service says hi\n" + kFake);
  const auto j = nlohmann::json(*r.audit);
  EXPECT_EQ(j.at("summary").at("networkBlocked"), 1);
  EXPECT_EQ(j.at("summary").at("filesystemWrites"), 2);
  EXPECT_EQ(j.at("summary").at("filesystemBlocked"), 2);
  EXPECT_EQ(j.at("summary").at("processBlocked"), 1);
  EXPECT_EQ(j.at("summary").at("overallStatus"), "violations");
}

TEST_P(PerRuntime, WithoutAuditNoBootstrapRuns) {
  const auto& c = GetParam();
  Svc s(c.runtime, c.entry, c.code);
  const auto r = s.run(false, kInput);
  ASSERT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  EXPECT_FALSE(r.audit);
  // stdin is exactly the input: no nonce line in front of it.
  EXPECT_EQ(nlohmann::json::parse(r.stdout_text).at("input"), kInput);
  EXPECT_EQ(r.stderr_text, "service says hi\n" + kFake);
}

INSTANTIATE_TEST_SUITE_P(Runtimes, PerRuntime, ::testing::ValuesIn(runtime_cases()),
                         [](const auto& info) { return info.param.name; });

TEST(Audit, SpawnAllowedByPolicyAndAllowedCommands) {
  const char* code = R"(
const cp = require('child_process');
// A child runtime must not load the bootstrap (it would eat its stdin waiting for a nonce).
const child = cp.spawnSync(process.execPath, ['-e', 'process.stdin.pipe(process.stdout)'], {input: 'to-child'});
let missing = 'ran'; try { cp.execFileSync('/nonexistent/tool', ['x']); } catch (e) { missing = e.code; }
console.log(JSON.stringify({child: String(child.stdout), execArgv: process.execArgv, missing}));
)";
  Svc any("node", "index.js", code, "security:\n  process:\n    allowSpawn: true\n");
  const auto a = any.run(true);
  ASSERT_EQ(a.outcome, Outcome::Success) << a.stderr_text;
  const auto out = nlohmann::json::parse(a.stdout_text);
  EXPECT_EQ(out.at("child"), "to-child");
  EXPECT_EQ(out.at("execArgv"), nlohmann::json::array());
  EXPECT_EQ(out.at("missing"), "ENOENT");
  auto events = reported(a);
  ASSERT_EQ(triples(events), (std::vector<Triple>{{"process", "spawn", "/usr/local/bin/node"},
                                                  {"process", "spawn", "/nonexistent/tool"}}));
  EXPECT_TRUE(events[0].allowed);
  EXPECT_TRUE(events[1].allowed);
  EXPECT_EQ(nlohmann::json(*a.audit).at("summary").at("overallStatus"), "clean");

  Svc narrow("node", "index.js", code,
             "security:\n  process:\n    allowSpawn: true\n    allowedCommands: [node]\n");
  const auto n = narrow.run(true);
  ASSERT_EQ(n.outcome, Outcome::Success) << n.stderr_text;
  events = reported(n);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_TRUE(events[0].allowed);   // node
  EXPECT_FALSE(events[1].allowed);  // tool is not in allowedCommands
  EXPECT_EQ(nlohmann::json(*n.audit).at("summary").at("processBlocked"), 1);
}

TEST(Audit, WorkerThreadsNeitherWaitForANonceNorEatStdin) {
  Svc s("node", "index.js", R"JS(
const { Worker } = require('worker_threads');
const w = new Worker("require('worker_threads').parentPort.postMessage('worker ok')", { eval: true });
w.on('message', (m) => {
  let input = ''; process.stdin.setEncoding('utf8');
  process.stdin.on('data', d => input += d).on('end', () => console.log(JSON.stringify({m, input})));
});
)JS");
  const auto r = s.run(true, kInput);
  ASSERT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  const auto out = nlohmann::json::parse(r.stdout_text);
  EXPECT_EQ(out.at("m"), "worker ok");
  EXPECT_EQ(out.at("input"), kInput);
}

TEST(Audit, PolicyDecidesFilesystemAndNetworkVerdicts) {
  Svc s("node", "index.js", R"(
const fs = require('fs');
try { fs.mkdirSync('/var/tmp/made'); } catch (e) {}
try { fs.writeFileSync('/app/y', 'x'); } catch (e) {}
const net = require('net');
const c = net.connect(9, '127.0.0.1'); c.on('error', () => {});
require('dns').lookup('example.org', () => console.log('done'));
)",
        "security:\n  filesystem:\n    readOnly: false\n");
  const auto r = s.run(true);
  ASSERT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  const auto events = reported(r);
  ASSERT_EQ(triples(events), (std::vector<Triple>{{"filesystem", "mkdir", "/var/tmp/made"},
                                                  {"filesystem", "write", "/app/y"},
                                                  {"network", "connect", "127.0.0.1:9"},
                                                  {"network", "dns", "example.org"}}))
      << nlohmann::json(*r.audit).dump(2);
  EXPECT_TRUE(events[0].allowed);   // readOnly: false
  EXPECT_FALSE(events[1].allowed);  // /app is a read-only mount whatever the policy says
  EXPECT_TRUE(events[2].allowed);   // loopback stays in the container
  EXPECT_FALSE(events[3].allowed);  // no network
}

TEST(Audit, RecordAfterPartialServiceLineKeepsBothIntact) {
  Svc s("node", "index.js",
        "process.stderr.write('abc');\n"
        "try { require('fs').writeFileSync('/etc/partial', 'x'); } catch (e) {}\n"
        "process.stderr.write('def\\n');\n"
        "process.stderr.write('\\x1eIGNITE-AUDIT');\n");  // a marker prefix at the very end
  const auto r = s.run(true);
  ASSERT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  EXPECT_EQ(r.stderr_text, "abcdef\n\x1eIGNITE-AUDIT");
  EXPECT_EQ(triples(reported(r)), (std::vector<Triple>{{"filesystem", "write", "/etc/partial"}}));
}

TEST(Audit, LargeInputIntactBehindTheNonce) {
  std::string big = "\"";
  for (int i = 0; big.size() < 512 * 1024; ++i) big += "chunk" + std::to_string(i) + " ";
  big += "\"";
  Svc s("node", "index.js",
        "let input = ''; process.stdin.setEncoding('utf8');\n"
        "process.stdin.on('data', d => input += d).on('end', () => process.stdout.write(input));\n");
  const auto r = s.run(true, big);
  ASSERT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  EXPECT_EQ(r.stdout_text.size(), big.size());
  EXPECT_TRUE(r.stdout_text == big);
}

TEST(Audit, EventFloodIsBoundedAndOutsideTheOutputCap) {
  Svc s("node", "index.js",
        "const fs = require('fs');\n"
        "for (let i = 0; i < 1500; i++) { try { fs.writeFileSync('/etc/f' + i, 'x'); } catch (e) {} }\n"
        "console.log('done');\n",
        "security:\n  limits:\n    outputBytes: 1000\n");
  const auto r = s.run(true);
  // ~200 KB of records went over stderr: none of it counts against the 1000-byte cap.
  ASSERT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  EXPECT_EQ(r.stderr_text, "");
  EXPECT_EQ(r.stdout_text, "done\n");
  ASSERT_TRUE(r.audit);
  ASSERT_EQ(r.audit->events.size(), 1001u);
  EXPECT_EQ(r.audit->events[0].target, "/etc/f0");
  EXPECT_EQ(r.audit->events[999].target, "/etc/f999");
  const auto& note = r.audit->events[1000];
  EXPECT_EQ(note.action, "events-dropped");
  EXPECT_FALSE(note.allowed);
  EXPECT_THAT(note.details, HasSubstr("500 further events were not kept"));
  EXPECT_THAT(note.details, HasSubstr("500 of them not allowed"));
}

TEST(Audit, KernelFactsPidsLimitAndSignalAfterReportedEvents) {
  Svc s("node", "index.js", R"(
const cp = require('child_process');
const kids = [];
for (let i = 0; i < 12; i++) {
  const k = cp.spawn(process.execPath, ['-e', 'setTimeout(() => {}, 1500)']);
  k.on('error', () => {});
  kids.push(k);
}
setTimeout(() => { kids.forEach(k => k.kill('SIGKILL')); process.kill(process.pid, 'SIGTERM'); }, 1800);
)",
        "security:\n  process:\n    allowSpawn: true\n  limits:\n    pids: 40\n",
        // Room for every child the pids limit lets start (~40 MB each): at 192 MB a loaded
        // host, where more of them are alive at once, saw the OOM killer end the parent (137).
        768);
  const auto r = s.run(true);
  ASSERT_FALSE(r.oom_killed) << "the memory limit, not the test's signal, ended the service";
  EXPECT_EQ(r.exit_code, 143) << r.stderr_text;
  ASSERT_TRUE(r.audit);
  const auto& ev = r.audit->events;
  ASSERT_GE(ev.size(), 3u);
  EXPECT_EQ(ev[0].type, "process");
  // Kernel facts come last: the pids limit hits, then the exit signal.
  const auto& pids = ev[ev.size() - 2];
  EXPECT_EQ(pids.type, "resource");
  EXPECT_EQ(pids.action, "pids-limit");
  EXPECT_FALSE(pids.allowed);
  EXPECT_THAT(pids.details, HasSubstr("the pids limit (40) refused"));
  EXPECT_EQ(ev.back().action, "signal");
  EXPECT_EQ(ev.back().target, "signal 15");
  for (std::size_t i = 0; i + 2 < ev.size(); ++i) EXPECT_EQ(ev[i].type, "process");
}

TEST(Audit, RuntimeWithoutBootstrapGetsPlainStdin) {
  // qjs without --std has no std/os globals to hook: no bootstrap, so no nonce on stdin either;
  // the audit then holds kernel facts only.
  Ignite::Runtime custom;
  custom.name = "qjs-module";
  custom.versions = {{"1", "ignite-runtime/quickjs:2025-04-26"}};
  custom.default_version = "1";
  custom.command = {"qjs", "-m"};
  Ignite::Engine e;
  e.register_runtime(custom);
  Svc s("qjs-module", "index.js",
        "import * as std from 'std';\n"
        "print(JSON.stringify({input: std.in.readAsString()}));\n");
  Ignite::ExecuteOptions opt;
  opt.audit = true;
  opt.input = kInput;
  const auto r = e.execute(e.load(s.dir.path()), opt);
  ASSERT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  EXPECT_EQ(nlohmann::json::parse(r.stdout_text).at("input"), kInput);
  ASSERT_TRUE(r.audit);
  EXPECT_TRUE(r.audit->events.empty());
}

TEST(Audit, CliJsonShowsTheEvents) {
  Svc s("node", "index.js",
        "const fs = require('fs');\n"
        "try { fs.writeFileSync('/etc/cli', 'x'); } catch (e) {}\n"
        "require('child_process').spawnSync('/usr/local/bin/node', ['-v']);\n"
        "fetch('https://example.com/').catch(() => {});\n");
  const auto r = run_command(runfile("examples/cli/ignite").string() + " run '" +
                             s.dir.path().string() + "' --audit --json");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  const auto& audit = j.at("execution").at("securityAudit");
  std::vector<Triple> got;
  for (const auto& e : audit.at("events")) {
    got.emplace_back(e.at("type"), e.at("action"), e.at("target"));
    EXPECT_EQ(e.at("allowed"), false);
  }
  EXPECT_EQ(got, (std::vector<Triple>{{"filesystem", "write", "/etc/cli"},
                                      {"process", "spawn", "/usr/local/bin/node"},
                                      {"network", "connect", "example.com:443"}}));
  EXPECT_EQ(audit.at("summary").at("networkAttempts"), 1);
  EXPECT_EQ(audit.at("summary").at("processSpawns"), 1);
  EXPECT_EQ(audit.at("summary").at("overallStatus"), "violations");
  EXPECT_THAT(j.at("execution").at("stderr").get<std::string>(), Not(HasSubstr("IGNITE-AUDIT")));
}

