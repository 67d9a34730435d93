#include "ignite/src/execution_plan.hpp"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "ignite/error.hpp"
#include "ignite/src/audit.hpp"
#include "ignite/src/runner.hpp"

using namespace std::chrono;
using json = nlohmann::json;

namespace Ignite::detail {

DeliveryChoice resolve_delivery(const std::optional<CodeDelivery>& requested,
                                CodeDelivery engine_default, const DaemonPlace& daemon) {
  const CodeDelivery d = requested.value_or(engine_default);
  if (daemon.local) return {d == CodeDelivery::Auto ? CodeDelivery::Mount : d, {}};
  if (d == CodeDelivery::Mount) {
    throw Error(ErrorCode::Config,
                "delivery mount: the Docker daemon at " + daemon.endpoint +
                    " is not on this host and cannot see the service directory; use baked (or "
                    "auto, which bakes for remote daemons)");
  }
  if (d == CodeDelivery::Baked) return {d, {}};
  return {CodeDelivery::Baked, "baked: the Docker daemon at " + daemon.endpoint +
                                   " is remote and cannot see this host's files, so the "
                                   "service files were copied into its image"};
}

std::vector<std::string> runtime_command(const Service& svc, const ResolvedRuntime& rt,
                                         const std::optional<SecurityPolicy>& policy,
                                         bool audit_bootstrap) {
  std::vector<std::string> cmd = rt.argv(svc.config.entry);
  if (policy && policy->allow_spawn && !policy->allowed_commands.empty() && rt.name == "deno" &&
      cmd.size() > 2) {
    std::string allow = "--allow-run=";
    for (std::size_t i = 0; i < policy->allowed_commands.size(); ++i) {
      allow += (i ? "," : "") + policy->allowed_commands[i];
    }
    cmd.insert(cmd.begin() + 2, allow);
  }
  if (audit_bootstrap) {
    if (auto with_bootstrap = audit_argv(cmd)) cmd = std::move(*with_bootstrap);
  }
  return cmd;
}

Plan plan(const Service& svc, const ExecuteOptions& opt, const PlanContext& ctx) {
  // Validate everything before touching Docker, so bad options never leave a container behind.
  if (opt.input) {
    if (!json::accept(*opt.input)) {
      throw Error(ErrorCode::InvalidArgument, "input is not valid JSON");
    }
  }
  for (const auto& [key, value] : opt.env) {
    if (!is_valid_env_name(key)) {
      throw Error(ErrorCode::InvalidArgument, "env: \"" + key + "\" is not a valid variable name");
    }
    if (value.find('\0') != std::string::npos) {
      throw Error(ErrorCode::InvalidArgument, "env." + key + ": value contains a NUL character");
    }
  }
  if (opt.timeout && opt.timeout->count() <= 0) {
    throw Error(ErrorCode::InvalidArgument, "timeout must be positive");
  }
  if (opt.cpu_time_limit && opt.cpu_time_limit->count() <= 0) {
    throw Error(ErrorCode::InvalidArgument, "cpu_time_limit must be positive");
  }
  // A Service built in code skips load_service's validation.
  if (const auto& ms = svc.config.cpu_time_ms;
      ms && !(std::isfinite(*ms) && *ms > 0 && *ms <= 1e12)) {
    throw Error(ErrorCode::InvalidArgument,
                "service.cpuTimeMs must be a positive number of milliseconds, at most 1e12");
  }
  if (opt.memory_mb && (!std::isfinite(*opt.memory_mb) || *opt.memory_mb < 6)) {
    throw Error(ErrorCode::InvalidArgument, "memory must be at least 6 MB (Docker's minimum)");
  }
  if (opt.cpus && (!std::isfinite(*opt.cpus) || *opt.cpus <= 0)) {
    throw Error(ErrorCode::InvalidArgument, "cpus must be a positive number");
  }

  Plan p(ctx.resolve(opt.runtime.value_or(svc.config.runtime)));
  // A policy file is enforced on every run; audit mode enforces the default without one.
  if (SecurityPolicy pol = load_policy(svc.path); pol.source || opt.audit)
    p.policy = std::move(pol);
  if (p.policy && p.policy->isolation == Isolation::Gvisor) ctx.require_runtime("runsc", *p.policy);
  p.output_limit = p.policy && p.policy->limits.output_bytes
                       ? std::min(opt.output_limit, *p.policy->limits.output_bytes)
                       : opt.output_limit;
  p.timeout = opt.timeout.value_or(
      milliseconds(static_cast<std::int64_t>(std::llround(svc.config.timeout_ms))));
  p.cpu_time_limit = opt.cpu_time_limit;
  if (!p.cpu_time_limit && svc.config.cpu_time_ms) {
    // At least 1 us: a positive limit in service.yaml never becomes "no CPU time at all".
    p.cpu_time_limit =
        microseconds(std::max<std::int64_t>(1, std::llround(*svc.config.cpu_time_ms * 1000.0)));
  }
  p.input = opt.input.value_or("");
  // Audit mode with a bootstrap for this runtime: stdin starts with a per-execution nonce line
  // that the bootstrap consumes before the service's code runs (audit.hpp).
  p.audit_bootstrap = opt.audit && audit_argv(p.rt.argv(svc.config.entry)).has_value();
  if (p.audit_bootstrap) p.audit_nonce = audit_nonce();
  p.base_env = svc.config.env;
  if (!opt.env.contains("NODE_ENV")) p.base_env.try_emplace("NODE_ENV", "production");
  for (const auto& [k, v] : opt.env) p.job_env.emplace_back(k, v);
  p.job_env.emplace_back("IGNITE_INPUT", p.input.size() <= kMaxEnvInput ? p.input : "");
  p.job_env.emplace_back("IGNITE_INPUT_BYTES", std::to_string(p.input.size()));
  auto choice = resolve_delivery(opt.delivery, ctx.delivery, ctx.daemon);
  p.delivery = choice.delivery;
  p.delivery_note = std::move(choice.note);
  p.memory_mb = opt.memory_mb.value_or(svc.config.memory_mb);
  p.cmd = runtime_command(svc, p.rt, p.policy, p.audit_bootstrap);
  p.may_spawn = !(p.policy && !p.policy->allow_spawn);

  const PoolOptions& pool = ctx.pool;
  // Reuse is the operator's decision: service.yaml (written by the service's author) may ask
  // for fewer jobs per container than PoolOptions::reuse allows, never more, and never turns
  // the pool on.
  p.reuse = std::min(svc.config.reuse.value_or(pool.reuse), pool.reuse);
  if (p.reuse == 0) p.reuse = 1;
  // Under gVisor a job could open the supervisor's stdin, the channel of later jobs (its /proc
  // ignores non-dumpability): containers there run one job each.
  if (p.policy && p.policy->isolation == Isolation::Gvisor) p.reuse = 1;
  if (pool.size == 0) {
    p.why_cold = "the warm pool is off (PoolOptions::size is 0)";
  } else if (!p.may_spawn) {
    p.why_cold =
        "the policy sets allowSpawn: false, and the pool's supervisor starts the "
        "runtime as a child process";
  } else if (p.reuse > 1) {
    p.mode = Plan::Mode::Reuse;
    // Not with a CPU-time limit: a runtime booting ahead runs in the job's cgroup while the
    // job runs, and the limit is enforced on the cgroup's reading as the job runs, before
    // the end record says how much of it was the boot's. Such jobs boot their own runtime.
    if (!p.cpu_time_limit) {
      p.preboot = preboot_options(p.cmd, p.base_env).value_or(std::vector<std::string>{});
    }
  } else if (!runner_argv(p.cmd)) {
    p.why_cold = "runtime " + p.rt.spec() + " has no resident runner";
  } else {
    p.mode = Plan::Mode::Once;
  }
  return p;
}

}  // namespace Ignite::detail
