// The swarm spec: the Engine API bodies of what one execution creates in a Docker Swarm (its
// input secret, its internal overlay network, its service), with every hardening setting the
// swarm API can express in one place, as container_spec.hpp does for a plain container:
// user 1000:1000, all capabilities dropped, read-only root filesystem, a tmpfs /tmp, a
// read-only empty /dev/shm, memory / CPU / pids limits, the nofile ulimit, Ignite's supervisor
// as PID 1 (no docker-init), one replica that is never restarted, an internal network (no route
// out; one per Engine, see docs/threat-model.md), SIGKILL on removal, and Ignite's labels on
// every object. docs/threat-model.md lists what
// the swarm API cannot express (no-new-privileges, seccomp, gVisor, network none, swap).
//
// Thread-safety: pure functions of their arguments; call from any thread.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "ignite/engine.hpp"
#include "ignite/service.hpp"
#include "ignite/src/container_spec.hpp"
#include "ignite/src/execution_plan.hpp"

namespace Ignite::detail {

// The swarm's limit on a secret's data (swarmkit's MaxSecretSize): larger inputs are refused.
inline constexpr std::size_t kMaxSwarmInput = 500 * 1024;
// Where the input secret is mounted in the task's container; the supervisor makes it the
// runtime's stdin.
inline constexpr std::string_view kSwarmInputPath = "/run/secrets/ignite-input";

// The names and ids of one execution's swarm objects.
struct SwarmJobSpec {
  std::string name;       // ignite-<service>-<random>: the service's, secret's and network's name
  std::string image;      // pinned by digest: HOST:PORT/ignite-svc/<name>@sha256:...
  std::string key;        // the supervisor's completion key (IGNITE_SUPERVISOR_KEY)
  std::string secret_id;  // empty: no input (the runtime's stdin is /dev/null)
  std::string network_id;
};

// Labels of a swarm object of `kind` (swarm-service, swarm-input, swarm-network): Ignite's
// own (managed, session, version, owner, and the service's name when there is one) plus the
// Engine's extra labels.
nlohmann::json swarm_labels(const ContainerDefaults& defaults, std::string_view kind,
                            const std::string& service = {});

// POST /secrets/create body holding `input`. Throws Error(InvalidArgument) when the input is
// larger than kMaxSwarmInput.
nlohmann::json input_secret_spec(const ContainerDefaults& defaults, const Service& svc,
                                 const std::string& name, const std::string& input);

// POST /networks/create body: an internal (no route out), non-attachable overlay network, the
// one network of an Engine's jobs.
nlohmann::json network_spec(const ContainerDefaults& defaults, const std::string& name);

// POST /services/create body (a ServiceSpec) for one execution.
nlohmann::json service_spec(const ContainerDefaults& defaults, const Service& svc,
                            const ExecuteOptions& opt, const Plan& plan, const SwarmJobSpec& job);

}  // namespace Ignite::detail
