#include "ignite/json.hpp"

#include <cmath>

namespace Ignite {
namespace {

// Integral doubles serialise as integers (128, not 128.0), as JavaScript prints them.
nlohmann::json number(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9.0e15) {
    return static_cast<std::int64_t>(v);
  }
  return v;
}

// Milliseconds with microsecond resolution: 12.345 (an integral value prints as 12).
nlohmann::json ms(std::chrono::microseconds d) {
  return number(static_cast<double>(d.count()) / 1000.0);
}

}  // namespace

void to_json(nlohmann::json& j, const ExecutionResult& r) {
  j = nlohmann::json{
      {"serviceName", r.service_name},
      {"runtime", r.runtime},
      {"image", r.image},
      {"outcome", std::string(to_string(r.outcome))},
      {"executionTimeMs", ms(r.duration)},
      {"memoryUsageMb", number(r.memory_peak_mb.value_or(0))},
      {"coldStart", r.cold_start},
      {"exitCode", r.exit_code},
      {"stdout", r.stdout_text},
      {"stderr", r.stderr_text},
      {"stdoutTruncated", r.stdout_truncated},
      {"stderrTruncated", r.stderr_truncated},
      {"oomKilled", r.oom_killed},
      {"phases",
       {{"buildMs", ms(r.phases.build)},
        {"createMs", ms(r.phases.create)},
        {"startMs", ms(r.phases.start)},
        {"runMs", ms(r.phases.run)},
        {"cleanupMs", ms(r.phases.cleanup)}}},
  };
  if (r.memory_peak_mb) j["memoryPeakMb"] = number(*r.memory_peak_mb);
  // Ignite: CPU time of the job (user + system), when this host can read it.
  if (r.cpu_time) j["cpuTimeMs"] = ms(*r.cpu_time);
  // Ignite: how the container was obtained (warm pool / reuse mode).
  j["container"] = {{"start", std::string(to_string(r.container_start))},
                    {"id", r.container_id},
                    {"job", r.container_job}};
  // Where it ran: node and task only where there is a choice of them (swarm).
  j["placement"] = {{"backend", r.placement.backend}, {"host", r.placement.host}};
  if (r.placement.backend == "swarm") {
    j["placement"]["node"] = r.placement.node;
    j["placement"]["task"] = r.placement.task;
  }
  j["delivery"] = {{"mode", r.delivery == CodeDelivery::Baked ? "baked" : "mount"}};
  if (!r.delivery_note.empty()) j["delivery"]["note"] = r.delivery_note;
  if (r.audit) j["securityAudit"] = *r.audit;
  if (r.cold_start) j["coldStartTimeMs"] = ms(r.phases.build + r.phases.create + r.phases.start);
}

void to_json(nlohmann::json& j, const ServiceConfig& c) {
  j = nlohmann::json{{"name", c.name},       {"runtime", c.runtime},
                     {"entry", c.entry},     {"memoryMb", number(c.memory_mb)},
                     {"timeoutMs", number(c.timeout_ms)}};
  if (c.cpu_limit) j["cpuLimit"] = number(*c.cpu_limit);
  if (c.cpu_time_ms) j["cpuTimeMs"] = number(*c.cpu_time_ms);
  if (c.network) j["network"] = true;
  if (!c.env.empty()) j["env"] = c.env;
  if (!c.overridable_env.empty()) j["overridableEnv"] = c.overridable_env;
}

namespace {

nlohmann::json check_value(const CheckValue& v) {
  if (const double* d = std::get_if<double>(&v)) return number(*d);
  return std::get<std::string>(v);
}

}  // namespace

void to_json(nlohmann::json& j, const PreflightCheck& c) {
  j = nlohmann::json{{"name", c.name},
                     {"status", std::string(to_string(c.status))},
                     {"message", c.message}};
  if (c.value) j["value"] = check_value(*c.value);
  if (c.threshold) j["threshold"] = check_value(*c.threshold);
}

void to_json(nlohmann::json& j, const PreflightResult& r) {
  j = nlohmann::json{{"serviceName", r.service_name},
                     {"timestamp", r.timestamp},
                     {"checks", r.checks},
                     {"overallStatus", std::string(to_string(r.overall))}};
}

void to_json(nlohmann::json& j, const Warning& w) {
  j = nlohmann::json{{"level", std::string(to_string(w.level))}, {"message", w.message}};
  if (w.suggestion) j["suggestion"] = *w.suggestion;
}

void to_json(nlohmann::json& j, const ExecutionReport& r) {
  j = nlohmann::json{{"serviceName", r.service_name},
                     {"timestamp", r.timestamp},
                     {"preflight", r.preflight}};
  if (r.execution) j["execution"] = *r.execution;
  j["warnings"] = r.warnings;
}

}  // namespace Ignite

namespace Ignite {

void to_json(nlohmann::json& j, const SecurityPolicy& p) {
  nlohmann::json process = {{"allowSpawn", p.allow_spawn}};
  if (!p.allowed_commands.empty()) process["allowedCommands"] = p.allowed_commands;
  j = nlohmann::json{{"network", {{"enabled", p.network_enabled}}},
                     {"filesystem", {{"readOnly", p.filesystem_read_only}}},
                     {"process", process}};
}

void to_json(nlohmann::json& j, const SecurityEvent& e) {
  j = nlohmann::json{{"type", e.type},           {"action", e.action},
                     {"target", e.target},       {"allowed", e.allowed},
                     {"timestamp", e.timestamp}, {"details", e.details}};
}

// Reference §6.3 summary fields, so existing consumers of the audit JSON keep working.
void to_json(nlohmann::json& j, const SecurityAudit& a) {
  int net = 0, net_blocked = 0, reads = 0, writes = 0, fs_blocked = 0, spawns = 0, spawn_blocked = 0;
  bool violations = false;
  for (const auto& e : a.events) {
    if (!e.allowed) violations = true;
    if (e.type == "network") {
      ++net;
      if (!e.allowed) ++net_blocked;
    } else if (e.type == "filesystem") {
      if (e.action == "read") ++reads;
      if (e.action == "write") ++writes;
      if (!e.allowed) ++fs_blocked;
    } else if (e.type == "process") {
      ++spawns;
      if (!e.allowed) ++spawn_blocked;
    }
  }
  j = nlohmann::json{{"events", a.events},
                     {"summary",
                      {{"networkAttempts", net},
                       {"networkBlocked", net_blocked},
                       {"filesystemReads", reads},
                       {"filesystemWrites", writes},
                       {"filesystemBlocked", fs_blocked},
                       {"processSpawns", spawns},
                       {"processBlocked", spawn_blocked},
                       {"overallStatus", violations ? "violations" : "clean"}}},
                     {"policy", a.policy}};
}

}  // namespace Ignite
