#include "ignite/src/job_cpu_meter.hpp"

#include <algorithm>
#include <memory>
#include <stop_token>
#include <thread>

#include "ignite/src/cgroup_stats.hpp"

using namespace std::chrono;

namespace Ignite::detail {

JobCpuMeter::JobCpuMeter(Reader reader, Baseline baseline, std::optional<microseconds> limit,
                         unsigned parallelism)
    : reader_(std::move(reader)),
      baseline_(baseline),
      limit_(limit),
      parallelism_(std::max(parallelism, 1u)) {
  available_ = reader_ && reader_().has_value();
}

namespace {
// Read once: glibc answers hardware_concurrency() by parsing a /sys file (~13 us), and every
// execution makes a meter.
unsigned host_cpus() {
  static const unsigned n = std::thread::hardware_concurrency();
  return n;
}
}  // namespace

JobCpuMeter::JobCpuMeter(const std::string& id, Baseline baseline,
                         std::optional<microseconds> limit)
    : JobCpuMeter([cpu = std::make_shared<CgroupCpu>(id)] { return cpu->read(); }, baseline, limit,
                  host_cpus()) {}

void JobCpuMeter::dispatch() {
  base_ = nanoseconds(0);
  last_.reset();
  if (baseline_ == Baseline::Dispatch && available_) {
    // One reading is both the baseline and the first sample.
    if (const auto v = reader_()) {
      base_ = *v;
      last_ = *v;
    }
    if (limit_)
      next_check_ =
          steady_clock::now() + std::max<nanoseconds>(*limit_ / parallelism_, kMinCheckInterval);
    return;
  }
  sample();
}

void JobCpuMeter::sample(steady_clock::time_point now) {
  if (!available_) return;
  if (const auto v = reader_()) last_ = *v;
  if (!limit_) return;
  const auto spent = used().value_or(microseconds(0));
  if (spent > *limit_) {
    next_check_ = now;
    return;
  }
  // The soonest the rest of the budget could be gone: every CPU of the host busy for the job.
  const nanoseconds left = *limit_ - spent;
  next_check_ = now + std::max<nanoseconds>(left / parallelism_, kMinCheckInterval);
}

void JobCpuMeter::sample_during(const std::function<void()>& kill) {
  if (!available_) {
    kill();
    return;
  }
  std::optional<nanoseconds> seen;
  {
    // The reader is a pread on a descriptor of its own: safe beside this thread's reads.
    std::jthread watch([this, &seen](std::stop_token stop) {
      while (!stop.stop_requested()) {
        const auto v = reader_();
        if (!v) return;  // the cgroup is gone: every process in it is dead
        seen = seen ? std::max(*seen, *v) : *v;
        std::this_thread::sleep_for(kKillWatchInterval);
      }
    });
    kill();
  }  // joined: `seen` is final
  sample();
  if (seen && (!last_ || *seen > *last_)) last_ = *seen;
}

void JobCpuMeter::bound(nanoseconds start, nanoseconds end) {
  if (!last_ || start > end) return;
  // Monotonic counter: a reading taken between dispatch and the last sample lies between them.
  if (start >= base_ && start <= *last_) base_ = start;
  if (end >= base_ && end <= *last_) last_ = end;
}

bool JobCpuMeter::exceeded() const {
  const auto spent = used();
  return limit_ && spent && *spent > *limit_;
}

std::optional<microseconds> JobCpuMeter::used() const {
  if (!last_) return std::nullopt;
  const nanoseconds own = *last_ - base_ - excluded_;
  return duration_cast<microseconds>(std::max(own, nanoseconds(0)));
}

}  // namespace Ignite::detail
