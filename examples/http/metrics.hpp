// Prometheus metrics of the server, rendered in the text exposition format (version 0.0.4).
//
//   ignite_http_requests_total{route,status}        counter (route = the route template)
//   ignite_executions_total{outcome}                counter (Outcome names + rejected, ...)
//   ignite_execution_duration_seconds               histogram of completed executions
//   ignite_queue_depth / ignite_executions_running  gauges
//   ignite_http_connections_refused_total{reason}   counter (per_client_limit, server_limit)
//   ignite_http_request_timeouts_total{phase}       counter (header, body, write)
//
// The text never depends on the process locale (a host that set a global locale with a decimal
// comma or digit grouping still gets Prometheus' format).
//
// Thread-safety: every member may be called from any thread.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace ignite_http {

struct Gauges {
  std::size_t queue_depth = 0;
  std::size_t executions_running = 0;
  std::size_t connections = 0;
  double uptime_seconds = 0;
  std::size_t pool_ready = 0;       // warm pool: containers waiting for a job
  std::size_t pool_dispatched = 0;  // jobs served by pooled containers
};

class Metrics {
 public:
  void record_request(std::string_view route, unsigned status);
  // `outcome`: an Ignite::Outcome name, "preflight_failed", "rejected" (queue full) or
  // "failed" (Ignite could not run it). `seconds` feeds the histogram when the service ran.
  void record_execution(std::string_view outcome, double seconds = -1);
  // A connection closed at accept: "per_client_limit" or "server_limit".
  void record_connection_refused(std::string_view reason);
  // A request that missed a deadline: "header", "body" (client too slow to send) or "write"
  // (client too slow to read).
  void record_timeout(std::string_view phase);

  std::string render(const Gauges& gauges) const;

  static constexpr std::array<double, 11> kBuckets{0.05, 0.1, 0.25, 0.5, 1,  2.5,
                                                   5,    10,  30,   60,  300};

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, unsigned>, std::uint64_t> requests_;
  std::map<std::string, std::uint64_t> executions_;
  std::map<std::string, std::uint64_t> refused_;
  std::map<std::string, std::uint64_t> timeouts_;
  std::array<std::uint64_t, kBuckets.size()> bucket_counts_{};
  std::uint64_t duration_count_ = 0;
  double duration_sum_ = 0;
};

}  // namespace ignite_http
