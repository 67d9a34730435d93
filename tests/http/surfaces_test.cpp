// What operators of nginx-style servers expect of the reference server, on the real binary over
// real sockets: HEAD without a body, X-Request-Id, the API key from a file, no open server on a
// network address, a per-client connection limit, request timeouts counted and logged, SSE
// heartbeats (also while the image builds), executions refused at once while Docker is not
// ready, and the OpenAPI document checked against what the server actually answers.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <functional>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

#include "tests/http/http_test_util.hpp"
#include "tests/test_util.hpp"

using namespace ignite_http_test;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;
using Ignite::testing::eventually;
using Ignite::testing::TempDir;
using Ignite::testing::write_file;

namespace {

std::vector<std::string> with(std::vector<std::string> extra) {
  std::vector<std::string> args = {"--services", services_dir().string(), "--runtimes-file",
                                   runtimes_file().string()};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

Request authed(Request r = {}) {
  r.headers.push_back(kAuth);
  return r;
}

Request post(std::string body) {
  Request r;
  r.method = "POST";
  r.body = std::move(body);
  r.headers.push_back("Content-Type: application/json");
  r.headers.push_back(kAuth);
  return r;
}

long long ms_since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

// Sends `raw` on one connection and reads until the peer closes: everything it answered.
std::string exchange(int port, const std::string& raw) {
  RawConnection c(port);
  if (!c.send(raw)) return {};
  c.wait_closed(20s);
  return c.received();
}

std::string header_value(const std::string& head, const std::string& name) {
  std::smatch m;
  if (std::regex_search(head, m, std::regex("\r\n" + name + ": ([^\r]*)\r\n", std::regex::icase))) {
    return m[1];
  }
  return {};
}

std::string join_args(const std::vector<std::string>& args) {
  std::string out;
  for (const auto& a : args) out += " '" + a + "'";
  return out;
}

}  // namespace

// ---- HEAD ------------------------------------------------------------------------------------

// A HEAD answer has the GET's status and headers and no body, so the next response on a
// kept-alive connection is read correctly (a body would be taken for its start).
TEST(Head, EveryGetRouteAnswersHeadWithoutABody) {
  ServerProcess s(with({"--api-key", kKey, "--rate-limit", "0"}));
  for (const std::string path : {"/health", "/services", "/services/hello-node", "/metrics",
                                 "/openapi.json", "/services/nope"}) {
    const auto get = http(s.url() + path, authed());
    // HEAD then GET on one connection.
    const std::string got = exchange(
        s.port(), "HEAD " + path + " HTTP/1.1\r\nHost: x\r\n" + kAuth +
                      "\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const auto end = got.find("\r\n\r\n");
    ASSERT_NE(end, std::string::npos) << path << ": " << got;
    const std::string head = got.substr(0, end + 2);
    EXPECT_THAT(head, ::testing::StartsWith("HTTP/1.1 " + std::to_string(get.status))) << head;
    // (/metrics changes between the two requests: only its length's presence is compared.)
    if (path != "/metrics") {
      EXPECT_EQ(header_value(head, "Content-Length"), std::to_string(get.body.size())) << head;
    } else {
      EXPECT_FALSE(header_value(head, "Content-Length").empty()) << head;
    }
    EXPECT_EQ(header_value(head, "Content-Type"), get.header("content-type")) << head;
    // What follows is the next response, not a body.
    EXPECT_THAT(got.substr(end + 4), ::testing::StartsWith("HTTP/1.1 200")) << path << ": " << got;
  }
  // HEAD /health needs no key, like GET.
  const std::string open =
      exchange(s.port(), "HEAD /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_THAT(open, ::testing::StartsWith("HTTP/1.1 200")) << open;
  EXPECT_EQ(open.substr(open.find("\r\n\r\n") + 4), "");
  // POST stays the only method of execute.
  const auto r = http(s.url() + "/services/hello-node/execute", authed([] {
                        Request q;
                        q.method = "HEAD";
                        return q;
                      }()));
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("allow"), "POST");
}

// ---- X-Request-Id -----------------------------------------------------------------------------

TEST(RequestId, KeptGeneratedEchoedLoggedAndInErrors) {
  ServerProcess s(with({"--api-key", kKey}));
  Request given = authed();
  given.headers.push_back("X-Request-Id: client-id_1.2:3");
  const auto kept = http(s.url() + "/services/nope", given);
  EXPECT_EQ(kept.status, 404);
  EXPECT_EQ(kept.header("x-request-id"), "client-id_1.2:3");
  EXPECT_EQ(kept.json().at("requestId"), "client-id_1.2:3");

  Request hostile = authed();
  hostile.headers.push_back("X-Request-Id: bad id\"with{json}");
  const auto replaced = http(s.url() + "/health", hostile);
  const std::string generated = replaced.header("x-request-id");
  EXPECT_TRUE(std::regex_match(generated, std::regex("[0-9a-f]{32}"))) << generated;

  const auto fresh1 = http(s.url() + "/health");
  const auto fresh2 = http(s.url() + "/health");
  EXPECT_NE(fresh1.header("x-request-id"), fresh2.header("x-request-id"));
  // 401 and 400 (body errors) carry it too.
  const auto unauth = http(s.url() + "/services");
  EXPECT_EQ(unauth.status, 401);
  EXPECT_EQ(unauth.json().at("requestId"), unauth.header("x-request-id"));
  const auto bad = http(s.url() + "/services/hello-node/execute", post("{\"nope\":1}"));
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.json().at("requestId"), bad.header("x-request-id"));
  // Success bodies are left alone.
  EXPECT_FALSE(fresh1.json().contains("requestId"));

  // A line is written once its answer was sent, which the client may see first.
  const std::vector<std::string> ids = {"client-id_1.2:3", generated, fresh1.header("x-request-id"),
                                        unauth.header("x-request-id")};
  EXPECT_TRUE(eventually(
      [&] {
        std::set<std::string> logged;
        for (const auto& line : s.access_log()) logged.insert(line.value("request_id", ""));
        for (const auto& id : ids) {
          if (!logged.count(id)) return false;
        }
        return true;
      },
      5s))
      << s.log();
}

// ---- the API key from a file, and no open server on a network address -----------------------

TEST(ApiKeyFile, KeyFromFileOrEnvironmentAndClearErrors) {
  TempDir dir;
  const auto key_file = dir.path() / "key";
  write_file(key_file, "  file-secret  \nsecond line ignored\n");
  ::chmod(key_file.c_str(), 0600);
  {
    ServerProcess s(with({"--api-key-file", key_file.string()}));
    EXPECT_EQ(http(s.url() + "/services").status, 401);
    Request r;
    r.headers.push_back("Authorization: Bearer file-secret");
    EXPECT_EQ(http(s.url() + "/services", r).status, 200);
    EXPECT_THAT(s.log(), ::testing::Not(HasSubstr("every route is open")));
    EXPECT_THAT(s.log(), ::testing::Not(HasSubstr("file-secret")));  // never echoed
  }
  {
    ServerProcess s(with({}), {{"IGNITE_API_KEY_FILE", key_file.string()}});
    Request r;
    r.headers.push_back("Authorization: Bearer file-secret");
    EXPECT_EQ(http(s.url() + "/services", r).status, 200);
    EXPECT_EQ(http(s.url() + "/services").status, 401);
  }
  // Problems are start-up failures with exit status 2 naming the flag, never a server without
  // authentication.
  const auto missing = run_server_to_exit(with({"--api-key-file", (dir.path() / "none").string()}));
  EXPECT_EQ(missing.first, 2) << missing.second;
  EXPECT_THAT(missing.second, HasSubstr("--api-key-file"));
  EXPECT_THAT(missing.second, HasSubstr("none"));
  write_file(dir.path() / "empty", "\n");
  const auto empty = run_server_to_exit(with({"--api-key-file", (dir.path() / "empty").string()}));
  EXPECT_EQ(empty.first, 2) << empty.second;
  EXPECT_THAT(empty.second, HasSubstr("holds no key"));
  const auto both =
      run_server_to_exit(with({"--api-key", "x", "--api-key-file", key_file.string()}));
  EXPECT_EQ(both.first, 2) << both.second;
  // A key file others can read is used, with a warning.
  ::chmod(key_file.c_str(), 0644);
  ServerProcess loose(with({"--api-key-file", key_file.string()}));
  EXPECT_THAT(loose.log(), HasSubstr("readable by other users"));
}

TEST(OpenBind, NonLoopbackWithoutAKeyIsRefusedWithStatus2) {
  for (const std::string host : {"0.0.0.0", "::"}) {
    const auto [status, log] = run_server_to_exit(with({"--host", host, "--port", "0"}));
    EXPECT_EQ(status, 2) << host << ": " << log;
    EXPECT_THAT(log, HasSubstr("without an API key")) << log;
    EXPECT_THAT(log, HasSubstr("--allow-unauthenticated")) << log;
    EXPECT_THAT(log, ::testing::Not(HasSubstr("running at"))) << log;
  }
  // Loopback without a key stays allowed (with its warning).
  ServerProcess local(with({"--host", "127.0.0.1"}));
  EXPECT_THAT(local.log(), HasSubstr("every route is open"));
  // A key, or the explicit flag, lets it listen on every address. Run in a network namespace of
  // its own (only a loopback, down), so nothing outside this test can reach it.
  const std::string server = server_binary().string();
  for (const auto& [env, extra] : std::vector<std::pair<std::string, std::string>>{
           {"IGNITE_API_KEY=k ", ""}, {"", " --allow-unauthenticated"}}) {
    const auto r = Ignite::testing::run_command(
        "env " + env + "timeout -s TERM 3 unshare --net " + server +
        join_args(with({"--host", "0.0.0.0", "--port", "0"})) + extra + " 2>&1");
    EXPECT_EQ(r.status, 124) << r.out << r.err;  // still serving when timeout(1) ended it
    EXPECT_THAT(r.out + r.err, HasSubstr("running at http://0.0.0.0:")) << r.out << r.err;
  }
}

// ---- per-client connection limit ---------------------------------------------------------------

TEST(ConnectionLimit, OneClientCannotTakeEveryConnection) {
  ServerProcess s(with({"--max-connections-per-client", "2", "--rate-limit", "0"}));
  RawConnection a(s.port(), "127.0.0.1");
  RawConnection b(s.port(), "127.0.0.1");
  ASSERT_TRUE(eventually([&] {
    const auto m = http(s.url() + "/metrics", [] {
      Request r;
      r.source_ip = "127.0.0.3";
      return r;
    }());
    return metric(m.body, "ignite_http_connections").value_or(0) >= 3;
  }));
  // The third from the same address is closed at once, without an answer.
  RawConnection c(s.port(), "127.0.0.1");
  EXPECT_TRUE(c.wait_closed(5s));
  EXPECT_EQ(c.received(), "");
  // Another client is served meanwhile.
  Request other;
  other.source_ip = "127.0.0.2";
  EXPECT_EQ(http(s.url() + "/health", other).status, 200);
  other.source_ip = "127.0.0.3";
  const auto m = http(s.url() + "/metrics", other);
  EXPECT_EQ(metric(m.body, "ignite_http_connections_refused_total{reason=\"per_client_limit\"}"), 1)
      << m.body;
  // A place given back is a place the client can use again.
  ASSERT_TRUE(a.send("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  ASSERT_TRUE(a.wait_closed(5s));
  Request again;
  again.source_ip = "127.0.0.1";
  EXPECT_TRUE(eventually([&] { return http(s.url() + "/health", again).status == 200; }, 5s));
}

// ---- request timeouts: counted and logged
// --------------------------------------------------------

TEST(Timeouts, SlowHeaderAndBodyAreCountedAndLogged) {
  ServerProcess s(with({"--header-timeout-ms", "300", "--read-timeout-ms", "300"}));
  RawConnection idle(s.port());  // sends nothing: an idle connection, not a request
  RawConnection header(s.port());
  ASSERT_TRUE(header.send("GET /health HTTP/1.1\r\nX-Request-Id: slow-header\r\n"));
  RawConnection body(s.port());
  ASSERT_TRUE(
      body.send("POST /services/hello-node/execute HTTP/1.1\r\nHost: x\r\n"
                "X-Request-Id: slow-body\r\nContent-Length: 100\r\n\r\n{\"input\":"));
  EXPECT_TRUE(header.wait_closed(5s));
  EXPECT_TRUE(body.wait_closed(5s));
  EXPECT_TRUE(idle.wait_closed(5s));
  std::map<std::string, nlohmann::json> by_phase;
  eventually(
      [&] {
        by_phase.clear();
        for (const auto& line : s.access_log()) {
          if (line.contains("timeout")) by_phase[line.value("timeout", "")] = line;
        }
        return by_phase.size() >= 2;
      },
      5s);
  const auto m = http(s.url() + "/metrics");
  EXPECT_EQ(metric(m.body, "ignite_http_request_timeouts_total{phase=\"header\"}"), 1) << m.body;
  EXPECT_EQ(metric(m.body, "ignite_http_request_timeouts_total{phase=\"body\"}"), 1) << m.body;
  EXPECT_EQ(by_phase.size(), 2u) << s.log();  // nothing for the idle connection
  ASSERT_TRUE(by_phase.count("header")) << s.log();
  EXPECT_EQ(by_phase["header"].at("status"), 408);
  // The header never completed: its request id (if any) was not read, one was made up.
  EXPECT_EQ(by_phase["header"].at("request_id").get<std::string>().size(), 32u);
  EXPECT_GE(by_phase["header"].at("duration_ms").get<double>(), 250);
  ASSERT_TRUE(by_phase.count("body")) << s.log();
  EXPECT_EQ(by_phase["body"].at("status"), 408);
  EXPECT_EQ(by_phase["body"].at("request_id"), "slow-body");
  EXPECT_EQ(by_phase["body"].at("route"), "/services/{name}/execute");
}

// ---- SSE: heartbeats, also while the image builds
// -------------------------------------------------

TEST(Sse, HeartbeatsWhileBuildingAndRunning) {
  // A service whose image does not exist yet: the request builds it, then runs ~1.5 s quietly.
  TempDir dir;
  const std::string name = "hb-" + std::to_string(::getpid());
  const auto svc = dir.path() / name;
  write_file(svc / "service.yaml", "service:\n  name: " + name +
                                       "\n  runtime: quickjs\n  entry: index.js\n  memoryMb: 64\n"
                                       "  timeoutMs: 20000\n");
  write_file(svc / "index.js", "print('start'); os.sleep(1500); print('end'); // " + name + "\n");
  struct RemoveImages {
    std::string repo;
    ~RemoveImages() {
      std::system(
          ("docker images -q 'ignite-svc/" + repo + "' | xargs -r docker rmi -f >/dev/null 2>&1")
              .c_str());
    }
  } cleanup{name};
  ServerProcess s({"--services", dir.path().string(), "--sse-heartbeat-ms", "200"});
  std::mutex mu;
  std::vector<std::pair<Clock::time_point, std::string>> pieces;
  Request req;
  req.method = "POST";
  req.body = "{}";
  req.on_data = [&](std::string_view d) {
    std::lock_guard lock(mu);
    pieces.emplace_back(Clock::now(), std::string(d));
    return true;
  };
  const auto t0 = Clock::now();
  const auto r = http(s.url() + "/services/" + name + "/execute?stream=1", req);
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_FALSE(pieces.empty());
  EXPECT_EQ(r.body.rfind("retry: ", 0), 0u) << r.body;
  // Heartbeats came before the service printed anything (the build), and no silence on the
  // stream was much longer than the heartbeat interval.
  const auto first_out = r.body.find("event: stdout");
  ASSERT_NE(first_out, std::string::npos) << r.body;
  const auto beats_before = [&] {
    int n = 0;
    for (auto at = r.body.find(": keep-alive"); at != std::string::npos && at < first_out;
         at = r.body.find(": keep-alive", at + 1)) {
      ++n;
    }
    return n;
  }();
  EXPECT_GE(beats_before, 1) << r.body;
  long long max_gap = ms_since(t0) - ms_since(pieces.front().first);  // time to first byte
  const long long first_byte = max_gap;
  for (std::size_t i = 1; i < pieces.size(); ++i) {
    max_gap = std::max<long long>(max_gap, std::chrono::duration_cast<std::chrono::milliseconds>(
                                               pieces[i].first - pieces[i - 1].first)
                                               .count());
  }
  std::cout << "[measure] first byte after " << first_byte << " ms, " << beats_before
            << " heartbeat(s) before the first output, longest silence " << max_gap
            << " ms (interval 200 ms), total " << ms_since(t0) << " ms\n";
  EXPECT_LT(max_gap, 1200) << r.body;  // 200 ms interval; room for a loaded 2-core host
  const auto events = parse_sse(r.body);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().first, "result") << r.body;
}

// ---- executions refused at once while Docker is not ready
// ------------------------------------------

TEST(NotReady, ExecutionsAreRefusedFastAndHealthStaysUp) {
  HangingDaemon daemon;
  ServerProcess s(with({"--rate-limit", "0"}), {{"DOCKER_HOST", daemon.docker_host()}});
  Request r;
  r.timeout_ms = 15000;
  std::vector<long long> took;
  for (int i = 0; i < 4; ++i) {
    Request p = r;
    p.method = "POST";
    p.body = R"({"skipPreflight":true})";
    const auto t = Clock::now();
    const auto e = http(s.url() + "/services/hello-quickjs/execute", p);
    took.push_back(ms_since(t));
    EXPECT_EQ(e.status, 503) << e.body;
    EXPECT_EQ(e.json().value("code", ""), "DOCKER_UNAVAILABLE") << e.body;
    EXPECT_THAT(e.json().value("error", ""), HasSubstr("did not answer")) << e.body;
    EXPECT_EQ(e.header("retry-after"), "1");
    EXPECT_EQ(e.json().value("serviceName", ""), "hello-quickjs");
    const auto t2 = Clock::now();
    EXPECT_EQ(http(s.url() + "/health", r).status, 200);
    EXPECT_LT(ms_since(t2), 500);
  }
  std::cout << "[measure] execute refused after";
  for (const auto t : took) std::cout << " " << t << " ms";
  std::cout << " (the first waits for the 1 s readiness bound)\n";
  EXPECT_LT(took[0], 3000);
  for (std::size_t i = 1; i < took.size(); ++i) EXPECT_LT(took[i], 1500) << i;
  const auto m = http(s.url() + "/metrics", r);
  EXPECT_EQ(metric(m.body, "ignite_queue_depth"), 0) << m.body;
  EXPECT_EQ(metric(m.body, "ignite_executions_running"), 0) << m.body;
  EXPECT_GE(metric(m.body, "ignite_executions_total{outcome=\"rejected\"}").value_or(0), 4);
  daemon.close();
  EXPECT_EQ(s.stop(SIGTERM), 0) << s.log();
}

// ---- the OpenAPI document against the server
// -------------------------------------------------------

namespace {

// Checks `value` against `schema` as far as the document describes it: every property the
// server sent is documented (recursively), and every required one is there.
void conforms(const nlohmann::json& value, nlohmann::json schema, const nlohmann::json& doc,
              const std::string& where, std::vector<std::string>& problems) {
  while (schema.contains("$ref")) {
    const std::string ref = schema["$ref"];
    schema = doc.at("components").at("schemas").at(ref.substr(ref.rfind('/') + 1));
  }
  if (value.is_object() && schema.contains("properties")) {
    const auto& props = schema["properties"];
    for (const auto& [key, v] : value.items()) {
      if (props.contains(key)) {
        conforms(v, props[key], doc, where + "." + key, problems);
      } else if (!schema.contains("additionalProperties") ||
                 schema["additionalProperties"] == false) {
        problems.push_back(where + "." + key + " is sent but not documented");
      }
    }
    for (const auto& req : schema.value("required", nlohmann::json::array())) {
      if (!value.contains(req.get<std::string>())) {
        problems.push_back(where + "." + req.get<std::string>() + " is required but missing");
      }
    }
  } else if (value.is_object() && schema.contains("additionalProperties") &&
             schema["additionalProperties"].is_object()) {
    for (const auto& [key, v] : value.items()) {
      conforms(v, schema["additionalProperties"], doc, where + "." + key, problems);
    }
  } else if (value.is_array() && schema.contains("items")) {
    for (std::size_t i = 0; i < value.size(); ++i) {
      conforms(value[i], schema["items"], doc, where + "[" + std::to_string(i) + "]", problems);
    }
  }
}

struct Answer {
  std::string path;    // the document's path template
  std::string method;  // lowercase
  Response response;
};

}  // namespace

// Every route, method and status the server answers (including the streaming variants, the
// preflight 500, the 503s) is in the document, every JSON body matches the documented schema
// (ExecutionMetrics lists every field sent), and every 405's Allow header lists exactly the
// methods the document has for that path.
TEST(OpenApi, DocumentsEverythingTheServerAnswers) {
  ServerProcess s(with({"--api-key", kKey, "--rate-limit", "0", "--max-body", "2048"}));
  ServerProcess limited(with({"--api-key", kKey, "--rate-limit", "1"}));
  HangingDaemon daemon;
  ServerProcess stalled(with({"--api-key", kKey, "--rate-limit", "0"}),
                        {{"DOCKER_HOST", daemon.docker_host()}});
  const auto doc = http(s.url() + "/openapi.json", authed()).json();
  ASSERT_TRUE(eventually([&] { return http(s.url() + "/ready").status == 200; }, 30s));

  std::vector<Answer> answers;
  auto ask = [&](const std::string& base, const std::string& tmpl, const std::string& path,
                 Request r) {
    if (r.method.empty()) r.method = "GET";
    std::string method = r.method;
    for (auto& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    answers.push_back({tmpl, method, http(base + path, r)});
    return answers.back().response;
  };
  auto head = [] {
    Request r = authed();
    r.method = "HEAD";
    return r;
  };
  const std::string u = s.url();
  ask(u, "/health", "/health", {});
  ask(u, "/health", "/health", head());
  ask(u, "/ready", "/ready", {});
  ask(stalled.url(), "/ready", "/ready", {});  // 503
  ask(u, "/services", "/services", authed());
  ask(u, "/services", "/services", {});  // 401
  ask(u, "/services", "/services", head());
  ask(u, "/services/{name}", "/services/hello-node", authed());
  ask(u, "/services/{name}", "/services/Bad_Name", authed());
  ask(u, "/services/{name}", "/services/nope", authed());
  ask(u, "/services/{name}/preflight", "/services/hello-node/preflight", authed());
  ask(u, "/services/{name}/preflight", "/services/ghost/preflight", authed());
  ask(u, "/services/{name}/preflight", "/services/nope/preflight", authed());
  ask(u, "/services/{name}/preflight", "/services/hello-node/preflight", head());
  ask(u, "/services/{name}/execute", "/services/hello-quickjs/execute",
      post(R"({"input":{"name":"doc"}})"));
  ask(u, "/services/{name}/execute", "/services/hello-quickjs/execute",
      post(R"({"input":{"name":"doc"},"audit":true})"));
  ask(u, "/services/{name}/execute", "/services/fail/execute", post(R"({"skipPreflight":true})"));
  const auto streamed =
      ask(u, "/services/{name}/execute", "/services/hello-quickjs/execute?stream=1", post("{}"));
  const auto streamed_error =
      ask(u, "/services/{name}/execute", "/services/tiny/execute?stream=1", post("{}"));
  ask(u, "/services/{name}/execute", "/services/tiny/execute", post("{}"));  // 400
  ask(u, "/services/{name}/execute", "/services/hello-node/execute",
      post(R"({"env":{"NODE_OPTIONS":"x"}})"));                              // 400
  ask(u, "/services/{name}/execute", "/services/nope/execute", post("{}"));  // 404
  ask(u, "/services/{name}/execute", "/services/ghost/execute",
      post(R"({"skipPreflight":true})"));  // 500
  ask(u, "/services/{name}/execute", "/services/hello-node/execute",
      post(std::string(4096, ' ')));  // 413
  ask(stalled.url(), "/services/{name}/execute", "/services/hello-quickjs/execute",
      post("{}"));  // 503
  Request big = authed();
  big.headers.push_back("X-Big: " + std::string(20000, 'x'));
  ask(u, "/metrics", "/metrics", big);  // 431
  ask(u, "/metrics", "/metrics", authed());
  ask(u, "/openapi.json", "/openapi.json", authed());
  ask(limited.url(), "/services", "/services", authed());
  ask(limited.url(), "/services", "/services", authed());  // 429

  std::set<std::pair<std::string, long>> seen;
  for (const auto& a : answers) {
    const long status = a.response.status;
    ASSERT_GT(status, 0) << a.method << " " << a.path << ": " << a.response.error;
    seen.insert({a.method + " " + a.path, status});
    ASSERT_TRUE(doc["paths"].contains(a.path)) << a.path;
    ASSERT_TRUE(doc["paths"][a.path].contains(a.method)) << a.method << " " << a.path;
    const auto& responses = doc["paths"][a.path][a.method]["responses"];
    const std::string code = std::to_string(status);
    ASSERT_TRUE(responses.contains(code))
        << a.method << " " << a.path << " answers " << code << " (" << a.response.body
        << ") which the document does not list";
    const std::string type = a.response.header("content-type");
    if (a.method == "head" || a.response.body.empty()) continue;
    const std::string media = type.substr(0, type.find(';'));
    ASSERT_TRUE(responses[code]["content"].contains(media))
        << a.method << " " << a.path << " " << code << " sends " << media;
    std::vector<std::string> problems;
    if (media == "application/json") {
      conforms(a.response.json(), responses[code]["content"][media]["schema"], doc,
               a.method + " " + a.path + " " + code, problems);
    } else if (media == "text/event-stream") {
      // A result event is an ExecuteResponse, an error event an Error.
      for (const auto& [event, data] : parse_sse(a.response.body)) {
        if (event == "result") {
          conforms(nlohmann::json::parse(data), {{"$ref", "#/components/schemas/ExecuteResponse"}},
                   doc, "event result", problems);
        } else if (event == "error") {
          conforms(nlohmann::json::parse(data), {{"$ref", "#/components/schemas/Error"}}, doc,
                   "event error", problems);
        } else {
          EXPECT_TRUE(event == "stdout" || event == "stderr") << event;
        }
      }
    }
    EXPECT_TRUE(problems.empty()) << ::testing::PrintToString(problems);
  }
  // The variants this test set out to see were seen (so the checks above covered them).
  for (const auto& [what, status] :
       std::vector<std::pair<std::string, long>>{{"get /ready", 503},
                                                 {"get /services", 429},
                                                 {"post /services/{name}/execute", 413},
                                                 {"post /services/{name}/execute", 500},
                                                 {"post /services/{name}/execute", 503},
                                                 {"get /metrics", 431}}) {
    EXPECT_TRUE(seen.count({what, status})) << what << " " << status;
  }
  EXPECT_THAT(streamed.header("content-type"), HasSubstr("text/event-stream"));
  EXPECT_THAT(streamed_error.body, HasSubstr("event: error"));
  // Statuses the tests cannot provoke cheaply are listed all the same: a full blocking pool
  // (503 SERVER_BUSY) and an engine failure during preflight (500).
  for (const char* p : {"/services", "/services/{name}", "/services/{name}/preflight",
                        "/services/{name}/execute"}) {
    EXPECT_TRUE(doc["paths"][p].begin()->at("responses").contains("503")) << p;
  }
  EXPECT_TRUE(doc["paths"]["/services/{name}/preflight"]["get"]["responses"].contains("500"));

  // 405: the Allow header and the document agree, for every path.
  const std::map<std::string, std::string> concrete = {
      {"/health", "/health"},
      {"/ready", "/ready"},
      {"/services", "/services"},
      {"/services/{name}", "/services/hello-node"},
      {"/services/{name}/preflight", "/services/hello-node/preflight"},
      {"/services/{name}/execute", "/services/hello-node/execute"},
      {"/metrics", "/metrics"},
      {"/openapi.json", "/openapi.json"}};
  ASSERT_EQ(doc["paths"].size(), concrete.size());
  for (const auto& [tmpl, path] : concrete) {
    Request r = authed();
    r.method = "PUT";
    const auto wrong = http(u + path, r);
    EXPECT_EQ(wrong.status, 405) << path;
    std::set<std::string> documented;
    for (const auto& [method, _] : doc["paths"][tmpl].items()) {
      std::string m = method;
      for (auto& c : m) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      documented.insert(m);
    }
    std::set<std::string> allowed;
    std::string allow = wrong.header("allow");
    for (std::size_t at = 0; at <= allow.size();) {
      const auto comma = allow.find(',', at);
      std::string m = allow.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
      m.erase(0, m.find_first_not_of(' '));
      if (!m.empty()) allowed.insert(m);
      if (comma == std::string::npos) break;
      at = comma + 1;
    }
    EXPECT_EQ(allowed, documented) << tmpl;
  }
  daemon.close();
}

// ---- `ignite serve`: the second signal is the server's fast shutdown
// ---------------------------------

TEST(CliServe, SecondSignalCancelsAndRemovesNeverExitsWithContainersLeft) {
  const fs::path cli = Ignite::testing::runfile("examples/cli/ignite");
  ServerProcess s({"serve", "--services", services_dir().string(), "--grace-ms", "60000",
                   "--max-concurrent", "2"},
                  {}, cli);
  std::vector<std::jthread> running;
  std::vector<Response> answers(2);
  for (int i = 0; i < 2; ++i) {
    running.emplace_back([&, i] {
      Request p;
      p.method = "POST";
      p.body = R"({"input":{"ms":60000},"skipPreflight":true})";
      answers[i] = http(s.url() + "/services/slow/execute", p);
    });
  }
  ASSERT_TRUE(eventually(
      [&] {
        return metric(http(s.url() + "/metrics").body, "ignite_executions_running").value_or(0) >=
               2;
      },
      60s));
  ASSERT_TRUE(eventually([&] { return containers_of(s.pid()).size() >= 2; }, 30s));
  ::kill(s.pid(), SIGTERM);
  std::this_thread::sleep_for(500ms);
  EXPECT_TRUE(s.running()) << "the first signal waits for the grace period";
  const auto t0 = Clock::now();
  const int status = s.stop(SIGTERM, 60s);  // the second signal
  const auto took = ms_since(t0);
  std::cout << "[measure] ignite serve: second SIGTERM to exit " << took << " ms\n";
  EXPECT_EQ(status, 0) << s.log();
  EXPECT_LT(took, 20000) << s.log();
  EXPECT_THAT(s.log(), HasSubstr("cancelling running executions"));
  for (auto& t : running) t.join();
  for (const auto& a : answers) {
    // Cancelled: the service ran and was stopped, which is an outcome.
    ASSERT_EQ(a.status, 200) << a.body << a.error;
    EXPECT_EQ(a.json().at("metrics").at("outcome"), "cancelled") << a.body;
  }
  EXPECT_TRUE(containers_of(s.pid()).empty()) << ::testing::PrintToString(containers_of(s.pid()));
}
