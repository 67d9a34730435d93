#include "ignite/engine.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <thread>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <shared_mutex>

#include "ignite/error.hpp"
#include "ignite/src/audit.hpp"
#include "ignite/src/audit_log.hpp"
#include "ignite/src/docker/cancel.hpp"
#include "ignite/src/docker/client.hpp"
#include "ignite/src/format_util.hpp"
#include "ignite/src/image_builder.hpp"
#include "ignite/src/labels.hpp"
#include "ignite/src/pool.hpp"
#include "ignite/src/reaper.hpp"
#include "ignite/src/remover.hpp"
#include "ignite/src/runner.hpp"
#include "ignite/src/seccomp.hpp"
#include "ignite/src/service_files.hpp"
#include "ignite/version.hpp"

namespace fs = std::filesystem;
using namespace std::chrono;
using json = nlohmann::json;

namespace Ignite {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;
// How long a cancelled execution spends on its kill and on the daemon's exit report, each.
constexpr milliseconds kCancelCleanupBound{500};

std::string random_hex(std::size_t n) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += kHex[rng() % 16];
  return out;
}

milliseconds since(steady_clock::time_point t0) {
  return duration_cast<milliseconds>(steady_clock::now() - t0);
}

// Keeps at most `limit` bytes of one stream and reports when more arrived.
class CappedBuffer {
 public:
  CappedBuffer(std::size_t limit, const std::function<void(std::string_view)>& tee)
      : limit_(limit), tee_(tee) {}

  void append(std::string_view data) {
    if (tee_) tee_(data);
    const std::size_t room = limit_ > text_.size() ? limit_ - text_.size() : 0;
    if (data.size() > room) {
      truncated_ = true;
      data = data.substr(0, room);
    }
    text_.append(data);
  }
  bool truncated() const { return truncated_; }
  std::string take() { return std::move(text_); }

 private:
  std::size_t limit_;
  const std::function<void(std::string_view)>& tee_;
  std::string text_;
  bool truncated_ = false;
};

// A file of a container's cgroup on this host: `v1` under the cgroup v1 hierarchy
// ("memory/docker/<id>/<v1>"), else `v2` in the container's v2 cgroup (systemd or cgroupfs
// driver). Empty when none is readable (no id, a remote daemon, another layout).
std::string cgroup_file(const std::string& id, std::string_view v1_controller, std::string_view v1,
                        std::string_view v2) {
  if (id.empty()) return {};
  const std::string candidates[] = {
      "/sys/fs/cgroup/" + std::string(v1_controller) + "/docker/" + id + "/" + std::string(v1),
      "/sys/fs/cgroup/system.slice/docker-" + id + ".scope/" + std::string(v2),
      "/sys/fs/cgroup/docker/" + id + "/" + std::string(v2),
  };
  for (const auto& c : candidates) {
    if (::access(c.c_str(), R_OK) == 0) return c;
  }
  return {};
}

// The value of `key` in a flat-keyed cgroup file ("key value" lines: memory.events,
// memory.oom_control, pids.events).
std::optional<std::uint64_t> cgroup_counter(const std::string& path, std::string_view key) {
  if (path.empty()) return std::nullopt;
  std::ifstream in(path);
  std::string k;
  std::uint64_t v = 0;
  while (in >> k >> v) {
    if (k == key) return v;
  }
  return std::nullopt;
}

// Peak memory of a container's cgroup, read from the host's cgroup filesystem (v1 or v2). The
// cgroup disappears with the container, so it is sampled while the container runs.
class CgroupPeak {
 public:
  explicit CgroupPeak(const std::string& id)
      : path_(cgroup_file(id, "memory", "memory.max_usage_in_bytes", "memory.peak")) {
    // Kept open and re-read with pread: sampling runs every 20 ms of every execution.
    if (!path_.empty()) fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  }
  // Starts the peak over (a reused container's peak so far belongs to earlier jobs). cgroup v1
  // resets on a write of 0, v2 (kernel 6.12+) on any write; without permission it stays.
  void reset() {
    if (path_.empty()) return;
    const int fd = ::open(path_.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return;
    [[maybe_unused]] const ssize_t n = ::write(fd, "0", 1);
    ::close(fd);
  }
  ~CgroupPeak() {
    if (fd_ >= 0) ::close(fd_);
  }
  CgroupPeak(const CgroupPeak&) = delete;
  CgroupPeak& operator=(const CgroupPeak&) = delete;
  void sample() {
    if (fd_ < 0) return;
    char buf[32];
    const ssize_t n = ::pread(fd_, buf, sizeof(buf) - 1, 0);
    if (n <= 0) return;
    buf[n] = '\0';
    char* end = nullptr;
    const unsigned long long v = std::strtoull(buf, &end, 10);
    if (end == buf) return;
    peak_ = std::max(peak_, v);
    seen_ = true;
  }
  std::optional<double> mb() const {
    if (!seen_) return std::nullopt;
    return std::round(static_cast<double>(peak_) / kMiB * 100.0) / 100.0;
  }

 private:
  std::string path_;
  int fd_ = -1;
  unsigned long long peak_ = 0;
  bool seen_ = false;
};

// How many processes the kernel's OOM killer has killed in a container's cgroup: a pooled
// job's status 137 is an OOM kill when this grew during the job (the daemon records OOMKilled
// only when the whole container exits).
class CgroupOomKills {
 public:
  explicit CgroupOomKills(const std::string& id)
      : path_(cgroup_file(id, "memory", "memory.oom_control", "memory.events")) {}
  bool available() const { return cgroup_counter(path_, "oom_kill").has_value(); }
  std::uint64_t read() const { return cgroup_counter(path_, "oom_kill").value_or(0); }

 private:
  std::string path_;
};

using detail::Remover;

// " (SIGKILL)" for the signals services commonly die of.
std::string signal_name(int sig) {
  switch (sig) {
    case 6: return " (SIGABRT)";
    case 9: return " (SIGKILL)";
    case 11: return " (SIGSEGV)";
    case 15: return " (SIGTERM)";
    case 31: return " (SIGSYS)";
    default: return "";
  }
}

// How often the container's pids limit refused a fork/clone ("max N" in pids.events), sampled
// while the container runs like CgroupPeak.
class CgroupPidsEvents {
 public:
  explicit CgroupPidsEvents(const std::string& id)
      : path_(cgroup_file(id, "pids", "pids.events", "pids.events")) {}
  void sample() {
    if (const auto v = cgroup_counter(path_, "max")) max_ = std::max(max_, *v);
  }
  std::uint64_t max_hits() const { return max_; }

 private:
  std::string path_;
  std::uint64_t max_ = 0;
};

// Queues the container's removal when the execution leaves scope, whatever happened.
class ContainerGuard {
 public:
  using Retire = std::function<void(std::string id, bool exiting)>;
  ContainerGuard(Retire retire, std::string id) : retire_(std::move(retire)), id_(std::move(id)) {}
  ~ContainerGuard() { release(); }
  ContainerGuard(const ContainerGuard&) = delete;
  ContainerGuard& operator=(const ContainerGuard&) = delete;
  void release(bool exiting = false) noexcept {
    if (id_.empty()) return;
    try {
      retire_(std::move(id_), exiting);
    } catch (...) {
      // Cleanup never throws; the sweep and the reaper remove what is left (labels).
    }
    id_.clear();
  }
  void dismiss() noexcept { id_.clear(); }  // someone else owns the container now

 private:
  Retire retire_;
  std::string id_;
};

// Bounds how many executions run at once.
class Slots {
 public:
  explicit Slots(std::size_t n) : free_(n == 0 ? 1 : n) {}
  // False when `stop` was requested before a slot was free.
  bool acquire(std::stop_token stop) {
    std::unique_lock lock(mu_);
    if (!cv_.wait(lock, stop, [&] { return free_ > 0; })) return false;
    --free_;
    return true;
  }
  void release() {
    {
      std::lock_guard lock(mu_);
      ++free_;
    }
    cv_.notify_one();
  }

 private:
  std::mutex mu_;
  std::condition_variable_any cv_;
  std::size_t free_;
};

// What execute() and prewarm() work out before any container exists.
struct Plan {
  explicit Plan(ResolvedRuntime runtime) : rt(std::move(runtime)) {}
  ResolvedRuntime rt;
  std::optional<SecurityPolicy> policy;
  std::size_t output_limit = 0;
  milliseconds timeout{0};
  std::string input;
  bool audit_bootstrap = false;
  std::string audit_nonce;
  std::map<std::string, std::string> base_env;  // the container's: service.yaml env, defaults
  std::vector<std::pair<std::string, std::string>> job_env;  // the caller's env, IGNITE_INPUT*
  CodeDelivery delivery = CodeDelivery::Mount;
  double memory_mb = 0;
  std::vector<std::string> cmd;
  // False under a policy with allowSpawn: false (seccomp refuses fork): no supervisor then.
  bool may_spawn = true;
  // Pool: which mode this execution may use, and its key.
  enum class Mode { Cold, Once, Reuse } mode = Mode::Cold;
  std::size_t reuse = 1;
  std::string why_cold;  // when mode is Cold although the pool is on
};

std::vector<std::string> env_list(const std::map<std::string, std::string>& m) {
  std::vector<std::string> env;
  env.reserve(m.size());
  for (const auto& [k, v] : m) env.push_back(k + "=" + v);
  return env;
}

}  // namespace

std::string_view version() noexcept { return IGNITE_VERSION_STRING; }

std::string_view to_string(Outcome outcome) noexcept {
  switch (outcome) {
    case Outcome::Success: return "success";
    case Outcome::Error: return "error";
    case Outcome::Timeout: return "timeout";
    case Outcome::MemoryLimit: return "memory_limit";
    case Outcome::OutputLimit: return "output_limit";
    case Outcome::Cancelled: return "cancelled";
  }
  return "error";
}

struct Engine::Impl {
  EngineOptions options;
  std::string socket_path;
  std::string session = random_hex(16);
  mutable std::shared_mutex registry_mu;
  RuntimeRegistry registry = RuntimeRegistry::builtins();
  std::once_flag client_once;
  std::unique_ptr<docker::DockerClient> client;
  std::unique_ptr<detail::ImageBuilder> builder;
  // Declared after the client (destroyed before it): the pool hands containers to the remover.
  std::unique_ptr<Remover> remover;
  // Containers this Engine tracks (running a job, starting, ready in the pool): the remover's
  // sweep removes the session's other containers.
  std::mutex live_mu;
  std::set<std::string> live;
  // The process that made this Engine: its threads exist only there (see check_process()).
  pid_t owner_pid = ::getpid();
  std::mutex pool_mu;
  std::unique_ptr<detail::Pool> pool_;
  std::atomic<std::size_t> reaped_on_start{0};
  std::once_flag info_once;
  json daemon_info;
  Slots slots;
  fs::path state_dir;
  std::map<std::string, std::string> extra_labels;  // EngineOptions::labels + $IGNITE_LABELS
  std::mutex history_mu;

  explicit Impl(EngineOptions opts) : options(std::move(opts)), slots(options.max_concurrent) {
    state_dir = options.state_dir;
    if (state_dir.empty()) {
      if (const char* d = std::getenv("IGNITE_STATE_DIR"); d && *d) {
        state_dir = d;
      } else if (const char* x = std::getenv("XDG_STATE_HOME"); x && *x) {
        state_dir = fs::path(x) / "ignite";
      } else if (const char* h = std::getenv("HOME"); h && *h) {
        state_dir = fs::path(h) / ".local/state/ignite";
      } else {
        state_dir = fs::temp_directory_path() / "ignite-state";
      }
    }
    extra_labels = options.labels;
    if (const char* env = std::getenv("IGNITE_LABELS"); env && *env) {
      std::string_view rest(env);
      while (!rest.empty()) {
        const auto comma = rest.find(',');
        const std::string_view item = rest.substr(0, comma);
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        const auto eq = item.find('=');
        if (eq == std::string_view::npos || eq == 0) {
          throw Error(ErrorCode::Config, "IGNITE_LABELS: \"" + std::string(item) +
                                             "\" is not key=value (expected key=value,key=value)");
        }
        extra_labels.try_emplace(std::string(item.substr(0, eq)), std::string(item.substr(eq + 1)));
      }
    }
    for (const auto& [k, v] : extra_labels) {
      if (k.empty()) throw Error(ErrorCode::Config, "labels: a label key is empty");
      if (k.rfind("dev.ignite.", 0) == 0 && k != "dev.ignite.test-run") {
        throw Error(ErrorCode::Config, "labels: \"" + k +
                                           "\" is reserved for Ignite's own labels (dev.ignite.*)");
      }
    }
    std::string host = options.docker_host;
    if (host.empty()) {
      socket_path = docker::socket_from_env();
    } else if (host.rfind("unix://", 0) == 0) {
      socket_path = host.substr(7);
    } else if (!host.empty() && host.front() == '/') {
      socket_path = host;
    } else {
      throw Error(ErrorCode::Config,
                  "docker_host \"" + host + "\": only unix:// sockets are supported");
    }
  }

  // An Engine's threads (pool, remover) exist only in the process that made it: in a forked
  // child it fails at once instead of waiting for threads that are not there.
  void check_process() const {
    if (::getpid() != owner_pid) {
      throw Error(ErrorCode::InvalidArgument,
                  "this Engine was created by process " + std::to_string(owner_pid) +
                      " and cannot be used in a forked child (pid " + std::to_string(::getpid()) +
                      "): create a new Engine in the child");
    }
  }

  void track(const std::string& id) {
    std::lock_guard lock(live_mu);
    live.insert(id);
  }
  // The container leaves this Engine's hands: removed in the background.
  void retire(std::string id, bool exiting = false) {
    {
      std::lock_guard lock(live_mu);
      live.erase(id);
    }
    remover->push(std::move(id), exiting);
  }

  docker::DockerClient& docker() {
    check_process();
    std::call_once(client_once, [&] {
      client = std::make_unique<docker::DockerClient>(socket_path);
      client->set_timeouts({options.docker_timeouts.metadata, options.docker_timeouts.lifecycle,
                            options.docker_timeouts.build});
      builder = std::make_unique<detail::ImageBuilder>(*client, session);
      Remover::SweepOptions sweep;
      sweep.labels = {std::string(labels::kSession) + "=" + session};
      sweep.in_use = [this](const std::string& id) {
        std::lock_guard lock(live_mu);
        return live.contains(id);
      };
      sweep.interval = options.cleanup.sweep_interval;
      sweep.grace = options.cleanup.sweep_grace;
      sweep.shutdown_grace = options.cleanup.shutdown_grace;
      remover = std::make_unique<Remover>(*client, std::move(sweep));
      if (options.reap_on_start) {
        try {
          reaped_on_start = detail::reap(*client).containers;
        } catch (const Error&) {
          // An unreachable daemon is reported by the call that needed it, not by the reaper.
        }
      }
    });
    return *client;
  }

  detail::ImageBuilder& images() {
    docker();
    return *builder;
  }

  detail::Pool& pool() {
    docker();
    std::lock_guard lock(pool_mu);
    if (!pool_) {
      pool_ = std::make_unique<detail::Pool>(options.pool,
                                             [this](const std::string& id) { retire(id); });
    }
    return *pool_;
  }

  ~Impl() {
    if (::getpid() != owner_pid) {
      // A forked child's copy: the threads these would join do not exist here. Left alone
      // (the parent still owns the containers).
      (void)pool_.release();
      (void)remover.release();
      (void)builder.release();
      (void)client.release();
      return;
    }
    // The pool first (its containers go to the remover), then the remover finishes its queue.
    pool_.reset();
    remover.reset();
    flush_history();
  }

  Plan plan(const Service& svc, const ExecuteOptions& opt);
  std::pair<json, std::string> pool_body(const Service& svc, const ExecuteOptions& opt,
                                         const Plan& p, const std::string& image);
  // Registers the plan's pool key (creating its factory) with `target` containers ready or
  // starting; returns the key.
  std::string want_pool(const Service& svc, const ExecuteOptions& opt, const Plan& p,
                        const std::string& image, std::size_t target);
  detail::WarmContainer start_warm(json body, bool once, std::size_t jobs_max,
                                   const std::string& name);
  // The execution once it holds a slot: lease a container, run the job, finalise, classify.
  ExecutionResult run(const Service& svc, const ExecuteOptions& opt, Plan& plan,
                      steady_clock::time_point t_begin);

  // Throws Error(Config) naming the policy file when the daemon lacks an OCI runtime it asks for.
  void require_runtime(const std::string& name, const SecurityPolicy& policy) {
    std::call_once(info_once, [&] { daemon_info = docker().info(); });
    const auto runtimes = daemon_info.value("Runtimes", json::object());
    if (!runtimes.contains(name)) {
      throw Error(ErrorCode::Config,
                  (policy.source ? policy.source->string() : std::string("policy")) +
                      ": isolation: gvisor needs the Docker daemon's \"" + name +
                      "\" runtime, which this daemon does not offer (run tools/bootstrap, which "
                      "installs gVisor and registers it)");
    }
  }

  CodeDelivery delivery(const std::optional<CodeDelivery>& requested) const {
    const CodeDelivery d = requested.value_or(options.delivery);
    // Ignite only speaks to unix sockets, i.e. a daemon that sees this host's paths.
    return d == CodeDelivery::Auto ? CodeDelivery::Mount : d;
  }

  fs::path history_file(const fs::path& service_path) const {
    return state_dir / "history" /
           (detail::sha256_hex(service_path.string()).substr(0, 24) + ".json");
  }

  std::optional<milliseconds> last_execution(const Service& svc) {
    std::lock_guard lock(history_mu);
    if (auto it = history.find(svc.path.string()); it != history.end()) return it->second.last;
    std::ifstream in(history_file(svc.path));
    if (!in) return std::nullopt;
    const json j = json::parse(in, nullptr, false);
    if (!j.is_object() || !j.contains("lastExecutionMs") || !j["lastExecutionMs"].is_number()) {
      return std::nullopt;  // unreadable history is no history; it is rewritten on the next run
    }
    return milliseconds(j["lastExecutionMs"].get<std::int64_t>());
  }

  // This Engine's history: exact in memory; the file (for other processes) is rewritten when
  // the value moved by more than 10% or a second passed, and by the destructor, so a burst of
  // executions does not cost a file write each.
  struct History {
    fs::path file;  // computed once: the destructor's flush must not need the hash library
    milliseconds last{0};
    milliseconds written{-1};
    steady_clock::time_point written_at;
  };
  std::map<std::string, History> history;

  void record_execution(const Service& svc, milliseconds run) noexcept {
    try {
      std::lock_guard lock(history_mu);
      History& h = history[svc.path.string()];
      if (h.file.empty()) h.file = history_file(svc.path);
      h.last = run;
      const auto now = steady_clock::now();
      const bool moved = h.written.count() < 0 ||
                         std::abs(run.count() - h.written.count()) * 10 > h.written.count();
      if (!moved && now - h.written_at < seconds(1)) return;
      if (write_history(h.file, svc.path, run)) {
        h.written = run;
        h.written_at = now;
      }
    } catch (...) {
    }
  }

  void flush_history() noexcept {
    std::lock_guard lock(history_mu);
    for (auto& [path, h] : history) {
      if (h.written != h.last) write_history(h.file, path, h.last);
    }
  }

  // Best effort: history only feeds a preflight hint, so failing to write it never fails a run.
  bool write_history(const fs::path& file, const fs::path& service_path, milliseconds run) noexcept {
    try {
      std::error_code ec;
      fs::create_directories(file.parent_path(), ec);
      const fs::path tmp = file.string() + ".tmp-" + random_hex(8);
      {
        std::ofstream out(tmp, std::ios::trunc);
        out << json{{"service", service_path.string()}, {"lastExecutionMs", run.count()}}.dump();
        if (!out) return false;
      }
      fs::rename(tmp, file, ec);
      if (ec) {
        fs::remove(tmp, ec);
        return false;
      }
      return true;
    } catch (...) {
      return false;
    }
  }

  ResolvedRuntime resolve(const std::string& spec) const {
    std::shared_lock lock(registry_mu);
    return registry.resolve(spec);
  }

  // The runtime's command for this service: Deno's --allow-run narrowed to the allowed
  // commands, the audit bootstrap in audit mode.
  std::vector<std::string> command(const Service& svc, const ResolvedRuntime& rt,
                                   const std::optional<SecurityPolicy>& policy,
                                   bool audit_bootstrap) const {
    std::vector<std::string> cmd = rt.argv(svc.config.entry);
    if (policy && policy->allow_spawn && !policy->allowed_commands.empty() && rt.name == "deno" &&
        cmd.size() > 2) {
      std::string allow = "--allow-run=";
      for (std::size_t i = 0; i < policy->allowed_commands.size(); ++i) {
        allow += (i ? "," : "") + policy->allowed_commands[i];
      }
      cmd.insert(cmd.begin() + 2, allow);
    }
    if (audit_bootstrap) {
      if (auto with_bootstrap = detail::audit_argv(cmd)) cmd = std::move(*with_bootstrap);
    }
    return cmd;
  }

  json create_body(const Service& svc, const std::string& image, CodeDelivery delivery,
                   const ExecuteOptions& opt, const std::vector<std::string>& env,
                   const std::optional<SecurityPolicy>& policy, bool audit,
                   const std::vector<std::string>& cmd) const {
    // service.yaml may ask for a network; a policy file can only take it away, except in audit
    // mode, where the policy (file or default) alone decides. Without a policy the root
    // filesystem is read-only.
    bool network = svc.config.network;
    if (policy) network = audit ? policy->network_enabled : network && policy->network_enabled;
    const bool read_only = policy ? policy->filesystem_read_only : true;
    const bool no_spawn = policy && !policy->allow_spawn;
    const PolicyLimits limits = policy ? policy->limits : PolicyLimits{};
    const int nofile = limits.open_files.value_or(1024);
    const double memory_mb = opt.memory_mb.value_or(svc.config.memory_mb);
    const double cpus = opt.cpus.value_or(svc.config.cpu_limit.value_or(1.0));
    const auto memory = static_cast<std::int64_t>(std::llround(memory_mb * kMiB));
    json labels = {
        {std::string(labels::kManaged), "true"},
        {std::string(labels::kSession), session},
        {std::string(labels::kVersion), std::string(version())},
        {std::string(labels::kService), svc.config.name},
    };
    for (const auto& [k, v] : detail::owner_labels()) labels[k] = v;
    for (const auto& [k, v] : extra_labels) labels[k] = v;
    json host_config = {
        {"Memory", memory},
        {"MemorySwap", memory},  // equal to Memory: no swap beyond the limit
        {"NanoCpus", static_cast<std::int64_t>(std::llround(cpus * 1e9))},
        {"PidsLimit", limits.pids.value_or(options.pids_limit)},
        {"ReadonlyRootfs", read_only},
        {"CapDrop", {"ALL"}},
        {"SecurityOpt", {"no-new-privileges"}},
        {"Tmpfs",
         {{"/tmp", "rw,noexec,nosuid,nodev,size=" +
                       (limits.tmpfs_mb ? std::to_string(*limits.tmpfs_mb) + "m" : options.tmpfs_size)}}},
        // No docker-init: it would be a dumpable process the service can inspect (its
        // environment, its stdin). Where the runtime may spawn, Ignite's supervisor is PID 1 and
        // reaps orphans and forwards signals; under the no-spawn filter there are no orphans.
        {"Init", false},
        // No /dev/shm: Docker would mount a writable 64 MiB tmpfs there despite the read-only
        // root filesystem.
        {"IpcMode", "none"},
        {"Ulimits", {{{"Name", "nofile"}, {"Soft", nofile}, {"Hard", nofile}}}},
    };
    if (no_spawn) {
      host_config["SecurityOpt"].push_back("seccomp=" + detail::no_spawn_seccomp_profile());
    }
    if (limits.file_size_mb) {
      const std::int64_t bytes = static_cast<std::int64_t>(*limits.file_size_mb) * 1024 * 1024;
      host_config["Ulimits"].push_back({{"Name", "fsize"}, {"Soft", bytes}, {"Hard", bytes}});
    }
    if (policy && policy->isolation == Isolation::Gvisor) host_config["Runtime"] = "runsc";
    if (delivery == CodeDelivery::Mount) {
      host_config["Mounts"] = json::array(
          {{{"Type", "bind"}, {"Source", svc.path.string()}, {"Target", "/app"}, {"ReadOnly", true}}});
    }
    // NetworkDisabled (below) leaves only loopback without the ~300 ms network sandbox set-up
    // that NetworkMode "none" costs on this daemon.
    return json{
        {"Image", image},
        {"Cmd", cmd},
        {"Env", env},
        {"User", "1000:1000"},
        {"WorkingDir", "/app"},
        {"Labels", labels},
        {"AttachStdin", true},
        {"AttachStdout", true},
        {"AttachStderr", true},
        {"OpenStdin", true},
        {"StdinOnce", true},  // closing stdin must not close the output stream
        {"Tty", false},
        {"NetworkDisabled", !network},
        {"HostConfig", host_config},
    };
  }
};

Engine::Engine(EngineOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Engine::~Engine() = default;
Engine::Engine(Engine&&) noexcept = default;
Engine& Engine::operator=(Engine&&) noexcept = default;

const std::string& Engine::session_id() const noexcept { return impl_->session; }

Service Engine::load(const fs::path& dir) const {
  std::shared_lock lock(impl_->registry_mu);
  return load_service(dir, &impl_->registry);
}

void Engine::ping() { impl_->docker().ping(); }

GcResult Engine::gc(bool service_images) {
  auto& docker = impl_->docker();  // may reap on first contact: those count too
  const auto r = detail::reap(docker, service_images);
  return GcResult{r.containers + impl_->reaped_on_start.exchange(0), r.images};
}

std::size_t Engine::remove_containers() {
  auto& docker = impl_->docker();
  drain_pool();
  flush();
  std::size_t removed = 0;
  for (const auto& c : docker.containers_list(
           {std::string(labels::kSession) + "=" + impl_->session}, true)) {
    if (docker.container_remove(c.value("Id", ""), true)) ++removed;
  }
  return removed;
}

RuntimeRegistry Engine::runtimes() const {
  std::shared_lock lock(impl_->registry_mu);
  return impl_->registry;
}

void Engine::register_runtime(Runtime runtime) {
  std::unique_lock lock(impl_->registry_mu);
  impl_->registry.add(std::move(runtime));
}

bool Engine::unregister_runtime(const std::string& name) {
  std::unique_lock lock(impl_->registry_mu);
  return impl_->registry.remove(name);
}

void Engine::load_runtimes_file(const fs::path& path) {
  std::unique_lock lock(impl_->registry_mu);
  impl_->registry.load_file(path);
}

std::string_view to_string(ContainerStart start) noexcept {
  switch (start) {
    case ContainerStart::Cold: return "cold";
    case ContainerStart::Warm: return "warm";
    case ContainerStart::Reused: return "reused";
  }
  return "cold";
}

Plan Engine::Impl::plan(const Service& svc, const ExecuteOptions& opt) {
  // Validate everything before touching Docker, so bad options never leave a container behind.
  if (opt.input) {
    if (!json::accept(*opt.input)) {
      throw Error(ErrorCode::InvalidArgument, "input is not valid JSON");
    }
  }
  for (const auto& [key, value] : opt.env) {
    if (!is_valid_env_name(key)) {
      throw Error(ErrorCode::InvalidArgument, "env: \"" + key + "\" is not a valid variable name");
    }
    if (value.find('\0') != std::string::npos) {
      throw Error(ErrorCode::InvalidArgument, "env." + key + ": value contains a NUL character");
    }
  }
  if (opt.timeout && opt.timeout->count() <= 0) {
    throw Error(ErrorCode::InvalidArgument, "timeout must be positive");
  }
  if (opt.memory_mb && (!std::isfinite(*opt.memory_mb) || *opt.memory_mb < 6)) {
    throw Error(ErrorCode::InvalidArgument, "memory must be at least 6 MB (Docker's minimum)");
  }
  if (opt.cpus && (!std::isfinite(*opt.cpus) || *opt.cpus <= 0)) {
    throw Error(ErrorCode::InvalidArgument, "cpus must be a positive number");
  }

  Plan p(resolve(opt.runtime.value_or(svc.config.runtime)));
  // A policy file is enforced on every run; audit mode enforces the default without one.
  if (SecurityPolicy pol = load_policy(svc.path); pol.source || opt.audit) p.policy = std::move(pol);
  if (p.policy && p.policy->isolation == Isolation::Gvisor) require_runtime("runsc", *p.policy);
  p.output_limit = p.policy && p.policy->limits.output_bytes
                       ? std::min(opt.output_limit, *p.policy->limits.output_bytes)
                       : opt.output_limit;
  p.timeout = opt.timeout.value_or(
      milliseconds(static_cast<std::int64_t>(std::llround(svc.config.timeout_ms))));
  p.input = opt.input.value_or("");
  // Audit mode with a bootstrap for this runtime: stdin starts with a per-execution nonce line
  // that the bootstrap consumes before the service's code runs (audit.hpp).
  p.audit_bootstrap = opt.audit && detail::audit_argv(p.rt.argv(svc.config.entry)).has_value();
  if (p.audit_bootstrap) p.audit_nonce = detail::audit_nonce();
  p.base_env = svc.config.env;
  if (!opt.env.contains("NODE_ENV")) p.base_env.try_emplace("NODE_ENV", "production");
  for (const auto& [k, v] : opt.env) p.job_env.emplace_back(k, v);
  p.job_env.emplace_back("IGNITE_INPUT", p.input.size() <= kMaxEnvInput ? p.input : "");
  p.job_env.emplace_back("IGNITE_INPUT_BYTES", std::to_string(p.input.size()));
  p.delivery = delivery(opt.delivery);
  p.memory_mb = opt.memory_mb.value_or(svc.config.memory_mb);
  p.cmd = command(svc, p.rt, p.policy, p.audit_bootstrap);
  p.may_spawn = !(p.policy && !p.policy->allow_spawn);

  const PoolOptions& pool = options.pool;
  // Reuse is the operator's decision: service.yaml (written by the service's author) may ask
  // for fewer jobs per container than PoolOptions::reuse allows, never more, and never turns
  // the pool on.
  p.reuse = std::min(svc.config.reuse.value_or(pool.reuse), pool.reuse);
  if (p.reuse == 0) p.reuse = 1;
  if (pool.size == 0) {
    p.why_cold = "the warm pool is off (PoolOptions::size is 0)";
  } else if (!p.may_spawn) {
    p.why_cold = "the policy sets allowSpawn: false, and the pool's supervisor starts the "
                 "runtime as a child process";
  } else if (p.reuse > 1) {
    p.mode = Plan::Mode::Reuse;
  } else if (!detail::runner_argv(p.cmd)) {
    p.why_cold = "runtime " + p.rt.spec() + " has no resident runner";
  } else {
    p.mode = Plan::Mode::Once;
  }
  return p;
}

// The pooled container's create body (without the per-container nonce) and its pool key.
std::pair<json, std::string> Engine::Impl::pool_body(const Service& svc,
                                                     const ExecuteOptions& opt, const Plan& p,
                                                     const std::string& image) {
  std::vector<std::string> cmd = {std::string(detail::kSupervisorPath),
                                  p.mode == Plan::Mode::Once ? "once" : "reuse", "--"};
  std::map<std::string, std::string> env = p.base_env;
  if (p.mode == Plan::Mode::Once) {
    const auto with_runner = detail::runner_argv(p.cmd);
    cmd.insert(cmd.end(), with_runner->begin(), with_runner->end());
    env["IGNITE_RUNNER"] = "1";
  } else {
    cmd.insert(cmd.end(), p.cmd.begin(), p.cmd.end());
  }
  json body = create_body(svc, image, p.delivery, opt, env_list(env), p.policy, opt.audit, cmd);
  body["Labels"][std::string(labels::kPool)] = p.mode == Plan::Mode::Once ? "warm" : "reuse";
  std::string key = body.dump();
  if (p.mode == Plan::Mode::Reuse) key += "\nreuse=" + std::to_string(p.reuse);
  return {std::move(body), std::move(key)};
}

std::string Engine::Impl::want_pool(const Service& svc, const ExecuteOptions& opt, const Plan& p,
                                    const std::string& image, std::size_t target) {
  auto [body, key] = pool_body(svc, opt, p, image);
  pool().want(key,
              [this, body = std::move(body), once = p.mode == Plan::Mode::Once, jobs = p.reuse,
               name = svc.config.name] { return start_warm(body, once, jobs, name); },
              p.memory_mb, target);
  return key;
}

detail::WarmContainer Engine::Impl::start_warm(json body, bool once, std::size_t jobs_max,
                                               const std::string& name) {
  docker::DockerClient& docker = this->docker();
  detail::WarmContainer c;
  (void)once;
  // The supervisor's completion key: sent over stdin, never in the container's environment.
  c.nonce = detail::audit_nonce();
  c.jobs_max = jobs_max;
  Remover::Starting starting(*remover);
  c.id = docker.container_create(body, "ignite-" + name + "-" + random_hex(10));
  track(c.id);
  try {
    c.attachment = docker.container_attach(c.id, true);
    docker.container_start(c.id);
    static constexpr std::string_view kReady = "\x1eIGNITE-READY\n";
    // What a runtime prints before it is ready (warnings; or a service's NODE_OPTIONS code) is
    // kept up to this much per stream, like any other output it is the job's.
    static constexpr std::size_t kEarlyCap = 65536;
    bool ready = false;
    std::size_t dropped = 0;
    std::string tail;  // not yet known not to be the start of the ready line
    const auto keep = [&](std::string_view text) {
      const std::size_t room = kEarlyCap - std::min(kEarlyCap, c.early_stderr.size());
      c.early_stderr.append(text.substr(0, room));
      dropped += text.size() - std::min(room, text.size());
    };
    const auto end = c.attachment.pump(
        detail::supervisor_key_line(c.nonce),
        [&](docker::StreamKind kind, std::string_view data) {
          if (kind != docker::StreamKind::Stderr) {
            if (c.early_stdout.size() < kEarlyCap) {
              c.early_stdout.append(data.substr(0, kEarlyCap - c.early_stdout.size()));
            }
            return;
          }
          if (ready) return;
          tail.append(data);
          if (const auto at = tail.find(kReady); at != std::string::npos) {
            keep(std::string_view(tail).substr(0, at));
            ready = true;
          } else if (tail.size() >= kReady.size()) {
            keep(std::string_view(tail).substr(0, tail.size() - kReady.size() + 1));
            tail.erase(0, tail.size() - kReady.size() + 1);
          }
        },
        steady_clock::now() + seconds(60), [&] { return ready; }, /*close_stdin=*/false);
    if (!ready) {
      throw Error(ErrorCode::Runtime,
                  "pooled container " + c.id.substr(0, 12) +
                      (end == docker::Attachment::End::Eof ? " exited before its runner was ready"
                                                           : " was not ready within 60 s") +
                      (c.early_stderr.empty() && tail.empty()
                           ? std::string()
                           : ": " + (c.early_stderr + tail).substr(0, 2000) +
                                 (dropped > 0 ? " ..." : "")));
    }
  } catch (...) {
    c.attachment.close();
    if (!c.id.empty()) retire(c.id);
    throw;
  }
  return c;
}

ExecutionResult Engine::execute(const Service& svc, const ExecuteOptions& opt) {
  Plan plan = impl_->plan(svc, opt);
  const auto t_begin = steady_clock::now();
  // Every Engine API call this thread makes for the execution ends within ~50 ms of a stop
  // request, also while the daemon does not answer.
  docker::CancelScope cancel_scope(opt.stop_token);
  const auto cancelled_before_run = [&] {
    ExecutionResult r;
    r.service_name = svc.config.name;
    r.runtime = plan.rt.spec();
    r.outcome = Outcome::Cancelled;
    r.exit_code = -1;  // no service process ran to completion
    r.duration = since(t_begin);
    return r;
  };
  if (!impl_->slots.acquire(opt.stop_token)) return cancelled_before_run();
  struct SlotRelease {
    Slots& s;
    ~SlotRelease() { s.release(); }
  } slot_release{impl_->slots};
  try {
    return impl_->run(svc, opt, plan, t_begin);
  } catch (const Error& e) {
    // Cancelled in set-up (waiting for the daemon, an image build, a pooled container): what
    // was created is queued for removal by the guards that unwound.
    if (e.code() == ErrorCode::Cancelled && opt.stop_token.stop_requested()) {
      return cancelled_before_run();
    }
    throw;
  }
}

ExecutionResult Engine::Impl::run(const Service& svc, const ExecuteOptions& opt, Plan& plan,
                                  steady_clock::time_point t_begin) {
  Engine::Impl* const impl_ = this;
  docker::DockerClient& docker = impl_->docker();
  ExecutionResult result;
  result.service_name = svc.config.name;
  result.runtime = plan.rt.spec();

  detail::ServiceImage image =
      impl_->images().ensure(svc, plan.rt, plan.delivery, opt.on_build_output);
  result.image = image.ref;
  result.cold_start = image.built;
  result.phases.build = image.build_time;

  // ---- the container: from the pool, or created now ----------------------------------------
  auto t0 = steady_clock::now();
  std::optional<detail::WarmContainer> warm;
  std::optional<std::string> pool_key;
  if (plan.mode != Plan::Mode::Cold) {
    // Reuse keeps at least one container: the one a job gives back.
    const std::size_t target =
        std::max<std::size_t>(impl_->options.pool.size, plan.mode == Plan::Mode::Reuse ? 1 : 0);
    pool_key = impl_->want_pool(svc, opt, plan, image.ref, target);
    warm = impl_->pool().take(*pool_key,
                              steady_clock::now() + std::min<milliseconds>(plan.timeout, seconds(30)),
                              opt.stop_token);
    if (opt.stop_token.stop_requested()) {
      throw Error(ErrorCode::Cancelled, "cancelled while waiting for a pooled container");
    }
  }
  const bool reuse_mode = warm && warm->jobs_max > 1;
  // A cold container runs its runtime under the supervisor too whenever it may spawn: the
  // in-band exit record then saves the wait for the daemon's end of stream and exit report.
  const bool supervised = warm || plan.may_spawn;
  const std::string supervisor_nonce =
      warm ? warm->nonce : (supervised ? detail::audit_nonce() : std::string());
  std::string id;
  docker::Attachment cold_attachment;
  Remover::Starting starting(*impl_->remover, /*active=*/!warm);
  if (warm) {
    id = warm->id;
    ++warm->jobs_done;
    result.container_start = warm->jobs_done > 1 ? ContainerStart::Reused : ContainerStart::Warm;
    result.container_job = warm->jobs_done;
  } else {
    std::map<std::string, std::string> env = plan.base_env;
    for (const auto& [k, v] : plan.job_env) env[k] = v;
    std::vector<std::string> cmd = plan.cmd;
    if (supervised) {
      cmd.insert(cmd.begin(), {std::string(detail::kSupervisorPath), "once", "--"});
    }
    const json body = impl_->create_body(svc, image.ref, plan.delivery, opt, env_list(env),
                                         plan.policy, opt.audit, cmd);
    const std::string name = "ignite-" + svc.config.name + "-" + random_hex(10);
    try {
      id = docker.container_create(body, name);
    } catch (const Error& e) {
      // The cached image went missing (removed behind this Engine's back): build it again.
      if (e.code() != ErrorCode::NotFound) throw;
      impl_->images().forget(image.ref);
      image = impl_->images().ensure(svc, plan.rt, plan.delivery, opt.on_build_output);
      json again = body;
      again["Image"] = image.ref;
      id = docker.container_create(again, name);
    }
  }
  result.container_id = id;
  if (!warm) impl_->track(id);
  ContainerGuard guard([this](std::string gone, bool exiting) { retire(std::move(gone), exiting); },
                       id);
  // Tells the pool when a pooled job ended; a reuse-mode container that does not go back
  // (failure, limit, exception) lets the pool start a replacement.
  struct PoolJob {
    Engine::Impl* impl;
    const std::optional<std::string>& key;
    bool pooled;
    bool reuse;
    bool returned = false;
    ~PoolJob() {
      if (!pooled) return;
      if (reuse && !returned) impl->pool().forfeit(*key);
      impl->pool().job_done();
    }
  } lent{this, pool_key, warm.has_value(), reuse_mode};
  docker::Attachment& attachment = warm ? warm->attachment : cold_attachment;
  if (!warm) {
    // Attach before start: output written before an attach is lost otherwise.
    attachment = docker.container_attach(id, true);
    result.phases.create = since(t0);
    t0 = steady_clock::now();
    docker.container_start(id);
    result.phases.start = since(t0);
    starting.end();
  }

  // ---- the job ------------------------------------------------------------------------------
  t0 = steady_clock::now();
  const auto deadline = t0 + plan.timeout;
  CappedBuffer out(plan.output_limit, opt.on_stdout);
  CappedBuffer err(plan.output_limit, opt.on_stderr);
  if (warm) {
    if (!warm->early_stdout.empty()) out.append(std::exchange(warm->early_stdout, {}));
    if (!warm->early_stderr.empty()) err.append(std::exchange(warm->early_stderr, {}));
  }
  CgroupPeak peak(id);
  if (reuse_mode) peak.reset();  // the cgroup's peak so far belongs to earlier jobs
  peak.sample();
  CgroupOomKills ooms(supervised ? id : std::string());
  const std::uint64_t ooms_before = ooms.read();
  const bool auditing = plan.policy && opt.audit;
  CgroupPidsEvents pids(auditing ? id : std::string());
  // Audit records leave the stderr stream here: they never reach stderr_text, on_stderr or the
  // output cap.
  std::optional<detail::AuditLog> audit_log;
  std::optional<detail::AuditDemux> demux;
  if (auditing) {
    audit_log.emplace(*plan.policy, plan.delivery == CodeDelivery::Mount);
    if (plan.audit_bootstrap) {
      demux.emplace(
          plan.audit_nonce, [&](std::string_view data) { err.append(data); },
          [&](detail::AuditRecord&& r) { audit_log->add(std::move(r)); });
    }
  }
  const auto to_err = [&](std::string_view data) {
    if (demux) {
      demux->feed(data);
    } else {
      err.append(data);
    }
  };
  // The supervisor's records: the exit status (once) or the end of a job on each stream (reuse).
  // A record is authentic by its key: the container's completion key (once) or this job's nonce
  // (reuse), both of which only ever crossed the non-dumpable supervisor's stdin, never an
  // environment the service can read. The supervisor writes it after every process of the job
  // is dead, so it is the last thing on its stream: the job is complete when both streams'
  // records arrived and agree, without waiting for the daemon to end the streams (tens of ms).
  // Output after a record on its stream (impossible for the real one) voids it.
  std::optional<int> out_status, err_status;
  const auto parse_status = [](std::string_view text, std::optional<int>& into) -> bool {
    int v = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || ptr != text.data() + text.size() || v < 0 || v > 255) return false;
    into = v;
    return true;
  };
  std::optional<detail::RecordDemux> out_records, err_records;
  std::string job_nonce;
  std::string stdin_bytes;
  const std::string job_input = plan.audit_bootstrap ? plan.audit_nonce + "\n" + plan.input : plan.input;
  if (supervised) {
    std::string marker;
    if (!reuse_mode) {
      marker = "\x1eIGNITE-EXIT " + supervisor_nonce + " ";
    } else {
      job_nonce = detail::audit_nonce();
      marker = "\x1eIGNITE-END " + job_nonce + " ";
    }
    out_records.emplace(
        marker,
        [&](std::string_view d) {
          out_status.reset();
          out.append(d);
        },
        [&](std::string_view t) { return parse_status(t, out_status); });
    err_records.emplace(
        marker,
        [&](std::string_view d) {
          err_status.reset();
          to_err(d);
        },
        [&](std::string_view t) { return parse_status(t, err_status); });
  }
  if (!warm) {
    stdin_bytes = detail::supervisor_key_line(supervisor_nonce) + job_input;
    if (!supervised) stdin_bytes = job_input;
  } else if (!reuse_mode) {
    stdin_bytes = detail::runner_header(plan.job_env) + job_input;
    attachment.restart_input();
  } else {
    std::string env_block;
    for (const auto& [k, v] : plan.job_env) env_block += k + "=" + v + '\0';
    stdin_bytes = "JOB " + supervisor_nonce + " " + job_nonce + " " +
                  std::to_string(env_block.size()) + " " + std::to_string(job_input.size()) +
                  "\n" + env_block + job_input;
    attachment.restart_input();
  }
  bool cancelled = false;
  bool flooded = false;
  const auto end = attachment.pump(
      stdin_bytes,
      [&](docker::StreamKind kind, std::string_view data) {
        if (kind != docker::StreamKind::Stderr) {
          if (out_records) {
            out_records->feed(data);
          } else {
            out.append(data);
          }
        } else if (err_records) {
          err_records->feed(data);
        } else {
          to_err(data);
        }
      },
      deadline,
      [&] {
        peak.sample();
        if (auditing) pids.sample();
        if (opt.stop_token.stop_requested()) cancelled = true;
        if (out.truncated() || err.truncated()) flooded = true;
        return cancelled || flooded || (out_status && err_status);
      },
      /*close_stdin=*/!reuse_mode);
  const bool timed_out = end == docker::Attachment::End::Deadline;
  if (out_records) out_records->finish();
  if (err_records) err_records->finish();
  // Complete in band: the supervisor's record is the last thing on both streams, with the same
  // status.
  const bool records_final = out_status && err_status && *out_status == *err_status;
  const bool in_band = supervised && !cancelled && !flooded && !timed_out && records_final;
  std::optional<int> exit_record;
  if (in_band) exit_record = out_status;
  if (!in_band) {
    // Drop the attach stream before the kill: a flooding container blocked on a full stdout
    // pipe otherwise holds up the daemon's kill under gVisor.
    attachment.close();
  }
  if (demux) demux->finish();
  if (auditing) pids.sample();
  peak.sample();
  // The run phase ends when the service stopped or Ignite sent the kill; the daemon's work to
  // complete the kill (longer under gVisor) is cleanup.
  result.phases.run = since(t0);
  t0 = steady_clock::now();
  // Finalising goes through even after a cancellation (the kill is what a cancel asks for);
  // each call is bounded by the client's timeouts.
  docker::CancelScope finalising{std::stop_token()};
  if (in_band) {
    result.exit_code = *exit_record;
    if (result.exit_code == 137) {
      if (ooms.available()) {
        result.oom_killed = ooms.read() > ooms_before;
      } else if (!reuse_mode) {
        // No cgroup counter to read: the daemon's record of the container tells.
        try {
          docker.container_wait(id);
          result.oom_killed = docker.container_inspect(id).at("State").value("OOMKilled", false);
        } catch (const Error&) {
          // A daemon that does not answer in time: the status stands, the OOM flag unknown.
        }
      }
    }
  } else {
    bool daemon_answers = true;
    try {
      // After a cancellation the caller is waiting to get control back: the kill is best
      // effort within a short bound, and the background removal (a forced delete) finishes it.
      const milliseconds bound = cancelled ? kCancelCleanupBound : milliseconds(0);
      if (end != docker::Attachment::End::Eof) docker.container_kill(id, "KILL", bound);
      result.exit_code = static_cast<int>(docker.container_wait(id, "not-running", bound));
    } catch (const Error& e) {
      // The daemon did not complete the kill or report the exit within its bounds: the
      // execution still ends now. The container is queued for removal (retried until it goes).
      if (e.code() != ErrorCode::DockerUnavailable && e.code() != ErrorCode::Docker &&
          e.code() != ErrorCode::NotFound) {
        throw;
      }
      result.exit_code = end == docker::Attachment::End::Eof ? -1 : 137;
      daemon_answers = false;
    }
    // The OOM killer's SIGKILL shows as 137; any other exit cannot be an OOM kill, so the
    // inspect round trip is spent only when it can tell something (not after a cancellation,
    // whose outcome it cannot change, nor when the daemon just failed to answer).
    if (result.exit_code == 137 && !cancelled && daemon_answers) {
      try {
        const json info = docker.container_inspect(id);
        result.oom_killed = info.at("State").value("OOMKilled", false);
      } catch (const Error&) {
        // Gone already, or the daemon does not answer: nothing more to learn.
      }
    }
  }
  // A reuse job that ended by a signal (crash, abort, OOM kill) may have left the container in
  // any state: it is not used again.
  if (reuse_mode && in_band && result.exit_code < 128) {
    // The job ended normally: the container serves the next job of this key.
    guard.dismiss();
    lent.returned = true;
    impl_->pool().give_back(std::move(*warm));
  } else {
    // Queued: the daemon deletes it after this call returns.
    guard.release(/*exiting=*/in_band && !reuse_mode);
  }
  result.phases.cleanup = since(t0);

  result.stdout_truncated = out.truncated();
  result.stderr_truncated = err.truncated();
  result.stdout_text = out.take();
  result.stderr_text = err.take();
  result.memory_peak_mb = peak.mb();
  const double memory_limit_mb = plan.memory_mb;
  // A runtime can die of its own allocation failure at the limit before the OOM killer acts
  // (gVisor reports ENOMEM to the process): killed by a signal with the cgroup at its limit is
  // the memory limit too.
  const bool died_at_limit = !result.oom_killed && result.exit_code > 128 &&
                             result.memory_peak_mb && *result.memory_peak_mb >= 0.9 * memory_limit_mb;
  if (result.oom_killed || died_at_limit) result.memory_peak_mb = memory_limit_mb;
  if (cancelled) {
    result.outcome = Outcome::Cancelled;
  } else if (timed_out) {
    result.outcome = Outcome::Timeout;
  } else if (flooded) {
    result.outcome = Outcome::OutputLimit;
  } else if (result.oom_killed || died_at_limit) {
    result.outcome = Outcome::MemoryLimit;
  } else {
    result.outcome = result.exit_code == 0 ? Outcome::Success : Outcome::Error;
  }
  if (auditing) {
    const SecurityPolicy& policy = *plan.policy;
    SecurityAudit audit;
    audit.policy = policy;
    // Events are never inferred from what the service printed: first what the bootstrap
    // reported through the nonce channel, in order of occurrence, then kernel-level facts.
    audit.events = audit_log->take(demux ? demux->malformed() : 0);
    auto event = [&](std::string action, std::string target, std::string details,
                     bool allowed = false) {
      audit.events.push_back({"resource", std::move(action), std::move(target), allowed,
                              detail::iso8601_now(), std::move(details)});
    };
    if (result.oom_killed) event("oom-kill", "memory", "the kernel OOM killer stopped the container");
    if (timed_out) {
      event("timeout-kill", "time", "killed after " + std::to_string(plan.timeout.count()) + "ms");
    }
    if (flooded) event("output-limit-kill", "output", "output exceeded the limit");
    if (pids.max_hits() > 0) {
      const int limit = policy.limits.pids.value_or(impl_->options.pids_limit);
      event("pids-limit", "pids",
            "the pids limit (" + std::to_string(limit) + ") refused " +
                std::to_string(pids.max_hits()) + " process/thread creations");
    }
    if (result.exit_code > 128 && result.exit_code < 128 + 65) {
      const int sig = result.exit_code - 128;
      // An observation, not a policy decision: a service may also exit with such a code itself.
      event("signal", "signal " + std::to_string(sig),
            "exit code " + std::to_string(result.exit_code) + ": the process ended on signal " +
                std::to_string(sig) + signal_name(sig) + ", or exited with that code itself",
            true);
    }
    result.audit = std::move(audit);
  }
  result.duration = since(t_begin);
  impl_->record_execution(svc, result.phases.run);
  if (pool_key) impl_->pool().refill(*pool_key);
  return result;
}

std::size_t Engine::prewarm(const Service& svc, const ExecuteOptions& opt, std::size_t count) {
  const Plan plan = impl_->plan(svc, opt);
  if (plan.mode == Plan::Mode::Cold) {
    throw Error(ErrorCode::Config, "prewarm " + svc.config.name + ": " + plan.why_cold);
  }
  docker::CancelScope cancel_scope(opt.stop_token);
  const detail::ServiceImage image =
      impl_->images().ensure(svc, plan.rt, plan.delivery, opt.on_build_output);
  if (count == 0) count = std::max<std::size_t>(impl_->options.pool.size, 1);
  const std::string key = impl_->want_pool(svc, opt, plan, image.ref, count);
  return impl_->pool().wait_ready(key, count, steady_clock::now() + seconds(120));
}

PoolStats Engine::pool_stats() const {
  std::lock_guard lock(impl_->pool_mu);
  return impl_->pool_ ? impl_->pool_->stats() : PoolStats{};
}

void Engine::drain_pool() {
  std::lock_guard lock(impl_->pool_mu);
  if (impl_->pool_) impl_->pool_->drain();
}

void Engine::flush() {
  impl_->check_process();
  if (impl_->remover) impl_->remover->flush();
}

PreflightResult Engine::preflight(const Service& svc, const PreflightOptions& options) {
  docker::CancelScope cancel_scope(options.stop_token);
  PreflightInputs inputs;
  inputs.last_execution = impl_->last_execution(svc);
  const ResolvedRuntime rt = impl_->resolve(options.runtime.value_or(svc.config.runtime));
  const CodeDelivery delivery = impl_->delivery(options.delivery);
  std::optional<detail::ServiceImage> image;
  if (options.build_image) {
    image = impl_->images().ensure(svc, rt, delivery, options.on_build_output);
  } else {
    try {
      image = impl_->images().find(svc, rt, delivery);
    } catch (const Error& e) {
      // Without a daemon (or its base image) there is no image to measure: skip that check.
      if (e.code() != ErrorCode::DockerUnavailable && e.code() != ErrorCode::Runtime) throw;
    }
  }
  if (image) inputs.image = ImageFacts{image->ref, image->size};
  return run_preflight(svc, inputs);
}

ExecutionReport Engine::report(const Service& svc, PreflightResult pf,
                               std::optional<ExecutionResult> execution) const {
  ReportLimits limits;
  limits.timeout = milliseconds(static_cast<std::int64_t>(std::llround(svc.config.timeout_ms)));
  limits.memory_mb = svc.config.memory_mb;
  return make_report(std::move(pf), std::move(execution), limits);
}

std::optional<milliseconds> Engine::last_execution(const Service& svc) const {
  return impl_->last_execution(svc);
}

namespace {
std::optional<std::string> base_image_id(docker::DockerClient& docker, const ResolvedRuntime& rt) {
  try {
    if (auto info = docker.image_inspect(rt.image)) return info->value("Id", "");
  } catch (const Error& e) {
    if (e.code() != ErrorCode::DockerUnavailable) throw;
  }
  return std::nullopt;
}
}  // namespace

LockManifest Engine::make_lock(const Service& svc) {
  const ResolvedRuntime rt = impl_->resolve(svc.config.runtime);
  return Ignite::make_lock(svc, rt, base_image_id(impl_->docker(), rt));
}

DriftReport Engine::check_lock(const Service& svc) {
  const ResolvedRuntime rt = impl_->resolve(svc.config.runtime);
  return check_drift(svc, rt, base_image_id(impl_->docker(), rt));
}

}  // namespace Ignite
