#include "ignite/error.hpp"

namespace Ignite {

std::string_view to_string(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::Config: return "config";
    case ErrorCode::Service: return "service";
    case ErrorCode::Runtime: return "runtime";
    case ErrorCode::Build: return "build";
    case ErrorCode::DockerUnavailable: return "docker_unavailable";
    case ErrorCode::Docker: return "docker";
    case ErrorCode::Execution: return "execution";
    case ErrorCode::Preflight: return "preflight";
    case ErrorCode::Lock: return "lock";
    case ErrorCode::NotFound: return "not_found";
    case ErrorCode::InvalidArgument: return "invalid_argument";
    case ErrorCode::Cancelled: return "cancelled";
    case ErrorCode::Internal: return "internal";
  }
  return "internal";
}

Error::Error(ErrorCode code, std::string message, int http_status)
    : std::runtime_error("[ignite." + std::string(to_string(code)) + "] " + message),
      code_(code),
      message_(std::move(message)),
      http_status_(http_status) {}

}  // namespace Ignite
