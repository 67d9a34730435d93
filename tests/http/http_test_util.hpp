// Helpers for the HTTP server tests: the real ignite-server binary as a child process, a real
// HTTP client (libcurl), raw sockets for misbehaving clients, and a services directory with
// valid, invalid and hidden entries.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ignite_http_test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// ---- HTTP client (libcurl) -------------------------------------------------------------------

struct Response {
  long status = 0;                             // 0: no HTTP answer (see error)
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string error;
  long new_connections = -1;  // CURLINFO_NUM_CONNECTS

  nlohmann::json json() const;
  std::string header(const std::string& lower_name) const;
};

struct Request {
  std::string method = "GET";
  std::vector<std::string> headers;  // "Name: value"
  std::optional<std::string> body;
  std::string source_ip;  // bind the client socket to this (loopback) address
  long timeout_ms = 180000;
  bool http10 = false;
  // Streaming: called with each piece of the body as it arrives; false aborts the transfer.
  std::function<bool(std::string_view)> on_data;
};

// One libcurl easy handle: consecutive requests reuse its connection (keep-alive).
class Client {
 public:
  Client();
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  Response request(const std::string& url, const Request& req = {});

 private:
  void* curl_;
};

// A fresh connection per call.
Response http(const std::string& url, const Request& req = {});

// ---- the server process -----------------------------------------------------------------------

class ServerProcess {
 public:
  // Starts examples/http/ignite-server with `args` (plus --port 0 unless args set a port) and
  // waits for its "running at" line. `env` is added to this process's environment; a value of
  // nullopt removes the variable.
  // `binary`: another program that serves the same way (e.g. `ignite` with args "serve" ...).
  explicit ServerProcess(std::vector<std::string> args,
                         std::map<std::string, std::optional<std::string>> env = {},
                         std::optional<fs::path> binary = std::nullopt);
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  const std::string& url() const { return url_; }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }

  // Sends `sig` and waits for the exit; returns the exit status, or -1 (killed by a signal or
  // still running after `timeout`, in which case it is SIGKILLed).
  int stop(int sig, std::chrono::milliseconds timeout = 120s);
  // Whether it is still running (reaps it when not).
  bool running();
  // Everything written to stderr so far.
  std::string log() const;
  // The JSON access-log lines so far.
  std::vector<nlohmann::json> access_log() const;

 private:
  pid_t pid_ = -1;
  int exit_status_ = -1;
  fs::path log_path_;
  std::string url_;
  int port_ = 0;
};

// examples/http/ignite-server.
fs::path server_binary();

// Runs the server binary to completion (for start-up failures); returns {exit status, stderr}.
std::pair<int, std::string> run_server_to_exit(const std::vector<std::string>& args,
                                               std::chrono::milliseconds timeout = 30s);

// ---- raw sockets ------------------------------------------------------------------------------

class RawConnection {
 public:
  explicit RawConnection(int port, const std::string& source_ip = "");
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  // False when the peer has closed or reset the connection.
  bool send(std::string_view data);
  // Waits up to `timeout` for the peer to close (EOF or reset), consuming any data in between
  // (appended to received()). True when it closed.
  bool wait_closed(std::chrono::milliseconds timeout);
  const std::string& received() const { return received_; }

 private:
  int fd_ = -1;
  std::string received_;
};

// A short temporary directory under /tmp (unix socket paths must stay under 108 bytes).
class ShortTempDir {
 public:
  ShortTempDir() {
    std::string templ = "/tmp/ignite-ready-XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) {
      throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
    }
    path_ = templ;
  }
  ~ShortTempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  ShortTempDir(const ShortTempDir&) = delete;
  ShortTempDir& operator=(const ShortTempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// A Docker daemon that has stopped answering: its socket accepts connections (the kernel queues
// them in the backlog) but nothing ever reads or answers them.
class HangingDaemon {
 public:
  HangingDaemon() : path_(dir_.path() / "hang.sock") {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd_, 128) != 0) {
      throw std::runtime_error("bind/listen " + path_.string() + ": " + std::strerror(errno));
    }
  }
  ~HangingDaemon() { close(); }
  HangingDaemon(const HangingDaemon&) = delete;
  HangingDaemon& operator=(const HangingDaemon&) = delete;

  std::string docker_host() const { return "unix://" + path_.string(); }
  // Stops listening: the queued connections are reset, so a ping still waiting fails at once.
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  ShortTempDir dir_;
  fs::path path_;
  int fd_ = -1;
};

// Whether a TCP connection to 127.0.0.1:port is accepted.
bool can_connect(int port);

// ---- fixtures ---------------------------------------------------------------------------------

// The test services tree (created once per test binary under TEST_TMPDIR):
//   hello-node, hello-quickjs  copies of examples/services
//   slow           stdout "first", stderr "oops", waits input.ms (default 1500), stdout "second"
//   fail           stderr "boom", exit 3
//   spin           never ends; timeoutMs 1000
//   tiny           memoryMb 30: preflight fails
//   never-built    only ever preflighted (its image must never exist)
//   ghost          runtime ghost@1, whose image does not exist (runtimes.yaml)
//   broken         invalid service.yaml;  no-yaml: no service.yaml;  .hidden: valid but hidden
//   notes.txt      a plain file
fs::path services_dir();
// runtimes.yaml declaring `ghost` (image ignite-runtime/ghost-missing:1).
fs::path runtimes_file();
// Names /services must list, sorted.
std::vector<std::string> valid_service_names();

// Containers (any state) labelled with the given owner pid by the Ignite engine.
std::vector<nlohmann::json> containers_of(pid_t pid);

// Parses a text/event-stream body into (event, data) pairs.
std::vector<std::pair<std::string, std::string>> parse_sse(std::string_view body);

// The value of a Prometheus sample line `name{labels} value` (labels exactly as rendered), or
// nullopt when absent.
std::optional<double> metric(const std::string& text, const std::string& series);

inline const std::string kKey = "test-secret-key";
inline const std::string kAuth = "Authorization: Bearer " + kKey;

}  // namespace ignite_http_test
