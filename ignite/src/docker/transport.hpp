// The only layer that knows sockets. Everything above it speaks in methods, paths and bodies.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace Ignite::docker {

struct HttpResponse {
  long status = 0;
  std::string body;
};

struct HttpRequest {
  std::string method = "GET";  // GET, POST, DELETE, HEAD
  std::string path;            // including the API prefix and query, e.g. "/v1.41/_ping"
  std::string body;            // sent as-is when non-empty
  std::string content_type = "application/json";
  // 0 = no limit. Applies to the whole request; streaming callers use their own deadlines.
  std::chrono::milliseconds timeout{0};
  // When set, the body is streamed from this file instead (image tarballs of 100+ MiB are never
  // loaded into memory); `body` must then be empty.
  std::filesystem::path body_file;
  // Extra "Name: value" header lines (image push's X-Registry-Auth).
  std::vector<std::string> headers;
  // When set, the body is pulled from this function as it is sent, with chunked transfer
  // encoding (a stream of unknown length: an image export piped into a load). It fills up to
  // `size` bytes and returns how many; 0 ends the body. An exception aborts the request and is
  // rethrown by the transport. `body` and `body_file` must then be empty.
  std::function<std::size_t(char* buffer, std::size_t size)> body_source;
};

class Transport {
 public:
  virtual ~Transport() = default;

  // Sends a request and buffers the whole reply. Throws Error(DockerUnavailable) when the
  // daemon cannot be reached, Error(Docker) on a transport failure mid-reply. HTTP error
  // statuses are returned, not thrown: endpoint code turns them into errors with context.
  virtual HttpResponse request(const HttpRequest& req) = 0;

  // Sends a request and hands the reply body to `on_data` chunk by chunk as it arrives.
  // Returning false from `on_data` aborts the transfer. When the status is >= 400 the body is
  // buffered and returned in HttpResponse::body instead of being passed to `on_data`.
  virtual HttpResponse stream(const HttpRequest& req,
                              const std::function<bool(std::string_view)>& on_data) = 0;
};

}  // namespace Ignite::docker
