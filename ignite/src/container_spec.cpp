#include "ignite/src/container_spec.hpp"

#include <cmath>
#include <cstdint>

#include "ignite/src/labels.hpp"
#include "ignite/src/reaper.hpp"
#include "ignite/src/runner.hpp"
#include "ignite/src/seccomp.hpp"
#include "ignite/version.hpp"

using json = nlohmann::json;

namespace Ignite::detail {

std::vector<std::string> env_list(const std::map<std::string, std::string>& m) {
  std::vector<std::string> env;
  env.reserve(m.size());
  for (const auto& [k, v] : m) env.push_back(k + "=" + v);
  return env;
}

json create_body(const ContainerDefaults& defaults, const Service& svc, const std::string& image,
                 CodeDelivery delivery, const ExecuteOptions& opt,
                 const std::vector<std::string>& env, const std::optional<SecurityPolicy>& policy,
                 bool audit, const std::vector<std::string>& cmd) {
  constexpr double kMiB = 1024.0 * 1024.0;
  // service.yaml may ask for a network; a policy file can only take it away, except in audit
  // mode, where the policy (file or default) alone decides. Without a policy the root
  // filesystem is read-only.
  bool network = svc.config.network;
  if (policy) network = audit ? policy->network_enabled : network && policy->network_enabled;
  const bool read_only = policy ? policy->filesystem_read_only : true;
  const bool no_spawn = policy && !policy->allow_spawn;
  const PolicyLimits limits = policy ? policy->limits : PolicyLimits{};
  const int nofile = limits.open_files.value_or(1024);
  const double memory_mb = opt.memory_mb.value_or(svc.config.memory_mb);
  const double cpus = opt.cpus.value_or(svc.config.cpu_limit.value_or(1.0));
  const auto memory = static_cast<std::int64_t>(std::llround(memory_mb * kMiB));
  json labels = {
      {std::string(labels::kManaged), "true"},
      {std::string(labels::kSession), defaults.session},
      {std::string(labels::kVersion), std::string(version())},
      {std::string(labels::kService), svc.config.name},
  };
  for (const auto& [k, v] : owner_labels()) labels[k] = v;
  for (const auto& [k, v] : defaults.extra_labels) labels[k] = v;
  json host_config = {
      {"Memory", memory},
      {"MemorySwap", memory},  // equal to Memory: no swap beyond the limit
      {"NanoCpus", static_cast<std::int64_t>(std::llround(cpus * 1e9))},
      {"PidsLimit", limits.pids.value_or(defaults.pids_limit)},
      {"ReadonlyRootfs", read_only},
      {"CapDrop", {"ALL"}},
      {"SecurityOpt", {"no-new-privileges"}},
      {"Tmpfs",
       {{"/tmp", "rw,noexec,nosuid,nodev,size=" +
                     (limits.tmpfs_mb ? std::to_string(*limits.tmpfs_mb) + "m" : defaults.tmpfs_size)}}},
      // No docker-init: it would be a dumpable process the service can inspect (its
      // environment, its stdin). Where the runtime may spawn, Ignite's supervisor is PID 1 and
      // reaps orphans and forwards signals; under the no-spawn filter there are no orphans.
      {"Init", false},
      // No /dev/shm: Docker would mount a writable 64 MiB tmpfs there despite the read-only
      // root filesystem.
      {"IpcMode", "none"},
      {"Ulimits", {{{"Name", "nofile"}, {"Soft", nofile}, {"Hard", nofile}}}},
  };
  if (no_spawn) {
    host_config["SecurityOpt"].push_back("seccomp=" + no_spawn_seccomp_profile());
  }
  if (limits.file_size_mb) {
    const std::int64_t bytes = static_cast<std::int64_t>(*limits.file_size_mb) * 1024 * 1024;
    host_config["Ulimits"].push_back({{"Name", "fsize"}, {"Soft", bytes}, {"Hard", bytes}});
  }
  if (policy && policy->isolation == Isolation::Gvisor) host_config["Runtime"] = "runsc";
  if (delivery == CodeDelivery::Mount) {
    host_config["Mounts"] = json::array(
        {{{"Type", "bind"}, {"Source", svc.path.string()}, {"Target", "/app"}, {"ReadOnly", true}}});
  }
  // NetworkDisabled (below) leaves only loopback without the ~300 ms network sandbox set-up
  // that NetworkMode "none" costs on this daemon.
  return json{
      {"Image", image},
      {"Cmd", cmd},
      {"Env", env},
      {"User", "1000:1000"},
      {"WorkingDir", "/app"},
      {"Labels", labels},
      {"AttachStdin", true},
      {"AttachStdout", true},
      {"AttachStderr", true},
      {"OpenStdin", true},
      {"StdinOnce", true},  // closing stdin must not close the output stream
      {"Tty", false},
      {"NetworkDisabled", !network},
      {"HostConfig", host_config},
  };
}

std::pair<json, std::string> pool_body(const ContainerDefaults& defaults, const Service& svc,
                                       const ExecuteOptions& opt, const Plan& p,
                                       const std::string& image) {
  std::vector<std::string> cmd = {std::string(kSupervisorPath),
                                  p.mode == Plan::Mode::Once ? "once" : "reuse"};
  cmd.insert(cmd.end(), p.preboot.begin(), p.preboot.end());
  cmd.push_back("--");
  std::map<std::string, std::string> env = p.base_env;
  if (p.mode == Plan::Mode::Once) {
    const auto with_runner = runner_argv(p.cmd);
    cmd.insert(cmd.end(), with_runner->begin(), with_runner->end());
    env["IGNITE_RUNNER"] = "1";
  } else if (!p.preboot.empty()) {
    // The supervisor sets IGNITE_RUNNER for the runtimes it boots ahead.
    const auto with_runner = runner_argv(p.cmd);
    cmd.insert(cmd.end(), with_runner->begin(), with_runner->end());
  } else {
    cmd.insert(cmd.end(), p.cmd.begin(), p.cmd.end());
  }
  json body = create_body(defaults, svc, image, p.delivery, opt, env_list(env), p.policy,
                          opt.audit, cmd);
  body["Labels"][std::string(labels::kPool)] = p.mode == Plan::Mode::Once ? "warm" : "reuse";
  std::string key = body.dump();
  if (p.mode == Plan::Mode::Reuse) key += "\nreuse=" + std::to_string(p.reuse);
  return {std::move(body), std::move(key)};
}

}  // namespace Ignite::detail
