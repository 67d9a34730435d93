// Cancellation of Engine API calls in flight. An execution puts its stop token in scope on the
// thread that drives it; every call that thread makes (curl transfers, attach handshakes) then
// ends within ~50 ms of a stop request with Error(Cancelled), also while the daemon does not
// answer at all. Cleanup that must go through after a cancellation (kill, remove) runs in a
// CancelScope with no token.
#pragma once

#include <stop_token>

namespace Ignite::docker {

class CancelScope {
 public:
  explicit CancelScope(std::stop_token token) noexcept;
  ~CancelScope();
  CancelScope(const CancelScope&) = delete;
  CancelScope& operator=(const CancelScope&) = delete;

  // Whether the innermost scope of this thread has been asked to stop.
  static bool cancelled() noexcept;

 private:
  std::stop_token token_;
  const CancelScope* outer_;
};

// How often a blocked call looks at its scope's token: the bound on how late a cancellation
// takes effect.
inline constexpr int kCancelPollMs = 50;

}  // namespace Ignite::docker
