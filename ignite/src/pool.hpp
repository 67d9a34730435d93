// The warm pool (PoolOptions in engine.hpp): ready containers per key, refilled by background
// workers, handed out one at a time.
//
// A key is everything that decides a container (the create body: image, command, limits,
// policy, mounts, the service's env). The engine gives each key a factory that creates,
// attaches, starts and waits for the runner's ready line; the pool decides when to call it.
// Containers leave the pool through take() (to run a job), expiry, drain() or when found dead,
// and whatever leaves without a job is handed to `remove` (the engine's background remover).
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "ignite/engine.hpp"
#include "ignite/src/docker/client.hpp"

namespace Ignite::detail {

struct WarmContainer {
  std::string key;
  std::string id;
  docker::Attachment attachment;
  std::string nonce;        // the supervisor's record nonce (once mode)
  std::string early_stdout;  // printed before the runner was ready (runtime warnings)
  std::string early_stderr;
  std::size_t jobs_done = 0;
  std::size_t jobs_max = 1;  // > 1: reuse mode
  std::chrono::steady_clock::time_point ready_at;
};

class Pool {
 public:
  using Factory = std::function<WarmContainer()>;
  using Remover = std::function<void(const std::string& id)>;

  Pool(PoolOptions options, Remover remove);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Registers `key` and keeps `target` containers ready or starting. `make_factory` is called
  // for a key seen the first time only: a key is everything that decides its containers, so
  // its factory never changes (and every execution asks: building one each time cost a copy
  // of the create body and the Engine's context).
  void want(const std::string& key, const std::function<Factory()>& make_factory, double memory_mb,
            std::size_t target);

  // A ready container for `key`, checked to be alive. When none is ready but one is being
  // started that no other caller waits for, waits for it (until `give_up`, or until `stop` is
  // requested). nullopt: run cold (or, when `stop` was requested, not at all).
  std::optional<WarmContainer> take(const std::string& key,
                                    std::chrono::steady_clock::time_point give_up,
                                    std::stop_token stop = {});

  // A reuse-mode container whose job ended normally: ready again while it has jobs left.
  void give_back(WarmContainer container);

  // A job taken from the pool has ended (whatever happened to its container).
  void job_done();

  // A reuse-mode container taken from `key` will not come back (its job failed, or it ran its
  // last job): the pool may start a replacement.
  void forfeit(const std::string& key);
  // Whether a reuse-mode container with `jobs_max` jobs, running its `job`-th, counts as lent
  // (against the pool's target). Not for its last few jobs: take() then starts its replacement,
  // so that the replacement is started and booted by the time the old one has run out (a start
  // takes about as long as five to ten short jobs). Until then the old container keeps coming
  // back and is taken first (the ready list is a stack). forfeit() and give_back() count off
  // only what take() counted.
  static constexpr std::size_t replacement_lead(std::size_t jobs_max) noexcept {
    return std::max<std::size_t>(1, std::min<std::size_t>(jobs_max / 4, 8));
  }
  static constexpr bool counts_as_lent(std::size_t jobs_max, std::size_t job) noexcept {
    return jobs_max > 1 && job + replacement_lead(jobs_max) <= jobs_max;
  }

  // Starts containers for `key` up to its target. take() does not: the execution calls this
  // when its job is done, so a refill (hundreds of ms of daemon CPU) does not compete with it.
  void refill(const std::string& key);

  // Waits until `key` has `count` ready containers, the pool stopped making progress (a start
  // failed: the error is rethrown), `deadline` or a stop request.
  // Returns the ready count.
  std::size_t wait_ready(const std::string& key, std::size_t count,
                         std::chrono::steady_clock::time_point deadline,
                         std::stop_token stop = {});

  PoolStats stats() const;
  // Hands every ready container to `remove`, stops refilling until want() asks again, and waits
  // until the starts in flight have ended (their containers are handed to `remove` too).
  void drain();

 private:
  struct Key {
    Factory factory;
    double memory_mb = 0;
    std::size_t target = 0;
    std::deque<WarmContainer> ready;
    std::size_t starting = 0;  // queued or being started
    std::size_t lent = 0;      // reuse-mode containers running a job: they come back
    std::size_t stale = 0;     // starts in flight when drain() ran: removed when they end
    std::size_t claims = 0;    // callers waiting for one of those
    std::chrono::steady_clock::time_point last_used;
    std::string last_error;
    std::size_t failures = 0;
  };

  class StopWake;

  void refill_locked(const std::string& key, Key& k);
  void worker();
  void expire_locked(std::vector<std::string>& doomed);
  std::chrono::steady_clock::time_point next_expiry_locked() const;
  double ready_memory_locked() const;

  PoolOptions options_;
  Remover remove_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_;   // workers: a start was queued, or stop
  std::condition_variable jobs_cv_;   // a worker holding a start back: no job runs any more
  std::condition_variable ready_cv_;  // callers: a container became ready or a start ended
  std::map<std::string, Key> keys_;
  std::deque<std::string> queue_;  // keys to start one container for
  std::vector<std::thread> workers_;
  std::uint64_t generation_ = 0;  // drain() invalidates starts in flight
  std::size_t active_jobs_ = 0;   // jobs running on pooled containers
  bool stop_ = false;
  PoolStats stats_;
};

}  // namespace Ignite::detail
