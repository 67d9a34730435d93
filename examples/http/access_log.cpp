#include "examples/http/access_log.hpp"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <ctime>
#include <mutex>

namespace ignite_http {
namespace {

std::mutex& log_mutex() {
  static std::mutex mu;
  return mu;
}

void write_all(std::string_view text) {
  std::lock_guard lock(log_mutex());
  while (!text.empty()) {
    const ssize_t n = ::write(STDERR_FILENO, text.data(), text.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace

std::string iso8601_now() {
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
  const std::time_t secs = static_cast<std::time_t>(ms.count() / 1000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms.count() % 1000));
  return buf;
}

void log_access(const AccessEntry& e) {
  nlohmann::ordered_json j = {{"time", iso8601_now()},
                              {"peer", e.peer},
                              {"method", e.method},
                              {"path", e.path},
                              {"route", e.route},
                              {"status", e.status},
                              {"duration_ms", std::round(e.duration_ms * 1000) / 1000},
                              {"bytes", e.bytes},
                              {"request_id", e.request_id}};
  if (e.client != e.peer) j["client"] = e.client;
  if (!e.timeout.empty()) j["timeout"] = e.timeout;
  // Replacement of invalid UTF-8 keeps a hostile path from breaking the log line.
  write_all(j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n");
}

void log_line(std::string_view text) {
  std::string line(text);
  line += '\n';
  write_all(line);
}

}  // namespace ignite_http
