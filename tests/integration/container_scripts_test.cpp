// Every built-in runtime syntax-checks, inside its own image, the scripts it loads from
// /opt/ignite (the audit bootstrap and the resident runner, ignite/container/), with the bytes
// the library embeds. A syntax error there would otherwise show only as an audit or pool failure
// of some slower test, and never for a runtime version no other test runs. Each check must also
// fail on a copy with a syntax error appended: a check that accepts anything (a flag that does
// not parse, a file it never reads) would pass silently.
#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "ignite/runtime.hpp"
#include "ignite/src/audit.hpp"
#include "ignite/src/container_files.hpp"
#include "ignite/src/docker/client.hpp"
#include "tests/test_util.hpp"

namespace fs = std::filesystem;
namespace container = Ignite::detail::container;
using namespace std::chrono_literals;
using Ignite::docker::DockerClient;
using Ignite::testing::TempDir;
using Ignite::testing::write_file;

namespace {

// Only this label: the reaper and `ignite gc` select dev.ignite.managed, and these containers
// are this test's to remove.
constexpr const char* kLabelKey = "dev.ignite.test";
constexpr const char* kLabelValue = "container-scripts";
constexpr std::string_view kBreakage = "\n)(\n";

struct Script {
  std::string name;  // as installed under /opt/ignite
  std::string_view content;
};

// What a runtime loads and how it checks a file's syntax without running it.
struct Checker {
  std::vector<Script> scripts;
  std::vector<std::string> (*argv)(const std::string& path);
};

// Keyed by built-in runtime name; a built-in without an entry fails the test.
const std::map<std::string, Checker>& checkers() {
  static const std::map<std::string, Checker> kCheckers = {
      {"node",
       {{{"audit-node.cjs", container::audit_node_cjs()},
         {"runner-node.cjs", container::runner_node_cjs()}},
        [](const std::string& path) {
          return std::vector<std::string>{"node", "--check", path};
        }}},
      // Bun has no --check: transpiling one file without bundling parses it and fails on a
      // syntax error (the transpiled text goes to stdout).
      {"bun",
       {{{"audit-bun.js", container::audit_node_cjs()},
         {"runner-node.cjs", container::runner_node_cjs()}},
        [](const std::string& path) {
          return std::vector<std::string>{"bun", "build", "--no-bundle", path};
        }}},
      // Parses the file as the module a preload is (the runner awaits at top level). JavaScript
      // without // @ts-check is not type-checked, so this needs no type libraries or network.
      {"deno",
       {{{"audit-deno.js", container::audit_deno_js()},
         {"runner-deno.js", container::runner_deno_js()}},
        [](const std::string& path) {
          return std::vector<std::string>{"deno", "check", path};
        }}},
      // qjs has no check flag and the image has no qjsc: compiling the text as a function body
      // parses it as the script `qjs -I` loads, without running it. A missing file must not
      // compile as the empty (valid) text.
      {"quickjs",
       {{{"audit-qjs.js", container::audit_qjs_js()},
         {"runner-qjs.js", container::runner_qjs_js()}},
        [](const std::string& path) {
          return std::vector<std::string>{
              "qjs", "--std", "-e",
              "var text = std.loadFile(scriptArgs[0]);"
              "if (typeof text !== 'string') throw new Error('cannot read ' + scriptArgs[0]);"
              "new Function(text);",
              path};
        }}},
  };
  return kCheckers;
}

// One spec per distinct image of every built-in runtime ("quickjs@latest" is the same image
// as "quickjs@2025-04-26"), so a version added to the registry is checked without a change here.
std::vector<std::string> builtin_specs() {
  const auto registry = Ignite::RuntimeRegistry::builtins();
  std::vector<std::string> specs;
  std::set<std::string> images;
  for (const auto& runtime : registry.all()) {
    for (const auto& version : runtime.versions) {
      const std::string spec = runtime.name + "@" + version.version;
      if (images.insert(registry.resolve(spec).image).second) specs.push_back(spec);
    }
  }
  return specs;
}

// A container of this test, removed on every way out of it (a failed ASSERT returns early, a
// Docker error throws).
class Container {
 public:
  Container(DockerClient& docker, const nlohmann::json& body)
      : docker_(docker), id_(docker.container_create(body)) {}
  ~Container() {
    try {
      docker_.container_remove(id_);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "cannot remove container " << id_ << ": " << e.what();
    }
  }
  Container(const Container&) = delete;
  Container& operator=(const Container&) = delete;
  const std::string& id() const { return id_; }

 private:
  DockerClient& docker_;
  std::string id_;
};

struct CheckResult {
  std::int64_t status = -1;
  std::string output;  // stdout and stderr, interleaved
};

// Runs `argv` in `image` with `dir` mounted read-only at /check.
CheckResult run_check(DockerClient& docker, const std::string& image, const fs::path& dir,
                      const std::vector<std::string>& argv) {
  Container c(docker, {{"Image", image},
                       {"Cmd", argv},
                       {"Labels", {{kLabelKey, kLabelValue}}},
                       {"HostConfig",
                        {{"Binds", {dir.string() + ":/check:ro"}},
                         {"NetworkMode", "none"},
                         {"Memory", std::int64_t{1} << 30}}}});
  docker.container_start(c.id());
  // The wait has no timeout of its own: a hung check is killed, which ends the wait.
  auto exited = std::async(std::launch::async, [&] { return docker.container_wait(c.id()); });
  if (exited.wait_for(120s) != std::future_status::ready) {
    ADD_FAILURE() << "check still running after 120 s, killed: " << image;
    docker.container_kill(c.id());
  }
  CheckResult result;
  result.status = exited.get();
  docker.container_logs(
      c.id(), [&](Ignite::docker::StreamKind, std::string_view bytes) { result.output += bytes; });
  return result;
}

// The images run as an unprivileged user: the mount must be readable whatever the umask.
void write_readable(const fs::path& dir, const std::string& name, const std::string& content) {
  write_file(dir / name, content);
  fs::permissions(dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                           fs::perms::others_read | fs::perms::others_exec);
  fs::permissions(dir / name, fs::perms::owner_read | fs::perms::owner_write |
                                  fs::perms::group_read | fs::perms::others_read);
}

class ContainerScripts : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST(ContainerScriptsTable, EveryAuditScriptIsChecked) {
  for (const auto& shipped : Ignite::detail::audit_scripts()) {
    bool checked = false;
    for (const auto& [runtime, checker] : checkers()) {
      for (const auto& script : checker.scripts) {
        checked |= script.name == shipped.name && script.content == shipped.content;
      }
    }
    EXPECT_TRUE(checked) << shipped.name << " is shipped but no runtime checks it";
  }
}

TEST_P(ContainerScripts, ShippedScriptsParseAndBrokenOnesDoNot) {
  const auto runtime = Ignite::RuntimeRegistry::builtins().resolve(GetParam());
  const auto it = checkers().find(runtime.name);
  ASSERT_NE(it, checkers().end()) << "no syntax check for the built-in runtime " << runtime.name;
  const Checker& checker = it->second;

  TempDir good;
  TempDir broken;
  for (const auto& script : checker.scripts) {
    write_readable(good.path(), script.name, std::string(script.content));
    write_readable(broken.path(), script.name,
                   std::string(script.content) + std::string(kBreakage));
  }
  DockerClient docker(Ignite::docker::socket_from_env());
  for (const auto& script : checker.scripts) {
    const auto argv = checker.argv("/check/" + script.name);
    const CheckResult ok = run_check(docker, runtime.image, good.path(), argv);
    EXPECT_EQ(ok.status, 0) << script.name << " does not pass the check in " << runtime.image
                            << ":\n"
                            << ok.output;
    const CheckResult bad = run_check(docker, runtime.image, broken.path(), argv);
    EXPECT_NE(bad.status, 0) << "the check in " << runtime.image << " passes " << script.name
                             << " with a syntax error appended:\n"
                             << bad.output;
  }
}

INSTANTIATE_TEST_SUITE_P(Builtins, ContainerScripts, ::testing::ValuesIn(builtin_specs()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           for (char& ch : name) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return name;
                         });
