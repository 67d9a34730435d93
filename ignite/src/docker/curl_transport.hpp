// Transport over libcurl, speaking HTTP/1.1 to the daemon on its unix socket.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "ignite/src/docker/transport.hpp"

namespace Ignite::docker {

// Thread-safe: each thread reuses one curl easy handle of its own, so consecutive requests from a
// thread share a kept-alive connection and concurrent requests never share a handle.
class CurlTransport final : public Transport {
 public:
  explicit CurlTransport(std::string socket_path);

  HttpResponse request(const HttpRequest& req) override;
  HttpResponse stream(const HttpRequest& req,
                      const std::function<bool(std::string_view)>& on_data) override;

  const std::string& socket_path() const noexcept { return socket_path_; }

 private:
  // `on_data` null: buffer the whole body.
  HttpResponse perform(const HttpRequest& req,
                       const std::function<bool(std::string_view)>* on_data);

  std::string socket_path_;
};

}  // namespace Ignite::docker
