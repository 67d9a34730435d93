#include "ignite/src/cgroup_stats.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>

namespace Ignite::detail {

std::string cgroup_file(const std::string& id, std::string_view v1_controller, std::string_view v1,
                        std::string_view v2) {
  if (id.empty()) return {};
  const std::string candidates[] = {
      "/sys/fs/cgroup/" + std::string(v1_controller) + "/docker/" + id + "/" + std::string(v1),
      "/sys/fs/cgroup/system.slice/docker-" + id + ".scope/" + std::string(v2),
      "/sys/fs/cgroup/docker/" + id + "/" + std::string(v2),
  };
  for (const auto& c : candidates) {
    if (::access(c.c_str(), R_OK) == 0) return c;
  }
  return {};
}

std::optional<std::uint64_t> cgroup_counter(const std::string& path, std::string_view key) {
  if (path.empty()) return std::nullopt;
  std::ifstream in(path);
  std::string k;
  std::uint64_t v = 0;
  while (in >> k >> v) {
    if (k == key) return v;
  }
  return std::nullopt;
}

CgroupPeak::CgroupPeak(const std::string& id)
    : path_(cgroup_file(id, "memory", "memory.max_usage_in_bytes", "memory.peak")) {
  // Kept open and re-read with pread: sampling runs every 20 ms of every execution.
  if (!path_.empty()) fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
}

CgroupPeak::~CgroupPeak() {
  if (fd_ >= 0) ::close(fd_);
}

void CgroupPeak::reset() {
  if (path_.empty()) return;
  const int fd = ::open(path_.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  [[maybe_unused]] const ssize_t n = ::write(fd, "0", 1);
  ::close(fd);
}

void CgroupPeak::sample() {
  if (fd_ < 0) return;
  char buf[32];
  const ssize_t n = ::pread(fd_, buf, sizeof(buf) - 1, 0);
  if (n <= 0) return;
  buf[n] = '\0';
  char* end = nullptr;
  const unsigned long long v = std::strtoull(buf, &end, 10);
  if (end == buf) return;
  peak_ = std::max(peak_, v);
  seen_ = true;
}

std::optional<double> CgroupPeak::mb() const {
  constexpr double kMiB = 1024.0 * 1024.0;
  if (!seen_) return std::nullopt;
  return std::round(static_cast<double>(peak_) / kMiB * 100.0) / 100.0;
}

CgroupCpu::CgroupCpu(const std::string& id) {
  const std::string path = cgroup_file(id, "cpuacct", "cpuacct.usage", "cpu.stat");
  if (path.empty()) return;
  v2_ = path.ends_with("/cpu.stat");
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
}

CgroupCpu::~CgroupCpu() {
  if (fd_ >= 0) ::close(fd_);
}

std::optional<std::chrono::nanoseconds> CgroupCpu::read() const {
  if (fd_ < 0) return std::nullopt;
  // cpu.stat starts with "usage_usec N\n"; cpuacct.usage is one number.
  char buf[128];
  const ssize_t n = ::pread(fd_, buf, sizeof(buf) - 1, 0);
  if (n <= 0) return std::nullopt;
  buf[n] = '\0';
  const char* p = buf;
  if (v2_) {
    constexpr std::string_view kKey = "usage_usec ";
    if (std::string_view(buf, static_cast<std::size_t>(n)).substr(0, kKey.size()) != kKey) {
      return std::nullopt;
    }
    p += kKey.size();
  }
  char* end = nullptr;
  const unsigned long long v = std::strtoull(p, &end, 10);
  if (end == p) return std::nullopt;
  if (v2_) return std::chrono::microseconds(v);
  return std::chrono::nanoseconds(v);
}

CgroupOomKills::CgroupOomKills(const std::string& id)
    : path_(cgroup_file(id, "memory", "memory.oom_control", "memory.events")) {}

CgroupPidsEvents::CgroupPidsEvents(const std::string& id)
    : path_(cgroup_file(id, "pids", "pids.events", "pids.events")) {}

}  // namespace Ignite::detail
