// Graceful shutdown of the real server with real containers: SIGTERM stops accepting, lets
// running executions finish within the grace period, cancels them after it (their containers
// removed), refuses what was still queued, and exits 0.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <thread>

#include "examples/http/server.hpp"
#include "ignite/engine.hpp"
#include "tests/http/http_test_util.hpp"
#include "tests/test_util.hpp"

using namespace ignite_http_test;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;
using Ignite::testing::eventually;

namespace {

Request post(std::string body) {
  Request r;
  r.method = "POST";
  r.body = std::move(body);
  r.headers.push_back("Content-Type: application/json");
  return r;
}

std::vector<std::string> args(std::vector<std::string> extra) {
  std::vector<std::string> a = {"--services", services_dir().string()};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

std::future<Response> execute_async(const ServerProcess& s, int ms) {
  const std::string url = s.url() + "/services/slow/execute";
  const std::string body = R"({"input":{"ms":)" + std::to_string(ms) + R"(},"skipPreflight":true})";
  return std::async(std::launch::async, [url, body] { return http(url, post(body)); });
}

}  // namespace

TEST(Shutdown, SigtermCancelsAfterGraceAndRemovesContainers) {
  ServerProcess s(args({"--grace-ms", "500"}));
  auto pending = execute_async(s, 60000);
  ASSERT_TRUE(eventually([&] { return !containers_of(s.pid()).empty(); }, 60s))
      << "the execution never started:\n"
      << s.log();
  const auto t0 = Clock::now();
  EXPECT_EQ(s.stop(SIGTERM, 60s), 0) << s.log();
  EXPECT_LT(Clock::now() - t0, 30s);
  const auto r = pending.get();
  ASSERT_EQ(r.status, 200) << r.body << r.error;
  EXPECT_EQ(r.json().at("success"), false);
  EXPECT_EQ(r.json().at("metrics").at("outcome"), "cancelled");
  EXPECT_TRUE(containers_of(s.pid()).empty()) << "containers left behind";
  EXPECT_THAT(s.log(), HasSubstr("Cancelling 1 execution(s)"));
  EXPECT_THAT(s.log(), HasSubstr("Ignite HTTP server stopped"));
}

TEST(Shutdown, SigtermLetsRunningExecutionsFinishAndRefusesNewWork) {
  ServerProcess s(args({"--grace-ms", "30000", "--max-concurrent", "1", "--queue", "1"}));
  auto running = execute_async(s, 2500);
  ASSERT_TRUE(eventually([&] { return !containers_of(s.pid()).empty(); }, 60s)) << s.log();
  auto queued = execute_async(s, 100);
  ASSERT_TRUE(eventually(
      [&] { return metric(http(s.url() + "/metrics").body, "ignite_queue_depth").value_or(0) >= 1; },
      20s))
      << "the second request never reached the queue\n"
      << s.log();
  const int port = s.port();
  const auto t0 = Clock::now();
  auto stopped = std::async(std::launch::async, [&] { return s.stop(SIGTERM, 60s); });
  // New connections are refused soon after the signal.
  EXPECT_TRUE(eventually([&] { return !can_connect(port); }, 5s));
  const auto r = running.get();
  ASSERT_EQ(r.status, 200) << r.body << r.error;
  EXPECT_EQ(r.json().at("success"), true) << r.body;
  EXPECT_EQ(r.json().at("metrics").at("outcome"), "success");
  const auto q = queued.get();
  EXPECT_EQ(q.status, 503) << q.body << q.error;
  EXPECT_EQ(q.json().value("code", ""), "SHUTTING_DOWN");
  EXPECT_EQ(stopped.get(), 0) << s.log();
  EXPECT_LT(Clock::now() - t0, 25s);
  EXPECT_TRUE(containers_of(s.pid()).empty());
  EXPECT_THAT(s.log(), ::testing::Not(HasSubstr("Cancelling")));
}

TEST(Shutdown, SecondSignalSkipsTheGracePeriod) {
  ServerProcess s(args({"--grace-ms", "600000"}));
  auto pending = execute_async(s, 60000);
  ASSERT_TRUE(eventually([&] { return !containers_of(s.pid()).empty(); }, 60s)) << s.log();
  ::kill(s.pid(), SIGTERM);
  ASSERT_TRUE(eventually([&] { return s.log().find("Received SIGTERM") != std::string::npos; }, 10s))
      << s.log();
  const auto t0 = Clock::now();
  EXPECT_EQ(s.stop(SIGINT, 60s), 0) << s.log();
  EXPECT_LT(Clock::now() - t0, 30s);
  EXPECT_EQ(pending.get().json().at("metrics").at("outcome"), "cancelled");
  EXPECT_TRUE(containers_of(s.pid()).empty());
}

TEST(Shutdown, IdleKeepAliveConnectionsDoNotDelayExit) {
  ServerProcess s(args({"--header-timeout-ms", "600000"}));
  RawConnection idle(s.port());
  ASSERT_TRUE(idle.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
  // Answered and now idle on a kept-alive connection.
  ASSERT_TRUE(eventually(
      [&] {
        idle.wait_closed(20ms);
        return idle.received().find("\r\n\r\n") != std::string::npos;
      },
      10s));
  const auto t0 = Clock::now();
  EXPECT_EQ(s.stop(SIGTERM, 30s), 0) << s.log();
  EXPECT_LT(Clock::now() - t0, 3s);
  EXPECT_TRUE(idle.wait_closed(2s));
  EXPECT_THAT(idle.received(), HasSubstr("200 OK"));
}

// ---- embedded: run_server with the host's stop token (how `ignite serve` runs it) -------------

namespace {

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace

TEST(Embedded, StopTokenShutsDownGracefullyWithoutSignalHandlers) {
  ignite_http::ServerOptions options;
  options.services_dir = services_dir();
  options.port = static_cast<unsigned>(free_port());
  options.grace = 300ms;
  Ignite::EngineOptions engine_options;
  engine_options.max_concurrent = options.max_concurrent;
  Ignite::Engine engine(engine_options);
  std::stop_source stop;
  int status = -1;
  std::thread server([&] { status = ignite_http::run_server(options, engine, stop.get_token()); });
  const std::string url = "http://127.0.0.1:" + std::to_string(options.port);
  ASSERT_TRUE(eventually([&] { return http(url + "/health").status == 200; }, 10s));
  // The host keeps its own signal dispositions.
  struct sigaction sa {};
  ::sigaction(SIGTERM, nullptr, &sa);
  EXPECT_EQ(sa.sa_handler, SIG_DFL);

  auto pending = std::async(std::launch::async, [&] {
    return http(url + "/services/slow/execute",
                post(R"({"input":{"ms":60000},"skipPreflight":true})"));
  });
  ASSERT_TRUE(eventually([&] { return !containers_of(::getpid()).empty(); }, 60s));
  stop.request_stop();
  server.join();
  EXPECT_EQ(status, 0);
  const auto r = pending.get();
  ASSERT_EQ(r.status, 200) << r.body << r.error;
  EXPECT_EQ(r.json().at("metrics").at("outcome"), "cancelled");
  EXPECT_TRUE(containers_of(::getpid()).empty());
  EXPECT_FALSE(can_connect(static_cast<int>(options.port)));
}
