#include "examples/http/session.hpp"

#include <sys/socket.h>

#include <array>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/range/iterator_range.hpp>
#include <cerrno>
#include <nlohmann/json.hpp>
#include <random>
#include <string_view>
#include <utility>
#include <variant>

#include "examples/http/access_log.hpp"
#include "examples/http/readiness.hpp"
#include "ignite/execution.hpp"
#include "ignite/version.hpp"

namespace ignite_http {
namespace {

constexpr std::size_t kHeaderLimit = 16 * 1024;
constexpr std::size_t kDrainLimit = 8 * 1024 * 1024;
constexpr auto kDrainTime = std::chrono::seconds(1);

const std::string& server_header() {
  static const std::string s = "ignite-http/" + std::string(Ignite::version());
  return s;
}

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

bool is_http_error(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_method).category();
}

// An EventSource reconnects after this long (it cannot replay a POST; other clients may use it
// as their own back-off).
constexpr std::string_view kSseRetry = "retry: 5000\n\n";
constexpr std::string_view kSseHeartbeat = ": keep-alive\n\n";

// Request ids are echoed into headers and logs: only a short token of safe characters is kept.
bool valid_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (const char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == ':' || c == '/' || c == '+' ||
                    c == '=' || c == '@';
    if (!ok) return false;
  }
  return true;
}

std::string new_request_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (int half = 0; half < 2; ++half) {
    std::uint64_t v = rng();
    for (int i = 0; i < 16; ++i, v >>= 4) id[half * 16 + i] = kHex[v & 15];
  }
  return id;
}

// Output arrives in arbitrary chunks; a UTF-8 sequence split across two chunks is held back
// until its end arrives, so every event's JSON string carries whole characters. At most
// `limit` bytes are streamed (the engine keeps and reports the same cap; a service that floods
// output is killed, but what it printed before that is not queued for a slow client).
class Utf8Chunker {
 public:
  explicit Utf8Chunker(std::size_t limit) : left_(limit) {}

  std::string feed(std::string_view chunk) {
    if (left_ == 0) return {};
    if (chunk.size() > left_) chunk = chunk.substr(0, left_);
    left_ -= chunk.size();
    std::string s = std::exchange(carry_, {});
    s.append(chunk);
    // Find the start of a trailing incomplete sequence (at most 3 bytes back).
    std::size_t cut = s.size();
    for (std::size_t back = 1; back <= 3 && back <= s.size(); ++back) {
      const auto c = static_cast<unsigned char>(s[s.size() - back]);
      if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
      const std::size_t need = (c & 0xE0) == 0xC0   ? 2
                               : (c & 0xF0) == 0xE0 ? 3
                               : (c & 0xF8) == 0xF0 ? 4
                                                    : 1;
      if (need > back) cut = s.size() - back;
      break;
    }
    carry_ = s.substr(cut);
    s.resize(cut);
    return s;
  }

 private:
  std::size_t left_;
  std::string carry_;
};

}  // namespace

// ---- registry --------------------------------------------------------------------------------

void SessionRegistry::add(Session* s, std::weak_ptr<Session> w) {
  std::lock_guard lock(mu_);
  sessions_.emplace(s, std::move(w));
}

void SessionRegistry::remove(Session* s) {
  std::lock_guard lock(mu_);
  sessions_.erase(s);
}

std::size_t SessionRegistry::size() const {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

void SessionRegistry::close_idle() {
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard lock(mu_);
    for (auto& [_, w] : sessions_) {
      if (auto s = w.lock()) live.push_back(std::move(s));
    }
  }
  for (auto& s : live) s->close_if_idle();
}

// ---- session ---------------------------------------------------------------------------------

Session::Session(tcp::socket&& socket, ServerContext& ctx, std::string connection_key)
    : stream_(std::move(socket)),
      ex_(stream_.get_executor()),
      ctx_(ctx),
      connection_key_(std::move(connection_key)) {
  beast::error_code ec;
  const auto ep = stream_.socket().remote_endpoint(ec);
  if (!ec) peer_ = normalize(ep.address());
  peer_text_ = ec ? "unknown" : peer_.to_string();
}

Session::~Session() {
  ctx_.sessions.remove(this);
  if (!connection_key_.empty()) ctx_.connection_limits.release(connection_key_);
}

void Session::run() {
  ctx_.sessions.add(this, weak_from_this());
  net::dispatch(ex_, beast::bind_front_handler(&Session::do_read, shared_from_this()));
}

void Session::close_if_idle() {
  net::post(ex_, [self = shared_from_this()] {
    if (self->state_ == State::Reading) {
      beast::error_code ec;
      self->stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
      self->stream_.close();
      self->state_ = State::Closed;
    }
  });
}

void Session::do_read() {
  if (ctx_.draining) return do_close();
  state_ = State::Reading;
  in_request_ = false;
  head_ = false;
  status_ = 0;
  bytes_ = 0;
  sse_active_ = sse_writing_ = sse_ending_ = sse_last_sent_ = sse_failed_ = false;
  sse_queue_.clear();
  request_id_.clear();
  cancel_.reset();
  parser_.emplace();
  parser_->body_limit(ctx_.options.max_body);
  parser_->header_limit(kHeaderLimit);
  read_started_ = std::chrono::steady_clock::now();
  // One deadline for the whole header (and for an idle keep-alive connection): a client
  // trickling bytes gains nothing, the timer is not reset per byte.
  stream_.expires_after(ctx_.options.header_timeout);
  http::async_read_header(stream_, buffer_, *parser_,
                          beast::bind_front_handler(&Session::on_header, shared_from_this()));
}

void Session::on_header(beast::error_code ec, std::size_t) {
  if (state_ == State::Closed) return;
  started_ = std::chrono::steady_clock::now();
  if (ec) return on_read_error(ec);
  in_request_ = true;
  read_started_ = started_;
  const Request& req = parser_->get();
  version_ = req.version();
  keep_alive_ = req.keep_alive();
  method_ = std::string(req.method_string());
  head_ = req.method() == http::verb::head;
  route_ = match_route(req.method(), std::string_view(req.target().data(), req.target().size()));
  take_request_id(req);
  std::string forwarded;
  for (const auto& f : boost::make_iterator_range(req.equal_range("X-Forwarded-For"))) {
    if (!forwarded.empty()) forwarded += ',';
    forwarded.append(f.value().data(), f.value().size());
  }
  std::string key = peer_text_;
  if (peer_text_ != "unknown") {
    const auto client = client_address(peer_, forwarded, ctx_.trusted);
    client_ = client.to_string();
    key = rate_limit_key(client);
  } else {
    client_ = peer_text_;
  }

  if (auto deny = ctx_.router.admit(route_, req, key)) {
    // The body (if any) is never read for a refused request: answer, then close.
    return reply(std::move(*deny), !parser_->is_done());
  }
  if (parser_->is_done()) return on_body({}, 0);

  const auto expect = req[http::field::expect];
  if (beast::iequals(expect, "100-continue")) {
    auto cont =
        std::make_shared<http::response<http::empty_body>>(http::status::continue_, version_);
    stream_.expires_after(ServerContext::kWriteTimeout);
    http::async_write(stream_, *cont,
                      [self = shared_from_this(), cont](beast::error_code wec, std::size_t) {
                        if (wec) return self->do_close();
                        self->read_body();
                      });
    return;
  }
  read_body();
}

void Session::read_body() {
  stream_.expires_after(ctx_.options.read_timeout);
  http::async_read(stream_, buffer_, *parser_,
                   beast::bind_front_handler(&Session::on_body, shared_from_this()));
}

void Session::on_body(beast::error_code ec, std::size_t) {
  if (state_ == State::Closed) return;
  if (ec) return on_read_error(ec);
  dispatch();
}

void Session::on_read_error(beast::error_code ec) {
  if (ec == http::error::end_of_stream && !in_request_) return do_close();
  if (ec == beast::error::timeout) {
    // An idle keep-alive connection that sent nothing is no request; a client that started one
    // and did not finish it in time is (a slowloris, or a client that stalled).
    const bool started = in_request_ || buffer_.size() > 0 || (parser_ && parser_->got_some());
    if (started) {
      if (parser_) {
        const Request& req = parser_->get();
        method_ = std::string(req.method_string());
        route_ =
            match_route(req.method(), std::string_view(req.target().data(), req.target().size()));
        if (request_id_.empty()) take_request_id(req);
      }
      if (client_.empty()) client_ = peer_text_;
      log_timeout(in_request_ ? "body" : "header");
    }
  }
  // A timeout has already closed the socket (tcp_stream does that); so has a reset.
  if (ec == beast::error::timeout || !is_http_error(ec)) {
    state_ = State::Closed;
    beast::error_code ignored;
    stream_.socket().close(ignored);
    return;
  }
  // What was parsed of the request line names the request in the log.
  if (parser_) {
    const Request& req = parser_->get();
    method_ = std::string(req.method_string());
    head_ = req.method() == http::verb::head;
    route_ = match_route(req.method(), std::string_view(req.target().data(), req.target().size()));
    version_ = req.version() ? req.version() : 11;
    if (request_id_.empty()) take_request_id(req);
  }
  in_request_ = true;
  if (client_.empty()) client_ = peer_text_;
  if (ec == http::error::body_limit) {
    return reply(
        error_reply(http::status::payload_too_large, "PAYLOAD_TOO_LARGE",
                    "Request body exceeds " + std::to_string(ctx_.options.max_body) + " bytes"),
        true);
  }
  if (ec == http::error::header_limit) {
    return reply(error_reply(http::status::request_header_fields_too_large, "HEADERS_TOO_LARGE",
                             "Request header exceeds " + std::to_string(kHeaderLimit) + " bytes"),
                 true);
  }
  if (ec == http::error::partial_message) {
    state_ = State::Closed;
    return;  // the client went away mid-request
  }
  reply(error_reply(http::status::bad_request, "BAD_REQUEST",
                    "Malformed HTTP request: " + ec.message()),
        true);
}

void Session::dispatch() {
  req_ = parser_->release();
  Decision d = ctx_.router.handle(route_, req_);
  std::visit(Overloaded{[&](Reply& r) { reply(std::move(r)); },
                        [&](BlockingCall& c) { run_blocking(std::move(c)); },
                        [&](ExecuteJob& j) { run_execute(std::move(j)); },
                        [&](AsyncCall& c) { run_async(std::move(c)); }},
             d);
}

void Session::run_blocking(BlockingCall call) {
  state_ = State::Working;
  stream_.expires_never();
  auto self = shared_from_this();
  const bool accepted = ctx_.blocking.try_submit([self, call = std::move(call)] {
    Reply r;
    try {
      r = call.run();
    } catch (const std::exception& e) {
      r = error_reply(http::status::internal_server_error, "INTERNAL_ERROR", e.what());
    }
    net::post(self->ex_, [self, r = std::move(r)]() mutable {
      self->watching_ = false;
      self->reply(std::move(r));
    });
  });
  if (!accepted) {
    Reply r = service_unavailable("SERVER_BUSY", "Server busy, try again later");
    r.headers.emplace_back(http::field::retry_after, "1");
    return reply(std::move(r));
  }
  watch_peer();
}

void Session::run_async(AsyncCall call) {
  state_ = State::Working;
  stream_.expires_never();
  auto self = shared_from_this();
  // The answer may come from another thread, or before start() returns: either way it is
  // handled on this session's strand, after this handler.
  call.start([self](Reply r) {
    net::post(self->ex_, [self, r = std::move(r)]() mutable {
      self->watching_ = false;
      self->reply(std::move(r));
    });
  });
  watch_peer();
}

void Session::run_execute(ExecuteJob job) {
  state_ = State::Working;
  stream_.expires_never();
  // Made now, so a client that goes away while the readiness check runs is noticed.
  cancel_ = std::make_shared<std::stop_source>();
  auto self = shared_from_this();
  // A daemon that does not answer would hold every worker and fill the queue with requests
  // that can only fail after their Docker bounds: while /ready says so, refuse at once. The
  // probe's answer is cached for a second, and bounded by a second when a ping hangs.
  ctx_.readiness.check([self, job](Reply ready) {
    net::post(self->ex_, [self, job = std::move(job), ready = std::move(ready)]() mutable {
      self->admit_execute(std::move(job), std::move(ready));
    });
  });
  watch_peer();
}

void Session::admit_execute(ExecuteJob job, Reply readiness) {
  if (state_ == State::Closed) return;
  const nlohmann::json who = {{"success", false}, {"serviceName", job.name}};
  if (readiness.status != http::status::ok) {
    ctx_.metrics.record_execution("rejected");
    watching_ = false;
    const auto why = nlohmann::json::parse(readiness.body, nullptr, false);
    const std::string code =
        why.is_object() ? why.value("code", "DOCKER_UNAVAILABLE") : "DOCKER_UNAVAILABLE";
    const std::string reason = why.is_object() ? why.value("error", "") : "";
    Reply r = error_reply(http::status::service_unavailable, code,
                          "Not ready to execute: " + (reason.empty() ? code : reason), who);
    r.headers.emplace_back(http::field::retry_after, "1");
    return reply(std::move(r));
  }
  auto self = shared_from_this();
  auto stop = cancel_;
  if (stop->stop_requested()) {
    // The client left during the readiness check: nothing to run for it.
    watching_ = false;
    keep_alive_ = false;
    return reply(error_reply(http::status::service_unavailable, "CANCELLED",
                             "The client closed the connection", who));
  }
  const bool stream = job.stream;
  const bool accepted = ctx_.executions.try_submit([self, stop, job = std::move(job)] {
    ServerContext& ctx = self->ctx_;
    // The server's cancellation (grace period over) cancels this request too.
    std::stop_callback link(ctx.cancel.get_token(), [stop] { stop->request_stop(); });
    ExecuteReply result;
    if (ctx.draining) {
      // Queued when the shutdown began: it never started, so it is refused, not cancelled.
      ctx.metrics.record_execution("rejected");
      result.reply =
          error_reply(http::status::service_unavailable, "SHUTTING_DOWN", "Server is shutting down",
                      {{"success", false}, {"serviceName", job.name}});
    } else {
      ExecuteHooks hooks;
      if (job.stream) {
        auto post_output = [self](std::string_view event, std::string text) {
          net::post(self->ex_, [self, event, text = std::move(text)]() mutable {
            self->sse_output(event, std::move(text));
          });
        };
        auto out = std::make_shared<Utf8Chunker>(Ignite::kDefaultOutputLimit);
        auto err = std::make_shared<Utf8Chunker>(Ignite::kDefaultOutputLimit);
        hooks.on_stdout = [post_output, out](std::string_view data) {
          std::string text = out->feed(data);
          if (!text.empty()) post_output("stdout", std::move(text));
        };
        hooks.on_stderr = [post_output, err](std::string_view data) {
          std::string text = err->feed(data);
          if (!text.empty()) post_output("stderr", std::move(text));
        };
      }
      try {
        result = ctx.router.execute(job, stop->get_token(), hooks);
      } catch (const std::exception& e) {
        result.reply = error_reply(http::status::internal_server_error, "INTERNAL_ERROR", e.what());
      }
    }
    net::post(self->ex_, [self, result = std::move(result)]() mutable {
      self->finish_execute(std::move(result));
    });
  });
  if (!accepted) {
    ctx_.metrics.record_execution("rejected");
    watching_ = false;
    Reply r = error_reply(http::status::service_unavailable, "QUEUE_FULL",
                          "Execution queue is full, try again later", who);
    r.headers.emplace_back(http::field::retry_after, "1");
    return reply(std::move(r));
  }
  // A streamed request is answered as soon as it has a place: the client sees the stream (and
  // its heartbeats) while it waits for a worker and while the image builds; what fails from
  // here on is an `error` event.
  if (stream) sse_begin();
}

void Session::finish_execute(ExecuteReply result) {
  watching_ = false;
  if (!sse_active_) return reply(std::move(result.reply));
  const bool ok = result.reply.status == http::status::ok;
  if (ok) return sse_end(sse_frame("result", result.reply.body));
  // The status the plain answer would have had, for clients that branch on it.
  auto body = nlohmann::json::parse(with_request_id(std::move(result.reply.body)), nullptr, false);
  if (body.is_object()) body["status"] = static_cast<unsigned>(result.reply.status);
  sse_end(sse_frame("error", body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
}

void Session::reply(Reply r, bool close) {
  auto headers = [&](auto& res) {
    res.set(http::field::server, server_header());
    res.set(http::field::content_type, r.content_type);
    res.set(http::field::cache_control, "no-store");
    res.set("X-Content-Type-Options", "nosniff");
    res.set("X-Request-Id", request_id_);
    for (auto& [field, value] : r.headers) res.set(field, value);
    res.keep_alive(keep_alive_ && !close && !ctx_.draining);
  };
  if (static_cast<unsigned>(r.status) >= 400) r.body = with_request_id(std::move(r.body));
  auto send = [&](auto res) {
    status_ = static_cast<unsigned>(r.status);
    state_ = State::Writing;
    res_ = res;
    stream_.expires_after(ServerContext::kWriteTimeout);
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res, close](beast::error_code ec, std::size_t n) {
                        self->on_write(!res->keep_alive(), close, ec, n);
                      });
  };
  if (head_) {
    // GET's headers, Content-Length included, and no body (RFC 9110 9.3.2): a body would be
    // read as the start of the next response on a kept-alive connection.
    auto res = std::make_shared<http::response<http::empty_body>>(r.status, version_);
    headers(*res);
    res->content_length(r.body.size());
    bytes_ = 0;
    return send(res);
  }
  auto res = std::make_shared<Response>(r.status, version_);
  headers(*res);
  res->body() = std::move(r.body);
  res->prepare_payload();
  bytes_ = res->body().size();
  send(res);
}

void Session::on_write(bool close, bool drain, beast::error_code ec, std::size_t) {
  res_.reset();
  finish_request(ec == beast::error::timeout ? "write" : "");
  if (ec) return do_close();
  if (close) return do_close(drain);
  do_read();
}

void Session::take_request_id(const http::fields& headers) {
  const auto it = headers.find("X-Request-Id");
  const std::string_view given = it == headers.end()
                                     ? std::string_view{}
                                     : std::string_view(it->value().data(), it->value().size());
  request_id_ = valid_request_id(given) ? std::string(given) : new_request_id();
}

std::string Session::with_request_id(std::string body) const {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object() || request_id_.empty()) return body;
  j["requestId"] = request_id_;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void Session::log_timeout(std::string_view phase) {
  in_request_ = true;
  // The duration is the time the client was given, from when the server began to read.
  started_ = read_started_;
  status_ = static_cast<unsigned>(http::status::request_timeout);
  finish_request(phase);
}

void Session::finish_request(std::string_view timeout) {
  if (!in_request_) return;
  in_request_ = false;
  if (!timeout.empty()) {
    ctx_.metrics.record_timeout(timeout);
  } else {
    ctx_.metrics.record_request(route_.label, status_);
  }
  if (ctx_.options.access_log) {
    AccessEntry e;
    e.peer = peer_text_;
    e.client = client_;
    e.method = method_;
    e.path = route_.path;
    e.route = route_.label;
    e.status = status_;
    e.duration_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_)
            .count();
    e.bytes = bytes_;
    e.request_id = request_id_;
    e.timeout = std::string(timeout);
    log_access(e);
  }
}

// ---- Server-Sent Events ----------------------------------------------------------------------

void Session::sse_begin() {
  if (state_ == State::Closed) return;
  state_ = State::Streaming;
  sse_active_ = true;
  status_ = 200;
  // HTTP/1.1: chunked, and the connection may be reused. HTTP/1.0: the body ends at close.
  sse_chunked_ = version_ >= 11;
  auto res = std::make_shared<http::response<http::empty_body>>(http::status::ok, version_);
  res->set(http::field::server, server_header());
  res->set(http::field::content_type, "text/event-stream; charset=utf-8");
  res->set(http::field::cache_control, "no-cache");
  res->set("X-Accel-Buffering", "no");
  res->set("X-Request-Id", request_id_);
  if (sse_chunked_) {
    res->chunked(true);
    res->keep_alive(keep_alive_ && !ctx_.draining);
  } else {
    res->keep_alive(false);
  }
  sse_res_ = res;
  sse_sr_ = std::make_shared<http::response_serializer<http::empty_body>>(*res);
  sse_queue_.push_frame(std::string(kSseRetry));
  sse_writing_ = true;
  stream_.expires_after(ServerContext::kWriteTimeout);
  http::async_write_header(stream_, *sse_sr_,
                           beast::bind_front_handler(&Session::on_sse_write, shared_from_this()));
  sse_arm_heartbeat();
}

void Session::sse_arm_heartbeat() {
  if (!sse_heartbeat_) sse_heartbeat_.emplace(ex_);
  sse_heartbeat_->expires_after(ctx_.options.sse_heartbeat);
  sse_heartbeat_->async_wait(
      beast::bind_front_handler(&Session::on_sse_heartbeat, shared_from_this()));
}

void Session::on_sse_heartbeat(beast::error_code ec) {
  if (ec || !sse_active_ || sse_failed_ || sse_ending_ || state_ == State::Closed) return;
  // Only into an idle stream: a stream that is still writing is not silent, and a reader too
  // slow to take the queue would only get more to hold.
  if (!sse_writing_ && sse_queue_.empty()) {
    sse_queue_.push_frame(std::string(kSseHeartbeat));
    sse_pump();
  }
  sse_arm_heartbeat();
}

void Session::sse_output(std::string_view event, std::string text) {
  if (!sse_active_ || sse_failed_) return;
  sse_queue_.push_output(event, text);
  if (!sse_writing_) sse_pump();
}

void Session::sse_end(std::string frame) {
  if (sse_heartbeat_) sse_heartbeat_->cancel();
  if (sse_failed_) {
    // The client is gone; the execution has finished (cancelled): nothing more to send.
    finish_request();
    return do_close();
  }
  sse_queue_.push_frame(std::move(frame));
  sse_ending_ = true;
  if (!sse_writing_) sse_pump();
}

void Session::sse_pump() {
  if (sse_failed_ || state_ == State::Closed) return;
  stream_.expires_after(ServerContext::kWriteTimeout);
  auto done = beast::bind_front_handler(&Session::on_sse_write, shared_from_this());
  if (!sse_queue_.empty()) {
    sse_current_ = sse_queue_.pop();
    sse_writing_ = true;
    if (sse_chunked_) {
      net::async_write(stream_, http::make_chunk(net::buffer(sse_current_)), std::move(done));
    } else {
      net::async_write(stream_, net::buffer(sse_current_), std::move(done));
    }
    return;
  }
  if (!sse_ending_) {
    // Idle until more output, the heartbeat or the end: no write deadline meanwhile.
    stream_.expires_never();
    return;
  }
  if (sse_chunked_ && !sse_last_sent_) {
    sse_last_sent_ = true;
    sse_writing_ = true;
    net::async_write(stream_, http::make_chunk_last(), std::move(done));
    return;
  }
  // The stream is complete.
  finish_request();
  sse_res_.reset();
  sse_sr_.reset();
  if (!sse_chunked_ || !keep_alive_ || ctx_.draining) return do_close();
  do_read();
}

void Session::on_sse_write(beast::error_code ec, std::size_t bytes) {
  sse_writing_ = false;
  if (ec) {
    // The client went away or stopped reading: stop the execution (its container is removed);
    // finish_execute will arrive once it has ended.
    sse_failed_ = true;
    if (sse_heartbeat_) sse_heartbeat_->cancel();
    if (cancel_) cancel_->request_stop();
    beast::error_code ignored;
    stream_.socket().close(ignored);
    finish_request(ec == beast::error::timeout ? "write" : "");
    return;
  }
  bytes_ += bytes;
  sse_pump();
}

// ---- disconnect detection --------------------------------------------------------------------

void Session::watch_peer() {
  watching_ = true;
  const unsigned generation = ++watch_generation_;
  stream_.socket().async_wait(tcp::socket::wait_read,
                              [self = shared_from_this(), generation](beast::error_code ec) {
                                self->on_peer_readable(generation, ec);
                              });
}

void Session::on_peer_readable(unsigned generation, beast::error_code ec) {
  if (ec || generation != watch_generation_ || !watching_) return;
  char c;
  const ssize_t n = ::recv(stream_.socket().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) {
    watching_ = false;  // the next (pipelined) request: the client is still there
    return;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return watch_peer();
  // End of stream or a reset while the answer is being worked out: nobody will read it.
  watching_ = false;
  keep_alive_ = false;
  if (cancel_) cancel_->request_stop();
}

// ---- closing ---------------------------------------------------------------------------------

void Session::do_close(bool drain) {
  if (state_ == State::Closed) return;
  state_ = State::Closed;
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (!drain || ec) {
    stream_.close();
    return;
  }
  // Lingering close: the client may still be sending a body we refused. Closing with unread
  // data makes the kernel send a reset, which can destroy our reply before the client reads
  // it, so read and discard for a moment first.
  drain_buffer_ = std::make_shared<std::array<char, 4096>>();
  stream_.expires_after(kDrainTime);
  stream_.async_read_some(net::buffer(*drain_buffer_),
                          beast::bind_front_handler(&Session::on_drain, shared_from_this()));
}

void Session::on_drain(beast::error_code ec, std::size_t bytes) {
  drained_ += bytes;
  if (ec || drained_ > kDrainLimit) {
    stream_.close();
    return;
  }
  stream_.async_read_some(net::buffer(*drain_buffer_),
                          beast::bind_front_handler(&Session::on_drain, shared_from_this()));
}

}  // namespace ignite_http
