// libFuzzer target: Ignite::docker::FrameDecoder, the multiplexed stdout/stderr stream decoder.
//
// Input layout:
//   byte 0           control: low 4 bits + 1 = k, the number of chunk-size bytes that follow;
//                    bit 4 set: feed with an empty Callback (no delivery, state only)
//   bytes 1..k       chunk sizes, used in turn and cycled: 0..254 bytes, 255 = all the rest
//   the rest         the raw stream
// Each chunk is copied into its own exact-size heap buffer, so ASan reports any read past it.
// A reference model decodes the same stream byte by byte; the decoder must hand on exactly the
// payload bytes the model finds in what was fed, in order, each tagged with its frame's stream,
// inside the chunk being fed, never empty, and throw Error(Docker) exactly when a frame header
// starts with a stream byte other than 0, 1 or 2.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_util.hpp"
#include "ignite/error.hpp"
#include "ignite/src/docker/stream.hpp"

using Ignite::docker::FrameDecoder;
using Ignite::docker::StreamKind;

namespace {

struct Model {
  struct PayloadByte {
    std::size_t offset;
    StreamKind kind;
  };
  std::vector<PayloadByte> payload;        // every payload byte before `bad_header`, in order
  std::optional<std::size_t> bad_header;   // offset of a header whose stream byte is > 2
  std::uint64_t complete_frame_bytes = 0;  // payload bytes of frames fed whole
  bool at_boundary = true;                 // state after the whole stream (when no bad header)
};

Model decode_reference(const std::uint8_t* s, std::size_t n) {
  Model m;
  std::size_t i = 0;
  while (i < n) {
    if (s[i] > 2) {
      m.bad_header = i;
      return m;
    }
    if (n - i < 8) {
      m.at_boundary = false;
      return m;
    }
    const auto kind = static_cast<StreamKind>(s[i]);
    const std::uint64_t len = (std::uint64_t{s[i + 4]} << 24) | (std::uint64_t{s[i + 5]} << 16) |
                              (std::uint64_t{s[i + 6]} << 8) | std::uint64_t{s[i + 7]};
    i += 8;
    const std::uint64_t avail = n - i;
    const std::uint64_t take = len < avail ? len : avail;
    for (std::uint64_t k = 0; k < take; ++k) m.payload.push_back({i + k, kind});
    i += take;
    if (take < len) {
      m.at_boundary = false;
      return m;
    }
    m.complete_frame_bytes += len;
  }
  return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t k = (data[0] & 0x0f) + 1u;
  const bool null_callback = (data[0] & 0x10) != 0;
  if (size < 1 + k) return 0;
  std::vector<std::size_t> sizes;
  for (std::size_t i = 0; i < k; ++i) {
    sizes.push_back(data[1 + i] == 255 ? SIZE_MAX : data[1 + i]);
  }
  const std::uint8_t* stream = data + 1 + k;
  const std::size_t n = size - 1 - k;
  bool any_progress = false;
  for (std::size_t s : sizes) any_progress = any_progress || s > 0;
  if (!any_progress) sizes.assign(1, SIZE_MAX);

  const Model model = decode_reference(stream, n);

  FrameDecoder decoder;
  std::size_t next_payload = 0;  // index into model.payload of the next byte expected
  std::size_t chunk_start = 0;
  const char* chunk_base = nullptr;
  std::size_t chunk_len = 0;
  std::uint64_t delivered = 0;
  const FrameDecoder::Callback check = [&](StreamKind kind, std::string_view piece) {
    FUZZ_CHECK(!piece.empty());
    // Never more than was fed: the piece lies inside the chunk being fed.
    FUZZ_CHECK(piece.data() >= chunk_base && piece.size() <= chunk_len &&
               static_cast<std::size_t>(piece.data() - chunk_base) <= chunk_len - piece.size());
    const std::size_t offset = chunk_start + static_cast<std::size_t>(piece.data() - chunk_base);
    for (std::size_t j = 0; j < piece.size(); ++j) {
      FUZZ_CHECK(next_payload < model.payload.size());
      FUZZ_CHECK(model.payload[next_payload].offset == offset + j);
      FUZZ_CHECK(model.payload[next_payload].kind == kind);
      ++next_payload;
    }
    delivered += piece.size();
  };
  const FrameDecoder::Callback none;

  std::size_t pos = 0;
  std::size_t turn = 0;
  bool threw = false;
  while (pos < n) {
    const std::size_t len = std::min(sizes[turn++ % sizes.size()], n - pos);
    auto chunk = std::make_unique<char[]>(len == 0 ? 1 : len);
    std::memcpy(chunk.get(), stream + pos, len);
    chunk_start = pos;
    chunk_base = chunk.get();
    chunk_len = len;
    try {
      decoder.feed(std::string_view(chunk.get(), len), null_callback ? none : check);
    } catch (const Ignite::Error& e) {
      // Only a bad stream byte is an error, and it is reported in the feed that delivers it.
      FUZZ_CHECK(e.code() == Ignite::ErrorCode::Docker);
      FUZZ_CHECK(model.bad_header && *model.bad_header >= pos && *model.bad_header < pos + len);
      threw = true;
      break;
    }
    pos += len;
  }
  FUZZ_CHECK(threw == model.bad_header.has_value());
  if (!null_callback) {
    // Everything the model found before the end (or the bad header) was handed on, no more.
    FUZZ_CHECK(next_payload == model.payload.size());
    FUZZ_CHECK(delivered == model.payload.size());
    FUZZ_CHECK(delivered >= model.complete_frame_bytes);
  }
  if (!threw) FUZZ_CHECK(decoder.at_frame_boundary() == model.at_boundary);
  return 0;
}
