// The job channel: one job's trip through a leased container's attach stream. It frames the
// job on stdin (the supervisor's key line and the input for a cold container; the runner's
// header for a warm once-mode container; an authenticated "JOB <key> <nonce> <env> <input>"
// message for a reuse-mode container), and it reads stdout and stderr until the job is
// complete, its deadline passes, the caller cancels, or the output exceeds its cap:
//
// - output is kept up to the plan's output limit per stream (CappedBuffer), and teed to the
//   caller's on_stdout / on_stderr callbacks;
// - audit records (audit.hpp) leave the stderr stream before anything else sees it;
// - the job's CPU time is watched (JobCpuMeter) from the moment it is written;
// - the supervisor's in-band records (exit status, or end of job in reuse mode) are taken out
//   of both streams: the job is complete when both streams' records arrived and agree, and
//   nothing followed either on its stream.
//
// A job that did not complete in band leaves the stream closed (the finaliser kills it).
//
// Thread-safety: a JobChannel belongs to the one execution that drives it; the callbacks run
// on that thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ignite/engine.hpp"
#include "ignite/src/audit.hpp"
#include "ignite/src/audit_log.hpp"
#include "ignite/src/docker/client.hpp"
#include "ignite/src/execution_plan.hpp"
#include "ignite/src/job_cpu_meter.hpp"
#include "ignite/src/lease.hpp"

namespace Ignite::detail {

// Keeps at most `limit` bytes of one stream and reports when more arrived.
class CappedBuffer {
 public:
  CappedBuffer(std::size_t limit, const std::function<void(std::string_view)>& tee)
      : limit_(limit), tee_(tee) {}

  void append(std::string_view data) {
    if (tee_) tee_(data);
    const std::size_t room = limit_ > text_.size() ? limit_ - text_.size() : 0;
    if (data.size() > room) {
      truncated_ = true;
      data = data.substr(0, room);
    }
    text_.append(data);
  }
  bool truncated() const { return truncated_; }
  std::string take() { return std::move(text_); }

 private:
  std::size_t limit_;
  const std::function<void(std::string_view)>& tee_;
  std::string text_;
  bool truncated_ = false;
};

// Reuse mode with pre-boot: what the next job's runtime, booting while this job ran in the
// same container, used by the end of this job (the supervisor's end-of-job record). The
// container's cgroup counts it with the job: the engine takes the memory out of the job's
// memory peak, and the job's CPU time (JobCpuMeter::exclude) takes `cpu_us` out.
struct PrebootUse {
  std::uint64_t memory_kib = 0;  // its anonymous memory (RssAnon) at the end of the job
  std::uint64_t cpu_us = 0;      // its CPU time from the job's arrival to its end
  // The container's cgroup CPU time as the supervisor read it when the job arrived and when it
  // ended (0: not readable in the container); JobCpuMeter::bound.
  std::uint64_t cgroup_start_us = 0;
  std::uint64_t cgroup_end_us = 0;
};

// How a job's trip through the channel ended.
struct JobEnd {
  docker::Attachment::End end = docker::Attachment::End::Eof;
  bool cancelled = false;     // the caller's stop token was requested
  bool flooded = false;       // a stream exceeded the output limit
  bool timed_out = false;     // the deadline passed
  bool cpu_exceeded = false;  // the job's CPU time passed its limit (JobCpuMeter)
  // Complete in band: the supervisor's status, the last thing on both streams.
  std::optional<int> exit_record;
  PrebootUse preboot;  // zero unless in band in reuse mode with pre-boot
  bool in_band() const { return exit_record.has_value(); }
};

class JobChannel {
 public:
  // Takes the lease's early output into the buffers (teed to the caller like any output).
  // `opt` and `lease` must outlive the channel.
  JobChannel(Lease& lease, const Plan& plan, const ExecuteOptions& opt);
  JobChannel(const JobChannel&) = delete;
  JobChannel& operator=(const JobChannel&) = delete;

  // Writes the job and reads both streams until the job is complete in band, `deadline`, a
  // stop request, a flood or the CPU-time limit. `cpu` takes its dispatch baseline as the job
  // is written, is sampled at every poll (at least every 20 ms, sooner near its limit: its
  // next_check(); not again within a millisecond) and once more when the job ended. `sample`
  // runs with it.
  JobEnd pump(std::chrono::steady_clock::time_point deadline, JobCpuMeter& cpu,
              const std::function<void()>& sample);
  static constexpr std::chrono::milliseconds kSampleInterval{20};

  CappedBuffer& out() { return out_; }
  CappedBuffer& err() { return err_; }
  // The bootstrap's audit events, in order of occurrence, with a note on those not kept and
  // on malformed records (audit mode with a policy only).
  std::vector<SecurityEvent> take_audit_events();

 private:
  void to_err(std::string_view data);
  std::string frame_job(const Plan& plan) const;
  // Once both end records are in: takes the pre-boot's CPU time out of the job's.
  void exclude_preboot(JobCpuMeter& cpu);

  Lease& lease_;
  const ExecuteOptions& opt_;
  CappedBuffer out_;
  CappedBuffer err_;
  std::optional<AuditLog> audit_log_;
  std::optional<AuditDemux> demux_;
  std::optional<int> out_status_, err_status_;
  std::optional<RecordDemux> out_records_, err_records_;
  std::string job_nonce_;  // reuse mode: this job's end-of-job record key
  PrebootUse preboot_;
  bool preboot_excluded_ = false;
  std::string stdin_bytes_;
};

}  // namespace Ignite::detail
