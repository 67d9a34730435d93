// The container spec: the Engine API create body of every container Ignite starts, with every
// hardening setting in one place (create_body): user 1000:1000, all capabilities dropped,
// no-new-privileges, read-only root filesystem, a small noexec /tmp, pids and file limits,
// no IPC namespace sharing (no /dev/shm), no docker-init, no network unless allowed, the
// no-spawn seccomp filter, gVisor's runsc, the read-only /app mount, and the labels the
// reaper and the sweep select by. Pooled containers get the same body with the supervisor in
// front (pool_body), whose dump is their pool key.
//
// Thread-safety: pure functions of their arguments; call from any thread.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ignite/engine.hpp"
#include "ignite/policy.hpp"
#include "ignite/service.hpp"
#include "ignite/src/execution_plan.hpp"

namespace Ignite::detail {

// What the Engine puts into every container it creates.
struct ContainerDefaults {
  const std::string& session;                             // the dev.ignite.session label
  const std::map<std::string, std::string>& extra_labels;  // EngineOptions::labels + $IGNITE_LABELS
  int pids_limit;                                          // EngineOptions::pids_limit
  const std::string& tmpfs_size;                           // EngineOptions::tmpfs_size
};

// "KEY=value" items, as the Engine API's Env wants them.
std::vector<std::string> env_list(const std::map<std::string, std::string>& m);

nlohmann::json create_body(const ContainerDefaults& defaults, const Service& svc,
                           const std::string& image, CodeDelivery delivery,
                           const ExecuteOptions& opt, const std::vector<std::string>& env,
                           const std::optional<SecurityPolicy>& policy, bool audit,
                           const std::vector<std::string>& cmd);

// The pooled container's create body (without the per-container nonce) and its pool key.
std::pair<nlohmann::json, std::string> pool_body(const ContainerDefaults& defaults,
                                                 const Service& svc, const ExecuteOptions& opt,
                                                 const Plan& p, const std::string& image);

}  // namespace Ignite::detail
