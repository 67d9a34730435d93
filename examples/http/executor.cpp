#include "examples/http/executor.hpp"

#include <boost/asio/post.hpp>

namespace ignite_http {

BoundedPool::BoundedPool(std::size_t workers, std::size_t queue)
    : capacity_(workers + queue), pool_(workers) {}

BoundedPool::~BoundedPool() { join(); }

bool BoundedPool::try_submit(std::function<void()> job) {
  {
    std::lock_guard lock(mu_);
    if (in_flight_ >= capacity_) return false;
    ++in_flight_;
  }
  boost::asio::post(pool_, [this, job = std::move(job)] {
    {
      std::lock_guard lock(mu_);
      ++running_;
    }
    job();
    std::lock_guard lock(mu_);
    --running_;
    --in_flight_;
    idle_.notify_all();
  });
  return true;
}

std::size_t BoundedPool::running() const {
  std::lock_guard lock(mu_);
  return running_;
}

std::size_t BoundedPool::queued() const {
  std::lock_guard lock(mu_);
  return in_flight_ - running_;
}

std::size_t BoundedPool::in_flight() const {
  std::lock_guard lock(mu_);
  return in_flight_;
}

bool BoundedPool::wait_idle(std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock lock(mu_);
  return idle_.wait_until(lock, deadline, [&] { return in_flight_ == 0; });
}

void BoundedPool::join() { pool_.join(); }

}  // namespace ignite_http
