#include "examples/http/openapi.hpp"

#include <string>

#include "ignite/version.hpp"

using json = nlohmann::json;

namespace ignite_http {
namespace {

json ref(const std::string& name) { return {{"$ref", "#/components/schemas/" + name}}; }

json json_content(const json& schema) { return {{"application/json", {{"schema", schema}}}}; }

json error_response(const std::string& description) {
  return {{"description", description}, {"content", json_content(ref("Error"))}};
}

json name_parameter() {
  return {{"name", "name"},
          {"in", "path"},
          {"required", true},
          {"description", "Service directory name: lowercase a-z, 0-9 and '-', 1-63 characters"},
          {"schema", {{"type", "string"}, {"pattern", "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"}}}};
}

// Statuses every guarded route can answer with.
json guarded(json responses) {
  responses["401"] = error_response("Missing or wrong bearer token (when an API key is set)");
  responses["429"] = {
      {"description", "Rate limit exceeded"},
      {"headers",
       {{"Retry-After",
         {{"schema", {{"type", "integer"}}}, {"description", "Seconds until the window resets"}}}}},
      {"content", json_content(ref("Error"))}};
  return responses;
}

json build() {
  json schemas = {
      {"Error",
       {{"type", "object"},
        {"required", {"error", "code"}},
        {"properties",
         {{"error", {{"type", "string"}}},
          {"code", {{"type", "string"}}},
          {"field", {{"type", "string"}, {"description", "The request body field at fault"}}},
          {"success", {{"type", "boolean"}}},
          {"serviceName", {{"type", "string"}}},
          {"requestId",
           {{"type", "string"}, {"description", "The request's X-Request-Id, in every error"}}},
          {"status",
           {{"type", "integer"},
            {"description",
             "In a stream's `error` event: the status the plain answer would have had"}}},
          {"preflight",
           {{"$ref", "#/components/schemas/PreflightResult"},
            {"description", "PREFLIGHT_FAILED: the checks"}}}}}}},
      {"Health",
       {{"type", "object"},
        {"required", {"status", "version", "uptime"}},
        {"properties",
         {{"status", {{"type", "string"}, {"enum", {"ok"}}}},
          {"version", {{"type", "string"}}},
          {"uptime", {{"type", "integer"}, {"description", "Whole seconds since start"}}}}}}},
      {"Ready",
       {{"type", "object"},
        {"required", {"status", "docker"}},
        {"properties",
         {{"status", {{"type", "string"}, {"enum", {"ready"}}}},
          {"docker", {{"type", "string"}, {"enum", {"ok"}}}}}}}},
      {"NotReady",
       {{"type", "object"},
        {"description", "An Error with the probe's status"},
        {"required", {"status", "error", "code"}},
        {"properties",
         {{"status", {{"type", "string"}, {"enum", {"not_ready"}}}},
          {"error",
           {{"type", "string"},
            {"description", "Why: the engine's message, or the ping's missed bound"}}},
          {"code",
           {{"type", "string"},
            {"description", "DOCKER_UNAVAILABLE, or the code of another engine error"}}},
          {"requestId", {{"type", "string"}}}}}}},
      {"ServiceList",
       {{"type", "object"},
        {"required", {"services"}},
        {"properties", {{"services", {{"type", "array"}, {"items", {{"type", "string"}}}}}}}}},
      {"ServiceConfig",
       {{"type", "object"},
        {"required", {"name", "runtime", "entry", "memoryMb", "timeoutMs"}},
        {"properties",
         {{"name", {{"type", "string"}}},
          {"runtime", {{"type", "string"}}},
          {"entry", {{"type", "string"}}},
          {"memoryMb", {{"type", "number"}}},
          {"timeoutMs", {{"type", "number"}}},
          {"cpuLimit", {{"type", "number"}}},
          {"cpuTimeMs",
           {{"type", "number"},
            {"minimum", 0},
            {"exclusiveMinimum", true},
            {"description", "CPU-time limit in milliseconds (user + system of the container)"}}},
          {"network", {{"type", "boolean"}}},
          {"env", {{"type", "object"}, {"additionalProperties", {{"type", "string"}}}}},
          {"overridableEnv",
           {{"type", "array"},
            {"items", {{"type", "string"}}},
            {"description", "Variables a client may set in an execute request's env"}}}}}}},
      {"PreflightResult",
       {{"type", "object"},
        {"required", {"serviceName", "timestamp", "checks", "overallStatus"}},
        {"properties",
         {{"serviceName", {{"type", "string"}}},
          {"timestamp", {{"type", "string"}, {"format", "date-time"}}},
          {"checks",
           {{"type", "array"},
            {"items",
             {{"type", "object"},
              {"required", {"name", "status", "message"}},
              {"properties",
               {{"name", {{"type", "string"}}},
                {"status", {{"type", "string"}, {"enum", {"pass", "warn", "fail"}}}},
                {"message", {{"type", "string"}}},
                {"value", json::object()},
                {"threshold", json::object()}}}}}}},
          {"overallStatus", {{"type", "string"}, {"enum", {"pass", "warn", "fail"}}}}}}}},
      {"PreflightResponse",
       {{"type", "object"},
        {"required", {"serviceName", "preflight"}},
        {"properties",
         {{"serviceName", {{"type", "string"}}}, {"preflight", ref("PreflightResult")}}}}},
      {"ExecutionMetrics",
       {{"type", "object"},
        {"description", "Ignite's ExecutionResult JSON (the CLI's --json shape)"},
        {"required", {"serviceName", "outcome", "exitCode", "executionTimeMs", "stdout", "stderr"}},
        {"properties",
         {{"serviceName", {{"type", "string"}}},
          {"runtime", {{"type", "string"}}},
          {"image", {{"type", "string"}}},
          {"outcome",
           {{"type", "string"},
            {"enum",
             {"success", "error", "timeout", "memory_limit", "output_limit", "cancelled",
              "cpu_limit"}},
            {"description",
             "cpu_limit: the CPU time passed the CPU-time limit (cpuTimeMs) and the container "
             "was killed; timeout is the wall clock"}}},
          {"executionTimeMs",
           {{"type", "number"},
            {"description", "Wall time, create through cleanup, in ms to the microsecond"}}},
          {"cpuTimeMs",
           {{"type", "number"},
            {"description",
             "CPU time (user + system) of every process in the container, in ms to the "
             "microsecond, as the kernel accounted it to the container's cgroup. Cold: all the "
             "container ran, the runtime's start-up included; warm or reused: from the job's "
             "dispatch on. Under gVisor it includes the sandbox's own work. Absent when the "
             "daemon's cgroups are not readable on the server's host"}}},
          {"memoryUsageMb", {{"type", "number"}}},
          {"coldStart", {{"type", "boolean"}}},
          {"exitCode", {{"type", "integer"}}},
          {"stdout", {{"type", "string"}}},
          {"stderr", {{"type", "string"}}},
          {"stdoutTruncated", {{"type", "boolean"}}},
          {"stderrTruncated", {{"type", "boolean"}}},
          {"oomKilled", {{"type", "boolean"}}},
          {"memoryPeakMb",
           {{"type", "number"}, {"description", "Peak memory, when the host could observe it"}}},
          {"coldStartTimeMs",
           {{"type", "number"}, {"description", "build + create + start, on a cold start"}}},
          {"securityAudit",
           {{"type", "object"}, {"description", "Audit mode: events and summary counters"}}},
          {"delivery",
           {{"type", "object"},
            {"description",
             "How the service's code reached the container: mode mount (bind-mounted) or baked "
             "(copied into the image); note says why when Ignite chose baked for a remote daemon"},
            {"properties",
             {{"mode", {{"type", "string"}, {"enum", {"mount", "baked"}}}},
              {"note", {{"type", "string"}}}}}}},
          {"placement",
           {{"type", "object"},
            {"description",
             "Where the job ran: the backend, the Docker endpoint and, on a swarm, the node and "
             "task ids"},
            {"properties",
             {{"backend", {{"type", "string"}, {"enum", {"docker", "swarm"}}}},
              {"host", {{"type", "string"}}},
              {"node", {{"type", "string"}}},
              {"task", {{"type", "string"}}}}},
            {"required", {"backend", "host"}}}},
          {"phases",
           {{"type", "object"},
            {"description", "Milliseconds to the microsecond per phase"},
            {"properties",
             {{"buildMs", {{"type", "number"}}},
              {"createMs", {{"type", "number"}}},
              {"startMs", {{"type", "number"}}},
              {"runMs", {{"type", "number"}}},
              {"cleanupMs", {{"type", "number"}}}}}}},
          {"container",
           {{"type", "object"},
            {"description", "How the container was obtained (warm pool, reuse mode)"},
            {"properties",
             {{"start", {{"type", "string"}, {"enum", {"cold", "warm", "reused"}}}},
              {"id", {{"type", "string"}}},
              {"job", {{"type", "integer"}, {"minimum", 1}}}}}}}}}}},
      {"ExecuteRequest",
       {{"type", "object"},
        {"additionalProperties", false},
        {"properties",
         {{"input", {{"description", "Any JSON value, delivered on the service's stdin"}}},
          {"skipPreflight", {{"type", "boolean"}, {"default", false}}},
          {"audit", {{"type", "boolean"}, {"default", false}}},
          {"cpuTimeMs",
           {{"type", "number"},
            {"minimum", 0},
            {"exclusiveMinimum", true},
            {"maximum", 1e12},
            {"description",
             "CPU-time limit in milliseconds, replacing service.cpuTimeMs for this execution "
             "(and its preflight); passing it ends the execution as cpu_limit"}}},
          {"skipBuild",
           {{"type", "boolean"},
            {"deprecated", true},
            {"description", "Accepted for compatibility; images are rebuilt only when needed"}}},
          {"env",
           {{"type", "object"},
            {"additionalProperties", {{"type", "string"}}},
            {"description",
             "Environment overrides: only names the service lists in service.yaml's "
             "overridableEnv (anything else is a 400 ENV_NOT_ALLOWED naming the variable)"}}}}}}},
      {"ExecuteResponse",
       {{"type", "object"},
        {"required", {"success", "serviceName", "metrics"}},
        {"properties",
         {{"success", {{"type", "boolean"}, {"description", "true only for outcome success"}}},
          {"serviceName", {{"type", "string"}}},
          {"metrics", ref("ExecutionMetrics")},
          {"preflight", ref("PreflightResult")},
          {"securityAudit", {{"type", "object"}}}}}}},
  };

  json paths;
  paths["/health"]["get"] = {
      {"summary", "Liveness, version and uptime (no auth, no rate limit)"},
      {"operationId", "health"},
      {"security", json::array()},
      {"responses", {{"200", {{"description", "OK"}, {"content", json_content(ref("Health"))}}}}}};
  // HEAD answers the same without a body.
  const json ready = {
      {"summary",
       "Readiness: whether the Docker daemon answers a ping (no auth, no rate limit). At most one "
       "ping is in flight and its result is reused for 1 s; a ping that has not answered "
       "within 1 s makes this answer 503 at once."},
      {"security", json::array()},
      {"responses",
       {{"200", {{"description", "Ready"}, {"content", json_content(ref("Ready"))}}},
        {"503",
         {{"description", "Docker unavailable, or it did not answer within 1 s"},
          {"content", json_content(ref("NotReady"))}}}}}};
  paths["/ready"]["get"] = ready;
  paths["/ready"]["get"]["operationId"] = "ready";
  paths["/services"]["get"] = {
      {"summary", "Names of the directories holding a valid service.yaml, sorted"},
      {"operationId", "listServices"},
      {"responses",
       guarded({{"200", {{"description", "OK"}, {"content", json_content(ref("ServiceList"))}}},
                {"500", error_response("The services directory cannot be read")},
                {"503", error_response("Server busy (SERVER_BUSY, with Retry-After)")}})}};
  paths["/services/{name}"]["get"] = {
      {"summary", "A service's configuration"},
      {"operationId", "getService"},
      {"parameters", {name_parameter()}},
      {"responses",
       guarded({{"200", {{"description", "OK"}, {"content", json_content(ref("ServiceConfig"))}}},
                {"400", error_response("Invalid service name")},
                {"404", error_response("No such (valid) service")},
                {"503", error_response("Server busy (SERVER_BUSY, with Retry-After)")}})}};
  paths["/services/{name}/preflight"]["get"] = {
      {"summary", "Preflight checks (never builds the image)"},
      {"operationId", "preflightService"},
      {"parameters", {name_parameter()}},
      {"responses", guarded({{"200",
                              {{"description", "The checks, whatever their status"},
                               {"content", json_content(ref("PreflightResponse"))}}},
                             {"400", error_response("Invalid service name")},
                             {"404", error_response("No such (valid) service")},
                             {"500", error_response("Ignite could not run the checks (e.g. an "
                                                    "unknown runtime image)")},
                             {"503", error_response("Server busy, or Docker unavailable")}})}};
  paths["/services/{name}/execute"]["post"] = {
      {"summary", "Run the service once in a fresh container"},
      {"description",
       "With ?stream=1 a request that passes validation and gets a queue place is answered "
       "200 text/event-stream at once: a `retry:` line, `stdout` and `stderr` events (data: a "
       "JSON string; consecutive output is coalesced) as output arrives, a `: keep-alive` "
       "comment whenever the stream was quiet for --sse-heartbeat-ms (15 s; also while waiting "
       "for a worker and while the image builds), then one `result` event carrying the "
       "ExecuteResponse, or an `error` event with an Error (its `status` is what the plain "
       "answer's status would have been, e.g. 400 PREFLIGHT_FAILED). The stream holds at most "
       "256 KiB of unsent output per request: a slower reader misses output (a comment says "
       "how much), never the result."},
      {"operationId", "executeService"},
      {"parameters",
       {name_parameter(),
        {{"name", "stream"},
         {"in", "query"},
         {"required", false},
         {"schema", {{"type", "string"}, {"enum", {"1", "true"}}}},
         {"description", "Stream output as Server-Sent Events"}}}},
      {"requestBody", {{"required", false}, {"content", json_content(ref("ExecuteRequest"))}}},
      {"responses",
       guarded(
           {{"200",
             {{"description", "The service ran; success reflects its outcome"},
              {"content",
               {{"application/json", {{"schema", ref("ExecuteResponse")}}},
                {"text/event-stream", {{"schema", {{"type", "string"}}}}}}}}},
            {"400", error_response("Invalid name or body, preflight failed (PREFLIGHT_FAILED, with "
                                   "preflight), or an env variable the service does not declare "
                                   "overridable (ENV_NOT_ALLOWED)")},
            {"404", error_response("No such (valid) service")},
            {"413", error_response("Body larger than the server's limit")},
            {"500", error_response("Ignite could not run the service (e.g. build failed)")},
            {"503",
             error_response("Execution queue full (QUEUE_FULL), Docker not ready (refused at "
                            "once while /ready would answer 503), Docker unavailable or "
                            "shutting down; with Retry-After")}})}};
  paths["/metrics"]["get"] = {
      {"summary", "Prometheus metrics"},
      {"operationId", "metrics"},
      {"responses",
       guarded({{"200",
                 {{"description", "Prometheus text exposition format 0.0.4"},
                  {"content", {{"text/plain", {{"schema", {{"type", "string"}}}}}}}}}})}};
  paths["/openapi.json"]["get"] = {
      {"summary", "This document"},
      {"operationId", "openapi"},
      {"responses", guarded({{"200",
                              {{"description", "OpenAPI 3 document"},
                               {"content", json_content({{"type", "object"}})}}}})}};

  // HEAD wherever GET is: the GET's status and headers, no body.
  for (auto& [path, item] : paths.items()) {
    (void)path;
    if (!item.contains("get")) continue;
    json head = item["get"];
    head["operationId"] = head["operationId"].get<std::string>() + "Head";
    head["summary"] = "HEAD: " + head["summary"].get<std::string>() + " (headers only, no body)";
    item["head"] = head;
  }
  // Every answer carries X-Request-Id; and every request may fail the transport's limits.
  for (auto& [path, item] : paths.items()) {
    (void)path;
    for (auto& [method, op] : item.items()) {
      (void)method;
      op["responses"]["413"] = error_response("Request body larger than --max-body");
      op["responses"]["431"] = error_response("Request header larger than 16 KiB");
      for (auto& [status, response] : op["responses"].items()) {
        (void)status;
        response["headers"]["X-Request-Id"] = {{"$ref", "#/components/headers/RequestId"}};
      }
    }
  }

  return {{"openapi", "3.0.3"},
          {"info",
           {{"title", "Ignite HTTP API"},
            {"version", std::string(Ignite::version())},
            {"description",
             "Runs untrusted JavaScript/TypeScript services in Docker containers. A method a path "
             "does not list is answered 405 with an Allow header naming those it does; an unknown "
             "path 404. A request whose header or body does not arrive within the server's "
             "deadlines is closed without an answer (logged as 408)."}}},
          {"paths", paths},
          {"components",
           {{"schemas", schemas},
            {"headers",
             {{"RequestId",
               {{"description",
                 "The request's X-Request-Id when it sent a valid one (1-128 of A-Z a-z 0-9 "
                 "- _ . : / + = @), else one generated for it; also in the access log and in every "
                 "error body (requestId)"},
                {"schema", {{"type", "string"}}}}}}},
            {"securitySchemes", {{"bearerAuth", {{"type", "http"}, {"scheme", "bearer"}}}}}}},
          {"security", {{{"bearerAuth", json::array()}}}}};
}

}  // namespace

const json& openapi_document() {
  static const json doc = build();
  return doc;
}

}  // namespace ignite_http
