#include "examples/http/metrics.hpp"

#include <locale>
#include <sstream>

namespace ignite_http {
namespace {

// Label values escape backslash, double quote and newline.
std::string label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string number(double v) {
  std::ostringstream ss;
  ss.imbue(std::locale::classic());
  ss.precision(12);
  ss << v;
  return ss.str();
}

}  // namespace

void Metrics::record_request(std::string_view route, unsigned status) {
  std::lock_guard lock(mu_);
  ++requests_[{std::string(route), status}];
}

void Metrics::record_connection_refused(std::string_view reason) {
  std::lock_guard lock(mu_);
  ++refused_[std::string(reason)];
}

void Metrics::record_timeout(std::string_view phase) {
  std::lock_guard lock(mu_);
  ++timeouts_[std::string(phase)];
}

void Metrics::record_execution(std::string_view outcome, double seconds) {
  std::lock_guard lock(mu_);
  ++executions_[std::string(outcome)];
  if (seconds >= 0) {
    for (std::size_t i = 0; i < kBuckets.size(); ++i) {
      if (seconds <= kBuckets[i]) ++bucket_counts_[i];
    }
    ++duration_count_;
    duration_sum_ += seconds;
  }
}

std::string Metrics::render(const Gauges& g) const {
  std::lock_guard lock(mu_);
  std::ostringstream out;
  out.imbue(std::locale::classic());
  out << "# HELP ignite_http_requests_total HTTP requests answered, by route template and status.\n"
         "# TYPE ignite_http_requests_total counter\n";
  for (const auto& [key, n] : requests_) {
    out << "ignite_http_requests_total{route=\"" << label(key.first) << "\",status=\"" << key.second
        << "\"} " << n << "\n";
  }
  out << "# HELP ignite_executions_total Execution requests, by outcome.\n"
         "# TYPE ignite_executions_total counter\n";
  for (const auto& [outcome, n] : executions_) {
    out << "ignite_executions_total{outcome=\"" << label(outcome) << "\"} " << n << "\n";
  }
  out << "# HELP ignite_http_connections_refused_total Connections closed at accept, by reason.\n"
         "# TYPE ignite_http_connections_refused_total counter\n";
  for (const char* reason : {"per_client_limit", "server_limit"}) {
    const auto it = refused_.find(reason);
    out << "ignite_http_connections_refused_total{reason=\"" << reason << "\"} "
        << (it == refused_.end() ? 0 : it->second) << "\n";
  }
  out << "# HELP ignite_http_request_timeouts_total Requests that missed a deadline, by phase.\n"
         "# TYPE ignite_http_request_timeouts_total counter\n";
  for (const char* phase : {"header", "body", "write"}) {
    const auto it = timeouts_.find(phase);
    out << "ignite_http_request_timeouts_total{phase=\"" << phase << "\"} "
        << (it == timeouts_.end() ? 0 : it->second) << "\n";
  }
  out << "# HELP ignite_execution_duration_seconds Duration of executions that ran a container.\n"
         "# TYPE ignite_execution_duration_seconds histogram\n";
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    out << "ignite_execution_duration_seconds_bucket{le=\"" << number(kBuckets[i]) << "\"} "
        << bucket_counts_[i] << "\n";
  }
  out << "ignite_execution_duration_seconds_bucket{le=\"+Inf\"} " << duration_count_ << "\n"
      << "ignite_execution_duration_seconds_sum " << number(duration_sum_) << "\n"
      << "ignite_execution_duration_seconds_count " << duration_count_ << "\n";
  out << "# HELP ignite_queue_depth Accepted executions waiting for a worker.\n"
         "# TYPE ignite_queue_depth gauge\n"
      << "ignite_queue_depth " << g.queue_depth << "\n"
      << "# HELP ignite_executions_running Executions running now.\n"
         "# TYPE ignite_executions_running gauge\n"
      << "ignite_executions_running " << g.executions_running << "\n"
      << "# HELP ignite_http_connections Open client connections.\n"
         "# TYPE ignite_http_connections gauge\n"
      << "ignite_http_connections " << g.connections << "\n"
      << "# HELP ignite_uptime_seconds Seconds since the server started.\n"
         "# TYPE ignite_uptime_seconds gauge\n"
      << "ignite_uptime_seconds " << number(g.uptime_seconds) << "\n"
      << "# HELP ignite_pool_ready Warm pool containers started and waiting for a job.\n"
         "# TYPE ignite_pool_ready gauge\n"
      << "ignite_pool_ready " << g.pool_ready << "\n"
      << "# HELP ignite_pool_dispatched_total Executions served by warm pool containers.\n"
         "# TYPE ignite_pool_dispatched_total counter\n"
      << "ignite_pool_dispatched_total " << g.pool_dispatched << "\n";
  return out.str();
}

}  // namespace ignite_http
