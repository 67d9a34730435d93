// Transport over libcurl, speaking HTTP/1.1 to the daemon's Endpoint: its unix socket, TCP
// (HTTPS with the endpoint's CA and client certificate), or ssh (each connection an `ssh ...
// docker system dial-stdio` process behind a private unix socket, see SshRelay).
#pragma once

#include <curl/curl.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "ignite/src/docker/endpoint.hpp"
#include "ignite/src/docker/ssh.hpp"
#include "ignite/src/docker/transport.hpp"

namespace Ignite::docker {

// Thread-safe: each thread reuses one curl easy handle of its own, so consecutive requests from a
// thread share a kept-alive connection and concurrent requests never share a handle.
class CurlTransport final : public Transport {
 public:
  explicit CurlTransport(std::string socket_path);
  explicit CurlTransport(Endpoint endpoint);
  ~CurlTransport() override;
  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;

  HttpResponse request(const HttpRequest& req) override;
  HttpResponse stream(const HttpRequest& req,
                      const std::function<bool(std::string_view)>& on_data) override;

  const std::string& socket_path() const noexcept { return endpoint_.socket_path; }
  const Endpoint& endpoint() const noexcept { return endpoint_; }

 private:
  // `on_data` null: buffer the whole body.
  HttpResponse perform(const HttpRequest& req,
                       const std::function<bool(std::string_view)>* on_data);
  // The endpoint's connection settings on a fresh (reset) handle.
  void configure(CURL* handle) const;
  [[noreturn]] void fail(CURL* handle, CURLcode rc, const std::string& curl_message,
                         const std::string& target, const HttpRequest& req) const;

  Endpoint endpoint_;
  std::string base_url_;  // "http://localhost", "https://127.0.0.1:2376" ...
  std::unique_ptr<SshRelay> relay_;  // ssh
};

}  // namespace Ignite::docker
