#include "ignite/src/swarm_spec.hpp"

#include <cmath>
#include <cstdint>

#include "ignite/error.hpp"
#include "ignite/src/labels.hpp"
#include "ignite/src/reaper.hpp"
#include "ignite/src/runner.hpp"
#include "ignite/version.hpp"

using json = nlohmann::json;

namespace Ignite::detail {
namespace {

std::string base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const auto v = (std::uint32_t(std::uint8_t(in[i])) << 16) |
                   (std::uint32_t(std::uint8_t(in[i + 1])) << 8) | std::uint8_t(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < in.size()) {
    std::uint32_t v = std::uint32_t(std::uint8_t(in[i])) << 16;
    if (i + 1 < in.size()) v |= std::uint32_t(std::uint8_t(in[i + 1])) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// "64m", "1g", "512k", "1048576" as bytes (EngineOptions::tmpfs_size, Docker's notation).
std::int64_t size_bytes(const std::string& text) {
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  std::int64_t unit = 1;
  const std::string rest = text.substr(used);
  if (rest == "k" || rest == "K" || rest == "kb")
    unit = 1024;
  else if (rest == "m" || rest == "M" || rest == "mb")
    unit = 1024 * 1024;
  else if (rest == "g" || rest == "G" || rest == "gb")
    unit = 1024LL * 1024 * 1024;
  else if (!rest.empty() || used == 0)
    unit = 0;
  if (unit == 0 || !(v > 0)) {
    throw Error(ErrorCode::Config, "tmpfs_size \"" + text + "\": expected a size such as 64m");
  }
  return static_cast<std::int64_t>(std::llround(v * static_cast<double>(unit)));
}

}  // namespace

json swarm_labels(const ContainerDefaults& defaults, std::string_view kind,
                  const std::string& service) {
  json labels = {
      {std::string(labels::kManaged), "true"},
      {std::string(labels::kSession), defaults.session},
      {std::string(labels::kVersion), std::string(version())},
      {std::string(labels::kKind), std::string(kind)},
  };
  if (!service.empty()) labels[std::string(labels::kService)] = service;
  for (const auto& [k, v] : owner_labels()) labels[k] = v;
  for (const auto& [k, v] : defaults.extra_labels) labels[k] = v;
  return labels;
}

json input_secret_spec(const ContainerDefaults& defaults, const Service& svc,
                       const std::string& name, const std::string& input) {
  if (input.size() > kMaxSwarmInput) {
    throw Error(ErrorCode::InvalidArgument,
                "input: " + std::to_string(input.size()) +
                    " bytes is more than the swarm backend can deliver (" +
                    std::to_string(kMaxSwarmInput) +
                    " bytes: a swarm secret's limit); pass a smaller input or use the docker "
                    "backend");
  }
  return json{{"Name", name},
              {"Labels", swarm_labels(defaults, "swarm-input", svc.config.name)},
              {"Data", base64(input)}};
}

json network_spec(const ContainerDefaults& defaults, const std::string& name) {
  // Internal: no gateway, so no route out of the overlay. One per Engine: a network of its own
  // per execution would keep concurrent jobs from reaching each other, but doubles the latency
  // (each node sets up every new overlay; docs/scale-out.md).
  return json{{"Name", name},           {"Driver", "overlay"},
              {"Internal", true},       {"Attachable", false},
              {"CheckDuplicate", true}, {"Labels", swarm_labels(defaults, "swarm-network")}};
}

json service_spec(const ContainerDefaults& defaults, const Service& svc, const ExecuteOptions& opt,
                  const Plan& plan, const SwarmJobSpec& job) {
  constexpr double kMiB = 1024.0 * 1024.0;
  const PolicyLimits limits = plan.policy ? plan.policy->limits : PolicyLimits{};
  const bool read_only = plan.policy ? plan.policy->filesystem_read_only : true;
  const int nofile = limits.open_files.value_or(1024);
  const double cpus = opt.cpus.value_or(svc.config.cpu_limit.value_or(1.0));
  const auto memory = static_cast<std::int64_t>(std::llround(plan.memory_mb * kMiB));
  const std::int64_t tmpfs = limits.tmpfs_mb
                                 ? static_cast<std::int64_t>(*limits.tmpfs_mb) * 1024 * 1024
                                 : size_bytes(defaults.tmpfs_size);

  std::vector<std::string> env = env_list(plan.base_env);
  for (const auto& [k, v] : plan.job_env) env.push_back(k + "=" + v);
  env.push_back("IGNITE_SUPERVISOR_KEY=" + job.key);

  // Ignite's supervisor is PID 1, as in a local container: it reaps orphans, makes the runtime's
  // stdin the input secret, and reports the exit status with the memory cgroup's OOM count and
  // peak. No docker-init: it would be a dumpable process holding the key in its environment.
  std::vector<std::string> command = {std::string(kSupervisorPath), "file",
                                      job.secret_id.empty() ? "-" : std::string(kSwarmInputPath),
                                      "--"};
  command.insert(command.end(), plan.cmd.begin(), plan.cmd.end());

  json mounts = json::array({
      {{"Type", "tmpfs"},
       {"Target", "/tmp"},
       {"TmpfsOptions", {{"SizeBytes", tmpfs}, {"Mode", 01777}}}},
      // Docker would give every task a writable 64 MiB /dev/shm despite the read-only root
      // filesystem (the local backend has no IPC namespace to share instead).
      {{"Type", "tmpfs"},
       {"Target", "/dev/shm"},
       {"ReadOnly", true},
       {"TmpfsOptions", {{"SizeBytes", 4096}}}},
  });
  json ulimits = json::array({{{"Name", "nofile"}, {"Soft", nofile}, {"Hard", nofile}}});
  if (limits.file_size_mb) {
    const std::int64_t bytes = static_cast<std::int64_t>(*limits.file_size_mb) * 1024 * 1024;
    ulimits.push_back({{"Name", "fsize"}, {"Soft", bytes}, {"Hard", bytes}});
  }
  // Task containers are made by the nodes, not by Ignite: they carry no owner or session labels
  // (the local reaper and sweep leave them to the swarm), only what marks them as Ignite's.
  json task_labels = {{std::string(labels::kManaged), "true"},
                      {std::string(labels::kKind), "swarm-task"},
                      {std::string(labels::kService), svc.config.name}};
  for (const auto& [k, v] : defaults.extra_labels) task_labels[k] = v;

  json container = {
      {"Image", job.image},
      {"Command", command},
      {"Env", env},
      {"Dir", "/app"},
      {"User", "1000:1000"},
      {"Labels", task_labels},
      {"ReadOnly", read_only},
      {"CapabilityDrop", {"ALL"}},
      {"Init", false},
      {"Mounts", mounts},
      {"Ulimits", ulimits},
      // Removing the service is how Ignite stops a job (timeout, cancel, output limit): no grace.
      {"StopSignal", "SIGKILL"},
      {"StopGracePeriod", 0},
  };
  if (!job.secret_id.empty()) {
    container["Secrets"] = json::array(
        {{{"File", {{"Name", "ignite-input"}, {"UID", "1000"}, {"GID", "1000"}, {"Mode", 0400}}},
          {"SecretID", job.secret_id},
          {"SecretName", job.name}}});
  }
  json task = {
      {"ContainerSpec", container},
      {"Resources",
       {{"Limits",
         {{"MemoryBytes", memory},
          {"NanoCPUs", static_cast<std::int64_t>(std::llround(cpus * 1e9))},
          {"Pids", limits.pids.value_or(defaults.pids_limit)}}}}},
      // One attempt: a job that failed is a result, not something to run again.
      {"RestartPolicy", {{"Condition", "none"}, {"MaxAttempts", 0}}},
      // Output comes back through the service's logs, whatever the nodes' default driver is.
      {"LogDriver", {{"Name", "json-file"}, {"Options", json::object()}}},
      {"Networks", json::array({{{"Target", job.network_id}}})},
  };
  return json{{"Name", job.name},
              {"Labels", swarm_labels(defaults, "swarm-service", svc.config.name)},
              {"TaskTemplate", task},
              {"Mode", {{"Replicated", {{"Replicas", 1}}}}}};
}

}  // namespace Ignite::detail
