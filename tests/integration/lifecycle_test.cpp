// Every wait of an execution is cancellable (a slot, an image build, a pooled container being
// started), clean-up never gives up (a container the Engine lost track of is swept), what a
// pooled runtime prints before it is ready is capped, and an Engine used in a forked child fails
// at once with a clear error.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "ignite/engine.hpp"
#include "ignite/error.hpp"
#include "ignite/src/docker/client.hpp"
#include "ignite/src/reaper.hpp"
#include "tests/test_util.hpp"

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Ignite::Outcome;
using Ignite::testing::eventually;
using Ignite::testing::TempDir;
using Ignite::testing::write_file;
using ::testing::HasSubstr;

namespace {

Ignite::docker::DockerClient& client() {
  static Ignite::docker::DockerClient c(Ignite::docker::socket_from_env());
  return c;
}

std::vector<nlohmann::json> session_containers(const Ignite::Engine& e) {
  return client().containers_list({"dev.ignite.session=" + e.session_id()}, true);
}

struct Scratch {
  TempDir dir;
  Scratch(const std::string& name, const std::string& runtime, const std::string& code,
          const std::string& extra_yaml = "") {
    write_file(dir.path() / "service.yaml", "service:\n  name: " + name + "\n  runtime: " +
                                                runtime + "\n  entry: index.js\n  memoryMb: 128\n"
                                                "  timeoutMs: 20000\n" + extra_yaml);
    write_file(dir.path() / "index.js", code);
  }
};

}  // namespace

TEST(Cancel, WhileWaitingForASlot) {
  Ignite::EngineOptions o;
  o.max_concurrent = 1;
  Ignite::Engine e(o);
  Scratch s("cancel-slot", "quickjs", "os.sleep(3000); print('done');");
  const auto svc = e.load(s.dir.path());
  auto holder = std::async(std::launch::async, [&] { return e.execute(svc); });
  ASSERT_TRUE(eventually([&] { return !session_containers(e).empty(); }, 30s));
  std::stop_source stop;
  auto waiting = std::async(std::launch::async,
                            [&] { return e.execute(svc, {.stop_token = stop.get_token()}); });
  // The only slot is taken for 3 s: the second execution cannot have a container yet.
  ASSERT_EQ(waiting.wait_for(300ms), std::future_status::timeout);
  EXPECT_EQ(session_containers(e).size(), 1u);
  const auto t0 = Clock::now();
  stop.request_stop();
  ASSERT_EQ(waiting.wait_for(2s), std::future_status::ready);
  EXPECT_LT(Clock::now() - t0, 1s);
  const auto r = waiting.get();
  EXPECT_EQ(r.outcome, Outcome::Cancelled);
  EXPECT_EQ(r.exit_code, -1);
  EXPECT_TRUE(r.container_id.empty());
  EXPECT_EQ(holder.get().outcome, Outcome::Success);
}

TEST(Cancel, DuringAnImageBuild) {
  // node_modules makes a per-service image; many files make its build take a while.
  Scratch s("cancel-build", "node@20", "console.log(require('dep'))");
  write_file(s.dir.path() / "node_modules/dep/index.js",
             "module.exports = 'dep-" + std::to_string(::getpid()) + "';");
  for (int i = 0; i < 3000; ++i) {
    write_file(s.dir.path() / ("node_modules/dep/data/f" + std::to_string(i) + ".txt"),
               std::string(512, 'a' + i % 26) + std::to_string(i));
  }
  Ignite::Engine e;
  const auto svc = e.load(s.dir.path());
  std::stop_source stop;
  Clock::time_point cancelled_at{};
  Ignite::ExecuteOptions opt;
  opt.stop_token = stop.get_token();
  // Cancelled from inside the build's own output: the build is certainly under way.
  opt.on_build_output = [&](std::string_view) {
    if (!stop.stop_requested()) {
      cancelled_at = Clock::now();
      stop.request_stop();
    }
  };
  const auto r = e.execute(svc, opt);
  const auto took = Clock::now() - cancelled_at;
  EXPECT_EQ(r.outcome, Outcome::Cancelled);
  EXPECT_TRUE(r.container_id.empty());
  ASSERT_NE(cancelled_at, Clock::time_point{}) << "the build printed nothing";
  EXPECT_LT(took, 1s);
  // Not cancelled, the next execution builds and runs.
  const auto again = e.execute(svc);
  EXPECT_EQ(again.outcome, Outcome::Success) << again.stderr_text;
  EXPECT_EQ(again.stdout_text, "dep-" + std::to_string(::getpid()) + "\n");
  // execute() returns on the job's end record, before its container has exited: its image is
  // in use until the queued removal is done.
  e.flush();
  for (const auto& img : client().images_list({"dev.ignite.service=cancel-build"})) {
    client().image_remove(img.at("Id").get<std::string>(), true);
  }
}

TEST(Cancel, WhileWaitingForAPooledContainer) {
  // The runtime's own start (code the service's NODE_OPTIONS loads first) takes 4 s, so a
  // pooled container is being started for that long.
  Scratch s("cancel-pool", "node@20", "console.log('ran')",
            "  env:\n    NODE_OPTIONS: --require /app/slow.cjs\n");
  write_file(s.dir.path() / "slow.cjs",
             "Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 4000);");
  Ignite::EngineOptions o;
  o.pool.size = 1;
  Ignite::Engine e(o);
  const auto svc = e.load(s.dir.path());
  auto filling = std::async(std::launch::async, [&] { return e.prewarm(svc); });
  ASSERT_TRUE(eventually([&] { return e.pool_stats().starting == 1; }, 30s));
  std::stop_source stop;
  auto waiting = std::async(std::launch::async,
                            [&] { return e.execute(svc, {.stop_token = stop.get_token()}); });
  ASSERT_EQ(waiting.wait_for(300ms), std::future_status::timeout);
  const auto t0 = Clock::now();
  stop.request_stop();
  ASSERT_EQ(waiting.wait_for(2s), std::future_status::ready);
  EXPECT_LT(Clock::now() - t0, 1s);
  EXPECT_EQ(waiting.get().outcome, Outcome::Cancelled);
  EXPECT_EQ(filling.get(), 1u);
  const auto r = e.execute(svc);
  EXPECT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  EXPECT_EQ(r.container_start, Ignite::ContainerStart::Warm);
}

TEST(Pool, WhatARuntimePrintsBeforeItIsReadyIsCapped) {
  // 1 MiB on stderr before the runner is ready (code the service's NODE_OPTIONS loads first).
  Scratch s("noisy-start", "node@20", "console.log('ran')",
            "  env:\n    NODE_OPTIONS: --require /app/noisy.cjs\n");
  // (Retrying EAGAIN: node may have made the stderr pipe non-blocking.)
  write_file(s.dir.path() / "noisy.cjs", R"(
const fs = require('fs');
const b = Buffer.from('n'.repeat(1 << 16));
const pause = new Int32Array(new SharedArrayBuffer(4));
for (let i = 0; i < 16; i++) {
  for (let off = 0; off < b.length;) {
    try { off += fs.writeSync(2, b, off); }
    catch (e) { if (e.code !== 'EAGAIN') throw e; Atomics.wait(pause, 0, 0, 1); }
  }
}
)");
  Ignite::EngineOptions o;
  o.pool.size = 1;
  Ignite::Engine e(o);
  const auto svc = e.load(s.dir.path());
  ASSERT_EQ(e.prewarm(svc), 1u);
  const auto r = e.execute(svc);
  EXPECT_EQ(r.outcome, Outcome::Success) << r.stderr_text.substr(0, 300);
  EXPECT_EQ(r.container_start, Ignite::ContainerStart::Warm);
  EXPECT_EQ(r.stdout_text, "ran\n");
  // Kept: the first 64 KiB of it, as the job's stderr.
  EXPECT_EQ(r.stderr_text.size(), 65536u);
  EXPECT_EQ(r.stderr_text.find_first_not_of('n'), std::string::npos);
}

TEST(Cleanup, ASweepRemovesContainersTheEngineLostTrackOf) {
  Ignite::EngineOptions o;
  o.cleanup.sweep_interval = 200ms;
  o.cleanup.sweep_grace = 0s;
  Ignite::Engine e(o);
  Scratch s("sweep", "quickjs", "os.sleep(1500); print('tracked');");
  const auto svc = e.load(s.dir.path());
  // A running execution (tracked) and a stray container of the same session (as a create that
  // timed out here but succeeded at the daemon would leave).
  auto running = std::async(std::launch::async, [&] { return e.execute(svc); });
  nlohmann::json labels = {{"dev.ignite.managed", "true"},
                           {"dev.ignite.session", e.session_id()},
                           {"dev.ignite.service", "stray"}};
  for (const auto& [k, v] : Ignite::detail::owner_labels()) labels[k] = v;
  const std::string stray = client().container_create(
      {{"Image", e.runtimes().resolve("quickjs").image},
       {"Cmd", {"qjs", "--std", "-e", "os.sleep(60000)"}},
       {"Labels", labels},
       {"HostConfig", {{"Memory", 32 << 20}, {"NetworkMode", "none"}}}});
  client().container_start(stray);
  EXPECT_TRUE(eventually(
      [&] {
        try {
          client().container_inspect(stray);
          return false;
        } catch (const Ignite::Error&) {
          return true;
        }
      },
      20s))
      << "the stray container was not swept";
  const auto r = running.get();
  EXPECT_EQ(r.outcome, Outcome::Success) << "the sweep removed a tracked container";
  EXPECT_EQ(r.stdout_text, "tracked\n");
}

TEST(Fork, AnEngineUsedInAForkedChildFailsAtOnce) {
  Ignite::EngineOptions o;
  o.pool.size = 1;
  Ignite::Engine e(o);
  const auto svc = e.load(Ignite::testing::example_service("hello-quickjs"));
  ASSERT_EQ(e.prewarm(svc), 1u);  // pool and remover threads exist in this process only
  TempDir dir;
  const std::string report = (dir.path() / "child").string();
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::string seen;
    int code = 0;
    try {
      e.execute(svc);
      seen = "executed";
      code = 2;
    } catch (const Ignite::Error& err) {
      seen = err.message();
      code = err.code() == Ignite::ErrorCode::InvalidArgument ? 0 : 3;
    }
    try {
      e.flush();
      code = code ? code : 4;
    } catch (const Ignite::Error&) {
    }
    write_file(report, seen);
    ::_exit(code);  // (exit() would run the parent's static destructors too)
  }
  int status = 0;
  ASSERT_TRUE(eventually([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, 10s))
      << "the child hung";
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << Ignite::testing::read_file(report);
  EXPECT_THAT(Ignite::testing::read_file(report), HasSubstr("forked child"));
  // The parent's Engine is unaffected.
  EXPECT_EQ(e.execute(svc).outcome, Outcome::Success);
}

TEST(Fork, AForkedChildsCopyOfAnEngineIsDestroyedWithoutHanging) {
  auto e = std::make_unique<Ignite::Engine>(Ignite::EngineOptions{.pool = {.size = 1}});
  const auto svc = e->load(Ignite::testing::example_service("hello-quickjs"));
  ASSERT_EQ(e->prewarm(svc), 1u);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    e.reset();  // joins nothing: the threads are the parent's
    ::_exit(0);
  }
  int status = 0;
  ASSERT_TRUE(eventually([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, 10s))
      << "the child's Engine destructor hung";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(e->pool_stats().ready, 1u) << "the child's destructor drained the parent's pool";
}

// CleanupOptions::auto_remove: the daemon deletes a supervised cold container as it exits, so
// nothing is queued for the Engine (its destructor has nothing to wait for) and nothing leaks,
// whether the service ended on its own or was killed at its timeout.
TEST(Cleanup, AutoRemoveLeavesTheDeletionToTheDaemon) {
  Scratch ok("auto-remove-ok", "node", "console.log('done')\n");
  Scratch slow("auto-remove-slow", "node", "setInterval(() => {}, 1000)\n");
  Ignite::EngineOptions eo;
  eo.cleanup.auto_remove = true;
  Ignite::Engine e(eo);
  std::string id;
  {
    const auto svc = e.load(ok.dir.path());
    Ignite::ExecuteOptions opt;
    opt.on_stdout = [&](std::string_view) {
      // While the job runs: the container was created with AutoRemove.
      if (!id.empty()) return;
      for (const auto& c : session_containers(e)) {
        id = c.value("Id", "");
        EXPECT_TRUE(client().container_inspect(id).at("HostConfig").value("AutoRemove", false));
      }
    };
    const auto r = e.execute(svc, opt);
    ASSERT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.stdout_text, "done\n");
  }
  EXPECT_FALSE(id.empty()) << "the container was never seen";
  EXPECT_TRUE(eventually([&] { return session_containers(e).empty(); }, 10s));
  {
    const auto svc = e.load(slow.dir.path());
    Ignite::ExecuteOptions opt;
    opt.timeout = 1500ms;
    const auto r = e.execute(svc, opt);
    EXPECT_EQ(r.outcome, Outcome::Timeout);
  }
  EXPECT_TRUE(eventually([&] { return session_containers(e).empty(); }, 10s));
  EXPECT_EQ(e.remove_containers(), 0u);
}
