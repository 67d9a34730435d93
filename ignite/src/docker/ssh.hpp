// ssh:// endpoints: each connection is an `ssh ... docker system dial-stdio` process whose
// stdin and stdout are one end of a socket pair, as the docker CLI's connection helper does.
// The other end is an ordinary stream socket: libcurl and the attach stream use it like a
// connected TCP socket, and shutdown(SHUT_WR) on it reaches the container's stdin as its end.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "ignite/src/docker/endpoint.hpp"

namespace Ignite::docker {

class SshProcess {
 public:
  // Starts ssh for `endpoint` (Kind::Ssh) in a session of its own (a terminal's ^C reaches the
  // caller, not the connection). Returns the process; `*fd` receives our end of the pair.
  // Throws Error(DockerUnavailable) when ssh cannot be started.
  static std::unique_ptr<SshProcess> spawn(const Endpoint& endpoint, int* fd);

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

}  // namespace Ignite::docker
