// File: ignite/execution.hpp
//
// What one execution of a service asks for (`ExecuteOptions`) and what it produced
// (`ExecutionResult`). A service that fails, times out or hits a limit is a normal result with
// an `outcome`, not an exception.
//
// Example:
//   auto result = engine.execute(svc, {.input = R"({"name":"World"})",
//                                      .timeout = std::chrono::seconds(5)});
//   if (result.outcome == Ignite::Outcome::Timeout) { ... }
//   std::cout << result.stdout_text;
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "ignite/policy.hpp"

namespace Ignite {

// How an execution ended; the CLI's exit status and the HTTP `success` field derive from it.
enum class Outcome {
  Success,      // exit code 0
  Error,        // non-zero exit code
  Timeout,      // killed by Ignite after the timeout; distinct from a service exiting 124
  MemoryLimit,  // the kernel's OOM killer stopped the container
  OutputLimit,  // stdout or stderr exceeded the cap; the container was killed
  Cancelled,    // the caller's stop_token fired; the container was killed
  CpuLimit,     // the service's CPU time passed the CPU-time limit; the container was killed
};

// "success", "error", "timeout", "memory_limit", "output_limit", "cancelled", "cpu_limit".
std::string_view to_string(Outcome outcome) noexcept;

inline constexpr std::size_t kDefaultOutputLimit = 1024 * 1024;

// How the service's code reaches the container.
enum class CodeDelivery {
  Auto,   // Mount on a local daemon (unix socket), Baked on a remote one (tcp://, ssh://)
  Mount,  // the service directory bind-mounted read-only at /app; edits need no rebuild
  Baked,  // the service files copied into the per-service image (for remote daemons/clusters)
};

// What one Engine::execute() asks for, on top of service.yaml. A plain value: designated
// initializers (`{.input = ..., .timeout = 5s}`). Invalid values (input that is not JSON, an
// env name that is not valid, a non-positive limit) make execute() throw
// Error(InvalidArgument) naming the option. Thread-safety: the callbacks run on the thread
// that called execute() (or prewarm()/preflight() for on_build_output).
struct ExecuteOptions {
  // The input as JSON text. Delivered on the service's stdin, and in IGNITE_INPUT when it is at
  // most kMaxEnvInput bytes. nullopt: empty stdin and IGNITE_INPUT="".
  std::optional<std::string> input;
  // Added after service.yaml's env (later wins). Names must be valid environment names.
  std::map<std::string, std::string> env;
  // Overrides of service.yaml's values.
  std::optional<std::string> runtime;
  std::optional<std::chrono::milliseconds> timeout;
  // The CPU-time limit (service.yaml's cpuTimeMs): the container is killed when the service's
  // CPU time passes it (outcome CpuLimit). Measured as ExecutionResult::cpu_time is.
  std::optional<std::chrono::microseconds> cpu_time_limit;
  std::optional<double> memory_mb;
  std::optional<double> cpus;
  // Bytes kept per stream. A service that prints more is killed (outcome OutputLimit).
  std::size_t output_limit = kDefaultOutputLimit;
  // Called from the executing thread as output arrives (before any truncation).
  std::function<void(std::string_view)> on_stdout;
  std::function<void(std::string_view)> on_stderr;
  // Cancels a running execution: the container is killed and removed.
  std::stop_token stop_token;
  // Overrides EngineOptions::delivery.
  std::optional<CodeDelivery> delivery;
  // Receives the per-service image build's output lines (only when a build happens).
  std::function<void(std::string_view)> on_build_output;
  // Audit mode: the service directory's policy file (or the default policy) decides network
  // and root-filesystem access, overriding service.yaml, and the result carries a
  // SecurityAudit. For the built-in runtimes a bootstrap (/opt/ignite/audit-*) loaded before
  // the entry reports attempted network connections, file writes outside /tmp and process
  // spawns; it reads a per-execution nonce that Ignite writes as the first line of stdin (the
  // service still reads exactly its input) and reports on stderr lines carrying that nonce,
  // which never appear in stderr_text. The bootstrap only observes; enforcement is the kernel's.
  bool audit = false;
};

// One observed security-relevant event (reference §6.3 shape). Events the audit bootstrap
// reported come first, in order of occurrence, then kernel facts ("resource": oom-kill,
// timeout-kill, output-limit-kill, pids-limit, signal). `allowed` is the effective policy's
// verdict on the attempt.
struct SecurityEvent {
  std::string type;    // "network", "filesystem", "process", "resource", "audit" (channel notes)
  std::string action;  // e.g. "connect", "dns", "write", "delete", "mkdir", "spawn", "oom-kill"
  std::string target;
  bool allowed = false;
  std::string timestamp;  // ISO-8601 UTC with milliseconds
  std::string details;
};

// Audit mode's report: the effective policy and what was observed. A plain value.
struct SecurityAudit {
  SecurityPolicy policy;
  std::vector<SecurityEvent> events;
};

inline constexpr std::size_t kMaxEnvInput = 64 * 1024;

// Microsecond resolution: a warm execution takes a few milliseconds in all.
struct PhaseTimings {
  std::chrono::microseconds build{0};    // per-service image build (0 when reused)
  std::chrono::microseconds create{0};   // container create + attach
  std::chrono::microseconds start{0};    // container start
  std::chrono::microseconds run{0};      // from start until the process ended or was killed
  std::chrono::microseconds cleanup{0};  // exit status, inspection and removal
};

// How the container of an execution was obtained.
enum class ContainerStart {
  Cold,    // created and started for this execution
  Warm,    // taken from the warm pool, used for this execution only
  Reused,  // a reuse-mode container that had run other jobs of the same service before
};
std::string_view to_string(ContainerStart start) noexcept;  // "cold", "warm", "reused"

// Where an execution ran (the JSON report's execution.placement).
struct Placement {
  std::string backend = "docker";  // "docker" or "swarm"
  std::string host;                // the Docker endpoint Ignite talked to, e.g. unix:///var/run/docker.sock
  std::string node;                // swarm: the node ID the task ran on; empty for docker
  std::string task;                // swarm: the task ID; empty for docker
};

// What one execution produced: outcome, exit code, captured output, timings and resource use.
// An immutable value (to_json() in json.hpp gives the shared JSON shape); no errors: every
// way a service can fail is an outcome. Thread-safety: safe to read from any thread.
struct ExecutionResult {
  std::string service_name;
  std::string runtime;  // resolved "name@version"
  std::string image;
  Outcome outcome = Outcome::Error;
  int exit_code = 0;
  std::string stdout_text;
  std::string stderr_text;
  bool stdout_truncated = false;
  bool stderr_truncated = false;
  bool oom_killed = false;
  // Peak memory of the container's cgroup, when the daemon's cgroups are visible to this host.
  std::optional<double> memory_peak_mb;
  // CPU time (user + system) of every process in the container, as the kernel accounted it to
  // the container's cgroup, when the daemon's cgroups are visible to this host. Cold: all the
  // container ran, the runtime's start-up included. Warm or reused: from the job's dispatch on
  // (the runtime booted earlier, for no job). Under gVisor it includes the sandbox's own work
  // (its user-space kernel and file proxy). docs/resource-accounting.md.
  std::optional<std::chrono::microseconds> cpu_time;
  bool cold_start = false;  // the per-service image had to be built for this run
  ContainerStart container_start = ContainerStart::Cold;
  std::string container_id;
  std::size_t container_job = 1;  // 1-based index of this job in its container (reuse mode)
  std::optional<SecurityAudit> audit;  // set in audit mode
  std::chrono::microseconds duration{0};  // create through cleanup (wall clock)
  PhaseTimings phases;
  Placement placement;
  CodeDelivery delivery = CodeDelivery::Mount;  // how the service's files reached /app
  std::string delivery_note;  // set when Auto chose Baked for a remote daemon, saying why
};

}  // namespace Ignite
