#include "ignite/src/finaliser.hpp"

#include <nlohmann/json.hpp>
#include <stop_token>

#include "ignite/error.hpp"
#include "ignite/src/docker/cancel.hpp"

using namespace std::chrono;
using json = nlohmann::json;

namespace Ignite::detail {

Finalised finalise(Lease& lease, const JobEnd& end, const CgroupOomKills& ooms,
                   std::uint64_t ooms_before) {
  // Finalising goes through even after a cancellation (the kill is what a cancel asks for);
  // each call is bounded by the client's timeouts.
  docker::CancelScope finalising{std::stop_token()};
  docker::DockerClient& docker = lease.docker();
  const std::string& id = lease.id();
  Finalised r;
  if (end.in_band()) {
    r.exit_code = *end.exit_record;
    if (r.exit_code == 137) {
      if (ooms.available()) {
        r.oom_killed = ooms.read() > ooms_before;
      } else if (lease.kind() != Lease::Kind::Reuse) {
        // No cgroup counter to read: the daemon's record of the container tells.
        try {
          docker.container_wait(id);
          r.oom_killed = docker.container_inspect(id).at("State").value("OOMKilled", false);
        } catch (const Error&) {
          // A daemon that does not answer in time: the status stands, the OOM flag unknown.
        }
      }
    }
    return r;
  }
  bool daemon_answers = true;
  try {
    // After a cancellation the caller is waiting to get control back: the kill is best
    // effort within a short bound, and the background removal (a forced delete) finishes it.
    const milliseconds bound = end.cancelled ? kCancelCleanupBound : milliseconds(0);
    if (end.end != docker::Attachment::End::Eof) docker.container_kill(id, "KILL", bound);
    r.exit_code = static_cast<int>(docker.container_wait(id, "not-running", bound));
  } catch (const Error& e) {
    // The daemon did not complete the kill or report the exit within its bounds: the
    // execution still ends now. The container is queued for removal (retried until it goes).
    if (e.code() != ErrorCode::DockerUnavailable && e.code() != ErrorCode::Docker &&
        e.code() != ErrorCode::NotFound) {
      throw;
    }
    r.exit_code = end.end == docker::Attachment::End::Eof ? -1 : 137;
    daemon_answers = false;
  }
  // The OOM killer's SIGKILL shows as 137; any other exit cannot be an OOM kill, so the
  // inspect round trip is spent only when it can tell something (not after a cancellation,
  // whose outcome it cannot change, nor when the daemon just failed to answer).
  if (r.exit_code == 137 && !end.cancelled && daemon_answers) {
    try {
      const json info = docker.container_inspect(id);
      r.oom_killed = info.at("State").value("OOMKilled", false);
    } catch (const Error&) {
      // Gone already, or the daemon does not answer: nothing more to learn.
    }
  }
  return r;
}

}  // namespace Ignite::detail
