// The lease: a container for one job, and everything that must happen to it when the job is
// over. A Lease is either taken from the warm pool (a container already created, attached,
// started and waiting for its job) or created now (create, attach before start, start), and it
// owns what comes with the container: its id, its attachment (the hijacked stdin/stdout/stderr
// stream), its removal (queued with the background remover whatever happens, unless a reuse-mode
// container goes back to the pool) and the pool's bookkeeping (job done, forfeit).
//
// The rest of the pipeline (job_channel, finaliser) uses only what a Lease gives it: id(),
// attachment(), docker() (the daemon that runs the container), kind(), supervisor_key() and the
// early output. Another backend (remote hosts, Docker Swarm) is another way of acquiring a
// Lease: its own client in docker(), its own retire.
//
// start_warm() is the pool's factory (create, attach, key line, start, wait for the runner's
// ready line); want_pool() registers a plan's pool key with it.
//
// Thread-safety: a Lease belongs to the one execution that acquired it. start_warm() runs on
// the pool's worker threads; LeaseContext's members must be safe to use from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "ignite/engine.hpp"
#include "ignite/service.hpp"
#include "ignite/src/container_spec.hpp"
#include "ignite/src/docker/client.hpp"
#include "ignite/src/execution_plan.hpp"
#include "ignite/src/image_builder.hpp"
#include "ignite/src/pool.hpp"
#include "ignite/src/remover.hpp"

namespace Ignite::detail {

// What the Engine lends its leases and the pool's factory. Every referenced object outlives
// them (the Engine destroys its pool before the remover and the client).
struct LeaseContext {
  docker::DockerClient& docker;
  ImageBuilder& images;
  Remover& remover;
  std::function<Pool&()> pool;  // created on first use
  // The container is this Engine's (the sweep leaves it alone) ...
  std::function<void(const std::string& id)> track;
  // ... or leaves its hands: removed in the background. `exiting`: its supervisor reported the
  // exit (Remover::push).
  std::function<void(std::string id, bool exiting)> retire;
  ContainerDefaults defaults;
  std::size_t pool_size = 0;  // PoolOptions::size
  bool auto_remove = false;    // CleanupOptions::auto_remove
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

class Lease {
 public:
  // How the job travels on stdin and how its end is reported.
  enum class Kind {
    Cold,   // created for this job; supervised() when the runtime may spawn
    Once,   // a warm pooled container for one job: the runner's header, then the input
    Reuse,  // a pooled container for several jobs: one authenticated JOB message per job
  };

  // A container for this job: a warm one from the pool when the plan allows it and one is
  // ready in time (or being started for this caller), else one created now. `image` is rebuilt
  // when the cached image went missing. Throws Error(Cancelled) when opt.stop_token was
  // requested while waiting for the pool; what was created is queued for removal on unwinding.
  Lease(LeaseContext ctx, const Service& svc, const ExecuteOptions& opt, const Plan& plan,
        ServiceImage& image);
  // The pool's bookkeeping (job done; a reuse-mode container that did not go back is forfeit,
  // so the pool may start a replacement), then the container's removal unless given back.
  ~Lease();
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  Kind kind() const { return kind_; }
  const std::string& id() const { return id_; }
  docker::DockerClient& docker() const { return ctx_.docker; }
  docker::Attachment& attachment() { return warm_ ? warm_->attachment : cold_attachment_; }
  // A supervisor (PID 1) reports the job's end in band, authenticated by supervisor_key().
  bool supervised() const { return supervised_; }
  const std::string& supervisor_key() const { return supervisor_key_; }
  // What a pooled container printed before its runner was ready: the job's output.
  std::string take_early_stdout();
  std::string take_early_stderr();

  ContainerStart start() const { return start_; }
  std::size_t job() const { return job_; }  // 1 for a new container; n for its n-th job (reuse)
  std::chrono::microseconds create_time() const { return create_time_; }
  std::chrono::microseconds start_time() const { return start_time_; }

  // A reuse-mode job that ended normally: the container serves the next job of its key.
  void give_back();
  // The container stays (EngineOptions::keep_containers): nothing queues its removal.
  void keep() {
    if (guard_) guard_->dismiss();
  }
  // The container goes (removed in the background). `exiting`: its supervisor reported the
  // exit, so the removal need not kill it first.
  void retire(bool exiting);
  // Lets the pool start containers for this key up to its target: called when the job is done,
  // so a refill (hundreds of ms of daemon CPU) does not compete with it.
  void refill_pool();

 private:
  void take(const Service& svc, const ExecuteOptions& opt, const Plan& plan,
            const std::string& image);
  void create(const Service& svc, const ExecuteOptions& opt, const Plan& plan,
              ServiceImage& image);

  LeaseContext ctx_;
  // Declaration order is destruction order in reverse: the pool's bookkeeping (destructor
  // body), then the removal, then the end of Remover::Starting, then the streams.
  std::optional<std::string> pool_key_;
  std::optional<WarmContainer> warm_;
  docker::Attachment cold_attachment_;
  std::string id_;
  std::string supervisor_key_;
  Kind kind_ = Kind::Cold;
  bool supervised_ = false;
  bool pooled_ = false;    // taken from the pool: job_done() when it ends
  bool returned_ = false;  // given back to the pool
  bool auto_removed_ = false;  // the daemon deletes it when it exits (CleanupOptions::auto_remove)
  ContainerStart start_ = ContainerStart::Cold;
  std::size_t job_ = 1;
  std::chrono::microseconds create_time_{0};
  std::chrono::microseconds start_time_{0};
  std::optional<Remover::Starting> starting_;
  std::optional<ContainerGuard> guard_;
};

// The pool's factory: creates a pooled container from `body`, attaches, sends the supervisor's
// key line, starts it and waits (up to 60 s) for the runner's ready line, keeping up to 64 KiB
// per stream of what the runtime printed before it. On failure the container is retired and
// the error thrown.
WarmContainer start_warm(const LeaseContext& ctx, const nlohmann::json& body,
                         std::size_t jobs_max, const std::string& name);

// Registers the plan's pool key (creating its factory) with `target` containers ready or
// starting; returns the key.
std::string want_pool(const LeaseContext& ctx, const Service& svc, const ExecuteOptions& opt,
                      const Plan& p, const std::string& image, std::size_t target);

}  // namespace Ignite::detail
