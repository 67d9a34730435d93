#include "ignite/src/docker/ssh.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <utility>

#include "ignite/error.hpp"

extern char** environ;

namespace Ignite::docker {
namespace {

constexpr std::size_t kMaxStderr = 2048;

// One word for the remote shell, which ssh hands the command line to.
std::string shell_quote(std::string_view word) {
  std::string out = "'";
  for (const char c : word) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

bool has_option(const std::vector<std::string>& options, std::string_view name) {
  return std::any_of(options.begin(), options.end(),
                     [&](const std::string& o) { return o.find(name) != std::string::npos; });
}

void close_fd(int& fd) noexcept {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

std::vector<std::string> SshProcess::argv(const Endpoint& endpoint) {
  std::vector<std::string> args = {"ssh"};
  args.insert(args.end(), endpoint.ssh_options.begin(), endpoint.ssh_options.end());
  // A library has no terminal to ask for a password or a host key on: fail instead of waiting.
  if (!has_option(endpoint.ssh_options, "BatchMode")) {
    args.insert(args.end(), {"-o", "BatchMode=yes"});
  }
  if (!has_option(endpoint.ssh_options, "ConnectTimeout")) {
    args.insert(args.end(), {"-o", "ConnectTimeout=10"});
  }
  args.push_back("-T");  // no pseudo-terminal: the connection carries binary frames
  if (!endpoint.ssh_user.empty()) args.insert(args.end(), {"-l", endpoint.ssh_user});
  if (endpoint.port > 0) args.insert(args.end(), {"-p", std::to_string(endpoint.port)});
  args.insert(args.end(), {"--", endpoint.host});
  std::string remote = "docker ";
  if (!endpoint.ssh_socket.empty()) {
    remote += shell_quote("--host=unix://" + endpoint.ssh_socket) + " ";
  }
  args.push_back(remote + "system dial-stdio");
  return args;
}

namespace {

Error spawn_error(const Endpoint& endpoint, const std::string& what, int err) {
  return Error(ErrorCode::DockerUnavailable, "Docker daemon not reachable at " + endpoint.url +
                                                 ": " + what + ": " + std::strerror(err));
}

}  // namespace

std::unique_ptr<SshProcess> SshProcess::spawn(const Endpoint& endpoint, int* fd) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    throw spawn_error(endpoint, "socketpair()", errno);
  }
  try {
    auto process = spawn_on(endpoint, pair[1]);
    ::close(pair[1]);
    *fd = pair[0];
    return process;
  } catch (...) {
    ::close(pair[0]);
    ::close(pair[1]);
    throw;
  }
}

std::unique_ptr<SshProcess> SshProcess::spawn_on(const Endpoint& endpoint, int stdio_fd) {
  int err_pipe[2];
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) throw spawn_error(endpoint, "pipe()", errno);
  ::fcntl(err_pipe[0], F_SETFL, O_NONBLOCK);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, stdio_fd, STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, stdio_fd, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Its own session (no controlling terminal: ^C in the caller's terminal does not cut the
  // connection), no signals blocked (an application that blocks SIGTERM for a sigwait thread
  // would pass that on), default dispositions for the signals we end it with.
  sigset_t none;
  sigemptyset(&none);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (const int sig : {SIGTERM, SIGINT, SIGHUP, SIGPIPE}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  const std::vector<std::string> args = argv(endpoint);
  std::vector<char*> c_args;
  for (const auto& a : args) c_args.push_back(const_cast<char*>(a.c_str()));
  c_args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, "ssh", &actions, &attr, c_args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(err_pipe[1]);
  if (rc != 0) {
    ::close(err_pipe[0]);
    throw spawn_error(endpoint, "cannot run ssh (install openssh-client)", rc);
  }
  std::unique_ptr<SshProcess> process(new SshProcess(pid, err_pipe[0]));
  process->owner_ = ::getpid();
  return process;
}

SshProcess::~SshProcess() {
  if (owner_ == ::getpid()) reap(/*block=*/true);
  close_fd(stderr_fd_);
}

void SshProcess::collect_stderr() {
  char buffer[512];
  while (stderr_fd_ >= 0) {
    const ssize_t n = ::read(stderr_fd_, buffer, sizeof buffer);
    if (n > 0) {
      if (stderr_.size() < kMaxStderr) {
        stderr_.append(buffer, std::min<std::size_t>(static_cast<std::size_t>(n),
                                                     kMaxStderr - stderr_.size()));
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) close_fd(stderr_fd_);
    break;
  }
}

void SshProcess::reap(bool block) noexcept {
  if (reaped_) return;
  int status = 0;
  pid_t r = 0;
  do {
    r = ::waitpid(pid_, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == 0 && block) {
    ::kill(pid_, SIGTERM);
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    while ((r = ::waitpid(pid_, &status, WNOHANG)) == 0 &&
           std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (r == 0) {
      ::kill(pid_, SIGKILL);
      r = ::waitpid(pid_, &status, 0);
    }
  }
  // r < 0: not our child any more (SIGCHLD ignored by the application): nothing to reap.
  if (r != 0) {
    reaped_ = true;
    status_ = r > 0 ? status : 0;
  }
}

bool SshProcess::exited() {
  collect_stderr();
  if (owner_ == ::getpid()) reap(/*block=*/false);
  return reaped_;
}

bool SshProcess::failed() const noexcept {
  if (!reaped_) return false;
  if (WIFEXITED(status_)) return WEXITSTATUS(status_) != 0;
  return WIFSIGNALED(status_) && WTERMSIG(status_) != SIGTERM;
}

std::string SshProcess::diagnostics() {
  collect_stderr();
  if (owner_ == ::getpid()) reap(/*block=*/false);
  std::string text = stderr_;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  if (reaped_ && WIFEXITED(status_) && WEXITSTATUS(status_) != 0) {
    text += std::string(text.empty() ? "" : "; ") + "ssh exited with status " +
            std::to_string(WEXITSTATUS(status_));
  }
  return text;
}

SshRelay::SshRelay(Endpoint endpoint) : endpoint_(std::move(endpoint)) {
  const char* runtime = std::getenv("XDG_RUNTIME_DIR");
  std::string base = runtime != nullptr && *runtime != '\0' ? runtime : "/tmp";
  std::string templ = base + "/ignite-ssh-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) {
    throw spawn_error(endpoint_, "cannot make a private directory in " + base, errno);
  }
  dir_ = templ;  // mkdtemp makes it 0700: only this user may connect through our ssh login
  socket_path_ = dir_ + "/docker.sock";
  sockaddr_un address{};
  if (socket_path_.size() >= sizeof(address.sun_path)) {
    ::rmdir(dir_.c_str());
    throw spawn_error(endpoint_,
                      "the relay socket path " + socket_path_ +
                          " is too long for a unix socket (set XDG_RUNTIME_DIR shorter)",
                      ENAMETOOLONG);
  }
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, socket_path_.c_str(),
              std::min(socket_path_.size() + 1, sizeof(address.sun_path) - 1));
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listen_fd_ < 0 ||
      ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listen_fd_, 64) != 0) {
    const int e = errno;
    if (listen_fd_ >= 0) ::close(listen_fd_);
    ::unlink(socket_path_.c_str());
    ::rmdir(dir_.c_str());
    throw spawn_error(endpoint_, "cannot listen on " + socket_path_, e);
  }
  owner_ = ::getpid();
  thread_ = std::thread([this] { run(); });
}

SshRelay::~SshRelay() {
  if (owner_ != ::getpid()) return;  // a forked child's copy: the parent's relay
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  ::close(listen_fd_);
  ::unlink(socket_path_.c_str());
  ::rmdir(dir_.c_str());
  std::lock_guard lock(mu_);
  processes_.clear();  // ends and reaps them
}

void SshRelay::run() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, 100);
    std::lock_guard lock(mu_);
    if (ready > 0) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) {
        try {
          processes_.push_back(SshProcess::spawn_on(endpoint_, fd));
        } catch (const std::exception& e) {
          last_failure_ = e.what();
        }
        ::close(fd);  // ssh has it now (or nobody: libcurl sees the connection closed)
      }
    }
    reap_exited();
  }
}

void SshRelay::reap_exited() {
  for (auto it = processes_.begin(); it != processes_.end();) {
    if ((*it)->exited()) {
      if ((*it)->failed()) last_failure_ = (*it)->diagnostics();
      it = processes_.erase(it);
    } else {
      ++it;
    }
  }
}

std::string SshRelay::take_failure(std::chrono::milliseconds wait) {
  const auto until = std::chrono::steady_clock::now() + wait;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      reap_exited();
      if (!last_failure_.empty() || std::chrono::steady_clock::now() >= until) {
        return std::exchange(last_failure_, {});
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace Ignite::docker
