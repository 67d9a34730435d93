// Slots: bounds how many executions run at once (EngineOptions::max_concurrent); a waiting
// execution gives up its turn when its stop token is requested.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <stop_token>

namespace Ignite::detail {

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

}  // namespace Ignite::detail
