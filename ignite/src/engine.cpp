// Engine: the public API (engine.hpp) and the execution pipeline that connects its stages.
//
//   execute():  plan -> slot -> image -> lease -> job channel (pump) -> finalise -> classify
//               -> (reuse: give back | retire) -> history
//
// Each stage lives in its own file pair (docs/architecture.md): execution_plan, slots,
// image_builder, lease (and the pool's factory), container_spec, job_channel, cgroup_stats,
// finaliser, outcome, history. Engine::Impl owns what outlives an execution: the Docker
// client, the image builder, the remover, the pool, the containers it tracks, the history.
#include "ignite/engine.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <latch>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <shared_mutex>
#include <stop_token>
#include <thread>

#include "ignite/error.hpp"
#include "ignite/src/cgroup_stats.hpp"
#include "ignite/src/container_spec.hpp"
#include "ignite/src/docker/cancel.hpp"
#include "ignite/src/docker/client.hpp"
#include "ignite/src/execution_plan.hpp"
#include "ignite/src/finaliser.hpp"
#include "ignite/src/format_util.hpp"
#include "ignite/src/history.hpp"
#include "ignite/src/image_builder.hpp"
#include "ignite/src/image_copy.hpp"
#include "ignite/src/job_channel.hpp"
#include "ignite/src/job_cpu_meter.hpp"
#include "ignite/src/labels.hpp"
#include "ignite/src/lease.hpp"
#include "ignite/src/outcome.hpp"
#include "ignite/src/pool.hpp"
#include "ignite/src/reaper.hpp"
#include "ignite/src/service_files.hpp"
#include "ignite/src/remover.hpp"
#include "ignite/src/slots.hpp"
#include "ignite/src/swarm_backend.hpp"
#include "ignite/src/swarm_lease.hpp"
#include "ignite/version.hpp"

namespace fs = std::filesystem;
using namespace std::chrono;
using json = nlohmann::json;

namespace Ignite {

std::map<std::string, std::string> parse_labels(std::string_view text, std::string_view source) {
  std::map<std::string, std::string> labels;
  while (!text.empty()) {
    const auto comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    const auto eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      throw Error(ErrorCode::Config, std::string(source) + ": \"" + std::string(item) +
                                         "\" is not key=value (expected key=value,key=value)");
    }
    labels[std::string(item.substr(0, eq))] = std::string(item.substr(eq + 1));
  }
  return labels;
}
namespace {

using detail::Plan;
using detail::Remover;
using detail::since;

// Where the execution history lives: EngineOptions::state_dir, $IGNITE_STATE_DIR,
// $XDG_STATE_HOME/ignite, ~/.local/state/ignite, else the temporary directory.
// EngineOptions::backend, else $IGNITE_BACKEND, else Docker.
Backend backend_of(const EngineOptions& options) {
  if (options.backend) return *options.backend;
  const char* env = std::getenv("IGNITE_BACKEND");
  if (env == nullptr || *env == '\0') return Backend::Docker;
  const std::string_view v(env);
  if (v == "docker") return Backend::Docker;
  if (v == "swarm") return Backend::Swarm;
  throw Error(ErrorCode::Config,
              "IGNITE_BACKEND=" + std::string(v) + ": expected \"docker\" or \"swarm\"");
}

// EngineOptions::registry, else $IGNITE_REGISTRY; checked to be HOST:PORT when the swarm needs
// it. `source` names where it came from.
std::string registry_of(const EngineOptions& options, Backend backend) {
  std::string value = options.registry;
  std::string source = "registry";
  if (value.empty()) {
    if (const char* env = std::getenv("IGNITE_REGISTRY"); env && *env) {
      value = env;
      source = "IGNITE_REGISTRY";
    }
  }
  if (backend != Backend::Swarm) return value;
  if (value.empty()) {
    throw Error(ErrorCode::Config,
                "backend swarm needs a registry the swarm's nodes pull from: set "
                "EngineOptions::registry or IGNITE_REGISTRY (HOST:PORT), e.g. --registry "
                "198.18.0.1:5000");
  }
  const auto colon = value.rfind(':');
  const std::string port = colon == std::string::npos ? "" : value.substr(colon + 1);
  const bool port_ok = !port.empty() && port.size() <= 5 &&
                       port.find_first_not_of("0123456789") == std::string::npos &&
                       std::stoi(port) > 0 && std::stoi(port) < 65536;
  if (colon == std::string::npos || colon == 0 || !port_ok ||
      value.find_first_of("/ @") != std::string::npos) {
    throw Error(ErrorCode::Config, source + " \"" + value +
                                       "\": expected HOST:PORT of a registry (e.g. "
                                       "198.18.0.1:5000), without a scheme or path");
  }
  return value;
}

fs::path state_dir_of(const EngineOptions& options) {
  if (!options.state_dir.empty()) return options.state_dir;
  if (const char* d = std::getenv("IGNITE_STATE_DIR"); d && *d) return d;
  if (const char* x = std::getenv("XDG_STATE_HOME"); x && *x) return fs::path(x) / "ignite";
  if (const char* h = std::getenv("HOME"); h && *h) return fs::path(h) / ".local/state/ignite";
  return fs::temp_directory_path() / "ignite-state";
}

}  // namespace

std::string_view version() noexcept { return IGNITE_VERSION_STRING; }

std::string_view to_string(Backend backend) noexcept {
  return backend == Backend::Swarm ? "swarm" : "docker";
}

std::string_view to_string(Outcome outcome) noexcept {
  switch (outcome) {
    case Outcome::Success: return "success";
    case Outcome::Error: return "error";
    case Outcome::Timeout: return "timeout";
    case Outcome::MemoryLimit: return "memory_limit";
    case Outcome::OutputLimit: return "output_limit";
    case Outcome::Cancelled: return "cancelled";
    case Outcome::CpuLimit: return "cpu_limit";
  }
  return "error";
}

struct Engine::Impl {
  EngineOptions options;
  docker::Endpoint endpoint;
  std::string session = detail::random_hex(16);
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
  std::set<std::string> kept;  // EngineOptions::keep_containers; under live_mu
  // The process that made this Engine: its threads exist only there (see check_process()).
  pid_t owner_pid = ::getpid();
  std::mutex pool_mu;
  std::unique_ptr<detail::Pool> pool_;
  std::atomic<std::size_t> reaped_on_start{0};
  std::atomic<std::size_t> images_reaped_on_start{0};
  std::atomic<std::size_t> swarm_reaped_on_start{0};
  Backend backend = Backend::Docker;
  std::string image_registry;  // EngineOptions::registry or $IGNITE_REGISTRY
  // Backend::Swarm: created with the client; destroyed before it.
  std::unique_ptr<detail::SwarmBackend> swarm_;
  const PoolOptions no_pool{.size = 0};  // a swarm runs every job cold
  // The reap on first contact runs in the background (a new Engine's first execution does not
  // wait for the deletion of what dead owners left, 20-80 ms each); gc() waits for it.
  std::latch reap_done{1};
  std::once_flag info_once;
  json daemon_info;
  detail::Slots slots;
  fs::path state_dir;  // state_dir_of(options), once: the history and the image-sweep stamp
  detail::ExecutionHistory history;
  std::map<std::string, std::string> extra_labels;  // EngineOptions::labels + $IGNITE_LABELS
  // Last: stopped (its calls cancelled) and joined before anything it uses goes.
  std::unique_ptr<std::jthread> reaper;

  explicit Impl(EngineOptions opts)
      : options(std::move(opts)),
        slots(options.max_concurrent),
        state_dir(state_dir_of(options)),
        history(state_dir) {
    backend = backend_of(options);
    image_registry = registry_of(options, backend);
    extra_labels = options.labels;
    if (const char* env = std::getenv("IGNITE_LABELS"); env && *env) {
      for (auto& [k, v] : parse_labels(env, "IGNITE_LABELS")) extra_labels.try_emplace(k, v);
    }
    for (const auto& [k, v] : extra_labels) {
      if (k.empty()) throw Error(ErrorCode::Config, "labels: a label key is empty");
      if (k.rfind("dev.ignite.", 0) == 0 && k != "dev.ignite.test-run") {
        throw Error(ErrorCode::Config, "labels: \"" + k +
                                           "\" is reserved for Ignite's own labels (dev.ignite.*)");
      }
    }
    // They go into every image build's Dockerfile: what a LABEL line cannot carry fails here.
    detail::label_instruction(extra_labels);
    endpoint = docker::resolve_endpoint({.host = options.docker_host,
                                         .context = options.docker_context,
                                         .tls_verify = options.docker_tls_verify,
                                         .cert_path = options.docker_cert_path,
                                         .allow_plain_tcp = options.allow_plain_tcp,
                                         .ssh_options = options.ssh_options});
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
  // EngineOptions::keep_containers: the container ran its job and stays, untouched by the sweep.
  void keep(const std::string& id) {
    std::lock_guard lock(live_mu);
    live.erase(id);
    kept.insert(id);
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
      client = std::make_unique<docker::DockerClient>(endpoint);
      client->set_timeouts({options.docker_timeouts.metadata, options.docker_timeouts.lifecycle,
                            options.docker_timeouts.build});
      builder = std::make_unique<detail::ImageBuilder>(*client, session, extra_labels);
      Remover::SweepOptions sweep;
      sweep.labels = {std::string(labels::kSession) + "=" + session};
      sweep.in_use = [this](const std::string& id) {
        std::lock_guard lock(live_mu);
        return live.contains(id) || kept.contains(id);
      };
      sweep.interval = options.cleanup.sweep_interval;
      sweep.grace = options.cleanup.sweep_grace;
      sweep.shutdown_grace = options.cleanup.shutdown_grace;
      remover = std::make_unique<Remover>(*client, std::move(sweep));
      if (backend == Backend::Swarm) {
        swarm_ = std::make_unique<detail::SwarmBackend>(*client, image_registry, endpoint.url,
                                                        options.cleanup.shutdown_grace);
      }
      if (!options.reap_on_start) {
        reap_done.count_down();
        return;
      }
      reaper = std::make_unique<std::jthread>([this](std::stop_token stop) {
        docker::CancelScope scope(stop);
        try {
          reaped_on_start = detail::reap(*client).containers;
          // What builds of dead processes left (a live process removes its own): at most once
          // per kDanglingImageAge per daemon and state directory (reaper.hpp, sweep_due).
          const fs::path stamp = state_dir /
                                 ("image-sweep-" + detail::sha256_hex(endpoint.url).substr(0, 16));
          if (detail::sweep_due(stamp, detail::kDanglingImageAge)) {
            images_reaped_on_start =
                detail::reap_dangling_images(*client, detail::kDanglingImageAge);
          }
        } catch (const Error&) {
          // An unreachable daemon is reported by the call that needed it, not by the reaper.
        }
        if (swarm_) {
          try {
            swarm_reaped_on_start = swarm_->reap();
          } catch (const Error&) {
            // Not a manager (yet): the first execution says so.
          }
        }
        reap_done.count_down();
      });
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
      (void)reaper.release();
      (void)pool_.release();
      (void)swarm_.release();
      (void)remover.release();
      (void)builder.release();
      (void)client.release();
      return;
    }
    // A reap still running is abandoned (the next Engine reaps); then the swarm backend and
    // the pool (its containers go to the remover), then the remover finishes its queue.
    reaper.reset();
    swarm_.reset();
    pool_.reset();
    remover.reset();
    history.flush();
  }

  Plan plan(const Service& svc, const ExecuteOptions& opt) {
    const bool swarm = backend == Backend::Swarm;
    if (swarm) refuse_on_swarm(svc, opt);
    Plan p = detail::plan(
        svc, opt,
        {.resolve = [this](const std::string& spec) { return resolve(spec); },
         .require_runtime =
             [this, swarm](const std::string& name, const SecurityPolicy& policy) {
               if (swarm) {
                 throw Error(ErrorCode::Config,
                             (policy.source ? policy.source->string() : std::string("policy")) +
                                 ": isolation: gvisor cannot be enforced on the swarm backend "
                                 "(a swarm service cannot choose its OCI runtime)");
               }
               require_runtime(name, policy);
             },
         // A swarm's nodes cannot see this host's files: the service is baked into its image.
         .delivery = swarm ? CodeDelivery::Baked : options.delivery,
         .pool = swarm ? no_pool : options.pool,
         .daemon = daemon_place()});
    if (swarm && p.policy && !p.policy->allow_spawn) {
      throw Error(ErrorCode::Config,
                  (p.policy->source ? p.policy->source->string() : std::string("policy")) +
                      ": allowSpawn: false cannot be enforced on the swarm backend (a swarm "
                      "service cannot carry a seccomp profile)");
    }
    return p;
  }

  // What the swarm API cannot express, refused before anything is created.
  void refuse_on_swarm(const Service& svc, const ExecuteOptions& opt) const {
    const std::string where = (svc.path / "service.yaml").string();
    if (opt.delivery == CodeDelivery::Mount || options.delivery == CodeDelivery::Mount) {
      throw Error(ErrorCode::Config,
                  "delivery mount: a swarm's nodes cannot see this host's files; the swarm "
                  "backend bakes the service into its image (use delivery auto or baked)");
    }
    if (opt.cpu_time_limit || svc.config.cpu_time_ms) {
      throw Error(ErrorCode::Config,
                  (opt.cpu_time_limit ? std::string("cpu_time_limit") : where + ": cpuTimeMs") +
                      ": a CPU-time limit is not available on the swarm backend (a task's CPU "
                      "accounting is in its node's cgroups, out of the manager's reach)");
    }
    if (opt.audit) {
      throw Error(ErrorCode::Config,
                  "audit mode is not available on the swarm backend (its records would travel "
                  "through a file the service can read); audit on the docker backend");
    }
    bool network = svc.config.network;
    if (network) {
      if (const SecurityPolicy pol = load_policy(svc.path); pol.source) {
        network = pol.network_enabled;
      }
    }
    if (network) {
      throw Error(ErrorCode::Config,
                  where + ": network: true is not available on the swarm backend (every job "
                          "runs on an internal overlay network with no route out)");
    }
  }

  detail::SwarmBackend& swarm() {
    docker();
    swarm_->require_manager();
    return *swarm_;
  }

  ExecutionResult run_swarm(const Service& svc, const ExecuteOptions& opt, const Plan& plan,
                            steady_clock::time_point t_begin);

  // What every container of this Engine carries (labels, default limits).
  detail::ContainerDefaults container_defaults() const {
    return {session, extra_labels, options.pids_limit, options.tmpfs_size};
  }

  // What leases and the pool's factory need from this Engine.
  detail::LeaseContext lease_context() {
    return {.docker = docker(),
            .images = images(),
            .remover = *remover,
            .pool = [this]() -> detail::Pool& { return pool(); },
            .track = [this](const std::string& id) { track(id); },
            .retire = [this](std::string id, bool exiting) { retire(std::move(id), exiting); },
            .defaults = container_defaults(),
            .pool_size = options.pool.size,
            .auto_remove = options.cleanup.auto_remove};
  }

  // The execution once it holds a slot: lease a container, run the job, finalise, classify.
  ExecutionResult run(const Service& svc, const ExecuteOptions& opt, const Plan& plan,
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
    return detail::resolve_delivery(requested, options.delivery, daemon_place()).delivery;
  }

  // Whether the daemon sees this host's files, for the delivery mode.
  detail::DaemonPlace daemon_place() const { return {endpoint.local(), endpoint.url}; }

  ResolvedRuntime resolve(const std::string& spec) const {
    std::shared_lock lock(registry_mu);
    return registry.resolve(spec);
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

std::string Engine::docker_endpoint() const { return impl_->endpoint.url; }

bool Engine::docker_is_local() const noexcept { return impl_->endpoint.local(); }

ImageCopyResult Engine::copy_images(Engine& target, const ImageCopyOptions& options) {
  std::vector<std::string> images;
  auto& from = impl_->docker();
  if (options.images.empty()) {
    // Every runtime image the source has (a custom runtime's too).
    const RuntimeRegistry registry = runtimes();
    for (const Runtime& rt : registry.all()) {
      for (const RuntimeVersion& v : rt.versions) {
        if (std::find(images.begin(), images.end(), v.image) == images.end() &&
            from.image_inspect(v.image)) {
          images.push_back(v.image);
        }
      }
    }
    if (images.empty()) {
      throw Error(ErrorCode::NotFound, "copy images: the Docker daemon at " +
                                           impl_->endpoint.url +
                                           " has none of the runtime images (run tools/bootstrap)");
    }
  } else {
    for (const std::string& item : options.images) {
      // "ignite-runtime/node:20" names an image; "node", "node@20" a runtime.
      images.push_back(item.find(':') != std::string::npos ? item : impl_->resolve(item).image);
    }
  }
  return detail::copy_images(from, target.impl_->docker(), images, options);
}

GcResult Engine::gc(bool service_images) {
  auto& docker = impl_->docker();  // may reap on first contact: those count too
  impl_->reap_done.wait();
  const auto r = detail::reap(docker, service_images);
  // The start-up reap's dangling images count as images gc removed only where gc removes
  // images itself: a plain gc reports containers.
  const std::size_t images_on_start = impl_->images_reaped_on_start.exchange(0);
  GcResult result{r.containers + impl_->reaped_on_start.exchange(0),
                  r.images + (service_images ? images_on_start : 0), 0};
  if (impl_->swarm_) {
    impl_->swarm_->require_manager();
    result.swarm_objects = impl_->swarm_->reap() + impl_->swarm_reaped_on_start.exchange(0);
  }
  return result;
}

std::size_t Engine::remove_containers() {
  auto& docker = impl_->docker();
  drain_pool();
  flush();
  {
    std::lock_guard lock(impl_->live_mu);
    impl_->kept.clear();  // listed below with the rest of the session's containers
  }
  std::size_t removed = 0;
  for (const auto& c : docker.containers_list(
           {std::string(labels::kSession) + "=" + impl_->session}, true)) {
    if (docker.container_remove(c.value("Id", ""), true)) ++removed;
  }
  return removed;
}

bool Engine::release_kept(const std::string& container_id) {
  {
    std::lock_guard lock(impl_->live_mu);
    if (impl_->kept.erase(container_id) == 0) return false;
  }
  impl_->retire(container_id);
  return true;
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
    detail::Slots& s;
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

ExecutionResult Engine::Impl::run_swarm(const Service& svc, const ExecuteOptions& opt,
                                        const Plan& plan, steady_clock::time_point t_begin) {
  ExecutionResult result;
  result.service_name = svc.config.name;
  result.runtime = plan.rt.spec();
  result.placement.backend = "swarm";
  result.placement.host = endpoint.url;
  result.delivery = CodeDelivery::Baked;
  result.delivery_note = "the swarm backend bakes the service into its image (its nodes cannot "
                         "see this host's files)";
  detail::SwarmBackend& sw = swarm();

  // ---- the image: built here, pushed once, pinned by digest ---------------------------------
  detail::ServiceImage image = images().ensure(svc, plan.rt, plan.delivery, opt.on_build_output);
  const auto t_push = steady_clock::now();
  bool pushed = false;
  result.image = sw.pinned_image(image, pushed);
  result.cold_start = image.built || pushed;
  result.phases.build = image.build_time + (pushed ? since(t_push) : microseconds(0));

  // ---- the service: secret, network, service; its task runs on any node -------------------
  auto t0 = steady_clock::now();
  detail::SwarmLease lease(sw, container_defaults(), svc, opt, plan, result.image);
  result.phases.create = since(t0);
  t0 = steady_clock::now();
  const detail::JobEnd end = lease.pump(plan.timeout);
  const auto running_at = lease.running_at() == steady_clock::time_point{} ? t0 : lease.running_at();
  result.phases.start = duration_cast<microseconds>(running_at - t0);
  result.phases.run = since(running_at);

  // ---- finish: status, OOM verdict, removal ------------------------------------------------
  t0 = steady_clock::now();
  const detail::SwarmFinish fin = lease.finish(end);
  result.exit_code = fin.exit_code;
  result.oom_killed = fin.oom_killed;
  result.memory_peak_mb = fin.memory_peak_mb;
  result.container_id = lease.container_id();
  result.placement.node = lease.node_id();
  result.placement.task = lease.task_id();
  result.phases.cleanup = since(t0);

  result.stdout_truncated = lease.out().truncated();
  result.stderr_truncated = lease.err().truncated();
  result.stdout_text = lease.out().take();
  result.stderr_text = lease.err().take();
  detail::classify(result, end, plan.memory_mb);
  result.duration = since(t_begin);
  history.record_execution(svc, duration_cast<milliseconds>(result.phases.run));
  return result;
}

ExecutionResult Engine::Impl::run(const Service& svc, const ExecuteOptions& opt,
                                  const Plan& plan, steady_clock::time_point t_begin) {
  if (backend == Backend::Swarm) return run_swarm(svc, opt, plan, t_begin);
  ExecutionResult result;
  result.service_name = svc.config.name;
  result.runtime = plan.rt.spec();
  result.placement.host = endpoint.url;
  result.delivery = plan.delivery;
  result.delivery_note = plan.delivery_note;

  // ---- the image ----------------------------------------------------------------------------
  detail::ServiceImage image = images().ensure(svc, plan.rt, plan.delivery, opt.on_build_output);
  result.image = image.ref;
  result.cold_start = image.built;
  result.phases.build = image.build_time;

  // ---- the container: from the pool, or created now ----------------------------------------
  detail::Lease lease(lease_context(), svc, opt, plan, image);
  result.container_id = lease.id();
  result.container_start = lease.start();
  result.container_job = lease.job();
  result.phases.create = lease.create_time();
  result.phases.start = lease.start_time();

  // ---- the job ------------------------------------------------------------------------------
  auto t0 = steady_clock::now();
  const auto deadline = t0 + plan.timeout;
  detail::JobChannel channel(lease, plan, opt);
  detail::JobCpuMeter cpu(lease.id(),
                          lease.kind() == detail::Lease::Kind::Cold
                              ? detail::JobCpuMeter::Baseline::ContainerStart
                              : detail::JobCpuMeter::Baseline::Dispatch,
                          plan.cpu_time_limit);
  if (plan.cpu_time_limit && !cpu.available()) {
    // Not enforced is worse than not run: the container goes (the Lease), nothing ran in it.
    throw Error(ErrorCode::Execution,
                "cpuTimeMs: the CPU accounting of container " + lease.id().substr(0, 12) +
                    " (its cgroup) is not readable on this host, so the CPU-time limit cannot "
                    "be enforced");
  }
  detail::CgroupPeak peak(lease.id());
  // A reused container's cgroup peak so far belongs to earlier jobs.
  if (lease.kind() == detail::Lease::Kind::Reuse) peak.reset();
  peak.sample();
  detail::CgroupOomKills ooms(lease.supervised() ? lease.id() : std::string());
  const std::uint64_t ooms_before = ooms.read();
  const bool auditing = plan.policy && opt.audit;
  detail::CgroupPidsEvents pids(auditing ? lease.id() : std::string());
  const detail::JobEnd end = channel.pump(deadline, cpu, [&] {
    peak.sample();
    if (auditing) pids.sample();
  });
  if (auditing) pids.sample();
  peak.sample();
  // The run phase ends when the service stopped or Ignite sent the kill; the daemon's work to
  // complete the kill (longer under gVisor) is cleanup.
  result.phases.run = since(t0);

  // ---- finalise: exit status, OOM verdict, the container's fate ------------------------------
  t0 = steady_clock::now();
  detail::Finalised fin;
  if (end.in_band()) {
    fin = detail::finalise(lease, end, ooms, ooms_before);
  } else {
    // Killed: it ran on until the kill took effect, and that CPU time is the job's too.
    cpu.sample_during([&] { fin = detail::finalise(lease, end, ooms, ooms_before); });
  }
  result.cpu_time = cpu.used();
  result.exit_code = fin.exit_code;
  result.oom_killed = fin.oom_killed;
  // A reuse job that ended by a signal (crash, abort, OOM kill) may have left the container in
  // any state: it is not used again.
  if (lease.kind() == detail::Lease::Kind::Reuse && end.in_band() && result.exit_code < 128) {
    // The job ended normally: the container serves the next job of this key.
    lease.give_back();
  } else if (options.keep_containers) {
    lease.keep();
    keep(lease.id());
  } else {
    // Queued: the daemon deletes it after this call returns.
    lease.retire(/*exiting=*/end.in_band() && lease.kind() != detail::Lease::Kind::Reuse);
  }
  result.phases.cleanup = since(t0);

  // ---- classify -----------------------------------------------------------------------------
  result.stdout_truncated = channel.out().truncated();
  result.stderr_truncated = channel.err().truncated();
  result.stdout_text = channel.out().take();
  result.stderr_text = channel.err().take();
  result.memory_peak_mb = peak.mb();
  // Reuse mode with pre-boot: the next job's runtime booted in this cgroup while this job ran;
  // its memory at the end of the job is not this job's (an approximation: its size at the
  // peak may have been smaller, and a pre-boot the OOM killer took reports none).
  if (result.memory_peak_mb && end.preboot.memory_kib > 0) {
    const double mb = *result.memory_peak_mb - static_cast<double>(end.preboot.memory_kib) / 1024.0;
    result.memory_peak_mb = std::max(0.0, std::round(mb * 100.0) / 100.0);
  }
  detail::classify(result, end, plan.memory_mb);
  if (auditing) {
    result.audit = detail::make_audit(*plan.policy, channel.take_audit_events(), result, end,
                                      plan.timeout, plan.cpu_time_limit, pids.max_hits(),
                                      options.pids_limit);
  }
  result.duration = since(t_begin);
  history.record_execution(svc, duration_cast<milliseconds>(result.phases.run));
  lease.refill_pool();
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
  const std::string key = detail::want_pool(impl_->lease_context(), svc, opt, plan, image.ref, count);
  const std::size_t ready =
      impl_->pool().wait_ready(key, count, steady_clock::now() + seconds(120), opt.stop_token);
  if (opt.stop_token.stop_requested()) {
    // What is starting stays in the pool (drain_pool() and the destructor remove it).
    throw Error(ErrorCode::Cancelled, "prewarm " + svc.config.name + ": cancelled");
  }
  return ready;
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
  if (impl_->swarm_) impl_->swarm_->flush();
  if (impl_->remover) impl_->remover->flush();
  if (impl_->builder) impl_->builder->flush();
}

PreflightResult Engine::preflight(const Service& svc, const PreflightOptions& options) {
  docker::CancelScope cancel_scope(options.stop_token);
  PreflightInputs inputs;
  inputs.last_execution = impl_->history.last_execution(svc);
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
  if (const auto& cpu = svc.config.cpu_time_ms; cpu && *cpu > 0 && *cpu <= 1e12) {
    limits.cpu_time = microseconds(std::llround(*svc.config.cpu_time_ms * 1000.0));
  }
  return make_report(std::move(pf), std::move(execution), limits);
}

std::optional<milliseconds> Engine::last_execution(const Service& svc) const {
  return impl_->history.last_execution(svc);
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