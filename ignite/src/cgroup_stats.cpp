#include "ignite/src/cgroup_stats.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>

namespace Ignite::detail {

namespace {

// Where a container's cgroup file may be: v1, v2 with the systemd driver, v2 with cgroupfs.
std::array<std::string, 3> cgroup_candidates(const std::string& id, std::string_view v1_controller,
                                             std::string_view v1, std::string_view v2) {
  return {
      "/sys/fs/cgroup/" + std::string(v1_controller) + "/docker/" + id + "/" + std::string(v1),
      "/sys/fs/cgroup/system.slice/docker-" + id + ".scope/" + std::string(v2),
      "/sys/fs/cgroup/docker/" + id + "/" + std::string(v2),
  };
}

// The first candidate that opens for reading, and its path; -1 when none does. One lookup
// of the path instead of access() and then open() (a walk through the cgroup filesystem each:
// every execution opens two of these).
int cgroup_open(const std::string& id, std::string_view v1_controller, std::string_view v1,
                std::string_view v2, std::string* path) {
  if (id.empty()) return -1;
  for (auto& c : cgroup_candidates(id, v1_controller, v1, v2)) {
    if (const int fd = ::open(c.c_str(), O_RDONLY | O_CLOEXEC); fd >= 0) {
      if (path != nullptr) *path = std::move(c);
      return fd;
    }
  }
  return -1;
}

}  // namespace

std::string cgroup_file(const std::string& id, std::string_view v1_controller, std::string_view v1,
                        std::string_view v2) {
  if (id.empty()) return {};
  for (auto& c : cgroup_candidates(id, v1_controller, v1, v2)) {
    if (::access(c.c_str(), R_OK) == 0) return std::move(c);
  }
  return {};
}

std::optional<std::uint64_t> cgroup_counter(const std::string& path, std::string_view key) {
  if (path.empty()) return std::nullopt;
  // One read() of a few lines: an ifstream (locale, an 8 KiB buffer) cost more than the read.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buf[4096];
  std::size_t n = 0;
  for (ssize_t got; n < sizeof buf && (got = ::read(fd, buf + n, sizeof buf - n)) != 0;) {
    if (got < 0) {
      if (errno == EINTR) continue;
      break;
    }
    n += static_cast<std::size_t>(got);
  }
  ::close(fd);
  // "key value" lines.
  std::string_view text(buf, n);
  while (!text.empty()) {
    const std::size_t eol = std::min(text.find('\n'), text.size());
    const std::string_view line = text.substr(0, eol);
    text.remove_prefix(std::min(eol + 1, text.size()));
    const std::size_t space = line.find(' ');
    if (space == std::string_view::npos || line.substr(0, space) != key) continue;
    std::uint64_t v = 0;
    const std::string_view digits = line.substr(space + 1);
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec != std::errc() || end == digits.data()) return std::nullopt;
    return v;
  }
  return std::nullopt;
}

CgroupPeak::CgroupPeak(const std::string& id) {
  // Kept open and re-read with pread: sampling runs every 20 ms of every execution.
  fd_ = cgroup_open(id, "memory", "memory.max_usage_in_bytes", "memory.peak", &path_);
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
  std::string path;
  fd_ = cgroup_open(id, "cpuacct", "cpuacct.usage", "cpu.stat", &path);
  v2_ = path.ends_with("/cpu.stat");
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
