#include "examples/http/router.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <system_error>

#include "examples/http/openapi.hpp"
#include "examples/http/readiness.hpp"
#include "ignite/engine.hpp"
#include "ignite/error.hpp"
#include "ignite/json.hpp"
#include "ignite/service.hpp"
#include "ignite/version.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace ignite_http {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX decoding; malformed escapes stay as written (name validation rejects them later).
std::string percent_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size()) {
      const int hi = hex_value(in[i + 1]);
      const int lo = hex_value(in[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += in[i];
  }
  return out;
}

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  // One trailing slash is tolerated ("/services/" is "/services").
  if (!path.empty() && path.back() == '/') path.remove_suffix(1);
  std::size_t start = 0;
  for (;;) {
    const auto slash = path.find('/', start);
    parts.push_back(path.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return parts;
}

// An Ignite::Error as a reply: Docker down and cancellation are 503, a bad argument is 400,
// anything else is the server's own fault (500).
Reply error_from(const Ignite::Error& e, json extra = json::object()) {
  switch (e.code()) {
    case Ignite::ErrorCode::DockerUnavailable:
    case Ignite::ErrorCode::Cancelled:
      return error_reply(http::status::service_unavailable, error_code_name(e), e.message(),
                         std::move(extra));
    case Ignite::ErrorCode::InvalidArgument:
      return error_reply(http::status::bad_request, error_code_name(e), e.message(),
                         std::move(extra));
    default:
      return error_reply(http::status::internal_server_error, error_code_name(e), e.message(),
                         std::move(extra));
  }
}

Reply invalid_name(const std::string& reason, json extra = json::object()) {
  return error_reply(http::status::bad_request, "INVALID_SERVICE_NAME",
                     "Service name invalid: " + reason, std::move(extra));
}

Reply service_not_found(const std::string& name, json extra = json::object()) {
  return error_reply(http::status::not_found, "SERVICE_NOT_FOUND", "Service not found: " + name,
                     std::move(extra));
}

std::string type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::string:
      return "string";
    case json::value_t::array:
      return "array";
    case json::value_t::object:
      return "object";
    case json::value_t::discarded:
      return "invalid";
    default:
      return "number";
  }
}

Reply field_error(const std::string& field, const std::string& message) {
  return error_reply(http::status::bad_request, "INVALID_BODY", message, {{"field", field}});
}

double seconds(std::chrono::microseconds d) { return static_cast<double>(d.count()) / 1e6; }

}  // namespace

// ---- routing ---------------------------------------------------------------------------------

RouteMatch match_route(http::verb method, std::string_view target) {
  RouteMatch m;
  const auto q = target.find('?');
  m.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) m.query = std::string(target.substr(q + 1));

  const auto parts = split_path(m.path);
  auto want = [&](RouteId id, std::string label, http::verb allowed) {
    m.id = id;
    m.label = std::move(label);
    m.method_allowed = method == allowed;
    m.allow = std::string(http::to_string(allowed));
    // HEAD wherever GET is (RFC 9110 9.3.2): load balancers probe with it, and the answer is
    // the GET's status and headers without a body.
    if (allowed == http::verb::get) {
      m.method_allowed = method == http::verb::get || method == http::verb::head;
      m.allow = "GET, HEAD";
    }
  };
  if (m.path.empty() || m.path.front() != '/') return m;
  if (parts.size() == 1) {
    if (parts[0] == "health") {
      want(RouteId::Health, "/health", http::verb::get);
    } else if (parts[0] == "ready") {
      want(RouteId::Ready, "/ready", http::verb::get);
    } else if (parts[0] == "services") {
      want(RouteId::Services, "/services", http::verb::get);
    } else if (parts[0] == "metrics") {
      want(RouteId::Metrics, "/metrics", http::verb::get);
    } else if (parts[0] == "openapi.json") {
      want(RouteId::OpenApi, "/openapi.json", http::verb::get);
    }
  } else if (parts[0] == "services" && (parts.size() == 2 || parts.size() == 3)) {
    if (parts.size() == 2) {
      want(RouteId::Service, "/services/{name}", http::verb::get);
    } else if (parts[2] == "preflight") {
      want(RouteId::Preflight, "/services/{name}/preflight", http::verb::get);
    } else if (parts[2] == "execute") {
      want(RouteId::Execute, "/services/{name}/execute", http::verb::post);
    } else {
      return m;
    }
    m.name = percent_decode(parts[1]);
  }
  return m;
}

std::optional<std::string> query_param(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const auto eq = pair.find('=');
    if (percent_decode(pair.substr(0, eq)) == key) {
      return eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1));
    }
  }
  return std::nullopt;
}

// ---- replies ---------------------------------------------------------------------------------

Reply json_reply(http::status status, const json& body) {
  Reply r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

Reply error_reply(http::status status, std::string_view code, std::string_view message,
                  json extra) {
  if (!extra.is_object()) extra = json::object();
  extra["error"] = std::string(message);
  extra["code"] = std::string(code);
  return json_reply(status, extra);
}

std::string error_code_name(const Ignite::Error& e) {
  switch (e.code()) {
    case Ignite::ErrorCode::DockerUnavailable:
      return "DOCKER_UNAVAILABLE";
    case Ignite::ErrorCode::Cancelled:
      return "CANCELLED";
    case Ignite::ErrorCode::InvalidArgument:
      return "INVALID_ARGUMENT";
    default:
      break;
  }
  std::string s(Ignite::to_string(e.code()));
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s + "_ERROR";
}

Reply service_unavailable(std::string_view code, std::string_view message) {
  return error_reply(http::status::service_unavailable, code, message);
}

// ---- execute body ----------------------------------------------------------------------------

std::variant<ExecuteBody, Reply> parse_execute_body(std::string_view text) {
  ExecuteBody body;
  const bool blank = std::all_of(
      text.begin(), text.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
  if (blank) return body;
  const json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) {
    return error_reply(http::status::bad_request, "INVALID_BODY", "Request body is not valid JSON");
  }
  if (!j.is_object()) {
    return field_error("body", "Request body must be a JSON object, got " + type_name(j));
  }
  for (const auto& [key, value] : j.items()) {
    if (key == "input") {
      body.input = value;
    } else if (key == "skipPreflight" || key == "audit" || key == "skipBuild") {
      if (!value.is_boolean()) {
        return field_error(key, key + " must be a boolean, got " + type_name(value));
      }
      if (key == "skipPreflight") body.skip_preflight = value.get<bool>();
      if (key == "audit") body.audit = value.get<bool>();
      // skipBuild (reference): accepted for compatibility; images are rebuilt only when their
      // inputs change, so there is nothing to skip.
    } else if (key == "cpuTimeMs") {
      // As service.cpuTimeMs: a positive number of milliseconds of CPU time (at most 1e12).
      if (!value.is_number() || !(value.get<double>() > 0) || value.get<double>() > 1e12) {
        return field_error(key, "cpuTimeMs must be a positive number of milliseconds of CPU "
                                "time, at most 1e12, got " +
                                    (value.is_number() ? value.dump() : type_name(value)));
      }
      body.cpu_time_ms = value.get<double>();
    } else if (key == "env") {
      if (!value.is_object()) {
        return field_error("env", "env must be an object of strings, got " + type_name(value));
      }
      for (const auto& [name, v] : value.items()) {
        if (!Ignite::is_valid_env_name(name)) {
          return field_error(
              "env." + name,
              "env." + name + ": not a valid environment variable name ([A-Za-z_][A-Za-z0-9_]*)");
        }
        if (!v.is_string()) {
          return field_error("env." + name,
                             "env." + name + " must be a string, got " + type_name(v));
        }
        const std::string s = v.get<std::string>();
        if (s.find('\0') != std::string::npos) {
          return field_error("env." + name, "env." + name + " contains a NUL character");
        }
        body.env[name] = s;
      }
    } else {
      return field_error(key, "Unknown field: " + key);
    }
  }
  return body;
}

std::optional<Reply> check_env_allowed(const Ignite::ServiceConfig& config,
                                       const std::map<std::string, std::string>& env) {
  for (const auto& [name, value] : env) {
    (void)value;
    if (std::find(config.overridable_env.begin(), config.overridable_env.end(), name) !=
        config.overridable_env.end()) {
      continue;
    }
    return error_reply(http::status::bad_request, "ENV_NOT_ALLOWED",
                       "env." + name + ": the service does not let clients set " + name +
                           (config.overridable_env.empty()
                                ? std::string(" (its service.yaml declares no overridableEnv)")
                                : " (service.yaml overridableEnv: " +
                                      [&] {
                                        std::string list;
                                        for (const auto& n : config.overridable_env) {
                                          list += (list.empty() ? "" : ", ") + n;
                                        }
                                        return list;
                                      }() +
                                      ")"),
                       {{"field", "env." + name}});
  }
  return std::nullopt;
}

// ---- router ----------------------------------------------------------------------------------

Router::Router(fs::path services_dir, Ignite::Engine& engine, const BearerAuth& auth,
               RateLimiter& limiter, Metrics& metrics, ReadinessProbe& readiness,
               std::function<Gauges()> gauges)
    : services_dir_(std::move(services_dir)),
      engine_(engine),
      auth_(auth),
      limiter_(limiter),
      metrics_(metrics),
      readiness_(readiness),
      gauges_(std::move(gauges)) {}

std::optional<Reply> Router::admit(const RouteMatch& route, const http::fields& headers,
                                   const std::string& client) {
  // Probes carry no secrets. /ready is safe to leave unlimited: however often it is asked, the
  // daemon sees about one ping a second (ReadinessProbe).
  if ((route.id == RouteId::Health || route.id == RouteId::Ready) && route.method_allowed) {
    return std::nullopt;
  }
  // Rate limit first, keyed on the client's own address: a client that fails auth spends
  // only its own quota, never another's.
  const auto d = limiter_.check(client);
  if (!d.allowed) {
    const std::string secs = std::to_string(d.retry_after.count());
    Reply r = error_reply(http::status::too_many_requests, "RATE_LIMITED",
                          "Rate limit exceeded. Retry after " + secs + " seconds");
    r.headers.emplace_back(http::field::retry_after, secs);
    return r;
  }
  if (auth_.enabled()) {
    const auto it = headers.find(http::field::authorization);
    const std::string_view value = it == headers.end()
                                       ? std::string_view{}
                                       : std::string_view(it->value().data(), it->value().size());
    if (!auth_.check(value)) {
      Reply r = error_reply(http::status::unauthorized, "UNAUTHORIZED",
                            "Unauthorized: Invalid or missing API key");
      r.headers.emplace_back(http::field::www_authenticate, "Bearer realm=\"ignite\"");
      return r;
    }
  }
  if (route.id == RouteId::NotFound) {
    return error_reply(http::status::not_found, "NOT_FOUND", "Route not found: " + route.path);
  }
  if (!route.method_allowed) {
    Reply r = error_reply(http::status::method_not_allowed, "METHOD_NOT_ALLOWED",
                          "Method not allowed; " + route.label + " accepts " + route.allow);
    r.headers.emplace_back(http::field::allow, route.allow);
    return r;
  }
  return std::nullopt;
}

Decision Router::handle(const RouteMatch& route,
                        const http::request<http::string_body>& req) const {
  switch (route.id) {
    case RouteId::Health:
      return health();
    case RouteId::Ready:
      return AsyncCall{[probe = &readiness_](std::function<void(Reply)> done) {
        probe->check(std::move(done));
      }};
    case RouteId::Metrics:
      return metrics();
    case RouteId::OpenApi:
      return json_reply(http::status::ok, openapi_document());
    case RouteId::Services:
      return BlockingCall{[this] { return list_services(); }};
    case RouteId::Service:
    case RouteId::Preflight: {
      if (const auto problem = Ignite::validate_name(route.name)) return invalid_name(*problem);
      const std::string name = route.name;
      if (route.id == RouteId::Service)
        return BlockingCall{[this, name] { return service_config(name); }};
      return BlockingCall{[this, name] { return preflight(name); }};
    }
    case RouteId::Execute: {
      const json who = {{"success", false}, {"serviceName", route.name}};
      if (const auto problem = Ignite::validate_name(route.name))
        return invalid_name(*problem, who);
      auto parsed = parse_execute_body(req.body());
      if (auto* bad = std::get_if<Reply>(&parsed)) {
        json body = json::parse(bad->body);
        body.update(who);
        return json_reply(bad->status, body);
      }
      ExecuteJob job;
      job.name = route.name;
      job.dir = services_dir_ / route.name;
      job.body = std::move(std::get<ExecuteBody>(parsed));
      const auto stream = query_param(route.query, "stream");
      job.stream = stream && (*stream == "1" || *stream == "true");
      // One stat on the I/O thread answers the common 404 without a worker; a directory whose
      // service.yaml does not load is found out (also 404) on the worker.
      std::error_code ec;
      if (!fs::is_regular_file(job.dir / "service.yaml", ec))
        return service_not_found(route.name, who);
      return job;
    }
    case RouteId::NotFound:
      break;
  }
  return error_reply(http::status::not_found, "NOT_FOUND", "Route not found: " + route.path);
}

Reply Router::health() const {
  const auto up =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_);
  return json_reply(
      http::status::ok,
      {{"status", "ok"}, {"version", std::string(Ignite::version())}, {"uptime", up.count()}});
}

Reply Router::metrics() const {
  Reply r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = metrics_.render(gauges_ ? gauges_() : Gauges{});
  return r;
}

Reply Router::list_services() const {
  std::error_code ec;
  fs::directory_iterator it(services_dir_, ec);
  if (ec) {
    return error_reply(http::status::internal_server_error, "LIST_ERROR",
                       "Cannot list the services directory: " + ec.message());
  }
  std::vector<std::string> names;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    const std::string name = it->path().filename().string();
    // Hidden and oddly named directories fail the name rule; only loadable services count.
    if (Ignite::validate_name(name)) continue;
    std::error_code dir_ec;
    if (!fs::is_directory(it->path(), dir_ec)) continue;
    try {
      engine_.load(it->path());
      names.push_back(name);
    } catch (const std::exception&) {
    }
  }
  if (ec) {
    return error_reply(http::status::internal_server_error, "LIST_ERROR",
                       "Cannot list the services directory: " + ec.message());
  }
  std::sort(names.begin(), names.end());
  return json_reply(http::status::ok, {{"services", names}});
}

Reply Router::service_config(const std::string& name) const {
  try {
    const Ignite::Service svc = engine_.load(services_dir_ / name);
    return json_reply(http::status::ok, json(svc.config));
  } catch (const Ignite::Error&) {
    return service_not_found(name);
  }
}

Reply Router::preflight(const std::string& name) const {
  Ignite::Service svc;
  try {
    svc = engine_.load(services_dir_ / name);
  } catch (const Ignite::Error&) {
    return service_not_found(name);
  }
  try {
    Ignite::PreflightOptions options;
    options.build_image = false;  // GET has no side effects: the image is measured if it exists
    const Ignite::PreflightResult pf = engine_.preflight(svc, options);
    return json_reply(http::status::ok, {{"serviceName", name}, {"preflight", pf}});
  } catch (const Ignite::Error& e) {
    return error_from(e, {{"serviceName", name}});
  } catch (const std::exception& e) {
    return error_reply(http::status::internal_server_error, "INTERNAL_ERROR", e.what(),
                       {{"serviceName", name}});
  }
}

ExecuteReply Router::execute(const ExecuteJob& job, std::stop_token stop,
                             const ExecuteHooks& hooks) const {
  ExecuteReply out;
  const json who = {{"success", false}, {"serviceName", job.name}};
  if (stop.stop_requested()) {
    metrics_.record_execution("rejected");
    out.reply = error_reply(http::status::service_unavailable, "SHUTTING_DOWN",
                            "Server is shutting down", who);
    return out;
  }
  Ignite::Service svc;
  try {
    svc = engine_.load(job.dir);
  } catch (const Ignite::Error&) {
    out.reply = service_not_found(job.name, who);
    return out;
  }
  if (auto refused = check_env_allowed(svc.config, job.body.env)) {
    json body = json::parse(refused->body);
    body.update(who);
    metrics_.record_execution("rejected");
    out.reply = json_reply(refused->status, body);
    return out;
  }
  // The request's CPU-time limit replaces service.yaml's for preflight and the execution.
  if (job.body.cpu_time_ms) svc.config.cpu_time_ms = job.body.cpu_time_ms;
  try {
    std::optional<Ignite::PreflightResult> pf;
    if (!job.body.skip_preflight) {
      // Builds the image when it is missing, so the image check runs; execute reuses it.
      Ignite::PreflightOptions options;
      options.build_image = true;
      pf = engine_.preflight(svc, options);
      if (pf->overall == Ignite::CheckStatus::Fail) {
        metrics_.record_execution("preflight_failed");
        json extra = who;
        extra["preflight"] = *pf;
        out.reply = error_reply(http::status::bad_request, "PREFLIGHT_FAILED",
                                "Preflight checks failed", extra);
        return out;
      }
    }
    if (stop.stop_requested()) {
      metrics_.record_execution("cancelled");
      out.reply = error_reply(http::status::service_unavailable, "SHUTTING_DOWN",
                              "Server is shutting down", who);
      return out;
    }
    Ignite::ExecuteOptions opt;
    if (job.body.input) opt.input = job.body.input->dump();
    opt.env = job.body.env;
    opt.audit = job.body.audit;
    opt.stop_token = stop;
    opt.on_stdout = hooks.on_stdout;
    opt.on_stderr = hooks.on_stderr;
    if (hooks.on_start) {
      hooks.on_start();
      out.started = true;
    }
    const Ignite::ExecutionResult r = engine_.execute(svc, opt);
    metrics_.record_execution(Ignite::to_string(r.outcome), seconds(r.duration));
    json body = {{"success", r.outcome == Ignite::Outcome::Success},
                 {"serviceName", job.name},
                 {"metrics", r}};
    if (pf) body["preflight"] = *pf;
    if (r.audit) body["securityAudit"] = *r.audit;
    out.reply = json_reply(http::status::ok, body);
  } catch (const Ignite::Error& e) {
    metrics_.record_execution("failed");
    out.reply = error_from(e, who);
  } catch (const std::exception& e) {
    metrics_.record_execution("failed");
    out.reply = error_reply(http::status::internal_server_error, "INTERNAL_ERROR", e.what(), who);
  }
  return out;
}

}  // namespace ignite_http
