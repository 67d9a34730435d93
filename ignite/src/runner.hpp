// The resident runner of pooled containers (pool.hpp).
//
// A pooled container starts before its job is known: /opt/ignite/ignite-supervisor (a static
// binary, ignite/container/supervisor.c) starts the runtime with a small preload, the runner,
// loaded before the service's entry (`node --require`, `bun --preload`, `deno run --preload`,
// `qjs -I`). The runner lets the runtime boot, writes "\x1eIGNITE-READY\n" on stderr
// (IGNITE_RUNNER=1; with IGNITE_RUNNER=2, a runtime the supervisor boots ahead in reuse mode,
// nothing) and blocks reading the job header from stdin:
//
//   <n>\n<n bytes: a JSON object of environment variables, string values>
//
// It sets those variables (IGNITE_INPUT and the caller's ExecuteOptions::env), and the
// runtime goes on to load the entry, which reads the rest of stdin (its input) as on the cold
// path. The supervisor reports the exit status in band when the runtime has exited.
#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ignite/src/audit.hpp"

namespace Ignite::detail {

// Runner scripts, shipped with the audit scripts into every per-service image at kAuditDir.
std::span<const AuditScript> runner_scripts();

// The supervisor binary (embedded at build time) and where images carry it.
std::string_view supervisor_binary();
inline constexpr std::string_view kSupervisorPath = "/opt/ignite/ignite-supervisor";

// The LD_AUDIT module of runtimes booted ahead of their job in reuse mode (container/preboot.c),
// embedded at build time, and where images carry it.
std::string_view preboot_library();
inline constexpr std::string_view kPrebootPath = "/opt/ignite/ignite-preboot.so";

// `argv` with the runner preloaded ahead of everything else, or nullopt when no runner fits the
// command (custom runtimes run on the cold path).
std::optional<std::vector<std::string>> runner_argv(const std::vector<std::string>& argv);

// Reuse mode boots each job's runtime ahead, with the runner preloaded, while the job before
// runs (supervisor.c, "pre-boot"): the supervisor's options for that ("--preboot", and for
// Node.js "--hold-port=9229", its SIGUSR1 inspector's port), or nullopt when this command's
// runtime boots when its job arrives. Node.js and Deno are booted ahead: their boot (20-40 ms
// of CPU) is most of a job; Bun and QuickJS boot in a few ms. Not when the container's
// environment sets NODE_OPTIONS: code it preloads would run next to the job before.
std::optional<std::vector<std::string>> preboot_options(
    const std::vector<std::string>& argv, const std::map<std::string, std::string>& env);

// The job header the runner reads: "<n>\n" + the JSON object.
std::string runner_header(const std::vector<std::pair<std::string, std::string>>& env);

// The first line of a supervised container's stdin: the supervisor's completion key, read
// after it made itself non-dumpable (supervisor.c).
std::string supervisor_key_line(const std::string& key);

}  // namespace Ignite::detail
