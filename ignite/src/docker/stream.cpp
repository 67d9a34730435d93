#include "ignite/src/docker/stream.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "ignite/error.hpp"

namespace Ignite::docker {

void FrameDecoder::feed(std::string_view bytes, const Callback& on_payload) {
  while (!bytes.empty()) {
    if (remaining_ == 0) {
      // Checking the stream byte as soon as it arrives reports a non-multiplexed stream (Tty: true,
      // or plain text) on its first byte instead of after 8 bytes of text were swallowed.
      if (header_len_ == 0) {
        const auto kind = static_cast<unsigned char>(bytes.front());
        if (kind > static_cast<unsigned char>(StreamKind::Stderr)) {
          throw Error(ErrorCode::Docker,
                      "container output stream is not multiplexed or is corrupt: frame header "
                      "stream byte is " +
                          std::to_string(kind) + ", expected 0, 1 or 2");
        }
      }
      const std::size_t take = std::min(sizeof(header_) - header_len_, bytes.size());
      std::memcpy(header_ + header_len_, bytes.data(), take);
      header_len_ += take;
      bytes.remove_prefix(take);
      if (header_len_ < sizeof(header_)) return;
      header_len_ = 0;
      current_ = static_cast<StreamKind>(header_[0]);
      remaining_ = (std::uint32_t{header_[4]} << 24) | (std::uint32_t{header_[5]} << 16) |
                   (std::uint32_t{header_[6]} << 8) | std::uint32_t{header_[7]};
      continue;
    }
    const std::size_t take = std::min<std::size_t>(remaining_, bytes.size());
    remaining_ -= static_cast<std::uint32_t>(take);
    if (on_payload) on_payload(current_, bytes.substr(0, take));
    bytes.remove_prefix(take);
  }
}

}  // namespace Ignite::docker
