// File: ignite/error.hpp
//
// The one exception type Ignite throws. It carries a machine-readable `ErrorCode` and a
// message that names the file or field at fault. Outcomes of a service (non-zero exit,
// timeout, memory limit) are data in `ExecutionResult`, never exceptions: Ignite throws only
// when it could not do what was asked.
//
// Example:
//   try {
//     auto svc = engine.load("services/hello");
//   } catch (const Ignite::Error& e) {
//     if (e.code() == Ignite::ErrorCode::Config) std::cerr << e.what() << "\n";
//   }
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include "ignite/export.hpp"

namespace Ignite {

// What kind of failure an Error is. New codes are added at the end; the C API maps each to a
// fixed IGNITE_E* value and Python to an exception class.
enum class ErrorCode {
  Config,             // service.yaml, runtimes.yaml, policy or option invalid
  Service,            // service directory or entry file missing/unreadable
  Runtime,            // unknown runtime or unsupported version; base image missing
  Build,              // per-service image build failed
  DockerUnavailable,  // no daemon answers on the configured socket
  Docker,             // the daemon answered with an error (http_status() is set)
  Execution,          // a container could not be created, started or observed
  Preflight,          // preflight failed and the caller asked to block on failure
  Lock,               // ignite.lock missing, malformed or out of date
  NotFound,           // a named object (service, image, container) does not exist
  InvalidArgument,    // bad argument from the caller (empty input, bad JSON text ...)
  Cancelled,          // the caller cancelled the operation
  Internal,           // a bug in Ignite
};

// Stable lowercase name of a code ("config", "docker_unavailable" ...), used in messages,
// JSON error bodies and language bindings.
IGNITE_EXPORT std::string_view to_string(ErrorCode code) noexcept;

// The one exception type Ignite throws (see the top of this file). A value type: copyable, and
// safe to read from any thread.
class IGNITE_EXPORT Error : public std::runtime_error {
 public:
  // what() is "[ignite.<code>] <message>"; message() is the bare message.
  Error(ErrorCode code, std::string message, int http_status = 0);

  // The code, the message without the "[ignite.<code>]" prefix.
  ErrorCode code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }
  // HTTP status of the Engine API reply for ErrorCode::Docker / NotFound; 0 otherwise.
  int http_status() const noexcept { return http_status_; }

 private:
  ErrorCode code_;
  std::string message_;
  int http_status_;
};

}  // namespace Ignite
