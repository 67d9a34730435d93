// Helpers shared by the Docker client's translation units; not part of its interface.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "ignite/error.hpp"
#include "ignite/src/docker/client.hpp"

namespace Ignite::docker::detail {

// The one wording for "nothing answers at the endpoint", used by curl and raw attach connections.
std::string unreachable_message(const Endpoint& endpoint, std::string_view reason);

// A Go TLS server answers a plain-HTTP request with 400 "Client sent an HTTP request to an HTTPS
// server": throws Error(DockerUnavailable) saying so (and what to set) when that is `body`.
void throw_plain_on_tls(const Endpoint& endpoint, long status, std::string_view body);

// The daemon's error text: the "message" field of a JSON reply, else the trimmed body.
std::string daemon_message(std::string_view body);

// Throws Error(code, "<what>: <daemon message> (HTTP <status>)", status). A 404 becomes
// ErrorCode::NotFound when `code` is ErrorCode::Docker.
[[noreturn]] void throw_http_error(std::string_view what, long status, std::string_view body,
                                   ErrorCode code = ErrorCode::Docker);

// Connects to `endpoint`, sends `POST <target>` asking to upgrade to a raw stream and returns
// the hijacked connection. `what` names the operation in error messages. The handshake fails
// with Error(DockerUnavailable) after `timeout` and with Error(Cancelled) when the thread's
// CancelScope asks.
Attachment open_attachment(const Endpoint& endpoint, const std::string& target, bool with_stdin,
                           std::string_view what, std::chrono::milliseconds timeout);

}  // namespace Ignite::docker::detail
