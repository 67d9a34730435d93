#include "ignite/src/audit_log.hpp"

#include <chrono>
#include <string_view>

#include "ignite/src/format_util.hpp"

namespace Ignite::detail {
namespace {

std::string_view basename_of(std::string_view path) {
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

bool is_loopback(std::string_view target) {
  if (target.rfind("unix:", 0) == 0) return true;
  // host:port, [v6]:port, or a bare host name (dns).
  std::string_view host = target;
  if (!host.empty() && host.front() == '[') {
    const auto close = host.find(']');
    host = host.substr(1, close == std::string_view::npos ? host.size() - 1 : close - 1);
  } else if (const auto colon = host.rfind(':'); colon != std::string_view::npos &&
                                                  host.find(':') == colon) {
    host = host.substr(0, colon);
  }
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0 ||
         host.ends_with(".localhost");
}

bool under(std::string_view path, std::string_view dir) {
  return path == dir ||
         (path.size() > dir.size() && path.rfind(dir, 0) == 0 && path[dir.size()] == '/');
}

}  // namespace

AuditLog::AuditLog(SecurityPolicy policy, bool app_read_only, std::size_t max_events)
    : policy_(std::move(policy)), app_read_only_(app_read_only), max_events_(max_events) {}

bool AuditLog::allowed(const AuditRecord& r, const SecurityPolicy& p, bool app_read_only) {
  if (r.type == "network") return p.network_enabled || is_loopback(r.target);
  if (r.type == "filesystem") {
    if (app_read_only && under(r.target, "/app")) return false;
    return !p.filesystem_read_only;
  }
  if (r.type == "process") {
    if (!p.allow_spawn) return false;
    if (p.allowed_commands.empty()) return true;
    const std::string_view program = r.program.empty() ? std::string_view(r.target) : r.program;
    for (const auto& c : p.allowed_commands) {
      if (c == program || c == basename_of(program)) return true;
    }
    return false;
  }
  return false;
}

void AuditLog::add(AuditRecord&& r) {
  const bool ok = allowed(r, policy_, app_read_only_);
  if (events_.size() >= max_events_) {
    ++dropped_;
    if (!ok) ++dropped_not_allowed_;
    return;
  }
  using namespace std::chrono;
  const std::string when =
      r.time_ms ? iso8601_utc(system_clock::time_point(milliseconds(*r.time_ms))) : iso8601_now();
  std::string details = std::move(r.details);
  if (r.type == "network" && ok && !policy_.network_enabled) details += " (loopback: stays in the container)";
  if (r.type == "filesystem" && !ok && !policy_.filesystem_read_only) details += " (/app is mounted read-only)";
  events_.push_back({std::move(r.type), std::move(r.action), std::move(r.target), ok, when,
                     std::move(details)});
}

std::vector<SecurityEvent> AuditLog::take(std::size_t malformed) {
  std::vector<SecurityEvent> out = std::move(events_);
  events_.clear();
  if (dropped_ > 0) {
    out.push_back({"audit", "events-dropped", "audit", dropped_not_allowed_ == 0, iso8601_now(),
                   std::to_string(dropped_) + " further events were not kept (at most " +
                       std::to_string(max_events_) + " are), " +
                       std::to_string(dropped_not_allowed_) + " of them not allowed by the policy"});
  }
  if (malformed > 0) {
    out.push_back({"audit", "malformed-records", "audit", true, iso8601_now(),
                   std::to_string(malformed) + " audit records could not be read"});
  }
  return out;
}

}  // namespace Ignite::detail
