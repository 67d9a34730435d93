// The real ignite-server over real sockets: routes and statuses that need no execution, auth,
// rate limiting (per peer, trusted proxies), body and header limits, slowloris timeouts,
// metrics, OpenAPI, the access log and /ready (healthy, unreachable and hanging daemons).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <regex>
#include <set>
#include <thread>

#include "ignite/version.hpp"
#include "tests/http/http_test_util.hpp"
#include "tests/test_util.hpp"

using namespace ignite_http_test;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;
using Ignite::testing::eventually;

namespace {

std::vector<std::string> base_args() {
  return {"--services", services_dir().string(), "--runtimes-file", runtimes_file().string()};
}

std::vector<std::string> with(std::vector<std::string> extra) {
  auto args = base_args();
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

Request authed(Request r = {}) {
  r.headers.push_back(kAuth);
  return r;
}

Request post(std::string body, bool auth = true) {
  Request r;
  r.method = "POST";
  r.body = std::move(body);
  r.headers.push_back("Content-Type: application/json");
  if (auth) r.headers.push_back(kAuth);
  return r;
}

// One server with an API key and a generous rate limit, shared by the route tests.
class Routes : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ServerProcess(with({"--api-key", kKey, "--rate-limit", "100000"}));
  }
  static void TearDownTestSuite() {
    EXPECT_EQ(server_->stop(SIGTERM), 0) << server_->log();
    delete server_;
    server_ = nullptr;
  }
  static std::string url(const std::string& path) { return server_->url() + path; }
  static ServerProcess* server_;
};
ServerProcess* Routes::server_ = nullptr;

// A fresh directory under /tmp: a unix socket path must fit in 108 bytes, which TEST_TMPDIR
// (deep in Bazel's output base) may not leave room for.
long long ms_since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

// A HEAD request on a raw connection, so what is on the wire is seen: {status line + headers,
// whatever followed the header}.
std::pair<std::string, std::string> head_request(int port, const std::string& path) {
  RawConnection c(port);
  if (!c.send("HEAD " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")) return {};
  c.wait_closed(10s);
  const std::string& got = c.received();
  const auto end = got.find("\r\n\r\n");
  if (end == std::string::npos) return {got, ""};
  return {got.substr(0, end + 2), got.substr(end + 4)};
}

void expect_error(const Response& r, long status, const std::string& code) {
  EXPECT_EQ(r.status, status) << r.body << r.error;
  ASSERT_THAT(r.header("content-type"), HasSubstr("application/json")) << r.body;
  const auto j = r.json();
  EXPECT_EQ(j.value("code", ""), code) << r.body;
  EXPECT_TRUE(j.contains("error") && j["error"].is_string() &&
              !j["error"].get<std::string>().empty())
      << r.body;
}

}  // namespace

// ---- health, listing, config -----------------------------------------------------------------

TEST_F(Routes, HealthIsOpenAndReportsVersionAndUptime) {
  const auto r = http(url("/health"));
  ASSERT_EQ(r.status, 200) << r.error;
  EXPECT_THAT(r.header("content-type"), HasSubstr("application/json"));
  const auto j = r.json();
  EXPECT_EQ(j.at("status"), "ok");
  EXPECT_EQ(j.at("version"), std::string(Ignite::version()));
  EXPECT_TRUE(j.at("uptime").is_number_integer());
  EXPECT_GE(j.at("uptime").get<int>(), 0);
}

// ---- readiness -------------------------------------------------------------------------------

TEST_F(Routes, ReadyIsOpenAndPingsTheDaemon) {
  const std::string series = "ignite_http_requests_total{route=\"/ready\",status=\"200\"}";
  const double n0 = metric(http(url("/metrics"), authed()).body, series).value_or(0);
  // No API key: probes carry no secrets. The first contact with the daemon also reaps what
  // dead Ignite processes left, which may take the first ping past its 1 s bound on a busy
  // host, hence the retries.
  Response r;
  ASSERT_TRUE(eventually(
      [&] {
        r = http(url("/ready"));
        return r.status == 200;
      },
      30s))
      << r.status << " " << r.body << r.error;
  EXPECT_THAT(r.header("content-type"), HasSubstr("application/json"));
  EXPECT_EQ(r.json(), nlohmann::json({{"status", "ready"}, {"docker", "ok"}}));
  EXPECT_EQ(http(url("/ready")).status, 200);

  // HEAD: the same status and headers, no body.
  const auto [head, rest] = head_request(server_->port(), "/ready");
  EXPECT_THAT(head, ::testing::StartsWith("HTTP/1.1 200")) << head;
  EXPECT_THAT(head, HasSubstr("Content-Length: " + std::to_string(r.body.size()) + "\r\n")) << head;
  EXPECT_EQ(rest, "");

  const auto post_ready = http(url("/ready"), post("{}"));
  expect_error(post_ready, 405, "METHOD_NOT_ALLOWED");
  EXPECT_EQ(post_ready.header("allow"), "GET, HEAD");

  const auto after = http(url("/metrics"), authed());
  EXPECT_GE(metric(after.body, series).value_or(0), n0 + 2) << after.body;
}

TEST(Ready, UnreachableDaemonIs503WithTheReason) {
  ShortTempDir dir;
  const std::string socket = (dir.path() / "none.sock").string();
  ServerProcess s(base_args(), {{"DOCKER_HOST", "unix://" + socket}});
  Request r;
  r.timeout_ms = 10000;
  const auto ready = http(s.url() + "/ready", r);
  expect_error(ready, 503, "DOCKER_UNAVAILABLE");
  EXPECT_EQ(ready.json().value("status", ""), "not_ready") << ready.body;
  // The engine's own message, naming the socket it could not reach.
  EXPECT_THAT(ready.json().value("error", ""), HasSubstr(socket)) << ready.body;
  const auto [head, rest] = head_request(s.port(), "/ready");
  EXPECT_THAT(head, ::testing::StartsWith("HTTP/1.1 503")) << head;
  EXPECT_EQ(rest, "");
  EXPECT_EQ(http(s.url() + "/health", r).status, 200);
  const auto metrics = http(s.url() + "/metrics", r);
  EXPECT_GE(metric(metrics.body, "ignite_http_requests_total{route=\"/ready\",status=\"503\"}")
                .value_or(0),
            2)
      << metrics.body;
  EXPECT_EQ(s.stop(SIGTERM), 0) << s.log();
}

TEST(Ready, HangingDaemonIsBoundedAndBlocksNothingElse) {
  HangingDaemon daemon;
  ServerProcess s(with({"--rate-limit", "0"}), {{"DOCKER_HOST", daemon.docker_host()}});
  Request r;
  r.timeout_ms = 10000;
  auto expect_late = [](const Response& ready) {
    expect_error(ready, 503, "DOCKER_UNAVAILABLE");
    EXPECT_EQ(ready.json().value("status", ""), "not_ready");
    EXPECT_THAT(ready.json().value("error", ""), HasSubstr("did not answer")) << ready.body;
  };

  // Probes keep coming while the daemon hangs: the first waits for the ping until its 1 s
  // bound, the ones after it answer at once (the ping still hangs) rather than piling up; and
  // /health, /services and /metrics stay fast meanwhile.
  std::atomic<bool> probing{true};
  std::vector<std::pair<long long, Response>> probes;
  std::jthread prober(Ignite::testing::guarded([&] {
    for (int i = 0; i < 6; ++i) {
      const auto t = Clock::now();
      Response p = http(s.url() + "/ready", r);
      probes.emplace_back(ms_since(t), std::move(p));
    }
    probing = false;
  }));
  int rounds = 0;
  while (probing) {
    for (const std::string path : {"/health", "/services", "/metrics"}) {
      const auto t = Clock::now();
      const auto other = http(s.url() + path, r);
      const auto took = ms_since(t);
      EXPECT_EQ(other.status, 200) << path << " " << other.body << other.error;
      EXPECT_LT(took, 500) << path << " took " << took << " ms while /ready was probing";
    }
    ++rounds;
  }
  prober.join();
  ASSERT_EQ(probes.size(), 6u);
  EXPECT_GT(rounds, 0);
  EXPECT_THAT(probes[0].second.json().value("error", ""), HasSubstr(daemon.docker_host()));
  for (const auto& [took, p] : probes) {
    expect_late(p);
    EXPECT_LT(took, 3000) << p.body;
  }

  // Several at once: none waits past the bound either.
  std::vector<std::jthread> together;
  std::vector<long long> took(4, -1);
  std::vector<long> status(4, 0);
  const auto t0 = Clock::now();
  for (std::size_t i = 0; i < 4; ++i) {
    together.emplace_back(Ignite::testing::guarded([&, i] {
      status[i] = http(s.url() + "/ready", r).status;
      took[i] = ms_since(t0);
    }));
  }
  for (auto& t : together) t.join();
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(status[i], 503) << i;
    EXPECT_LT(took[i], 3000) << i;
  }

  // The daemon goes away: the ping still waiting fails at once, so the shutdown does not wait
  // for the engine's own 5 s bound.
  daemon.close();
  EXPECT_EQ(s.stop(SIGTERM), 0) << s.log();
}

TEST_F(Routes, ServicesListsOnlyValidDirectoriesSorted) {
  const auto r = http(url("/services"), authed());
  ASSERT_EQ(r.status, 200) << r.body;
  const auto names = r.json().at("services").get<std::vector<std::string>>();
  EXPECT_THAT(names, ElementsAreArray(valid_service_names()));
  // broken (invalid yaml), no-yaml, .hidden and notes.txt are left out.
}

TEST_F(Routes, ServiceConfig) {
  const auto r = http(url("/services/hello-node"), authed());
  ASSERT_EQ(r.status, 200) << r.body;
  const auto j = r.json();
  EXPECT_EQ(j.at("name"), "hello-node");
  EXPECT_EQ(j.at("runtime"), "node@20");
  EXPECT_EQ(j.at("entry"), "index.js");
  EXPECT_EQ(j.at("memoryMb"), 128);
  EXPECT_EQ(j.at("timeoutMs"), 10000);
  EXPECT_EQ(j.at("env").at("GREETING"), "Hello");
}

TEST_F(Routes, UnknownOrInvalidServiceIs404) {
  expect_error(http(url("/services/nonexistent"), authed()), 404, "SERVICE_NOT_FOUND");
  expect_error(http(url("/services/broken"), authed()), 404, "SERVICE_NOT_FOUND");
  expect_error(http(url("/services/no-yaml"), authed()), 404, "SERVICE_NOT_FOUND");
  expect_error(http(url("/services/nonexistent/preflight"), authed()), 404, "SERVICE_NOT_FOUND");
}

TEST_F(Routes, InvalidNamesAre400) {
  for (const std::string name : {"HelloWorld", ".hidden", "hello..world", "path%5Cto%5Cservice",
                                 "path%2Fto", "-hello", "a_b"}) {
    for (const std::string suffix : {"", "/preflight"}) {
      const auto r = http(url("/services/" + name + suffix), authed());
      expect_error(r, 400, "INVALID_SERVICE_NAME");
      EXPECT_THAT(r.json().value("error", ""), HasSubstr("Service name invalid: ")) << name;
    }
    const auto r = http(url("/services/" + name + "/execute"), post("{}"));
    expect_error(r, 400, "INVALID_SERVICE_NAME");
    EXPECT_EQ(r.json().at("success"), false);
    EXPECT_EQ(r.json().at("serviceName").get<std::string>().empty(), false);
  }
  EXPECT_THAT(http(url("/services/path%5Cto%5Cservice"), authed()).json().value("error", ""),
              HasSubstr("invalid characters"));
}

// ---- preflight (never builds) ----------------------------------------------------------------

TEST_F(Routes, PreflightReturnsChecks) {
  const auto r = http(url("/services/hello-node/preflight"), authed());
  ASSERT_EQ(r.status, 200) << r.body;
  const auto j = r.json();
  EXPECT_EQ(j.at("serviceName"), "hello-node");
  std::set<std::string> names;
  for (const auto& c : j.at("preflight").at("checks"))
    names.insert(c.at("name").get<std::string>());
  EXPECT_TRUE(names.count("memory-allocation") && names.count("dependency-count") &&
              names.count("timeout-config"))
      << r.body;
}

TEST_F(Routes, PreflightDoesNotBuild) {
  // never-built is never executed, so its image does not exist; a GET must not create it.
  for (int i = 0; i < 2; ++i) {
    const auto r = http(url("/services/never-built/preflight"), authed());
    ASSERT_EQ(r.status, 200) << r.body;
    for (const auto& c : r.json().at("preflight").at("checks")) {
      EXPECT_NE(c.at("name"), "image-size") << "preflight built or found an image: " << r.body;
    }
  }
}

TEST_F(Routes, PreflightFailureIsStill200) {
  const auto r = http(url("/services/tiny/preflight"), authed());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("preflight").at("overallStatus"), "fail");
}

// ---- routing errors --------------------------------------------------------------------------

TEST_F(Routes, UnknownRouteIs404AndWrongMethodIs405) {
  expect_error(http(url("/nope"), authed()), 404, "NOT_FOUND");
  expect_error(http(url("/services/hello-node/other"), authed()), 404, "NOT_FOUND");
  const auto r = http(url("/services/hello-node/execute"), authed());  // GET
  expect_error(r, 405, "METHOD_NOT_ALLOWED");
  EXPECT_EQ(r.header("allow"), "POST");
  Request del = authed();
  del.method = "DELETE";
  expect_error(http(url("/services/hello-node"), del), 405, "METHOD_NOT_ALLOWED");
}

// ---- execute body validation (answered before any container) ---------------------------------

TEST_F(Routes, ExecuteBodyValidationNamesTheField) {
  struct Case {
    std::string body;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"{\"foo\":1}", "foo"},
      {"{\"skipPreflight\":\"yes\"}", "skipPreflight"},
      {"{\"audit\":1}", "audit"},
      {"{\"skipBuild\":null}", "skipBuild"},
      {"{\"env\":[]}", "env"},
      {"{\"env\":{\"A\":1}}", "env.A"},
      {"{\"env\":{\"1BAD\":\"x\"}}", "env.1BAD"},
      {"[1,2]", "body"},
  };
  for (const auto& c : cases) {
    const auto r = http(url("/services/hello-node/execute"), post(c.body));
    expect_error(r, 400, "INVALID_BODY");
    const auto j = r.json();
    EXPECT_EQ(j.value("field", ""), c.field) << c.body;
    EXPECT_THAT(j.value("error", ""), HasSubstr(c.field == "body" ? "object" : c.field)) << c.body;
    EXPECT_EQ(j.at("success"), false);
    EXPECT_EQ(j.at("serviceName"), "hello-node");
  }
  expect_error(http(url("/services/hello-node/execute"), post("{not json")), 400, "INVALID_BODY");
}

TEST_F(Routes, ExecuteUnknownServiceIs404) {
  const auto r = http(url("/services/nonexistent/execute"), post("{}"));
  expect_error(r, 404, "SERVICE_NOT_FOUND");
  EXPECT_EQ(r.json().at("success"), false);
  EXPECT_EQ(r.json().at("serviceName"), "nonexistent");
}

// ---- auth ------------------------------------------------------------------------------------

TEST_F(Routes, AuthRequiredEverywhereButHealthAndReady) {
  for (const std::string path :
       {"/services", "/services/hello-node", "/services/hello-node/preflight", "/metrics",
        "/openapi.json", "/nope"}) {
    const auto none = http(url(path));
    expect_error(none, 401, "UNAUTHORIZED");
    EXPECT_THAT(none.json().value("error", ""), HasSubstr("Unauthorized"));
    EXPECT_THAT(none.header("www-authenticate"), HasSubstr("Bearer"));
  }
  expect_error(http(url("/services/hello-node/execute"), post("{}", false)), 401, "UNAUTHORIZED");
  EXPECT_EQ(http(url("/health")).status, 200);
  EXPECT_NE(http(url("/ready")).status, 401);
}

TEST_F(Routes, OnlyTheRightBearerTokenPasses) {
  auto with_header = [](std::string h) {
    Request r;
    r.headers.push_back(std::move(h));
    return r;
  };
  for (const std::string& bad : std::vector<std::string>{
           "Authorization: Bearer wrong", "Authorization: Bearer " + kKey + "x",
           "Authorization: Bearer " + kKey.substr(1), "Authorization: Basic " + kKey,
           "Authorization: " + kKey, "Authorization: Bearer", "Authorization: Bearer  "}) {
    expect_error(http(url("/services"), with_header(bad)), 401, "UNAUTHORIZED");
  }
  EXPECT_EQ(http(url("/services"), with_header(kAuth)).status, 200);
  // The scheme is case-insensitive (RFC 7235); the token is not.
  EXPECT_EQ(http(url("/services"), with_header("Authorization: bearer " + kKey)).status, 200);
}

TEST(Auth, ApiKeyFromEnvironment) {
  ServerProcess server(base_args(), {{"IGNITE_API_KEY", "env-key"}});
  EXPECT_EQ(http(server.url() + "/services").status, 401);
  Request r;
  r.headers.push_back("Authorization: Bearer env-key");
  EXPECT_EQ(http(server.url() + "/services", r).status, 200);
  EXPECT_EQ(server.stop(SIGTERM), 0);
}

TEST(Auth, NoKeyMeansOpen) {
  ServerProcess server(base_args());
  EXPECT_EQ(http(server.url() + "/services").status, 200);
  EXPECT_THAT(server.log(), HasSubstr("no API key"));
  EXPECT_EQ(server.stop(SIGTERM), 0);
}

// ---- metrics, OpenAPI, access log, keep-alive ------------------------------------------------

TEST_F(Routes, MetricsReflectRequests) {
  const auto before = http(url("/metrics"), authed());
  ASSERT_EQ(before.status, 200) << before.body;
  const std::string series = "ignite_http_requests_total{route=\"/health\",status=\"200\"}";
  const double n0 = metric(before.body, series).value_or(0);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(http(url("/health")).status, 200);
  http(url("/services/nonexistent"), authed());
  http(url("/services"));  // 401
  const auto after = http(url("/metrics"), authed());
  ASSERT_EQ(after.status, 200);
  EXPECT_THAT(after.header("content-type"), HasSubstr("text/plain"));
  EXPECT_EQ(metric(after.body, series).value_or(0), n0 + 3) << after.body;
  EXPECT_GE(
      metric(after.body, "ignite_http_requests_total{route=\"/services/{name}\",status=\"404\"}")
          .value_or(0),
      1);
  EXPECT_GE(metric(after.body, "ignite_http_requests_total{route=\"/services\",status=\"401\"}")
                .value_or(0),
            1);
  EXPECT_TRUE(metric(after.body, "ignite_queue_depth").has_value()) << after.body;
  EXPECT_TRUE(metric(after.body, "ignite_executions_running").has_value());
  EXPECT_TRUE(metric(after.body, "ignite_execution_duration_seconds_count").has_value());
  EXPECT_THAT(after.body, HasSubstr("# TYPE ignite_http_requests_total counter"));
  EXPECT_THAT(after.body, HasSubstr("# TYPE ignite_executions_total counter"));
  EXPECT_THAT(after.body, HasSubstr("# TYPE ignite_execution_duration_seconds histogram"));
  EXPECT_THAT(after.body, HasSubstr("# TYPE ignite_queue_depth gauge"));
  // Every sample line is `name{labels} value` or `name value`.
  const std::regex sample(R"(^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [0-9.e+-]+$)");
  std::istringstream in(after.body);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    EXPECT_TRUE(std::regex_match(line, sample)) << line;
  }
}

TEST_F(Routes, OpenApiListsEveryRoute) {
  const auto r = http(url("/openapi.json"), authed());
  ASSERT_EQ(r.status, 200);
  const auto doc = r.json();
  EXPECT_EQ(doc.at("openapi").get<std::string>().substr(0, 2), "3.");
  EXPECT_EQ(doc.at("info").at("version"), std::string(Ignite::version()));
  std::vector<std::pair<std::string, std::string>> routes = {{"/health", "get"},
                                                             {"/ready", "get"},
                                                             {"/services", "get"},
                                                             {"/services/{name}", "get"},
                                                             {"/services/{name}/preflight", "get"},
                                                             {"/services/{name}/execute", "post"},
                                                             {"/metrics", "get"},
                                                             {"/openapi.json", "get"}};
  for (std::size_t i = 0, n = routes.size(); i < n; ++i) {
    if (routes[i].second == "get") routes.emplace_back(routes[i].first, "head");
  }
  for (const auto& [path, method] : routes) {
    ASSERT_TRUE(doc.at("paths").contains(path)) << path;
    EXPECT_TRUE(doc["paths"][path].contains(method)) << path << " " << method;
    EXPECT_TRUE(doc["paths"][path][method].contains("responses"));
  }
  std::set<std::string> paths;
  for (const auto& [path, _] : routes) paths.insert(path);
  EXPECT_EQ(doc.at("paths").size(), paths.size());
  // Every $ref resolves.
  std::function<void(const nlohmann::json&)> walk = [&](const nlohmann::json& j) {
    if (j.is_object()) {
      if (j.contains("$ref")) {
        // "#/components/<kind>/<name>"
        const std::string ref = j["$ref"];
        ASSERT_EQ(ref.rfind("#/components/", 0), 0u) << ref;
        const auto slash = ref.find('/', 13);
        ASSERT_NE(slash, std::string::npos) << ref;
        EXPECT_TRUE(doc["components"][ref.substr(13, slash - 13)].contains(ref.substr(slash + 1)))
            << ref;
      }
      for (const auto& [_, v] : j.items()) walk(v);
    } else if (j.is_array()) {
      for (const auto& v : j) walk(v);
    }
  };
  walk(doc);
}

TEST_F(Routes, AccessLogHasOneJsonLinePerRequest) {
  const auto r = http(url("/services/nonexistent?x=1"), authed());
  ASSERT_EQ(r.status, 404);
  // The line is written after the response went out: wait for it, not for a fixed time.
  const auto logged = [&]() -> std::optional<nlohmann::json> {
    for (const auto& e : server_->access_log()) {
      if (e.value("path", "") == "/services/nonexistent") return e;
    }
    return std::nullopt;
  };
  ASSERT_TRUE(eventually([&] { return logged().has_value(); }, 10s)) << server_->log();
  const auto e = *logged();
  EXPECT_EQ(e.at("method"), "GET");
  EXPECT_EQ(e.at("status"), 404);
  EXPECT_EQ(e.at("peer"), "127.0.0.1");
  EXPECT_TRUE(e.at("time").is_string());
  EXPECT_TRUE(e.at("duration_ms").is_number());
  EXPECT_GE(e.at("duration_ms").get<double>(), 0);
}

TEST_F(Routes, KeepAliveReusesTheConnection) {
  Client c;
  const auto a = c.request(url("/health"));
  const auto b = c.request(url("/services"), authed());
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(b.status, 200);
  EXPECT_EQ(a.new_connections, 1);
  EXPECT_EQ(b.new_connections, 0);
}

TEST_F(Routes, ExpectContinueIsAnswered) {
  // Checked on the wire, not by timing curl's 1 s fallback: the server must send "100 Continue"
  // before the client sends the body it announced.
  RawConnection c(server_->port());
  const std::string body = "{\"input\":\"" + std::string(5000, 'x') + "\"}";
  ASSERT_TRUE(c.send("POST /services/nonexistent/execute HTTP/1.1\r\nHost: x\r\n" + kAuth +
                     "\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
                     "Content-Length: " +
                     std::to_string(body.size()) + "\r\n\r\n"));
  EXPECT_TRUE(eventually(
      [&] {
        c.wait_closed(20ms);
        return c.received().find("HTTP/1.1 100 Continue\r\n\r\n") == 0;
      },
      10s))
      << c.received();
  ASSERT_TRUE(c.send(body));
  EXPECT_TRUE(eventually(
      [&] {
        c.wait_closed(20ms);
        return c.received().find("HTTP/1.1 404") != std::string::npos;
      },
      10s))
      << c.received();
}

TEST_F(Routes, MalformedRequestIs400) {
  RawConnection c(server_->port());
  ASSERT_TRUE(c.send("THIS IS NOT HTTP\r\n\r\n"));
  EXPECT_TRUE(c.wait_closed(5s));
  EXPECT_THAT(c.received(), HasSubstr("400 Bad Request"));
}

TEST_F(Routes, OversizedHeaderIs431) {
  Request r = authed();
  r.headers.push_back("X-Big: " + std::string(20000, 'a'));
  expect_error(http(url("/services"), r), 431, "HEADERS_TOO_LARGE");
}

// ---- body limit ------------------------------------------------------------------------------

TEST(BodyLimit, LargerBodiesGet413) {
  ServerProcess server(with({"--max-body", "1024"}));
  const std::string big = "{\"input\":\"" + std::string(2000, 'x') + "\"}";
  const auto r = http(server.url() + "/services/nonexistent/execute", post(big, false));
  expect_error(r, 413, "PAYLOAD_TOO_LARGE");
  // Without Expect: 100-continue the body is already on its way; the 413 still arrives.
  Request no_expect = post(big, false);
  no_expect.headers.push_back("Expect:");
  expect_error(http(server.url() + "/services/nonexistent/execute", no_expect), 413,
               "PAYLOAD_TOO_LARGE");
  // A chunked body is cut off once it passes the limit.
  RawConnection c(server.port());
  ASSERT_TRUE(
      c.send("POST /services/nonexistent/execute HTTP/1.1\r\nHost: x\r\n"
             "Transfer-Encoding: chunked\r\n\r\n"));
  for (int i = 0; i < 3; ++i) {
    std::string chunk(600, 'y');
    char size[16];
    std::snprintf(size, sizeof size, "%zx\r\n", chunk.size());
    if (!c.send(size + chunk + "\r\n")) break;
  }
  EXPECT_TRUE(c.wait_closed(5s));
  EXPECT_THAT(c.received(), HasSubstr("413 Payload Too Large"));
  // Exactly at the limit is fine (the unknown service then answers 404).
  std::string exact = "{\"input\":\"" + std::string(1024 - 12, 'z') + "\"}";
  ASSERT_EQ(exact.size(), 1024u);
  EXPECT_EQ(http(server.url() + "/services/nonexistent/execute", post(exact, false)).status, 404);
  EXPECT_EQ(server.stop(SIGTERM), 0);
}

// ---- rate limiting ---------------------------------------------------------------------------

class RateLimit : public ::testing::Test {
 protected:
  static Response get(const ServerProcess& s, const std::string& source, bool good_key = true,
                      const std::string& forwarded = "") {
    Request r;
    r.source_ip = source;
    r.headers.push_back(good_key ? kAuth : "Authorization: Bearer wrong");
    if (!forwarded.empty()) r.headers.push_back("X-Forwarded-For: " + forwarded);
    return http(s.url() + "/services/hello-node", r);
  }
};

TEST_F(RateLimit, PerPeerBucketsWithRetryAfter) {
  ServerProcess s(with({"--api-key", kKey, "--rate-limit", "3", "--rate-limit-window", "60000"}));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(get(s, "127.0.0.2").status, 200) << i;
  const auto limited = get(s, "127.0.0.2");
  expect_error(limited, 429, "RATE_LIMITED");
  EXPECT_THAT(limited.json().value("error", ""), HasSubstr("Rate limit exceeded"));
  const int retry = std::stoi(limited.header("retry-after"));
  EXPECT_GE(retry, 1);
  EXPECT_LE(retry, 60);
  // Another peer has its own bucket; /health and /ready are exempt.
  EXPECT_EQ(get(s, "127.0.0.3").status, 200);
  Request health;
  health.source_ip = "127.0.0.2";
  EXPECT_EQ(http(s.url() + "/health", health).status, 200);
  EXPECT_NE(http(s.url() + "/ready", health).status, 429);
  // Without a trusted proxy, X-Forwarded-For buys no fresh quota.
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(get(s, "127.0.0.4", true, "10.0.0." + std::to_string(i)).status, 200);
  EXPECT_EQ(get(s, "127.0.0.4", true, "10.9.9.9").status, 429);
  for (const auto& e : s.access_log()) EXPECT_FALSE(e.contains("client")) << e.dump();
  EXPECT_EQ(s.stop(SIGTERM), 0);
}

TEST_F(RateLimit, FailedAuthSpendsOnlyTheAttackersQuota) {
  ServerProcess s(with({"--api-key", kKey, "--rate-limit", "3"}));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(get(s, "127.0.0.5", false).status, 401);
  EXPECT_EQ(get(s, "127.0.0.5", false).status, 429);
  EXPECT_EQ(get(s, "127.0.0.5", true).status, 429);  // the attacker's own bucket is spent
  // ... but nobody else's, however it names itself.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(get(s, "127.0.0.6", true, "127.0.0.5").status, 200);
  EXPECT_EQ(s.stop(SIGTERM), 0);
}

TEST_F(RateLimit, ForwardedForOnlyFromTrustedProxies) {
  ServerProcess s(with({"--api-key", kKey, "--rate-limit", "2", "--trusted-proxy", "127.0.0.1",
                        "--trusted-proxy", "192.168.0.0/16"}));
  // Through the trusted proxy, each forwarded client has its own bucket.
  EXPECT_EQ(get(s, "127.0.0.1", true, "10.0.0.1").status, 200);
  EXPECT_EQ(get(s, "127.0.0.1", true, "10.0.0.1").status, 200);
  EXPECT_EQ(get(s, "127.0.0.1", true, "10.0.0.1").status, 429);
  EXPECT_EQ(get(s, "127.0.0.1", true, "10.0.0.2").status, 200);
  // The proxy appends the real client: a spoofed left part changes nothing ...
  EXPECT_EQ(get(s, "127.0.0.1", true, "10.0.0.8, 10.0.0.1").status, 429);
  // ... and trusted hops (192.168/16) are skipped from the right.
  EXPECT_EQ(get(s, "127.0.0.1", true, "10.0.0.1, 192.168.1.1").status, 429);
  EXPECT_EQ(get(s, "127.0.0.1", true, "10.0.0.3, 192.168.1.1").status, 200);
  // From an untrusted peer the header is ignored: keyed on the peer.
  EXPECT_EQ(get(s, "127.0.0.7", true, "10.0.0.4").status, 200);
  EXPECT_EQ(get(s, "127.0.0.7", true, "10.0.0.5").status, 200);
  EXPECT_EQ(get(s, "127.0.0.7", true, "10.0.0.6").status, 429);
  bool logged = false;
  for (const auto& e : s.access_log()) {
    if (e.value("client", "") == "10.0.0.2") {
      logged = true;
      EXPECT_EQ(e.at("peer"), "127.0.0.1");
    }
  }
  EXPECT_TRUE(logged) << s.log();
  EXPECT_EQ(s.stop(SIGTERM), 0);
}

TEST_F(RateLimit, WindowResets) {
  ServerProcess s(with({"--rate-limit", "1", "--rate-limit-window", "700"}));
  EXPECT_EQ(get(s, "127.0.0.8").status, 200);
  const auto limited = get(s, "127.0.0.8");
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.header("retry-after"), "1");
  std::this_thread::sleep_for(900ms);
  EXPECT_EQ(get(s, "127.0.0.8").status, 200);
  EXPECT_EQ(s.stop(SIGTERM), 0);
}

// ---- slowloris and read timeouts -------------------------------------------------------------

TEST(Timeouts, SlowHeaderIsCutOff) {
  ServerProcess s(with({"--header-timeout-ms", "2000"}));
  RawConnection c(s.port());
  const std::string header = "GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(100, 'a');
  const auto t0 = Clock::now();
  bool closed = false;
  for (std::size_t i = 0; i < header.size() && Clock::now() - t0 < 10s; ++i) {
    if (!c.send(header.substr(i, 1))) {
      closed = true;
      break;
    }
    if (c.wait_closed(1s)) {  // one byte per second
      closed = true;
      break;
    }
  }
  const auto elapsed = Clock::now() - t0;
  EXPECT_TRUE(closed);
  EXPECT_GE(elapsed, 1800ms);
  // Without the header timeout the loop would run its full 10 s; 6 s is room for a loaded host.
  EXPECT_LE(elapsed, 6000ms)
      << "connection lived "
      << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() << " ms";
  EXPECT_EQ(c.received(), "");
  // The server is fine afterwards.
  EXPECT_EQ(http(s.url() + "/health").status, 200);
  EXPECT_EQ(s.stop(SIGTERM), 0);
}

TEST(Timeouts, IdleConnectionIsClosed) {
  ServerProcess s(with({"--header-timeout-ms", "1000"}));
  RawConnection c(s.port());
  const auto t0 = Clock::now();
  EXPECT_TRUE(c.wait_closed(5s));
  EXPECT_LE(Clock::now() - t0, 2500ms);
  EXPECT_EQ(s.stop(SIGTERM), 0);
}

TEST(Timeouts, SlowBodyIsCutOff) {
  ServerProcess s(with({"--read-timeout-ms", "1500"}));
  RawConnection c(s.port());
  ASSERT_TRUE(
      c.send("POST /services/hello-node/execute HTTP/1.1\r\nHost: x\r\n"
             "Content-Length: 100\r\n\r\n{"));
  const auto t0 = Clock::now();
  bool closed = false;
  for (int i = 0; i < 10 && !closed; ++i) {
    if (!c.send(" "))
      closed = true;
    else
      closed = c.wait_closed(1s);
  }
  EXPECT_TRUE(closed);
  EXPECT_LE(Clock::now() - t0, 3500ms);
  EXPECT_EQ(s.stop(SIGTERM), 0);
}

// ---- start-up --------------------------------------------------------------------------------

TEST(Startup, MissingServicesDirectoryIs500OnListing) {
  ServerProcess s({"--services", services_dir().string() + "/does-not-exist"});
  const auto r = http(s.url() + "/services");
  expect_error(r, 500, "LIST_ERROR");
  EXPECT_EQ(s.stop(SIGTERM), 0);
}

TEST(Startup, DockerUnavailableIs503) {
  ServerProcess s(base_args(), {{"DOCKER_HOST", "unix:///nonexistent/docker.sock"}});
  for (const std::string body : {"{}", R"({"skipPreflight":true})"}) {
    const auto r = http(s.url() + "/services/hello-node/execute", post(body, false));
    expect_error(r, 503, "DOCKER_UNAVAILABLE");
    EXPECT_EQ(r.json().at("success"), false);
  }
  // Preflight without a daemon leaves the image check out rather than failing.
  EXPECT_EQ(http(s.url() + "/services/hello-node/preflight").status, 200);
  EXPECT_EQ(s.stop(SIGTERM), 0);
  EXPECT_THAT(s.log(), ::testing::Not(HasSubstr("Warning: could not check")));
}

TEST(Startup, PortInUseFailsWithExit1) {
  ServerProcess first(base_args());
  const auto [status, log] = run_server_to_exit(with({"--port", std::to_string(first.port())}));
  EXPECT_EQ(status, 1);
  EXPECT_THAT(log, HasSubstr("Failed to start server: "));
  EXPECT_EQ(first.stop(SIGTERM), 0);
}

TEST(Startup, BadFlagsAreRejected) {
  EXPECT_NE(run_server_to_exit(with({"--trusted-proxy", "not-an-ip"})).first, 0);
  EXPECT_NE(run_server_to_exit(with({"--port", "70000"})).first, 0);
  EXPECT_NE(run_server_to_exit(with({"--max-concurrent", "0"})).first, 0);
  EXPECT_NE(run_server_to_exit(with({"--bogus"})).first, 0);
}

TEST(Startup, SigintStopsCleanly) {
  ServerProcess s(base_args());
  EXPECT_EQ(http(s.url() + "/health").status, 200);
  EXPECT_EQ(s.stop(SIGINT, 10s), 0);
  EXPECT_THAT(s.log(), HasSubstr("Ignite HTTP server stopped"));
}
