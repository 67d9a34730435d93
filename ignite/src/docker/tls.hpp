// TLS for tcp:// endpoints: the checks made before any connection (files present, client
// certificate valid now, key matching it) and the one wording for a failed handshake, shared
// by libcurl's transfers and the attach stream's own OpenSSL connection.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "ignite/src/docker/endpoint.hpp"

namespace Ignite::docker {

// Throws Error(Config) naming `setting` (what pointed at the files) and the file when a file is
// missing or unreadable, a certificate or key does not parse, the client certificate is not
// valid now (expired, not yet valid) or the key does not belong to it.
void check_tls_files(const TlsFiles& files, std::string_view endpoint_url,
                     std::string_view setting);

// "the daemon's certificate is not signed by the CA in /x/ca.pem" ... for an OpenSSL or libcurl
// error text seen while talking TLS to `endpoint`; `detail` is appended in parentheses.
std::string explain_tls_failure(std::string_view detail, const Endpoint& endpoint);

// Whether an error text from a TLS connection is about TLS itself (handshake, certificates,
// alerts) rather than the network.
bool is_tls_failure(std::string_view detail);

// One TLS client connection on a connected, non-blocking socket (OpenSSL). Move-only.
class TlsStream {
 public:
  enum class Io { Done, WantRead, WantWrite, Closed };

  // Prepares the session (no I/O yet). Throws Error(Config) when the files cannot be loaded.
  TlsStream(int fd, const Endpoint& endpoint);
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  // One step of the handshake. Throws Error(DockerUnavailable) with explain_tls_failure().
  Io handshake();
  // Reads into `buf`; `*n` bytes on Done. Closed: the daemon ended the stream.
  Io read(char* buf, std::size_t size, std::size_t* n);
  // Writes from `buf`; `*n` bytes on Done. Closed: the daemon is gone.
  Io write(const char* buf, std::size_t size, std::size_t* n);
  // Sends close_notify: the daemon reads the end of the container's stdin; reading goes on.
  void shutdown_write() noexcept;
  // Bytes already decrypted and waiting (poll() on the socket does not see them).
  bool buffered() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace Ignite::docker
