// POST /services/{name}/execute against the real server and real containers: JSON answers,
// outcomes, preflight, audit, env overrides, SSE streaming, the concurrency cap, cancellation
// when the client goes away, and a real internal fault (500).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>

#include "tests/http/http_test_util.hpp"

using namespace ignite_http_test;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

namespace {

Request post(std::string body) {
  Request r;
  r.method = "POST";
  r.body = std::move(body);
  r.headers.push_back("Content-Type: application/json");
  r.headers.push_back(kAuth);
  return r;
}

std::vector<std::string> args(std::vector<std::string> extra = {}) {
  std::vector<std::string> a = {"--services",      services_dir().string(),
                                "--runtimes-file", runtimes_file().string(),
                                "--api-key",       kKey,
                                "--rate-limit",    "0"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return pred();
}

class Execute : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new ServerProcess(args({"--max-concurrent", "3"})); }
  static void TearDownTestSuite() {
    EXPECT_EQ(server_->stop(SIGTERM), 0) << server_->log();
    EXPECT_TRUE(containers_of(server_->pid()).empty());
    delete server_;
    server_ = nullptr;
  }
  static Response run(const std::string& name, const std::string& body = "{}",
                      const std::string& query = "") {
    return http(server_->url() + "/services/" + name + "/execute" + query, post(body));
  }
  static ServerProcess* server_;
};
ServerProcess* Execute::server_ = nullptr;

}  // namespace

TEST_F(Execute, HelloWithPreflight) {
  const auto r = run("hello-node");
  ASSERT_EQ(r.status, 200) << r.body;
  const auto j = r.json();
  EXPECT_EQ(j.at("success"), true);
  EXPECT_EQ(j.at("serviceName"), "hello-node");
  EXPECT_EQ(j.at("metrics").at("exitCode"), 0);
  EXPECT_EQ(j.at("metrics").at("outcome"), "success");
  EXPECT_THAT(j.at("metrics").at("stdout").get<std::string>(), HasSubstr("Hello, World!"));
  EXPECT_TRUE(j.at("metrics").at("executionTimeMs").is_number());
  ASSERT_TRUE(j.contains("preflight"));
  EXPECT_FALSE(j.at("preflight").at("checks").empty());
  EXPECT_FALSE(j.contains("securityAudit"));
}

TEST_F(Execute, InputReachesTheService) {
  const auto r = run("hello-node", R"({"input":{"name":"Elysia"}})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.json().at("metrics").at("stdout").get<std::string>(), HasSubstr("Hello, Elysia!"));
}

TEST_F(Execute, QuickJsRuns) {
  const auto r = run("hello-quickjs", R"({"input":{"name":"Q"},"skipPreflight":true})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("success"), true) << r.body;
  EXPECT_THAT(r.json().at("metrics").at("stdout").get<std::string>(), HasSubstr("Q"));
}

TEST_F(Execute, SkipPreflightLeavesItOut) {
  const auto r = run("hello-node", R"({"skipPreflight":true,"skipBuild":true})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(r.json().contains("preflight"));
  EXPECT_EQ(r.json().at("success"), true);
}

TEST_F(Execute, EnvOverrides) {
  // hello-node's service.yaml: overridableEnv: [GREETING].
  const auto r = run("hello-node", R"({"env":{"GREETING":"Howdy"},"skipPreflight":true})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.json().at("metrics").at("stdout").get<std::string>(), HasSubstr("Howdy, World!"));
}

// A client must not be able to set what changes how the runtime starts: only the names the
// service declares overridable pass, anything else is a 400 naming the variable, before any
// container exists.
TEST_F(Execute, EnvOutsideTheAllowlistIs400NamingTheVariable) {
  const auto r =
      run("hello-node", R"({"env":{"GREETING":"Hi","NODE_OPTIONS":"--require /app/evil.js"}})");
  ASSERT_EQ(r.status, 400) << r.body;
  const auto j = r.json();
  EXPECT_EQ(j.at("code"), "ENV_NOT_ALLOWED");
  EXPECT_EQ(j.at("field"), "env.NODE_OPTIONS");
  EXPECT_THAT(j.at("error").get<std::string>(), HasSubstr("NODE_OPTIONS"));
  EXPECT_EQ(j.at("success"), false);
  EXPECT_EQ(j.at("serviceName"), "hello-node");
  // A service that declares nothing accepts no env at all.
  const auto none = run("slow", R"({"env":{"ANYTHING":"x"},"skipPreflight":true})");
  ASSERT_EQ(none.status, 400) << none.body;
  EXPECT_EQ(none.json().at("field"), "env.ANYTHING");
  EXPECT_THAT(none.json().at("error").get<std::string>(), HasSubstr("overridableEnv"));
}

TEST_F(Execute, NonZeroExitIsNotSuccess) {
  const auto r = run("fail");
  ASSERT_EQ(r.status, 200) << r.body;
  const auto j = r.json();
  EXPECT_EQ(j.at("success"), false);
  EXPECT_EQ(j.at("metrics").at("outcome"), "error");
  EXPECT_EQ(j.at("metrics").at("exitCode"), 3);
  EXPECT_THAT(j.at("metrics").at("stderr").get<std::string>(), HasSubstr("boom"));
}

TEST_F(Execute, TimeoutIsNotSuccess) {
  const auto r = run("spin", R"({"skipPreflight":true})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("success"), false);
  EXPECT_EQ(r.json().at("metrics").at("outcome"), "timeout");
}

TEST_F(Execute, CpuTimeLimitFromTheRequest) {
  // A cold runtime's start-up alone takes more than 1 ms of CPU.
  const auto limited = run("hello-quickjs", R"({"cpuTimeMs":1})");
  ASSERT_EQ(limited.status, 200) << limited.body;
  const auto j = limited.json();
  EXPECT_EQ(j.at("success"), false);
  EXPECT_EQ(j.at("metrics").at("outcome"), "cpu_limit");
  EXPECT_GT(j.at("metrics").at("cpuTimeMs").get<double>(), 1.0);
  // Preflight saw the request's limit.
  EXPECT_THAT(j.at("preflight").dump(), HasSubstr("CPU-time limit 1ms"));
  const auto roomy = run("hello-quickjs", R"({"cpuTimeMs":5000})");
  ASSERT_EQ(roomy.status, 200) << roomy.body;
  EXPECT_EQ(roomy.json().at("metrics").at("outcome"), "success");
  EXPECT_LT(roomy.json().at("metrics").at("cpuTimeMs").get<double>(), 5000);
  const auto bad = run("hello-quickjs", R"({"cpuTimeMs":-1})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.json().at("field"), "cpuTimeMs");
}

TEST_F(Execute, PreflightFailureIs400) {
  const auto r = run("tiny");
  ASSERT_EQ(r.status, 400) << r.body;
  const auto j = r.json();
  EXPECT_EQ(j.at("success"), false);
  EXPECT_EQ(j.at("serviceName"), "tiny");
  EXPECT_EQ(j.at("error"), "Preflight checks failed");
  EXPECT_EQ(j.at("code"), "PREFLIGHT_FAILED");
  EXPECT_EQ(j.at("preflight").at("overallStatus"), "fail");
}

TEST_F(Execute, AuditAddsSecurityAudit) {
  const auto r = run("hello-node", R"({"audit":true,"skipPreflight":true})");
  ASSERT_EQ(r.status, 200) << r.body;
  const auto j = r.json();
  ASSERT_TRUE(j.contains("securityAudit")) << r.body;
  EXPECT_EQ(j.at("securityAudit").at("policy").at("network").at("enabled"), false);
  EXPECT_TRUE(j.at("securityAudit").at("summary").is_object());
}

TEST_F(Execute, MissingRuntimeImageIsA500) {
  // A real fault of the server's set-up: runtimes.yaml names an image the daemon lacks.
  const auto r = run("ghost", R"({"skipPreflight":true})");
  ASSERT_EQ(r.status, 500) << r.body;
  const auto j = r.json();
  EXPECT_EQ(j.at("success"), false);
  EXPECT_EQ(j.at("code"), "RUNTIME_ERROR");
  EXPECT_THAT(j.at("error").get<std::string>(), HasSubstr("ghost-missing"));
}

TEST_F(Execute, StreamsOutputAsServerSentEvents) {
  std::mutex mu;
  std::vector<std::pair<Clock::time_point, std::string>> pieces;
  Request req = post(R"({"input":{"ms":1500}})");
  req.on_data = [&](std::string_view d) {
    std::lock_guard lock(mu);
    pieces.emplace_back(Clock::now(), std::string(d));
    return true;
  };
  const auto r = http(server_->url() + "/services/slow/execute?stream=1", req);
  ASSERT_EQ(r.status, 200) << r.body << r.error;
  EXPECT_THAT(r.header("content-type"), HasSubstr("text/event-stream"));
  EXPECT_EQ(r.header("transfer-encoding"), "chunked");
  const auto events = parse_sse(r.body);
  ASSERT_EQ(events.size(), 4u) << r.body;
  EXPECT_EQ(events[0], (std::pair<std::string, std::string>{"stdout", "\"first\\n\""}));
  EXPECT_EQ(events[1], (std::pair<std::string, std::string>{"stderr", "\"oops\\n\""}));
  EXPECT_EQ(events[2], (std::pair<std::string, std::string>{"stdout", "\"second\\n\""}));
  EXPECT_EQ(events[3].first, "result");
  const auto result = nlohmann::json::parse(events[3].second);
  EXPECT_EQ(result.at("success"), true);
  EXPECT_EQ(result.at("serviceName"), "slow");
  EXPECT_EQ(result.at("metrics").at("stdout"), "first\nsecond\n");
  EXPECT_EQ(result.at("metrics").at("stderr"), "oops\n");
  ASSERT_TRUE(result.contains("preflight"));
  // Streamed, not buffered: "first" arrived well before the end.
  Clock::time_point first_at{}, result_at{};
  for (const auto& [t, d] : pieces) {
    if (first_at == Clock::time_point{} && d.find("first") != std::string::npos) first_at = t;
    if (d.find("event: result") != std::string::npos) result_at = t;
  }
  ASSERT_NE(first_at, Clock::time_point{});
  ASSERT_NE(result_at, Clock::time_point{});
  EXPECT_GE(result_at - first_at, 1000ms);
}

TEST_F(Execute, StreamingOverHttp10IsCloseDelimited) {
  RawConnection c(server_->port());
  const std::string body = R"({"input":{"ms":100},"skipPreflight":true})";
  ASSERT_TRUE(c.send("POST /services/slow/execute?stream=1 HTTP/1.0\r\n" + kAuth +
                     "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body));
  ASSERT_TRUE(c.wait_closed(60s));
  const std::string& raw = c.received();
  ASSERT_THAT(raw, HasSubstr("200 OK"));
  EXPECT_THAT(raw, HasSubstr("text/event-stream"));
  EXPECT_THAT(raw, ::testing::Not(HasSubstr("chunked")));
  const auto events = parse_sse(raw.substr(raw.find("\r\n\r\n") + 4));
  ASSERT_FALSE(events.empty()) << raw;
  EXPECT_EQ(events.back().first, "result");
}

// A streamed request is answered as soon as it has a queue place (so heartbeats cover the wait
// and the image build); a failed preflight then ends the stream with an `error` event that
// says which status the plain answer would have had.
TEST_F(Execute, StreamPreflightFailureIsAnErrorEvent) {
  const auto r = run("tiny", "{}", "?stream=1");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.header("content-type"), HasSubstr("text/event-stream"));
  EXPECT_THAT(r.body, HasSubstr("retry: "));
  const auto events = parse_sse(r.body);
  ASSERT_FALSE(events.empty()) << r.body;
  EXPECT_EQ(events.back().first, "error");
  const auto e = nlohmann::json::parse(events.back().second);
  EXPECT_EQ(e.at("code"), "PREFLIGHT_FAILED");
  EXPECT_EQ(e.at("status"), 400);
  EXPECT_EQ(e.at("requestId"), r.header("x-request-id"));
  EXPECT_TRUE(e.contains("preflight"));
}

TEST_F(Execute, StreamEndsWithErrorEventOnInternalFault) {
  const auto r = run("ghost", R"({"skipPreflight":true})", "?stream=1");
  ASSERT_EQ(r.status, 200) << r.body;
  const auto events = parse_sse(r.body);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().first, "error");
  EXPECT_EQ(nlohmann::json::parse(events.back().second).at("code"), "RUNTIME_ERROR");
}

TEST_F(Execute, HealthStaysFastWhileExecutionsRun) {
  std::vector<std::future<Response>> running;
  for (int i = 0; i < 2; ++i) {
    running.push_back(std::async(std::launch::async, [] {
      return run("slow", R"({"input":{"ms":6000},"skipPreflight":true})");
    }));
  }
  // Both executions are running (not merely sent): the server's own gauge says so.
  Request authed;
  authed.headers.push_back(kAuth);
  ASSERT_TRUE(eventually(
      [&] {
        return metric(http(server_->url() + "/metrics", authed).body, "ignite_executions_running")
                   .value_or(0) >= 2;
      },
      30s));
  for (int i = 0; i < 5; ++i) {
    const auto t0 = Clock::now();
    EXPECT_EQ(http(server_->url() + "/health").status, 200);
    // Blocked behind the executions, /health would take their 6 s; 1.5 s is room for a
    // loaded 2-core host.
    EXPECT_LT(Clock::now() - t0, 1500ms);
  }
  for (auto& f : running) EXPECT_EQ(f.get().status, 200);
}

TEST_F(Execute, ClientDisconnectCancelsTheExecution) {
  const auto before = http(server_->url() + "/metrics", [] {
    Request r;
    r.headers.push_back(kAuth);
    return r;
  }());
  const double cancelled0 =
      metric(before.body, "ignite_executions_total{outcome=\"cancelled\"}").value_or(0);
  Request req = post(R"({"input":{"ms":60000},"skipPreflight":true})");
  req.on_data = [](std::string_view d) { return d.find("first") == std::string_view::npos; };
  const auto t0 = Clock::now();
  const auto r = http(server_->url() + "/services/slow/execute?stream=1", req);
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr("first"));
  // The container goes away long before the service's 60 s.
  EXPECT_TRUE(eventually([&] { return containers_of(server_->pid()).empty(); }, 15s))
      << [&] {
           std::string left;
           for (const auto& c : containers_of(server_->pid())) {
             left += c.value("State", "") + " " + c.value("Status", "") + " " +
                     c.at("Labels").value("dev.ignite.service", "") + "\n";
           }
           return left + server_->log();
         }();
  Request m;
  m.headers.push_back(kAuth);
  EXPECT_TRUE(eventually(
      [&] {
        const auto text = http(server_->url() + "/metrics", m).body;
        return metric(text, "ignite_executions_total{outcome=\"cancelled\"}").value_or(0) ==
               cancelled0 + 1;
      },
      15s));
  EXPECT_LT(Clock::now() - t0, 30s);
}

TEST_F(Execute, MetricsCountExecutions) {
  ASSERT_EQ(run("hello-node", R"({"skipPreflight":true})").status, 200);
  Request m;
  m.headers.push_back(kAuth);
  const auto text = http(server_->url() + "/metrics", m).body;
  EXPECT_GE(metric(text, "ignite_executions_total{outcome=\"success\"}").value_or(0), 1) << text;
  EXPECT_GE(metric(text, "ignite_execution_duration_seconds_count").value_or(0), 1);
  EXPECT_GT(metric(text, "ignite_execution_duration_seconds_sum").value_or(0), 0);
  EXPECT_GE(
      metric(text, "ignite_http_requests_total{route=\"/services/{name}/execute\",status=\"200\"}")
          .value_or(0),
      1);
}

// ---- warm pool -------------------------------------------------------------------------------

TEST(WarmPool, ServeWithPoolSizeAnswersFromPooledContainersAndLeavesNothing) {
  ServerProcess server(args({"--pool-size", "1"}));
  auto run = [&](const std::string& input) {
    return http(server.url() + "/services/hello-quickjs/execute",
                post(R"({"skipPreflight":true,"input":)" + input + "}"));
  };
  // The first execution of a service fills its pool (it waits for the container the pool is
  // starting); later ones are answered by ready containers.
  const auto first = run(R"({"name":"one"})");
  ASSERT_EQ(first.status, 200) << first.body;
  Request m;
  m.headers.push_back(kAuth);
  ASSERT_TRUE(eventually(
      [&] { return metric(http(server.url() + "/metrics", m).body, "ignite_pool_ready").value_or(0) == 1; },
      20s));
  const auto second = run(R"({"name":"two"})");
  ASSERT_EQ(second.status, 200) << second.body;
  const auto j = second.json();
  EXPECT_THAT(j.at("metrics").at("stdout").get<std::string>(), HasSubstr("Hello, two!"));
  EXPECT_EQ(j.at("metrics").at("container").at("start"), "warm");
  EXPECT_NE(j.at("metrics").at("container").at("id"), first.json().at("metrics").at("container").at("id"));
  const auto text = http(server.url() + "/metrics", m).body;
  EXPECT_GE(metric(text, "ignite_pool_dispatched_total").value_or(0), 2) << text;
  // Shutdown drains the pool: no ready container outlives the server.
  EXPECT_EQ(server.stop(SIGTERM), 0) << server.log();
  EXPECT_TRUE(containers_of(server.pid()).empty());
}

// ---- concurrency cap -------------------------------------------------------------------------

TEST(ConcurrencyCap, BurstGets503WhenQueueIsFullAndNothingIsLost) {
  ServerProcess s(args({"--max-concurrent", "1", "--queue", "1"}));
  // Warm the image so every request takes about the same time.
  ASSERT_EQ(
      http(s.url() + "/services/slow/execute", post(R"({"input":{"ms":0},"skipPreflight":true})"))
          .status,
      200);
  constexpr int kBurst = 6;
  std::vector<std::future<Response>> burst;
  for (int i = 0; i < kBurst; ++i) {
    burst.push_back(std::async(std::launch::async, [&] {
      return http(s.url() + "/services/slow/execute",
                  post(R"({"input":{"ms":2500},"skipPreflight":true})"));
    }));
  }
  // While the burst is in, one runs and one waits.
  Request m;
  m.headers.push_back(kAuth);
  bool saw_queue = eventually(
      [&] {
        const auto text = http(s.url() + "/metrics", m).body;
        return metric(text, "ignite_queue_depth").value_or(0) == 1 &&
               metric(text, "ignite_executions_running").value_or(0) == 1;
      },
      3s);
  EXPECT_TRUE(saw_queue);
  int ok = 0, busy = 0, other = 0;
  for (auto& f : burst) {
    const auto r = f.get();
    if (r.status == 200) {
      ++ok;
      EXPECT_EQ(r.json().at("success"), true) << r.body;
    } else if (r.status == 503) {
      ++busy;
      EXPECT_EQ(r.json().at("code"), "QUEUE_FULL");
      EXPECT_EQ(r.header("retry-after"), "1");
    } else {
      ++other;
      ADD_FAILURE() << r.status << " " << r.body << r.error;
    }
  }
  EXPECT_EQ(ok + busy, kBurst);  // every request was answered
  EXPECT_EQ(other, 0);
  EXPECT_GE(ok, 2);
  EXPECT_GE(busy, 1);
  const auto text = http(s.url() + "/metrics", m).body;
  EXPECT_EQ(metric(text, "ignite_executions_total{outcome=\"rejected\"}").value_or(0), busy)
      << text;
  EXPECT_EQ(
      metric(text, "ignite_http_requests_total{route=\"/services/{name}/execute\",status=\"503\"}")
          .value_or(0),
      busy);
  EXPECT_EQ(s.stop(SIGTERM), 0);
  EXPECT_TRUE(containers_of(s.pid()).empty());
}
