// The CPU time of one job, and the CPU-time limit's verdict on it. This is the one place that
// decides what share of its container's CPU accounting a job is charged with:
//
//   cold     everything the container ran (baseline 0): the supervisor and the runtime's
//            start-up are this job's, as they are a cold `node index.js`'s;
//   warm     from the job's dispatch on: the pooled runtime booted earlier, for no job;
//   reused   likewise: earlier jobs and the supervisor's clean-up between jobs are no one's.
//
// The reading is the kernel's accounting of the container's cgroup (user + system of every
// process in it, CgroupCpu), taken on this host by Ignite: nothing the service can reach. Under
// gVisor the cgroup holds the sandbox (its user-space kernel, the gofer), so the job is also
// charged with the work gVisor does on its behalf.
//
// Enforcement: sample() runs at every poll of the job channel, and next_check() tells the
// channel when to poll at the latest so that the limit is seen within kMinCheckInterval of the
// earliest moment it could have been passed (the remaining budget spread over every CPU of the
// host). A job far from its limit costs one read per 20 ms poll, as the memory peak does. A
// killed job is read until it is gone (sample_during), so its CPU time includes the kill's
// latency: the overshoot past the limit is reported, never hidden.
//
// Reuse mode with pre-boot (the supervisor boots the next job's runtime while this one runs)
// charges that boot to no job: exclude() takes off the CPU time the supervisor's end record
// reports for it, and bound() narrows the share to the cgroup readings the supervisor took
// when the job arrived and ended (JobChannel), so the runtime it forks for the job after next
// right after the record is not counted either. The record can only lower the charge within
// this meter's own readings, never raise it. Jobs with a CPU-time limit get no pre-boot
// (execution_plan.cpp): the limit is enforced before that record arrives.
//
// Thread-safety: a JobCpuMeter belongs to the one execution that samples it.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

namespace Ignite::detail {

class JobCpuMeter {
 public:
  // Where the job's share starts.
  enum class Baseline {
    ContainerStart,  // cold: all the container's CPU time is the job's
    Dispatch,        // pooled: the reading when dispatch() is called
  };
  // The cgroup's total CPU time so far; nullopt when it cannot be read.
  using Reader = std::function<std::optional<std::chrono::nanoseconds>()>;

  // The poll interval near the limit: a floor, so that a job at its limit is not polled in a
  // busy loop.
  static constexpr std::chrono::microseconds kMinCheckInterval{1000};

  // `parallelism`: how many CPUs the job's processes can run on at once (the host's CPUs: a CFS
  // quota allows bursts on every CPU within its period), which bounds how fast the budget goes.
  JobCpuMeter(Reader reader, Baseline baseline, std::optional<std::chrono::microseconds> limit,
              unsigned parallelism);
  // Reads the container `id`'s cgroup on this host (CgroupCpu).
  JobCpuMeter(const std::string& id, Baseline baseline,
              std::optional<std::chrono::microseconds> limit);

  // Whether this host can read the container's CPU accounting at all.
  bool available() const { return available_; }
  // The job starts now: the Dispatch baseline is taken.
  void dispatch();
  // Takes a reading (a failed read keeps the last one: the cgroup goes with the container).
  void sample(std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());
  // Runs `kill` (the finaliser's kill and wait) while another thread reads every
  // kKillWatchInterval until the cgroup is gone: the daemon removes it with the container,
  // usually before its kill call returns, and the job is charged with what it used until it
  // died, not only until the poll that saw it over its limit.
  void sample_during(const std::function<void()>& kill);
  static constexpr std::chrono::microseconds kKillWatchInterval{500};
  // The job's CPU time passed its limit (as of the last reading).
  bool exceeded() const;
  // When to sample next at the latest to see the limit passed in time; time_point::max()
  // without a limit.
  std::chrono::steady_clock::time_point next_check() const { return next_check_; }
  // CPU time in the cgroup that was not this job's (the pre-boot of the next job).
  void exclude(std::chrono::nanoseconds cpu) { excluded_ += cpu; }
  // Readings of the same cgroup taken in the container when the job arrived and when it ended
  // (reuse mode with pre-boot: the supervisor's end record). They narrow the job's share to
  // that span where they fall within this meter's own readings (dispatch, last sample): the
  // runtimes booting for later jobs run before the job's bytes arrive and after its end.
  void bound(std::chrono::nanoseconds start, std::chrono::nanoseconds end);
  // The job's CPU time as of the last reading; nullopt when nothing could be read.
  std::optional<std::chrono::microseconds> used() const;
  const std::optional<std::chrono::microseconds>& limit() const { return limit_; }

 private:
  Reader reader_;
  Baseline baseline_;
  std::optional<std::chrono::microseconds> limit_;
  unsigned parallelism_;
  bool available_ = false;
  std::chrono::nanoseconds base_{0};
  std::optional<std::chrono::nanoseconds> last_;
  std::chrono::nanoseconds excluded_{0};
  std::chrono::steady_clock::time_point next_check_ = std::chrono::steady_clock::time_point::max();
};

}  // namespace Ignite::detail
