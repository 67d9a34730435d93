// once --early (supervisor.c): a cold container's runtime starts before the job arrives and gets
// the job through a pipe the supervisor fills after reading the key. The job arrives whole and
// exactly, a runtime that never reads it (or exits first) still ends the execution at once, the
// key never reaches the runtime however early it looks, and the engine asks for it only where
// it is safe (not under gVisor, a CPU-time limit or audit mode).
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "ignite/engine.hpp"
#include "ignite/error.hpp"
#include "tests/test_util.hpp"

using namespace std::chrono_literals;
using Ignite::Outcome;
using Ignite::testing::TempDir;
using Ignite::testing::write_file;

namespace {

class EarlyStart : public ::testing::Test {
 protected:
  static Ignite::EngineOptions options() {
    Ignite::EngineOptions o;
    o.pool.size = 0;  // every execution cold
    return o;
  }
  Ignite::Service service(const std::string& code, const std::string& extra_yaml = "",
                          const std::string& policy = "") {
    write_file(dir_.path() / "service.yaml",
               "service:\n  name: early-start\n  runtime: node@20\n  entry: index.js\n"
               "  memoryMb: 128\n  timeoutMs: 20000\n" +
                   extra_yaml);
    write_file(dir_.path() / "index.js", code);
    if (!policy.empty()) write_file(dir_.path() / "ignite.policy.yaml", policy);
    return engine_.load(dir_.path());
  }
  Ignite::ExecutionResult run(const Ignite::Service& svc, std::optional<std::string> input = {},
                              bool audit = false) {
    Ignite::ExecuteOptions opt;
    opt.input = std::move(input);
    opt.audit = audit;
    return engine_.execute(svc, opt);
  }
  TempDir dir_;
  Ignite::Engine engine_{options()};
};

// Prints the supervisor's command line (what the engine asked for), then how much of stdin it
// got and a digest of it.
constexpr const char* kReadAll = R"JS(
const fs = require('fs');
const cmd = fs.readFileSync('/proc/1/cmdline', 'latin1').split('\0').join(' ');
const chunks = [];
process.stdin.on('data', (c) => chunks.push(c));
process.stdin.on('end', () => {
  const all = Buffer.concat(chunks);
  let sum = 0x811c9dc5;  // FNV-1a, as the test computes it
  for (const b of all) sum = Math.imul(sum ^ b, 0x01000193) >>> 0;
  console.log(JSON.stringify({ cmd, bytes: all.length, sum,
                               key: all.includes('IGNITE-KEY') }));
});
)JS";

std::uint32_t fnv1a(const std::string& text) {
  std::uint32_t h = 0x811c9dc5;
  for (const unsigned char c : text) h = (h ^ c) * 0x01000193u;
  return h;
}

TEST_F(EarlyStart, AColdRuntimeStartsEarlyAndGetsTheWholeJob) {
  const Ignite::Service svc = service(kReadAll);
  // 2 MiB: many times the pipe's buffer, so the relay waits for the runtime to read.
  const std::string input = "\"" + std::string(2 << 20, 'x') + "\"";
  const auto r = run(svc, input);
  ASSERT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  const auto j = nlohmann::json::parse(r.stdout_text.substr(0, r.stdout_text.find('\n')));
  EXPECT_NE(j.at("cmd").get<std::string>().find("ignite-supervisor once --early -- "),
            std::string::npos)
      << j.dump();
  EXPECT_EQ(j.at("bytes").get<std::size_t>(), input.size());
  EXPECT_EQ(j.at("sum").get<std::uint32_t>(), fnv1a(input));
  EXPECT_FALSE(j.at("key").get<bool>());
}

TEST_F(EarlyStart, ARuntimeThatNeverReadsItsJobEndsTheExecution) {
  // It exits with 3 before reading anything of a job larger than the pipe's buffer: the
  // supervisor must not wait on the pipe for it.
  const Ignite::Service svc = service("process.exit(3);");
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = run(svc, "\"" + std::string(2 << 20, 'y') + "\"");
  EXPECT_EQ(r.outcome, Outcome::Error) << r.stderr_text;
  EXPECT_EQ(r.exit_code, 3);
  // Not a speed assertion: well under the 20 s timeout means no wait for the timeout.
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 15s);
}

TEST_F(EarlyStart, ARuntimeThatLivesOnWithoutReadingEndsByItsOwnExit) {
  // Alive, not reading, then gone: the relay notices the exit while the pipe is full.
  const Ignite::Service svc = service("setTimeout(() => { console.log('done'); }, 700);");
  const auto r = run(svc, "\"" + std::string(2 << 20, 'z') + "\"");
  ASSERT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  EXPECT_EQ(r.stdout_text, "done\n");
}

TEST_F(EarlyStart, TheKeyNeverReachesARuntimeThatLooksFromItsFirstInstant) {
  // From its first line on, for 1.5 s: the supervisor's stdin and descriptors, and its own stdin.
  const Ignite::Service svc = service(R"JS(
const fs = require('fs');
const seen = new Set(), got = [];
const t0 = Date.now();
while (Date.now() - t0 < 1500) {
  for (const p of ['/proc/1/fd/0', '/proc/1/fd/3', '/proc/1/fd/4', '/proc/1/environ', '/proc/1/mem']) {
    try { const fd = fs.openSync(p, 'r'); seen.add(p); fs.closeSync(fd); } catch (e) {}
  }
  try { const b = Buffer.alloc(65536); const n = fs.readSync(0, b, 0, b.length, null); if (n > 0) got.push(b.subarray(0, n)); } catch (e) {}
}
const all = Buffer.concat(got).toString('latin1');
console.log(JSON.stringify({ opened: [...seen], key: all.includes('IGNITE-KEY'), input: all }));
)JS");
  const auto r = run(svc, R"({"probe":1})");
  ASSERT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  const auto j = nlohmann::json::parse(r.stdout_text);
  EXPECT_TRUE(j.at("opened").empty()) << j.dump();
  EXPECT_FALSE(j.at("key").get<bool>()) << j.dump();
  EXPECT_EQ(j.at("input").get<std::string>(), R"({"probe":1})");
}

constexpr const char* kCmdline = R"JS(
console.log(require('fs').readFileSync('/proc/1/cmdline', 'latin1').split('\0').join(' '));
)JS";

TEST_F(EarlyStart, NotWithACpuTimeLimit) {
  const auto r = run(service(kCmdline, "  cpuTimeMs: 5000\n"));
  ASSERT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  EXPECT_NE(r.stdout_text.find("/app/index.js"), std::string::npos) << r.stdout_text;
  EXPECT_EQ(r.stdout_text.find("--early"), std::string::npos) << r.stdout_text;
}

TEST_F(EarlyStart, NotInAuditMode) {
  const auto r = run(service(kCmdline), std::nullopt, true);
  ASSERT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  EXPECT_NE(r.stdout_text.find("/app/index.js"), std::string::npos) << r.stdout_text;
  EXPECT_EQ(r.stdout_text.find("--early"), std::string::npos) << r.stdout_text;
}

TEST_F(EarlyStart, NotUnderGvisor) {
  const auto r = run(service(kCmdline, "",
                             "security:\n  isolation: gvisor\n  process:\n    allowSpawn: true\n  limits:\n    pids: 128\n"));
  ASSERT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  EXPECT_NE(r.stdout_text.find("/app/index.js"), std::string::npos) << r.stdout_text;
  EXPECT_EQ(r.stdout_text.find("--early"), std::string::npos) << r.stdout_text;
}

}  // namespace
