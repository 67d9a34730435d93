// Policy enforcement below the service's code: spawn refusal (seccomp), gVisor isolation,
// pids/open-files/file-size/tmpfs/output limits, and validated policy files.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/utsname.h>

#include <nlohmann/json.hpp>

#include "ignite/engine.hpp"
#include "ignite/error.hpp"
#include "ignite/policy.hpp"
#include "tests/test_util.hpp"

using Ignite::Outcome;
using Ignite::testing::TempDir;
using Ignite::testing::write_file;
using ::testing::HasSubstr;

namespace {

Ignite::Engine& engine() {
  static Ignite::Engine e;
  return e;
}

struct Svc {
  TempDir dir;
  Svc(const std::string& runtime, const std::string& entry, const std::string& code,
      const std::string& policy) {
    write_file(dir.path() / "service.yaml", "service:\n  name: policy-test\n  runtime: " + runtime +
                                                "\n  entry: " + entry +
                                                "\n  memoryMb: 128\n  timeoutMs: 10000\n");
    write_file(dir.path() / entry, code);
    if (!policy.empty()) write_file(dir.path() / "ignite.policy.yaml", policy);
  }
  Ignite::ExecutionResult run(bool audit = false) {
    Ignite::ExecuteOptions opt;
    opt.audit = audit;
    return engine().execute(engine().load(dir.path()), opt);
  }
};

const char* kNoSpawn = "security:\n  process:\n    allowSpawn: false\n";
const char* kSpawn = "security:\n  process:\n    allowSpawn: true\n";

}  // namespace

TEST(Policy, NodeSpawnRefusedByKernelWhenNotAllowed) {
  const char* code = R"(
const r = require('child_process').spawnSync(process.execPath, ['-e', 'console.log(42)']);
console.log(JSON.stringify({error: r.error ? r.error.code : null, out: String(r.stdout || '')}));
)";
  Svc blocked("node", "index.js", code, kNoSpawn);
  const auto b = blocked.run();
  ASSERT_EQ(b.outcome, Outcome::Success) << b.stderr_text;
  EXPECT_EQ(nlohmann::json::parse(b.stdout_text).at("error"), "EPERM");
  Svc allowed("node", "index.js", code, kSpawn);
  const auto a = allowed.run();
  ASSERT_EQ(a.outcome, Outcome::Success) << a.stderr_text;
  EXPECT_EQ(nlohmann::json::parse(a.stdout_text).at("out"), "42\n");
}

TEST(Policy, SpawnRefusedForEveryRuntime) {
  Svc bun("bun", "index.ts",
          "try { Bun.spawnSync(['/usr/local/bin/bun', '--version']); console.log('spawned'); }"
          " catch (e) { console.log('refused ' + e.code); }",
          kNoSpawn);
  EXPECT_EQ(bun.run().stdout_text, "refused EPERM\n");
  Svc deno("deno", "index.ts",
           "try { new Deno.Command('/usr/local/bin/deno', {args: ['--version']}).outputSync();"
           " console.log('spawned'); } catch (e) { console.log('refused'); }",
           "security:\n  process:\n    allowSpawn: false\n");
  EXPECT_EQ(deno.run().stdout_text, "refused\n");
  Svc qjs("quickjs", "index.js",
          "try { os.exec(['/usr/local/bin/qjs', '-e', '1']); print('spawned'); }"
          " catch (e) { print('refused'); }",
          kNoSpawn);
  EXPECT_EQ(qjs.run().stdout_text, "refused\n");
}

TEST(Policy, SpawnRefusalUnderGvisorIsRefusedNotFaked) {
  Svc s("node", "index.js", "console.log(1)",
        "security:\n  isolation: gvisor\n  process:\n    allowSpawn: false\n");
  try {
    s.run();
    FAIL() << "gVisor cannot enforce allowSpawn: false; the policy must be refused";
  } catch (const Ignite::Error& e) {
    EXPECT_EQ(e.code(), Ignite::ErrorCode::Config);
    EXPECT_THAT(e.message(), HasSubstr("allowSpawn: false cannot be enforced under isolation: gvisor"));
  }
}

TEST(Policy, NoWritableDevShm) {
  Svc s("node", "index.js",
        "try { require('fs').writeFileSync('/dev/shm/x', 'x'); console.log('written'); }"
        " catch (e) { console.log(e.code); }",
        "");
  const auto r = s.run();
  ASSERT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  EXPECT_NE(r.stdout_text, "written\n");
}

TEST(Policy, AuditDefaultPolicyRefusesSpawn) {
  Svc s("node", "index.js",
        "const r = require('child_process').spawnSync(process.execPath, ['-v']);"
        "console.log(r.error ? r.error.code : 'ran');",
        "");
  EXPECT_EQ(s.run(false).stdout_text, "ran\n");  // no policy file, no audit: spawning allowed
  EXPECT_EQ(s.run(true).stdout_text, "EPERM\n");  // audit: the default policy refuses it
}

TEST(Policy, LimitsApply) {
  Svc s("node", "index.js", R"(
const fs = require('fs');
const opened = []; try { for (;;) opened.push(fs.openSync('/app/index.js', 'r')); } catch (e) {}
const fds = opened.length; opened.forEach(fd => fs.closeSync(fd));
let big = 'ok'; try { fs.writeFileSync('/tmp/big', Buffer.alloc(3 << 20)); } catch (e) { big = e.code; }
let tmp = 'ok'; try { for (let i = 0; i < 8; i++) fs.writeFileSync('/tmp/f' + i, Buffer.alloc(1 << 20)); } catch (e) { tmp = e.code; }
console.log(JSON.stringify({fds, big, tmp}));
)",
        "security:\n  limits:\n    openFiles: 64\n    fileSizeMb: 2\n    tmpfsMb: 4\n");
  const auto r = s.run();
  ASSERT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  const auto j = nlohmann::json::parse(r.stdout_text);
  EXPECT_LT(j.at("fds").get<int>(), 64);
  EXPECT_GT(j.at("fds").get<int>(), 10);
  EXPECT_EQ(j.at("big"), "EFBIG");
  EXPECT_EQ(j.at("tmp"), "ENOSPC");
}

TEST(Policy, OutputLimitFromPolicy) {
  Svc s("node", "index.js", "process.stdout.write('z'.repeat(5000));",
        "security:\n  limits:\n    outputBytes: 1000\n");
  const auto r = s.run();
  EXPECT_EQ(r.outcome, Outcome::OutputLimit);
  EXPECT_EQ(r.stdout_text.size(), 1000u);
}

TEST(Policy, GvisorIsolation) {
  Svc s("node", "index.js",
        "console.log(require('os').release())",
        "security:\n  isolation: gvisor\n  process:\n    allowSpawn: true\n");
  const auto r = s.run();
  ASSERT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  // gVisor's own kernel reports its own release, never the host's.
  Svc plain("node", "index.js", "console.log(require('os').release())", "");
  const auto host = plain.run();
  ASSERT_EQ(host.outcome, Outcome::Success) << host.stderr_text;
  EXPECT_NE(r.stdout_text, host.stdout_text);
  struct utsname u {};
  ::uname(&u);
  EXPECT_EQ(host.stdout_text, std::string(u.release) + "\n");
}

TEST(Policy, InvalidPolicyFilesNameFileAndField) {
  auto error_of = [](const std::string& policy) {
    TempDir dir;
    write_file(dir.path() / "ignite.policy.yaml", policy);
    try {
      Ignite::load_policy(dir.path());
    } catch (const Ignite::Error& e) {
      EXPECT_EQ(e.code(), Ignite::ErrorCode::Config);
      return e.message();
    }
    return std::string("no error");
  };
  EXPECT_THAT(error_of("security:\n  network:\n    enabled: \"no\"\n"),
              HasSubstr("ignite.policy.yaml: security.network.enabled must be true or false"));
  EXPECT_THAT(error_of("security:\n  process:\n    allowSpawn: yes\n"),
              HasSubstr("security.process.allowSpawn must be true or false"));
  EXPECT_THAT(error_of("security:\n  isolation: kata\n"), HasSubstr("security.isolation must be"));
  EXPECT_THAT(error_of("security:\n  limits:\n    pids: 8\n"),
              HasSubstr("security.limits.pids must be an integer of at least 16"));
  EXPECT_THAT(error_of("security:\n  isolation: gvisor\n  process:\n    allowSpawn: true\n"
                       "  limits:\n    pids: 32\n"),
              HasSubstr("above 32 with isolation: gvisor"));
  EXPECT_THAT(error_of(""), HasSubstr("expected a `security:` map"));
  EXPECT_THAT(error_of("security: [\n"), HasSubstr("YAML syntax error"));
  TempDir none;
  EXPECT_FALSE(Ignite::load_policy(none.path()).source);
  EXPECT_FALSE(Ignite::load_policy(none.path()).network_enabled);
}
