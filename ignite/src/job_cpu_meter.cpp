#include "ignite/src/job_cpu_meter.hpp"

#include <algorithm>
#include <memory>
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

JobCpuMeter::JobCpuMeter(const std::string& id, Baseline baseline,
                         std::optional<microseconds> limit)
    : JobCpuMeter(
          [cpu = std::make_shared<CgroupCpu>(id)] { return cpu->read(); }, baseline, limit,
          std::thread::hardware_concurrency()) {}

void JobCpuMeter::dispatch() {
  base_ = nanoseconds(0);
  last_.reset();
  if (baseline_ == Baseline::Dispatch && reader_) {
    if (const auto v = reader_()) base_ = *v;
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
