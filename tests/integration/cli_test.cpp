// The reference CLI (examples/cli) end to end: output, --json purity and exit codes.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "tests/test_util.hpp"

using Ignite::testing::example_service;
using Ignite::testing::run_command;
using Ignite::testing::runfile;
using Ignite::testing::TempDir;
using Ignite::testing::write_file;
using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

namespace {

std::string cli() { return runfile("examples/cli/ignite").string(); }

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

}  // namespace

TEST(Cli, RunPrintsServiceOutput) {
  const auto r = run_command(cli() + " run " + quote(example_service("hello-node").string()) +
                             " --input '{\"name\":\"CLI\"}'");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Hello, CLI!"));
  EXPECT_THAT(r.err, HasSubstr("success"));
}

TEST(Cli, JsonIsOneDocumentOnStdout) {
  const auto r = run_command(cli() + " run " + quote(example_service("hello-quickjs").string()) +
                             " --json --input '{\"name\":\"J\"}'");
  EXPECT_EQ(r.status, 0) << r.err;
  // The report (reference §7.1): {serviceName, timestamp, preflight, execution, warnings}.
  const auto j = nlohmann::json::parse(r.out);  // throws (fails) on anything extra
  EXPECT_EQ(j.at("serviceName"), "hello-quickjs");
  EXPECT_TRUE(j.at("warnings").is_array());
  EXPECT_EQ(j.at("preflight").at("serviceName"), "hello-quickjs");
  ASSERT_EQ(j.at("preflight").at("checks").size(), 4u);  // image-size included: image built
  EXPECT_EQ(j.at("preflight").at("checks").at(3).at("name"), "image-size");
  const auto& e = j.at("execution");
  EXPECT_EQ(e.at("outcome"), "success");
  EXPECT_EQ(e.at("exitCode"), 0);
  EXPECT_THAT(e.at("stdout").get<std::string>(), HasSubstr("Hello, J!"));
  EXPECT_TRUE(e.contains("executionTimeMs"));
  EXPECT_TRUE(e.at("phases").contains("runMs"));
}

TEST(Cli, InputFileFromStdin) {
  const auto r = run_command(
      cli() + " run " + quote(example_service("hello-node").string()) + " --input-file -",
      "{\"name\":\"Piped\"}");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Hello, Piped!"));
}

TEST(Cli, ExitCodes) {
  TempDir dir;
  write_file(dir.path() / "service.yaml",
             "service:\n  name: codes\n  runtime: quickjs\n  entry: index.js\n  memoryMb: 64\n  "
             "timeoutMs: 800\n");
  write_file(dir.path() / "index.js", "std.exit(0);");
  const std::string base = cli() + " run " + quote(dir.path().string());
  EXPECT_EQ(run_command(base + " --json").status, 0);
  // The service's own code passes through.
  write_file(dir.path() / "index.js", "std.exit(7);");
  EXPECT_EQ(run_command(base).status, 7);
  write_file(dir.path() / "index.js", "for(;;){}");
  const auto t = run_command(base + " --json");
  EXPECT_EQ(t.status, 124);
  EXPECT_EQ(nlohmann::json::parse(t.out).at("execution").at("outcome"), "timeout");
}

TEST(Cli, IgniteErrorsExit125UsageErrors2WithMessage) {
  const auto r = run_command(cli() + " run /nonexistent/svc");
  EXPECT_EQ(r.status, 125);
  EXPECT_THAT(r.err, HasSubstr("Cannot read service.yaml at /nonexistent/svc/service.yaml"));
  EXPECT_EQ(r.out, "");
  const auto bad = run_command(cli() + " run " + quote(example_service("hello-node").string()) +
                               " --input '{oops'");
  EXPECT_EQ(bad.status, 2);
  EXPECT_THAT(bad.err, HasSubstr("input is not valid JSON"));
}

// ---- helpers for the command tests -----------------------------------------------------------

namespace {

// `ignite <args>` run from `cwd` (the test's working directory when empty).
Ignite::testing::CommandResult ignite(const std::string& args, const fs::path& cwd = {},
                                      const std::string& stdin_data = "") {
  std::string cmd = cli() + " " + args;
  if (!cwd.empty()) cmd = "cd " + quote(cwd.string()) + " && " + cmd;
  return run_command(cmd, stdin_data);
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A QuickJS service (the fastest runtime to start) in `dir`.
void quickjs_service(const fs::path& dir, const std::string& name, const std::string& body,
                     int timeout_ms = 5000, int memory_mb = 64) {
  write_file(dir / "service.yaml",
             "service:\n  name: " + name + "\n  runtime: quickjs\n  entry: index.js\n  memoryMb: " +
                 std::to_string(memory_mb) + "\n  timeoutMs: " + std::to_string(timeout_ms) + "\n");
  write_file(dir / "index.js", body);
}

bool has_ansi(const std::string& s) { return s.find('\x1b') != std::string::npos; }

// The JSON result the init templates print after their "Received event:" line.
nlohmann::json template_result(const std::string& stdout_text) {
  const auto at = stdout_text.find("\n{");
  if (at == std::string::npos) return nullptr;
  return nlohmann::json::parse(stdout_text.substr(at + 1), nullptr, false);
}

}  // namespace

TEST(Cli, CpuTimeLimitExitsWith152AndShowsCpuTime) {
  TempDir dir;
  quickjs_service(dir.path(), "cli-cpu", "for(;;){}", /*timeout_ms=*/10000);
  const std::string base = cli() + " run " + quote(dir.path().string());
  const auto j = run_command(base + " --cpu-time 150 --json");
  EXPECT_EQ(j.status, 152) << j.err;  // 128 + SIGXCPU
  const auto doc = nlohmann::json::parse(j.out);
  EXPECT_EQ(doc.at("execution").at("outcome"), "cpu_limit");
  EXPECT_GT(doc.at("execution").at("cpuTimeMs").get<double>(), 150);
  EXPECT_THAT(doc.at("warnings").dump(), HasSubstr("CPU-time limit (150ms of CPU)"));
  // Preflight saw the override.
  EXPECT_THAT(doc.at("preflight").dump(), HasSubstr("CPU-time limit 150ms can be reached"));
  EXPECT_THAT(j.err, HasSubstr("cpu_limit, exit code 137"));
  EXPECT_THAT(j.err, ::testing::ContainsRegex(", CPU [0-9.]+ ms"));
  const auto text = run_command(base + " --cpu-time 150");
  EXPECT_EQ(text.status, 152);
  EXPECT_THAT(text.out, ::testing::ContainsRegex("  Duration: [0-9.]+ms\n  CPU Time: [0-9.]+ms\n"));
  EXPECT_THAT(text.out, HasSubstr("  Outcome: cpu_limit\n"));
  // A usage error, before anything runs.
  const auto bad = run_command(base + " --cpu-time 0");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.status, 152);
  EXPECT_THAT(bad.err + bad.out, HasSubstr("--cpu-time"));
  // service.yaml's cpuTimeMs: validate lists it.
  write_file(dir.path() / "service.yaml",
             "service:\n  name: cli-cpu\n  runtime: quickjs\n  entry: index.js\n  memoryMb: 64\n"
             "  timeoutMs: 10000\n  cpuTimeMs: 150\n");
  const auto v = run_command(cli() + " validate " + quote(dir.path().string()));
  EXPECT_EQ(v.status, 0) << v.out;
  EXPECT_THAT(v.out, HasSubstr("cpuTimeMs: 150"));
  EXPECT_EQ(run_command(base).status, 152);
}

// ---- global options --------------------------------------------------------------------------

TEST(Cli, VersionAndUsageErrors) {
  const auto v = ignite("--version");
  EXPECT_EQ(v.status, 0);
  EXPECT_THAT(v.out, ::testing::MatchesRegex("[0-9]+\\.[0-9]+\\.[0-9]+\n"));
  EXPECT_EQ(ignite("-V").out, v.out);
  EXPECT_EQ(ignite("").status, 2);  // a command is required
  EXPECT_EQ(ignite("nosuchcommand").status, 2);
  EXPECT_EQ(ignite("run").status, 2);  // missing <dir>
  EXPECT_EQ(ignite("--help").status, 0);
}

// ---- init ------------------------------------------------------------------------------------

TEST(Cli, InitCreatesServiceAndRefusesToOverwrite) {
  TempDir cwd;
  const auto r = ignite("init demo-service", cwd.path());
  ASSERT_EQ(r.status, 0) << r.err;
  const fs::path dir = cwd.path() / "demo-service";
  EXPECT_THAT(r.err,
              HasSubstr("\u2713 Initialized bun service \"demo-service\" at " + dir.string()));
  EXPECT_THAT(r.err, HasSubstr("Next steps:"));
  EXPECT_THAT(r.err, HasSubstr("1. cd demo-service"));
  EXPECT_THAT(r.err, HasSubstr("2. Edit index.ts with your function logic"));
  EXPECT_THAT(r.err, HasSubstr("4. Run: ignite run ."));

  const std::string yaml = slurp(dir / "service.yaml");
  EXPECT_EQ(yaml,
            "service:\n  name: demo-service\n  runtime: bun\n  entry: index.ts\n  memoryMb: 128\n"
            "  timeoutMs: 5000\n  env:\n    NODE_ENV: production\n");
  const std::string pkg_text = slurp(dir / "package.json");
  ASSERT_FALSE(pkg_text.empty());
  EXPECT_EQ(pkg_text.back(), '\n');
  EXPECT_THAT(pkg_text, HasSubstr("\n  \"name\": \"demo-service\""));  // 2-space JSON
  const auto pkg = nlohmann::json::parse(pkg_text);
  EXPECT_EQ(pkg.at("version"), "1.0.0");
  EXPECT_EQ(pkg.at("type"), "module");
  EXPECT_EQ(pkg.at("main"), "index.ts");
  EXPECT_EQ(pkg.at("scripts").at("start"), "bun run index.ts");
  EXPECT_EQ(pkg.at("scripts").at("preflight"), "ignite preflight .");
  EXPECT_EQ(pkg.at("scripts").at("run"), "ignite run .");
  EXPECT_TRUE(fs::is_regular_file(dir / "index.ts"));

  // Never overwrite: an existing service.yaml keeps its content.
  write_file(dir / "service.yaml", "mine\n");
  const auto again = ignite("init demo-service", cwd.path());
  EXPECT_EQ(again.status, 1);
  EXPECT_THAT(again.err,
              HasSubstr("Failed to initialize service: Refusing to overwrite existing file: " +
                        (dir / "service.yaml").string()));
  EXPECT_EQ(slurp(dir / "service.yaml"), "mine\n");

  // Any one existing file blocks the whole init: nothing is half-created.
  write_file(cwd.path() / "other" / "index.js", "keep");
  const auto partial = ignite("init other -r node", cwd.path());
  EXPECT_EQ(partial.status, 1);
  EXPECT_THAT(partial.err, HasSubstr("Refusing to overwrite existing file: " +
                                     (cwd.path() / "other" / "index.js").string()));
  EXPECT_FALSE(fs::exists(cwd.path() / "other" / "service.yaml"));
  EXPECT_FALSE(fs::exists(cwd.path() / "other" / "package.json"));
  EXPECT_EQ(slurp(cwd.path() / "other" / "index.js"), "keep");
}

TEST(Cli, InitValidatesNameAndRuntime) {
  TempDir cwd;
  const auto bad_name = ignite("init Bad_Name", cwd.path());
  EXPECT_EQ(bad_name.status, 2);
  EXPECT_THAT(bad_name.err, HasSubstr("Invalid service name \"Bad_Name\": Name must be lowercase "
                                      "alphanumeric with hyphens (1-63 chars)"));
  const auto traversal = ignite("init ../evil", cwd.path());
  EXPECT_EQ(traversal.status, 2);
  EXPECT_THAT(traversal.err, HasSubstr("Name contains invalid characters"));
  for (const std::string rt : {"python", "bun@", "node@99", "BUN"}) {
    const auto r = ignite("init good -r " + quote(rt), cwd.path());
    EXPECT_EQ(r.status, 2) << rt;
    EXPECT_THAT(r.err,
                HasSubstr("Invalid runtime: " + rt +
                          ". Use a valid runtime like 'bun', 'node', 'deno', or 'quickjs'."));
  }
  EXPECT_TRUE(fs::is_empty(cwd.path()));
}

TEST(Cli, InitAbsolutePathIsUsedAsIs) {
  TempDir cwd, target;
  const fs::path abs = target.path() / "nested" / "svc";
  const auto r = ignite("init abs-svc -r node@22 -p " + quote(abs.string()), cwd.path());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("Initialized node@22 service \"abs-svc\" at " + abs.string()));
  EXPECT_TRUE(fs::is_regular_file(abs / "service.yaml"));
  EXPECT_TRUE(fs::is_regular_file(abs / "index.js"));
  EXPECT_THAT(slurp(abs / "service.yaml"), HasSubstr("runtime: node@22\n"));
  EXPECT_TRUE(fs::is_empty(cwd.path()));  // not joined onto cwd
}

// Every built-in runtime's template validates and runs, reading its input.
TEST(Cli, InitTemplatesValidateAndRunOnEveryRuntime) {
  TempDir cwd;
  for (const std::string rt : {"bun", "node", "deno", "quickjs"}) {
    SCOPED_TRACE(rt);
    const std::string name = "tpl-" + rt;
    ASSERT_EQ(ignite("init " + name + " -r " + rt, cwd.path()).status, 0);
    const fs::path dir = cwd.path() / name;

    const auto v = ignite("validate " + quote(dir.string()));
    EXPECT_EQ(v.status, 0) << v.out << v.err;
    EXPECT_THAT(v.out, HasSubstr("Configuration is valid"));

    const auto r =
        ignite("run " + quote(dir.string()) + " --json --input '{\"n\":1,\"who\":\"" + rt + "\"}'");
    ASSERT_EQ(r.status, 0) << r.out << r.err;
    const auto j = nlohmann::json::parse(r.out);
    const auto& e = j.at("execution");
    EXPECT_EQ(e.at("outcome"), "success") << e.dump(2);
    const std::string out = e.at("stdout");
    EXPECT_THAT(out, HasSubstr("Received event:"));
    const auto result = template_result(out);
    ASSERT_TRUE(result.is_object()) << out;
    EXPECT_EQ(result.at("statusCode"), 200);
    EXPECT_EQ(result.at("body").at("message"), "Hello from Ignite!");
    EXPECT_EQ(result.at("body").at("input"), nlohmann::json({{"n", 1}, {"who", rt}}));

    // Without input the template sees {}.
    const auto empty = ignite("run " + quote(dir.string()) + " --json");
    ASSERT_EQ(empty.status, 0) << empty.err;
    const auto er = template_result(nlohmann::json::parse(empty.out).at("execution").at("stdout"));
    ASSERT_TRUE(er.is_object());
    EXPECT_EQ(er.at("body").at("input"), nlohmann::json::object());
  }
}

// ---- run -------------------------------------------------------------------------------------

TEST(Cli, RunTextReportWithoutColoursWhenNotATerminal) {
  const auto r = run_command("env -u NO_COLOR " + cli() + " run " +
                             quote(example_service("hello-quickjs").string()) +
                             " --input '{\"name\":\"Text\"}'");
  ASSERT_EQ(r.status, 0) << r.err;
  for (const char* section :
       {"IGNITE EXECUTION REPORT", "Service: hello-quickjs", "PREFLIGHT CHECKS",
        "memory-allocation", "image-size", "EXECUTION METRICS", "Exit Code: 0",
        "STDOUT:", "Hello, Text!", "Overall Status: PASS"}) {
    EXPECT_THAT(r.out, HasSubstr(section));
  }
  EXPECT_FALSE(has_ansi(r.out));
  EXPECT_FALSE(has_ansi(r.err));
  EXPECT_THAT(r.err, HasSubstr("[ignite] Running service: hello-quickjs"));
  EXPECT_THAT(r.out, Not(HasSubstr("[ignite]")));  // logs never on stdout
}

// Colours only on a terminal, and never with NO_COLOR (util-linux `script` provides the pty).
TEST(Cli, ColoursOnlyOnTerminalsWithoutNoColor) {
  if (run_command("command -v script").status != 0) GTEST_SKIP() << "no script(1)";
  const std::string cmd = cli() + " validate " + quote(example_service("hello-node").string());
  const auto tty = run_command("env -u NO_COLOR script -qec " + quote(cmd) + " /dev/null");
  EXPECT_THAT(tty.out, HasSubstr("\x1b[32m\u2713\x1b[0m name: hello-node"));
  const auto no_color = run_command("NO_COLOR=1 script -qec " + quote(cmd) + " /dev/null");
  EXPECT_THAT(no_color.out, HasSubstr("\u2713 name: hello-node"));
  EXPECT_FALSE(has_ansi(no_color.out));
}

TEST(Cli, RunStreamKeepsJsonStdoutPure) {
  const std::string svc = quote(example_service("hello-quickjs").string());
  const auto j = ignite("run " + svc + " --stream --json --input '{\"name\":\"Live\"}'");
  ASSERT_EQ(j.status, 0) << j.err;
  const auto doc = nlohmann::json::parse(j.out);
  EXPECT_THAT(doc.at("execution").at("stdout").get<std::string>(), HasSubstr("Hello, Live!"));
  EXPECT_THAT(j.err, HasSubstr("Hello, Live!"));  // the live copy
  const auto t = ignite("run " + svc + " --stream --input '{\"name\":\"Twice\"}'");
  ASSERT_EQ(t.status, 0);
  // Live on stdout, then again in the report.
  const auto first = t.out.find("Hello, Twice!");
  ASSERT_NE(first, std::string::npos);
  EXPECT_NE(t.out.find("Hello, Twice!", first + 1), std::string::npos);
}

TEST(Cli, RunPreflightFailureBlocksUnlessSkipped) {
  TempDir dir;
  quickjs_service(dir.path(), "cli-pf-block", "print('ran');", /*timeout_ms=*/50);
  const std::string base = cli() + " run " + quote(dir.path().string());

  const auto blocked = run_command(base);
  EXPECT_EQ(blocked.status, 1);
  EXPECT_THAT(blocked.err,
              HasSubstr("Preflight checks failed. Use --skip-preflight to force execution."));
  EXPECT_THAT(blocked.out, HasSubstr("\u2717 timeout-config"));
  EXPECT_THAT(blocked.out, HasSubstr("Timeout 50ms is below minimum 100ms"));
  EXPECT_THAT(blocked.out, HasSubstr("Preflight: FAIL"));
  EXPECT_THAT(blocked.out, Not(HasSubstr("EXECUTION METRICS")));

  const auto blocked_json = run_command(base + " --json");
  EXPECT_EQ(blocked_json.status, 1);
  const auto doc = nlohmann::json::parse(blocked_json.out);
  EXPECT_EQ(doc.at("preflight").at("overallStatus"), "fail");
  EXPECT_FALSE(doc.contains("execution"));
  const fs::path blocked_file = dir.path() / "blocked-report.txt";
  EXPECT_EQ(run_command(base + " -o " + quote(blocked_file.string())).status, 1);
  EXPECT_THAT(slurp(blocked_file), HasSubstr("Overall Status: FAIL"));

  // --skip-preflight executes (a 50 ms budget may or may not be enough for the run itself).
  const auto forced = run_command(base + " --skip-preflight");
  EXPECT_TRUE(forced.status == 0 || forced.status == 124) << forced.status << forced.err;
  EXPECT_THAT(forced.out, HasSubstr("EXECUTION METRICS"));
  EXPECT_THAT(forced.out, HasSubstr("\u2717 timeout-config"));  // preflight stays in the report

  // Overrides are what preflight checks: --timeout fixes it, --memory breaks it.
  const auto fixed = run_command(base + " --timeout 2000");
  EXPECT_EQ(fixed.status, 0) << fixed.err;
  EXPECT_THAT(fixed.out, HasSubstr("Timeout 2000ms is within acceptable range"));
  EXPECT_THAT(fixed.out, HasSubstr("ran"));
  const auto low = run_command(base + " -t 2000 -m 20");
  EXPECT_EQ(low.status, 1);
  EXPECT_THAT(low.out, HasSubstr("Configured memory 20MB may be insufficient"));
  const auto over = run_command(base + " -t 2000 --memory 96 --cpus 0.5 --json");
  ASSERT_EQ(over.status, 0) << over.err;
  const auto checks = nlohmann::json::parse(over.out).at("preflight").at("checks");
  EXPECT_EQ(checks.at(0).at("name"), "memory-allocation");
  EXPECT_EQ(checks.at(0).at("value"), 96);
  EXPECT_EQ(checks.at(2).at("value"), 2000);
}

TEST(Cli, RunRuntimeOverrideAndErrors) {
  const std::string svc = quote(example_service("hello-quickjs").string());
  const auto ok = ignite("run " + svc + " --runtime quickjs@2025-04-26 --json");
  ASSERT_EQ(ok.status, 0) << ok.err;
  EXPECT_EQ(nlohmann::json::parse(ok.out).at("execution").at("runtime"), "quickjs@2025-04-26");
  EXPECT_THAT(ok.err, HasSubstr("Runtime override: quickjs@2025-04-26"));

  const auto bad = ignite("run " + svc + " -r node@99");
  EXPECT_EQ(bad.status, 2);
  EXPECT_THAT(bad.err, HasSubstr("Execution failed: Invalid runtime: node@99"));
  EXPECT_EQ(bad.out, "");

  const std::string long_input = "{\"x\": " + std::string(300, '1');  // unterminated
  const auto json_err = ignite("run " + svc + " --input '" + long_input + "'");
  EXPECT_EQ(json_err.status, 2);
  EXPECT_THAT(
      json_err.err,
      HasSubstr("Execution failed: Invalid JSON input: " + long_input.substr(0, 200) + "..."));
  EXPECT_THAT(json_err.err, Not(HasSubstr(long_input.substr(0, 201))));

  EXPECT_EQ(ignite("run " + svc + " --delivery nowhere").status, 2);
  EXPECT_EQ(ignite("run " + svc + " --memory -5").status, 2);
  EXPECT_EQ(ignite("run " + svc + " --input '{}' --input-file -").status, 2);
}

TEST(Cli, RunOutputFileHasNoColours) {
  TempDir cwd;
  const std::string svc = quote(example_service("hello-quickjs").string());
  const auto r = ignite("run " + svc + " -o report.txt --input '{\"name\":\"File\"}'", cwd.path());
  ASSERT_EQ(r.status, 0) << r.err;
  const fs::path file = cwd.path() / "report.txt";
  EXPECT_THAT(r.err, HasSubstr("Report saved to " + file.string()));
  EXPECT_EQ(r.out, "");
  const std::string text = slurp(file);
  EXPECT_THAT(text, HasSubstr("IGNITE EXECUTION REPORT"));
  EXPECT_THAT(text, HasSubstr("Hello, File!"));
  EXPECT_FALSE(has_ansi(text));

  const fs::path json_file = cwd.path() / "sub-report.json";
  const auto j = ignite("run " + svc + " --json --output " + quote(json_file.string()));
  ASSERT_EQ(j.status, 0) << j.err;
  EXPECT_EQ(j.out, "");
  EXPECT_EQ(nlohmann::json::parse(slurp(json_file)).at("execution").at("outcome"), "success");
}

TEST(Cli, RunAuditIsAccepted) {
  TempDir cwd;
  const auto r = ignite("run " + quote(example_service("hello-quickjs").string()) +
                            " --audit --audit-output audit.json --json",
                        cwd.path());
  ASSERT_EQ(r.status, 0) << r.err;
  const auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc.at("audit"), true);
  EXPECT_EQ(doc.at("execution").at("outcome"), "success");
  EXPECT_THAT(r.err, HasSubstr("Audit saved to " + (cwd.path() / "audit.json").string()));
  const auto audit = nlohmann::json::parse(slurp(cwd.path() / "audit.json"));
  EXPECT_TRUE(audit.is_object());
  ASSERT_TRUE(doc.contains("securityAudit")) << r.out;
  EXPECT_EQ(doc.at("securityAudit"), audit);
  EXPECT_TRUE(audit.at("events").is_array()) << audit.dump();
}

// Ctrl+C cancels the execution: the container is killed and removed, the exit status is 130.
TEST(Cli, SigintCancelsRunningContainer) {
  TempDir dir, logs;
  // Unique per process, so concurrent test runs do not see each other's containers.
  const std::string name = "cli-sigint-" + std::to_string(::getpid());
  quickjs_service(dir.path(), name, "for(;;){}", /*timeout_ms=*/20000);
  const std::string bin = cli();
  const std::string svc = dir.path().string();
  const std::string out_path = (logs.path() / "out").string();
  const std::string err_path = (logs.path() / "err").string();
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::signal(SIGINT, SIG_DFL);
    ::execl(bin.c_str(), bin.c_str(), "run", svc.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  const bool have_docker = run_command("command -v docker").status == 0;
  const std::string ps = "docker ps -aq --filter label=dev.ignite.service=" + name;
  // The service's container, running (the image build's intermediate containers carry the
  // same labels but never run the service).
  const std::string running = ps + " --filter status=running --filter label=dev.ignite.owner-host";
  // Wait until the container runs (or, without the docker CLI, a generous moment).
  const auto t0 = std::chrono::steady_clock::now();
  for (;;) {
    if (have_docker && !run_command(running).out.empty()) break;
    if (!have_docker && std::chrono::steady_clock::now() - t0 > std::chrono::seconds(3)) break;
    ASSERT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20)) << slurp(err_path);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // Running means the CLI is past create and start; a SIGINT from here on cancels the pump.
  const auto t_signal = std::chrono::steady_clock::now();
  ::kill(pid, SIGINT);
  int raw = 0;
  ASSERT_EQ(::waitpid(pid, &raw, 0), pid);
  EXPECT_LT(std::chrono::steady_clock::now() - t_signal, std::chrono::seconds(10));
  ASSERT_TRUE(WIFEXITED(raw));
  EXPECT_EQ(WEXITSTATUS(raw), 130) << slurp(err_path);
  EXPECT_THAT(slurp(err_path), HasSubstr("cancelled"));
  EXPECT_THAT(slurp(out_path), HasSubstr("Outcome: cancelled")) << slurp(err_path);
  if (have_docker) {
    // The daemon deletes the killed container as it exits (AutoRemove), possibly just after
    // the CLI did.
    std::string left;
    for (int i = 0; i < 100; ++i) {
      left = run_command(ps).out;
      if (left.empty()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_EQ(left, "");
  }
}

// ---- preflight -------------------------------------------------------------------------------

TEST(Cli, PreflightCommand) {
  TempDir dir;
  quickjs_service(dir.path(), "cli-preflight", "print(1);");
  const auto ok = ignite("preflight " + quote(dir.path().string()));
  EXPECT_EQ(ok.status, 0) << ok.err;
  EXPECT_THAT(ok.err, HasSubstr("Running preflight checks for " + dir.path().string() + "..."));
  EXPECT_THAT(ok.out, HasSubstr("  \u2713 memory-allocation\n    Configured memory 64MB exceeds "
                                "estimated need of 50MB\n"));
  EXPECT_THAT(ok.out, HasSubstr("\u2713 timeout-config"));
  EXPECT_THAT(ok.out, HasSubstr("Preflight: PASS"));
  EXPECT_FALSE(has_ansi(ok.out));

  const auto j = ignite("preflight --json " + quote(dir.path().string()));
  EXPECT_EQ(j.status, 0);
  const auto doc = nlohmann::json::parse(j.out);
  EXPECT_EQ(doc.at("serviceName"), "cli-preflight");
  EXPECT_EQ(doc.at("overallStatus"), "pass");

  quickjs_service(dir.path(), "cli-preflight", "print(1);", /*timeout_ms=*/50);
  const auto fail = ignite("preflight " + quote(dir.path().string()));
  EXPECT_EQ(fail.status, 1);
  EXPECT_THAT(fail.out,
              HasSubstr("\u2717 timeout-config\n    Timeout 50ms is below minimum 100ms"));
  EXPECT_THAT(fail.out, HasSubstr("\u2717 Preflight: FAIL"));

  quickjs_service(dir.path(), "cli-preflight", "print(1);", /*timeout_ms=*/60000);
  const auto warn = ignite("preflight " + quote(dir.path().string()));
  EXPECT_EQ(warn.status, 0);  // warn is not failure
  EXPECT_THAT(warn.out, HasSubstr("Preflight: WARN"));

  const auto missing = ignite("preflight /nonexistent/svc");
  EXPECT_EQ(missing.status, 125);
  EXPECT_THAT(missing.err, HasSubstr("Preflight failed: Cannot read service.yaml at "
                                     "/nonexistent/svc/service.yaml"));
}

// ---- report ----------------------------------------------------------------------------------

TEST(Cli, ReportCommand) {
  TempDir dir, cwd, out_dir;
  quickjs_service(dir.path(), "cli-report", "print(1);", /*timeout_ms=*/50);  // preflight fails
  const std::string svc = quote(dir.path().string());

  const auto text = ignite("report " + svc);
  EXPECT_EQ(text.status, 0);  // even though preflight failed
  EXPECT_THAT(text.err, HasSubstr("Generating report for: cli-report"));
  EXPECT_THAT(text.out, HasSubstr("IGNITE EXECUTION REPORT"));
  EXPECT_THAT(text.out, HasSubstr("PREFLIGHT CHECKS"));
  EXPECT_THAT(text.out, HasSubstr("WARNINGS"));
  EXPECT_THAT(text.out, HasSubstr("Overall Status: FAIL"));
  EXPECT_THAT(text.out, Not(HasSubstr("EXECUTION METRICS")));

  const auto json = ignite("report --json " + svc);
  EXPECT_EQ(json.status, 0);
  const auto doc = nlohmann::json::parse(json.out);
  EXPECT_EQ(doc.at("serviceName"), "cli-report");
  EXPECT_FALSE(doc.contains("execution"));
  EXPECT_EQ(doc.at("warnings").at(0).at("level"), "critical");

  // Relative -o against cwd, absolute -o as given; files never carry colours.
  const auto rel = ignite("report " + svc + " -o out/report.txt", cwd.path());
  EXPECT_NE(rel.status, 0);  // the directory does not exist: a clear error, not a crash
  EXPECT_THAT(rel.err, HasSubstr("Report generation failed: cannot write " +
                                 (cwd.path() / "out/report.txt").string()));
  const auto rel2 = ignite("report " + svc + " -o report.txt", cwd.path());
  ASSERT_EQ(rel2.status, 0) << rel2.err;
  EXPECT_THAT(rel2.err, HasSubstr("Report saved to " + (cwd.path() / "report.txt").string()));
  EXPECT_THAT(slurp(cwd.path() / "report.txt"), HasSubstr("IGNITE EXECUTION REPORT"));
  EXPECT_FALSE(has_ansi(slurp(cwd.path() / "report.txt")));

  const fs::path abs = out_dir.path() / "r.json";
  const auto a = ignite("report --json " + svc + " --output " + quote(abs.string()), cwd.path());
  ASSERT_EQ(a.status, 0) << a.err;
  EXPECT_EQ(a.out, "");
  EXPECT_EQ(nlohmann::json::parse(slurp(abs)).at("serviceName"), "cli-report");

  const auto missing = ignite("report /nonexistent/svc");
  EXPECT_EQ(missing.status, 125);
  EXPECT_THAT(missing.err, HasSubstr("Report generation failed: Cannot read service.yaml"));
}

// ---- lock ------------------------------------------------------------------------------------

TEST(Cli, LockLifecycle) {
  TempDir dir;
  quickjs_service(dir.path(), "cli-lock", "print(1);");
  write_file(dir.path() / "package.json", "{}\n");
  write_file(dir.path() / "package-lock.json", "{}\n");
  const std::string svc = quote(dir.path().string());

  const auto created = ignite("lock " + svc);
  ASSERT_EQ(created.status, 0) << created.err;
  EXPECT_THAT(created.err, HasSubstr("Locking environment for cli-lock..."));
  EXPECT_THAT(created.out, HasSubstr("\u2713 Created ignite.lock for cli-lock\n"
                                     "  Runtime: quickjs@latest\n"
                                     "  Lockfile: package-lock.json\n"
                                     "  Checksums: 4 file(s)\n"));
  EXPECT_TRUE(fs::is_regular_file(dir.path() / "ignite.lock"));
  const std::string first_lock = slurp(dir.path() / "ignite.lock");

  const auto refused = ignite("lock " + svc);
  EXPECT_EQ(refused.status, 0);
  EXPECT_THAT(refused.err,
              HasSubstr("Environment already locked. Use --update to refresh the manifest."));
  EXPECT_THAT(refused.out, HasSubstr("Environment: Locked"));
  EXPECT_EQ(slurp(dir.path() / "ignite.lock"), first_lock);

  const auto check = ignite("lock --check " + svc);
  EXPECT_EQ(check.status, 0) << check.out;
  EXPECT_THAT(check.err, HasSubstr("Checking environment for cli-lock..."));
  EXPECT_THAT(check.out, HasSubstr("Environment: Locked\n  Runtime: quickjs@latest"));
  EXPECT_THAT(check.out, HasSubstr("Environment matches manifest"));

  write_file(dir.path() / "index.js", "print(2);");
  const auto drift = ignite("lock -c " + svc);
  EXPECT_EQ(drift.status, 1);
  EXPECT_THAT(drift.out, HasSubstr("WARNING: Environment drift detected:"));
  EXPECT_THAT(drift.out, HasSubstr("    - File modified: index.js"));
  EXPECT_THAT(drift.out, HasSubstr("Run `ignite lock --update` to update the manifest"));

  // --check wins over --update: nothing is rewritten.
  EXPECT_EQ(ignite("lock --check --update " + svc).status, 1);
  EXPECT_EQ(slurp(dir.path() / "ignite.lock"), first_lock);

  const auto updated = ignite("lock -u " + svc);
  EXPECT_EQ(updated.status, 0);
  EXPECT_THAT(updated.out, HasSubstr("Created ignite.lock for cli-lock"));
  EXPECT_EQ(ignite("lock --check " + svc).status, 0);
}

TEST(Cli, LockCheckFailsWhenNotLockedOrMalformed) {
  TempDir dir;
  quickjs_service(dir.path(), "cli-lock-bad", "print(1);");
  const std::string svc = quote(dir.path().string());
  const auto none = ignite("lock --check " + svc);
  EXPECT_EQ(none.status, 1);  // the reference passed here
  EXPECT_THAT(none.out,
              HasSubstr("Environment: Not locked\n  Run `ignite lock` to create ignite.lock"));

  write_file(dir.path() / "ignite.lock", "version: [unterminated\n");
  const auto plain = ignite("lock " + svc);
  EXPECT_EQ(plain.status, 125);
  EXPECT_THAT(plain.err, HasSubstr("Lock failed: "));
  EXPECT_THAT(plain.err, HasSubstr("ignite.lock"));
  const auto check = ignite("lock --check " + svc);
  EXPECT_EQ(check.status, 125);
  EXPECT_THAT(check.err, HasSubstr("Lock failed: "));
  // --update replaces a malformed manifest.
  EXPECT_EQ(ignite("lock --update " + svc).status, 0);
  EXPECT_EQ(ignite("lock --check " + svc).status, 0);

  const auto missing = ignite("lock /nonexistent/svc");
  EXPECT_EQ(missing.status, 125);
  EXPECT_THAT(missing.err, HasSubstr("Lock failed: Cannot read service.yaml"));
}

// ---- env -------------------------------------------------------------------------------------

TEST(Cli, EnvCommand) {
  const auto rts = ignite("env --runtimes");
  EXPECT_EQ(rts.status, 0);
  EXPECT_THAT(rts.out, HasSubstr("Supported Runtimes:\n\n  bun\n    Default entry: index.ts\n"));
  EXPECT_THAT(rts.out,
              HasSubstr("  node\n    Default entry: index.js\n    Extensions: .js, .mjs, .cjs\n"
                        "    Versions: 18, 20, 22, 24 (default: 20)\n"));
  EXPECT_THAT(rts.out, HasSubstr("  deno\n"));
  EXPECT_THAT(rts.out, HasSubstr("  quickjs\n"));
  EXPECT_THAT(rts.out, HasSubstr("Usage examples:"));
  EXPECT_THAT(rts.out, HasSubstr("ignite run . --runtime node@22"));

  const auto none = ignite("env");
  EXPECT_EQ(none.status, 2);
  EXPECT_THAT(none.err, HasSubstr("Service path required. Use `ignite env <service>` or "
                                  "`ignite env --runtimes`"));

  TempDir dir;
  quickjs_service(dir.path(), "cli-env", "print(1);");
  const auto info = ignite("env " + quote(dir.path().string()));
  EXPECT_EQ(info.status, 0);
  EXPECT_THAT(info.err, HasSubstr("Environment info for cli-env"));
  EXPECT_THAT(info.out,
              HasSubstr("\nService: cli-env\nRuntime: quickjs\n\nEnvironment: Not locked"));
  ASSERT_EQ(ignite("lock " + quote(dir.path().string())).status, 0);
  write_file(dir.path() / "extra.js", "1");
  const auto drift = ignite("env " + quote(dir.path().string()));
  EXPECT_EQ(drift.status, 0);  // information, not a gate
  EXPECT_THAT(drift.out, HasSubstr("File added: extra.js"));

  const auto missing = ignite("env /nonexistent/svc");
  EXPECT_EQ(missing.status, 125);
  EXPECT_THAT(missing.err, HasSubstr("Failed to get environment info: Cannot read service.yaml"));
}

// ---- validate --------------------------------------------------------------------------------

TEST(Cli, ValidateCommand) {
  const auto ok = ignite("validate " + quote(example_service("hello-node").string()));
  EXPECT_EQ(ok.status, 0) << ok.err;
  for (const char* line :
       {"\u2713 name: hello-node\n", "\u2713 runtime: node@20", "\u2713 entry: index.js\n",
        "\u2713 memoryMb: 128\n", "\u2713 timeoutMs: 10000\n", "\u2713 Configuration is valid\n"}) {
    EXPECT_THAT(ok.out, HasSubstr(line));
  }

  TempDir low;
  quickjs_service(low.path(), "cli-low", "print(1);", 5000, /*memory_mb=*/16);
  fs::create_directories(low.path() / "node_modules" / "dep");
  const auto warned = ignite("validate " + quote(low.path().string()));
  EXPECT_EQ(warned.status, 0);
  EXPECT_THAT(warned.out, HasSubstr("\u26a0 memoryMb 16 is very low, consider 64+"));
  EXPECT_THAT(warned.out, HasSubstr("\u26a0 package.json missing"));
  EXPECT_THAT(warned.out, HasSubstr("Configuration is valid"));
  const auto wj =
      nlohmann::json::parse(ignite("validate --json " + quote(low.path().string())).out);
  EXPECT_EQ(wj.at("valid"), true);
  EXPECT_EQ(wj.at("errors"), nlohmann::json::array());
  EXPECT_EQ(wj.at("warnings").size(), 2u);
  EXPECT_EQ(wj.at("service").at("name"), "cli-low");

  TempDir bad;
  write_file(bad.path() / "service.yaml", "service:\n  name: \"\"\n");
  const auto invalid = ignite("validate " + quote(bad.path().string()));
  EXPECT_EQ(invalid.status, 1);
  for (const char* e :
       {"\u2717 service.name is required\n",
        "\u2717 service.runtime must be one of: bun, node, deno, quickjs\n",
        "\u2717 service.entry is required\n", "\u2717 service.memoryMb must be a positive number\n",
        "\u2717 service.timeoutMs must be a positive number\n"}) {
    EXPECT_THAT(invalid.out, HasSubstr(e));
  }
  EXPECT_THAT(invalid.out, HasSubstr("Configuration is invalid: 5 error(s) in " +
                                     (bad.path() / "service.yaml").string()));
  const auto ij = ignite("validate --json " + quote(bad.path().string()));
  EXPECT_EQ(ij.status, 1);
  const auto doc = nlohmann::json::parse(ij.out);
  EXPECT_EQ(doc.at("valid"), false);
  EXPECT_EQ(doc.at("errors").size(), 5u);
  EXPECT_EQ(doc.at("errors").at(1), "service.runtime must be one of: bun, node, deno, quickjs");
  EXPECT_TRUE(doc.at("service").is_null());

  const auto missing = ignite("validate /nonexistent/svc");
  EXPECT_EQ(missing.status, 1);
  EXPECT_THAT(missing.out,
              HasSubstr("\u2717 Cannot read service.yaml at /nonexistent/svc/service.yaml"));
}

// ---- list ------------------------------------------------------------------------------------

TEST(Cli, ListCommand) {
  const auto r = ignite("list");
  EXPECT_EQ(r.status, 0);
  EXPECT_THAT(r.out, ::testing::StartsWith("RUNTIME"));
  EXPECT_THAT(r.out, ::testing::ContainsRegex("RUNTIME +VERSIONS +DEFAULT +IMAGE\n"));
  EXPECT_THAT(r.out,
              ::testing::ContainsRegex("\nnode +18, 20, 22, 24 +20 +ignite-runtime/node:20\n"));
  for (const char* rt : {"\nbun ", "\ndeno ", "\nquickjs "}) EXPECT_THAT(r.out, HasSubstr(rt));
  const auto j = nlohmann::json::parse(ignite("list --json").out);
  ASSERT_EQ(j.size(), 4u);
  EXPECT_EQ(j.at(1).at("name"), "node");
  EXPECT_EQ(j.at(1).at("defaultVersion"), "20");
}

// ---- custom runtimes -------------------------------------------------------------------------

TEST(Cli, RuntimesFileAddsCustomRuntime) {
  TempDir dir, svc_dir;
  const fs::path rt_file = dir.path() / "runtimes.yaml";
  write_file(rt_file,
             "runtimes:\n  - name: node-alias\n    versions: {\"1\": ignite-runtime/node:20}\n"
             "    command: [node]\n");
  const std::string opt = " --runtimes-file " + quote(rt_file.string());

  const auto list = ignite("list" + opt);
  EXPECT_EQ(list.status, 0);
  EXPECT_THAT(list.out, ::testing::ContainsRegex("\nnode-alias +1 +1 +ignite-runtime/node:20\n"));

  write_file(svc_dir.path() / "service.yaml",
             "service:\n  name: cli-alias\n  runtime: node-alias@1\n  entry: main.js\n"
             "  memoryMb: 128\n  timeoutMs: 5000\n");
  write_file(svc_dir.path() / "main.js", "console.log('alias on', process.version);");
  const std::string svc = quote(svc_dir.path().string());
  EXPECT_EQ(ignite("validate " + svc).status, 1);  // unknown without the file
  EXPECT_EQ(ignite("validate " + svc + opt).status, 0);

  const auto run = ignite("run " + svc + opt + " --json");
  ASSERT_EQ(run.status, 0) << run.err;
  const auto e = nlohmann::json::parse(run.out).at("execution");
  EXPECT_EQ(e.at("runtime"), "node-alias@1");
  EXPECT_THAT(e.at("stdout").get<std::string>(), HasSubstr("alias on v20."));

  // The environment variable does the same, and the option may come first.
  const auto env_run = run_command("IGNITE_RUNTIMES_FILE=" + quote(rt_file.string()) + " " + cli() +
                                   " env --runtimes");
  EXPECT_THAT(env_run.out, HasSubstr("  node-alias\n"));
  const auto init = ignite(opt.substr(1) + " init alias-init -r node-alias", dir.path());
  ASSERT_EQ(init.status, 0) << init.err;
  EXPECT_EQ(nlohmann::json::parse(slurp(dir.path() / "alias-init" / "package.json"))
                .at("scripts")
                .at("start"),
            "node index.js");

  write_file(dir.path() / "broken.yaml", "runtimes: 3\n");
  const auto broken =
      ignite("list --runtimes-file " + quote((dir.path() / "broken.yaml").string()));
  EXPECT_EQ(broken.status, 125);
  EXPECT_THAT(broken.err, HasSubstr("Failed to load runtimes file: "));
}

// ---- serve -----------------------------------------------------------------------------------

TEST(Cli, ServeAnswersHealthAndStopsOnSigterm) {
  TempDir logs;
  const std::string err_path = (logs.path() / "err").string();
  const std::string bin = cli();
  const std::string services = example_service("hello-node").parent_path().string();
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(err, 2);
    ::signal(SIGTERM, SIG_DFL);
    ::execl(bin.c_str(), bin.c_str(), "serve", "--services", services.c_str(), "--port", "0",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // The server prints "Ignite HTTP server running at http://<host>:<port>" once it listens.
  std::string url;
  for (int i = 0; i < 200 && url.empty(); ++i) {
    const std::string log = slurp(err_path);
    const auto at = log.find("running at ");
    if (at != std::string::npos) {
      const auto end = log.find_first_of(" \n", at + 11);
      url = log.substr(at + 11, end - (at + 11));
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ASSERT_FALSE(url.empty()) << slurp(err_path);
  const auto health = run_command("curl -s " + url + "/health");
  EXPECT_THAT(health.out, HasSubstr("\"status\":\"ok\""));
  const auto services_list = run_command("curl -s " + url + "/services");
  EXPECT_THAT(services_list.out, HasSubstr("hello-node"));
  ::kill(pid, SIGTERM);
  int raw = 0;
  ASSERT_EQ(::waitpid(pid, &raw, 0), pid);
  ASSERT_TRUE(WIFEXITED(raw)) << slurp(err_path);
  EXPECT_EQ(WEXITSTATUS(raw), 0) << slurp(err_path);
}

// `ignite run` does not wait for the container's deletion (the daemon's AutoRemove does it),
// and the deletion happens: nothing of the run is left shortly after the process exited.
TEST(Cli, RunLeavesNoContainerBehind) {
  const std::string label = "test.ignite.cli-auto-remove=" + std::to_string(::getpid());
  const auto r = run_command("IGNITE_LABELS=\"${IGNITE_LABELS:+$IGNITE_LABELS,}" + label + "\" " + cli() + " run " +
                             quote(example_service("hello-quickjs").string()) +
                             " --input '{\"name\":\"gone\"}'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Hello, gone!"));
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    const auto ps = run_command("docker ps -aq --filter label=" + label);
    gone = ps.status == 0 && ps.out.empty();
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(gone) << "a container labelled " << label << " is still there 10 s after the run";
}

// ---- exit statuses, --json failures, SIGPIPE (issue 15) ---------------------------------------

// The table of docs/cli.md, like the docker CLI's: the service's code passes through, 125 when
// Ignite fails, 2 for usage, 124/137 for timeout/memory, 123 for the output limit.
TEST(Cli, ExitStatusTable) {
  TempDir dir;
  const std::string base = cli() + " run " + quote(dir.path().string());
  quickjs_service(dir.path(), "flood", "const s = 'x'.repeat(65536); for (;;) print(s);", 20000);
  const auto flood = run_command(base + " --json");
  EXPECT_EQ(flood.status, 123) << flood.err;
  EXPECT_EQ(nlohmann::json::parse(flood.out).at("execution").at("outcome"), "output_limit");

  TempDir node;
  write_file(node.path() / "service.yaml",
             "service:\n  name: hog\n  runtime: node\n  entry: index.js\n  memoryMb: 64\n"
             "  timeoutMs: 20000\n");
  write_file(node.path() / "index.js",
             "const keep = []; for (;;) keep.push(Buffer.alloc(1 << 20, 1));\n");
  const auto hog = run_command(cli() + " run " + quote(node.path().string()) + " --json");
  EXPECT_EQ(hog.status, 137) << hog.err;

  quickjs_service(dir.path(), "exits", "std.exit(42);");
  EXPECT_EQ(run_command(base).status, 42);

  // No daemon: Ignite failed, 125, and with --json the error is the one document.
  const auto nodaemon =
      run_command("DOCKER_HOST=unix:///nonexistent/docker.sock " + base + " --json");
  EXPECT_EQ(nodaemon.status, 125) << nodaemon.err;
  const auto doc = nlohmann::json::parse(nodaemon.out);
  EXPECT_EQ(doc.at("error").at("code"), "docker_unavailable") << nodaemon.out;
  EXPECT_THAT(doc.at("error").at("message").get<std::string>(), HasSubstr("/nonexistent"));
  // Bad service.yaml: 125 as well (a check of the configuration is `validate`'s, exit 1).
  write_file(dir.path() / "service.yaml", "service: {name: BAD}\n");
  EXPECT_EQ(run_command(base).status, 125);
  EXPECT_EQ(ignite("validate " + quote(dir.path().string())).status, 1);
  // Usage: unknown flag, missing argument, bad option value.
  EXPECT_EQ(ignite("run").status, 2);
  EXPECT_EQ(ignite("run . --no-such-flag").status, 2);
  EXPECT_EQ(ignite("run . --timeout -1").status, 2);
}

// --json prints exactly one JSON document on stdout, also when the command fails.
TEST(Cli, JsonFailuresAreOneErrorDocument) {
  for (const std::string& args : std::vector<std::string>{
           "run /nonexistent/svc --json", "preflight /nonexistent/svc --json",
           "report /nonexistent/svc --json", "lock /nonexistent/svc --check --json",
           "env /nonexistent/svc --json", "run --json --no-such-flag x",
           "run " + quote(example_service("hello-node").string()) + " --json --input '{oops'"}) {
    const auto r = ignite(args);
    EXPECT_NE(r.status, 0) << args;
    nlohmann::json doc;
    ASSERT_NO_THROW(doc = nlohmann::json::parse(r.out)) << args << ": stdout was " << r.out;
    ASSERT_TRUE(doc.contains("error")) << args << ": " << r.out;
    EXPECT_TRUE(doc["error"].at("code").is_string()) << r.out;
    EXPECT_FALSE(doc["error"].at("message").get<std::string>().empty()) << r.out;
    // The message is on stderr too, for people.
    EXPECT_THAT(r.err, HasSubstr(doc["error"]["message"].get<std::string>().substr(0, 20)));
  }
  const auto usage = ignite("run --json --no-such-flag x");
  EXPECT_EQ(usage.status, 2);
  EXPECT_EQ(nlohmann::json::parse(usage.out)["error"]["code"], "usage");
  const auto input =
      ignite("run " + quote(example_service("hello-node").string()) + " --json --input '{oops'");
  EXPECT_EQ(input.status, 2);
  EXPECT_EQ(nlohmann::json::parse(input.out)["error"]["code"], "invalid_input");
  const auto missing = ignite("run /nonexistent/svc --json");
  EXPECT_EQ(missing.status, 125);
  EXPECT_EQ(nlohmann::json::parse(missing.out)["error"]["code"], "service");
}

TEST(Cli, LockCheckAndEnvSpeakJson) {
  TempDir dir;
  quickjs_service(dir.path(), "locked", "print('hi');");
  const std::string svc = quote(dir.path().string());
  const auto none = ignite("lock --check --json " + svc);
  EXPECT_EQ(none.status, 1);
  auto j = nlohmann::json::parse(none.out);
  EXPECT_EQ(j.at("locked"), false);
  EXPECT_EQ(j.at("ok"), false);
  EXPECT_EQ(j.at("serviceName"), "locked");
  const auto created = ignite("lock --json " + svc);
  ASSERT_EQ(created.status, 0) << created.err;
  j = nlohmann::json::parse(created.out);
  EXPECT_EQ(j.at("action"), "created");
  EXPECT_TRUE(j.at("manifest").at("checksums").contains("index.js"));
  const auto clean = ignite("lock --check --json " + svc);
  EXPECT_EQ(clean.status, 0) << clean.out;
  j = nlohmann::json::parse(clean.out);
  EXPECT_EQ(j.at("locked"), true);
  EXPECT_EQ(j.at("drift"), false);
  EXPECT_EQ(j.at("ok"), true);
  write_file(dir.path() / "index.js", "print('changed');");
  const auto drift = ignite("lock --check --json " + svc);
  EXPECT_EQ(drift.status, 1);
  j = nlohmann::json::parse(drift.out);
  EXPECT_EQ(j.at("drift"), true);
  EXPECT_THAT(j.at("details").dump(), HasSubstr("File modified: index.js"));

  const auto env = ignite("env --json " + svc);
  ASSERT_EQ(env.status, 0) << env.err;
  j = nlohmann::json::parse(env.out);
  EXPECT_EQ(j.at("service").at("name"), "locked");
  EXPECT_EQ(j.at("runtime").get<std::string>().rfind("quickjs@", 0), 0u);
  EXPECT_EQ(j.at("lock").at("drift"), true);
  const auto runtimes = ignite("env --runtimes --json");
  ASSERT_EQ(runtimes.status, 0);
  j = nlohmann::json::parse(runtimes.out);
  EXPECT_GE(j.at("runtimes").size(), 4u);
  EXPECT_EQ(j.at("runtimes"), nlohmann::json::parse(ignite("list --json").out));
}

// `ignite run ... | head -1`: the reader goes away early. The CLI must not die of SIGPIPE mid-run
// (leaving its container running); it finishes, removes the container and exits normally.
TEST(Cli, ClosedStdoutStillRemovesTheContainer) {
  TempDir dir;
  quickjs_service(dir.path(), "chatty",
                  "for (let i = 0; i < 30; i++) { print('line ' + i); std.out.flush(); "
                  "os.sleep(50); }",
                  20000);
  const std::string label =
      "ignite-test-pipe=" + std::to_string(::getpid()) + "-" +
      std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  const auto r = run_command(
      "bash -c " + quote("set -o pipefail; IGNITE_LABELS=\"${IGNITE_LABELS:+$IGNITE_LABELS,}" +
                         label + "\" " + cli() + " run " + quote(dir.path().string()) +
                         " --stream | head -1; echo \"status=${PIPESTATUS[0]}\" >&2"));
  EXPECT_EQ(r.out, "line 0\n");
  EXPECT_THAT(r.err, HasSubstr("status=0")) << r.err;  // not 141 (SIGPIPE)
  // The daemon deletes the container as it exits (AutoRemove), possibly just after the CLI did.
  std::string left;
  for (int i = 0; i < 100; ++i) {
    left = run_command("docker ps -aq --filter label=" + label).out;
    if (left.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(left, "") << "containers left behind";
}
