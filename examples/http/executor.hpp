// A fixed pool of worker threads with a bounded queue: blocking work (Docker calls, service
// executions, directory scans) runs here so the Asio I/O threads never block.
#pragma once

#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>

namespace ignite_http {

class BoundedPool {
 public:
  // `workers` jobs run at once; up to `queue` more wait for a worker.
  BoundedPool(std::size_t workers, std::size_t queue);
  ~BoundedPool();
  BoundedPool(const BoundedPool&) = delete;
  BoundedPool& operator=(const BoundedPool&) = delete;

  // Accepts `job` when a worker or a queue place is free; false (nothing runs) when full.
  // The job must not throw. Thread-safe.
  bool try_submit(std::function<void()> job);

  std::size_t running() const;
  std::size_t queued() const;
  std::size_t in_flight() const;  // running + queued

  // Waits until no job is running or queued, or `deadline`; true when idle.
  bool wait_idle(std::chrono::steady_clock::time_point deadline) const;

  // Waits for every accepted job to finish and stops the threads.
  void join();

 private:
  std::size_t capacity_;
  boost::asio::thread_pool pool_;
  mutable std::mutex mu_;
  mutable std::condition_variable idle_;
  std::size_t running_ = 0;
  std::size_t in_flight_ = 0;
};

}  // namespace ignite_http
