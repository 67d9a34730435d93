// GET /ready: whether the Docker daemon answers a ping. Load balancers ask every few seconds,
// often from several places at once, and keep asking while the daemon hangs, so a probe must
// stay cheap whatever the daemon does:
//  - the ping runs on this class's own thread, never on an I/O thread nor on a worker the other
//    routes need (a hanging daemon holds that one thread, nothing else);
//  - at most one ping is in flight: requests arriving meanwhile wait for its result, and a
//    result younger than `fresh` answers at once without a ping (so however often /ready is
//    asked, the daemon sees about one ping per `fresh`);
//  - nobody waits longer than `bound`: past it, the waiting requests and every new one get a
//    503 at once while the ping goes on (the engine ends it within DockerTimeouts::metadata);
//    its result, when it comes, answers the requests that follow.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "examples/http/router.hpp"

namespace ignite_http {

class ReadinessProbe {
 public:
  struct Options {
    std::chrono::milliseconds bound{1000};  // longest a request waits for a ping
    std::chrono::milliseconds fresh{1000};  // how long a ping's result is reused
  };
  using Done = std::function<void(Reply)>;

  // `ping` throws when the daemon is not usable (an Ignite::Error's message and code become the
  // 503's); `daemon` names the endpoint in the message of a ping past its bound.
  ReadinessProbe(std::function<void()> ping, std::string daemon, Options options);
  ReadinessProbe(std::function<void()> ping, std::string daemon)
      : ReadinessProbe(std::move(ping), std::move(daemon), Options{}) {}
  ~ReadinessProbe();
  ReadinessProbe(const ReadinessProbe&) = delete;
  ReadinessProbe& operator=(const ReadinessProbe&) = delete;

  // Calls `done` exactly once with the reply to /ready (unless stop() drops it): on the calling
  // thread when a fresh result exists or the ping in flight is past its bound, else on one of
  // the probe's threads when the ping answers or its bound passes. `done` must not block.
  // Thread-safe.
  void check(Done done);

  // Waits for a ping in flight (the engine bounds it), ends the threads and drops the callbacks
  // still waiting; later checks answer 503 at once. Call before what the callbacks refer to
  // (the sessions' io_context) goes away. Idempotent.
  void stop();

  // Pings started so far.
  std::size_t pings() const;

 private:
  using Clock = std::chrono::steady_clock;
  void run_pinger();
  void run_watchdog();
  Reply ping_once() const;
  Reply late(Clock::duration waited) const;

  std::function<void()> ping_;
  std::string daemon_;
  Options options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool in_flight_ = false;  // a ping was asked for and has not finished
  Clock::time_point started_;
  std::vector<Done> waiters_;  // for the ping in flight, until it answers or its bound passes
  std::optional<Reply> last_;
  Clock::time_point finished_;
  std::size_t pings_ = 0;
  // The pinger blocks in ping_; the watchdog answers its waiters when the bound passes.
  std::thread pinger_;
  std::thread watchdog_;
};

}  // namespace ignite_http
