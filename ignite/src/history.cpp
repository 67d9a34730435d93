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
    const auto now = steady_clock::now();
    // At most one write a second (the first at once; flush() writes the last): replacing the
    // file by a rename makes ext4 write its data out, a disk write per execution otherwise.
    if (h.written.count() >= 0 && now - h.written_at < seconds(1)) return;
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
