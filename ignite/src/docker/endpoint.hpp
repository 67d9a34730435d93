// Where the Docker daemon is and how to reach it, resolved the way the docker CLI does:
// an explicit host, else an explicit context, else DOCKER_HOST, else DOCKER_CONTEXT, else the
// config's currentContext, else /var/run/docker.sock. The transport and the attach stream take
// an Endpoint and nothing else, so anything that can name a daemon (a remote host, a swarm
// manager) is reached through the same code.
//
// Kinds:
//   unix://PATH                 the local daemon's socket (sees this host's paths)
//   tcp://HOST[:PORT]           TLS when DOCKER_TLS_VERIFY (ca.pem, cert.pem, key.pem from
//                               DOCKER_CERT_PATH); plain TCP only to a loopback address or
//                               with allow_plain_tcp
//   ssh://[USER@]HOST[:PORT][/SOCKET]
//                               `ssh ... docker system dial-stdio` per connection
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace Ignite::docker {

struct TlsFiles {
  std::filesystem::path ca;    // the CA the daemon's certificate must chain to (verify)
  std::filesystem::path cert;  // client certificate; empty with `key`: none is presented
  std::filesystem::path key;
  bool verify = true;  // false: the daemon's certificate is not checked (DOCKER_TLS, context
                       // SkipTLSVerify): as exposed as plain TCP, and refused like it
};

struct Endpoint {
  enum class Kind { Unix, Tcp, Ssh };
  Kind kind = Kind::Unix;
  std::string url;     // canonical form, used in every message: "tcp://127.0.0.1:2376"
  std::string source;  // what named it: "DOCKER_HOST", "docker_host", "docker context \"x\"" ...
  std::string socket_path;      // Unix
  std::string host;             // Tcp, Ssh (IPv6 without brackets)
  int port = 0;                 // Tcp; Ssh (0: ssh's own default)
  std::optional<TlsFiles> tls;  // Tcp
  std::string ssh_user;         // Ssh ("" : ssh's own default)
  std::string ssh_socket;       // Ssh: the daemon socket on the far side ("" : its default)
  std::vector<std::string> ssh_options;  // Ssh: extra arguments before the host (-F, -i, -o)

  // Whether the daemon sees this host's files (a bind mount of a host path works). Only a
  // unix socket is known to be on this host.
  bool local() const noexcept { return kind == Kind::Unix; }
  // "tcp://127.0.0.1:2376 (TLS)", "ssh://me@box", "unix:///var/run/docker.sock".
  std::string describe() const;
};

// What a caller may set; every empty field falls back to the environment, as the docker CLI's.
struct EndpointSettings {
  std::string host;                 // DOCKER_HOST syntax, or a socket path
  std::string context;              // a docker context name ("default": the environment's endpoint)
  std::optional<bool> tls_verify;   // nullopt: DOCKER_TLS_VERIFY is non-empty
  std::filesystem::path cert_path;  // empty: DOCKER_CERT_PATH, else the docker config dir
  bool allow_plain_tcp = false;     // plain tcp:// to a non-loopback address
  std::vector<std::string> ssh_options;
};

// Resolves and validates an endpoint. Reads DOCKER_HOST, DOCKER_CONTEXT, DOCKER_TLS_VERIFY,
// DOCKER_TLS, DOCKER_CERT_PATH, DOCKER_CONFIG and the docker config's contexts; checks that
// the TLS files exist and that the client certificate is valid now. Throws Error(Config) naming
// the setting (or file) and what is wrong. Does not contact the daemon.
Endpoint resolve_endpoint(const EndpointSettings& settings = {});

// Parses one DOCKER_HOST-style URL (or a bare socket path) without TLS; `source` names it in
// errors.
Endpoint parse_host(std::string_view url, std::string_view source);

// Whether `host` (a name or an address, without brackets) is a loopback address.
bool is_loopback(std::string_view host);

}  // namespace Ignite::docker
