#include "ignite/src/remover.hpp"

#include <algorithm>
#include <ctime>

#include "ignite/error.hpp"
#include "ignite/src/docker/cancel.hpp"

namespace Ignite::detail {

using namespace std::chrono;

Remover::Remover(docker::DockerClient& client) : client_(client) {}

Remover::Remover(docker::DockerClient& client, SweepOptions sweep)
    : client_(client), sweep_(std::move(sweep)) {
  if (!sweep_.labels.empty() && sweep_.interval.count() > 0) {
    sweeper_ = std::thread([this] { sweeper(); });
  }
}

Remover::~Remover() {
  {
    std::unique_lock lock(mu_);
    stop_ = true;
    cv_.notify_all();
    sweep_cv_.notify_all();
    // Each queued removal gets its try, within the grace; then calls in flight are cancelled.
    const auto until = steady_clock::now() + sweep_.shutdown_grace;
    done_cv_.wait_until(lock, until, [&] { return queue_.empty() && busy_ids_.empty(); });
  }
  abort_.request_stop();
  cv_.notify_all();
  sweep_cv_.notify_all();
  if (sweeper_.joinable()) sweeper_.join();
  for (auto& t : threads_) t.join();
}

void Remover::push(std::string id, bool exiting) {
  std::lock_guard lock(mu_);
  queue_.push_back({std::move(id), steady_clock::now() + (exiting ? kExitGrace : milliseconds(0))});
  // Two threads: a burst of removals finishes in half the time; more only queue at the daemon.
  if (threads_.size() < 2 && queue_.size() > threads_.size() - busy_ids_.size()) {
    threads_.emplace_back([this] { run(); });
  }
  cv_.notify_all();
}

void Remover::push_unconfirmed(std::string name_or_id, milliseconds after) {
  std::lock_guard lock(mu_);
  Item item{std::move(name_or_id), steady_clock::now() + after};
  item.confirmations = 1;
  item.confirm_after = after;
  queue_.push_back(std::move(item));
  if (threads_.size() < 2) threads_.emplace_back([this] { run(); });
  cv_.notify_all();
}

void Remover::flush() {
  std::unique_lock lock(mu_);
  ++flushing_;
  cv_.notify_all();
  done_cv_.wait(lock, [&] {
    return busy_ids_.empty() &&
           std::none_of(queue_.begin(), queue_.end(), [](const Item& i) { return i.waited_for(); });
  });
  --flushing_;
}

std::size_t Remover::retrying() const {
  std::lock_guard lock(mu_);
  return static_cast<std::size_t>(
      std::count_if(queue_.begin(), queue_.end(), [](const Item& i) { return i.failures > 0; }));
}

bool Remover::queued_locked(const std::string& id) const {
  return std::any_of(queue_.begin(), queue_.end(), [&](const Item& i) { return i.id == id; }) ||
         std::find(busy_ids_.begin(), busy_ids_.end(), id) != busy_ids_.end();
}

void Remover::run() {
  docker::CancelScope scope(abort_.get_token());
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stop_ with nothing left
    // The item due first (retries wait for their backoff), unless the Engine is going away or
    // someone flushes; then not while containers are starting, for up to kYield.
    const bool hurry = stop_ || flushing_ > 0;
    auto next = std::min_element(queue_.begin(), queue_.end(), [&](const Item& a, const Item& b) {
      // In a hurry, the items someone waits for first.
      if (hurry && a.waited_for() != b.waited_for()) return a.waited_for();
      return a.not_before < b.not_before;
    });
    const auto now = steady_clock::now();
    if (stop_ && next->failures > 0 && next->failures >= 100) {
      queue_.erase(next);  // tried on the way out already: the reaper's now
      continue;
    }
    // Timed waits take no predicate: any push, flush or stop wakes them, and the loop picks
    // the item due first again (a new removal must not wait behind a backed-off retry).
    if (!hurry && next->not_before > now) {
      cv_.wait_until(lock, next->not_before);
      continue;
    }
    if (hurry && !next->waited_for() && !stop_) {
      // Everything left has failed three times or is unconfirmed: flush() is done waiting for
      // it; back to the paced retries.
      done_cv_.notify_all();
      cv_.wait_until(lock, std::max(now + milliseconds(100), next->not_before));
      continue;
    }
    if (!hurry && starting_ > 0 && now < next->not_before + kYield) {
      ++yielding_;
      cv_.wait_until(lock, next->not_before + kYield);
      --yielding_;
      continue;
    }
    Item item = std::move(*next);
    queue_.erase(next);
    busy_ids_.push_back(item.id);
    lock.unlock();
    bool done = true;
    bool found = true;
    try {
      found = client_.container_remove(item.id, true);  // false (already gone) is done too
    } catch (const Error&) {
      done = false;
    } catch (...) {
      done = false;
    }
    lock.lock();
    busy_ids_.erase(std::find(busy_ids_.begin(), busy_ids_.end(), item.id));
    if (done && !found && item.confirmations > 0 && !stop_) {
      // Nothing yet: the daemon may still carry out the create. Look once more later.
      --item.confirmations;
      item.not_before = steady_clock::now() + item.confirm_after;
      queue_.push_back(std::move(item));
    } else if (done) {
      // Removed, or confirmed absent.
    } else {
      ++item.failures;
      if (stop_) item.failures = std::max(item.failures, 100);  // one try on the way out
      const auto backoff = std::min<milliseconds>(milliseconds(100L << std::min(item.failures, 7)),
                                                  seconds(10));
      item.not_before = steady_clock::now() + backoff;
      queue_.push_back(std::move(item));
    }
    done_cv_.notify_all();
  }
}

std::size_t Remover::sweep() {
  std::vector<nlohmann::json> listed;
  try {
    listed = client_.containers_list(sweep_.labels, true);
  } catch (const Error&) {
    return 0;  // the daemon is away: the next sweep looks again
  }
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  std::vector<std::string> stray;
  for (const auto& c : listed) {
    const std::string id = c.value("Id", "");
    const std::int64_t created = c.value("Created", std::int64_t{0});
    if (id.empty() || now - created < sweep_.grace.count()) continue;
    if (sweep_.in_use && sweep_.in_use(id)) continue;
    stray.push_back(id);
  }
  std::size_t queued = 0;
  for (auto& id : stray) {
    {
      std::lock_guard lock(mu_);
      if (queued_locked(id)) continue;
    }
    push(std::move(id));
    ++queued;
  }
  return queued;
}

void Remover::sweeper() {
  docker::CancelScope scope(abort_.get_token());
  std::unique_lock lock(mu_);
  for (;;) {
    // Its own condition variable: a push must wake a removal thread, never only the sweeper.
    if (sweep_cv_.wait_for(lock, sweep_.interval, [&] { return stop_; })) return;
    lock.unlock();
    sweep();
    lock.lock();
  }
}

Remover::Starting::Starting(Remover& r, bool active) : r_(r), active_(active) {
  if (!active_) return;
  std::lock_guard lock(r_.mu_);
  ++r_.starting_;
}

void Remover::Starting::end() {
  if (!active_) return;
  active_ = false;
  bool wake = false;
  {
    std::lock_guard lock(r_.mu_);
    --r_.starting_;
    // Only a thread holding a removal back waits for this (a wake-up is a context switch).
    wake = r_.starting_ == 0 && r_.yielding_ > 0;
  }
  if (wake) r_.cv_.notify_all();
}

}  // namespace Ignite::detail
