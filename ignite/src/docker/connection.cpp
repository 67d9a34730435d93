#include "ignite/src/docker/connection.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "ignite/error.hpp"
#include "ignite/src/docker/cancel.hpp"
#include "ignite/src/docker/detail.hpp"
#include "ignite/src/docker/ssh.hpp"
#include "ignite/src/docker/tls.hpp"

namespace Ignite::docker {
namespace {

using Clock = std::chrono::steady_clock;

class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) noexcept : fd_(fd) {}
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }
  void reset(int fd) noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

int poll_ms(Clock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, kCancelPollMs));
}

void throw_if_cancelled(std::string_view what) {
  if (CancelScope::cancelled()) {
    throw Error(ErrorCode::Cancelled,
                std::string(what) + ": cancelled while waiting for the Docker daemon");
  }
}

// Waits for `events` on `fd` until `deadline`, looking at the cancellation scope meanwhile.
// False when the deadline passed.
bool wait_for(int fd, short events, Clock::time_point deadline, std::string_view what) {
  for (;;) {
    throw_if_cancelled(what);
    const int timeout = poll_ms(deadline);
    if (timeout == 0 && Clock::now() >= deadline) return false;
    pollfd p{fd, events, 0};
    const int ready = ::poll(&p, 1, timeout);
    if (ready > 0) return true;
    if (ready < 0 && errno != EINTR) {
      throw Error(ErrorCode::Docker, std::string(what) + ": poll: " + std::strerror(errno));
    }
  }
}

// A stream socket: a unix socket, a plain TCP connection, or our end of an ssh process's pair.
class SocketConnection final : public Connection {
 public:
  SocketConnection(int fd, std::unique_ptr<SshProcess> process = nullptr)
      : fd_(fd), process_(std::move(process)) {}
  ~SocketConnection() override {
    // Closing first gives ssh its end of input, so it can leave on its own before a signal.
    fd_.reset(-1);
    process_.reset();
  }

  int fd() const noexcept override { return fd_.get(); }

  long read(char* buf, std::size_t size) override {
    for (;;) {
      const ssize_t n = ::recv(fd_.get(), buf, size, MSG_DONTWAIT);
      if (n >= 0) return static_cast<long>(n);
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return -1;
      // The daemon closed while unread stdin was still queued on its side: the output before
      // it has been read in full, so this is an end of stream like any other.
      if (errno == ECONNRESET) return 0;
      throw Error(ErrorCode::Docker,
                  std::string("reading from the Docker daemon: ") + std::strerror(errno));
    }
  }

  long write(const char* buf, std::size_t size) override {
    for (;;) {
      const ssize_t n = ::send(fd_.get(), buf, size, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n >= 0) return static_cast<long>(n);
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN) return -1;
      throw Error(ErrorCode::Docker,
                  std::string("writing to the Docker daemon: ") + std::strerror(errno));
    }
  }

  void shutdown_write() noexcept override { ::shutdown(fd_.get(), SHUT_WR); }

  std::string diagnostics() override { return process_ ? process_->diagnostics() : std::string(); }

 private:
  UniqueFd fd_;
  std::unique_ptr<SshProcess> process_;
};

class TlsConnection final : public Connection {
 public:
  TlsConnection(int fd, Endpoint endpoint)
      : fd_(fd), endpoint_(std::move(endpoint)), tls_(fd_.get(), endpoint_) {}

  void handshake(Clock::time_point deadline, std::string_view what) {
    for (;;) {
      const TlsStream::Io io = tls_.handshake();
      if (io == TlsStream::Io::Done) return;
      const short events = io == TlsStream::Io::WantWrite ? POLLOUT : POLLIN;
      if (!wait_for(fd_.get(), events, deadline, what)) {
        throw Error(ErrorCode::DockerUnavailable,
                    "TLS with the Docker daemon at " + endpoint_.url +
                        " failed: no TLS handshake reply in time (is this a TLS port of a Docker "
                        "daemon, or a plain-HTTP one?)");
      }
    }
  }

  int fd() const noexcept override { return fd_.get(); }

  long read(char* buf, std::size_t size) override {
    std::size_t n = 0;
    switch (tls_.read(buf, size, &n)) {
      case TlsStream::Io::Done:
        wants_ = 0;
        return static_cast<long>(n);
      case TlsStream::Io::Closed:
        wants_ = 0;
        return 0;
      case TlsStream::Io::WantWrite:
        wants_ = POLLOUT;
        return -1;
      case TlsStream::Io::WantRead:
        break;
    }
    wants_ = POLLIN;
    return -1;
  }

  long write(const char* buf, std::size_t size) override {
    std::size_t n = 0;
    switch (tls_.write(buf, size, &n)) {
      case TlsStream::Io::Done:
        wants_ = 0;
        return static_cast<long>(n);
      case TlsStream::Io::Closed:
        wants_ = 0;
        return -1;
      case TlsStream::Io::WantRead:
        wants_ = POLLIN;
        return 0;
      case TlsStream::Io::WantWrite:
        break;
    }
    wants_ = POLLOUT;
    return 0;
  }

  void shutdown_write() noexcept override { tls_.shutdown_write(); }
  bool buffered() const noexcept override { return tls_.buffered(); }
  short wants() const noexcept override { return wants_; }

 private:
  UniqueFd fd_;
  Endpoint endpoint_;
  TlsStream tls_;
  short wants_ = 0;
};

std::unique_ptr<Connection> dial_unix(const Endpoint& endpoint, std::string_view what) {
  const std::string& path = endpoint.socket_path;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  // Reported like any other unreachable socket, as libcurl does for the other endpoints.
  if (path.size() >= sizeof(address.sun_path)) {
    throw Error(
        ErrorCode::DockerUnavailable,
        detail::unreachable_message(endpoint, "the path is longer than the " +
                                                  std::to_string(sizeof(address.sun_path) - 1) +
                                                  " bytes a unix socket address can hold"));
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) {
    throw Error(ErrorCode::Docker, std::string(what) + ": socket(): " + std::strerror(errno));
  }
  int rc = 0;
  do {
    rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) {
    throw Error(
        ErrorCode::DockerUnavailable,
        detail::unreachable_message(endpoint, std::string("connect(): ") + std::strerror(errno)));
  }
  return std::make_unique<SocketConnection>(fd.release());
}

UniqueFd connect_tcp(const Endpoint& endpoint, Clock::time_point deadline, std::string_view what) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(endpoint.port);
  if (const int rc = ::getaddrinfo(endpoint.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    throw Error(
        ErrorCode::DockerUnavailable,
        detail::unreachable_message(
            endpoint, std::string("cannot resolve ") + endpoint.host + ": " + ::gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, &::freeaddrinfo);
  std::string last_error = "no address";
  for (const addrinfo* a = list.get(); a != nullptr; a = a->ai_next) {
    UniqueFd fd(
        ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol));
    if (fd.get() < 0) {
      last_error = std::string("socket(): ") + std::strerror(errno);
      continue;
    }
    int rc = ::connect(fd.get(), a->ai_addr, a->ai_addrlen);
    if (rc < 0 && errno != EINPROGRESS && errno != EINTR) {
      last_error = std::string("connect(): ") + std::strerror(errno);
      continue;
    }
    if (rc < 0) {
      if (!wait_for(fd.get(), POLLOUT, deadline, what)) {
        throw Error(ErrorCode::DockerUnavailable,
                    detail::unreachable_message(endpoint, "connect() did not complete in time"));
      }
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        last_error = std::string("connect(): ") + std::strerror(err);
        continue;
      }
    }
    const int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return UniqueFd(fd.release());
  }
  throw Error(ErrorCode::DockerUnavailable, detail::unreachable_message(endpoint, last_error));
}

}  // namespace

std::string tls_refusal(const Endpoint& endpoint, std::chrono::milliseconds wait) {
  if (endpoint.kind != Endpoint::Kind::Tcp || !endpoint.tls) return {};
  try {
    const auto deadline = Clock::now() + wait;
    auto conn = dial(endpoint, deadline, "TLS check");
    char buffer[512];
    while (Clock::now() < deadline) {
      const long n = conn->read(buffer, sizeof buffer);
      if (n == 0) return {};
      if (n > 0) continue;
      pollfd p{conn->fd(), static_cast<short>(POLLIN | conn->wants()), 0};
      ::poll(&p, 1, poll_ms(deadline));
    }
  } catch (const Error& e) {
    if (e.code() == ErrorCode::DockerUnavailable &&
        e.message().find("TLS with the Docker daemon") != std::string::npos) {
      return e.message();
    }
  }
  return {};
}

std::unique_ptr<Connection> dial(const Endpoint& endpoint, Clock::time_point deadline,
                                 std::string_view what) {
  throw_if_cancelled(what);
  switch (endpoint.kind) {
    case Endpoint::Kind::Unix:
      return dial_unix(endpoint, what);
    case Endpoint::Kind::Tcp: {
      UniqueFd fd = connect_tcp(endpoint, deadline, what);
      if (!endpoint.tls) return std::make_unique<SocketConnection>(fd.release());
      auto connection = std::make_unique<TlsConnection>(fd.release(), endpoint);
      connection->handshake(deadline, what);
      return connection;
    }
    case Endpoint::Kind::Ssh: {
      int fd = -1;
      auto process = SshProcess::spawn(endpoint, &fd);
      ::fcntl(fd, F_SETFL, O_NONBLOCK);
      return std::make_unique<SocketConnection>(fd, std::move(process));
    }
  }
  throw Error(ErrorCode::Internal, "dial: unknown endpoint kind");
}

}  // namespace Ignite::docker
