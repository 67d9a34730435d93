#include "ignite/src/history.hpp"

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "ignite/src/format_util.hpp"
#include "ignite/src/service_files.hpp"

namespace fs = std::filesystem;
using namespace std::chrono;
using json = nlohmann::json;

namespace Ignite::detail {

fs::path ExecutionHistory::history_file(const fs::path& service_path) const {
  return state_dir_ / "history" / (sha256_hex(service_path.string()).substr(0, 24) + ".json");
}

std::optional<milliseconds> ExecutionHistory::last_execution(const Service& svc) {
  std::lock_guard lock(mu_);
  if (auto it = history_.find(svc.path.string()); it != history_.end()) return it->second.last;
  std::ifstream in(history_file(svc.path));
  if (!in) return std::nullopt;
  const json j = json::parse(in, nullptr, false);
  if (!j.is_object() || !j.contains("lastExecutionMs") || !j["lastExecutionMs"].is_number()) {
    return std::nullopt;  // unreadable history is no history; it is rewritten on the next run
  }
  return milliseconds(j["lastExecutionMs"].get<std::int64_t>());
}

void ExecutionHistory::record_execution(const Service& svc, milliseconds run) noexcept {
  try {
    std::lock_guard lock(mu_);
    Entry& h = history_[svc.path.string()];
    if (h.file.empty()) h.file = history_file(svc.path);
    h.last = run;
    const auto now = clock_();
    // Replacing the file by a rename makes ext4 write its data out: a disk write (a few hundred
    // us of this process's CPU) per execution otherwise. The first value is written at once;
    // later ones at most once a second when they moved by more than half and by more than
    // 100 ms (a real change of the service, not the jitter of its run time: preflight's hint
    // has a 500 ms margin), else at most every 10 s; flush() writes the last one.
    if (h.written.count() >= 0) {
      const auto since_write = now - h.written_at;
      const long long delta = std::abs(run.count() - h.written.count());
      const bool moved = delta * 2 > h.written.count() && delta > 100;
      if (run == h.written || since_write < kMinWriteInterval ||
          (!moved && since_write < kMaxWriteInterval)) {
        return;
      }
    }
    if (write_history(h.file, svc.path, run)) {
      h.written = run;
      h.written_at = now;
    }
  } catch (...) {
  }
}

void ExecutionHistory::flush() noexcept {
  std::lock_guard lock(mu_);
  for (auto& [path, h] : history_) {
    if (h.written != h.last) write_history(h.file, path, h.last);
  }
}

bool ExecutionHistory::write_history(const fs::path& file, const fs::path& service_path,
                                     milliseconds run) noexcept {
  try {
    std::error_code ec;
    fs::create_directories(file.parent_path(), ec);
    const fs::path tmp = file.string() + ".tmp-" + random_hex(8);
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << json{{"service", service_path.string()}, {"lastExecutionMs", run.count()}}.dump();
      if (!out) return false;
    }
    fs::rename(tmp, file, ec);
    if (ec) {
      fs::remove(tmp, ec);
      return false;
    }
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace Ignite::detail
