// The server's pure parts without sockets or Docker: routing, body validation, the guard
// (rate limit before auth, /health exempt), client identity behind proxies, the rate limiter,
// bearer auth, metrics text and the OpenAPI document.
#include "examples/http/router.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "examples/http/auth.hpp"
#include "examples/http/metrics.hpp"
#include "examples/http/openapi.hpp"
#include "examples/http/rate_limit.hpp"
#include "ignite/engine.hpp"

using namespace ignite_http;
using ::testing::HasSubstr;
namespace ip = boost::asio::ip;

namespace {

nlohmann::json body_of(const Reply& r) { return nlohmann::json::parse(r.body); }

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
}

TEST(QueryParam, Decodes) {
  EXPECT_EQ(query_param("a=1&stream=1", "stream"), "1");
  EXPECT_EQ(query_param("stream=tr%75e", "stream"), "true");
  EXPECT_EQ(query_param("stream", "stream"), "");
  EXPECT_EQ(query_param("a=1", "stream"), std::nullopt);
}

TEST(ExecuteBody, AcceptsTheDocumentedFields) {
  auto parsed = parse_execute_body(
      R"({"input":{"a":[1,2]},"skipPreflight":true,"audit":true,"env":{"A_1":"x"},"skipBuild":false})");
  ASSERT_TRUE(std::holds_alternative<ExecuteBody>(parsed));
  const auto& b = std::get<ExecuteBody>(parsed);
  EXPECT_EQ(b.input->dump(), R"({"a":[1,2]})");
  EXPECT_TRUE(b.skip_preflight);
  EXPECT_TRUE(b.audit);
  EXPECT_EQ(b.env.at("A_1"), "x");
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
  Router router("/nonexistent", engine, auth, limiter, metrics, nullptr);
  http::fields none;
  http::fields good;
  good.set(http::field::authorization, "Bearer k");
  const auto health = match_route(http::verb::get, "/health");
  const auto services = match_route(http::verb::get, "/services");
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(router.admit(health, none, "c1").has_value());
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
}

TEST(Router, HealthAndMissingServicesDirectory) {
  Ignite::Engine engine;
  BearerAuth auth("");
  RateLimiter limiter(0, std::chrono::milliseconds(1000));
  Metrics metrics;
  Router router("/nonexistent-ignite-dir", engine, auth, limiter, metrics, nullptr);
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
}

TEST(OpenApi, DescribesEveryRoute) {
  const auto& doc = openapi_document();
  EXPECT_EQ(doc.at("openapi"), "3.0.3");
  for (const char* p : {"/health", "/services", "/services/{name}", "/services/{name}/preflight",
                        "/services/{name}/execute", "/metrics", "/openapi.json"}) {
    EXPECT_TRUE(doc.at("paths").contains(p)) << p;
  }
  EXPECT_TRUE(doc["paths"]["/services/{name}/execute"].contains("post"));
}
