// Bearer-token authentication with a constant-time comparison.
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace ignite_http {

class BearerAuth {
 public:
  // An empty key disables authentication.
  explicit BearerAuth(std::string_view key);

  bool enabled() const noexcept { return enabled_; }

  // Whether an Authorization header value carries the key: "Bearer <key>" (scheme
  // case-insensitive, RFC 7235). The token is compared through SHA-256 digests with
  // CRYPTO_memcmp, so the time taken depends on neither the key's content nor its length.
  bool check(std::string_view authorization) const;

 private:
  bool enabled_;
  std::array<unsigned char, 32> key_digest_{};
};

}  // namespace ignite_http
