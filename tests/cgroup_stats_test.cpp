// cgroup_counter on files written by the test in the kernel's formats (memory.oom_control,
// memory.events, pids.events). The live readings are in tests/integration (cpu_time_test,
// execute_test's memory and OOM cases).
#include "ignite/src/cgroup_stats.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/test_util.hpp"

using Ignite::detail::cgroup_counter;

namespace {

std::string write(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path) << text;
  return path.string();
}

}  // namespace

TEST(CgroupCounter, ReadsTheKeyOfAFlatKeyedFile) {
  Ignite::testing::TempDir dir;
  // cgroup v1 memory.oom_control: "oom_kill_disable" and "under_oom" come first.
  const auto v1 =
      write(dir.path() / "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
  EXPECT_EQ(cgroup_counter(v1, "oom_kill"), 3u);
  EXPECT_EQ(cgroup_counter(v1, "under_oom"), 0u);
  // cgroup v2 memory.events: "oom" is a prefix of "oom_kill" and "oom_group_kill".
  const auto v2 = write(dir.path() / "memory.events",
                        "low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n");
  EXPECT_EQ(cgroup_counter(v2, "oom"), 2u);
  EXPECT_EQ(cgroup_counter(v2, "oom_kill"), 1u);
  EXPECT_EQ(cgroup_counter(v2, "max"), 12u);
  // No trailing newline, a 64-bit value.
  const auto pids = write(dir.path() / "pids.events", "max 18446744073709551615");
  EXPECT_EQ(cgroup_counter(pids, "max"), 18446744073709551615u);
}

TEST(CgroupCounter, AbsentKeyFileOrValueIsNothing) {
  Ignite::testing::TempDir dir;
  const auto f = write(dir.path() / "memory.events", "low 0\nhigh 0\n");
  EXPECT_EQ(cgroup_counter(f, "oom_kill"), std::nullopt);
  EXPECT_EQ(cgroup_counter(f, "lo"), std::nullopt);  // a prefix of a key is not the key
  EXPECT_EQ(cgroup_counter((dir.path() / "gone").string(), "oom_kill"), std::nullopt);
  EXPECT_EQ(cgroup_counter("", "oom_kill"), std::nullopt);
  const auto bad = write(dir.path() / "bad", "oom_kill x\n");
  EXPECT_EQ(cgroup_counter(bad, "oom_kill"), std::nullopt);
}
