// How late a blocked Engine API call ends after a stop request: `call` runs under a
// CancelScope whose stop is requested at five delays out of step with a 50 ms rhythm (a loop
// looking at the token every kCancelPollMs would be 15-40 ms late), and must end by throwing
// an Error, which `check` examines. Returns the five latenesses, sorted.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <stop_token>
#include <thread>
#include <vector>

#include "ignite/error.hpp"
#include "ignite/src/docker/cancel.hpp"

namespace Ignite::testing {

inline std::vector<std::chrono::steady_clock::duration> stop_lateness(
    const std::function<void()>& call, const std::function<void(const Error&)>& check) {
  using namespace std::chrono_literals;
  using Clock = std::chrono::steady_clock;
  std::vector<Clock::duration> late;
  for (const auto delay : {110ms, 135ms, 160ms, 185ms, 115ms}) {
    std::stop_source stop;
    std::atomic<Clock::time_point> stopped_at{};
    std::thread stopper([&] {
      std::this_thread::sleep_for(delay);
      stopped_at = Clock::now();
      stop.request_stop();
    });
    try {
      docker::CancelScope scope(stop.get_token());
      call();
      ADD_FAILURE() << "the call ended without the stop";
    } catch (const Error& e) {
      check(e);
    }
    late.push_back(Clock::now() - stopped_at.load());
    stopper.join();
  }
  std::sort(late.begin(), late.end());
  return late;
}

}  // namespace Ignite::testing
