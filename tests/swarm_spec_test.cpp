// The swarm backend without a swarm: the service spec's hardening and labels (swarm_spec), the
// options and service settings refused before anything is created, and the placement in the
// JSON shape. The swarm itself is exercised by tests/swarm (a real 2-node swarm).
#include "ignite/src/swarm_spec.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "ignite/engine.hpp"
#include "ignite/error.hpp"
#include "ignite/json.hpp"
#include "tests/test_util.hpp"

using json = nlohmann::json;
using Ignite::testing::TempDir;
using Ignite::testing::write_file;
using ::testing::HasSubstr;

namespace {

struct Fixture {
  TempDir dir;
  Ignite::Service svc;
  std::string session = "0123456789abcdef";
  std::map<std::string, std::string> extra = {{"ci-run", "42"}};
  std::string tmpfs = "64m";
  Ignite::detail::ContainerDefaults defaults{session, extra, 256, tmpfs};
  explicit Fixture(const std::string& extra_yaml = "", const std::string& policy = "") {
    write_file(dir.path() / "service.yaml",
               "service:\n  name: spec-test\n  runtime: quickjs\n  entry: index.js\n"
               "  memoryMb: 48\n  timeoutMs: 3000\n" +
                   extra_yaml);
    write_file(dir.path() / "index.js", "print(1)\n");
    if (!policy.empty()) write_file(dir.path() / "ignite.policy.yaml", policy);
    svc = Ignite::Engine().load(dir.path());
  }
};

Ignite::EngineOptions swarm_options() {
  Ignite::EngineOptions o;
  o.backend = Ignite::Backend::Swarm;
  o.registry = "198.18.0.1:5000";
  o.docker_host = "unix:///nonexistent/ignite-swarm-spec-test.sock";  // never contacted
  return o;
}

}  // namespace

TEST(SwarmSpec, ServiceCarriesTheHardeningTheApiCanExpress) {
  Fixture f;
  Ignite::detail::Plan plan(Ignite::RuntimeRegistry::builtins().resolve("quickjs"));
  plan.memory_mb = 48;
  plan.cmd = {"qjs", "--std", "/app/index.js"};
  plan.base_env = {{"NODE_ENV", "production"}};
  plan.job_env = {{"IGNITE_INPUT", "{}"}};
  const Ignite::detail::SwarmJobSpec job{"ignite-spec-test-abc", "198.18.0.1:5000/x@sha256:00",
                                         "feedfacefeedface0123", "secret-id", "net-id"};
  const json spec = Ignite::detail::service_spec(f.defaults, f.svc, {}, plan, job);
  const json& task = spec.at("TaskTemplate");
  const json& c = task.at("ContainerSpec");
  EXPECT_EQ(c.at("Image"), "198.18.0.1:5000/x@sha256:00");
  EXPECT_EQ(c.at("User"), "1000:1000");
  EXPECT_EQ(c.at("ReadOnly"), true);
  EXPECT_EQ(c.at("CapabilityDrop"), json::array({"ALL"}));
  EXPECT_EQ(c.at("Init"), false);  // the supervisor is PID 1
  EXPECT_EQ(c.at("StopSignal"), "SIGKILL");
  EXPECT_EQ(c.at("Command"),
            json::array({"/opt/ignite/ignite-supervisor", "file", "/run/secrets/ignite-input", "--",
                         "qjs", "--std", "/app/index.js"}));
  EXPECT_THAT(c.at("Env").dump(), HasSubstr("IGNITE_SUPERVISOR_KEY=feedfacefeedface0123"));
  EXPECT_THAT(c.at("Env").dump(), HasSubstr("IGNITE_INPUT={}"));
  const json& mounts = c.at("Mounts");
  ASSERT_EQ(mounts.size(), 2u);
  EXPECT_EQ(mounts[0].at("Target"), "/tmp");
  EXPECT_EQ(mounts[0].at("TmpfsOptions").at("SizeBytes"), 64 * 1024 * 1024);
  EXPECT_EQ(mounts[1].at("Target"), "/dev/shm");
  EXPECT_EQ(mounts[1].at("ReadOnly"), true);
  EXPECT_EQ(c.at("Ulimits")[0].at("Name"), "nofile");
  const json& secret = c.at("Secrets")[0];
  EXPECT_EQ(secret.at("SecretID"), "secret-id");
  EXPECT_EQ(secret.at("File").at("Mode"), 0400);
  EXPECT_EQ(secret.at("File").at("UID"), "1000");
  const json& limits = task.at("Resources").at("Limits");
  EXPECT_EQ(limits.at("MemoryBytes"), 48 * 1024 * 1024);
  EXPECT_EQ(limits.at("NanoCPUs"), 1000000000);
  EXPECT_EQ(limits.at("Pids"), 256);
  EXPECT_EQ(task.at("RestartPolicy").at("Condition"), "none");
  EXPECT_EQ(task.at("Networks")[0].at("Target"), "net-id");
  EXPECT_EQ(task.at("LogDriver").at("Name"), "json-file");
  EXPECT_EQ(spec.at("Mode").at("Replicated").at("Replicas"), 1);
  const json& labels = spec.at("Labels");
  EXPECT_EQ(labels.at("dev.ignite.managed"), "true");
  EXPECT_EQ(labels.at("dev.ignite.session"), f.session);
  EXPECT_EQ(labels.at("dev.ignite.kind"), "swarm-service");
  EXPECT_EQ(labels.at("dev.ignite.service"), "spec-test");
  EXPECT_TRUE(labels.contains("dev.ignite.owner-pid"));
  EXPECT_EQ(labels.at("ci-run"), "42");
  // Task containers are the swarm's: marked as Ignite's, but no owner for the local reaper.
  EXPECT_EQ(c.at("Labels").at("dev.ignite.kind"), "swarm-task");
  EXPECT_FALSE(c.at("Labels").contains("dev.ignite.owner-pid"));
  EXPECT_FALSE(c.at("Labels").contains("dev.ignite.session"));

  // Without input: no secret, and the runtime's stdin is /dev/null ("-").
  const Ignite::detail::SwarmJobSpec bare{"n", "i", "feedfacefeedface0123", "", "net-id"};
  const json spec2 = Ignite::detail::service_spec(f.defaults, f.svc, {}, plan, bare);
  EXPECT_FALSE(spec2.at("TaskTemplate").at("ContainerSpec").contains("Secrets"));
  EXPECT_EQ(spec2.at("TaskTemplate").at("ContainerSpec").at("Command")[2], "-");
}

TEST(SwarmSpec, PolicyLimitsReachTheService) {
  Fixture f("", "security:\n  limits:\n    pids: 64\n    tmpfsMb: 8\n    openFiles: 100\n");
  Ignite::Engine engine;
  Ignite::detail::Plan plan(Ignite::RuntimeRegistry::builtins().resolve("quickjs"));
  plan.memory_mb = 48;
  plan.policy = Ignite::load_policy(f.svc.path);
  ASSERT_TRUE(plan.policy->source) << "policy file not found";
  const Ignite::detail::SwarmJobSpec job{"n", "i", "feedfacefeedface0123", "", "net"};
  const json c = Ignite::detail::service_spec(f.defaults, f.svc, {}, plan, job)["TaskTemplate"];
  EXPECT_EQ(c["Resources"]["Limits"]["Pids"], 64);
  EXPECT_EQ(c["ContainerSpec"]["Mounts"][0]["TmpfsOptions"]["SizeBytes"], 8 * 1024 * 1024);
  EXPECT_EQ(c["ContainerSpec"]["Ulimits"][0]["Soft"], 100);
}

TEST(SwarmSpec, InputSecretIsBase64AndBounded) {
  Fixture f;
  const json s = Ignite::detail::input_secret_spec(f.defaults, f.svc, "n", "{\"a\":1}");
  EXPECT_EQ(s.at("Data"), "eyJhIjoxfQ==");
  EXPECT_EQ(s.at("Labels").at("dev.ignite.kind"), "swarm-input");
  const std::string big(Ignite::detail::kMaxSwarmInput + 1, 'x');
  try {
    Ignite::detail::input_secret_spec(f.defaults, f.svc, "n", big);
    FAIL() << "an input over 500 KiB was accepted";
  } catch (const Ignite::Error& e) {
    EXPECT_EQ(e.code(), Ignite::ErrorCode::InvalidArgument);
    EXPECT_THAT(e.message(), HasSubstr("512001 bytes"));
    EXPECT_THAT(e.message(), HasSubstr("swarm"));
  }
  EXPECT_NO_THROW(Ignite::detail::input_secret_spec(
      f.defaults, f.svc, "n", std::string(Ignite::detail::kMaxSwarmInput, 'x')));
}

TEST(SwarmSpec, NetworkIsInternalOverlay) {
  Fixture f;
  const json n = Ignite::detail::network_spec(f.defaults, "ignite-net-x");
  EXPECT_EQ(n.at("Driver"), "overlay");
  EXPECT_EQ(n.at("Internal"), true);
  EXPECT_EQ(n.at("Attachable"), false);
  EXPECT_EQ(n.at("Labels").at("dev.ignite.kind"), "swarm-network");
}

TEST(SwarmOptions, RegistryRequiredAndChecked) {
  Ignite::EngineOptions o = swarm_options();
  o.registry = "";
  ::unsetenv("IGNITE_REGISTRY");
  try {
    Ignite::Engine e(o);
    FAIL() << "a swarm engine without a registry was made";
  } catch (const Ignite::Error& e) {
    EXPECT_EQ(e.code(), Ignite::ErrorCode::Config);
    EXPECT_THAT(e.message(), HasSubstr("IGNITE_REGISTRY"));
  }
  for (const char* bad : {"198.18.0.1", "https://198.18.0.1:5000", "198.18.0.1:0", "h:5000/path"}) {
    o.registry = bad;
    EXPECT_THROW(Ignite::Engine{o}, Ignite::Error) << bad;
  }
  ::setenv("IGNITE_BACKEND", "kubernetes", 1);
  try {
    Ignite::Engine e{Ignite::EngineOptions{}};
    FAIL() << "IGNITE_BACKEND=kubernetes was accepted";
  } catch (const Ignite::Error& e) {
    EXPECT_THAT(e.message(), HasSubstr("IGNITE_BACKEND=kubernetes"));
  }
  ::setenv("IGNITE_BACKEND", "swarm", 1);
  ::setenv("IGNITE_REGISTRY", "198.18.0.1:5000", 1);
  EXPECT_NO_THROW(Ignite::Engine{Ignite::EngineOptions{}});
  ::unsetenv("IGNITE_BACKEND");
  ::unsetenv("IGNITE_REGISTRY");
}

// What the swarm API cannot enforce is refused with a message, before the daemon is contacted
// (the socket does not exist: a contact would fail with DockerUnavailable instead).
TEST(SwarmOptions, UnenforceableSettingsRefusedBeforeAnythingIsCreated) {
  Ignite::Engine engine(swarm_options());
  const auto refused = [&](const Ignite::Service& svc, const Ignite::ExecuteOptions& opt,
                           const std::string& what) {
    try {
      engine.execute(svc, opt);
      ADD_FAILURE() << what << ": not refused";
    } catch (const Ignite::Error& e) {
      EXPECT_EQ(e.code(), Ignite::ErrorCode::Config) << e.what();
      EXPECT_THAT(e.message(), HasSubstr(what));
    }
  };
  Fixture plain;
  refused(plain.svc, {.audit = true}, "audit mode");
  refused(plain.svc, {.delivery = Ignite::CodeDelivery::Mount}, "delivery mount");
  Fixture net("  network: true\n");
  refused(net.svc, {}, "network: true");
  Fixture gvisor("", "security:\n  isolation: gvisor\n");
  refused(gvisor.svc, {}, "isolation: gvisor");
  Fixture nospawn("", "security:\n  process:\n    allowSpawn: false\n");
  refused(nospawn.svc, {}, "allowSpawn: false");
  refused(plain.svc, {.cpu_time_limit = std::chrono::milliseconds(100)}, "cpu_time_limit");
  Fixture cpu("  cpuTimeMs: 100\n");
  refused(cpu.svc, {}, "cpuTimeMs: a CPU-time limit is not available on the swarm backend");
}

TEST(Placement, JsonShape) {
  Ignite::ExecutionResult r;
  r.placement.host = "unix:///var/run/docker.sock";
  json j = r;
  EXPECT_EQ(j.at("placement"),
            (json{{"backend", "docker"}, {"host", "unix:///var/run/docker.sock"}}));
  r.placement = {"swarm", "unix:///var/run/docker.sock", "node1", "task1"};
  j = r;
  EXPECT_EQ(j.at("placement"), (json{{"backend", "swarm"},
                                     {"host", "unix:///var/run/docker.sock"},
                                     {"node", "node1"},
                                     {"task", "task1"}}));
  EXPECT_EQ(Ignite::to_string(Ignite::Backend::Swarm), "swarm");
}
