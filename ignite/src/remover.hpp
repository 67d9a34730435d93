// The remover: deletes containers off the critical path (an execution's result does not wait
// for the daemon's 30-50 ms of removal), and never gives up on one.
//
// - A failed removal (the daemon refused, did not answer in time, was away) is retried with
//   backoff (100 ms doubling to 10 s) for as long as the Engine lives.
// - A periodic sweep finds the session's containers that nothing tracks any more (a create that
//   timed out here but succeeded at the daemon, a removal lost with a dead thread) by their
//   labels, and removes them. Containers younger than the sweep's grace are left alone: they
//   may be being created right now.
// - flush() waits for what is queued; an item that failed three times no longer holds it up
//   (it stays queued). The destructor tries each queued item once more, within its shutdown
//   grace, then leaves the rest to the reaper of the next Engine (owner labels).
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "ignite/src/docker/client.hpp"

namespace Ignite::detail {

class Remover {
 public:
  struct SweepOptions {
    // Labels ("key=value") that select this Engine's containers; empty: no sweep.
    std::vector<std::string> labels;
    // Whether a container of those labels is in use (running a job, ready in the pool).
    std::function<bool(const std::string& id)> in_use;
    std::chrono::milliseconds interval{60000};
    std::chrono::seconds grace{120};
    // The destructor's bound: removals still in flight then are abandoned (cancelled).
    std::chrono::milliseconds shutdown_grace{15000};
  };

  explicit Remover(docker::DockerClient& client);
  Remover(docker::DockerClient& client, SweepOptions sweep);
  ~Remover();
  Remover(const Remover&) = delete;
  Remover& operator=(const Remover&) = delete;

  // `exiting`: the container is ending on its own (its supervisor reported the exit). Deleting
  // it a moment later, once it has exited, costs the daemon a fraction of killing it first,
  // which matters when other containers are starting at the same time.
  void push(std::string id, bool exiting = false);

  // A container that may exist: a create whose reply never came (cancelled, or the daemon did
  // not answer in time) may still be carried out by the daemon later. `name_or_id` is removed
  // `after` from now, and once more `after` later when the first attempt found nothing (the
  // daemon may still have been working on the create). flush() does not wait for these.
  void push_unconfirmed(std::string name_or_id, std::chrono::milliseconds after);

  // Waits until every queued removal is done or has failed three times; while someone waits,
  // nothing waits for its time (except the unconfirmed ones, which flush() does not wait for).
  void flush();

  // Runs the sweep now (it also runs every SweepOptions::interval); returns how many stray
  // containers it queued.
  std::size_t sweep();

  // Removals that failed and are waiting for their retry.
  std::size_t retrying() const;

  // Containers being created and started now. A removal competes with them for the daemon
  // (its locks and a few tens of ms of CPU each), so removals wait while any are in flight, for
  // up to kYield: the daemon deletes in the gaps, and a sustained load still gets its deletes.
  class Starting {
   public:
    explicit Starting(Remover& r, bool active = true);
    ~Starting() { end(); }
    Starting(const Starting&) = delete;
    Starting& operator=(const Starting&) = delete;
    void end();

   private:
    Remover& r_;
    bool active_;
  };

 private:
  struct Item {
    std::string id;
    std::chrono::steady_clock::time_point not_before;
    int failures = 0;
    // push_unconfirmed: a 404 is not the end while confirmations are left.
    int confirmations = 0;
    std::chrono::milliseconds confirm_after{0};
    bool waited_for() const { return failures < 3 && confirm_after.count() == 0; }
  };
  void run();
  void sweeper();
  bool queued_locked(const std::string& id) const;

  static constexpr std::chrono::milliseconds kExitGrace{100};
  static constexpr std::chrono::milliseconds kYield{400};

  docker::DockerClient& client_;
  SweepOptions sweep_;
  mutable std::mutex mu_;
  std::condition_variable cv_, done_cv_, sweep_cv_;
  std::deque<Item> queue_;
  std::vector<std::thread> threads_;
  std::thread sweeper_;
  std::vector<std::string> busy_ids_;
  std::size_t starting_ = 0;
  std::size_t yielding_ = 0;  // removal threads holding a removal back for starting_
  std::size_t flushing_ = 0;
  bool stop_ = false;
  std::stop_source abort_;  // cancels the removal threads' calls in flight (shutdown grace)
};

}  // namespace Ignite::detail
