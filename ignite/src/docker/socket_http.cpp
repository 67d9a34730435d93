#include "ignite/src/docker/socket_http.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "ignite/error.hpp"
#include "ignite/src/docker/cancel.hpp"
#include "ignite/src/docker/connection.hpp"

namespace Ignite::docker::socket_http {
namespace {

namespace http = boost::beast::http;

using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxHeaderBytes = 64 * 1024;
// As CurlTransport's connect bound (a unix connect does not wait in practice).
constexpr std::chrono::milliseconds kConnectTimeout{10000};

std::atomic<std::size_t> g_opened{0};

// The thread's kept-alive connections by socket path (a thread may talk to a few daemons), and
// the process they belong to: a forked child must not write into its parent's connections.
struct Idle {
  std::string path;
  std::unique_ptr<Connection> conn;
};
constexpr std::size_t kMaxIdle = 4;

// The thread's eventfd that a stop callback writes to, to end a wait at once.
struct WakeFd {
  int fd = -1;
  WakeFd() = default;
  WakeFd(const WakeFd&) = delete;
  WakeFd& operator=(const WakeFd&) = delete;
  ~WakeFd() { reset(); }
  void reset() noexcept {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

struct ThreadState {
  pid_t pid = 0;
  std::vector<Idle> idle;
  WakeFd wake;
  // False once destroyed: a call from a later destructor at thread (or process) exit keeps no
  // connection and polls the scope instead of using the eventfd.
  bool usable = true;

  ThreadState() = default;
  ThreadState(const ThreadState&) = delete;
  ThreadState& operator=(const ThreadState&) = delete;
  ~ThreadState() {
    idle.clear();
    wake.reset();
    usable = false;
  }

  // After fork() the child's copy of this thread's state holds the parent's descriptors:
  // closing our copies leaves the parent's connections as they are.
  void own() {
    const pid_t now = ::getpid();
    if (pid == now || !usable) return;
    idle.clear();
    wake.reset();
    pid = now;
  }
};
thread_local ThreadState t_state;

std::unique_ptr<Connection> take_idle(const std::string& path) {
  if (!t_state.usable) return nullptr;
  auto& idle = t_state.idle;
  const auto it =
      std::find_if(idle.begin(), idle.end(), [&](const Idle& i) { return i.path == path; });
  if (it == idle.end()) return nullptr;
  std::unique_ptr<Connection> conn = std::move(it->conn);
  idle.erase(it);
  // Nothing is due on an idle connection: readable means the daemon closed it meanwhile (or
  // sent something unasked for). Either way it is not used.
  pollfd p{conn->fd(), POLLIN, 0};
  if (::poll(&p, 1, 0) != 0) return nullptr;
  return conn;
}

void keep_idle(const std::string& path, std::unique_ptr<Connection> conn) {
  if (!t_state.usable) return;
  auto& idle = t_state.idle;
  if (idle.size() >= kMaxIdle) idle.erase(idle.begin());
  idle.push_back({path, std::move(conn)});
}

int wake_fd() {
  if (!t_state.usable) return -1;
  WakeFd& w = t_state.wake;
  if (w.fd < 0) w.fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  return w.fd;  // -1 (no eventfd): waits poll the scope instead, see wait_for
}

void drain(int fd) {
  std::uint64_t count = 0;
  [[maybe_unused]] const ssize_t n = ::read(fd, &count, sizeof count);
}

struct StopWake {
  int fd;
  void operator()() const noexcept {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(fd, &one, sizeof one);
  }
};


// One call: a request written, its reply read.
class Call {
 public:
  Call(const Endpoint& endpoint, const HttpRequest& req)
      : endpoint_(endpoint),
        req_(req),
        target_(req.method + " " + req.path),
        deadline_(req.timeout.count() > 0 ? std::optional(Clock::now() + req.timeout)
                                          : std::nullopt) {}

  HttpResponse run() {
    if (CancelScope::cancelled()) {
      throw Error(ErrorCode::Cancelled, target_ + ": cancelled before it was sent");
    }
    t_state.own();
    const std::stop_token token = CancelScope::token();
    std::optional<std::stop_callback<StopWake>> on_stop;
    if (token.stop_possible()) {
      wake_ = wake_fd();
      if (wake_ >= 0) on_stop.emplace(token, StopWake{wake_});
    }
    struct DrainAfter {
      const std::stop_token& token;
      const int& fd;
      std::optional<std::stop_callback<StopWake>>& on_stop;
      // Unregistered first (it may be writing right now), then its write, if any, is taken off.
      ~DrainAfter() {
        on_stop.reset();
        if (fd >= 0 && token.stop_requested()) drain(fd);
      }
    } drain_after{token, wake_, on_stop};

    const std::string message = request_bytes();
    std::unique_ptr<Connection> conn = take_idle(endpoint_.socket_path);
    const bool reused = conn != nullptr;
    if (!conn) conn = open();
    std::optional<HttpResponse> reply = exchange(*conn, message);
    if (!reply && reused) {
      // The kept-alive connection was gone before any of the reply came (the daemon closed it
      // as the request went out): once more on a fresh one, as libcurl does.
      conn = open();
      reply = exchange(*conn, message);
    }
    if (!reply) fail("the daemon closed the connection without a reply");
    if (reusable_) keep_idle(endpoint_.socket_path, std::move(conn));
    return std::move(*reply);
  }

 private:
  std::unique_ptr<Connection> open() {
    std::unique_ptr<Connection> conn = dial(endpoint_, Clock::now() + kConnectTimeout, target_);
    g_opened.fetch_add(1, std::memory_order_relaxed);
    return conn;
  }

  std::string request_bytes() const {
    const bool has_body = !req_.body.empty();
    std::string out;
    out.reserve(160 + req_.path.size() + req_.body.size());
    out.append(req_.method).append(" ").append(req_.path).append(" HTTP/1.1\r\n");
    out.append("Host: docker\r\nUser-Agent: ignite\r\n");
    if (has_body || req_.method == "POST") {
      out.append("Content-Type: ").append(req_.content_type).append("\r\n");
      out.append("Content-Length: ").append(std::to_string(req_.body.size())).append("\r\n");
    }
    out.append("\r\n");
    out.append(req_.body);
    return out;
  }

  [[noreturn]] void fail(const std::string& why) const {
    throw Error(ErrorCode::Docker,
                target_ + ": talking to the Docker daemon at " + endpoint_.url + ": " + why);
  }

  // Waits until `fd` is ready for `events`; throws on the call's timeout or a stop request.
  void wait_for(const Connection& conn, short events, bool replying) {
    for (;;) {
      if (CancelScope::cancelled()) {
        throw Error(ErrorCode::Cancelled,
                    target_ + ": cancelled while waiting for the Docker daemon");
      }
      int timeout = -1;
      if (deadline_) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline_ - Clock::now());
        if (left.count() <= 0) {
          // A daemon that accepts connections but does not answer (stopped, overloaded, a stuck
          // storage driver) is unavailable for this call: named as such, with the bound it missed.
          throw Error(ErrorCode::DockerUnavailable,
                      "the Docker daemon at " + endpoint_.url + " did not answer " + target_ +
                          " within " + std::to_string(req_.timeout.count()) + " ms (" +
                          (replying ? "the reply stopped" : "no reply") + ")");
        }
        timeout = static_cast<int>(std::min<long long>(left.count(), INT_MAX));
      }
      // Without a wake-up descriptor the scope is looked at every kCancelPollMs.
      if (wake_ < 0 && CancelScope::token().stop_possible()) {
        timeout = timeout < 0 ? kCancelPollMs : std::min(timeout, kCancelPollMs);
      }
      pollfd p[2] = {{conn.fd(), static_cast<short>(events | conn.wants()), 0}, {wake_, POLLIN, 0}};
      const int n = ::poll(p, wake_ >= 0 ? 2 : 1, timeout);
      if (n < 0) {
        if (errno == EINTR) continue;
        fail(std::string("poll: ") + std::strerror(errno));
      }
      if (n == 0) continue;
      if (wake_ >= 0 && (p[1].revents & POLLIN) != 0) {
        // A stop request (or one left over from an earlier call's scope): the loop looks.
        drain(wake_);
        continue;
      }
      if (p[0].revents != 0) return;
    }
  }

  // Writes the request and reads the reply. nullopt: the connection ended before any of the
  // reply arrived (the caller may retry on a fresh one).
  std::optional<HttpResponse> exchange(Connection& conn, std::string_view message) {
    for (std::size_t sent = 0; sent < message.size();) {
      const long n = conn.write(message.data() + sent, message.size() - sent);
      if (n > 0) {
        sent += static_cast<std::size_t>(n);
      } else if (n < 0) {
        return std::nullopt;
      } else {
        wait_for(conn, POLLOUT, false);
      }
    }
    in_.clear();
    pos_ = 0;
    // Boost.Beast's parser frames the reply (Content-Length, chunked, read to the end of the
    // connection, no body for HEAD/1xx/204/304); one parser per message, as 1xx interim replies
    // come before the real one.
    for (;;) {
      http::response_parser<http::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(kMaxHeaderBytes));
      parser.body_limit(boost::none);  // a whole reply, as libcurl read it
      parser.eager(true);
      if (req_.method == "HEAD") parser.skip(true);
      for (;;) {
        if (pos_ < in_.size()) {
          boost::beast::error_code ec;
          pos_ += parser.put(boost::asio::buffer(in_.data() + pos_, in_.size() - pos_), ec);
          if (parser.is_done()) break;
          if (!ec) continue;
          if (ec == http::error::header_limit) {
            fail("reply headers exceed " + std::to_string(kMaxHeaderBytes) + " bytes");
          }
          if (ec != http::error::need_more) {
            fail("malformed reply: " + first_line() + " (" + ec.message() + ")");
          }
        }
        compact();
        if (!read_more(conn)) {
          if (in_.empty()) return std::nullopt;
          boost::beast::error_code ec;
          if (parser.is_header_done() && parser.need_eof()) parser.put_eof(ec);
          if (!parser.is_done() || ec) fail("the connection closed in the middle of the reply");
          break;
        }
      }
      http::response<http::string_body>& res = parser.get();
      const unsigned status = res.result_int();
      if (status >= 100 && status < 200) continue;  // interim: the reply follows
      HttpResponse reply;
      reply.status = static_cast<long>(status);
      reply.body = std::move(res.body());
      if (!res.keep_alive() || parser.need_eof()) reusable_ = false;
      // Bytes beyond the reply belong to nothing we asked for.
      if (pos_ != in_.size()) reusable_ = false;
      return reply;
    }
  }

  // The start of what arrived, for an error message.
  std::string first_line() const {
    const std::string_view all(in_);
    return std::string(all.substr(0, std::min<std::size_t>({all.find("\r\n"), all.size(), 200})));
  }

  // Drops what was consumed, so that a long chunked body is not kept twice.
  void compact() {
    if (pos_ > 64 * 1024) {
      in_.erase(0, pos_);
      pos_ = 0;
    }
  }

  // Appends what arrives next; false at the end of the connection.
  bool read_more(Connection& conn) {
    char chunk[16 * 1024];
    for (;;) {
      const long n = conn.read(chunk, sizeof chunk);
      if (n > 0) {
        in_.append(chunk, static_cast<std::size_t>(n));
        return true;
      }
      if (n == 0) {
        reusable_ = false;
        return false;
      }
      wait_for(conn, POLLIN, !in_.empty());
    }
  }

  const Endpoint& endpoint_;
  const HttpRequest& req_;
  const std::string target_;
  const std::optional<Clock::time_point> deadline_;
  int wake_ = -1;
  std::string in_;       // the reply's bytes as read
  std::size_t pos_ = 0;  // how far they are consumed
  bool reusable_ = true;
};

}  // namespace

bool fits(const Endpoint& endpoint, const HttpRequest& req) noexcept {
  return endpoint.kind == Endpoint::Kind::Unix && req.body_file.empty() && !req.body_source &&
         req.body.size() <= kMaxBody &&
         (req.method == "GET" || req.method == "POST" || req.method == "DELETE" ||
          req.method == "HEAD" || req.method == "PUT");
}

HttpResponse request(const Endpoint& endpoint, const HttpRequest& req) {
  return Call(endpoint, req).run();
}

std::size_t connections_opened() noexcept { return g_opened.load(std::memory_order_relaxed); }

}  // namespace Ignite::docker::socket_http
