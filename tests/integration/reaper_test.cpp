// Crash-proof cleanup: a CLI killed with SIGKILL mid-run leaves its container; the next Engine
// on this host removes it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "ignite/engine.hpp"
#include "ignite/src/docker/client.hpp"
#include "tests/test_util.hpp"

using namespace std::chrono_literals;
using Ignite::testing::runfile;
using Ignite::testing::TempDir;
using Ignite::testing::write_file;

namespace {

std::vector<nlohmann::json> containers_of(Ignite::docker::DockerClient& c, const std::string& svc) {
  return c.containers_list({"dev.ignite.service=" + svc}, true);
}

// Starts `ignite run` on a 60 s service named `name` and SIGKILLs the CLI once its container
// runs, leaving the container behind.
void run_and_kill_cli(Ignite::docker::DockerClient& client, const std::string& name,
                      const TempDir& dir) {
  write_file(dir.path() / "service.yaml", "service:\n  name: " + name +
                                              "\n  runtime: quickjs\n  entry: index.js\n"
                                              "  memoryMb: 32\n  timeoutMs: 60000\n");
  write_file(dir.path() / "index.js", "os.sleep(60000);");
  const std::string cli = runfile("examples/cli/ignite").string();
  const std::string svc_dir = dir.path().string();

  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::execl(cli.c_str(), cli.c_str(), "run", svc_dir.c_str(), "--skip-preflight",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  bool running = false;
  for (int i = 0; i < 300 && !running; ++i) {
    for (const auto& c : containers_of(client, name)) {
      if (c.value("State", "") == "running") running = true;
    }
    if (!running) std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(running) << "the CLI never started its container";
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  ASSERT_EQ(containers_of(client, name).size(), 1u) << "SIGKILL should have left the container";
}

void remove_images(Ignite::docker::DockerClient& client, const std::string& name) {
  for (const auto& img : client.images_list({"dev.ignite.service=" + name})) {
    client.image_remove(img.at("Id").get<std::string>(), true);
  }
}

}  // namespace

TEST(Reaper, KilledCliLeavesNothingAfterNextEngine) {
  Ignite::docker::DockerClient client(Ignite::docker::socket_from_env());
  const std::string name = "reap-" + std::to_string(::getpid());
  TempDir dir;
  run_and_kill_cli(client, name, dir);
  if (HasFatalFailure()) return;

  Ignite::Engine next;
  next.ping();  // first contact with the daemon reaps what dead owners left (in the background)
  EXPECT_TRUE(Ignite::testing::eventually([&] { return containers_of(client, name).empty(); }, 10s));

  // Asserted on the state, not on who removed it: another test binary's Engine starting at the
  // same time reaps dead owners too. (How gc counts is checked in reaper_count_test.)
  const auto again = next.gc(false);
  EXPECT_TRUE(containers_of(client, name).empty());
  EXPECT_EQ(again.images, 0u);
  remove_images(client, name);
}

TEST(Reaper, IgniteGcCommandReportsWhatItRemoved) {
  Ignite::docker::DockerClient client(Ignite::docker::socket_from_env());
  const std::string name = "reap-gc-" + std::to_string(::getpid());
  TempDir dir;
  run_and_kill_cli(client, name, dir);
  if (HasFatalFailure()) return;
  const auto gc = Ignite::testing::run_command(runfile("examples/cli/ignite").string() + " gc --json");
  EXPECT_EQ(gc.status, 0) << gc.err;
  // The count is whatever this gc removed; another Engine on the host may have reaped the
  // container first, so the state is what is asserted.
  const auto doc = nlohmann::json::parse(gc.out);
  EXPECT_TRUE(doc.at("containers").is_number_unsigned()) << gc.out;
  EXPECT_TRUE(doc.at("images").is_number_unsigned()) << gc.out;
  EXPECT_TRUE(containers_of(client, name).empty());
  remove_images(client, name);
}

TEST(Reaper, LiveOwnersAreLeftAlone) {
  // A container owned by this (live) test process survives another Engine's reap.
  Ignite::docker::DockerClient client(Ignite::docker::socket_from_env());
  const std::string name = "alive-" + std::to_string(::getpid());
  TempDir dir;
  write_file(dir.path() / "service.yaml", "service:\n  name: " + name +
                                              "\n  runtime: quickjs\n  entry: index.js\n"
                                              "  memoryMb: 32\n  timeoutMs: 3000\n");
  write_file(dir.path() / "index.js", "os.sleep(1500); print('survived');");
  Ignite::Engine owner;
  const auto svc = owner.load(dir.path());
  Ignite::ExecutionResult result;
  std::jthread run(Ignite::testing::guarded([&] { result = owner.execute(svc); }));
  bool running = false;
  for (int i = 0; i < 200 && !running; ++i) {
    running = !containers_of(client, name).empty();
    if (!running) std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(running);
  Ignite::Engine other;
  other.gc(false);  // (its count may include dead owners' containers of other test binaries)
  EXPECT_FALSE(containers_of(client, name).empty()) << "a live owner's container was reaped";
  run.join();
  EXPECT_EQ(result.outcome, Ignite::Outcome::Success);
  EXPECT_EQ(result.stdout_text, "survived\n");
  // execute() returns on the job's end record, before its container has exited: its image is
  // in use until the queued removal is done.
  owner.flush();
  remove_images(client, name);
}

// A process that dies with a full warm pool leaves running, ready containers: the next Engine
// removes them like any other container of a dead owner.
TEST(Reaper, KilledProcessWithAWarmPoolLeavesNothingAfterNextEngine) {
  const std::string name = "reap-pool-" + std::to_string(::getpid());
  TempDir dir;
  write_file(dir.path() / "service.yaml", "service:\n  name: " + name +
                                              "\n  runtime: quickjs\n  entry: index.js\n"
                                              "  memoryMb: 32\n  timeoutMs: 10000\n");
  write_file(dir.path() / "index.js", "print('hi');");
  // Forked before this process has any Engine threads (earlier tests joined theirs).
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    try {
      Ignite::EngineOptions o;
      o.pool.size = 2;
      Ignite::Engine e(o);
      const auto svc = e.load(dir.path());
      if (e.prewarm(svc) != 2) ::_exit(3);
      // Stays alive with its pool full until the parent kills it: returning would run the
      // Engine's destructor, which removes the pool (not a crash).
      for (;;) ::pause();
    } catch (...) {
      ::_exit(4);
    }
  }
  // Made after the fork: a connection shared with the child would mix both sides' replies.
  Ignite::docker::DockerClient client(Ignite::docker::socket_from_env());
  // The child is killed as soon as its pool is full: wait for that from outside.
  int early = 0;
  const bool full = Ignite::testing::eventually(
      [&] {
        if (::waitpid(pid, &early, WNOHANG) == pid) return true;  // ended: reported below
        std::size_t running = 0;
        for (const auto& c :
             client.containers_list({"dev.ignite.service=" + name, "dev.ignite.pool=warm"}, true)) {
          if (c.value("State", "") == "running") ++running;
        }
        return running == 2;
      },
      60s);
  ASSERT_EQ(early, 0) << "the child ended on its own (status " << early << ")";
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(full) << "the child never filled its pool (exit status " << status << ")";
  ASSERT_TRUE(WIFSIGNALED(status)) << "the child ended on its own (status " << status << ")";
  ASSERT_EQ(containers_of(client, name).size(), 2u) << "SIGKILL should have left the pool";

  Ignite::Engine next;
  next.ping();  // reaps: the daemon kills and deletes the running pooled containers
  Ignite::testing::eventually([&] { return containers_of(client, name).empty(); }, 10s);
  for (const auto& c : containers_of(client, name)) {
    ADD_FAILURE() << "left: " << c.value("State", "") << " " << c.at("Labels").dump()
                  << " (child pid " << pid << ")";
  }
  // (How many this Engine counts is not asserted: any other Engine starting on the host at the
  // same time, such as another test binary's, reaps dead owners too.)
  remove_images(client, name);
}
