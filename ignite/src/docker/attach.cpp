// Hijacked attach connections. libcurl cannot half-close its sending side, which is how a
// container's stdin gets its end-of-file, so attach speaks HTTP/1.1 over a raw AF_UNIX socket.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ignite/error.hpp"
#include "ignite/src/docker/cancel.hpp"
#include "ignite/src/docker/client.hpp"
#include "ignite/src/docker/detail.hpp"

namespace Ignite::docker {
namespace {

using Clock = std::chrono::steady_clock;

// The handshake's poll() wakes at least this often to look at the cancellation scope.
constexpr std::chrono::milliseconds kHandshakePoll{kCancelPollMs};
constexpr std::size_t kMaxHeaderBytes = 64 * 1024;
constexpr std::size_t kMaxErrorBodyBytes = 1024 * 1024;
constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::size_t kWriteChunk = 256 * 1024;

class UniqueFd {
 public:
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

std::string errno_text(int err) { return std::strerror(err); }

// Milliseconds for poll(): rounded up so a loop never spins on a sub-millisecond remainder.
int poll_timeout(Clock::time_point deadline, std::chrono::milliseconds cap) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::clamp(left, std::chrono::milliseconds{0}, cap).count());
}

void throw_if_cancelled(std::string_view what) {
  if (CancelScope::cancelled()) {
    throw Error(ErrorCode::Cancelled,
                std::string(what) + ": cancelled while waiting for the Docker daemon");
  }
}

// Blocking-style helpers for the handshake, bounded by `deadline` and cancellable.
void send_all(int fd, std::string_view data, Clock::time_point deadline, std::string_view what) {
  while (!data.empty()) {
    throw_if_cancelled(what);
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      const int timeout = poll_timeout(deadline, kHandshakePoll);
      if (timeout == 0) {
        throw Error(ErrorCode::DockerUnavailable,
                    std::string(what) + ": the Docker daemon did not take the request in time");
      }
      ::poll(&p, 1, timeout);
      continue;
    }
    throw Error(ErrorCode::Docker, std::string(what) + ": sending request: " + errno_text(errno));
  }
}

// Appends what is available to `buffer`; false at end of stream.
bool receive_some(int fd, std::string& buffer, Clock::time_point deadline, std::string_view what) {
  for (;;) {
    throw_if_cancelled(what);
    pollfd p{fd, POLLIN, 0};
    const int timeout = poll_timeout(deadline, kHandshakePoll);
    if (timeout == 0) {
      throw Error(ErrorCode::DockerUnavailable,
                  std::string(what) + ": the Docker daemon did not answer in time");
    }
    const int ready = ::poll(&p, 1, timeout);
    if (ready < 0 && errno != EINTR) {
      throw Error(ErrorCode::Docker, std::string(what) + ": poll: " + errno_text(errno));
    }
    if (ready <= 0) continue;
    char chunk[4096];
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, MSG_DONTWAIT);
    if (n > 0) {
      buffer.append(chunk, static_cast<std::size_t>(n));
      return true;
    }
    if (n == 0) return false;
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
    if (errno == ECONNRESET) return false;
    throw Error(ErrorCode::Docker, std::string(what) + ": reading reply: " + errno_text(errno));
  }
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Value of header `name` (lowercase) in a header block, or nullopt.
std::optional<std::string> header_value(std::string_view headers, std::string_view name) {
  std::size_t pos = headers.find("\r\n");
  while (pos != std::string_view::npos && pos + 2 < headers.size()) {
    const std::size_t start = pos + 2;
    const std::size_t end = headers.find("\r\n", start);
    const std::string_view line =
        headers.substr(start, (end == std::string_view::npos ? headers.size() : end) - start);
    const std::size_t colon = line.find(':');
    if (colon != std::string_view::npos && lower(line.substr(0, colon)) == name) {
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
        value.remove_prefix(1);
      }
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
        value.remove_suffix(1);
      return std::string(value);
    }
    pos = end;
  }
  return std::nullopt;
}

// Decodes a complete chunked body; nullopt while the terminating chunk has not arrived.
std::optional<std::string> dechunk(std::string_view raw) {
  std::string out;
  for (;;) {
    const std::size_t line_end = raw.find("\r\n");
    if (line_end == std::string_view::npos) return std::nullopt;
    std::size_t size = 0;
    const auto [ptr, ec] = std::from_chars(raw.data(), raw.data() + line_end, size, 16);
    if (ec != std::errc{}) return out;  // not chunked after all: use what we have
    (void)ptr;
    raw.remove_prefix(line_end + 2);
    if (size == 0) return out;
    if (raw.size() < size + 2) return std::nullopt;
    out.append(raw.substr(0, size));
    raw.remove_prefix(size + 2);
  }
}

// Reads the body of a refused attach so its error message can be reported.
std::string read_error_body(int fd, std::string_view headers, std::string body,
                            Clock::time_point deadline, std::string_view what) {
  const auto length_header = header_value(headers, "content-length");
  const bool chunked = lower(header_value(headers, "transfer-encoding").value_or("")) == "chunked";
  std::size_t length = kMaxErrorBodyBytes;
  if (length_header) {
    std::from_chars(length_header->data(), length_header->data() + length_header->size(), length);
    length = std::min(length, kMaxErrorBodyBytes);
  }
  for (;;) {
    if (chunked) {
      if (auto decoded = dechunk(body)) return *decoded;
    } else if (body.size() >= length) {
      body.resize(length);
      return body;
    }
    if (body.size() >= kMaxErrorBodyBytes) return body;
    if (!receive_some(fd, body, deadline, what)) return body;
  }
}

}  // namespace

Attachment::Attachment(int fd, std::string initial_bytes, bool with_stdin)
    : fd_(fd), pending_(std::move(initial_bytes)), stdin_closed_(!with_stdin) {}

Attachment::Attachment(Attachment&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      pending_(std::move(other.pending_)),
      stdin_closed_(other.stdin_closed_),
      stdin_written_(other.stdin_written_),
      decoder_(other.decoder_) {}

Attachment& Attachment::operator=(Attachment&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    pending_ = std::move(other.pending_);
    stdin_closed_ = other.stdin_closed_;
    stdin_written_ = other.stdin_written_;
    decoder_ = other.decoder_;
  }
  return *this;
}

Attachment::~Attachment() { close(); }

void Attachment::close() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Attachment::End Attachment::pump(std::string_view stdin_data,
                                 const FrameDecoder::Callback& on_payload,
                                 std::chrono::steady_clock::time_point deadline,
                                 const std::function<bool()>& should_stop,
                                 bool close_stdin,
                                 const std::function<Clock::time_point()>& wake_at) {
  if (fd_ < 0) throw Error(ErrorCode::Internal, "Attachment::pump on a closed attachment");

  if (!pending_.empty()) {
    const std::string bytes = std::exchange(pending_, {});
    decoder_.feed(bytes, on_payload);
  }

  // shutdown(SHUT_WR) is the container's end of input (with StdinOnce it also closes its stdin).
  const auto finish_stdin = [this] {
    ::shutdown(fd_, SHUT_WR);
    stdin_closed_ = true;
  };
  if (!stdin_closed_ && close_stdin && stdin_written_ >= stdin_data.size()) finish_stdin();
  // Nothing (more) to write on a stream that stays open: only read.
  bool writing = !stdin_closed_ && stdin_written_ < stdin_data.size();

  std::vector<char> buffer(kReadChunk);
  const std::chrono::milliseconds cap =
      should_stop ? std::chrono::milliseconds{20} : std::chrono::milliseconds{1000};
  for (;;) {
    if (should_stop && should_stop()) return End::Stopped;
    if (Clock::now() >= deadline) return End::Deadline;

    pollfd p{fd_, static_cast<short>(POLLIN | (writing ? POLLOUT : 0)), 0};
    const int ready =
        ::poll(&p, 1, poll_timeout(wake_at ? std::min(deadline, wake_at()) : deadline, cap));
    if (ready < 0) {
      if (errno == EINTR) continue;
      throw Error(ErrorCode::Docker, "attach stream: poll: " + errno_text(errno));
    }
    if (ready == 0) continue;
    if ((p.revents & POLLNVAL) != 0) {
      throw Error(ErrorCode::Internal, "attach stream: descriptor " + std::to_string(fd_) +
                                           " is not open (closed behind the Attachment's back)");
    }

    if (writing && (p.revents & (POLLOUT | POLLERR | POLLHUP)) != 0) {
      const std::size_t n = std::min(stdin_data.size() - stdin_written_, kWriteChunk);
      const ssize_t sent =
          ::send(fd_, stdin_data.data() + stdin_written_, n, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (sent >= 0) {
        stdin_written_ += static_cast<std::size_t>(sent);
        if (stdin_written_ >= stdin_data.size()) {
          writing = false;
          if (close_stdin) finish_stdin();
        }
      } else if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN) {
        // The container stopped reading (usually: it exited). Its output may still be queued.
        stdin_closed_ = true;
        writing = false;
      } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        throw Error(ErrorCode::Docker, "attach stream: writing stdin: " + errno_text(errno));
      }
    }

    if ((p.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      const ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), MSG_DONTWAIT);
      if (n > 0) {
        decoder_.feed(std::string_view(buffer.data(), static_cast<std::size_t>(n)), on_payload);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
      // ECONNRESET: the daemon closed while our unread stdin was still queued on its side; the
      // output before it has been read in full, so this is an end of stream like any other.
      if (n == 0 || errno == ECONNRESET) {
        stdin_closed_ = true;
        writing = false;
        if (!decoder_.at_frame_boundary()) {
          throw Error(ErrorCode::Docker, "attach stream ended in the middle of an output frame");
        }
        return End::Eof;
      }
      throw Error(ErrorCode::Docker, "attach stream: reading output: " + errno_text(errno));
    }
  }
}

bool Attachment::quiet() const noexcept {
  if (fd_ < 0 || !pending_.empty()) return false;
  pollfd p{fd_, POLLIN, 0};
  const int ready = ::poll(&p, 1, 0);
  return ready == 0;
}

namespace detail {

Attachment open_attachment(const std::string& socket_path, const std::string& target,
                           bool with_stdin, std::string_view what,
                           std::chrono::milliseconds timeout) {
  if (socket_path.empty()) {
    throw Error(ErrorCode::InvalidArgument,
                std::string(what) + ": this DockerClient has no socket path to attach through");
  }
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  // Reported like any other unreachable socket, as libcurl does for the other endpoints.
  if (socket_path.size() >= sizeof(address.sun_path)) {
    throw Error(ErrorCode::DockerUnavailable,
                unreachable_message(socket_path, "the path is longer than the " +
                                                     std::to_string(sizeof(address.sun_path) - 1) +
                                                     " bytes a unix socket address can hold"));
  }
  std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size() + 1);

  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) {
    throw Error(ErrorCode::Docker, std::string(what) + ": socket(): " + errno_text(errno));
  }
  int rc = 0;
  do {
    rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) {
    throw Error(ErrorCode::DockerUnavailable,
                unreachable_message(socket_path, "connect(): " + errno_text(errno)));
  }

  const auto deadline = Clock::now() + timeout;
  const std::string request = "POST " + target +
                              " HTTP/1.1\r\n"
                              "Host: docker\r\n"
                              "User-Agent: ignite\r\n"
                              "Content-Type: text/plain\r\n"
                              "Connection: Upgrade\r\n"
                              "Upgrade: tcp\r\n"
                              "\r\n";
  send_all(fd.get(), request, deadline, what);

  std::string reply;
  std::size_t header_end = std::string::npos;
  while ((header_end = reply.find("\r\n\r\n")) == std::string::npos) {
    if (reply.size() > kMaxHeaderBytes) {
      throw Error(ErrorCode::Docker, std::string(what) + ": reply headers exceed " +
                                         std::to_string(kMaxHeaderBytes) + " bytes");
    }
    if (!receive_some(fd.get(), reply, deadline, what)) {
      throw Error(ErrorCode::Docker,
                  std::string(what) + ": the Docker daemon closed the connection before replying");
    }
  }
  const std::string headers = reply.substr(0, header_end + 2);
  std::string rest = reply.substr(header_end + 4);

  // "HTTP/1.1 101 UPGRADED"
  long status = 0;
  const std::size_t space = headers.find(' ');
  if (headers.rfind("HTTP/", 0) == 0 && space != std::string::npos) {
    std::from_chars(headers.data() + space + 1, headers.data() + headers.size(), status);
  }
  if (status == 0) {
    throw Error(ErrorCode::Docker, std::string(what) +
                                       ": malformed reply from the Docker daemon: " +
                                       headers.substr(0, headers.find("\r\n")));
  }
  if (status == 101 || status == 200) {
    return Attachment(fd.release(), std::move(rest), with_stdin);
  }
  const std::string body = read_error_body(fd.get(), headers, std::move(rest), deadline, what);
  throw_http_error(what, status, body);
}

}  // namespace detail
}  // namespace Ignite::docker
