// The reference CLI (examples/cli) end to end: output, --json purity and exit codes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/test_util.hpp"

using Ignite::testing::example_service;
using Ignite::testing::run_command;
using Ignite::testing::runfile;
using Ignite::testing::TempDir;
using Ignite::testing::write_file;
using ::testing::HasSubstr;

namespace {

std::string cli() { return runfile("examples/cli/ignite").string(); }

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
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
  const auto j = nlohmann::json::parse(r.out);  // throws (fails) on anything extra
  EXPECT_EQ(j.at("outcome"), "success");
  EXPECT_EQ(j.at("exitCode"), 0);
  EXPECT_THAT(j.at("stdout").get<std::string>(), HasSubstr("Hello, J!"));
  EXPECT_TRUE(j.contains("executionTimeMs"));
  EXPECT_TRUE(j.at("phases").contains("runMs"));
}

TEST(Cli, InputFileFromStdin) {
  const auto r = run_command(cli() + " run " + quote(example_service("hello-node").string()) +
                                 " --input-file -",
                             "{\"name\":\"Piped\"}");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Hello, Piped!"));
}

TEST(Cli, ExitCodes) {
  TempDir dir;
  write_file(dir.path() / "service.yaml",
             "service:\n  name: codes\n  runtime: quickjs\n  entry: index.js\n  memoryMb: 64\n  timeoutMs: 800\n");
  write_file(dir.path() / "index.js", "std.exit(0);");
  const std::string base = cli() + " run " + quote(dir.path().string());
  EXPECT_EQ(run_command(base + " --json").status, 0);
  // The service's own code passes through.
  write_file(dir.path() / "index.js", "std.exit(7);");
  EXPECT_EQ(run_command(base).status, 7);
  write_file(dir.path() / "index.js", "for(;;){}");
  const auto t = run_command(base + " --json");
  EXPECT_EQ(t.status, 124);
  EXPECT_EQ(nlohmann::json::parse(t.out).at("outcome"), "timeout");
}

TEST(Cli, IgniteErrorsExitOneWithMessage) {
  const auto r = run_command(cli() + " run /nonexistent/svc");
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, HasSubstr("Cannot read service.yaml at /nonexistent/svc/service.yaml"));
  EXPECT_EQ(r.out, "");
  const auto bad = run_command(cli() + " run " + quote(example_service("hello-node").string()) +
                               " --input '{oops'");
  EXPECT_EQ(bad.status, 1);
  EXPECT_THAT(bad.err, HasSubstr("input is not valid JSON"));
}
