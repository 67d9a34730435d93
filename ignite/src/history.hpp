// Execution history: how long each service's last execution ran, for preflight's hint
// (Engine::last_execution). Exact in memory for this Engine; kept in a small JSON file per
// service under the state directory for other processes, written best effort (a failure to
// write never fails an execution).
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "ignite/service.hpp"

namespace Ignite::detail {

class ExecutionHistory {
 public:
  explicit ExecutionHistory(std::filesystem::path state_dir) : state_dir_(std::move(state_dir)) {}

  // The run phase of the service's last execution: this Engine's, else the file's.
  std::optional<std::chrono::milliseconds> last_execution(const Service& svc);

  // Records an execution's run phase; the file (for other processes) is written at once the
  // first time, then at most once a second, and by flush(), so a burst of executions does not
  // cost a file write each.
  void record_execution(const Service& svc, std::chrono::milliseconds run) noexcept;

  // Writes every value not yet written (the Engine's destructor).
  void flush() noexcept;

 private:
  struct Entry {
    std::filesystem::path file;  // computed once: the destructor's flush must not need the hash library
    std::chrono::milliseconds last{0};
    std::chrono::milliseconds written{-1};
    std::chrono::steady_clock::time_point written_at;
  };

  std::filesystem::path history_file(const std::filesystem::path& service_path) const;
  // Best effort: history only feeds a preflight hint, so failing to write it never fails a run.
  static bool write_history(const std::filesystem::path& file,
                            const std::filesystem::path& service_path,
                            std::chrono::milliseconds run) noexcept;

  std::filesystem::path state_dir_;
  std::mutex mu_;
  std::map<std::string, Entry> history_;
};

}  // namespace Ignite::detail
