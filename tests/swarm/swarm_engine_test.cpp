// The swarm backend on a real 2-node Docker Swarm (made by tests/swarm/fixture.sh through
// swarm_test.sh, which passes SWARM_REGISTRY, SWARM_MANAGER_NODE, SWARM_WORKER_NODE and
// SWARM_WORKER_SOCKET): executions on both nodes with their placement (C++, C and Python),
// timeout, memory limit and output cap on the worker, input through a secret (and refused
// above the swarm's limit), cancellation and `ignite gc` leaving nothing in the swarm.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <future>
#include <nlohmann/json.hpp>
#include <set>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "ignite.h"
#include "ignite/error.hpp"
#include "ignite/ignite.hpp"
#include "ignite/json.hpp"
#include "ignite/src/docker/client.hpp"
#include "tests/test_util.hpp"

extern char** environ;

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using json = nlohmann::json;
using Ignite::Outcome;
using Ignite::testing::eventually;
using Ignite::testing::example_service;
using Ignite::testing::run_command;
using Ignite::testing::runfile;
using Ignite::testing::TempDir;
using Ignite::testing::write_file;
using ::testing::HasSubstr;

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    ADD_FAILURE() << name << " is not set: run this test through tests/swarm/swarm_test.sh";
    return {};
  }
  return v;
}

const std::string& registry() {
  static const std::string v = env("SWARM_REGISTRY");
  return v;
}
const std::string& manager_node() {
  static const std::string v = env("SWARM_MANAGER_NODE");
  return v;
}
const std::string& worker_node() {
  static const std::string v = env("SWARM_WORKER_NODE");
  return v;
}
const std::string& worker_socket() {
  static const std::string v = env("SWARM_WORKER_SOCKET");
  return v;
}

// Marks every swarm object of this test binary's engines (besides IGNITE_LABELS).
const std::string& run_label() {
  static const std::string v = "swarm-test-" + std::to_string(::getpid());
  return v;
}

Ignite::EngineOptions swarm_options() {
  Ignite::EngineOptions o;
  o.backend = Ignite::Backend::Swarm;
  o.registry = registry();
  o.labels = {{"ignite-swarm-test", run_label()}};
  return o;
}

Ignite::Engine& engine() {
  static Ignite::Engine e(swarm_options());
  return e;
}

Ignite::docker::DockerClient& manager() {
  static Ignite::docker::DockerClient c(Ignite::docker::socket_from_env());
  return c;
}

Ignite::docker::DockerClient& worker() {
  static Ignite::docker::DockerClient c(worker_socket());
  return c;
}

const std::vector<std::string> kMine = {"ignite-swarm-test=" + run_label()};

// Services and secrets of this binary's engines, and the task containers on both nodes.
std::string leftovers() {
  std::string left;
  for (const auto& s : manager().services_list(kMine))
    left += "service " + s["Spec"].value("Name", "") + "; ";
  for (const auto& s : manager().secrets_list(kMine))
    left += "secret " + s["Spec"].value("Name", "") + "; ";
  for (auto* d : {&manager(), &worker()}) {
    for (const auto& c : d->containers_list(kMine, true))
      left += "container " + c["Names"].dump() + "; ";
  }
  return left;
}

// A throwaway quickjs service whose index.js is `code`.
struct ScratchService {
  TempDir dir;
  Ignite::Service svc;
  explicit ScratchService(const std::string& code, int memory_mb = 64, int timeout_ms = 10000,
                          const std::string& name = "swarm-scratch") {
    write_file(
        dir.path() / "service.yaml",
        "service:\n  name: " + name + "\n  runtime: quickjs\n  entry: index.js\n  memoryMb: " +
            std::to_string(memory_mb) + "\n  timeoutMs: " + std::to_string(timeout_ms) + "\n");
    write_file(dir.path() / "index.js", code);
    svc = engine().load(dir.path());
  }
};

// Keeps a node from getting new tasks while in scope (docker node update --availability drain).
class Drained {
 public:
  explicit Drained(const std::string& node) : node_(node) { set("drain"); }
  ~Drained() { set("active"); }

 private:
  void set(const std::string& availability) {
    const auto r = run_command("docker node update --availability " + availability + " " + node_);
    EXPECT_EQ(r.status, 0) << r.err;
  }
  std::string node_;
};

void expect_hello(const Ignite::ExecutionResult& r, const std::string& name) {
  EXPECT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(
      r.stdout_text,
      "Hello, " + name + "!\n{\"ok\":true,\"runtime\":\"quickjs\",\"name\":\"" + name + "\"}\n");
  EXPECT_EQ(r.placement.backend, "swarm");
  EXPECT_EQ(r.placement.host, "unix://" + Ignite::docker::socket_from_env());
  EXPECT_THAT(r.placement.task, ::testing::SizeIs(25));
  EXPECT_TRUE(r.placement.node == manager_node() || r.placement.node == worker_node())
      << r.placement.node;
  EXPECT_THAT(r.image, ::testing::StartsWith(registry() + "/ignite-svc/hello-quickjs@sha256:"));
  ASSERT_TRUE(r.memory_peak_mb.has_value());  // from the task's own cgroup, via the supervisor
  EXPECT_GT(*r.memory_peak_mb, 0.5);
}

}  // namespace

TEST(Swarm, ExecutionsLandOnBothNodes) {
  const auto svc = engine().load(example_service("hello-quickjs"));
  std::set<std::string> nodes;
  {
    Drained d(manager_node());
    const auto r = engine().execute(svc, {.input = R"({"name":"Worker"})"});
    expect_hello(r, "Worker");
    EXPECT_EQ(r.placement.node, worker_node());
    nodes.insert(r.placement.node);
  }
  {
    Drained d(worker_node());
    const auto r = engine().execute(svc, {.input = R"({"name":"Manager"})"});
    expect_hello(r, "Manager");
    EXPECT_EQ(r.placement.node, manager_node());
    nodes.insert(r.placement.node);
  }
  // Concurrent executions spread over the nodes on their own.
  std::vector<std::future<Ignite::ExecutionResult>> runs;
  for (int i = 0; i < 4; ++i) {
    runs.push_back(std::async(std::launch::async, [&, i] {
      return engine().execute(svc, {.input = R"({"name":"C)" + std::to_string(i) + R"("})"});
    }));
  }
  for (int i = 0; i < 4; ++i) {
    const auto r = runs[i].get();
    expect_hello(r, "C" + std::to_string(i));
    nodes.insert(r.placement.node);
  }
  EXPECT_EQ(nodes.size(), 2u);
  // The report's JSON says where it ran.
  const auto r = engine().execute(svc, {.input = R"({"name":"Json"})"});
  const json j = json(engine().report(svc, engine().preflight(svc), r));
  const json& p = j.at("execution").at("placement");
  EXPECT_EQ(p.at("backend"), "swarm");
  EXPECT_EQ(p.at("node"), r.placement.node);
  EXPECT_EQ(p.at("task"), r.placement.task);
  engine().flush();
  EXPECT_TRUE(eventually([] { return leftovers().empty(); }, 15s)) << leftovers();
}

TEST(Swarm, ExitCodeAndStderrComeBack) {
  ScratchService s("std.err.puts('bad news\\n'); std.out.puts('partial'); std.exit(3);");
  const auto r = engine().execute(s.svc);
  EXPECT_EQ(r.outcome, Outcome::Error);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.stdout_text, "partial");  // no newline added: bytes as written
  EXPECT_EQ(r.stderr_text, "bad news\n");
}

TEST(Swarm, TimeoutHoldsOnTheWorker) {
  Drained d(manager_node());
  ScratchService s("print('looping'); std.out.flush(); for (;;) {}", 64, 2000, "swarm-timeout");
  const auto r = engine().execute(s.svc);
  EXPECT_EQ(r.outcome, Outcome::Timeout) << r.stderr_text;
  EXPECT_EQ(r.exit_code, 137);
  EXPECT_EQ(r.placement.node, worker_node());
  EXPECT_EQ(r.stdout_text, "looping\n");
  EXPECT_GE(r.phases.run, 2000ms);
  EXPECT_LE(r.phases.run, 4000ms);
}

TEST(Swarm, MemoryLimitHoldsOnTheWorker) {
  Drained d(manager_node());
  ScratchService s(
      "const keep = []; for (;;) { const a = new Uint8Array(1 << 20); a.fill(1); keep.push(a); }",
      32, 20000, "swarm-oom");
  const auto r = engine().execute(s.svc);
  EXPECT_EQ(r.outcome, Outcome::MemoryLimit) << r.stderr_text;
  EXPECT_TRUE(r.oom_killed);
  EXPECT_EQ(r.exit_code, 137);
  EXPECT_EQ(r.placement.node, worker_node());
  ASSERT_TRUE(r.memory_peak_mb.has_value());
  EXPECT_EQ(*r.memory_peak_mb, 32);
}

TEST(Swarm, OutputCapHolds) {
  ScratchService s("const line = 'x'.repeat(1023) + '\\n'; for (;;) std.out.puts(line);", 64, 20000,
                   "swarm-flood");
  const auto r = engine().execute(s.svc, {.output_limit = 64 * 1024});
  EXPECT_EQ(r.outcome, Outcome::OutputLimit) << r.stderr_text;
  EXPECT_TRUE(r.stdout_truncated);
  EXPECT_EQ(r.stdout_text.size(), 64u * 1024);
}

TEST(Swarm, LargeInputRefusedClearly) {
  const auto svc = engine().load(example_service("hello-quickjs"));
  const std::string input = "{\"name\":\"" + std::string(600 * 1024, 'a') + "\"}";
  try {
    engine().execute(svc, {.input = input});
    FAIL() << "a 600 KiB input was accepted";
  } catch (const Ignite::Error& e) {
    EXPECT_EQ(e.code(), Ignite::ErrorCode::InvalidArgument);
    EXPECT_THAT(e.message(), HasSubstr("input: 614411 bytes"));
    EXPECT_THAT(e.message(), HasSubstr("512000 bytes"));
  }
  // Just below the limit goes through.
  const std::string fits = "{\"name\":\"" + std::string(500 * 1024 - 20, 'b') + "\"}";
  const auto r = engine().execute(svc, {.input = fits});
  EXPECT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  EXPECT_THAT(r.stdout_text, HasSubstr("\"name\":\"bbbb"));
  engine().flush();
  EXPECT_TRUE(eventually([] { return leftovers().empty(); }, 15s)) << leftovers();
}

TEST(Swarm, CancellationRemovesTheService) {
  ScratchService s("print('started'); std.out.flush(); for (;;) {}", 64, 60000, "swarm-cancel");
  std::stop_source stop;
  std::chrono::steady_clock::time_point stopped_at{};
  std::jthread canceller;
  Ignite::ExecuteOptions opt;
  opt.stop_token = stop.get_token();
  opt.on_stdout = [&](std::string_view) {
    if (canceller.joinable()) return;
    canceller = std::jthread([&] {
      std::this_thread::sleep_for(300ms);
      stopped_at = std::chrono::steady_clock::now();
      stop.request_stop();
    });
  };
  const auto r = engine().execute(s.svc, opt);
  const auto returned = std::chrono::steady_clock::now();
  canceller.join();
  EXPECT_EQ(r.outcome, Outcome::Cancelled);
  EXPECT_LE(returned - stopped_at, 1s);
  engine().flush();
  EXPECT_TRUE(eventually([] { return leftovers().empty(); }, 15s)) << leftovers();
}

TEST(Swarm, GcRemovesWhatADeadOwnerLeft) {
  ScratchService s("print('started'); std.out.flush(); for (;;) {}", 64, 120000, "swarm-orphan");
  const std::string cli = runfile("examples/cli/ignite").string();
  const std::string labels = "ignite-swarm-test=" + run_label();
  std::vector<std::string> args = {
      cli, "run", s.dir.path().string(), "--backend", "swarm", "--registry", registry()};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_items;
  for (char** e = environ; *e; ++e) {
    if (std::string_view(*e).rfind("IGNITE_LABELS=", 0) != 0) env_items.emplace_back(*e);
  }
  const char* outer = std::getenv("IGNITE_LABELS");
  env_items.push_back("IGNITE_LABELS=" + labels +
                      (outer && *outer ? "," + std::string(outer) : ""));
  std::vector<char*> envp;
  for (auto& e : env_items) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t child = 0;
  ASSERT_EQ(::posix_spawn(&child, cli.c_str(), nullptr, nullptr, argv.data(), envp.data()), 0);
  const std::vector<std::string> owned = {"dev.ignite.owner-pid=" + std::to_string(child)};
  const auto running = [&] {
    for (const auto& svc : manager().services_list(owned)) {
      for (const auto& t : manager().tasks_list(svc.value("ID", ""))) {
        if (t["Status"].value("State", "") == "running") return true;
      }
    }
    return false;
  };
  EXPECT_TRUE(eventually(running, 60s)) << "the CLI's swarm service never ran";
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_EQ(manager().services_list(owned).size(), 1u);
  EXPECT_EQ(manager().secrets_list(owned).size(), 0u);  // no input: no secret
  EXPECT_EQ(manager().networks_list(owned).size(), 1u);

  const auto gc = run_command(cli + " gc --json --backend swarm --registry " + registry());
  ASSERT_EQ(gc.status, 0) << gc.err;
  EXPECT_EQ(json::parse(gc.out).at("swarmObjects"), 2) << gc.out;  // the service, the network
  EXPECT_TRUE(manager().services_list(owned).empty());
  EXPECT_TRUE(manager().networks_list(owned).empty());
  EXPECT_TRUE(eventually([] { return leftovers().empty(); }, 15s)) << leftovers();
}

TEST(Swarm, CApiReportsPlacement) {
  ignite_engine_options o = IGNITE_ENGINE_OPTIONS_INIT;
  o.backend = IGNITE_BACKEND_SWARM;
  o.registry = registry().c_str();
  const std::string labels = "ignite-swarm-test=" + run_label();
  o.labels = labels.c_str();
  ignite_engine* e = nullptr;
  ASSERT_EQ(ignite_engine_new(&e, &o), IGNITE_OK) << ignite_error_last()->message;
  ignite_service* svc = nullptr;
  const std::string dir = example_service("hello-quickjs").string();
  ASSERT_EQ(ignite_service_load(&svc, e, dir.c_str()), IGNITE_OK) << ignite_error_last()->message;
  ignite_execute_options eo = IGNITE_EXECUTE_OPTIONS_INIT;
  eo.input_json = R"({"name":"C"})";
  ignite_result* r = nullptr;
  ASSERT_EQ(ignite_execute(&r, e, svc, &eo), IGNITE_OK) << ignite_error_last()->message;
  ignite_placement p{};
  ASSERT_EQ(ignite_result_placement(&p, r), IGNITE_OK);
  EXPECT_STREQ(p.backend, "swarm");
  EXPECT_TRUE(p.node == manager_node() || p.node == worker_node()) << p.node;
  EXPECT_EQ(std::strlen(p.task), 25u);
  char* text = nullptr;
  ASSERT_EQ(ignite_result_json(&text, r), IGNITE_OK);
  const json j = json::parse(text);
  ignite_free(text);
  EXPECT_EQ(j.at("placement").at("node"), p.node);
  EXPECT_EQ(j.at("placement").at("task"), p.task);
  ignite_result_free(r);
  ignite_service_free(svc);
  ignite_engine_free(e);  // waits for its removals
  EXPECT_TRUE(eventually([] { return leftovers().empty(); }, 15s)) << leftovers();
}

TEST(Swarm, PythonReportsPlacement) {
  const fs::path pkg = runfile("bindings/python/ignite/__init__.py").parent_path().parent_path();
  const fs::path script = runfile("tests/swarm/placement_check.py");
  const auto r =
      run_command("PYTHONPATH=" + pkg.string() + " IGNITE_REGISTRY=" + registry() +
                  " IGNITE_BACKEND=swarm IGNITE_LABELS=ignite-swarm-test=" + run_label() +
                  " python3 " + script.string() + " " + example_service("hello-quickjs").string() +
                  " " + manager_node() + " " + worker_node());
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("placement ok"));
  EXPECT_TRUE(eventually([] { return leftovers().empty(); }, 15s)) << leftovers();
}
