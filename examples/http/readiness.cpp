#include "examples/http/readiness.hpp"

#include <exception>
#include <utility>

#include "ignite/error.hpp"

namespace ignite_http {
namespace {

Reply not_ready(std::string_view code, std::string_view message) {
  return error_reply(http::status::service_unavailable, code, message, {{"status", "not_ready"}});
}

}  // namespace

ReadinessProbe::ReadinessProbe(std::function<void()> ping, std::string daemon, Options options)
    : ping_(std::move(ping)), daemon_(std::move(daemon)), options_(options) {
  pinger_ = std::thread([this] { run_pinger(); });
  watchdog_ = std::thread([this] { run_watchdog(); });
}

ReadinessProbe::~ReadinessProbe() { stop(); }

void ReadinessProbe::check(Done done) {
  std::unique_lock lock(mu_);
  const auto now = Clock::now();
  Reply answer;
  if (stopping_) {
    answer = not_ready("SHUTTING_DOWN", "Server is shutting down");
  } else if (in_flight_) {
    if (now - started_ >= options_.bound) {
      answer = late(now - started_);
    } else {
      waiters_.push_back(std::move(done));
      return;
    }
  } else if (last_ && now - finished_ < options_.fresh) {
    answer = *last_;
  } else {
    in_flight_ = true;
    started_ = now;
    ++pings_;
    waiters_.push_back(std::move(done));
    cv_.notify_all();
    return;
  }
  lock.unlock();
  done(std::move(answer));
}

void ReadinessProbe::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
  if (pinger_.joinable()) pinger_.join();
  std::vector<Done> dropped;
  {
    std::lock_guard lock(mu_);
    dropped.swap(waiters_);
  }
  // Destroyed outside the lock: a callback may hold the last reference to a session.
  dropped.clear();
}

std::size_t ReadinessProbe::pings() const {
  std::lock_guard lock(mu_);
  return pings_;
}

void ReadinessProbe::run_pinger() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || in_flight_; });
    if (stopping_) return;
    lock.unlock();
    Reply result = ping_once();
    lock.lock();
    last_ = result;
    finished_ = Clock::now();
    in_flight_ = false;
    std::vector<Done> waiters = std::exchange(waiters_, {});
    lock.unlock();
    for (auto& done : waiters) done(result);
    lock.lock();
  }
}

void ReadinessProbe::run_watchdog() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (!in_flight_ || waiters_.empty()) {
      cv_.wait(lock);
      continue;
    }
    const auto deadline = started_ + options_.bound;
    if (Clock::now() < deadline) {
      cv_.wait_until(lock, deadline);
      continue;
    }
    // check() answers at once past the bound, so no waiter joins this ping after this.
    std::vector<Done> waiters = std::exchange(waiters_, {});
    const Reply answer = late(Clock::now() - started_);
    lock.unlock();
    for (auto& done : waiters) done(answer);
    lock.lock();
  }
}

Reply ReadinessProbe::ping_once() const {
  try {
    ping_();
    return json_reply(http::status::ok, {{"status", "ready"}, {"docker", "ok"}});
  } catch (const Ignite::Error& e) {
    // Whatever went wrong, the server cannot run services now: 503, with the engine's reason.
    return not_ready(error_code_name(e), e.message());
  } catch (const std::exception& e) {
    return not_ready("INTERNAL_ERROR", e.what());
  }
}

Reply ReadinessProbe::late(Clock::duration waited) const {
  const auto ms = [](auto d) {
    return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
  };
  return not_ready("DOCKER_UNAVAILABLE",
                   "the Docker daemon at " + daemon_ + " did not answer GET /_ping within " +
                       ms(options_.bound) + " ms (the ping has waited " + ms(waited) + " ms)");
}

}  // namespace ignite_http
