#include "examples/http/rate_limit.hpp"

#include <stdexcept>

namespace ignite_http {

namespace ip = boost::asio::ip;

void TrustedProxies::add(std::string_view entry) {
  const std::string text(entry);
  boost::system::error_code ec;
  if (text.find('/') != std::string::npos) {
    if (text.find(':') != std::string::npos) {
      const auto net = ip::make_network_v6(text, ec);
      if (!ec) {
        networks_.emplace_back(net.canonical());
        return;
      }
    } else {
      const auto net = ip::make_network_v4(text, ec);
      if (!ec) {
        networks_.emplace_back(net.canonical());
        return;
      }
    }
  } else {
    const auto addr = normalize(ip::make_address(text, ec));
    if (!ec) {
      if (addr.is_v4()) {
        networks_.emplace_back(ip::network_v4(addr.to_v4(), 32));
      } else {
        networks_.emplace_back(ip::network_v6(addr.to_v6(), 128));
      }
      return;
    }
  }
  throw std::invalid_argument("\"" + text + "\" is not an IP address or CIDR network");
}

bool TrustedProxies::contains(const ip::address& raw) const {
  const ip::address address = normalize(raw);
  for (const auto& n : networks_) {
    if (const auto* v4 = std::get_if<ip::network_v4>(&n)) {
      if (address.is_v4() &&
          ip::network_v4(address.to_v4(), v4->prefix_length()).canonical() == *v4) {
        return true;
      }
    } else {
      const auto& v6 = std::get<ip::network_v6>(n);
      if (address.is_v6() &&
          ip::network_v6(address.to_v6(), v6.prefix_length()).canonical() == v6) {
        return true;
      }
    }
  }
  return false;
}

ip::address normalize(const ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return ip::make_address_v4(ip::v4_mapped, address.to_v6());
  }
  return address;
}

ip::address client_address(const ip::address& peer, std::string_view forwarded_for,
                           const TrustedProxies& trusted) {
  ip::address current = normalize(peer);
  if (forwarded_for.empty() || trusted.empty()) return current;
  // Walk the chain right to left while the hop that told us is trusted.
  std::string_view rest = forwarded_for;
  while (trusted.contains(current) && !rest.empty()) {
    const auto comma = rest.rfind(',');
    std::string_view entry = comma == std::string_view::npos ? rest : rest.substr(comma + 1);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(0, comma);
    while (!entry.empty() && (entry.front() == ' ' || entry.front() == '\t'))
      entry.remove_prefix(1);
    while (!entry.empty() && (entry.back() == ' ' || entry.back() == '\t')) entry.remove_suffix(1);
    boost::system::error_code ec;
    const ip::address next = ip::make_address(std::string(entry), ec);
    if (ec) break;  // garbage from the client side of the chain: the last good hop is the client
    current = normalize(next);
  }
  return current;
}

std::string rate_limit_key(const ip::address& raw) {
  const ip::address client = normalize(raw);
  if (client.is_v4()) return client.to_string();
  return ip::network_v6(client.to_v6(), 64).canonical().to_string();
}

RateLimiter::RateLimiter(std::size_t limit, std::chrono::milliseconds window)
    : limit_(limit), window_(window) {}

RateLimiter::Decision RateLimiter::check(const std::string& key, Clock::time_point now) {
  if (limit_ == 0) return {};
  std::lock_guard lock(mu_);
  // Expired windows are dropped once per window, so idle clients cost nothing for long.
  if (now - last_sweep_ >= window_) {
    for (auto it = windows_.begin(); it != windows_.end();) {
      it = now > it->second.reset ? windows_.erase(it) : std::next(it);
    }
    last_sweep_ = now;
  }
  Window& w = windows_[key];
  if (w.count == 0 || now > w.reset) {
    w.count = 1;
    w.reset = now + window_;
    return {true, limit_ - 1, std::chrono::seconds{0}};
  }
  if (w.count >= limit_) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(w.reset - now);
    auto secs = std::chrono::seconds((left.count() + 999) / 1000);
    if (secs.count() < 1) secs = std::chrono::seconds{1};
    return {false, 0, secs};
  }
  ++w.count;
  return {true, limit_ - w.count, std::chrono::seconds{0}};
}

std::size_t RateLimiter::tracked() const {
  std::lock_guard lock(mu_);
  return windows_.size();
}

}  // namespace ignite_http
