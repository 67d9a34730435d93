// Audit records (audit.hpp) as SecurityEvents, with the policy's verdict on each.
#pragma once

#include <cstddef>
#include <vector>

#include "ignite/execution.hpp"
#include "ignite/policy.hpp"
#include "ignite/src/audit.hpp"

namespace Ignite::detail {

// Collects records as SecurityEvents, in order, keeping at most `max_events`.
class AuditLog {
 public:
  static constexpr std::size_t kMaxEvents = 1000;

  // `app_read_only`: /app is a read-only bind mount whatever the policy says.
  AuditLog(SecurityPolicy policy, bool app_read_only, std::size_t max_events = kMaxEvents);
  void add(AuditRecord&& record);
  // The events, followed by a note on events that were not kept and malformed records.
  std::vector<SecurityEvent> take(std::size_t malformed);

  // The policy's verdict on one record.
  static bool allowed(const AuditRecord& record, const SecurityPolicy& policy, bool app_read_only);

 private:
  SecurityPolicy policy_;
  bool app_read_only_;
  std::size_t max_events_;
  std::vector<SecurityEvent> events_;
  std::size_t dropped_ = 0;
  std::size_t dropped_not_allowed_ = 0;
};

}  // namespace Ignite::detail
