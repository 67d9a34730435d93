#include "examples/http/sse_queue.hpp"

#include <nlohmann/json.hpp>
#include <utility>

namespace ignite_http {

std::string sse_frame(std::string_view event, std::string_view data) {
  std::string f;
  f.reserve(event.size() + data.size() + 16);
  f += "event: ";
  f += event;
  f += "\ndata: ";
  f += data;
  f += "\n\n";
  return f;
}

void SseQueue::note_drops() {
  if (dropped_pending_ == 0) return;
  items_.push_back({false,
                    {},
                    ": " + std::to_string(dropped_pending_) +
                        " bytes of output not streamed (the client reads slower than the service "
                        "writes); the result event carries the captured output\n\n"});
  dropped_pending_ = 0;
}

void SseQueue::push_output(std::string_view event, std::string_view text) {
  if (text.empty()) return;
  if (output_bytes_ + text.size() > max_output_) {
    dropped_pending_ += text.size();
    dropped_total_ += text.size();
    return;
  }
  note_drops();
  output_bytes_ += text.size();
  // The front item may be in the middle of being written only after pop(), which removed it:
  // everything still queued is free to grow.
  if (!items_.empty() && items_.back().output && items_.back().event == event &&
      items_.back().text.size() + text.size() <= max_event_) {
    items_.back().text.append(text);
    return;
  }
  items_.push_back({true, std::string(event), std::string(text)});
}

void SseQueue::push_frame(std::string frame) {
  note_drops();
  items_.push_back({false, {}, std::move(frame)});
}

std::string SseQueue::pop() {
  Item item = std::move(items_.front());
  items_.pop_front();
  if (!item.output) return std::move(item.text);
  output_bytes_ -= item.text.size();
  const std::string data =
      nlohmann::json(item.text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return sse_frame(item.event, data);
}

void SseQueue::clear() {
  items_.clear();
  output_bytes_ = 0;
  dropped_pending_ = 0;
}

}  // namespace ignite_http
