// A raw byte stream to the daemon, for what libcurl cannot do: the hijacked attach stream,
// whose sending side must half-close (the container's end of stdin) while output still
// arrives. One dial() for every endpoint kind: a unix socket, TCP (with TLS), or an ssh
// process's socket pair.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string_view>

#include "ignite/src/docker/endpoint.hpp"

namespace Ignite::docker {

class Connection {
 public:
  virtual ~Connection() = default;

  // The socket to poll(). With TLS, also ask buffered(): decrypted bytes do not wake poll().
  virtual int fd() const noexcept = 0;
  // > 0: bytes read; 0: end of stream; -1: nothing available now. Throws Error(Docker) on a
  // failure of the connection itself.
  virtual long read(char* buf, std::size_t size) = 0;
  // >= 0: bytes written (0: not now, poll for POLLOUT); -1: the daemon no longer reads (the
  // container exited, the connection is gone).
  virtual long write(const char* buf, std::size_t size) = 0;
  // Ends the sending side; reading goes on.
  virtual void shutdown_write() noexcept = 0;
  virtual bool buffered() const noexcept { return false; }
  // Read from this connection's end does not tell why it ended (ssh's stderr, its exit status).
  virtual std::string diagnostics() { return {}; }
  // POLLIN/POLLOUT the last read() or write() that returned "not now" waits for (TLS may need
  // to write while reading).
  virtual short wants() const noexcept { return 0; }
};

// Connects to `endpoint` (TLS handshake included) by `deadline`. `what` names the operation in
// errors. Throws Error(DockerUnavailable) naming the endpoint when it cannot be reached or the
// handshake fails, Error(Cancelled) when the thread's CancelScope asks.
std::unique_ptr<Connection> dial(const Endpoint& endpoint,
                                 std::chrono::steady_clock::time_point deadline,
                                 std::string_view what);

// Why a TLS daemon dropped a connection right after the handshake (TLS 1.3 clients finish
// before the daemon judges their certificate, so the refusal arrives later, as an alert that a
// request in flight may never read): connects afresh, sends nothing, and waits up to `wait`
// for that alert. The explained refusal (explain_tls_failure), or "" when the daemon kept the
// connection open, or on any other failure.
std::string tls_refusal(const Endpoint& endpoint, std::chrono::milliseconds wait);

}  // namespace Ignite::docker
