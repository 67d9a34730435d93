#include "ignite/engine.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <atomic>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <shared_mutex>

#include "ignite/error.hpp"
#include "ignite/src/audit.hpp"
#include "ignite/src/audit_log.hpp"
#include "ignite/src/docker/client.hpp"
#include "ignite/src/format_util.hpp"
#include "ignite/src/image_builder.hpp"
#include "ignite/src/labels.hpp"
#include "ignite/src/reaper.hpp"
#include "ignite/src/seccomp.hpp"
#include "ignite/src/service_files.hpp"
#include "ignite/version.hpp"

namespace fs = std::filesystem;
using namespace std::chrono;
using json = nlohmann::json;

namespace Ignite {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;

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

// Peak memory of a container's cgroup, read from the host's cgroup filesystem (v1 or v2). The
// cgroup disappears with the container, so it is sampled while the container runs.
class CgroupPeak {
 public:
  explicit CgroupPeak(const std::string& id) {
    const std::string candidates[] = {
        "/sys/fs/cgroup/memory/docker/" + id + "/memory.max_usage_in_bytes",
        "/sys/fs/cgroup/system.slice/docker-" + id + ".scope/memory.peak",
        "/sys/fs/cgroup/docker/" + id + "/memory.peak",
    };
    for (const auto& c : candidates) {
      // Kept open and re-read with pread: sampling runs every 20 ms of every execution.
      fd_ = ::open(c.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd_ >= 0) break;
    }
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
  int fd_ = -1;
  unsigned long long peak_ = 0;
  bool seen_ = false;
};

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
  explicit CgroupPidsEvents(const std::string& id) {
    const std::string candidates[] = {
        "/sys/fs/cgroup/pids/docker/" + id + "/pids.events",
        "/sys/fs/cgroup/system.slice/docker-" + id + ".scope/pids.events",
        "/sys/fs/cgroup/docker/" + id + "/pids.events",
    };
    for (const auto& c : candidates) {
      if (::access(c.c_str(), R_OK) == 0) {
        path_ = c;
        break;
      }
    }
  }
  void sample() {
    if (path_.empty()) return;
    std::ifstream in(path_);
    std::string key;
    unsigned long long v = 0;
    while (in >> key >> v) {
      if (key == "max") max_ = std::max(max_, v);
    }
  }
  unsigned long long max_hits() const { return max_; }

 private:
  std::string path_;
  unsigned long long max_ = 0;
};

// Removes the container when the execution leaves scope, whatever happened.
class ContainerGuard {
 public:
  ContainerGuard(docker::DockerClient& client, std::string id) : client_(client), id_(std::move(id)) {}
  ~ContainerGuard() { release(); }
  ContainerGuard(const ContainerGuard&) = delete;
  ContainerGuard& operator=(const ContainerGuard&) = delete;
  void release() noexcept {
    if (id_.empty()) return;
    try {
      client_.container_remove(id_, true);
    } catch (...) {
      // Cleanup never throws; the reaper removes what is left (labelled by session).
    }
    id_.clear();
  }

 private:
  docker::DockerClient& client_;
  std::string id_;
};

// Bounds how many executions run at once.
class Slots {
 public:
  explicit Slots(std::size_t n) : free_(n == 0 ? 1 : n) {}
  void acquire() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return free_ > 0; });
    --free_;
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
  std::condition_variable cv_;
  std::size_t free_;
};

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
  std::atomic<std::size_t> reaped_on_start{0};
  std::once_flag info_once;
  json daemon_info;
  Slots slots;
  fs::path state_dir;
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

  docker::DockerClient& docker() {
    std::call_once(client_once, [&] {
      client = std::make_unique<docker::DockerClient>(socket_path);
      builder = std::make_unique<detail::ImageBuilder>(*client, session);
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

  fs::path history_file(const Service& svc) const {
    return state_dir / "history" / (detail::sha256_hex(svc.path.string()).substr(0, 24) + ".json");
  }

  std::optional<milliseconds> last_execution(const Service& svc) {
    std::lock_guard lock(history_mu);
    std::ifstream in(history_file(svc));
    if (!in) return std::nullopt;
    const json j = json::parse(in, nullptr, false);
    if (!j.is_object() || !j.contains("lastExecutionMs") || !j["lastExecutionMs"].is_number()) {
      return std::nullopt;  // unreadable history is no history; it is rewritten on the next run
    }
    return milliseconds(j["lastExecutionMs"].get<std::int64_t>());
  }

  // Best effort: history only feeds a preflight hint, so failing to write it never fails a run.
  void record_execution(const Service& svc, milliseconds run) noexcept {
    try {
      std::lock_guard lock(history_mu);
      const fs::path file = history_file(svc);
      std::error_code ec;
      fs::create_directories(file.parent_path(), ec);
      const fs::path tmp = file.string() + ".tmp-" + random_hex(8);
      {
        std::ofstream out(tmp, std::ios::trunc);
        out << json{{"service", svc.path.string()}, {"lastExecutionMs", run.count()}}.dump();
        if (!out) return;
      }
      fs::rename(tmp, file, ec);
      if (ec) fs::remove(tmp, ec);
    } catch (...) {
    }
  }

  ResolvedRuntime resolve(const std::string& spec) const {
    std::shared_lock lock(registry_mu);
    return registry.resolve(spec);
  }

  json create_body(const Service& svc, const ResolvedRuntime& rt, const std::string& image,
                   CodeDelivery delivery, const ExecuteOptions& opt,
                   const std::vector<std::string>& env,
                   const std::optional<SecurityPolicy>& policy, bool audit,
                   bool audit_bootstrap) const {
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
        // An init reaps orphans and forwards signals. It must fork the runtime, which the
        // no-spawn filter refuses; with that filter there can be no orphans to reap.
        {"Init", !no_spawn},
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
    // NetworkDisabled leaves only loopback without the ~300 ms network sandbox set-up that
    // NetworkMode "none" costs on this daemon.
    std::vector<std::string> cmd = rt.argv(svc.config.entry);
    // Deno enforces its own subprocess permission: narrow it to the allowed commands.
    if (policy && policy->allow_spawn && !policy->allowed_commands.empty() && rt.name == "deno" &&
        cmd.size() > 2) {
      std::string allow = "--allow-run=";
      for (std::size_t i = 0; i < policy->allowed_commands.size(); ++i) {
        allow += (i ? "," : "") + policy->allowed_commands[i];
      }
      cmd.insert(cmd.begin() + 2, allow);
    }
    // Audit mode: the runtime loads the audit bootstrap before the entry (audit.hpp).
    if (audit_bootstrap) {
      if (auto with_bootstrap = detail::audit_argv(cmd)) cmd = std::move(*with_bootstrap);
    }
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

ExecutionResult Engine::execute(const Service& svc, const ExecuteOptions& opt) {
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

  const ResolvedRuntime rt = impl_->resolve(opt.runtime.value_or(svc.config.runtime));
  // A policy file is enforced on every run; audit mode enforces the default without one.
  std::optional<SecurityPolicy> policy;
  if (SecurityPolicy p = load_policy(svc.path); p.source || opt.audit) policy = std::move(p);
  if (policy && policy->isolation == Isolation::Gvisor) impl_->require_runtime("runsc", *policy);
  const std::size_t output_limit =
      policy && policy->limits.output_bytes ? std::min(opt.output_limit, *policy->limits.output_bytes)
                                            : opt.output_limit;
  const milliseconds timeout =
      opt.timeout.value_or(milliseconds(static_cast<std::int64_t>(std::llround(svc.config.timeout_ms))));

  std::map<std::string, std::string> env_map = svc.config.env;
  for (const auto& [k, v] : opt.env) env_map[k] = v;
  const std::string input = opt.input.value_or("");
  // Audit mode with a bootstrap for this runtime: stdin starts with a per-execution nonce line
  // that the bootstrap consumes before the service's code runs (audit.hpp).
  const bool audit_bootstrap = opt.audit && detail::audit_argv(rt.argv(svc.config.entry)).has_value();
  const std::string nonce = audit_bootstrap ? detail::audit_nonce() : std::string();
  env_map["IGNITE_INPUT"] = input.size() <= kMaxEnvInput ? input : "";
  env_map["IGNITE_INPUT_BYTES"] = std::to_string(input.size());
  env_map.try_emplace("NODE_ENV", "production");
  std::vector<std::string> env;
  for (const auto& [k, v] : env_map) env.push_back(k + "=" + v);

  impl_->slots.acquire();
  struct SlotRelease {
    Slots& s;
    ~SlotRelease() { s.release(); }
  } slot_release{impl_->slots};

  docker::DockerClient& docker = impl_->docker();
  ExecutionResult result;
  result.service_name = svc.config.name;
  result.runtime = rt.spec();

  const auto t_begin = steady_clock::now();
  const CodeDelivery delivery = impl_->delivery(opt.delivery);
  const detail::ServiceImage image = impl_->images().ensure(svc, rt, delivery, opt.on_build_output);
  result.image = image.ref;
  result.cold_start = image.built;
  result.phases.build = image.build_time;

  auto t0 = steady_clock::now();
  const json body =
      impl_->create_body(svc, rt, image.ref, delivery, opt, env, policy, opt.audit, audit_bootstrap);
  const std::string id =
      docker.container_create(body, "ignite-" + svc.config.name + "-" + random_hex(10));
  ContainerGuard guard(docker, id);
  // Attach before start: output written before an attach is lost otherwise.
  docker::Attachment attachment = docker.container_attach(id, true);
  result.phases.create = since(t0);

  t0 = steady_clock::now();
  docker.container_start(id);
  result.phases.start = since(t0);

  t0 = steady_clock::now();
  const auto deadline = t0 + timeout;
  CappedBuffer out(output_limit, opt.on_stdout);
  CappedBuffer err(output_limit, opt.on_stderr);
  CgroupPeak peak(id);
  peak.sample();
  const bool auditing = policy && opt.audit;
  CgroupPidsEvents pids(auditing ? id : std::string());
  // Audit records leave the stderr stream here: they never reach stderr_text, on_stderr or the
  // output cap.
  std::optional<detail::AuditLog> audit_log;
  std::optional<detail::AuditDemux> demux;
  if (auditing) {
    audit_log.emplace(*policy, delivery == CodeDelivery::Mount);
    if (audit_bootstrap) {
      demux.emplace(
          nonce, [&](std::string_view data) { err.append(data); },
          [&](detail::AuditRecord&& r) { audit_log->add(std::move(r)); });
    }
  }
  const std::string audit_stdin = audit_bootstrap ? nonce + "\n" + input : std::string();
  bool cancelled = false;
  bool flooded = false;
  const auto end = attachment.pump(
      audit_bootstrap ? std::string_view(audit_stdin) : std::string_view(input),
      [&](docker::StreamKind kind, std::string_view data) {
        if (kind != docker::StreamKind::Stderr) {
          out.append(data);
        } else if (demux) {
          demux->feed(data);
        } else {
          err.append(data);
        }
      },
      deadline,
      [&] {
        peak.sample();
        if (auditing) pids.sample();
        if (opt.stop_token.stop_requested()) cancelled = true;
        if (out.truncated() || err.truncated()) flooded = true;
        return cancelled || flooded;
      });
  const bool timed_out = end == docker::Attachment::End::Deadline;
  // Drop the attach stream before the kill: a flooding container blocked on a full stdout pipe
  // otherwise holds up the daemon's kill under gVisor.
  attachment.close();
  if (demux) demux->finish();
  if (auditing) pids.sample();
  // The run phase ends when the service stopped or Ignite sent the kill; the daemon's work to
  // complete the kill (longer under gVisor) is cleanup.
  result.phases.run = since(t0);
  t0 = steady_clock::now();
  if (end != docker::Attachment::End::Eof) docker.container_kill(id, "KILL");
  result.exit_code = static_cast<int>(docker.container_wait(id));
  // The OOM killer's SIGKILL shows as 137; any other exit cannot be an OOM kill, so the inspect
  // round trip is spent only when it can tell something.
  if (result.exit_code == 137) {
    try {
      const json info = docker.container_inspect(id);
      result.oom_killed = info.at("State").value("OOMKilled", false);
    } catch (const Error&) {
      // Gone already: nothing more to learn.
    }
  }
  guard.release();
  result.phases.cleanup = since(t0);

  result.stdout_truncated = out.truncated();
  result.stderr_truncated = err.truncated();
  result.stdout_text = out.take();
  result.stderr_text = err.take();
  result.memory_peak_mb = peak.mb();
  const double memory_limit_mb = opt.memory_mb.value_or(svc.config.memory_mb);
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
    SecurityAudit audit;
    audit.policy = *policy;
    // Events are never inferred from what the service printed: first what the bootstrap
    // reported through the nonce channel, in order of occurrence, then kernel-level facts.
    audit.events = audit_log->take(demux ? demux->malformed() : 0);
    auto event = [&](std::string action, std::string target, std::string details,
                     bool allowed = false) {
      audit.events.push_back({"resource", std::move(action), std::move(target), allowed,
                              detail::iso8601_now(), std::move(details)});
    };
    if (result.oom_killed) event("oom-kill", "memory", "the kernel OOM killer stopped the container");
    if (timed_out) event("timeout-kill", "time", "killed after " + std::to_string(timeout.count()) + "ms");
    if (flooded) event("output-limit-kill", "output", "output exceeded the limit");
    if (pids.max_hits() > 0) {
      const int limit = policy->limits.pids.value_or(impl_->options.pids_limit);
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
  return result;
}

PreflightResult Engine::preflight(const Service& svc, const PreflightOptions& options) {
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
