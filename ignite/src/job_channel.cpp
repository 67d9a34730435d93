#include "ignite/src/job_channel.hpp"

#include <algorithm>
#include <charconv>
#include <utility>

#include "ignite/src/runner.hpp"

using namespace std::chrono;

namespace Ignite::detail {
namespace {

// "<status>", or in reuse mode with pre-boot "<status> <KiB> <us> <us> <us>": the memory and
// CPU time of the next job's runtime, which booted while this job ran, and the cgroup's CPU
// time at the job's arrival and end (supervisor.c).
bool parse_status(std::string_view text, std::optional<int>& into, PrebootUse* preboot = nullptr) {
  const char* const end = text.data() + text.size();
  int v = 0;
  auto r = std::from_chars(text.data(), end, v);
  if (r.ec != std::errc() || v < 0 || v > 255) return false;
  if (r.ptr != end) {
    PrebootUse use;
    if (!preboot) return false;
    for (std::uint64_t* field :
         {&use.memory_kib, &use.cpu_us, &use.cgroup_start_us, &use.cgroup_end_us}) {
      if (r.ptr == end || *r.ptr != ' ') return false;
      r = std::from_chars(r.ptr + 1, end, *field);
      if (r.ec != std::errc()) return false;
    }
    if (r.ptr != end) return false;
    *preboot = use;
  }
  into = v;
  return true;
}

}  // namespace

JobChannel::JobChannel(Lease& lease, const Plan& plan, const ExecuteOptions& opt)
    : lease_(lease),
      opt_(opt),
      out_(plan.output_limit, opt.on_stdout),
      err_(plan.output_limit, opt.on_stderr) {
  if (std::string early = lease_.take_early_stdout(); !early.empty()) out_.append(early);
  if (std::string early = lease_.take_early_stderr(); !early.empty()) err_.append(early);
  // Audit records leave the stderr stream here: they never reach stderr_text, on_stderr or the
  // output cap.
  if (plan.policy && opt.audit) {
    audit_log_.emplace(*plan.policy, plan.delivery == CodeDelivery::Mount);
    if (plan.audit_bootstrap) {
      demux_.emplace(
          plan.audit_nonce, [this](std::string_view data) { err_.append(data); },
          [this](AuditRecord&& r) { audit_log_->add(std::move(r)); });
    }
  }
  // The supervisor's records: the exit status (once) or the end of a job on each stream (reuse).
  // A record is authentic by its key: the container's completion key (once) or this job's nonce
  // (reuse), both of which only ever crossed the non-dumpable supervisor's stdin, never an
  // environment the service can read. The supervisor writes it after every process of the job
  // is dead, so it is the last thing on its stream: the job is complete when both streams'
  // records arrived and agree, without waiting for the daemon to end the streams (tens of ms).
  // Output after a record on its stream (impossible for the real one) voids it.
  if (lease_.supervised()) {
    std::string marker;
    if (lease_.kind() != Lease::Kind::Reuse) {
      marker = "\x1eIGNITE-EXIT " + lease_.supervisor_key() + " ";
    } else {
      job_nonce_ = audit_nonce();
      marker = "\x1eIGNITE-END " + job_nonce_ + " ";
    }
    out_records_.emplace(
        marker,
        [this](std::string_view d) {
          out_status_.reset();
          out_.append(d);
        },
        [this](std::string_view t) { return parse_status(t, out_status_, &preboot_); });
    err_records_.emplace(
        marker,
        [this](std::string_view d) {
          err_status_.reset();
          to_err(d);
        },
        [this](std::string_view t) {
          PrebootUse same;  // the stdout record's copy is the one kept
          return parse_status(t, err_status_, &same);
        });
  }
  stdin_bytes_ = frame_job(plan);
  // A pooled container's stream stays open between jobs: this job's bytes start from the top.
  if (lease_.kind() != Lease::Kind::Cold) lease_.attachment().restart_input();
}

std::string JobChannel::frame_job(const Plan& plan) const {
  const std::string job_input =
      plan.audit_bootstrap ? plan.audit_nonce + "\n" + plan.input : plan.input;
  switch (lease_.kind()) {
    case Lease::Kind::Cold:
      return lease_.supervised() ? supervisor_key_line(lease_.supervisor_key()) + job_input
                                 : job_input;
    case Lease::Kind::Once:
      return runner_header(plan.job_env) + job_input;
    case Lease::Kind::Reuse: {
      // With pre-boot the runtime is running already: its runner reads the env (supervisor.c).
      std::string env_block;
      if (!plan.preboot.empty()) {
        env_block = runner_header(plan.job_env);
      } else {
        for (const auto& [k, v] : plan.job_env) env_block += k + "=" + v + '\0';
      }
      return "JOB " + lease_.supervisor_key() + " " + job_nonce_ + " " +
             std::to_string(env_block.size()) + " " + std::to_string(job_input.size()) + "\n" +
             env_block + job_input;
    }
  }
  return job_input;
}

void JobChannel::to_err(std::string_view data) {
  if (demux_) {
    demux_->feed(data);
  } else {
    err_.append(data);
  }
}

JobEnd JobChannel::pump(steady_clock::time_point deadline, JobCpuMeter& cpu,
                        const std::function<void()>& sample) {
  JobEnd r;
  const bool reuse_mode = lease_.kind() == Lease::Kind::Reuse;
  docker::Attachment& attachment = lease_.attachment();
  // The job is dispatched with its first bytes on stdin: a pooled container's CPU time before
  // this is no one's.
  cpu.dispatch();
  bool sampled_at_end = false;
  r.end = attachment.pump(
      stdin_bytes_,
      [&](docker::StreamKind kind, std::string_view data) {
        if (kind != docker::StreamKind::Stderr) {
          if (out_records_) {
            out_records_->feed(data);
          } else {
            out_.append(data);
          }
        } else if (err_records_) {
          err_records_->feed(data);
        } else {
          to_err(data);
        }
      },
      deadline,
      [&, last_reading = steady_clock::time_point()]() mutable {
        // Output arriving in quick succession (a few frames within a millisecond) is read
        // once: readings closer together add nothing. The memory peak and the refused forks
        // are the kernel's running maxima, read again as the job ends (below, and the
        // caller's), and the CPU-time limit is looked at no more finely (kMinCheckInterval).
        // The reading as the records came is always taken: a later one would count the
        // runtime the supervisor starts booting for the job after next right after them
        // (reuse mode).
        const bool records_in = out_status_ && err_status_;
        const auto now = steady_clock::now();
        if (records_in || now - last_reading >= JobCpuMeter::kMinCheckInterval ||
            now >= cpu.next_check()) {
          sample();
          cpu.sample(now);
          last_reading = now;
        }
        exclude_preboot(cpu);
        sampled_at_end = records_in;
        if (opt_.stop_token.stop_requested()) r.cancelled = true;
        if (out_.truncated() || err_.truncated()) r.flooded = true;
        if (cpu.exceeded()) r.cpu_exceeded = true;
        return r.cancelled || r.flooded || r.cpu_exceeded || (out_status_ && err_status_);
      },
      /*close_stdin=*/!reuse_mode,
      [&cpu] { return std::min(cpu.next_check(), steady_clock::now() + kSampleInterval); });
  r.timed_out = r.end == docker::Attachment::End::Deadline;
  // Complete in band, every process of the job is gone: the reading as the records came (else
  // this one) is the job's total. A job that is killed next is read again after the kill (the
  // finaliser's caller).
  if (!sampled_at_end) cpu.sample();
  exclude_preboot(cpu);
  if (cpu.exceeded()) r.cpu_exceeded = true;
  if (out_records_) out_records_->finish();
  if (err_records_) err_records_->finish();
  // Complete in band: the supervisor's record is the last thing on both streams, with the same
  // status.
  const bool records_final = out_status_ && err_status_ && *out_status_ == *err_status_;
  // A job whose records arrived is complete, also when its CPU time passed the limit between
  // two polls (it is classified cpu_limit all the same).
  const bool in_band =
      lease_.supervised() && !r.cancelled && !r.flooded && !r.timed_out && records_final;
  if (in_band) {
    r.exit_record = out_status_;
    r.preboot = preboot_;
  }
  if (!in_band) {
    // Drop the attach stream before the kill: a flooding container blocked on a full stdout
    // pipe otherwise holds up the daemon's kill under gVisor.
    attachment.close();
  }
  if (demux_) demux_->finish();
  return r;
}

void JobChannel::exclude_preboot(JobCpuMeter& cpu) {
  // Both records in: the next job's runtime, booting beside this job, used preboot_.cpu_us of
  // the cgroup's CPU time since the job arrived. It is no one's (the boot of a cold container
  // is its job's, but this one's job has not arrived yet).
  if (preboot_excluded_ || !out_status_ || !err_status_) return;
  preboot_excluded_ = true;
  cpu.exclude(microseconds(preboot_.cpu_us));
  if (preboot_.cgroup_start_us > 0 && preboot_.cgroup_end_us >= preboot_.cgroup_start_us) {
    cpu.bound(microseconds(preboot_.cgroup_start_us), microseconds(preboot_.cgroup_end_us));
  }
}

std::vector<SecurityEvent> JobChannel::take_audit_events() {
  if (!audit_log_) return {};
  return audit_log_->take(demux_ ? demux_->malformed() : 0);
}

}  // namespace Ignite::detail
