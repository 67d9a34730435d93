// Per-client connection accounting: one client (an address; IPv6: its /64) cannot hold every
// connection the server has. Counted at accept time, before any byte is read, so the key is the
// socket peer (X-Forwarded-For is not known yet; trusted proxies are exempt instead).
// Thread-safe.
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace ignite_http {

class ConnectionLimits {
 public:
  // `per_client` 0: no limit (connections are still counted).
  explicit ConnectionLimits(std::size_t per_client) : per_client_(per_client) {}

  // Takes a place for `key`; false (nothing taken) when the client already holds its limit.
  // `exempt` places are counted but never refused.
  bool try_acquire(const std::string& key, bool exempt = false);
  // Gives back a place taken by try_acquire.
  void release(const std::string& key);

  std::size_t held(const std::string& key) const;
  std::size_t clients() const;
  std::size_t per_client() const noexcept { return per_client_; }

 private:
  std::size_t per_client_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::size_t> held_;
};

}  // namespace ignite_http
