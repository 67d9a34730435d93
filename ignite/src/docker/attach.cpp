// Hijacked attach connections. libcurl cannot half-close its sending side, which is how a
// container's stdin gets its end-of-file, so attach speaks HTTP/1.1 over a Connection of its own
// (connection.hpp: a unix socket, TCP with TLS, or an ssh process).
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
#include "ignite/src/docker/connection.hpp"
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
void wait_ready(Connection& conn, short events, Clock::time_point deadline, std::string_view what,
                std::string_view late) {
  for (;;) {
    throw_if_cancelled(what);
    const int timeout = poll_timeout(deadline, kHandshakePoll);
    if (timeout == 0) {
      throw Error(ErrorCode::DockerUnavailable, std::string(what) + ": " + std::string(late));
    }
    pollfd p{conn.fd(), static_cast<short>(events | conn.wants()), 0};
    const int ready = ::poll(&p, 1, timeout);
    if (ready > 0) return;
    if (ready < 0 && errno != EINTR) {
      throw Error(ErrorCode::Docker, std::string(what) + ": poll: " + errno_text(errno));
    }
  }
}

void send_all(Connection& conn, std::string_view data, Clock::time_point deadline,
              std::string_view what) {
  while (!data.empty()) {
    throw_if_cancelled(what);
    const long n = conn.write(data.data(), data.size());
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0) {
      std::string why = conn.diagnostics();
      throw Error(ErrorCode::DockerUnavailable,
                  std::string(what) + ": the Docker daemon closed the connection" +
                      (why.empty() ? "" : " (" + why + ")"));
    }
    wait_ready(conn, POLLOUT, deadline, what, "the Docker daemon did not take the request in time");
  }
}

// Appends what is available to `buffer`; false at end of stream.
bool receive_some(Connection& conn, std::string& buffer, Clock::time_point deadline,
                  std::string_view what) {
  for (;;) {
    throw_if_cancelled(what);
    char chunk[4096];
    const long n = conn.read(chunk, sizeof chunk);
    if (n > 0) {
      buffer.append(chunk, static_cast<std::size_t>(n));
      return true;
    }
    if (n == 0) return false;
    wait_ready(conn, POLLIN, deadline, what, "the Docker daemon did not answer in time");
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
std::string read_error_body(Connection& conn, std::string_view headers, std::string body,
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
    if (!receive_some(conn, body, deadline, what)) return body;
  }
}

}  // namespace

Attachment::Attachment(std::unique_ptr<Connection> connection, std::string initial_bytes,
                       bool with_stdin)
    : conn_(std::move(connection)),
      pending_(std::move(initial_bytes)),
      stdin_closed_(!with_stdin) {}

Attachment::Attachment(Attachment&& other) noexcept
    : conn_(std::move(other.conn_)),
      pending_(std::move(other.pending_)),
      stdin_closed_(other.stdin_closed_),
      stdin_written_(other.stdin_written_),
      decoder_(other.decoder_) {}

Attachment& Attachment::operator=(Attachment&& other) noexcept {
  if (this != &other) {
    close();
    conn_ = std::move(other.conn_);
    pending_ = std::move(other.pending_);
    stdin_closed_ = other.stdin_closed_;
    stdin_written_ = other.stdin_written_;
    decoder_ = other.decoder_;
  }
  return *this;
}

Attachment::~Attachment() { close(); }

void Attachment::close() noexcept { conn_.reset(); }

bool Attachment::valid() const noexcept { return conn_ != nullptr; }

Attachment::End Attachment::pump(std::string_view stdin_data,
                                 const FrameDecoder::Callback& on_payload,
                                 std::chrono::steady_clock::time_point deadline,
                                 const std::function<bool()>& should_stop,
                                 bool close_stdin,
                                 const std::function<Clock::time_point()>& wake_at) {
  if (!conn_) throw Error(ErrorCode::Internal, "Attachment::pump on a closed attachment");
  Connection& conn = *conn_;

  if (!pending_.empty()) {
    const std::string bytes = std::exchange(pending_, {});
    decoder_.feed(bytes, on_payload);
  }

  // The end of the sending side is the container's end of input (with StdinOnce it also
  // closes its stdin): SHUT_WR on a socket, close_notify under TLS, ssh's stdin closing.
  const auto finish_stdin = [this, &conn] {
    conn.shutdown_write();
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

    short revents = 0;
    if (conn.buffered()) {
      // Decrypted bytes wait in the TLS layer, which poll() cannot see.
      revents = POLLIN;
    } else {
      pollfd p{conn.fd(), static_cast<short>(POLLIN | (writing ? POLLOUT : 0) | conn.wants()), 0};
      const int ready =
          ::poll(&p, 1, poll_timeout(wake_at ? std::min(deadline, wake_at()) : deadline, cap));
      if (ready < 0) {
        if (errno == EINTR) continue;
        throw Error(ErrorCode::Docker, "attach stream: poll: " + errno_text(errno));
      }
      if (ready == 0) continue;
      if ((p.revents & POLLNVAL) != 0) {
        throw Error(ErrorCode::Internal, "attach stream: descriptor " + std::to_string(conn.fd()) +
                                             " is not open (closed behind the Attachment's back)");
      }
      revents = p.revents;
    }

    if (writing && (revents & (POLLOUT | POLLIN | POLLERR | POLLHUP)) != 0) {
      const std::size_t n = std::min(stdin_data.size() - stdin_written_, kWriteChunk);
      const long sent = conn.write(stdin_data.data() + stdin_written_, n);
      if (sent > 0) {
        stdin_written_ += static_cast<std::size_t>(sent);
        if (stdin_written_ >= stdin_data.size()) {
          writing = false;
          if (close_stdin) finish_stdin();
        }
      } else if (sent < 0) {
        // The container stopped reading (usually: it exited). Its output may still be queued.
        stdin_closed_ = true;
        writing = false;
      }
    }

    if ((revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      const long n = conn.read(buffer.data(), buffer.size());
      if (n > 0) {
        decoder_.feed(std::string_view(buffer.data(), static_cast<std::size_t>(n)), on_payload);
        continue;
      }
      if (n < 0) continue;
      stdin_closed_ = true;
      writing = false;
      if (!decoder_.at_frame_boundary()) {
        throw Error(ErrorCode::Docker, "attach stream ended in the middle of an output frame");
      }
      return End::Eof;
    }
  }
}

bool Attachment::quiet() const noexcept {
  if (!conn_ || !pending_.empty() || conn_->buffered()) return false;
  pollfd p{conn_->fd(), POLLIN, 0};
  const int ready = ::poll(&p, 1, 0);
  return ready == 0;
}

namespace detail {

Attachment open_attachment(const Endpoint& endpoint, const std::string& target, bool with_stdin,
                           std::string_view what, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::unique_ptr<Connection> conn = dial(endpoint, deadline, what);

  const std::string request = "POST " + target +
                              " HTTP/1.1\r\n"
                              "Host: docker\r\n"
                              "User-Agent: ignite\r\n"
                              "Content-Type: text/plain\r\n"
                              "Connection: Upgrade\r\n"
                              "Upgrade: tcp\r\n"
                              "\r\n";
  try {
    send_all(*conn, request, deadline, what);
  } catch (const Error& e) {
    if (const std::string why = tls_refusal(endpoint, std::chrono::milliseconds(1000)); !why.empty()) {
      throw Error(ErrorCode::DockerUnavailable, std::string(what) + ": " + why);
    }
    throw;
  }

  std::string reply;
  std::size_t header_end = std::string::npos;
  while ((header_end = reply.find("\r\n\r\n")) == std::string::npos) {
    if (reply.size() > kMaxHeaderBytes) {
      throw Error(ErrorCode::Docker, std::string(what) + ": reply headers exceed " +
                                         std::to_string(kMaxHeaderBytes) + " bytes");
    }
    if (!receive_some(*conn, reply, deadline, what)) {
      if (const std::string refusal = tls_refusal(endpoint, std::chrono::milliseconds(1000));
          !refusal.empty()) {
        throw Error(ErrorCode::DockerUnavailable, std::string(what) + ": " + refusal);
      }
      const std::string why = conn->diagnostics();
      throw Error(endpoint.kind == Endpoint::Kind::Ssh ? ErrorCode::DockerUnavailable
                                                       : ErrorCode::Docker,
                  std::string(what) + ": the Docker daemon at " + endpoint.url +
                      " closed the connection before replying" + (why.empty() ? "" : " (" + why + ")"));
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
    return Attachment(std::move(conn), std::move(rest), with_stdin);
  }
  const std::string body = read_error_body(*conn, headers, std::move(rest), deadline, what);
  throw_plain_on_tls(endpoint, status, body);
  throw_http_error(what, status, body);
}

}  // namespace detail
}  // namespace Ignite::docker
