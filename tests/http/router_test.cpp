// The server's pure parts without sockets or Docker: routing, body validation, the guard
// (rate limit before auth, /health and /ready exempt), client identity behind proxies, the rate
// limiter, bearer auth, metrics text, the OpenAPI document and /ready's probe (with a fake ping).
#include "examples/http/router.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include <condition_variable>
#include <locale>
#include <mutex>
#include <thread>

#include "examples/http/auth.hpp"
#include "examples/http/connection_limit.hpp"
#include "examples/http/metrics.hpp"
#include "examples/http/openapi.hpp"
#include "examples/http/rate_limit.hpp"
#include "examples/http/readiness.hpp"
#include "examples/http/sse_queue.hpp"
#include "ignite/engine.hpp"
#include "ignite/error.hpp"
#include "ignite/service.hpp"
#include "tests/test_util.hpp"

using namespace ignite_http;
using Ignite::testing::eventually;
using ::testing::HasSubstr;
namespace ip = boost::asio::ip;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

nlohmann::json body_of(const Reply& r) { return nlohmann::json::parse(r.body); }

// Holds a fake ping until opened.
class Gate {
 public:
  void wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return open_; });
  }
  void open() {
    {
      std::lock_guard lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// Opens the gate when the test ends however it ends, before the probe (declared earlier) joins
// a pinger blocked on it.
struct OpenOnExit {
  Gate& gate;
  ~OpenOnExit() { gate.open(); }
};

// The replies a probe delivered, and when.
class Answers {
 public:
  ReadinessProbe::Done add() {
    return [this](Reply r) {
      std::lock_guard lock(mu_);
      got_.push_back(std::move(r));
    };
  }
  std::size_t size() const {
    std::lock_guard lock(mu_);
    return got_.size();
  }
  Reply at(std::size_t i) const {
    std::lock_guard lock(mu_);
    return got_.at(i);
  }

 private:
  mutable std::mutex mu_;
  std::vector<Reply> got_;
};

}  // namespace

TEST(MatchRoute, KnownRoutes) {
  struct Case {
    http::verb method;
    std::string target;
    RouteId id;
    std::string label;
    std::string name;
  };
  const std::vector<Case> cases = {
      {http::verb::get, "/health", RouteId::Health, "/health", ""},
      {http::verb::get, "/ready", RouteId::Ready, "/ready", ""},
      {http::verb::head, "/ready", RouteId::Ready, "/ready", ""},
      {http::verb::get, "/services", RouteId::Services, "/services", ""},
      {http::verb::get, "/services/", RouteId::Services, "/services", ""},
      {http::verb::get, "/services/a-b", RouteId::Service, "/services/{name}", "a-b"},
      {http::verb::get, "/services/x/preflight", RouteId::Preflight, "/services/{name}/preflight",
       "x"},
      {http::verb::post, "/services/x/execute?stream=1", RouteId::Execute,
       "/services/{name}/execute", "x"},
      {http::verb::post, "/services/a%5Cb/execute", RouteId::Execute, "/services/{name}/execute",
       "a\\b"},
      {http::verb::get, "/services/a%2Fb", RouteId::Service, "/services/{name}", "a/b"},
      {http::verb::get, "/metrics", RouteId::Metrics, "/metrics", ""},
      {http::verb::get, "/openapi.json", RouteId::OpenApi, "/openapi.json", ""},
  };
  for (const auto& c : cases) {
    const RouteMatch m = match_route(c.method, c.target);
    EXPECT_EQ(m.id, c.id) << c.target;
    EXPECT_EQ(m.label, c.label) << c.target;
    EXPECT_EQ(m.name, c.name) << c.target;
    EXPECT_TRUE(m.method_allowed) << c.target;
  }
  EXPECT_EQ(match_route(http::verb::post, "/services/x/execute?stream=1").query, "stream=1");
  EXPECT_EQ(match_route(http::verb::post, "/services/x/execute?stream=1").path,
            "/services/x/execute");
}

TEST(MatchRoute, UnknownAndWrongMethod) {
  EXPECT_EQ(match_route(http::verb::get, "/").id, RouteId::NotFound);
  EXPECT_EQ(match_route(http::verb::get, "/nope").label, "unmatched");
  EXPECT_EQ(match_route(http::verb::get, "/services/a/b/c").id, RouteId::NotFound);
  EXPECT_EQ(match_route(http::verb::get, "/services/a/other").id, RouteId::NotFound);
  EXPECT_EQ(match_route(http::verb::get, "http://evil/x").id, RouteId::NotFound);
  const RouteMatch m = match_route(http::verb::get, "/services/x/execute");
  EXPECT_EQ(m.id, RouteId::Execute);
  EXPECT_FALSE(m.method_allowed);
  EXPECT_EQ(m.allow, "POST");
  const RouteMatch ready = match_route(http::verb::post, "/ready");
  EXPECT_EQ(ready.id, RouteId::Ready);
  EXPECT_FALSE(ready.method_allowed);
  EXPECT_EQ(ready.allow, "GET, HEAD");
  EXPECT_FALSE(match_route(http::verb::put, "/health").method_allowed);
  EXPECT_FALSE(match_route(http::verb::head, "/services/x/execute").method_allowed);
}

// HEAD wherever GET is (a load balancer's HEAD /health must not get a 405 with a body).
TEST(MatchRoute, HeadOnEveryGetRoute) {
  for (const char* path : {"/health", "/ready", "/services", "/services/x", "/services/x/preflight",
                           "/metrics", "/openapi.json"}) {
    const RouteMatch head = match_route(http::verb::head, path);
    EXPECT_TRUE(head.method_allowed) << path;
    EXPECT_EQ(head.id, match_route(http::verb::get, path).id) << path;
    EXPECT_EQ(match_route(http::verb::post, path).allow, "GET, HEAD") << path;
  }
}

// service.yaml's overridableEnv is the whole list of what a client may set.
TEST(EnvAllowlist, OnlyDeclaredNamesPass) {
  Ignite::ServiceConfig config;
  EXPECT_EQ(check_env_allowed(config, {}), std::nullopt);
  const auto none = check_env_allowed(config, {{"NODE_OPTIONS", "--require /tmp/x.js"}});
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, http::status::bad_request);
  EXPECT_EQ(body_of(*none).at("code"), "ENV_NOT_ALLOWED");
  EXPECT_EQ(body_of(*none).at("field"), "env.NODE_OPTIONS");
  EXPECT_THAT(body_of(*none).at("error").get<std::string>(), HasSubstr("NODE_OPTIONS"));
  config.overridable_env = {"GREETING", "LOG_LEVEL"};
  EXPECT_EQ(check_env_allowed(config, {{"GREETING", "hi"}, {"LOG_LEVEL", "debug"}}), std::nullopt);
  const auto other = check_env_allowed(config, {{"GREETING", "hi"}, {"NODE_OPTIONS", "x"}});
  ASSERT_TRUE(other);
  EXPECT_EQ(body_of(*other).at("field"), "env.NODE_OPTIONS");
  EXPECT_THAT(body_of(*other).at("error").get<std::string>(), HasSubstr("GREETING, LOG_LEVEL"));
}

// A slow SSE reader: consecutive output is coalesced and the queue never holds more than its
// bound, whatever the service prints.
TEST(SseQueue, CoalescesAndStaysBounded) {
  SseQueue q(1000, 300);
  for (int i = 0; i < 10; ++i) q.push_output("stdout", "0123456789");
  EXPECT_EQ(q.size(), 1u);  // one event of 100 bytes, not ten
  q.push_output("stderr", "e");
  q.push_output("stdout", "x");
  EXPECT_EQ(q.size(), 3u);  // another stream breaks the run
  std::string ten;
  for (int i = 0; i < 10; ++i) ten += "0123456789";
  EXPECT_EQ(q.pop(), "event: stdout\ndata: \"" + ten + "\"\n\n");
  q.clear();
  // Events are cut at 300 bytes of text; the queue at 1000 bytes, then output is dropped.
  for (int i = 0; i < 1000; ++i) q.push_output("stdout", "0123456789");
  EXPECT_LE(q.output_bytes(), 1000u);
  EXPECT_EQ(q.dropped_bytes(), 10000u - q.output_bytes());
  EXPECT_GE(q.size(), 4u);
  // Once drained, the next output is preceded by a comment saying how much was dropped.
  while (!q.empty()) q.pop();
  q.push_output("stdout", "late");
  const std::string note = q.pop();
  EXPECT_EQ(note.rfind(": ", 0), 0u) << note;
  EXPECT_THAT(note, HasSubstr(std::to_string(q.dropped_bytes()) + " bytes of output not streamed"));
  EXPECT_EQ(q.pop(), "event: stdout\ndata: \"late\"\n\n");
}

TEST(ConnectionLimits, PerClientWithExemptions) {
  ConnectionLimits limits(2);
  EXPECT_TRUE(limits.try_acquire("a"));
  EXPECT_TRUE(limits.try_acquire("a"));
  EXPECT_FALSE(limits.try_acquire("a"));
  EXPECT_TRUE(limits.try_acquire("b"));
  EXPECT_TRUE(limits.try_acquire("a", /*exempt=*/true));
  EXPECT_EQ(limits.held("a"), 3u);
  limits.release("a");
  limits.release("a");
  EXPECT_TRUE(limits.try_acquire("a"));
  limits.release("a");
  limits.release("a");
  limits.release("b");
  EXPECT_EQ(limits.clients(), 0u);  // nothing kept for clients that left
  ConnectionLimits unlimited(0);
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(unlimited.try_acquire("a"));
}

TEST(QueryParam, Decodes) {
  EXPECT_EQ(query_param("a=1&stream=1", "stream"), "1");
  EXPECT_EQ(query_param("stream=tr%75e", "stream"), "true");
  EXPECT_EQ(query_param("stream", "stream"), "");
  EXPECT_EQ(query_param("a=1", "stream"), std::nullopt);
}

TEST(ExecuteBody, AcceptsTheDocumentedFields) {
  auto parsed = parse_execute_body(
      R"({"input":{"a":[1,2]},"skipPreflight":true,"audit":true,"env":{"A_1":"x"},"skipBuild":false,"cpuTimeMs":250.5})");
  ASSERT_TRUE(std::holds_alternative<ExecuteBody>(parsed));
  const auto& b = std::get<ExecuteBody>(parsed);
  EXPECT_EQ(b.input->dump(), R"({"a":[1,2]})");
  EXPECT_TRUE(b.skip_preflight);
  EXPECT_TRUE(b.audit);
  EXPECT_EQ(b.env.at("A_1"), "x");
  EXPECT_EQ(b.cpu_time_ms, 250.5);
  EXPECT_FALSE(std::get<ExecuteBody>(parse_execute_body("{}")).cpu_time_ms.has_value());
  EXPECT_TRUE(std::holds_alternative<ExecuteBody>(parse_execute_body("")));
  EXPECT_TRUE(std::holds_alternative<ExecuteBody>(parse_execute_body("  \n")));
  EXPECT_FALSE(std::get<ExecuteBody>(parse_execute_body("{}")).input.has_value());
  // Falsy inputs are inputs.
  EXPECT_EQ(std::get<ExecuteBody>(parse_execute_body(R"({"input":false})")).input->dump(), "false");
  EXPECT_EQ(std::get<ExecuteBody>(parse_execute_body(R"({"input":null})")).input->dump(), "null");
}

TEST(ExecuteBody, RejectsNamingTheField) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"timeout":5})", "timeout"},    {R"({"skipPreflight":1})", "skipPreflight"},
      {R"({"audit":"true"})", "audit"},   {R"({"env":"A=1"})", "env"},
      {R"({"env":{"A":true}})", "env.A"}, {R"({"env":{"A-B":"x"}})", "env.A-B"},
      {R"({"env":{"":"x"}})", "env."},    {R"("text")", "body"},
      {R"({"cpuTimeMs":0})", "cpuTimeMs"}, {R"({"cpuTimeMs":-3})", "cpuTimeMs"},
      {R"({"cpuTimeMs":"200"})", "cpuTimeMs"}, {R"({"cpuTimeMs":1e13})", "cpuTimeMs"},
  };
  for (const auto& [text, field] : cases) {
    const auto parsed = parse_execute_body(text);
    ASSERT_TRUE(std::holds_alternative<Reply>(parsed)) << text;
    const Reply& r = std::get<Reply>(parsed);
    EXPECT_EQ(r.status, http::status::bad_request);
    EXPECT_EQ(body_of(r).at("field"), field) << text;
    EXPECT_EQ(body_of(r).at("code"), "INVALID_BODY");
  }
  const auto bad = parse_execute_body("{oops");
  ASSERT_TRUE(std::holds_alternative<Reply>(bad));
  EXPECT_THAT(body_of(std::get<Reply>(bad)).at("error").get<std::string>(),
              HasSubstr("not valid JSON"));
}

TEST(ClientAddress, ForwardedForOnlyFromTrustedPeers) {
  TrustedProxies trusted;
  trusted.add("10.0.0.1");
  trusted.add("192.168.0.0/16");
  trusted.add("fd00::/8");
  const auto a = [](const char* s) { return ip::make_address(s); };
  EXPECT_EQ(client_address(a("1.2.3.4"), "9.9.9.9", trusted).to_string(), "1.2.3.4");
  EXPECT_EQ(client_address(a("10.0.0.1"), "", trusted).to_string(), "10.0.0.1");
  EXPECT_EQ(client_address(a("10.0.0.1"), "9.9.9.9", trusted).to_string(), "9.9.9.9");
  EXPECT_EQ(client_address(a("10.0.0.1"), "6.6.6.6, 9.9.9.9", trusted).to_string(), "9.9.9.9");
  EXPECT_EQ(client_address(a("10.0.0.1"), "9.9.9.9,192.168.3.3", trusted).to_string(), "9.9.9.9");
  EXPECT_EQ(client_address(a("10.0.0.1"), "junk, 192.168.3.3", trusted).to_string(), "192.168.3.3");
  EXPECT_EQ(client_address(a("10.0.0.1"), "2001:db8::1", trusted).to_string(), "2001:db8::1");
  EXPECT_EQ(client_address(a("fd12::5"), "8.8.8.8", trusted).to_string(), "8.8.8.8");
  EXPECT_EQ(client_address(a("::ffff:10.0.0.1"), "8.8.4.4", trusted).to_string(), "8.8.4.4");
  EXPECT_EQ(client_address(a("::ffff:1.2.3.4"), "", trusted).to_string(), "1.2.3.4");
  TrustedProxies none;
  EXPECT_EQ(client_address(a("10.0.0.1"), "9.9.9.9", none).to_string(), "10.0.0.1");
  EXPECT_THROW(trusted.add("not-an-ip"), std::invalid_argument);
  EXPECT_THROW(trusted.add("10.0.0.0/33"), std::invalid_argument);
}

TEST(RateLimitKey, Ipv6ClientsShareTheirSlash64) {
  EXPECT_EQ(rate_limit_key(ip::make_address("1.2.3.4")), "1.2.3.4");
  EXPECT_EQ(rate_limit_key(ip::make_address("::ffff:1.2.3.4")), "1.2.3.4");
  EXPECT_EQ(rate_limit_key(ip::make_address("2001:db8:1:2:aaaa::1")), "2001:db8:1:2::/64");
  EXPECT_EQ(rate_limit_key(ip::make_address("2001:db8:1:2:bbbb::9")), "2001:db8:1:2::/64");
}

TEST(RateLimiter, FixedWindowPerKey) {
  RateLimiter limiter(3, std::chrono::milliseconds(10000));
  const auto t0 = RateLimiter::Clock::now();
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.check("a", t0).allowed);
  const auto no = limiter.check("a", t0 + std::chrono::milliseconds(2500));
  EXPECT_FALSE(no.allowed);
  EXPECT_EQ(no.retry_after.count(), 8);  // ceil(7.5)
  EXPECT_TRUE(limiter.check("b", t0).allowed);
  EXPECT_TRUE(limiter.check("a", t0 + std::chrono::milliseconds(10001)).allowed);
  // Expired windows are swept.
  limiter.check("c", t0 + std::chrono::milliseconds(30000));
  EXPECT_EQ(limiter.tracked(), 1u);
  RateLimiter off(0, std::chrono::milliseconds(1000));
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(off.check("x").allowed);
}

TEST(BearerAuth, ComparesTheWholeToken) {
  BearerAuth auth("s3cret");
  EXPECT_TRUE(auth.enabled());
  EXPECT_TRUE(auth.check("Bearer s3cret"));
  EXPECT_TRUE(auth.check("bearer s3cret"));
  EXPECT_FALSE(auth.check("Bearer s3cre"));
  EXPECT_FALSE(auth.check("Bearer s3cret2"));
  EXPECT_FALSE(auth.check("Bearer S3CRET"));
  EXPECT_FALSE(auth.check("Basic s3cret"));
  EXPECT_FALSE(auth.check("s3cret"));
  EXPECT_FALSE(auth.check("Bearer"));
  EXPECT_FALSE(auth.check(""));
  EXPECT_FALSE(BearerAuth("").enabled());
  EXPECT_TRUE(BearerAuth("").check(""));
}

TEST(Router, GuardOrderAndHealthExemption) {
  Ignite::Engine engine;  // never contacts Docker for these routes
  BearerAuth auth("k");
  RateLimiter limiter(2, std::chrono::milliseconds(60000));
  Metrics metrics;
  ReadinessProbe readiness([] {}, "unix:///test.sock");
  Router router("/nonexistent", engine, auth, limiter, metrics, readiness, nullptr);
  http::fields none;
  http::fields good;
  good.set(http::field::authorization, "Bearer k");
  const auto health = match_route(http::verb::get, "/health");
  const auto services = match_route(http::verb::get, "/services");
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(router.admit(health, none, "c1").has_value());
  // Probes carry no key and are not rate-limited: /ready is admitted like /health.
  for (const auto method : {http::verb::get, http::verb::head}) {
    for (int i = 0; i < 5; ++i) {
      EXPECT_FALSE(router.admit(match_route(method, "/ready"), none, "c1").has_value());
    }
  }
  // Unauthenticated requests spend their own client's quota ...
  EXPECT_EQ(router.admit(services, none, "c1")->status, http::status::unauthorized);
  EXPECT_EQ(router.admit(services, none, "c1")->status, http::status::unauthorized);
  const auto limited = router.admit(services, good, "c1");
  ASSERT_TRUE(limited.has_value());
  EXPECT_EQ(limited->status, http::status::too_many_requests);
  EXPECT_EQ(limited->headers.at(0).first, http::field::retry_after);
  // ... never another's.
  EXPECT_FALSE(router.admit(services, good, "c2").has_value());
  EXPECT_EQ(router.admit(match_route(http::verb::get, "/x"), good, "c2")->status,
            http::status::not_found);
  EXPECT_EQ(router.admit(match_route(http::verb::get, "/services/a/execute"), good, "c3")->status,
            http::status::method_not_allowed);
  // A wrong method on /ready is guarded like any other route's.
  EXPECT_EQ(router.admit(match_route(http::verb::post, "/ready"), none, "c4")->status,
            http::status::unauthorized);
  const auto post_ready = router.admit(match_route(http::verb::post, "/ready"), good, "c4");
  EXPECT_EQ(post_ready->status, http::status::method_not_allowed);
}

TEST(Router, HealthAndMissingServicesDirectory) {
  Ignite::Engine engine;
  BearerAuth auth("");
  RateLimiter limiter(0, std::chrono::milliseconds(1000));
  Metrics metrics;
  ReadinessProbe readiness([] {}, "unix:///test.sock");
  Router router("/nonexistent-ignite-dir", engine, auth, limiter, metrics, readiness, nullptr);
  const auto h = body_of(router.health());
  EXPECT_EQ(h.at("status"), "ok");
  EXPECT_TRUE(h.at("uptime").is_number_integer());
  const Reply list = router.list_services();
  EXPECT_EQ(list.status, http::status::internal_server_error);
  EXPECT_EQ(body_of(list).at("code"), "LIST_ERROR");
  EXPECT_EQ(router.service_config("nope").status, http::status::not_found);
}

TEST(Metrics, RendersPrometheusText) {
  Metrics m;
  m.record_request("/health", 200);
  m.record_request("/health", 200);
  m.record_request("/services/{name}", 404);
  m.record_execution("success", 0.3);
  m.record_execution("rejected");
  Gauges g;
  g.queue_depth = 2;
  g.executions_running = 1;
  const std::string text = m.render(g);
  EXPECT_THAT(text, HasSubstr("ignite_http_requests_total{route=\"/health\",status=\"200\"} 2\n"));
  EXPECT_THAT(
      text, HasSubstr("ignite_http_requests_total{route=\"/services/{name}\",status=\"404\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("ignite_executions_total{outcome=\"rejected\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("ignite_execution_duration_seconds_bucket{le=\"0.25\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("ignite_execution_duration_seconds_bucket{le=\"0.5\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("ignite_execution_duration_seconds_bucket{le=\"+Inf\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("ignite_execution_duration_seconds_count 1\n"));
  EXPECT_THAT(text, HasSubstr("ignite_queue_depth 2\n"));
  EXPECT_THAT(text, HasSubstr("ignite_executions_running 1\n"));
  EXPECT_THAT(text,
              HasSubstr("ignite_http_connections_refused_total{reason=\"per_client_limit\"} 0\n"));
  m.record_connection_refused("per_client_limit");
  m.record_timeout("header");
  const std::string after = m.render(g);
  EXPECT_THAT(after,
              HasSubstr("ignite_http_connections_refused_total{reason=\"per_client_limit\"} 1\n"));
  EXPECT_THAT(after, HasSubstr("ignite_http_request_timeouts_total{phase=\"header\"} 1\n"));
  EXPECT_THAT(after, HasSubstr("ignite_http_request_timeouts_total{phase=\"body\"} 0\n"));
}

// A host application that sets a global locale with a decimal comma and digit grouping must not
// change the exposition format.
TEST(Metrics, IndependentOfTheGlobalLocale) {
  struct Commas : std::numpunct<char> {
    char do_decimal_point() const override { return ','; }
    char do_thousands_sep() const override { return '.'; }
    std::string do_grouping() const override { return "\3"; }
  };
  const std::locale previous = std::locale::global(std::locale(std::locale::classic(), new Commas));
  Metrics m;
  for (int i = 0; i < 1234; ++i) m.record_request("/health", 200);
  m.record_execution("success", 1234.5);
  Gauges g;
  g.uptime_seconds = 4321.25;
  g.queue_depth = 12345;
  const std::string text = m.render(g);
  std::locale::global(previous);
  EXPECT_THAT(text, HasSubstr("status=\"200\"} 1234\n"));
  EXPECT_THAT(text, HasSubstr("ignite_execution_duration_seconds_sum 1234.5\n"));
  EXPECT_THAT(text, HasSubstr("ignite_uptime_seconds 4321.25\n"));
  EXPECT_THAT(text, HasSubstr("ignite_queue_depth 12345\n"));
  EXPECT_THAT(text, HasSubstr("le=\"0.05\""));
}

TEST(OpenApi, DescribesEveryRoute) {
  const auto& doc = openapi_document();
  EXPECT_EQ(doc.at("openapi"), "3.0.3");
  for (const char* p :
       {"/health", "/ready", "/services", "/services/{name}", "/services/{name}/preflight",
        "/services/{name}/execute", "/metrics", "/openapi.json"}) {
    EXPECT_TRUE(doc.at("paths").contains(p)) << p;
  }
  EXPECT_TRUE(doc["paths"]["/services/{name}/execute"].contains("post"));
  for (const auto& [path, item] : doc.at("paths").items()) {
    EXPECT_EQ(item.contains("get"), item.contains("head")) << path;
  }
  EXPECT_EQ(doc["paths"]["/ready"]["get"]["security"], nlohmann::json::array());
  // The CPU-time limit: accepted in the request, reported in the metrics, an outcome of its own.
  const auto& schemas = doc.at("components").at("schemas");
  EXPECT_EQ(schemas.at("ExecuteRequest").at("properties").at("cpuTimeMs").at("type"), "number");
  const auto& metrics = schemas.at("ExecutionMetrics").at("properties");
  EXPECT_EQ(metrics.at("cpuTimeMs").at("type"), "number");
  EXPECT_EQ(metrics.at("executionTimeMs").at("type"), "number");
  const auto outcomes = metrics.at("outcome").at("enum");
  EXPECT_NE(std::find(outcomes.begin(), outcomes.end(), "cpu_limit"), outcomes.end());
  EXPECT_EQ(schemas.at("ServiceConfig").at("properties").at("cpuTimeMs").at("type"), "number");
}

// ---- /ready's probe --------------------------------------------------------------------------

TEST(Readiness, RouterHandsReadyToTheProbe) {
  Ignite::Engine engine;
  BearerAuth auth("");
  RateLimiter limiter(0, std::chrono::milliseconds(1000));
  Metrics metrics;
  Answers answers;
  ReadinessProbe readiness([] {}, "unix:///test.sock");
  Router router("/nonexistent", engine, auth, limiter, metrics, readiness, nullptr);
  Decision d = router.handle(match_route(http::verb::get, "/ready"), {});
  ASSERT_TRUE(std::holds_alternative<AsyncCall>(d));
  std::get<AsyncCall>(d).start(answers.add());
  ASSERT_TRUE(eventually([&] { return answers.size() == 1; }, 10s));
  EXPECT_EQ(answers.at(0).status, http::status::ok);
  EXPECT_EQ(body_of(answers.at(0)), nlohmann::json({{"status", "ready"}, {"docker", "ok"}}));
  EXPECT_EQ(readiness.pings(), 1u);
}

TEST(Readiness, FailuresAre503WithTheEnginesReason) {
  struct Case {
    Ignite::Error error;
    std::string code;
  };
  const std::vector<Case> cases = {
      {Ignite::Error(Ignite::ErrorCode::DockerUnavailable, "no daemon at unix:///x.sock"),
       "DOCKER_UNAVAILABLE"},
      {Ignite::Error(Ignite::ErrorCode::Docker, "ping Docker daemon: boom (HTTP 500)"),
       "DOCKER_ERROR"},
  };
  for (const auto& c : cases) {
    Answers answers;
    ReadinessProbe probe([&] { throw c.error; }, "unix:///x.sock");
    probe.check(answers.add());
    ASSERT_TRUE(eventually([&] { return answers.size() == 1; }, 10s)) << c.code;
    const Reply r = answers.at(0);
    EXPECT_EQ(r.status, http::status::service_unavailable);
    EXPECT_EQ(
        body_of(r),
        nlohmann::json({{"status", "not_ready"}, {"code", c.code}, {"error", c.error.message()}}));
  }
}

TEST(Readiness, ReusesAFreshResult) {
  Answers answers;
  ReadinessProbe probe([] {}, "unix:///x.sock", {.bound = 1000ms, .fresh = 60s});
  probe.check(answers.add());
  ASSERT_TRUE(eventually([&] { return answers.size() == 1; }, 10s));
  // Fresh: answered on the caller's thread, before check() returns, without a ping.
  for (int i = 0; i < 5; ++i) {
    probe.check(answers.add());
    EXPECT_EQ(answers.size(), 2u + i);
  }
  EXPECT_EQ(probe.pings(), 1u);
  EXPECT_EQ(answers.at(5).status, http::status::ok);

  // Stale (fresh = 0): every check pings again.
  Answers again;
  ReadinessProbe eager([] {}, "unix:///x.sock", {.bound = 1000ms, .fresh = 0ms});
  for (std::size_t i = 1; i <= 3; ++i) {
    eager.check(again.add());
    ASSERT_TRUE(eventually([&] { return again.size() == i; }, 10s));
  }
  EXPECT_EQ(eager.pings(), 3u);
}

TEST(Readiness, OnePingInFlightAndNobodyWaitsPastTheBound) {
  Gate gate;
  Answers answers;
  ReadinessProbe probe([&] { gate.wait(); }, "unix:///hang.sock", {.bound = 300ms, .fresh = 60s});
  OpenOnExit opener{gate};
  const auto t0 = Clock::now();
  for (int i = 0; i < 10; ++i) probe.check(answers.add());
  EXPECT_EQ(answers.size(), 0u);  // they wait for the one ping
  EXPECT_EQ(probe.pings(), 1u);
  // The hanging ping is not waited for: everyone gets a 503 once the bound has passed.
  ASSERT_TRUE(eventually([&] { return answers.size() == 10; }, 10s));
  EXPECT_GE(Clock::now() - t0, 300ms);
  for (std::size_t i = 0; i < 10; ++i) {
    const Reply r = answers.at(i);
    EXPECT_EQ(r.status, http::status::service_unavailable);
    EXPECT_EQ(body_of(r).at("code"), "DOCKER_UNAVAILABLE");
    EXPECT_THAT(body_of(r).at("error").get<std::string>(),
                HasSubstr("the Docker daemon at unix:///hang.sock did not answer GET /_ping "
                          "within 300 ms"));
  }
  // While it still hangs, a new request is answered at once, and starts no other ping.
  probe.check(answers.add());
  ASSERT_EQ(answers.size(), 11u);
  EXPECT_EQ(answers.at(10).status, http::status::service_unavailable);
  EXPECT_EQ(probe.pings(), 1u);
  // Its late answer serves the requests that follow.
  gate.open();
  ASSERT_TRUE(eventually(
      [&] {
        probe.check(answers.add());
        return answers.at(answers.size() - 1).status == http::status::ok;
      },
      10s));
  EXPECT_EQ(probe.pings(), 1u);
}

TEST(Readiness, AfterStopAnswersAtOnce) {
  Answers answers;
  ReadinessProbe probe([] {}, "unix:///x.sock");
  probe.stop();
  probe.check(answers.add());
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers.at(0).status, http::status::service_unavailable);
  EXPECT_EQ(body_of(answers.at(0)).at("code"), "SHUTTING_DOWN");
  probe.stop();  // idempotent
}
