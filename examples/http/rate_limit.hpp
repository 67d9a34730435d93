// Per-client rate limiting and the client identity it is keyed on.
//
// The key is the socket peer address. X-Forwarded-For is consulted only when the peer is a
// configured trusted proxy, and then only as far as the chain of trusted proxies reaches: the
// rightmost address not belonging to a trusted proxy is the client. A header sent by anyone
// else is ignored, so it cannot buy fresh quota or spend another client's.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

namespace ignite_http {

class TrustedProxies {
 public:
  // `entry` is an IPv4/IPv6 address or a CIDR network ("10.0.0.0/8", "fd00::/8").
  // Throws std::invalid_argument when it is neither.
  void add(std::string_view entry);
  bool contains(const boost::asio::ip::address& address) const;
  bool empty() const noexcept { return networks_.empty(); }

 private:
  std::vector<std::variant<boost::asio::ip::network_v4, boost::asio::ip::network_v6>> networks_;
};

// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) become plain IPv4.
boost::asio::ip::address normalize(const boost::asio::ip::address& address);

// The client address for `peer` given the request's X-Forwarded-For values (all headers,
// joined with ','; empty when absent).
boost::asio::ip::address client_address(const boost::asio::ip::address& peer,
                                        std::string_view forwarded_for,
                                        const TrustedProxies& trusted);

// The rate-limit key of a client: its IPv4 address, or its IPv6 /64 (one subscriber's prefix,
// inside which addresses cost an attacker nothing).
std::string rate_limit_key(const boost::asio::ip::address& client);

// Fixed window per key, as the reference: the first request of a window opens it; once
// `limit` requests were allowed, further ones are rejected (and not counted) until it ends.
// Thread-safe.
class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  // limit 0 disables limiting.
  RateLimiter(std::size_t limit, std::chrono::milliseconds window);

  struct Decision {
    bool allowed = true;
    std::size_t remaining = 0;
    std::chrono::seconds retry_after{0};  // whole seconds, at least 1, when rejected
  };

  Decision check(const std::string& key, Clock::time_point now = Clock::now());

  bool enabled() const noexcept { return limit_ > 0; }
  std::size_t limit() const noexcept { return limit_; }
  std::size_t tracked() const;

 private:
  struct Window {
    std::size_t count = 0;
    Clock::time_point reset;
  };
  std::size_t limit_;
  std::chrono::milliseconds window_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Window> windows_;
  Clock::time_point last_sweep_{};
};

}  // namespace ignite_http
