#include "ignite/src/pool.hpp"

#include <algorithm>
#include <optional>

#include "ignite/error.hpp"

namespace Ignite::detail {

using Clock = std::chrono::steady_clock;

Pool::Pool(PoolOptions options, Remover remove)
    : options_(std::move(options)), remove_(std::move(remove)) {
  if (options_.refill_concurrency == 0) options_.refill_concurrency = 1;
}

Pool::~Pool() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  jobs_cv_.notify_all();
  ready_cv_.notify_all();
  for (auto& t : workers_) t.join();
  drain();
}

double Pool::ready_memory_locked() const {
  double total = 0;
  for (const auto& [_, k] : keys_) {
    total += k.memory_mb * static_cast<double>(k.ready.size() + k.starting);
  }
  return total;
}

void Pool::refill_locked(const std::string& key, Key& k) {
  // A key whose containers failed to start three times in a row runs cold from then on (every
  // execution would otherwise wait for a start that fails) until drain() resets it.
  if (stop_ || k.failures >= 3) return;
  std::size_t queued = 0;
  while (k.ready.size() + k.starting + k.lent < k.target) {
    // The budget counts containers being started too: they are ready soon.
    if (ready_memory_locked() + k.memory_mb > options_.memory_budget_mb) break;
    ++k.starting;
    queue_.push_back(key);
    ++queued;
  }
  if (workers_.size() < options_.refill_concurrency && !queue_.empty()) {
    while (workers_.size() < options_.refill_concurrency) workers_.emplace_back([this] { worker(); });
  }
  // Every execution asks (want(), refill()): waking the idle workers when nothing was queued
  // cost two context switches each time; one start needs one worker.
  if (queued == 1) {
    work_cv_.notify_one();
  } else if (queued > 1) {
    work_cv_.notify_all();
  }
}

void Pool::want(const std::string& key, const std::function<Factory()>& make_factory,
                double memory_mb, std::size_t target) {
  std::lock_guard lock(mu_);
  Key& k = keys_[key];
  if (!k.factory) k.factory = make_factory();
  k.memory_mb = memory_mb;
  k.target = std::max(k.target, target);
  k.last_used = Clock::now();
  refill_locked(key, k);
}

void Pool::worker() {
  std::unique_lock lock(mu_);
  for (;;) {
    // Until a start is queued, or the first ready container is due to expire: an idle pool
    // does not wake every second to look.
    work_cv_.wait_until(lock, next_expiry_locked(), [&] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    std::vector<std::string> doomed;
    expire_locked(doomed);
    if (!doomed.empty()) {
      lock.unlock();
      for (const auto& id : doomed) remove_(id);
      lock.lock();
      continue;
    }
    if (queue_.empty()) continue;
    const std::string key = std::move(queue_.front());
    queue_.pop_front();
    auto it = keys_.find(key);
    if (it == keys_.end()) continue;
    Factory factory = it->second.factory;
    const std::uint64_t generation = generation_;
    // Starting a container costs the daemon a few hundred ms of CPU; on a small host that
    // slows the jobs running on pooled containers several times over. Give them up to 50 ms to
    // finish first (a burst ends within that), then start anyway, so refills never starve.
    jobs_cv_.wait_for(lock, std::chrono::milliseconds(50),
                      [&] { return stop_ || active_jobs_ == 0; });
    lock.unlock();
    std::optional<WarmContainer> made;
    std::string error;
    try {
      made = factory();
    } catch (const std::exception& e) {
      error = e.what();
    } catch (...) {
      error = "unknown error";
    }
    lock.lock();
    it = keys_.find(key);
    if (it == keys_.end() || generation != generation_ || stop_) {
      // Drained while it started: it goes, queued for removal before the count drops (drain()
      // waits for the count, then its caller may flush the removals).
      if (made) {
        ++stats_.expired;
        const std::string id = made->id;
        made.reset();
        lock.unlock();
        remove_(id);
        lock.lock();
      }
      if (it = keys_.find(key); it != keys_.end()) {
        if (it->second.stale > 0) {
          --it->second.stale;
        } else if (it->second.starting > 0) {
          --it->second.starting;
        }
      }
      ready_cv_.notify_all();
      continue;
    }
    Key& k = it->second;
    --k.starting;
    if (made) {
      ++stats_.created;
      made->key = key;
      made->ready_at = Clock::now();
      // New containers queue at the front: take() serves from the back, where reuse-mode
      // containers come back, so reuse concentrates jobs on containers already running.
      k.ready.push_front(std::move(*made));
      k.failures = 0;
    } else {
      ++stats_.discarded;
      ++k.failures;
      k.last_error = error;
    }
    ready_cv_.notify_all();
  }
}

Clock::time_point Pool::next_expiry_locked() const {
  const auto now = Clock::now();
  // Clamped so that the sums below cannot overflow.
  const Clock::duration expiry = std::min(options_.idle_expiry, std::chrono::seconds(86400 * 365));
  // With nothing ready, a container that becomes ready later (given back, say) belongs to a key
  // used no later than now: it is due within idle_expiry from now, at most one job's length late.
  auto next = now + expiry;
  for (const auto& [_, k] : keys_) {
    if (!k.ready.empty()) next = std::min(next, k.last_used + expiry);
  }
  // Expiry is looked at once a second at most, as when the workers polled.
  return std::max(next, now + std::chrono::seconds(1));
}

void Pool::expire_locked(std::vector<std::string>& doomed) {
  const auto now = Clock::now();
  for (auto& [key, k] : keys_) {
    if (k.ready.empty() || now - k.last_used < options_.idle_expiry) continue;
    for (auto& c : k.ready) doomed.push_back(c.id);
    stats_.expired += k.ready.size();
    k.ready.clear();
    k.target = 0;
  }
}

// Wakes the callers in ready_cv_ when their stop token is asked to stop, instead of their polling
// the token (a context switch every 50 ms of a wait). It takes mu_ between the waiter's look at
// the token and its wait, so the notification cannot fall in between. Constructed and destroyed
// with mu_ not held: the constructor runs the callback at once when the stop was requested
// already, and the destructor waits for a callback in flight, which needs mu_. (No stop is ever
// requested by a thread holding mu_: the pool requests none.)
class Pool::StopWake {
 public:
  StopWake(Pool& pool, const std::stop_token& stop) {
    if (stop.stop_possible()) callback_.emplace(stop, Notify{&pool});
  }

 private:
  struct Notify {
    Pool* pool;
    void operator()() const {
      { std::lock_guard lock(pool->mu_); }
      pool->ready_cv_.notify_all();
    }
  };
  std::optional<std::stop_callback<Notify>> callback_;
};

std::optional<WarmContainer> Pool::take(const std::string& key, Clock::time_point give_up,
                                        std::stop_token stop) {
  const StopWake wake(*this, stop);  // before the lock: see StopWake
  std::unique_lock lock(mu_);
  auto it = keys_.find(key);
  if (it == keys_.end()) return std::nullopt;
  Key& k = it->second;
  k.last_used = Clock::now();
  bool claimed = false;
  for (;;) {
    while (!k.ready.empty()) {
      WarmContainer c = std::move(k.ready.back());
      k.ready.pop_back();
      if (claimed) --k.claims;
      if (c.attachment.quiet()) {
        ++stats_.dispatched;
        ++active_jobs_;
        if (counts_as_lent(c.jobs_max, c.jobs_done + 1)) {
          ++k.lent;
        } else if (c.jobs_max > 1) {
          // One of its last jobs: its replacement starts now (Pool::counts_as_lent).
          refill_locked(key, k);
        }
        return c;
      }
      // Exited or printed while idle (killed from outside, crashed): not usable.
      ++stats_.discarded;
      const std::string id = c.id;
      lock.unlock();
      c.attachment.close();
      remove_(id);
      lock.lock();
      claimed = false;
    }
    // Wait for a container being started, if one is not promised to another caller already.
    if (!claimed) {
      if (k.starting <= k.claims) {
        refill_locked(key, k);
        return std::nullopt;
      }
      ++k.claims;
      claimed = true;
    }
    // Until a container is ready, a start failed, the pool stops, `give_up`, or a stop request
    // (StopWake).
    ready_cv_.wait_until(lock, give_up, [&] {
      return stop_ || stop.stop_requested() || !k.ready.empty() || k.starting < k.claims;
    });
    if (stop_ || stop.stop_requested() || (k.ready.empty() && Clock::now() >= give_up)) {
      --k.claims;
      return std::nullopt;
    }
    if (k.ready.empty() && k.starting < k.claims) {
      // A start failed: run cold.
      --k.claims;
      return std::nullopt;
    }
  }
}

void Pool::refill(const std::string& key) {
  std::lock_guard lock(mu_);
  if (auto it = keys_.find(key); it != keys_.end()) refill_locked(key, it->second);
}

void Pool::job_done() {
  {
    std::lock_guard lock(mu_);
    if (active_jobs_ > 0) --active_jobs_;
    if (active_jobs_ > 0) return;
  }
  // Only a worker holding a start back for the jobs waits for this (not the idle ones).
  jobs_cv_.notify_all();
}

void Pool::forfeit(const std::string& key) {
  std::lock_guard lock(mu_);
  if (auto it = keys_.find(key); it != keys_.end() && it->second.lent > 0) --it->second.lent;
}

void Pool::give_back(WarmContainer container) {
  std::unique_lock lock(mu_);
  auto it = keys_.find(container.key);
  if (it != keys_.end() && it->second.lent > 0 &&
      counts_as_lent(container.jobs_max, container.jobs_done)) {
    --it->second.lent;
  }
  // target 0: drained since the job started (or expired); the container goes.
  if (!stop_ && it != keys_.end() && it->second.target > 0 &&
      container.jobs_done < container.jobs_max && it->second.ready.size() < std::max<std::size_t>(it->second.target, 1) + 8) {
    it->second.ready.push_back(std::move(container));
    ready_cv_.notify_all();
    return;
  }
  const std::string id = container.id;
  lock.unlock();
  container.attachment.close();
  remove_(id);
}

std::size_t Pool::wait_ready(const std::string& key, std::size_t count, Clock::time_point deadline,
                             std::stop_token stop) {
  const StopWake wake(*this, stop);  // before the lock: see StopWake
  std::unique_lock lock(mu_);
  for (;;) {
    if (stop.stop_requested()) return 0;
    auto it = keys_.find(key);
    if (it == keys_.end()) return 0;
    Key& k = it->second;
    if (k.ready.size() >= count) return k.ready.size();
    if (k.starting == 0) {
      if (k.failures > 0) {
        throw Error(ErrorCode::Runtime, "warm pool: a container did not start: " + k.last_error);
      }
      return k.ready.size();
    }
    // Woken by every start that ends, and by a stop request (StopWake).
    if (ready_cv_.wait_until(lock, deadline) == std::cv_status::timeout &&
        Clock::now() >= deadline) {
      return k.ready.size();
    }
  }
}

PoolStats Pool::stats() const {
  std::lock_guard lock(mu_);
  PoolStats s = stats_;
  for (const auto& [_, k] : keys_) {
    s.ready += k.ready.size();
    s.starting += k.starting;
  }
  return s;
}

void Pool::drain() {
  std::vector<WarmContainer> doomed;
  {
    std::lock_guard lock(mu_);
    ++generation_;  // starts in flight see it and remove their container
    for (const auto& key : queue_) {
      if (auto it = keys_.find(key); it != keys_.end() && it->second.starting > 0) {
        --it->second.starting;
      }
    }
    queue_.clear();
    for (auto& [_, k] : keys_) {
      for (auto& c : k.ready) doomed.push_back(std::move(c));
      k.ready.clear();
      k.target = 0;
      k.failures = 0;
      // Starts in flight belong to the old generation now: a prewarm() right after the drain
      // must not count them.
      k.stale += k.starting;
      k.starting = 0;
    }
    stats_.expired += doomed.size();
  }
  ready_cv_.notify_all();
  for (auto& c : doomed) {
    c.attachment.close();
    remove_(c.id);
  }
  // Starts in flight end within a start's time (bounded by the runner's ready timeout); each
  // queues its container's removal. Wait for them, so that after drain() every container the
  // pool made is either removed or queued for removal.
  std::unique_lock lock(mu_);
  ready_cv_.wait(lock, [&] {
    if (stop_) return true;  // the destructor joined the workers first
    for (const auto& [_, k] : keys_) {
      if (k.stale > 0) return false;
    }
    return true;
  });
}

}  // namespace Ignite::detail
