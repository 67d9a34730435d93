// The frames a Server-Sent Events response has yet to write. Output arrives from the execution
// as fast as the service prints; the client may read slowly. The queue coalesces consecutive
// output of one stream into one event (fewer, larger writes), and holds at most `max_output`
// bytes of output text: beyond that, output is dropped (and said so in a comment line) instead
// of growing the server's memory -- the final `result` event still carries everything the
// engine captured. Not thread-safe: one session's strand owns it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

namespace ignite_http {

// "event: <event>\ndata: <data>\n\n"
std::string sse_frame(std::string_view event, std::string_view data);

class SseQueue {
 public:
  static constexpr std::size_t kMaxOutput = 256 * 1024;
  static constexpr std::size_t kMaxEventText = 64 * 1024;

  explicit SseQueue(std::size_t max_output = kMaxOutput, std::size_t max_event = kMaxEventText)
      : max_output_(max_output), max_event_(max_event) {}

  // Output text (whole UTF-8 characters) for event `event` ("stdout" or "stderr").
  void push_output(std::string_view event, std::string_view text);
  // A complete frame (result, error, comments, retry): always queued; these are few and small.
  void push_frame(std::string frame);

  bool empty() const noexcept { return items_.empty(); }
  std::size_t size() const noexcept { return items_.size(); }
  // The next frame, rendered (output becomes a JSON string); removes it. Requires !empty().
  std::string pop();
  void clear();

  std::size_t output_bytes() const noexcept { return output_bytes_; }
  std::uint64_t dropped_bytes() const noexcept { return dropped_total_; }

 private:
  struct Item {
    bool output = false;
    std::string event;  // output only
    std::string text;   // output text, or the whole frame
  };
  void note_drops();

  std::size_t max_output_;
  std::size_t max_event_;
  std::deque<Item> items_;
  std::size_t output_bytes_ = 0;
  std::uint64_t dropped_pending_ = 0;
  std::uint64_t dropped_total_ = 0;
};

}  // namespace ignite_http
