// ssh:// endpoints: each connection is an `ssh ... docker system dial-stdio` process whose
// stdin and stdout are one end of a socket pair, as the docker CLI's connection helper does.
// The other end is an ordinary stream socket: libcurl and the attach stream use it like a
// connected TCP socket, and shutdown(SHUT_WR) on it reaches the container's stdin as its end.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ignite/src/docker/endpoint.hpp"

namespace Ignite::docker {

class SshProcess {
 public:
  // Starts ssh for `endpoint` (Kind::Ssh) in a session of its own (a terminal's ^C reaches the
  // caller, not the connection). Returns the process; `*fd` receives our end of the pair.
  // Throws Error(DockerUnavailable) when ssh cannot be started.
  static std::unique_ptr<SshProcess> spawn(const Endpoint& endpoint, int* fd);
  // The same on a connected socket of the caller's (it stays the caller's to close).
  static std::unique_ptr<SshProcess> spawn_on(const Endpoint& endpoint, int stdio_fd);

  // The command line it runs, for messages and tests.
  static std::vector<std::string> argv(const Endpoint& endpoint);

  // Ends the process (SIGTERM, SIGKILL after 1 s) and reaps it, unless it belongs to the
  // process that forked us.
  ~SshProcess();
  SshProcess(const SshProcess&) = delete;
  SshProcess& operator=(const SshProcess&) = delete;

  // What ssh (or the remote docker command) printed on stderr so far, trimmed, at most 2 KiB;
  // the exit status when it has ended with a failure. "" when there is nothing to say.
  std::string diagnostics();
  // True once it has exited (reaped, without waiting).
  bool exited();
  // It exited with a failure (non-zero status or a signal other than ours).
  bool failed() const noexcept;

 private:
  SshProcess(pid_t pid, int stderr_fd) : pid_(pid), stderr_fd_(stderr_fd) {}
  void collect_stderr();
  void reap(bool block) noexcept;

  pid_t pid_;
  pid_t owner_ = 0;  // the process that spawned it
  int stderr_fd_;
  std::string stderr_;
  bool reaped_ = false;
  int status_ = 0;
};

// libcurl 7.88 ignores CURL_SOCKOPT_ALREADY_CONNECTED (it connect()s whatever socket it is
// given), so it cannot use an ssh process's socket pair directly. The relay listens on a unix
// socket in a private directory (mode 0700, $XDG_RUNTIME_DIR or /tmp) and hands each accepted
// connection to a new ssh process as its stdin and stdout: libcurl connects to a unix socket
// as for a local daemon, and bytes go straight between it and ssh (no copying thread).
//
// Thread-safety: socket_path() and take_failure() may be called from any thread.
class SshRelay {
 public:
  // Throws Error(DockerUnavailable) when the socket cannot be made.
  explicit SshRelay(Endpoint endpoint);
  // Stops accepting, ends the ssh processes, removes the socket and its directory.
  ~SshRelay();
  SshRelay(const SshRelay&) = delete;
  SshRelay& operator=(const SshRelay&) = delete;

  const std::string& socket_path() const noexcept { return socket_path_; }
  // What the last ssh process that failed said (and forgets it); waits up to `wait` for a
  // process whose connection just ended to report.
  std::string take_failure(std::chrono::milliseconds wait);

 private:
  void run();
  void reap_exited();  // with mu_ held

  Endpoint endpoint_;
  std::string dir_;
  std::string socket_path_;
  int listen_fd_ = -1;
  pid_t owner_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::list<std::unique_ptr<SshProcess>> processes_;
  std::string last_failure_;
  std::thread thread_;
};

}  // namespace Ignite::docker
