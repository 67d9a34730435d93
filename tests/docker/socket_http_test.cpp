// socket_http (small Engine API calls without libcurl) against a scripted HTTP server on a unix
// socket of the test's own: connection reuse and the daemon closing connections, reply framing
// (Content-Length, chunked, none, interim 1xx), timeouts and cancellation, fork. The live test
// (client_live_test) checks it against the real daemon.
#include "ignite/src/docker/socket_http.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "ignite/error.hpp"
#include "ignite/src/docker/cancel.hpp"
#include "ignite/src/docker/curl_transport.hpp"
#include "tests/docker/stop_lateness.hpp"

namespace Ignite::docker {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// One request as the server read it.
struct Seen {
  std::string head;  // request line and headers
  std::string body;
};

// A server on a fresh unix socket. Each accepted connection runs `serve` with a reader of the
// next request (nullopt: the client closed) and the connection's descriptor; `serve` returns
// when it is done with the connection, which is then closed.
class ScriptedServer {
 public:
  using NextRequest = std::function<std::optional<Seen>()>;
  using Serve = std::function<void(int fd, const NextRequest& next)>;

  explicit ScriptedServer(Serve serve) : serve_(std::move(serve)) {
    char dir[] = "/tmp/ignite-sh-XXXXXX";
    if (::mkdtemp(dir) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = dir;
    path_ = dir_ + "/s.sock";
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::snprintf(address.sun_path, sizeof address.sun_path, "%s", path_.c_str());
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listen_fd_, 16) != 0) {
      throw std::runtime_error("bind/listen failed");
    }
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  ~ScriptedServer() {
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    acceptor_.join();
    {
      // The client thread keeps its connections open (kept alive): end their readers.
      std::lock_guard lock(mu_);
      for (const int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : connections_) t.join();
    ::close(listen_fd_);
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }

  Endpoint endpoint() const {
    Endpoint e;
    e.kind = Endpoint::Kind::Unix;
    e.url = "unix://" + path_;
    e.source = "test";
    e.socket_path = path_;
    return e;
  }
  int accepted() const { return accepted_.load(); }
  std::vector<Seen> seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }

  static void send_all(int fd, std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
  }

 private:
  void accept_loop() {
    for (;;) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0 || stopping_) {
        if (fd >= 0) ::close(fd);
        return;
      }
      ++accepted_;
      {
        std::lock_guard lock(mu_);
        open_fds_.push_back(fd);
      }
      connections_.emplace_back([this, fd] {
        std::string buffer;
        const NextRequest next = [&]() -> std::optional<Seen> {
          for (;;) {
            const auto end = buffer.find("\r\n\r\n");
            if (end != std::string::npos) {
              Seen s;
              s.head = buffer.substr(0, end + 2);
              std::size_t length = 0;
              if (const auto at = s.head.find("Content-Length: "); at != std::string::npos) {
                length = std::stoul(s.head.substr(at + 16));
              }
              if (buffer.size() >= end + 4 + length) {
                s.body = buffer.substr(end + 4, length);
                buffer.erase(0, end + 4 + length);
                std::lock_guard lock(mu_);
                seen_.push_back(s);
                return s;
              }
            }
            char chunk[4096];
            const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
            if (n <= 0) return std::nullopt;
            buffer.append(chunk, static_cast<std::size_t>(n));
          }
        };
        serve_(fd, next);
        std::lock_guard lock(mu_);
        std::erase(open_fds_, fd);
        ::close(fd);
      });
    }
  }

  Serve serve_;
  std::string dir_, path_;
  int listen_fd_ = -1;
  std::thread acceptor_;
  std::vector<std::thread> connections_;
  std::atomic<int> accepted_{0};
  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;
  std::vector<Seen> seen_;
  std::vector<int> open_fds_;
};

HttpRequest get(std::string path, std::chrono::milliseconds timeout = 5s) {
  HttpRequest r;
  r.method = "GET";
  r.path = std::move(path);
  r.timeout = timeout;
  return r;
}

// Answers every request on the connection with `reply`.
ScriptedServer::Serve always(std::string reply) {
  return [reply](int fd, const ScriptedServer::NextRequest& next) {
    while (next()) ScriptedServer::send_all(fd, reply);
  };
}

TEST(SocketHttp, CallsOfAThreadShareOneConnection) {
  ScriptedServer server(always("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK"));
  const std::size_t opened = socket_http::connections_opened();
  for (int i = 0; i < 5; ++i) {
    const HttpResponse r = socket_http::request(server.endpoint(), get("/v1.41/_ping"));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "OK");
  }
  EXPECT_EQ(server.accepted(), 1);
  EXPECT_EQ(socket_http::connections_opened() - opened, 1u);
  // Another thread has a connection of its own.
  std::thread([&] { socket_http::request(server.endpoint(), get("/v1.41/_ping")); }).join();
  EXPECT_EQ(server.accepted(), 2);
}

TEST(SocketHttp, RequestIsFramedAsCurlFramedIt) {
  ScriptedServer server(
      always("HTTP/1.1 201 Created\r\nContent-Length: 13\r\n\r\n{\"Id\":\"abc\"}\n"));
  HttpRequest post;
  post.method = "POST";
  post.path = "/v1.41/containers/create?name=x";
  post.body = R"({"Image":"busybox"})";
  const HttpResponse r = socket_http::request(server.endpoint(), post);
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, "{\"Id\":\"abc\"}\n");
  HttpRequest start;
  start.method = "POST";
  start.path = "/v1.41/containers/abc/start";
  socket_http::request(server.endpoint(), start);
  HttpRequest remove;
  remove.method = "DELETE";
  remove.path = "/v1.41/containers/abc?force=1";
  socket_http::request(server.endpoint(), remove);
  const auto seen = server.seen();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].head.substr(0, seen[0].head.find("\r\n")),
            "POST /v1.41/containers/create?name=x HTTP/1.1");
  EXPECT_NE(seen[0].head.find("Content-Type: application/json\r\n"), std::string::npos);
  EXPECT_NE(seen[0].head.find("Content-Length: 19\r\n"), std::string::npos);
  EXPECT_EQ(seen[0].body, post.body);
  // A POST without a body still says so; a DELETE carries no body headers.
  EXPECT_NE(seen[1].head.find("Content-Length: 0\r\n"), std::string::npos);
  EXPECT_EQ(seen[2].head.substr(0, seen[2].head.find("\r\n")),
            "DELETE /v1.41/containers/abc?force=1 HTTP/1.1");
  EXPECT_EQ(seen[2].head.find("Content-Length"), std::string::npos);
}

TEST(SocketHttp, ChunkedReplyWithTrailersAndInterimReply) {
  ScriptedServer server(
      always("HTTP/1.1 100 Continue\r\n\r\n"
             "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
             "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n"));
  for (int i = 0; i < 2; ++i) {
    const HttpResponse r = socket_http::request(server.endpoint(), get("/v1.41/info"));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "hello, world");
  }
  EXPECT_EQ(server.accepted(), 1);  // the connection stays usable after a chunked reply
}

TEST(SocketHttp, NoContentAndHeadHaveNoBody) {
  ScriptedServer server([](int fd, const ScriptedServer::NextRequest& next) {
    while (const auto s = next()) {
      ScriptedServer::send_all(fd, s->head.rfind("HEAD", 0) == 0
                                       ? "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"
                                       : "HTTP/1.1 204 No Content\r\n\r\n");
    }
  });
  HttpRequest head = get("/v1.41/_ping");
  head.method = "HEAD";
  EXPECT_EQ(socket_http::request(server.endpoint(), head).status, 200);
  HttpRequest start;
  start.method = "POST";
  start.path = "/v1.41/containers/abc/start";
  const HttpResponse r = socket_http::request(server.endpoint(), start);
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(server.accepted(), 1);
}

TEST(SocketHttp, ConnectionCloseIsHonoured) {
  ScriptedServer server([](int fd, const ScriptedServer::NextRequest& next) {
    if (next()) ScriptedServer::send_all(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nbye");
  });
  for (int i = 0; i < 3; ++i) {
    // No length: the body runs to the end of the connection.
    EXPECT_EQ(socket_http::request(server.endpoint(), get("/x")).body, "bye");
  }
  EXPECT_EQ(server.accepted(), 3);
}

TEST(SocketHttp, AKeptConnectionTheDaemonClosedIsReplacedWithoutAnError) {
  // One reply per connection, announced as kept alive, then closed: each next call finds its
  // idle connection dead and goes on a fresh one.
  ScriptedServer server([](int fd, const ScriptedServer::NextRequest& next) {
    if (next()) ScriptedServer::send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK");
  });
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(socket_http::request(server.endpoint(), get("/x")).body, "OK");
    std::this_thread::sleep_for(20ms);  // the server has closed by now
  }
  EXPECT_EQ(server.accepted(), 3);
}

TEST(SocketHttp, AClosedConnectionSeenOnlyAfterSendingIsRetriedOnce) {
  // The first connection answers once, then takes the next request and closes without a reply
  // (the daemon dropping a kept-alive connection as the request arrives): the client sends it
  // again on a fresh connection, once.
  std::atomic<int> connection{0};
  ScriptedServer server([&](int fd, const ScriptedServer::NextRequest& next) {
    const int n = ++connection;
    if (!next()) return;
    ScriptedServer::send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK");
    if (n == 1) {
      next();  // read the second request, answer nothing, close
      return;
    }
    while (next()) ScriptedServer::send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK");
  });
  EXPECT_EQ(socket_http::request(server.endpoint(), get("/first")).body, "OK");
  // The server reads the next request only when it comes: the idle connection looks alive.
  EXPECT_EQ(socket_http::request(server.endpoint(), get("/second")).body, "OK");
  EXPECT_EQ(server.accepted(), 2);
  const auto seen = server.seen();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[1].head.substr(0, 12), "GET /second ");
  EXPECT_EQ(seen[2].head.substr(0, 12), "GET /second ");
}

TEST(SocketHttp, NoReplyOnAFreshConnectionIsAnError) {
  ScriptedServer server([](int, const ScriptedServer::NextRequest& next) { next(); });
  try {
    socket_http::request(server.endpoint(), get("/v1.41/_ping"));
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Docker) << e.what();
    EXPECT_NE(e.message().find("GET /v1.41/_ping"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("without a reply"), std::string::npos) << e.message();
  }
  EXPECT_EQ(server.accepted(), 1);  // not retried: nothing was reused
}

TEST(SocketHttp, ABrokenReplyIsAnError) {
  ScriptedServer server([](int fd, const ScriptedServer::NextRequest& next) {
    if (next()) ScriptedServer::send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort");
  });
  try {
    socket_http::request(server.endpoint(), get("/x"));
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Docker) << e.what();
    EXPECT_NE(e.message().find("in the middle of the reply"), std::string::npos) << e.message();
  }
  ScriptedServer garbage([](int fd, const ScriptedServer::NextRequest& next) {
    if (next()) ScriptedServer::send_all(fd, "SSH-2.0-OpenSSH\r\n\r\n");
  });
  try {
    socket_http::request(garbage.endpoint(), get("/x"));
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Docker) << e.what();
    EXPECT_NE(e.message().find("malformed reply: SSH-2.0-OpenSSH"), std::string::npos)
        << e.message();
  }
}

// A server that reads requests and never answers.
ScriptedServer::Serve silent() {
  return [](int, const ScriptedServer::NextRequest& next) {
    while (next()) {
    }
  };
}

TEST(SocketHttp, TimeoutIsDockerUnavailableAndTheConnectionIsNotReused) {
  std::atomic<int> connection{0};
  ScriptedServer server([&](int fd, const ScriptedServer::NextRequest& next) {
    if (++connection == 1) {
      silent()(fd, next);
      return;
    }
    while (next()) ScriptedServer::send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK");
  });
  const auto start = Clock::now();
  try {
    socket_http::request(server.endpoint(), get("/v1.41/containers/x/wait", 300ms));
    ADD_FAILURE() << "expected a timeout";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::DockerUnavailable) << e.what();
    EXPECT_NE(e.message().find("did not answer GET /v1.41/containers/x/wait within 300 ms"),
              std::string::npos)
        << e.message();
  }
  const auto elapsed = Clock::now() - start;
  EXPECT_GE(elapsed, 295ms);
  EXPECT_LT(elapsed, 3s);
  EXPECT_EQ(socket_http::request(server.endpoint(), get("/x")).body, "OK");
  EXPECT_EQ(server.accepted(), 2);
}

TEST(SocketHttp, AStopRequestEndsTheWaitAtOnce) {
  ScriptedServer server(silent());
  const auto late = Ignite::testing::stop_lateness(
      [&] { socket_http::request(server.endpoint(), get("/v1.41/containers/x/wait", 30s)); },
      [](const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::Cancelled) << e.what();
        EXPECT_NE(e.message().find("cancelled while waiting for the Docker daemon"),
                  std::string::npos)
            << e.message();
      });
  // Woken by the stop callback, not found by a look at the token every kCancelPollMs.
  EXPECT_LT(late[2], 10ms);
  std::stop_source stop;
  stop.request_stop();
  // A stop already requested: not sent at all.
  try {
    CancelScope scope(stop.get_token());
    socket_http::request(server.endpoint(), get("/x"));
    ADD_FAILURE() << "expected a cancellation";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Cancelled) << e.what();
    EXPECT_NE(e.message().find("cancelled before it was sent"), std::string::npos) << e.message();
  }
  // A stop of an earlier scope leaves nothing behind for the next call on this thread.
  ScriptedServer answering(always("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK"));
  std::stop_source other;
  CancelScope scope(other.get_token());
  EXPECT_EQ(socket_http::request(answering.endpoint(), get("/x", 2s)).body, "OK");
}

TEST(SocketHttp, UnreachableSocketIsDockerUnavailable) {
  Endpoint e;
  e.kind = Endpoint::Kind::Unix;
  e.socket_path = "/tmp/ignite-no-such-dir-" + std::to_string(::getpid()) + "/docker.sock";
  e.url = "unix://" + e.socket_path;
  try {
    socket_http::request(e, get("/v1.41/_ping"));
    ADD_FAILURE() << "expected DockerUnavailable";
  } catch (const Error& err) {
    EXPECT_EQ(err.code(), ErrorCode::DockerUnavailable) << err.what();
    EXPECT_NE(err.message().find(e.socket_path), std::string::npos) << err.message();
  }
}

TEST(SocketHttp, AForkedChildUsesAConnectionOfItsOwn) {
  ScriptedServer server(always("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK"));
  ASSERT_EQ(socket_http::request(server.endpoint(), get("/parent")).body, "OK");
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    bool ok = false;
    try {
      ok = socket_http::request(server.endpoint(), get("/child")).body == "OK";
    } catch (...) {
    }
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  // The parent's connection was not written to by the child and still works.
  EXPECT_EQ(socket_http::request(server.endpoint(), get("/parent-again")).body, "OK");
  EXPECT_EQ(server.accepted(), 2);
}

TEST(SocketHttp, CurlTransportHandsOverOnlyWhatFits) {
  Endpoint unix_socket;
  unix_socket.kind = Endpoint::Kind::Unix;
  unix_socket.socket_path = "/var/run/docker.sock";
  HttpRequest small = get("/v1.41/containers/x/json");
  EXPECT_TRUE(socket_http::fits(unix_socket, small));
  HttpRequest file = small;
  file.body_file = "/tmp/context.tar";
  EXPECT_FALSE(socket_http::fits(unix_socket, file));
  HttpRequest chunked = small;
  chunked.body_source = [](char*, std::size_t) -> std::size_t { return 0; };
  EXPECT_FALSE(socket_http::fits(unix_socket, chunked));
  HttpRequest big = small;
  big.method = "POST";
  big.body.assign(socket_http::kMaxBody + 1, 'x');
  EXPECT_FALSE(socket_http::fits(unix_socket, big));
  Endpoint tcp;
  tcp.kind = Endpoint::Kind::Tcp;
  EXPECT_FALSE(socket_http::fits(tcp, small));

  // Through the transport: the small call goes this way (the server sees it on one connection).
  ScriptedServer server(always("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK"));
  CurlTransport transport(server.endpoint());
  const std::size_t opened = socket_http::connections_opened();
  EXPECT_EQ(transport.request(get("/a")).body, "OK");
  EXPECT_EQ(transport.request(get("/b")).body, "OK");
  EXPECT_EQ(socket_http::connections_opened() - opened, 1u);
}

}  // namespace
}  // namespace Ignite::docker
