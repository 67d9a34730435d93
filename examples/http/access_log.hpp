// Structured logging on stderr: one JSON object per line, written whole (no interleaving).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace ignite_http {

struct AccessEntry {
  std::string peer;    // socket peer address
  std::string client;  // rate-limit identity (differs from peer behind a trusted proxy)
  std::string method;
  std::string path;   // without the query string
  std::string route;  // route template, "unmatched" when none
  unsigned status = 0;
  double duration_ms = 0;
  std::uint64_t bytes = 0;  // response body bytes
  std::string request_id;   // X-Request-Id (the client's, or generated)
  std::string timeout;      // "header", "body", "write" when a deadline ended the request
};

// {"time","peer","method","path","route","status","duration_ms","bytes","request_id",
//  "client"?, "timeout"?} on one stderr line.
void log_access(const AccessEntry& entry);

// A plain operator message on stderr (not JSON: start-up and shutdown lines people read).
void log_line(std::string_view text);

// ISO-8601 UTC with milliseconds, e.g. 2026-01-24T10:15:30.123Z.
std::string iso8601_now();

}  // namespace ignite_http
