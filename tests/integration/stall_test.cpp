// A stalled Docker daemon never stalls the caller. The fixture freezes the dockerd this suite
// uses (SIGSTOP) and always thaws it (SIGCONT): in teardown, and from a watchdog process that
// thaws it when this test process dies or after 60 s, whatever happens here. The target is
// tagged "exclusive": no other test talks to the daemon while it is frozen.
//
// During the freeze: a run fails within its documented bound, naming the stall; a cancellation
// (stop token) returns `cancelled` within a second, also while a call is in flight; SIGTERM
// ends the CLI within 2 s. After the thaw the same Engine executes normally and nothing leaked.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <future>
#include <thread>

#include "ignite.h"
#include "ignite/engine.hpp"
#include "ignite/error.hpp"
#include "ignite/src/docker/client.hpp"
#include "tests/frozen_daemon.hpp"
#include "tests/test_util.hpp"

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Ignite::Outcome;
using Ignite::testing::eventually;
using Ignite::testing::example_service;
using Ignite::testing::runfile;
using Ignite::testing::TempDir;
using Ignite::testing::write_file;
using ::testing::HasSubstr;

using Ignite::testing::FrozenDaemon;

namespace {

// Short bounds so the tests are quick; the defaults are longer (engine.hpp).
Ignite::EngineOptions stall_options() {
  Ignite::EngineOptions o;
  o.docker_timeouts.metadata = 2s;
  o.docker_timeouts.lifecycle = 3s;
  o.cleanup.sweep_interval = 500ms;
  o.cleanup.sweep_grace = 0s;
  return o;
}

std::vector<nlohmann::json> session_containers(const Ignite::Engine& e) {
  Ignite::docker::DockerClient client(Ignite::docker::socket_from_env());
  return client.containers_list({"dev.ignite.session=" + e.session_id()}, true);
}

Ignite::Service sleeper(Ignite::Engine& e, const TempDir& dir, int ms) {
  write_file(dir.path() / "service.yaml",
             "service:\n  name: stall-sleep\n  runtime: quickjs\n  entry: index.js\n"
             "  memoryMb: 32\n  timeoutMs: 20000\n");
  write_file(dir.path() / "index.js", "os.sleep(" + std::to_string(ms) + "); print('slept');");
  return e.load(dir.path());
}

}  // namespace

TEST(Stall, RunDuringFreezeFailsWithinItsBoundAndTheEngineRecovers) {
  Ignite::Engine e(stall_options());
  const auto svc = e.load(example_service("hello-quickjs"));
  ASSERT_EQ(e.execute(svc).outcome, Outcome::Success);  // image built, client connected
  {
    FrozenDaemon frozen;
    if (HasFatalFailure()) return;
    const auto t0 = Clock::now();
    try {
      e.execute(svc);
      ADD_FAILURE() << "an execution succeeded on a frozen daemon";
    } catch (const Ignite::Error& err) {
      EXPECT_EQ(err.code(), Ignite::ErrorCode::DockerUnavailable) << err.what();
      EXPECT_THAT(err.message(), HasSubstr("did not answer")) << err.what();
      EXPECT_THAT(err.message(), HasSubstr("within 3000 ms")) << err.what();
    }
    // The documented set-up bound: metadata + 3 x lifecycle (engine.hpp), plus room.
    EXPECT_LT(Clock::now() - t0, 2s + 3 * 3s + 2s);
  }
  // Thawed: the same Engine works, and a container the frozen daemon created late (its create
  // timed out here) is found by the sweep.
  const auto r = e.execute(svc, {.input = R"({"name":"Again"})"});
  EXPECT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  EXPECT_THAT(r.stdout_text, HasSubstr("Hello, Again!"));
  e.flush();
  EXPECT_TRUE(eventually([&] { return session_containers(e).empty(); }, 20s))
      << session_containers(e).size() << " container(s) of the session left";
}

TEST(Stall, CancelWhileACallIsInFlightReturnsWithinASecond) {
  Ignite::EngineOptions o = stall_options();
  o.docker_timeouts.lifecycle = 30s;  // the cancel, not the bound, must end the call
  Ignite::Engine e(o);
  TempDir dir;
  const auto svc = sleeper(e, dir, 100);
  ASSERT_EQ(e.execute(svc).outcome, Outcome::Success);
  FrozenDaemon frozen;
  if (HasFatalFailure()) return;
  std::stop_source stop;
  auto pending = std::async(std::launch::async, [&] {
    return e.execute(svc, {.stop_token = stop.get_token()});  // blocks in create
  });
  ASSERT_EQ(pending.wait_for(500ms), std::future_status::timeout) << "returned on a frozen daemon";
  const auto t0 = Clock::now();
  stop.request_stop();
  ASSERT_EQ(pending.wait_for(5s), std::future_status::ready);
  EXPECT_LT(Clock::now() - t0, 1s);
  const auto r = pending.get();
  EXPECT_EQ(r.outcome, Outcome::Cancelled);
  frozen.thaw();
  e.flush();
  EXPECT_TRUE(eventually([&] { return session_containers(e).empty(); }, 20s));
}

TEST(Stall, CancelWhileTheServiceRunsReturnsWithinASecond) {
  Ignite::Engine e(stall_options());
  TempDir dir;
  const auto svc = sleeper(e, dir, 8000);
  std::stop_source stop;
  auto pending = std::async(std::launch::async, [&] {
    return e.execute(svc, {.stop_token = stop.get_token()});
  });
  ASSERT_TRUE(eventually([&] { return !session_containers(e).empty(); }, 30s));
  ASSERT_TRUE(eventually(
      [&] {
        const auto list = session_containers(e);
        return !list.empty() && list[0].value("State", "") == "running";
      },
      30s));
  FrozenDaemon frozen;
  if (HasFatalFailure()) return;
  const auto t0 = Clock::now();
  stop.request_stop();
  ASSERT_EQ(pending.wait_for(5s), std::future_status::ready);
  EXPECT_LT(Clock::now() - t0, 1s);
  EXPECT_EQ(pending.get().outcome, Outcome::Cancelled);
  frozen.thaw();
  e.flush();
  EXPECT_TRUE(eventually([&] { return session_containers(e).empty(); }, 20s));
}

TEST(Stall, SigtermEndsTheCliWithinTwoSeconds) {
  TempDir dir, logs;
  const std::string name = "stall-cli-" + std::to_string(::getpid());
  write_file(dir.path() / "service.yaml", "service:\n  name: " + name +
                                              "\n  runtime: quickjs\n  entry: index.js\n"
                                              "  memoryMb: 32\n  timeoutMs: 20000\n");
  write_file(dir.path() / "index.js", "os.sleep(15000);");
  const std::string cli = runfile("examples/cli/ignite").string();
  const std::string svc = dir.path().string();
  const std::string err_path = (logs.path() / "err").string();
  Ignite::docker::DockerClient client(Ignite::docker::socket_from_env());
  for (const bool started : {true, false}) {
    SCOPED_TRACE(started ? "the service runs when the daemon freezes"
                         : "the CLI starts on a frozen daemon");
    std::optional<FrozenDaemon> frozen;
    if (!started) frozen.emplace();
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(err, 2);
      const int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 1);
      ::execl(cli.c_str(), cli.c_str(), "run", svc.c_str(), "--skip-preflight",
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    if (started) {
      ASSERT_TRUE(eventually(
          [&] {
            for (const auto& c : client.containers_list({"dev.ignite.service=" + name}, true)) {
              if (c.value("State", "") == "running") return true;
            }
            return false;
          },
          60s))
          << Ignite::testing::read_file(err_path);
      frozen.emplace();
    } else {
      std::this_thread::sleep_for(500ms);  // blocked on the frozen daemon by now (or soon)
    }
    const auto t0 = Clock::now();
    ::kill(pid, SIGTERM);
    int status = 0;
    ASSERT_TRUE(eventually([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, 10s))
        << "the CLI ignored SIGTERM on a frozen daemon";
    EXPECT_LT(Clock::now() - t0, 2s);
    ASSERT_TRUE(WIFEXITED(status)) << status;
    EXPECT_EQ(WEXITSTATUS(status), 128 + SIGTERM) << Ignite::testing::read_file(err_path);
    frozen.reset();
    // The CLI is gone; the next Engine on this host removes what it left (dead owner).
    Ignite::Engine next;
    next.ping();
    EXPECT_TRUE(eventually(
        [&] { return client.containers_list({"dev.ignite.service=" + name}, true).empty(); },
        20s));
  }
  for (const auto& img : client.images_list({"dev.ignite.service=" + name})) {
    client.image_remove(img.at("Id").get<std::string>(), true);
  }
}

TEST(Stall, ARemovalThatFailedIsRetriedUntilTheContainerIsGone) {
  Ignite::EngineOptions o = stall_options();
  o.cleanup.sweep_interval = 0ms;  // the retry, not the sweep, must remove it
  Ignite::Engine e(o);
  TempDir dir;
  const auto svc = sleeper(e, dir, 10);
  const auto r = e.execute(svc);
  ASSERT_EQ(r.outcome, Outcome::Success) << r.stderr_text;
  {
    // The removal (queued 100 ms after the exit) meets a frozen daemon and fails (3 s bound).
    FrozenDaemon frozen;
    if (HasFatalFailure()) return;
    std::this_thread::sleep_for(4s);
  }
  Ignite::docker::DockerClient client(Ignite::docker::socket_from_env());
  EXPECT_TRUE(eventually(
      [&] {
        try {
          client.container_inspect(r.container_id);
          return false;
        } catch (const Ignite::Error&) {
          return true;
        }
      },
      20s))
      << "the failed removal was not retried";
}

// The warm pool and reuse mode need no daemon call to start a job, but the job's output flows
// through the daemon: on a frozen daemon the execution still ends within timeoutMs plus the
// clean-up bound (documented in engine.hpp), as `timeout`.
TEST(Stall, PooledExecutionsEndWithinTheirBoundToo) {
  for (const std::size_t reuse : {std::size_t{1}, std::size_t{5}}) {
    SCOPED_TRACE(reuse > 1 ? "reuse mode" : "warm pool");
    Ignite::EngineOptions o = stall_options();
    o.pool.size = 1;
    o.pool.reuse = reuse;
    Ignite::Engine e(o);
    TempDir dir;
    const auto svc = sleeper(e, dir, 10);
    ASSERT_EQ(e.prewarm(svc), 1u);
    Ignite::ExecutionResult r;
    Clock::duration took{};
    {
      FrozenDaemon frozen;
      if (HasFatalFailure()) return;
      const auto t0 = Clock::now();
      r = e.execute(svc, {.timeout = 2s});
      took = Clock::now() - t0;
    }
    // timeout + kill (lifecycle, 3 s here) + room; nothing else is asked of a frozen daemon.
    EXPECT_LT(took, 2s + 3s + 2s);
    EXPECT_NE(r.container_start, Ignite::ContainerStart::Cold);
    EXPECT_EQ(r.outcome, Outcome::Timeout) << r.stdout_text;
    e.drain_pool();  // the refill after the job is the pool's, alive and ready
    e.flush();
    EXPECT_TRUE(eventually([&] { return session_containers(e).empty(); }, 20s));
  }
}

// The C API's cancel token ends an execution whose Engine API call is in flight within a
// second (the same stop token reaches the call through the C facade).
TEST(Stall, TheCCancelTokenEndsACallInFlightWithinASecond) {
  ignite_engine_options o = IGNITE_ENGINE_OPTIONS_INIT;
  o.lifecycle_timeout_ms = 30000;  // the cancel, not the bound, must end the call
  ignite_engine* engine = nullptr;
  ASSERT_EQ(ignite_engine_new(&engine, &o), IGNITE_OK);
  std::unique_ptr<ignite_engine, decltype(&ignite_engine_free)> owned(engine, ignite_engine_free);
  TempDir dir;
  write_file(dir.path() / "service.yaml",
             "service:\n  name: stall-capi\n  runtime: quickjs\n  entry: index.js\n"
             "  memoryMb: 32\n  timeoutMs: 20000\n");
  write_file(dir.path() / "index.js", "print('ran');");
  ignite_service* svc = nullptr;
  ASSERT_EQ(ignite_service_load(&svc, engine, dir.path().c_str()), IGNITE_OK);
  std::unique_ptr<ignite_service, decltype(&ignite_service_free)> owned_svc(svc,
                                                                           ignite_service_free);
  ignite_result* warm = nullptr;
  ASSERT_EQ(ignite_execute(&warm, engine, svc, nullptr), IGNITE_OK);  // image built
  ignite_result_free(warm);
  ignite_cancel_token* token = nullptr;
  ASSERT_EQ(ignite_cancel_token_new(&token), IGNITE_OK);
  std::unique_ptr<ignite_cancel_token, decltype(&ignite_cancel_token_free)> owned_token(
      token, ignite_cancel_token_free);
  FrozenDaemon frozen;
  if (HasFatalFailure()) return;
  auto pending = std::async(std::launch::async, [&] {
    ignite_execute_options x = IGNITE_EXECUTE_OPTIONS_INIT;
    x.cancel = token;
    ignite_result* r = nullptr;
    const ignite_status st = ignite_execute(&r, engine, svc, &x);
    ignite_outcome outcome = IGNITE_OUTCOME_SUCCESS;
    if (st == IGNITE_OK) ignite_result_outcome(&outcome, r);
    ignite_result_free(r);
    return std::pair{st, outcome};
  });
  ASSERT_EQ(pending.wait_for(500ms), std::future_status::timeout);
  const auto t0 = Clock::now();
  ASSERT_EQ(ignite_cancel_token_cancel(token), IGNITE_OK);
  ASSERT_EQ(pending.wait_for(5s), std::future_status::ready);
  EXPECT_LT(Clock::now() - t0, 1s);
  const auto [status, outcome] = pending.get();
  EXPECT_EQ(status, IGNITE_OK);
  EXPECT_EQ(outcome, IGNITE_OUTCOME_CANCELLED);
}
