#include "ignite/src/docker/stream.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "ignite/error.hpp"

namespace Ignite::docker {
namespace {

std::string frame(StreamKind kind, std::string_view payload) {
  const auto n = static_cast<std::uint32_t>(payload.size());
  std::string out{static_cast<char>(kind),
                  0,
                  0,
                  0,
                  static_cast<char>(n >> 24),
                  static_cast<char>(n >> 16),
                  static_cast<char>(n >> 8),
                  static_cast<char>(n)};
  out.append(payload);
  return out;
}

// Collects output per stream and the sequence of (stream, piece) calls.
struct Sink {
  std::string out;
  std::string err;
  std::vector<std::pair<StreamKind, std::string>> calls;

  FrameDecoder::Callback callback() {
    return [this](StreamKind kind, std::string_view piece) {
      calls.emplace_back(kind, std::string(piece));
      (kind == StreamKind::Stderr ? err : out).append(piece);
    };
  }
};

TEST(FrameDecoder, DecodesWholeFramesInOneFeed) {
  FrameDecoder decoder;
  Sink sink;
  decoder.feed(frame(StreamKind::Stdout, "hello\n") + frame(StreamKind::Stderr, "oops\n"),
               sink.callback());
  EXPECT_EQ(sink.out, "hello\n");
  EXPECT_EQ(sink.err, "oops\n");
  ASSERT_EQ(sink.calls.size(), 2u);
  EXPECT_EQ(sink.calls[0].first, StreamKind::Stdout);
  EXPECT_EQ(sink.calls[1].first, StreamKind::Stderr);
  EXPECT_TRUE(decoder.at_frame_boundary());
}

TEST(FrameDecoder, SplitAtEveryByteOffset) {
  const std::string stream = frame(StreamKind::Stdout, "first line\n") +
                             frame(StreamKind::Stderr, "to stderr") +
                             frame(StreamKind::Stdout, "") + frame(StreamKind::Stdin, "in") +
                             frame(StreamKind::Stdout, "last");
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    FrameDecoder decoder;
    Sink sink;
    decoder.feed(std::string_view(stream).substr(0, cut), sink.callback());
    decoder.feed(std::string_view(stream).substr(cut), sink.callback());
    EXPECT_EQ(sink.out, "first line\ninlast");
    EXPECT_EQ(sink.err, "to stderr");
    EXPECT_TRUE(decoder.at_frame_boundary());
    for (const auto& [kind, piece] : sink.calls) EXPECT_FALSE(piece.empty());
  }
}

TEST(FrameDecoder, SplitAtEveryPairOfOffsets) {
  const std::string stream = frame(StreamKind::Stderr, "ab") + frame(StreamKind::Stdout, "cdef");
  for (std::size_t a = 0; a <= stream.size(); ++a) {
    for (std::size_t b = a; b <= stream.size(); ++b) {
      FrameDecoder decoder;
      Sink sink;
      const std::string_view s(stream);
      decoder.feed(s.substr(0, a), sink.callback());
      decoder.feed(s.substr(a, b - a), sink.callback());
      decoder.feed(s.substr(b), sink.callback());
      EXPECT_EQ(sink.err, "ab") << a << "," << b;
      EXPECT_EQ(sink.out, "cdef") << a << "," << b;
    }
  }
}

TEST(FrameDecoder, OneByteAtATime) {
  const std::string stream = frame(StreamKind::Stdout, "xyz") + frame(StreamKind::Stderr, "e");
  FrameDecoder decoder;
  Sink sink;
  for (std::size_t i = 0; i < stream.size(); ++i) {
    decoder.feed(std::string_view(stream).substr(i, 1), sink.callback());
    const bool boundary = i + 1 == 11 || i + 1 == stream.size();
    EXPECT_EQ(decoder.at_frame_boundary(), boundary) << "after byte " << i;
  }
  EXPECT_EQ(sink.out, "xyz");
  EXPECT_EQ(sink.err, "e");
  EXPECT_EQ(sink.calls.size(), 4u);
}

TEST(FrameDecoder, EmptyFramesProduceNoCallback) {
  FrameDecoder decoder;
  Sink sink;
  decoder.feed(frame(StreamKind::Stdout, "") + frame(StreamKind::Stderr, ""), sink.callback());
  EXPECT_TRUE(sink.calls.empty());
  EXPECT_TRUE(decoder.at_frame_boundary());
  decoder.feed("", sink.callback());
  EXPECT_TRUE(sink.calls.empty());
}

TEST(FrameDecoder, AtFrameBoundaryTracksPartialHeaderAndPayload) {
  FrameDecoder decoder;
  Sink sink;
  EXPECT_TRUE(decoder.at_frame_boundary());
  const std::string f = frame(StreamKind::Stdout, "payload");
  decoder.feed(std::string_view(f).substr(0, 3), sink.callback());
  EXPECT_FALSE(decoder.at_frame_boundary());  // partial header
  decoder.feed(std::string_view(f).substr(3, 7), sink.callback());
  EXPECT_FALSE(decoder.at_frame_boundary());  // partial payload
  EXPECT_EQ(sink.out, "pa");
  decoder.feed(std::string_view(f).substr(10), sink.callback());
  EXPECT_TRUE(decoder.at_frame_boundary());
  EXPECT_EQ(sink.out, "payload");
}

TEST(FrameDecoder, InterleavedStdoutAndStderrKeepOrderPerStream) {
  std::string stream;
  std::string expected_out;
  std::string expected_err;
  for (int i = 0; i < 200; ++i) {
    const std::string line = "line " + std::to_string(i) + "\n";
    const auto kind = i % 3 == 0 ? StreamKind::Stderr : StreamKind::Stdout;
    stream += frame(kind, line);
    (kind == StreamKind::Stderr ? expected_err : expected_out) += line;
  }
  std::mt19937 rng(7);
  FrameDecoder decoder;
  Sink sink;
  for (std::size_t pos = 0; pos < stream.size();) {
    const std::size_t n = std::uniform_int_distribution<std::size_t>(1, 23)(rng);
    decoder.feed(std::string_view(stream).substr(pos, n), sink.callback());
    pos += n;
  }
  EXPECT_EQ(sink.out, expected_out);
  EXPECT_EQ(sink.err, expected_err);
  EXPECT_TRUE(decoder.at_frame_boundary());
}

TEST(FrameDecoder, LargePayloadIsStreamedNotBuffered) {
  constexpr std::size_t kSize = 8u << 20;
  std::string payload(kSize, '\0');
  std::mt19937 rng(42);
  for (auto& c : payload) c = static_cast<char>(rng());
  const std::string stream = frame(StreamKind::Stdout, payload) + frame(StreamKind::Stderr, "tail");

  FrameDecoder decoder;
  std::string out;
  std::string err;
  std::size_t largest_piece = 0;
  std::size_t current_chunk = 0;
  std::size_t calls = 0;
  const FrameDecoder::Callback callback = [&](StreamKind kind, std::string_view piece) {
    ++calls;
    EXPECT_LE(piece.size(), current_chunk) << "a callback received more than was fed";
    largest_piece = std::max(largest_piece, piece.size());
    (kind == StreamKind::Stdout ? out : err).append(piece);
  };
  std::size_t feeds = 0;
  for (std::size_t pos = 0; pos < stream.size(); ++feeds) {
    current_chunk = std::uniform_int_distribution<std::size_t>(1, 100000)(rng);
    const std::string_view chunk = std::string_view(stream).substr(pos, current_chunk);
    current_chunk = chunk.size();
    decoder.feed(chunk, callback);
    pos += chunk.size();
  }
  EXPECT_TRUE(out == payload) << "8 MiB payload differs (sizes " << out.size() << " vs "
                              << payload.size() << ")";
  EXPECT_EQ(err, "tail");
  EXPECT_LE(largest_piece, 100000u);
  // Delivered piece by piece as it was fed, not once the frame was complete.
  EXPECT_GE(calls, kSize / 100000);
  EXPECT_GT(feeds, kSize / 100000);
  EXPECT_TRUE(decoder.at_frame_boundary());
}

TEST(FrameDecoder, InvalidStreamByteThrowsDockerError) {
  FrameDecoder decoder;
  Sink sink;
  std::string bad = frame(StreamKind::Stdout, "x");
  bad[0] = 3;
  try {
    decoder.feed(bad, sink.callback());
    FAIL() << "expected Ignite::Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Docker);
    EXPECT_NE(e.message().find("stream byte is 3"), std::string::npos) << e.message();
  }
  EXPECT_TRUE(sink.calls.empty());
}

TEST(FrameDecoder, PlainTextIsRejected) {
  // What a Tty: true container (raw stream) looks like to the decoder.
  FrameDecoder decoder;
  Sink sink;
  EXPECT_THROW(decoder.feed("hello world\n", sink.callback()), Error);
}

TEST(FrameDecoder, InvalidStreamByteAfterValidFramesThrows) {
  FrameDecoder decoder;
  Sink sink;
  decoder.feed(frame(StreamKind::Stdout, "ok"), sink.callback());
  std::string bad = frame(StreamKind::Stdout, "x");
  bad[0] = static_cast<char>(0xff);
  EXPECT_THROW(decoder.feed(bad, sink.callback()), Error);
  EXPECT_EQ(sink.out, "ok");
}

TEST(FrameDecoder, NullCallbackIsAllowed) {
  FrameDecoder decoder;
  decoder.feed(frame(StreamKind::Stdout, "ignored"), FrameDecoder::Callback{});
  EXPECT_TRUE(decoder.at_frame_boundary());
}

}  // namespace
}  // namespace Ignite::docker
