// Cancellation of Engine API calls in flight. An execution puts its stop token in scope on the
// thread that drives it; every call that thread makes (curl transfers, attach handshakes) then
// ends with Error(Cancelled) soon after a stop request (a curl transfer at once: a stop callback
// wakes it; a handshake within ~50 ms), also while the daemon does not answer at all. Cleanup that
// must go through after a cancellation (kill, remove) runs in a CancelScope with no token.
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
  // The innermost scope's token (an empty one outside any scope): a call that blocks can
  // register a std::stop_callback on it to be woken instead of polling cancelled().
  static std::stop_token token() noexcept;

 private:
  std::stop_token token_;
  const CancelScope* outer_;
};

// How often a blocked call that is not woken by a stop callback looks at its scope's token: the
// bound on how late a cancellation takes effect there.
inline constexpr int kCancelPollMs = 50;

}  // namespace Ignite::docker
