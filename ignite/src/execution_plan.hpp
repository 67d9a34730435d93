// The execution plan: everything execute() and prewarm() work out from the service and the
// caller's options before any container exists. plan() validates the options first, so bad
// options never leave a container behind; it then settles the runtime and its command (Deno's
// --allow-run narrowed to the allowed commands, the audit bootstrap in audit mode), the policy,
// the limits, the environment, and the mode: cold (a container created for this job), once (a
// warm pooled container for one job) or reuse (a pooled container for several jobs), with the
// reason when it is cold although the pool is on.
//
// Thread-safety: plan() may be called from any thread; a Plan belongs to one execution.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ignite/engine.hpp"
#include "ignite/policy.hpp"
#include "ignite/runtime.hpp"
#include "ignite/service.hpp"

namespace Ignite::detail {

// What execute() and prewarm() work out before any container exists.
struct Plan {
  explicit Plan(ResolvedRuntime runtime) : rt(std::move(runtime)) {}
  ResolvedRuntime rt;
  std::optional<SecurityPolicy> policy;
  std::size_t output_limit = 0;
  std::chrono::milliseconds timeout{0};
  std::optional<std::chrono::microseconds> cpu_time_limit;  // none: CPU time is only measured
  std::string input;
  bool audit_bootstrap = false;
  std::string audit_nonce;
  std::map<std::string, std::string> base_env;  // the container's: service.yaml env, defaults
  std::vector<std::pair<std::string, std::string>> job_env;  // the caller's env, IGNITE_INPUT*
  CodeDelivery delivery = CodeDelivery::Mount;
  std::string delivery_note;  // why Auto became Baked (a remote daemon), else ""
  double memory_mb = 0;
  std::vector<std::string> cmd;
  // False under a policy with allowSpawn: false (seccomp refuses fork): no supervisor then.
  bool may_spawn = true;
  // Pool: which mode this execution may use, and its key.
  enum class Mode { Cold, Once, Reuse } mode = Mode::Cold;
  std::size_t reuse = 1;
  // Reuse mode: the supervisor's pre-boot options (runner.hpp), empty when each job's runtime
  // boots when the job arrives. With pre-boot the job's env goes in the runner's header.
  std::vector<std::string> preboot;
  std::string why_cold;  // when mode is Cold although the pool is on
};

// Where the daemon runs, as far as delivery is concerned.
struct DaemonPlace {
  bool local = true;     // sees this host's paths (a unix socket)
  std::string endpoint;  // its URL, for messages
};

// What plan() needs from the Engine.
struct PlanContext {
  // The runtime a spec ("node", "deno@2") names in the Engine's registry.
  std::function<ResolvedRuntime(const std::string& spec)> resolve;
  // Throws Error(Config) when the daemon lacks an OCI runtime (gVisor's runsc) the policy asks for.
  std::function<void(const std::string& oci_runtime, const SecurityPolicy&)> require_runtime;
  CodeDelivery delivery = CodeDelivery::Auto;  // EngineOptions::delivery
  const PoolOptions& pool;                     // EngineOptions::pool
  DaemonPlace daemon;
};

// Throws Error(InvalidArgument) for bad options, Error(Config) for a policy the daemon cannot
// enforce, before anything is created.
Plan plan(const Service& svc, const ExecuteOptions& opt, const PlanContext& ctx);

// The delivery an execution uses: the requested one, else the Engine's. Auto is Mount on a
// local daemon and Baked on a remote one (which cannot see this host's paths; `note` then
// says so). Throws Error(Config) when Mount is asked of a remote daemon.
struct DeliveryChoice {
  CodeDelivery delivery = CodeDelivery::Mount;
  std::string note;
};
DeliveryChoice resolve_delivery(const std::optional<CodeDelivery>& requested,
                                CodeDelivery engine_default, const DaemonPlace& daemon);

// The runtime's command for this service: Deno's --allow-run narrowed to the allowed
// commands, the audit bootstrap in audit mode.
std::vector<std::string> runtime_command(const Service& svc, const ResolvedRuntime& rt,
                                         const std::optional<SecurityPolicy>& policy,
                                         bool audit_bootstrap);

}  // namespace Ignite::detail
