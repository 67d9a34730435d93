// Helpers shared by tests: scratch directories under TEST_TMPDIR and file writing.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <filesystem>
#include <string>
#include <thread>
#include <utility>

namespace Ignite::testing {

// A fresh, empty directory unique to this call, removed on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

void write_file(const std::filesystem::path& path, const std::string& content);
// The whole file; throws std::runtime_error naming it when it cannot be read.
std::string read_file(const std::filesystem::path& path);

// Path of a file in the source tree as seen from a Bazel test (runfiles).
std::filesystem::path runfile(const std::string& workspace_relative);

}  // namespace Ignite::testing

namespace Ignite::testing {

// The real (host) directory of an example service. Bazel's runfiles are symlink farms that the
// Docker daemon cannot bind-mount meaningfully, so resolve a file inside back to the source tree.
std::filesystem::path example_service(const std::string& name);

// Runs a command through /bin/sh, feeding `stdin_data`; returns exit status and output.
struct CommandResult {
  int status = -1;
  std::string out;
  std::string err;
};
CommandResult run_command(const std::string& command, const std::string& stdin_data = "");

// Polls `pred` every 50 ms until it holds or `timeout` passed; returns its last value.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return pred();
}

// Wraps a test thread's body: an exception it throws fails the current test (with its message)
// instead of escaping the thread, which would terminate the whole test binary.
template <class F>
auto guarded(F fn) {
  // Takes no arguments: std::jthread would otherwise pass its stop_token.
  return [fn = std::move(fn)]() mutable {
    try {
      fn();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "exception in a test thread: " << e.what();
    } catch (...) {
      ADD_FAILURE() << "unknown exception in a test thread";
    }
  };
}

}  // namespace Ignite::testing
