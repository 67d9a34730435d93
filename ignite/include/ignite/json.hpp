// File: ignite/json.hpp
//
// JSON forms of Ignite's value types (nlohmann::json ADL serialisers). The shapes are the one
// contract shared by the CLI's --json output, the HTTP server and the language bindings; keys
// are camelCase as in the TypeScript reference (ExecutionMetrics §5.4 plus Ignite's additions).
// Opt-in: only this header pulls in nlohmann/json. Thread-safety: the serialisers only read
// their argument; any number of threads may serialise the same value at once.
//
// Example:
//   nlohmann::json j = engine.execute(svc);
//   std::cout << j.dump(2);
#pragma once

#include <nlohmann/json.hpp>

#include "ignite/execution.hpp"
#include "ignite/preflight.hpp"
#include "ignite/report.hpp"
#include "ignite/service.hpp"

namespace Ignite {

// ExecutionMetrics (reference §5.4) plus Ignite's fields (phases, containerStart, ...).
void to_json(nlohmann::json& j, const ExecutionResult& result);
// service.yaml's `service:` section, as GET /services/{name} returns it.
void to_json(nlohmann::json& j, const ServiceConfig& config);
// The shapes of `--audit --json` (reference §6.4): the policy applied, each event, the audit
// with its summary counters.
void to_json(nlohmann::json& j, const SecurityPolicy& policy);
void to_json(nlohmann::json& j, const SecurityEvent& event);
void to_json(nlohmann::json& j, const SecurityAudit& audit);

// Reference §4 / §7.1 shapes; keys whose value is absent are left out.
// {name, status, message, value?, threshold?}
void to_json(nlohmann::json& j, const PreflightCheck& check);
// {serviceName, timestamp, checks, overallStatus}
void to_json(nlohmann::json& j, const PreflightResult& result);
// {level, message, suggestion?}
void to_json(nlohmann::json& j, const Warning& warning);
// {serviceName, timestamp, preflight, execution?, warnings}
void to_json(nlohmann::json& j, const ExecutionReport& report);

}  // namespace Ignite
