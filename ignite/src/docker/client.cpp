#include "ignite/src/docker/client.hpp"

#include <cctype>
#include <cstdlib>
#include <optional>
#include <utility>
#include <vector>

#include "ignite/error.hpp"
#include "ignite/src/docker/curl_transport.hpp"
#include "ignite/src/docker/detail.hpp"

namespace Ignite::docker {
namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;

// Failure bounds, not latency expectations: a busy daemon can take seconds to create, start or
// force-remove a container, and a 100+ MiB import takes tens of seconds.

bool is_success(long status) { return status >= 200 && status < 300; }

// Percent-encodes everything but RFC 3986 unreserved characters. `in_path` keeps '/', ':' and
// '@' for image references in paths ("ignite-test/busybox:latest"): the daemon routes those
// unescaped, as the docker CLI sends them.
std::string encode(std::string_view text, bool in_path = false) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
                            c == '~' || (in_path && (c == '/' || c == ':' || c == '@'));
    if (unreserved) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0x0F];
    }
  }
  return out;
}

std::string api(std::string_view path) { return std::string(kApiPrefix) + std::string(path); }

std::string dump(const json& value, std::string_view what) {
  try {
    return value.dump();
  } catch (const json::exception& e) {
    throw Error(ErrorCode::InvalidArgument,
                std::string(what) + ": request body cannot be sent as JSON: " + e.what());
  }
}

// A query parameter "&filters=..." selecting by labels, or "" for no filter.
std::string label_filter_param(const std::vector<std::string>& label_filters) {
  if (label_filters.empty()) return {};
  return "&filters=" + encode(dump(json{{"label", label_filters}}, "label filter"));
}

json parse(std::string_view body, std::string_view what) {
  json value = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    throw Error(ErrorCode::Docker, std::string(what) + ": the Docker daemon's reply is not JSON: " +
                                       std::string(body.substr(0, 200)));
  }
  return value;
}

std::vector<json> parse_array(std::string_view body, std::string_view what) {
  json value = parse(body, what);
  if (!value.is_array()) {
    throw Error(ErrorCode::Docker, std::string(what) + ": expected a JSON array from the daemon");
  }
  return std::vector<json>(std::make_move_iterator(value.begin()),
                           std::make_move_iterator(value.end()));
}

HttpRequest make_request(std::string method, std::string path, milliseconds timeout) {
  HttpRequest req;
  req.method = std::move(method);
  req.path = std::move(path);
  req.timeout = timeout;
  return req;
}

// Full 64-hex container ids are shortened in messages the way the docker CLI shows them; names
// are kept whole.
std::string short_id(const std::string& id) {
  const bool full_id =
      id.size() == 64 && id.find_first_not_of("0123456789abcdef") == std::string::npos;
  return full_id ? id.substr(0, 12) : id;
}

// Splits a stream of newline-terminated JSON messages that may be cut anywhere.
class LineSplitter {
 public:
  template <typename OnLine>
  void feed(std::string_view chunk, OnLine&& on_line) {
    partial_.append(chunk);
    std::size_t start = 0;
    for (std::size_t end; (end = partial_.find('\n', start)) != std::string::npos;
         start = end + 1) {
      on_line(std::string_view(partial_).substr(start, end - start));
    }
    partial_.erase(0, start);
  }
  template <typename OnLine>
  void finish(OnLine&& on_line) {
    if (!partial_.empty()) on_line(std::string_view(partial_));
    partial_.clear();
  }

 private:
  std::string partial_;
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// The "error"/"errorDetail" of a progress message (build, import), or "".
std::string progress_error(const json& message) {
  if (const auto detail = message.find("errorDetail");
      detail != message.end() && detail->is_object()) {
    if (const auto text = detail->find("message"); text != detail->end() && text->is_string()) {
      return text->get<std::string>();
    }
  }
  if (const auto text = message.find("error"); text != message.end() && text->is_string()) {
    return text->get<std::string>();
  }
  return {};
}

}  // namespace

namespace detail {

std::string unreachable_message(const Endpoint& endpoint, std::string_view reason) {
  switch (endpoint.kind) {
    case Endpoint::Kind::Unix:
      return "Docker daemon not reachable at " + endpoint.socket_path + ": " + std::string(reason) +
             ". Start dockerd or set DOCKER_HOST=unix:///path";
    case Endpoint::Kind::Tcp:
      return "Docker daemon not reachable at " + endpoint.describe() + " (from " + endpoint.source +
             "): " + std::string(reason) + ". Check that dockerd listens there (-H tcp://...)";
    case Endpoint::Kind::Ssh:
      break;
  }
  return "Docker daemon not reachable at " + endpoint.url + " (from " + endpoint.source +
         "): " + std::string(reason) + ". Check `ssh` to that host and that it runs docker";
}

void throw_plain_on_tls(const Endpoint& endpoint, long status, std::string_view body) {
  if (status == 400 && body.find("Client sent an HTTP request to an HTTPS server") !=
                           std::string_view::npos) {
    throw Error(ErrorCode::DockerUnavailable,
                "the Docker daemon at " + endpoint.url +
                    " speaks TLS and this client sent plain HTTP: set DOCKER_TLS_VERIFY=1 and "
                    "DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem) or the engine's TLS options");
  }
}

std::string daemon_message(std::string_view body) {
  const json value = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (value.is_object()) {
    if (const auto text = value.find("message"); text != value.end() && text->is_string()) {
      return text->get<std::string>();
    }
  }
  const std::string_view text = trim(body);
  if (text.empty()) return "no error message from the daemon";
  return std::string(text.substr(0, 1000));
}

void throw_http_error(std::string_view what, long status, std::string_view body, ErrorCode code) {
  if (code == ErrorCode::Docker && status == 404) code = ErrorCode::NotFound;
  throw Error(
      code,
      std::string(what) + ": " + daemon_message(body) + " (HTTP " + std::to_string(status) + ")",
      static_cast<int>(status));
}

}  // namespace detail

std::string socket_from_env() {
  const char* value = std::getenv("DOCKER_HOST");
  if (value == nullptr || *value == '\0') return std::string(kDefaultSocket);
  const std::string_view host(value);
  constexpr std::string_view kScheme = "unix://";
  if (!host.starts_with(kScheme)) {
    throw Error(ErrorCode::Config,
                "DOCKER_HOST=" + std::string(host) + ": only unix:// sockets are supported");
  }
  if (host.size() == kScheme.size()) {
    throw Error(ErrorCode::Config, "DOCKER_HOST=" + std::string(host) +
                                       ": no socket path after unix:// (expected unix:///path)");
  }
  return std::string(host.substr(kScheme.size()));
}

namespace {
Endpoint unix_endpoint(std::string socket_path) {
  Endpoint ep;
  ep.url = "unix://" + socket_path;
  ep.source = "socket path";
  ep.socket_path = std::move(socket_path);
  return ep;
}
}  // namespace

DockerClient::DockerClient(std::string socket_path)
    : DockerClient(unix_endpoint(std::move(socket_path))) {}

DockerClient::DockerClient(Endpoint endpoint)
    : transport_(std::make_unique<CurlTransport>(endpoint)), endpoint_(std::move(endpoint)) {}

DockerClient::DockerClient(std::unique_ptr<Transport> transport, std::string socket_path)
    : transport_(std::move(transport)) {
  if (!transport_) throw Error(ErrorCode::InvalidArgument, "DockerClient: null transport");
  endpoint_.url = "unix://" + socket_path;
  endpoint_.socket_path = std::move(socket_path);
}

DockerClient::~DockerClient() = default;

std::unique_ptr<DockerClient> DockerClient::from_env() {
  return std::make_unique<DockerClient>(resolve_endpoint());
}

HttpResponse DockerClient::call(const HttpRequest& req, std::string_view what) {
  HttpResponse response = transport_->request(req);
  if (!is_success(response.status)) detail::throw_http_error(what, response.status, response.body);
  return response;
}

void DockerClient::ping() {
  const auto req = make_request("GET", api("/_ping"), timeouts_.metadata);
  HttpResponse response;
  try {
    response = transport_->request(req);
  } catch (const Error& e) {
    // Something accepted the connection but did not answer: as unusable as no daemon at all.
    if (e.code() != ErrorCode::Docker) throw;
    throw Error(ErrorCode::DockerUnavailable,
                "Docker daemon at " + (endpoint_.local() ? endpoint_.socket_path : endpoint_.url) +
                    " does not answer GET /_ping: " + e.message());
  }
  if (!is_success(response.status)) {
    detail::throw_http_error("ping Docker daemon", response.status, response.body);
  }
}

json DockerClient::version() {
  const auto response = call(make_request("GET", api("/version"), timeouts_.metadata), "daemon version");
  return parse(response.body, "daemon version");
}

json DockerClient::info() {
  const auto response = call(make_request("GET", api("/info"), timeouts_.metadata), "daemon info");
  return parse(response.body, "daemon info");
}

std::optional<json> DockerClient::image_inspect(const std::string& ref) {
  const std::string what = "inspect image " + ref;
  const auto response = transport_->request(
      make_request("GET", api("/images/" + encode(ref, true) + "/json"), timeouts_.metadata));
  if (response.status == 404) return std::nullopt;
  if (!is_success(response.status)) detail::throw_http_error(what, response.status, response.body);
  return parse(response.body, what);
}

void DockerClient::image_import(const std::filesystem::path& tarball, const std::string& repo,
                                const std::string& tag, const std::vector<std::string>& changes) {
  const std::string what =
      "import image " + repo + (tag.empty() ? "" : ":" + tag) + " from " + tarball.string();
  std::string path = api("/images/create?fromSrc=-");
  if (!repo.empty()) path += "&repo=" + encode(repo);
  if (!tag.empty()) path += "&tag=" + encode(tag);
  for (const auto& change : changes) path += "&changes=" + encode(change);

  auto req = make_request("POST", std::move(path), timeouts_.build);
  req.body_file = tarball;
  req.content_type = "application/x-tar";
  const auto response = call(req, what);

  // The daemon reports a failed import inside a 200 reply, as a progress message.
  LineSplitter lines;
  std::string error;
  const auto on_line = [&](std::string_view line) {
    if (!error.empty() || trim(line).empty()) return;
    const json message = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (message.is_object()) error = progress_error(message);
  };
  lines.feed(response.body, on_line);
  lines.finish(on_line);
  if (!error.empty()) throw Error(ErrorCode::Docker, what + ": " + error);
}

std::string DockerClient::image_build(const std::string& context_tar, const BuildOptions& options,
                                      const std::function<void(std::string_view)>& on_log) {
  const std::string what = "build image " + (options.tag.empty() ? "(untagged)" : options.tag);
  std::string path = api("/build?");
  if (!options.tag.empty()) path += "t=" + encode(options.tag) + "&";
  if (!options.labels.empty()) {
    path += "labels=" + encode(dump(json(options.labels), what)) + "&";
  }
  path += "dockerfile=" + encode(options.dockerfile) + "&rm=1&forcerm=1&pull=0";

  auto req = make_request("POST", std::move(path), options.timeout.count() > 0 ? options.timeout : timeouts_.build);
  req.body = context_tar;
  req.content_type = "application/x-tar";

  std::string image_id;
  std::string error;
  // "stream" texts are cut anywhere ("Step 1/3 : FROM x" and its "\n" arrive apart): re-split
  // them so `on_log` sees whole lines.
  LineSplitter log_lines;
  const auto emit_log = [&](std::string_view line) {
    if (on_log) on_log(line);
  };
  const auto on_message = [&](std::string_view line) {
    if (!error.empty() || trim(line).empty()) return;
    const json message = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!message.is_object()) {
      log_lines.feed(std::string(line) + "\n", emit_log);
      return;
    }
    if (error = progress_error(message); !error.empty()) return;
    if (const auto text = message.find("stream"); text != message.end() && text->is_string()) {
      log_lines.feed(text->get<std::string>(), emit_log);
    } else if (const auto status = message.find("status");
               status != message.end() && status->is_string()) {
      log_lines.feed(status->get<std::string>() + "\n", emit_log);
    }
    if (const auto aux = message.find("aux"); aux != message.end() && aux->is_object()) {
      if (const auto id = aux->find("ID"); id != aux->end() && id->is_string()) {
        image_id = id->get<std::string>();
      }
    }
  };

  LineSplitter messages;
  const auto response = transport_->stream(req, [&](std::string_view chunk) {
    messages.feed(chunk, on_message);
    return error.empty();
  });
  // A Dockerfile the daemon rejects before building (parse error, missing Dockerfile) comes back
  // as an HTTP error rather than a progress message; either way the build failed.
  if (!is_success(response.status)) {
    detail::throw_http_error(what, response.status, response.body, ErrorCode::Build);
  }
  messages.finish(on_message);
  log_lines.finish(emit_log);
  if (!error.empty()) throw Error(ErrorCode::Build, what + ": " + error);

  if (image_id.empty() && !options.tag.empty()) {
    if (const auto image = image_inspect(options.tag)) image_id = image->value("Id", "");
  }
  if (image_id.empty()) {
    throw Error(ErrorCode::Build, what + ": the daemon finished without reporting an image id");
  }
  return image_id;
}

bool DockerClient::image_remove(const std::string& ref, bool force) {
  const std::string what = "remove image " + ref;
  const auto response = transport_->request(make_request(
      "DELETE", api("/images/" + encode(ref, true) + (force ? "?force=1" : "")), timeouts_.lifecycle));
  if (response.status == 404) return false;
  if (!is_success(response.status)) detail::throw_http_error(what, response.status, response.body);
  return true;
}

void DockerClient::images_export(const std::vector<std::string>& names,
                                 const std::function<bool(std::string_view)>& on_data) {
  std::string what = "export images";
  std::string path = api("/images/get?");
  for (std::size_t i = 0; i < names.size(); ++i) {
    path += (i ? "&" : "") + std::string("names=") + encode(names[i]);
    what += " " + names[i];
  }
  const auto response = transport_->stream(make_request("GET", std::move(path), timeouts_.build),
                                           on_data);
  if (!is_success(response.status)) detail::throw_http_error(what, response.status, response.body);
}

void DockerClient::images_load(const std::function<std::size_t(char*, std::size_t)>& source,
                               const std::function<void(std::string_view)>& on_line) {
  const std::string what = "load images";
  auto req = make_request("POST", api("/images/load?quiet=0"), timeouts_.build);
  req.body_source = source;
  req.content_type = "application/x-tar";
  std::string error;
  const auto on_message = [&](std::string_view line) {
    if (trim(line).empty()) return;
    const json message = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!message.is_object()) {
      if (on_line) on_line(trim(line));
      return;
    }
    if (std::string e = progress_error(message); !e.empty()) {
      if (error.empty()) error = std::move(e);
      return;
    }
    if (const auto text = message.find("stream"); text != message.end() && text->is_string()) {
      if (on_line) on_line(trim(text->get<std::string>()));
    }
  };
  LineSplitter lines;
  const auto response = transport_->stream(req, [&](std::string_view chunk) {
    lines.feed(chunk, on_message);
    return true;
  });
  if (!is_success(response.status)) detail::throw_http_error(what, response.status, response.body);
  lines.finish(on_message);
  if (!error.empty()) throw Error(ErrorCode::Docker, what + ": " + error);
}

std::vector<json> DockerClient::images_list(const std::vector<std::string>& label_filters,
                                           bool dangling_only) {
  const std::string what = dangling_only ? "list dangling images" : "list images";
  std::string filters = label_filter_param(label_filters);
  if (dangling_only) {
    json f = {{"dangling", {"true"}}};
    if (!label_filters.empty()) f["label"] = label_filters;
    filters = "&filters=" + encode(dump(f, what));
  }
  const auto response =
      call(make_request("GET", api("/images/json?all=0" + filters), timeouts_.metadata), what);
  return parse_array(response.body, what);
}

std::string DockerClient::container_create(const json& body, const std::string& name) {
  std::string what = "create container";
  if (!name.empty()) what += " " + name;
  if (body.is_object()) {
    if (const auto image = body.find("Image"); image != body.end() && image->is_string()) {
      what += " from image " + image->get<std::string>();
    }
  }
  auto req = make_request("POST",
                          api("/containers/create" + (name.empty() ? "" : "?name=" + encode(name))),
                          timeouts_.lifecycle);
  req.body = dump(body, what);
  const auto response = call(req, what);
  const json reply = parse(response.body, what);
  if (const auto id = reply.find("Id"); id != reply.end() && id->is_string()) {
    return id->get<std::string>();
  }
  throw Error(ErrorCode::Docker, what + ": the daemon's reply has no Id: " + response.body);
}

void DockerClient::container_start(const std::string& id) {
  const std::string what = "start container " + short_id(id);
  const auto response = transport_->request(
      make_request("POST", api("/containers/" + encode(id) + "/start"), timeouts_.lifecycle));
  if (response.status == 304) return;  // already running: the caller's goal is met
  if (!is_success(response.status)) detail::throw_http_error(what, response.status, response.body);
}

Attachment DockerClient::container_attach(const std::string& id, bool with_stdin) {
  std::string target = api("/containers/" + encode(id) + "/attach?stream=1&stdout=1&stderr=1");
  if (with_stdin) target += "&stdin=1";
  if (endpoint_.kind == Endpoint::Kind::Unix && endpoint_.socket_path.empty()) {
    throw Error(ErrorCode::InvalidArgument,
                "attach to container " + short_id(id) +
                    ": this DockerClient has no socket path to attach through");
  }
  return detail::open_attachment(endpoint_, target, with_stdin,
                                 "attach to container " + short_id(id), timeouts_.lifecycle);
}

std::int64_t DockerClient::container_wait(const std::string& id, std::string_view condition,
                                          milliseconds timeout) {
  const std::string what = "wait for container " + short_id(id);
  const auto response =
      call(make_request("POST",
                        api("/containers/" + encode(id) + "/wait?condition=" + encode(condition)),
                        timeout.count() > 0 ? timeout : timeouts_.lifecycle),
           what);
  const json reply = parse(response.body, what);
  if (const auto error = reply.find("Error"); error != reply.end() && error->is_object()) {
    const std::string message = error->value("Message", "");
    if (!message.empty()) throw Error(ErrorCode::Docker, what + ": " + message);
  }
  const auto code = reply.find("StatusCode");
  if (code == reply.end() || !code->is_number_integer()) {
    throw Error(ErrorCode::Docker,
                what + ": the daemon's reply has no StatusCode: " + response.body);
  }
  return code->get<std::int64_t>();
}

void DockerClient::container_logs(const std::string& id, const FrameDecoder::Callback& on_payload) {
  const std::string what = "read logs of container " + short_id(id);
  FrameDecoder decoder;
  const auto response = transport_->stream(
      make_request("GET", api("/containers/" + encode(id) + "/logs?stdout=1&stderr=1"),
                   timeouts_.lifecycle),
      [&](std::string_view chunk) {
        decoder.feed(chunk, on_payload);
        return true;
      });
  if (!is_success(response.status)) detail::throw_http_error(what, response.status, response.body);
  if (!decoder.at_frame_boundary()) {
    throw Error(ErrorCode::Docker, what + ": the log stream ended in the middle of a frame");
  }
}

bool DockerClient::container_kill(const std::string& id, std::string_view signal,
                                  milliseconds timeout) {
  const std::string what = "kill container " + short_id(id);
  const auto response = transport_->request(make_request(
      "POST", api("/containers/" + encode(id) + "/kill?signal=" + encode(signal)),
      timeout.count() > 0 ? timeout : timeouts_.lifecycle));
  // 409: the container exists but is not running.
  if (response.status == 404 || response.status == 409) return false;
  if (!is_success(response.status)) detail::throw_http_error(what, response.status, response.body);
  return true;
}

bool DockerClient::container_remove(const std::string& id, bool force) {
  const std::string what = "remove container " + short_id(id);
  const auto response = transport_->request(
      make_request("DELETE", api("/containers/" + encode(id) + (force ? "?force=1&v=1" : "?v=1")),
                   timeouts_.lifecycle));
  if (response.status == 404) return false;
  // Another remover got there first; the container is going away, which is all callers want.
  if (response.status == 409 &&
      detail::daemon_message(response.body).find("already in progress") != std::string::npos) {
    return true;
  }
  if (!is_success(response.status)) detail::throw_http_error(what, response.status, response.body);
  return true;
}

json DockerClient::container_inspect(const std::string& id) {
  const std::string what = "inspect container " + short_id(id);
  const auto response =
      call(make_request("GET", api("/containers/" + encode(id) + "/json"), timeouts_.metadata), what);
  return parse(response.body, what);
}

std::vector<json> DockerClient::containers_list(const std::vector<std::string>& label_filters,
                                                bool all) {
  const std::string what = "list containers";
  const auto response =
      call(make_request("GET",
                        api(std::string("/containers/json?all=") + (all ? "1" : "0") +
                            label_filter_param(label_filters)),
                        timeouts_.metadata),
           what);
  return parse_array(response.body, what);
}

// ---- registries and Docker Swarm ------------------------------------------------------------

void DockerClient::image_tag(const std::string& ref, const std::string& repo,
                             const std::string& tag) {
  call(make_request("POST",
                    api("/images/" + encode(ref, true) + "/tag?repo=" + encode(repo) +
                        "&tag=" + encode(tag)),
                    timeouts_.lifecycle),
       "tag image " + ref + " as " + repo + ":" + tag);
}

std::string DockerClient::image_push(const std::string& repo, const std::string& tag) {
  const std::string what = "push image " + repo + ":" + tag;
  auto req = make_request("POST", api("/images/" + encode(repo, true) + "/push?tag=" + encode(tag)),
                          timeouts_.build);
  // The daemon wants the header even for a registry without authentication: base64 of "{}".
  req.headers.push_back("X-Registry-Auth: e30=");
  std::string digest, error;
  LineSplitter lines;
  const auto on_line = [&](std::string_view line) {
    if (trim(line).empty()) return;
    const json message = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!message.is_object()) return;
    if (std::string e = progress_error(message); !e.empty() && error.empty()) error = e;
    if (const auto aux = message.find("aux"); aux != message.end() && aux->is_object()) {
      digest = aux->value("Digest", digest);
    }
  };
  const auto response = transport_->stream(req, [&](std::string_view chunk) {
    lines.feed(chunk, on_line);
    return true;
  });
  if (!is_success(response.status)) detail::throw_http_error(what, response.status, response.body);
  lines.finish(on_line);
  if (!error.empty()) throw Error(ErrorCode::Docker, what + ": " + error);
  if (digest.rfind("sha256:", 0) != 0) {
    throw Error(ErrorCode::Docker, what + ": the daemon finished without reporting a digest");
  }
  return digest;
}

namespace {
std::string created_id(const HttpResponse& response, std::string_view what) {
  const json reply = parse(response.body, what);
  for (const char* key : {"ID", "Id"}) {
    if (const auto id = reply.find(key); id != reply.end() && id->is_string()) {
      return id->get<std::string>();
    }
  }
  throw Error(ErrorCode::Docker, std::string(what) + ": the daemon's reply has no ID: " + response.body);
}
}  // namespace

std::string DockerClient::object_create(const std::string& path, const json& spec,
                                       const std::string& what) {
  auto req = make_request("POST", api(path + "/create"), timeouts_.lifecycle);
  req.body = dump(spec, what);
  return created_id(call(req, what), what);
}

bool DockerClient::object_remove(const std::string& path, const std::string& id,
                                 const std::string& what) {
  const auto response = transport_->request(
      make_request("DELETE", api(path + "/" + encode(id)), timeouts_.lifecycle));
  if (response.status == 404) return false;
  if (!is_success(response.status)) detail::throw_http_error(what, response.status, response.body);
  return true;
}

std::vector<json> DockerClient::objects_list(const std::string& path,
                                             const std::vector<std::string>& label_filters,
                                             const std::string& what) {
  const std::string q = label_filter_param(label_filters);
  const auto response = call(
      make_request("GET", api(path + (q.empty() ? "" : "?" + q.substr(1))), timeouts_.metadata),
      what);
  return parse_array(response.body, what);
}

std::string DockerClient::service_create(const json& spec) {
  return object_create("/services", spec,
                       "create swarm service " + spec.value("Name", std::string()));
}

bool DockerClient::service_remove(const std::string& id) {
  return object_remove("/services", id, "remove swarm service " + id);
}

std::vector<json> DockerClient::services_list(const std::vector<std::string>& label_filters) {
  return objects_list("/services", label_filters, "list swarm services");
}

std::vector<json> DockerClient::tasks_list(const std::string& service_id) {
  const std::string what = "list the tasks of swarm service " + service_id;
  const auto response = call(
      make_request("GET",
                   api("/tasks?filters=" + encode(dump(json{{"service", {service_id}}}, what))),
                   timeouts_.metadata),
      what);
  return parse_array(response.body, what);
}

void DockerClient::service_logs(const std::string& id, bool follow,
                                const FrameDecoder::Callback& on_payload,
                                const std::function<bool()>& keep_going,
                                milliseconds timeout) {
  const std::string what = "read logs of swarm service " + id;
  FrameDecoder decoder;
  const auto response = transport_->stream(
      make_request("GET",
                   api("/services/" + encode(id) + "/logs?stdout=1&stderr=1" +
                       (follow ? "&follow=1" : "")),
                   timeout.count() > 0 ? timeout : timeouts_.lifecycle),
      [&](std::string_view chunk) {
        decoder.feed(chunk, on_payload);
        return !keep_going || keep_going();
      });
  if (!is_success(response.status)) detail::throw_http_error(what, response.status, response.body);
}

std::string DockerClient::secret_create(const json& spec) {
  return object_create("/secrets", spec,
                       "create swarm secret " + spec.value("Name", std::string()));
}

bool DockerClient::secret_remove(const std::string& id) {
  return object_remove("/secrets", id, "remove swarm secret " + id);
}

std::vector<json> DockerClient::secrets_list(const std::vector<std::string>& label_filters) {
  return objects_list("/secrets", label_filters, "list swarm secrets");
}

std::string DockerClient::network_create(const json& body) {
  return object_create("/networks", body, "create network " + body.value("Name", std::string()));
}

bool DockerClient::network_remove(const std::string& id) {
  return object_remove("/networks", id, "remove network " + id);
}

std::vector<json> DockerClient::networks_list(const std::vector<std::string>& label_filters) {
  return objects_list("/networks", label_filters, "list networks");
}

}  // namespace Ignite::docker
