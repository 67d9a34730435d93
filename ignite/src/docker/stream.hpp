// Incremental decoder for the Engine API's multiplexed stdout/stderr stream (Tty: false).
//
// Each frame is an 8-byte header -- byte 0 the stream (0 stdin, 1 stdout, 2 stderr), bytes 4..7
// the payload length big-endian -- followed by the payload. Reads from a socket cut frames at
// arbitrary places, headers included, so the decoder keeps at most 7 header bytes between calls
// and hands payload bytes on as soon as they arrive: a 50 MiB frame is never buffered whole.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>

namespace Ignite::docker {

enum class StreamKind : std::uint8_t { Stdin = 0, Stdout = 1, Stderr = 2 };

class FrameDecoder {
 public:
  // Receives payload bytes of one stream; a frame's payload may arrive in several pieces.
  // Empty frames produce no call.
  using Callback = std::function<void(StreamKind, std::string_view)>;

  // Feeds raw bytes from the stream. Throws Ignite::Error(Docker) on a header whose stream byte
  // is not 0, 1 or 2 (the stream is not multiplexed or is corrupt).
  void feed(std::string_view bytes, const Callback& on_payload);

  // True when no partial header or payload is pending (a clean end of stream).
  bool at_frame_boundary() const noexcept { return header_len_ == 0 && remaining_ == 0; }

 private:
  unsigned char header_[8] = {};
  std::size_t header_len_ = 0;
  std::uint32_t remaining_ = 0;
  StreamKind current_ = StreamKind::Stdout;
};

}  // namespace Ignite::docker
