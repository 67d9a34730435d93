// File: ignite/engine.hpp
//
// `Ignite::Engine` drives Docker (Engine API over the unix socket) to run services in fresh,
// hardened containers: non-root, no capabilities, no new privileges, read-only root filesystem
// with a small /tmp, pids limit, no network unless service.yaml asks, memory/CPU/time limits,
// and the service directory mounted read-only at /app. Every container is labelled and removed.
//
// Example:
//   Ignite::Engine engine;                       // DOCKER_HOST, the docker context, or
//                                                // /var/run/docker.sock
//   Ignite::Service svc = engine.load("examples/services/hello-node");
//   Ignite::ExecutionResult r = engine.execute(svc, {.input = R"({"name":"World"})"});
//   std::cout << r.stdout_text << "exit " << r.exit_code << "\n";
//
// Thread-safety: one Engine may be used from many threads; at most
// EngineOptions::max_concurrent executions run at once, the rest wait their turn.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "ignite/execution.hpp"
#include "ignite/lock.hpp"
#include "ignite/preflight.hpp"
#include "ignite/report.hpp"
#include "ignite/runtime.hpp"
#include "ignite/service.hpp"

namespace Ignite {

// Warm pool (off by default): containers created and started ahead of demand, per pool key
// (service image, limits, policy, delivery), each with the runtime booted and waiting for one
// job. A pooled execution skips create and start and gets its exit status in band, so it
// returns in milliseconds instead of hundreds of them. Every container is still used for one
// job only (unless reuse allows more), then removed and replaced in the background.
//
// A key's pool is filled by prewarm() or by its first execute() (which itself runs cold).
// Executions that find the pool empty wait for a container being started when one is not yet
// promised to another caller, and otherwise run cold. Services whose policy sets allowSpawn:
// false, and custom runtimes without a runner, always run cold (the supervisor must start the
// runtime as a child).
struct PoolOptions {
  std::size_t size = 0;  // ready containers kept per key; 0 disables the pool
  // A key's ready containers are removed when none was used for this long.
  std::chrono::seconds idle_expiry{300};
  std::size_t refill_concurrency = 2;  // containers being started at once, over all keys
  // Upper bound on the summed memory limits of ready containers, over all keys.
  double memory_budget_mb = 4096;
  // The most jobs of one service that may run one after another in one container (as
  // serverless platforms do): a fresh runtime process per job; leftover processes killed, /tmp
  // emptied, System V IPC objects removed and stray input discarded in between; never shared
  // across services, limits or policies; a job that dies of a signal ends its container.
  // 1 (the default): every container runs one job. This is the operator's decision:
  // service.yaml's `reuse` (written by the service's author) may only ask for fewer, and never
  // turns the pool on (size 0 runs cold). Needs the pool's supervisor to spawn, so allowSpawn:
  // false runs cold, and under `isolation: gvisor` every container runs one job (gVisor's
  // /proc would let a job reach the next job's channel). docs/threat-model.md says what jobs of
  // one container still share.
  std::size_t reuse = 1;
};

// What Engine::pool_stats() counts: a snapshot of the warm pool over all keys. A plain value;
// no errors. Thread-safety: a copy, safe to read anywhere.
struct PoolStats {
  std::size_t ready = 0;     // started, runner waiting for a job
  std::size_t starting = 0;  // being created/started
  std::size_t created = 0;   // containers the pool started, in total
  std::size_t dispatched = 0;  // jobs run on pooled containers
  std::size_t discarded = 0;   // ready containers found dead or failed to start
  std::size_t expired = 0;     // removed after idle_expiry or by drain_pool()
};

// How long each kind of Docker Engine API call may take. A call that misses its bound fails
// with Error(DockerUnavailable): "the Docker daemon at ... did not answer ... within N ms".
// These are failure bounds for a daemon that hangs (stopped, overloaded, a stuck storage
// driver), not latency expectations. An execution therefore ends within its timeout plus a
// set-up bound (image check, create, attach, start: at most metadata + 3 x lifecycle; a pooled
// execution needs none of these) and a clean-up bound (kill, wait, inspect: at most
// 2 x lifecycle + metadata; a daemon that misses the kill's bound ends clean-up at once; after
// a cancellation, kill and wait get 500 ms each and nothing else). Image builds are not part
// of these: they have their own bound (build) and can be cancelled. docs/threat-model.md
// states the bounds with the defaults filled in.
struct DockerTimeouts {
  std::chrono::milliseconds metadata{10000};   // ping, version, info, inspect, list
  std::chrono::milliseconds lifecycle{15000};  // create, attach, start, kill, wait, remove
  std::chrono::milliseconds build{600000};     // image builds and imports
};

// Background clean-up of containers this Engine lost track of (a create that timed out here
// but succeeded at the daemon; a removal that kept failing is retried anyway).
struct CleanupOptions {
  // How often the session's containers are listed; 0 turns the sweep off.
  std::chrono::milliseconds sweep_interval{60000};
  // Containers younger than this are left alone (they may be being created right now).
  std::chrono::seconds sweep_grace{120};
  // The most the Engine's destructor waits for queued removals (each is tried at least once
  // within it); what is left then is removed by the next Engine on this host (owner labels).
  // A command-line tool that must exit promptly on a stalled daemon sets this low.
  std::chrono::milliseconds shutdown_grace{15000};
  // Containers of the cold path are created with the daemon's AutoRemove: the daemon deletes
  // each one as it exits, so an execution leaves nothing for this Engine to delete and its
  // destructor nothing to wait for (30-80 ms per container otherwise). For a process that
  // exits right after its executions, like a command-line tool. Off by default: a long-lived
  // Engine deletes in the background anyway, off the critical path. Pooled containers are not
  // affected. A container whose owner died before it exited is left to the reaper (labels).
  bool auto_remove = false;
};

// Where executions run.
enum class Backend {
  Docker,  // a container on the daemon at docker_host (the default)
  // A Docker Swarm task: the daemon at docker_host is a swarm manager; every execution is a
  // service with one replica (restart condition none) on any node, its per-service image pushed
  // to EngineOptions::registry and pinned by digest. docs/scale-out.md ("Swarm") says what
  // differs from Docker; docs/threat-model.md what the swarm API cannot enforce.
  Swarm,
};
// "docker", "swarm".
std::string_view to_string(Backend backend) noexcept;

// Everything an Engine is configured with, read once by its constructor (later changes to a
// copy have no effect). Bad values (a malformed label, plain TCP to a remote host without
// allow_plain_tcp, an unknown docker context) make the constructor or the first Docker call
// throw Error(Config) naming the field. Thread-safety: a plain value.
struct EngineOptions {
  // The Docker daemon, as DOCKER_HOST names it: "unix:///path/docker.sock" (or a socket path),
  // "tcp://HOST:PORT" (TLS per docker_tls_verify/docker_cert_path; see allow_plain_tcp) or
  // "ssh://[USER@]HOST[:PORT]" (`ssh ... docker system dial-stdio`, as the docker CLI does).
  // Empty: docker_context, else $DOCKER_HOST, else $DOCKER_CONTEXT, else the docker config's
  // currentContext, else /var/run/docker.sock. A daemon that is not on a unix socket cannot see
  // this host's files: CodeDelivery::Auto then bakes the service into its image.
  // docs/scale-out.md.
  std::string docker_host;
  std::size_t max_concurrent = 8;
  // Container limits that service.yaml does not set.
  int pids_limit = 256;
  std::string tmpfs_size = "64m";
  CodeDelivery delivery = CodeDelivery::Auto;
  // On first contact with the daemon, remove containers left by Ignite processes on this host
  // that have died (kill -9, crash, power loss of the process), and dangling Ignite images older
  // than 10 minutes (what a process that died mid-build left). It runs in the background: the
  // first execution does not wait for it (gc() does).
  bool reap_on_start = true;
  // Where execution history (for preflight's lastExecutionMs) is kept. Empty:
  // $IGNITE_STATE_DIR, else $XDG_STATE_HOME/ignite, else ~/.local/state/ignite.
  std::filesystem::path state_dir;
  // Extra labels on every container this Engine creates and on the service images it builds
  // (e.g. a CI run's id, to find exactly its containers and images; an image another Engine
  // built already is reused as it is). Added to what $IGNITE_LABELS holds ("key=value,key=value"). Keys under
  // dev.ignite. other than dev.ignite.test-run are Ignite's own: the constructor throws
  // Error(Config) naming the key for those, for an empty key, for a key with '=', for a line
  // break in a key or value (an image label is a Dockerfile LABEL line), or for a malformed
  // $IGNITE_LABELS.
  std::map<std::string, std::string> labels;
  DockerTimeouts docker_timeouts;
  CleanupOptions cleanup;
  PoolOptions pool;
  // nullopt: $IGNITE_BACKEND ("docker" or "swarm"), else Docker. The constructor throws
  // Error(Config) naming IGNITE_BACKEND for another value.
  std::optional<Backend> backend;
  // The registry the swarm's nodes pull per-service images from, "HOST:PORT" (empty:
  // $IGNITE_REGISTRY). Required by Backend::Swarm: the constructor throws Error(Config) without
  // one, or for a value that is not HOST:PORT. Every daemon of the swarm must trust it
  // (/etc/docker/certs.d/HOST:PORT/ca.crt, or insecure-registries).
  std::string registry;
  // For test harnesses (the Python pytest plugin's --ignite-keep): a container that ran a job
  // is left stopped instead of removed, for `docker logs`/`inspect`, until release_kept() or
  // remove_containers() (the sweep leaves it alone; the next Engine's reaper removes it once
  // this process is gone). Unused pool containers and failed set-ups are removed as usual.
  bool keep_containers = false;

  // The rest of what the docker CLI reads to reach a daemon (docs/scale-out.md).
  // A docker context (`docker context ls`), used when docker_host is empty. "default": the
  // environment's daemon.
  std::string docker_context;
  // TLS for tcp:// hosts: verify the daemon's certificate against ca.pem and present
  // cert.pem/key.pem (when present) from docker_cert_path. nullopt: $DOCKER_TLS_VERIFY set.
  std::optional<bool> docker_tls_verify;
  // Where ca.pem, cert.pem and key.pem are; empty: $DOCKER_CERT_PATH, else ~/.docker.
  std::filesystem::path docker_cert_path;
  // Plain TCP (or TLS that does not verify the daemon) to an address other than loopback
  // exposes every input and output on the network and the daemon to whoever reaches its port:
  // refused with Error(Config) unless this is set.
  bool allow_plain_tcp = false;
  // Extra `ssh` arguments for ssh:// hosts, before the host (e.g. {"-F", "/path/ssh_config"}).
  // Ignite adds -o BatchMode=yes (no prompts) and -o ConnectTimeout=10 unless given here.
  std::vector<std::string> ssh_options;
};

// Engine::copy_images: how far the stream has come.
struct ImageCopyProgress {
  std::uint64_t bytes = 0;        // image archive bytes sent to the target so far
  std::uint64_t total_bytes = 0;  // estimate: the images' sizes on the source daemon
};

// What Engine::copy_images() copies and how it reports progress. A plain value; the callback
// runs on the copying thread. Errors are copy_images()'s.
struct ImageCopyOptions {
  // Runtime specs ("quickjs", "node@20": that version's image) or image references with a ':'
  // ("ignite-runtime/node:20"). Empty: every runtime image of the registry that the source
  // daemon has.
  std::vector<std::string> images;
  // Called from the copying thread as bytes move (about every 100 ms, and once at the end).
  std::function<void(const ImageCopyProgress&)> on_progress;
  // Stops the copy; copy_images() then throws Error(Cancelled).
  std::stop_token stop_token;
};

// What Engine::copy_images() did: which images were sent, which the target had already.
// A plain value; no errors.
struct ImageCopyResult {
  std::vector<std::string> copied;   // loaded on the target
  std::vector<std::string> present;  // the target had the same image id already: not sent
  std::uint64_t bytes = 0;           // archive bytes streamed
  std::chrono::milliseconds duration{0};
};

// "key=value,key=value" (as $IGNITE_LABELS takes it) as a map. Throws Error(Config) naming
// `source` and the item for an item that is not key=value with a non-empty key.
std::map<std::string, std::string> parse_labels(std::string_view text, std::string_view source);

// What Engine::gc() removed. A plain value; no errors.
struct GcResult {
  std::size_t containers = 0;  // containers of dead Ignite processes removed
  std::size_t images = 0;      // per-service and dangling images removed (service_images)
  // Backend::Swarm: services, secrets and networks of dead Ignite processes removed.
  std::size_t swarm_objects = 0;
};

// How Engine::preflight() runs: whether it may build the image, and overrides as execute() takes
// them. A plain value; the build-output callback runs on the calling thread. Errors are
// preflight()'s.
struct PreflightOptions {
  // Build the per-service image first when it does not exist (so image-size is always checked).
  bool build_image = false;
  std::optional<std::string> runtime;  // as ExecuteOptions::runtime
  std::optional<CodeDelivery> delivery;
  std::function<void(std::string_view)> on_build_output;
  // Stops an image build or a Docker call in flight; preflight() then throws Error(Cancelled).
  std::stop_token stop_token;
};

// The entry point: loads services and runs them in containers. Move-only (pimpl); owns one
// Docker client, the warm pool and the background remover. Errors: Ignite::Error (see each
// method); a service's own failure is an ExecutionResult::outcome, never an exception.
// Thread-safety: every method may be called from many threads at once (executions beyond
// max_concurrent wait); moving or destroying it while another thread uses it is not allowed.
// The destructor drains the pool and waits up to cleanup.shutdown_grace for removals.
class Engine {
 public:
  // Does not contact the daemon: loading and validating services works without Docker.
  explicit Engine(EngineOptions options = {});
  ~Engine();
  Engine(Engine&&) noexcept;
  Engine& operator=(Engine&&) noexcept;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Loads and validates a service directory against this engine's runtime registry.
  // Throws Error(Config | Service).
  Service load(const std::filesystem::path& dir) const;

  // Runs the service once in a fresh container (or a pooled one, see PoolOptions) and queues
  // the container's removal, which finishes in the background (flush() waits for it). Throws
  // Error only when Ignite could not run it (Docker unreachable, runtime image missing, bad
  // options); the service's own failures are reported in ExecutionResult::outcome.
  ExecutionResult execute(const Service& service, const ExecuteOptions& options = {});

  // Preflight checks (reference §4): memory, dependencies, timeout (with the last execution's
  // duration from history), cpu-time-config when service.cpuTimeMs is set, and image-size
  // whenever the service's image exists (or was built
  // because options.build_image). Without Docker, the image check is left out.
  PreflightResult preflight(const Service& service, const PreflightOptions& options = {});

  // An ExecutionReport (reference §7) for a preflight and an optional execution of `service`;
  // its warnings name the service's limits (timeoutMs, memoryMb, cpuTimeMs).
  ExecutionReport report(const Service& service, PreflightResult preflight,
                         std::optional<ExecutionResult> execution = std::nullopt) const;

  // Duration (run phase) of the service's last execution recorded in the state directory.
  std::optional<std::chrono::milliseconds> last_execution(const Service& service) const;

  // ignite.lock: pins the files, service.yaml, lockfiles, the resolved runtime and (when the
  // daemon answers) the base image id.
  LockManifest make_lock(const Service& service);
  DriftReport check_lock(const Service& service);

  // Throws Error(DockerUnavailable) when the daemon does not answer.
  void ping();

  // The daemon this Engine talks to, as a URL ("unix:///var/run/docker.sock",
  // "tcp://10.0.0.5:2376", "ssh://ci@build-box"), and whether it is on this host's unix
  // socket (sees this host's files).
  std::string docker_endpoint() const;
  bool docker_is_local() const noexcept;

  // Streams images from this Engine's daemon to `target`'s through the Engine API (an export
  // piped into a load: no temporary files), skipping those the target has with the same id.
  // Bounded by this Engine's docker_timeouts.build. Throws Error(NotFound) naming an image the
  // source lacks, Error(Runtime) for an unknown runtime spec, and the daemons' errors.
  ImageCopyResult copy_images(Engine& target, const ImageCopyOptions& options = {});

  // Fills the warm pool for what `options` would run (same key as execute()) up to `count`
  // ready containers (0: PoolOptions::size) and waits until they are ready. Returns how many
  // are ready. Throws Error(Config) when the pool is disabled or cannot serve this service, and
  // Error(Cancelled) when options.stop_token fires (an image build or the wait is cut short).
  std::size_t prewarm(const Service& service, const ExecuteOptions& options = {},
                      std::size_t count = 0);
  PoolStats pool_stats() const;
  // Removes every ready container and stops refilling until the next execution asks again;
  // waits for containers still being started, which are removed too (removals are queued:
  // flush() waits for them). The destructor does this too.
  void drain_pool();

  // Container removal is off the critical path: execute() returns before the daemon has
  // deleted the container. This waits until every removal queued so far is done, and until
  // the images left by image builds that did not finish (failed, cancelled) are removed.
  void flush();

  // Removes containers left by dead Ignite processes on this host and, with `service_images`,
  // every per-service image no container uses (they are a cache; the next run rebuilds) and
  // every dangling Ignite image (untagged: what an image build that did not finish left) older
  // than 10 minutes that no container uses. (The reap on first contact removes those dangling
  // images too; gc(true) counts them.)
  GcResult gc(bool service_images = false);

  // Removes every container this engine created that still exists (executions remove their
  // own; this is for hosts shutting down mid-run), after draining the warm pool and waiting for
  // queued removals (those are not counted). Returns how many were removed.
  std::size_t remove_containers();

  // With EngineOptions::keep_containers: queues the removal of a kept container (one an
  // execution of this Engine ran in, ExecutionResult::container_id); false when this Engine
  // keeps no container of that id.
  bool release_kept(const std::string& container_id);

  // A snapshot of the registry; changes go through the methods below.
  RuntimeRegistry runtimes() const;
  void register_runtime(Runtime runtime);
  bool unregister_runtime(const std::string& name);
  void load_runtimes_file(const std::filesystem::path& path);

  // The label value identifying resources this engine created (dev.ignite.session).
  const std::string& session_id() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace Ignite
