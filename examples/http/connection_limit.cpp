#include "examples/http/connection_limit.hpp"

namespace ignite_http {

bool ConnectionLimits::try_acquire(const std::string& key, bool exempt) {
  std::lock_guard lock(mu_);
  std::size_t& n = held_[key];
  if (!exempt && per_client_ > 0 && n >= per_client_) {
    if (n == 0) held_.erase(key);
    return false;
  }
  ++n;
  return true;
}

void ConnectionLimits::release(const std::string& key) {
  std::lock_guard lock(mu_);
  const auto it = held_.find(key);
  if (it == held_.end()) return;
  // Entries go with their last connection, so the map holds only clients connected now.
  if (--it->second == 0) held_.erase(it);
}

std::size_t ConnectionLimits::held(const std::string& key) const {
  std::lock_guard lock(mu_);
  const auto it = held_.find(key);
  return it == held_.end() ? 0 : it->second;
}

std::size_t ConnectionLimits::clients() const {
  std::lock_guard lock(mu_);
  return held_.size();
}

}  // namespace ignite_http
