// JobCpuMeter on a scripted reader: which share of the cgroup's CPU time is the job's (cold,
// dispatch baseline, excluded pre-boot, the supervisor's bounds), the limit's verdict, when the
// channel must look again, and a killed job read until its cgroup is gone. No containers: the live
// behaviour is in tests/integration/cpu_time_test.cpp.
#include "ignite/src/job_cpu_meter.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

using namespace std::chrono;
using namespace std::chrono_literals;
using Ignite::detail::JobCpuMeter;

namespace {

// A cgroup whose counter the test sets; `gone` makes reads fail as a removed cgroup's do.
struct FakeCgroup {
  std::atomic<long long> ns{0};
  std::atomic<bool> gone{false};
  std::atomic<int> reads{0};
  JobCpuMeter::Reader reader() {
    return [this]() -> std::optional<nanoseconds> {
      if (gone) return std::nullopt;
      const auto v = nanoseconds(ns.load());
      ++reads;
      return v;
    };
  }
};

}  // namespace

TEST(JobCpuMeter, ColdJobOwnsEverythingTheContainerRan) {
  FakeCgroup cg;
  cg.ns = 40'000'000;  // the runtime's start-up, before the job was written
  JobCpuMeter m(cg.reader(), JobCpuMeter::Baseline::ContainerStart, std::nullopt, 2);
  ASSERT_TRUE(m.available());
  m.dispatch();
  cg.ns = 55'000'000;
  m.sample();
  EXPECT_EQ(m.used(), 55ms);
  EXPECT_FALSE(m.exceeded());
  EXPECT_EQ(m.next_check(), steady_clock::time_point::max()) << "no limit: nothing to watch";
}

TEST(JobCpuMeter, PooledJobStartsAtDispatchAndExcludesWhatIsNotItsOwn) {
  FakeCgroup cg;
  cg.ns = 900'000'000;  // earlier jobs and the pooled runtime's boot
  JobCpuMeter m(cg.reader(), JobCpuMeter::Baseline::Dispatch, std::nullopt, 2);
  m.dispatch();
  EXPECT_EQ(m.used(), 0us);
  cg.ns = 912'345'678;
  m.sample();
  EXPECT_EQ(m.used(), 12345us);
  // A pre-boot of the next job's runtime (issue 16) is charged to no job.
  m.exclude(2'000'000ns);
  EXPECT_EQ(m.used(), 10345us);
  m.exclude(1s);
  EXPECT_EQ(m.used(), 0us) << "never negative";
}

TEST(JobCpuMeter, SupervisorsReadingsNarrowTheShareWithinTheMetersOwn) {
  FakeCgroup cg;
  cg.ns = 100'000'000;
  JobCpuMeter m(cg.reader(), JobCpuMeter::Baseline::Dispatch, std::nullopt, 2);
  m.dispatch();
  // The job arrived at 101 ms (a runtime booting for a later job ran in between), ended at
  // 130 ms, and the engine read 134 ms after the record (the runtime forked after it ran).
  cg.ns = 134'000'000;
  m.sample();
  m.exclude(9ms);  // the next job's runtime booted beside the job
  m.bound(101ms, 130ms);
  EXPECT_EQ(m.used(), 20ms);
  // Readings outside the meter's own span (a forged or stale record) change nothing.
  JobCpuMeter n(cg.reader(), JobCpuMeter::Baseline::Dispatch, std::nullopt, 2);
  n.dispatch();
  cg.ns = 150'000'000;
  n.sample();
  n.bound(10ms, 200ms);
  EXPECT_EQ(n.used(), 16ms);
  n.bound(140ms, 139ms);
  EXPECT_EQ(n.used(), 16ms) << "an end before its start is ignored";
}

TEST(JobCpuMeter, LimitIsPassedOnlyAbove) {
  FakeCgroup cg;
  JobCpuMeter m(cg.reader(), JobCpuMeter::Baseline::ContainerStart, 200ms, 2);
  m.dispatch();
  cg.ns = 200'000'000;
  m.sample();
  EXPECT_FALSE(m.exceeded()) << "exactly the limit is within it";
  cg.ns = 200'001'000;
  m.sample();
  EXPECT_TRUE(m.exceeded());
}

TEST(JobCpuMeter, NextCheckIsWhenTheRestOfTheBudgetCouldBeGone) {
  FakeCgroup cg;
  JobCpuMeter m(cg.reader(), JobCpuMeter::Baseline::ContainerStart, 200ms, 2);
  m.dispatch();
  const auto now = steady_clock::now();
  cg.ns = 100'000'000;
  m.sample(now);
  // 100 ms of CPU left, 2 CPUs: it cannot be gone before 50 ms of wall time.
  EXPECT_EQ(m.next_check(), now + 50ms);
  cg.ns = 199'900'000;
  m.sample(now);
  EXPECT_EQ(m.next_check(), now + JobCpuMeter::kMinCheckInterval) << "never a busy loop";
  cg.ns = 250'000'000;
  m.sample(now);
  EXPECT_EQ(m.next_check(), now);
}

TEST(JobCpuMeter, UnreadableCgroupMeasuresNothing) {
  FakeCgroup cg;
  cg.gone = true;
  JobCpuMeter m(cg.reader(), JobCpuMeter::Baseline::Dispatch, 100ms, 2);
  EXPECT_FALSE(m.available());
  m.dispatch();
  m.sample();
  EXPECT_FALSE(m.used().has_value());
  EXPECT_FALSE(m.exceeded());
  // A container id that has no cgroup on this host reads nothing either.
  JobCpuMeter none("no-such-container", JobCpuMeter::Baseline::ContainerStart, std::nullopt);
  EXPECT_FALSE(none.available());
}

TEST(JobCpuMeter, KilledJobIsReadUntilItsCgroupIsGone) {
  FakeCgroup cg;
  JobCpuMeter m(cg.reader(), JobCpuMeter::Baseline::ContainerStart, 200ms, 2);
  m.dispatch();
  cg.ns = 201'000'000;
  m.sample();
  ASSERT_TRUE(m.exceeded());
  // The "kill": the service runs on for a while, then its cgroup goes before the call returns.
  m.sample_during([&] {
    for (int i = 0; i < 20; ++i) {
      cg.ns += 1'000'000;
      std::this_thread::sleep_for(2ms);
    }
    // The cgroup goes only after the watcher read it again (two reads: one that began before the
    // last increment may finish after it): a loaded host can leave the watcher unscheduled for
    // longer than any fixed sleep, and a real cgroup is never gone before its processes are.
    const int before = cg.reads;
    while (cg.reads < before + 2) std::this_thread::sleep_for(100us);
    cg.gone = true;
    std::this_thread::sleep_for(5ms);
  });
  EXPECT_EQ(m.used(), 221ms) << "the CPU used until the end of the kill is the job's";
}
