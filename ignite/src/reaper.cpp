#include "ignite/src/reaper.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "ignite/error.hpp"
#include "ignite/src/docker/cancel.hpp"
#include "ignite/src/labels.hpp"

namespace Ignite::detail {
namespace {

std::string hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0) return "unknown";
  return buf;
}

// Field 22 of /proc/<pid>/stat; the command name (field 2) may contain spaces and parentheses,
// so fields are counted from the last ')'.
std::string start_time(long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return "";
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; ++i) {
    if (i == 22) return field;
  }
  return "";
}

std::string label(const nlohmann::json& labels, std::string_view key) {
  const auto it = labels.find(std::string(key));
  return it != labels.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

Owner owner_from_labels(const nlohmann::json& labels) {
  Owner owner;
  owner.host = label(labels, labels::kOwnerHost);
  try {
    owner.pid = std::stol(label(labels, labels::kOwnerPid));
  } catch (...) {
    owner.pid = 0;
  }
  owner.start = label(labels, labels::kOwnerStart);
  return owner;
}

Owner self_owner() {
  // Recomputed after fork(): a child's containers must name the child, which may die on its
  // own, not the parent.
  static std::mutex mu;
  static std::optional<Owner> cached;
  std::lock_guard lock(mu);
  const long pid = static_cast<long>(::getpid());
  if (!cached || cached->pid != pid) cached = Owner{hostname(), pid, start_time(::getpid())};
  return *cached;
}

std::map<std::string, std::string> owner_labels() {
  const Owner& o = self_owner();
  return {{std::string(labels::kOwnerHost), o.host},
          {std::string(labels::kOwnerPid), std::to_string(o.pid)},
          {std::string(labels::kOwnerStart), o.start}};
}

bool owner_alive(const Owner& owner) {
  if (owner.pid <= 0) return false;
  if (::kill(static_cast<pid_t>(owner.pid), 0) != 0 && errno != EPERM) return false;
  // The pid exists; it is the owner only if it started when the owner did.
  return owner.start.empty() || start_time(owner.pid) == owner.start;
}

ReapResult reap(docker::DockerClient& docker, bool all_service_images) {
  ReapResult result;
  const Owner& me = self_owner();
  for (const auto& c : docker.containers_list({std::string(labels::kManaged) + "=true"}, true)) {
    const Owner owner = owner_from_labels(c.value("Labels", nlohmann::json::object()));
    // Without a host label the owner cannot be judged: another machine may own it.
    if (owner.host != me.host) continue;
    if (owner_alive(owner)) continue;
    // The daemon is deleting it already (AutoRemove, or another reaper's delete).
    if (c.value("State", "") == "removing") continue;
    try {
      if (docker.container_remove(c.value("Id", ""), true)) ++result.containers;
    } catch (const Error&) {
      // Removal already in progress elsewhere, or the daemon refused: the next reap retries.
    }
  }
  if (all_service_images) {
    result.images += reap_dangling_images(docker, kDanglingImageAge);
    for (const auto& img : docker.images_list({std::string(labels::kKind) + "=service"})) {
      // Other names of the image (the swarm backend's registry tag, digests its tasks pulled)
      // go first: an image with several names is not removed by its id.
      std::vector<std::string> names;
      for (const char* key : {"RepoTags", "RepoDigests"}) {
        for (const auto& n : img.value(key, nlohmann::json::array())) {
          if (n.is_string() && n.get<std::string>().rfind("ignite-svc/", 0) != 0 &&
              n.get<std::string>().find("<none>") == std::string::npos) {
            names.push_back(n.get<std::string>());
          }
        }
      }
      for (const auto& n : names) {
        try {
          docker.image_remove(n, false);
        } catch (const Error&) {
          // In use: the removal by id below fails too and keeps the image.
        }
      }
      try {
        if (docker.image_remove(img.value("Id", ""), false)) ++result.images;
      } catch (const Error&) {
        // In use by a running container: keep it.
      }
    }
  }
  return result;
}

std::size_t reap_dangling_images(docker::DockerClient& docker, std::chrono::seconds older_than,
                                 const std::vector<std::string>& more_labels) {
  std::vector<std::string> filters{std::string(labels::kManaged) + "=true"};
  filters.insert(filters.end(), more_labels.begin(), more_labels.end());
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  std::size_t removed = 0;
  for (const auto& img : docker.images_list(filters, /*dangling_only=*/true)) {
    const auto it = img.find("Created");
    const std::int64_t created =
        it != img.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
    if (created <= 0 || now - created < older_than.count()) continue;
    try {
      if (docker.image_remove(img.value("Id", ""), false)) ++removed;
    } catch (const Error&) {
      // In use (a container, a build's step in progress): a later reap looks again.
    }
  }
  return removed;
}

std::size_t remove_build_leftovers(docker::DockerClient& docker, const std::string& build,
                                   std::chrono::steady_clock::time_point deadline,
                                   std::stop_token stop) {
  using namespace std::chrono;
  const std::vector<std::string> filter{std::string(labels::kBuild) + "=" + build};
  // Its own scope: the build's caller may have been cancelled, this must still run.
  docker::CancelScope scope(stop);
  std::size_t removed = 0;
  int quiet = 0;
  // A metadata step (LABEL) commits its image without a container: an aborted build can still
  // commit one after two quiet looks, so the looks go on for kBuildLeftoverSettle at least.
  const auto settled = steady_clock::now() + kBuildLeftoverSettle;
  const auto looking = [&] { return quiet < 2 || steady_clock::now() < settled; };
  while (looking() && steady_clock::now() < deadline && !stop.stop_requested()) {
    try {
      // The step's container carries the image's labels, the build's id among them.
      const bool building = !docker.containers_list(filter, true).empty();
      bool found = false;
      for (const auto& img : docker.images_list(filter, /*dangling_only=*/true)) {
        found = true;
        try {
          if (docker.image_remove(img.value("Id", ""), false)) ++removed;
        } catch (const Error&) {
          // The step in progress still uses it: next look.
        }
      }
      quiet = building || found ? 0 : quiet + 1;
    } catch (const std::exception&) {
      quiet = 0;  // the daemon did not answer (or oddly): look again while there is time
    }
    if (looking()) {
      const auto nap =
          std::min<steady_clock::duration>(milliseconds(150), deadline - steady_clock::now());
      if (nap > steady_clock::duration::zero()) std::this_thread::sleep_for(nap);
    }
  }
  return removed;
}

bool sweep_due(const std::filesystem::path& stamp, std::chrono::seconds every) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto last = fs::last_write_time(stamp, ec);
  const auto now = fs::file_time_type::clock::now();
  if (!ec && last <= now && now - last < every) return false;
  fs::create_directories(stamp.parent_path(), ec);
  { std::ofstream touch(stamp, std::ios::trunc); }
  fs::last_write_time(stamp, now, ec);
  return true;
}

}  // namespace Ignite::detail
