// The HTTP server while the real Docker daemon is frozen (issue 19): it keeps answering
// /health, /ready turns 503 with the reason, new executions are refused at once instead of
// queueing behind a daemon that does not answer, and after the thaw executions work again and
// nothing is left behind.
//
// The fixture freezes the dockerd this suite uses (SIGSTOP on the pid in /var/run/docker.pid)
// and always thaws it (SIGCONT): in its destructor, and from a watchdog process that thaws it
// when this test process dies or after 60 s. Tagged "exclusive" (nothing else of this suite
// talks to the daemon meanwhile); on a shared machine run it under
// `flock /work/.daemon-freeze.lock` as the other freeze tests.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "ignite/error.hpp"
#include "ignite/src/docker/client.hpp"
#include "tests/http/http_test_util.hpp"
#include "tests/frozen_daemon.hpp"
#include "tests/test_util.hpp"

using namespace ignite_http_test;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;
using Ignite::testing::eventually;

using Ignite::testing::FrozenDaemon;

namespace {

long long ms_since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

Request execute_request() {
  Request r;
  r.method = "POST";
  r.body = R"({"input":{"name":"stall"}})";
  r.timeout_ms = 60000;
  return r;
}

}  // namespace

TEST(ServerStall, LiveNotReadyRefusesFastAndRecovers) {
  ServerProcess s({"--services", services_dir().string(), "--rate-limit", "0"});
  const std::string url = s.url();
  // Warm: the image exists, the daemon answers.
  ASSERT_TRUE(eventually([&] { return http(url + "/ready").status == 200; }, 30s));
  const auto before = http(url + "/services/hello-quickjs/execute", execute_request());
  ASSERT_EQ(before.status, 200) << before.body;

  std::vector<long long> ready_ms, refused_ms, health_ms;
  {
    FrozenDaemon frozen;
    if (HasFatalFailure()) return;
    const auto frozen_at = Clock::now();
    // /ready turns 503 within its 1 s bound (once the cached "ready" is older than 1 s).
    Response ready;
    ASSERT_TRUE(eventually(
        [&] {
          const auto t = Clock::now();
          ready = http(url + "/ready");
          ready_ms.push_back(ms_since(t));
          return ready.status == 503;
        },
        10s))
        << ready.body;
    const auto not_ready_after = ms_since(frozen_at);
    EXPECT_EQ(ready.json().value("status", ""), "not_ready");
    EXPECT_EQ(ready.json().value("code", ""), "DOCKER_UNAVAILABLE");
    EXPECT_THAT(ready.json().value("error", ""), HasSubstr("did not answer")) << ready.body;
    // New executions are refused at once, with the reason; /health answers meanwhile.
    for (int i = 0; i < 5; ++i) {
      const auto t = Clock::now();
      const auto e = http(url + "/services/hello-quickjs/execute", execute_request());
      refused_ms.push_back(ms_since(t));
      EXPECT_EQ(e.status, 503) << e.body;
      EXPECT_EQ(e.json().value("code", ""), "DOCKER_UNAVAILABLE") << e.body;
      EXPECT_THAT(e.json().value("error", ""), HasSubstr("did not answer")) << e.body;
      EXPECT_EQ(e.header("retry-after"), "1");
      const auto h = Clock::now();
      EXPECT_EQ(http(url + "/health").status, 200);
      health_ms.push_back(ms_since(h));
    }
    const auto m = http(url + "/metrics");
    EXPECT_EQ(metric(m.body, "ignite_queue_depth"), 0) << m.body;
    EXPECT_EQ(metric(m.body, "ignite_executions_running"), 0) << m.body;
    std::cout << "[measure] frozen daemon: /ready 503 after " << not_ready_after
              << " ms; execute refused in";
    for (const auto t : refused_ms) std::cout << " " << t;
    std::cout << " ms; /health in";
    for (const auto t : health_ms) std::cout << " " << t;
    std::cout << " ms\n";
    for (const auto t : refused_ms) EXPECT_LT(t, 1500);
    for (const auto t : health_ms) EXPECT_LT(t, 500);
    frozen.thaw();
  }
  // After the thaw the same server executes again, without a restart.
  ASSERT_TRUE(eventually([&] { return http(url + "/ready").status == 200; }, 30s));
  const auto after = http(url + "/services/hello-quickjs/execute", execute_request());
  ASSERT_EQ(after.status, 200) << after.body;
  EXPECT_EQ(after.json().at("metrics").at("outcome"), "success");
  const pid_t pid = s.pid();
  EXPECT_EQ(s.stop(SIGTERM), 0) << s.log();
  EXPECT_TRUE(containers_of(pid).empty()) << ::testing::PrintToString(containers_of(pid));
}
