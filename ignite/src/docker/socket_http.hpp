// Small Engine API calls over a unix socket without libcurl: a request with a body of at most
// kMaxBody bytes whose reply is read whole (create, start, kill, wait, remove, inspect ...), on
// a kept-alive connection of the calling thread. These are most of an execution's calls, and
// libcurl's machinery around each (handle reset and set-up, URL parsing, its multi loop) cost
// several times the socket work. Streams, file and chunked uploads, TCP/TLS and ssh stay with
// CurlTransport, which hands over the calls that fit().
//
// Behaves as CurlTransport does: the same errors (DockerUnavailable naming the socket when it
// cannot be reached or the call's timeout passes, Docker on a broken reply, Cancelled when the
// thread's CancelScope asks, at once: a stop callback wakes the wait), the same reuse of a
// connection the daemon closed in the meantime (one retry on a fresh connection when nothing
// of the reply arrived), no connection shared across fork().
//
// Thread-safety: connections are per thread; any thread may call.
#pragma once

#include <cstddef>

#include "ignite/src/docker/endpoint.hpp"
#include "ignite/src/docker/transport.hpp"

namespace Ignite::docker::socket_http {

inline constexpr std::size_t kMaxBody = 64 * 1024;

// Whether `req` is a call this client makes on `endpoint`: a unix socket, a body in memory of at
// most kMaxBody bytes, the reply read whole.
bool fits(const Endpoint& endpoint, const HttpRequest& req) noexcept;

// Sends `req` and reads the whole reply. HTTP error statuses are returned, not thrown.
HttpResponse request(const Endpoint& endpoint, const HttpRequest& req);

// Connections this process has opened so far (tests: calls reuse them).
std::size_t connections_opened() noexcept;

}  // namespace Ignite::docker::socket_http
