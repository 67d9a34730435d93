// ServerOptions: everything `ignite serve` / ignite-server can be told (see server.hpp).
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace ignite_http {

struct ServerOptions {
  std::filesystem::path services_dir = "./services";
  std::string host = "127.0.0.1";
  unsigned port = 3000;  // 0: the kernel picks a free port (printed when listening)
  // Empty: no authentication (every route is open). Set from --api-key or IGNITE_API_KEY.
  std::string api_key;
  // A file holding the key (--api-key-file / IGNITE_API_KEY_FILE), read at start: keeps the
  // secret out of argv and the environment. Exclusive with api_key.
  std::optional<std::filesystem::path> api_key_file;
  // Without a key the server listens only on loopback addresses unless this is set: an open
  // server on a network interface runs anyone's requests.
  bool allow_unauthenticated = false;
  // Connections one client (its address, IPv6: its /64) may hold open; 0: no limit. Trusted
  // proxies are exempt (their connections carry many clients).
  std::size_t max_connections_per_client = 64;
  // Requests per client and window (fixed window, as the reference); 0 disables the limit.
  std::size_t rate_limit = 60;
  std::chrono::milliseconds rate_limit_window{60000};
  // Peers whose X-Forwarded-For is believed: IP addresses or CIDR networks.
  std::vector<std::string> trusted_proxies;
  unsigned io_threads = 2;
  // Executions running at once, and how many more may wait before requests get 503.
  unsigned max_concurrent = 4;
  std::size_t queue = 16;
  std::size_t max_body = 1024 * 1024;  // bytes; larger bodies get 413
  // On SIGINT/SIGTERM running executions get this long to finish before they are cancelled.
  std::chrono::milliseconds grace{10000};
  // Slowloris guard: a request's header (and a keep-alive connection's next one) must arrive
  // completely within header_timeout; its body within read_timeout.
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds read_timeout{30000};
  // Server-Sent Events: a comment line at least this often while a streamed request waits,
  // builds or runs, so proxies and clients do not take a quiet stream for a dead one.
  std::chrono::milliseconds sse_heartbeat{15000};
  std::optional<std::filesystem::path> runtimes_file;
  // Warm pool (Ignite::PoolOptions): ready containers per service and jobs per container.
  std::size_t pool_size = 0;
  std::size_t pool_reuse = 1;
  bool access_log = true;
};

}  // namespace ignite_http
