// A test fixture that freezes the Docker daemon the suite uses (SIGSTOP on the pid in
// /var/run/docker.pid) and always thaws it: on thaw(), on destruction, and through a watchdog
// child process when the test process dies (its pipe closes) or after 60 s. Tests using it
// must not run beside others that talk to the daemon (tag them "exclusive").
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>

#include "ignite/error.hpp"
#include "ignite/src/docker/client.hpp"
#include "tests/test_util.hpp"

namespace Ignite::testing {

inline pid_t dockerd_pid() {
  std::ifstream in("/var/run/docker.pid");
  long pid = 0;
  if (in >> pid && pid > 0 && ::kill(static_cast<pid_t>(pid), 0) == 0) {
    return static_cast<pid_t>(pid);
  }
  return 0;
}

// SIGSTOP on construction (or freeze()), SIGCONT on thaw() and destruction.
class FrozenDaemon {
 public:
  FrozenDaemon() { freeze(); }
  ~FrozenDaemon() { thaw(); }
  FrozenDaemon(const FrozenDaemon&) = delete;
  FrozenDaemon& operator=(const FrozenDaemon&) = delete;

  void freeze() {
    pid_ = dockerd_pid();
    ASSERT_GT(pid_, 0) << "no dockerd pid in /var/run/docker.pid";
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    watchdog_ = ::fork();
    ASSERT_GE(watchdog_, 0);
    if (watchdog_ == 0) {
      ::close(fds[1]);
      pollfd p{fds[0], POLLIN, 0};
      ::poll(&p, 1, 60000);  // EOF (thawed, or the parent died) or 60 s
      ::kill(pid_, SIGCONT);
      ::_exit(0);
    }
    ::close(fds[0]);
    pipe_ = fds[1];
    ASSERT_EQ(::kill(pid_, SIGSTOP), 0);
    frozen_ = true;
  }

  void thaw() {
    if (!frozen_) return;
    ::kill(pid_, SIGCONT);
    ::close(pipe_);
    ::waitpid(watchdog_, nullptr, 0);
    frozen_ = false;
    // Answering again (it has a backlog of whatever was sent during the freeze).
    Ignite::docker::DockerClient client(Ignite::docker::socket_from_env());
    Ignite::testing::eventually(
        [&] {
          try {
            client.ping();
            return true;
          } catch (const Ignite::Error&) {
            return false;
          }
        },
        std::chrono::seconds(30));
  }

 private:
  pid_t pid_ = 0;
  pid_t watchdog_ = -1;
  int pipe_ = -1;
  bool frozen_ = false;
};

}  // namespace Ignite::testing
