// The swarm lease: one execution as a Docker Swarm service (Backend::Swarm), the swarm's
// counterpart of lease + job_channel + finaliser for a local container.
//
//   acquire  input secret (the input, at most kMaxSwarmInput), service with one replica
//            (swarm_spec.hpp) on the Engine's internal overlay network -- each queued for
//            removal whatever happens next;
//   pump     follows the service's logs (GET /services/{id}/logs?follow=1, on a thread of its
//            own) and polls its task, until the supervisor's records arrived on both streams
//            (complete in band: its status, OOM count and memory peak), the deadline, a stop
//            request, a flood (CappedBuffer), or the task ended without records (then the logs
//            are read once more, for what the follow had not delivered yet);
//   finish   the exit status (the record's, else the task's ContainerStatus.ExitCode, 137 after
//            Ignite removed the service), the OOM verdict and the memory peak; the service is
//            removed now when the job did not end on its own (that is what stops it), in the
//            background otherwise, then its secret.
//
// Output callbacks (ExecuteOptions::on_stdout/on_stderr) run on the executing thread: the
// follower thread only queues what arrives.
//
// Thread-safety: a SwarmLease belongs to the one execution that made it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "ignite/engine.hpp"
#include "ignite/src/audit.hpp"
#include "ignite/src/container_spec.hpp"
#include "ignite/src/docker/stream.hpp"
#include "ignite/src/execution_plan.hpp"
#include "ignite/src/job_channel.hpp"
#include "ignite/src/swarm_backend.hpp"
#include "ignite/src/swarm_spec.hpp"

namespace Ignite::detail {

// The most a task may take from its service's creation to running (scheduling, the node's
// image pull, container start) before the execution fails.
inline constexpr std::chrono::seconds kSwarmStartBound{60};

struct SwarmFinish {
  int exit_code = -1;
  bool oom_killed = false;
  std::optional<double> memory_peak_mb;
};

class SwarmLease {
 public:
  // Creates the job's secret, network and service. Throws Error(InvalidArgument) for an input
  // over kMaxSwarmInput (before anything is created); what was created is queued for removal
  // when a later step throws.
  SwarmLease(SwarmBackend& backend, const ContainerDefaults& defaults, const Service& svc,
             const ExecuteOptions& opt, const Plan& plan, std::string image);
  // Queues the removal of whatever is left.
  ~SwarmLease();
  SwarmLease(const SwarmLease&) = delete;
  SwarmLease& operator=(const SwarmLease&) = delete;

  // Runs until the job ended (see the file comment). The timeout starts when the task is seen
  // running (by the manager's account, or its first output); a task not running within
  // kSwarmStartBound, or rejected (image pull failed, no node fits), throws Error(Execution)
  // with the swarm's message.
  JobEnd pump(std::chrono::milliseconds timeout);
  // When pump() first saw the task running (set up: service created until then).
  std::chrono::steady_clock::time_point running_at() const { return running_at_; }
  // After pump(): the exit status and memory facts; removes the swarm objects (see above).
  SwarmFinish finish(const JobEnd& end);

  const std::string& service_id() const { return service_id_; }
  const std::string& task_id() const { return task_id_; }
  const std::string& node_id() const { return node_id_; }
  const std::string& container_id() const { return container_id_; }
  CappedBuffer& out() { return out_; }
  CappedBuffer& err() { return err_; }

 private:
  struct Chunk {
    docker::StreamKind kind;
    std::string data;
  };
  // Reads the task's state; true when it is terminal (its exit code and message are kept).
  bool poll_task();
  void feed(docker::StreamKind kind, std::string_view data);
  void follow(std::stop_token st, std::chrono::steady_clock::time_point deadline);
  void dispose_all() noexcept;

  SwarmBackend& backend_;
  const ExecuteOptions& opt_;
  std::string name_;
  std::string key_;
  std::string secret_id_, service_id_;
  bool service_removed_ = false;
  std::string task_id_, node_id_, container_id_, task_state_, task_err_;
  std::chrono::steady_clock::time_point running_at_{};
  std::optional<int> task_exit_;

  CappedBuffer out_, err_;
  std::size_t output_limit_;
  struct Record {
    int status = -1;
    long long ooms = -1;
    long long peak = -1;
  };
  std::optional<Record> out_record_, err_record_;
  std::optional<RecordDemux> out_demux_, err_demux_;
  std::size_t seen_[3] = {0, 0, 0};  // bytes received per stream (stdout 1, stderr 2)

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Chunk> chunks_;
  std::size_t queued_ = 0;
  bool follow_done_ = false;
  std::jthread follower_;
};

}  // namespace Ignite::detail
