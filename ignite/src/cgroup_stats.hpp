// What the kernel knows about a container while it runs: its cgroup's memory peak, OOM kills,
// refused forks and CPU time, read from this host's cgroup filesystem (v1 or v2, systemd or cgroupfs
// driver). Every reader is empty (reads nothing, reports nothing) when the cgroup is not
// readable here: an empty id, a remote daemon, another layout.
//
// Thread-safety: each object belongs to the one execution that samples it; the free functions
// may be called from any thread.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace Ignite::detail {

// A file of a container's cgroup on this host: `v1` under the cgroup v1 hierarchy
// ("memory/docker/<id>/<v1>"), else `v2` in the container's v2 cgroup (systemd or cgroupfs
// driver). Empty when none is readable (no id, a remote daemon, another layout).
std::string cgroup_file(const std::string& id, std::string_view v1_controller, std::string_view v1,
                        std::string_view v2);

// The value of `key` in a flat-keyed cgroup file ("key value" lines: memory.events,
// memory.oom_control, pids.events).
std::optional<std::uint64_t> cgroup_counter(const std::string& path, std::string_view key);

// Peak memory of a container's cgroup, read from the host's cgroup filesystem (v1 or v2). The
// cgroup disappears with the container, so it is sampled while the container runs.
class CgroupPeak {
 public:
  explicit CgroupPeak(const std::string& id);
  ~CgroupPeak();
  CgroupPeak(const CgroupPeak&) = delete;
  CgroupPeak& operator=(const CgroupPeak&) = delete;
  // Starts the peak over (a reused container's peak so far belongs to earlier jobs). cgroup v1
  // resets on a write of 0, v2 (kernel 6.12+) on any write; without permission it stays.
  void reset();
  void sample();
  // The peak in MiB, rounded to two decimals; nullopt when never sampled.
  std::optional<double> mb() const;

 private:
  std::string path_;
  int fd_ = -1;
  unsigned long long peak_ = 0;
  bool seen_ = false;
};

// How many processes the kernel's OOM killer has killed in a container's cgroup: a pooled
// job's status 137 is an OOM kill when this grew during the job (the daemon records OOMKilled
// only when the whole container exits).
class CgroupOomKills {
 public:
  explicit CgroupOomKills(const std::string& id);
  bool available() const { return cgroup_counter(path_, "oom_kill").has_value(); }
  std::uint64_t read() const { return cgroup_counter(path_, "oom_kill").value_or(0); }

 private:
  std::string path_;
};

// How often the container's pids limit refused a fork/clone ("max N" in pids.events), sampled
// while the container runs like CgroupPeak.
class CgroupPidsEvents {
 public:
  explicit CgroupPidsEvents(const std::string& id);
  void sample() {
    if (const auto v = cgroup_counter(path_, "max")) max_ = std::max(max_, *v);
  }
  std::uint64_t max_hits() const { return max_; }

 private:
  std::string path_;
  std::uint64_t max_ = 0;
};

// The CPU time (user + system) the kernel accounted to a container's cgroup since it was made:
// cpuacct.usage (v1, nanoseconds) or cpu.stat's usage_usec (v2). The file is kept open and
// re-read with pread: a read costs a few microseconds, so it can run at every poll.
class CgroupCpu {
 public:
  explicit CgroupCpu(const std::string& id);
  ~CgroupCpu();
  CgroupCpu(const CgroupCpu&) = delete;
  CgroupCpu& operator=(const CgroupCpu&) = delete;
  bool available() const { return fd_ >= 0; }
  // nullopt when unreadable (no cgroup here, or it went with the container).
  std::optional<std::chrono::nanoseconds> read() const;

 private:
  int fd_ = -1;
  bool v2_ = false;
};

}  // namespace Ignite::detail
