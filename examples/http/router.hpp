// The pure half of the server: request in, reply out, no sockets (the shape of Beast's
// handle_request). Routing, the guard (rate limit, auth), body validation and every JSON shape
// live here; the session decides only *where* work runs. Work that blocks (the filesystem,
// Docker) is handed back as a BlockingCall or an ExecuteJob for a worker pool, or as an AsyncCall
// that answers later without holding any thread of the server's (/ready).
//
// Every GET route answers HEAD too (the same status and headers, no body).
//   GET  /health                       {status, version, uptime}         no guard
//   GET  /ready  (and HEAD)            {status, docker}; 503 {status, error, code}  no guard
//   GET  /services                     {services: [valid names, sorted]}
//   GET  /services/{name}              the service config
//   GET  /services/{name}/preflight    {serviceName, preflight}          never builds
//   POST /services/{name}/execute      {success, serviceName, metrics, preflight?, securityAudit?}
//        ?stream=1                     the same as Server-Sent Events (stdout, stderr, result)
//   GET  /metrics                      Prometheus text
//   GET  /openapi.json                 OpenAPI 3 document
// Errors are JSON {error, code} everywhere.
#pragma once

#include <boost/beast/http.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "examples/http/auth.hpp"
#include "examples/http/metrics.hpp"
#include "examples/http/rate_limit.hpp"

namespace Ignite {
class Engine;
class Error;
struct ServiceConfig;
}  // namespace Ignite

namespace ignite_http {

namespace http = boost::beast::http;

enum class RouteId {
  Health,
  Ready,
  Services,
  Service,
  Preflight,
  Execute,
  Metrics,
  OpenApi,
  NotFound
};

struct RouteMatch {
  RouteId id = RouteId::NotFound;
  std::string label = "unmatched";  // route template: metrics label and access log
  std::string name;                 // the percent-decoded {name} segment
  bool method_allowed = true;
  std::string allow;  // the Allow header when !method_allowed
  std::string path;   // the target without its query
  std::string query;
};

RouteMatch match_route(http::verb method, std::string_view target);

// The value of `key` in a query string ("a=1&stream=1"), percent-decoded.
std::optional<std::string> query_param(std::string_view query, std::string_view key);

struct Reply {
  http::status status = http::status::ok;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<http::field, std::string>> headers;
};

Reply json_reply(http::status status, const nlohmann::json& body);
// {error: message, code} merged into `extra` (e.g. success/serviceName on execute).
Reply error_reply(http::status status, std::string_view code, std::string_view message,
                  nlohmann::json extra = nlohmann::json::object());
// The `code` an Ignite::Error is reported with: DOCKER_UNAVAILABLE, CANCELLED,
// INVALID_ARGUMENT, else <CODE>_ERROR (e.g. CONFIG_ERROR).
std::string error_code_name(const Ignite::Error& e);

struct ExecuteBody {
  std::optional<nlohmann::json> input;
  bool skip_preflight = false;
  bool audit = false;
  std::map<std::string, std::string> env;
  std::optional<double> cpu_time_ms;  // overrides service.cpuTimeMs
};

// Parses a POST execute body (empty means {}); on error, the 400 reply naming the field.
std::variant<ExecuteBody, Reply> parse_execute_body(std::string_view body);

// Clients may set only the variables the service declares overridable (service.yaml
// `overridableEnv`): anything else could change how the runtime starts (NODE_OPTIONS=--require
// runs code before the audit bootstrap). The 400 naming the first variable refused, or nullopt.
std::optional<Reply> check_env_allowed(const Ignite::ServiceConfig& config,
                                       const std::map<std::string, std::string>& env);

struct ExecuteJob {
  std::string name;
  std::filesystem::path dir;
  ExecuteBody body;
  bool stream = false;
};

// How an execution on a worker reports progress; called on the worker thread.
struct ExecuteHooks {
  std::function<void()> on_start;  // preflight passed: the service is about to run
  std::function<void(std::string_view)> on_stdout;
  std::function<void(std::string_view)> on_stderr;
};

struct ExecuteReply {
  Reply reply;
  bool started = false;  // on_start was called (a stream, if any, has begun)
};

struct BlockingCall {
  std::function<Reply()> run;
};

// Work that answers later without holding a thread of the server's: `start` is called on the
// I/O thread, must return at once, and calls its argument exactly once with the reply, from any
// thread.
struct AsyncCall {
  std::function<void(std::function<void(Reply)>)> start;
};

using Decision = std::variant<Reply, BlockingCall, ExecuteJob, AsyncCall>;

class ReadinessProbe;

class Router {
 public:
  // `readiness` answers /ready; it must outlive the router's use.
  Router(std::filesystem::path services_dir, Ignite::Engine& engine, const BearerAuth& auth,
         RateLimiter& limiter, Metrics& metrics, ReadinessProbe& readiness,
         std::function<Gauges()> gauges);

  // After the request header: rate limit (keyed on `client`), then auth, then 404/405.
  // /health and /ready are exempt. Returns the reply that ends the request, or nullopt to go on.
  std::optional<Reply> admit(const RouteMatch& route, const http::fields& headers,
                             const std::string& client);

  // After the body: the reply, or the blocking work that produces it.
  Decision handle(const RouteMatch& route, const http::request<http::string_body>& req) const;

  // Blocking handlers, for worker threads.
  Reply list_services() const;
  Reply service_config(const std::string& name) const;
  Reply preflight(const std::string& name) const;
  // Loads, preflights (building the image when needed), runs; records execution metrics.
  ExecuteReply execute(const ExecuteJob& job, std::stop_token stop,
                       const ExecuteHooks& hooks) const;

  Reply health() const;
  Reply metrics() const;

  const std::filesystem::path& services_dir() const noexcept { return services_dir_; }

 private:
  std::filesystem::path services_dir_;
  Ignite::Engine& engine_;
  const BearerAuth& auth_;
  RateLimiter& limiter_;
  Metrics& metrics_;
  ReadinessProbe& readiness_;
  std::function<Gauges()> gauges_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

// Reply status helpers shared with the session.
Reply service_unavailable(std::string_view code, std::string_view message);

}  // namespace ignite_http
