#include "ignite/src/image_builder.hpp"

#include <sys/stat.h>

#include "ignite/error.hpp"
#include "ignite/src/audit.hpp"
#include "ignite/src/docker/cancel.hpp"
#include "ignite/src/format_util.hpp"
#include "ignite/src/labels.hpp"
#include "ignite/src/reaper.hpp"
#include "ignite/src/runner.hpp"
#include "ignite/src/service_files.hpp"
#include "ignite/src/tar.hpp"
#include "ignite/version.hpp"

namespace fs = std::filesystem;
using namespace std::chrono;

namespace Ignite::detail {
namespace {

// Every file under node_modules (symlinks kept as links, pnpm layouts included).
void collect_tree(const fs::path& root, const std::string& prefix,
                  std::vector<std::pair<std::string, fs::path>>& out) {
  std::error_code ec;
  std::vector<std::pair<std::string, fs::path>> found;
  for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::none, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const auto st = it->symlink_status(ec);
    if (fs::is_regular_file(st) || fs::is_symlink(st)) {
      found.emplace_back(prefix + "/" + it->path().lexically_relative(root).generic_string(), it->path());
    }
  }
  if (ec) throw Error(ErrorCode::Service, "cannot list " + root.string() + ": " + ec.message());
  std::sort(found.begin(), found.end());
  out.insert(out.end(), found.begin(), found.end());
}

// A double-quoted Dockerfile word: inside double quotes the daemon takes \", \\ and \$ as
// escapes (and expands $ otherwise); nothing can express a line break.
std::string dockerfile_word(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\' || c == '$') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string label_instruction(const std::map<std::string, std::string>& labels) {
  std::string line = "LABEL";
  for (const auto& [key, value] : labels) {
    const auto refuse = [&](const std::string& why) {
      return Error(ErrorCode::Config, "label " + nlohmann::json(key).dump() + ": " + why);
    };
    if (key.empty()) throw Error(ErrorCode::Config, "labels: a label key is empty");
    if (key.find('=') != std::string::npos) throw refuse("a label key cannot contain '='");
    if (key.find_first_of("\n\r") != std::string::npos) {
      throw refuse("the key contains a line break, which an image label (a Dockerfile LABEL) "
                   "cannot carry");
    }
    if (value.find_first_of("\n\r") != std::string::npos) {
      throw refuse("its value contains a line break, which an image label (a Dockerfile LABEL) "
                   "cannot carry");
    }
    if (key.find('\0') != std::string::npos || value.find('\0') != std::string::npos) {
      throw refuse("contains a NUL character");
    }
    line += " " + dockerfile_word(key) + "=" + dockerfile_word(value);
  }
  return line;
}

std::string ImageBuilder::file_hash(const fs::path& path) {
  std::error_code ec;
  // One lstat for the type, size and mtime (every execution looks at every file of a service).
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0)
    throw Error(ErrorCode::Service, "cannot read " + path.string());
  if (S_ISLNK(st.st_mode)) return "link:" + fs::read_symlink(path, ec).string();
  const auto size = static_cast<std::uintmax_t>(st.st_size);
  const std::int64_t mtime_ns =
      static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  const std::string key = path.string();
  {
    std::lock_guard lock(hash_mu_);
    auto it = hash_cache_.find(key);
    if (it != hash_cache_.end() && it->second.size == size && it->second.mtime_ns == mtime_ns) {
      return it->second.hash;
    }
  }
  auto hash = sha256_file(path);
  if (!hash) throw Error(ErrorCode::Service, "cannot read " + path.string());
  std::lock_guard lock(hash_mu_);
  hash_cache_[key] = {size, mtime_ns, *hash};
  return *hash;
}

ImageBuilder::Inputs ImageBuilder::inputs(const Service& svc, const ResolvedRuntime& rt,
                                          CodeDelivery delivery) {
  const std::string base = base_id(rt);
  Inputs in;
  in.base_id = base;
  const fs::path deps = svc.path / "node_modules";
  std::error_code ec;
  if (fs::is_directory(fs::symlink_status(deps, ec))) {
    collect_tree(deps, "node_modules", in.files);
    in.has_deps = !in.files.empty();
  }
  if (delivery == CodeDelivery::Baked) {
    for (const auto& rel : service_files(svc.path)) in.files.emplace_back("app/" + rel, svc.path / rel);
  }
  std::string manifest = "ignite-image-v2\n" + in.base_id + "\n" + rt.spec() + "\n" +
                         (delivery == CodeDelivery::Baked ? "baked" : "mount") + "\n";
  // The audit bootstraps, runners and the supervisor are in every image (audit mode and the
  // pool then need no other image). Hashed once per process: the supervisor alone is ~800 KB.
  static const std::string kShipped = [] {
    std::string lines;
    for (const auto& script : audit_scripts()) {
      lines += "ignite-audit/" + std::string(script.name) + " " + sha256_hex(script.content) + "\n";
    }
    for (const auto& script : runner_scripts()) {
      lines += "ignite-audit/" + std::string(script.name) + " " + sha256_hex(script.content) + "\n";
    }
    return lines + "ignite-audit/ignite-supervisor " + sha256_hex(supervisor_binary()) + "\n" +
           "ignite-audit/ignite-preboot.so " + sha256_hex(preboot_library()) + "\n";
  }();
  manifest += kShipped;
  for (const auto& [name, source] : in.files) manifest += name + " " + file_hash(source) + "\n";
  in.tag = "ignite-svc/" + svc.config.name + ":" + sha256_hex(manifest).substr(0, 20);
  return in;
}

std::optional<ServiceImage> ImageBuilder::find(const Service& svc, const ResolvedRuntime& rt,
                                               CodeDelivery delivery) {
  const Inputs in = inputs(svc, rt, delivery);
  const auto info = docker_.image_inspect(in.tag);
  if (!info) return std::nullopt;
  return ServiceImage{in.tag, info->value("Id", ""), info->value("Size", std::uint64_t{0}), false,
                      milliseconds(0)};
}

ServiceImage ImageBuilder::ensure(const Service& svc, const ResolvedRuntime& rt,
                                  CodeDelivery delivery,
                                  const std::function<void(std::string_view)>& on_log) {
  const Inputs in = inputs(svc, rt, delivery);
  {
    // One lookup or build per tag at a time: executions of a new service started together
    // wait for the first one's build. Each building it would leave all but the last image
    // dangling (the tag moves to the last one).
    std::unique_lock lock(cache_mu_);
    const std::stop_token stop = docker::CancelScope::token();
    for (;;) {
      if (auto it = known_.find(in.tag); it != known_.end()) return it->second;
      if (!building_.contains(in.tag)) break;
      if (!building_cv_.wait(lock, stop, [&] { return !building_.contains(in.tag); })) {
        throw Error(ErrorCode::Cancelled,
                    "build image " + in.tag + ": cancelled while another execution built it");
      }
    }
    building_.insert(in.tag);
  }
  struct Done {
    ImageBuilder& b;
    const std::string& tag;
    ~Done() {
      {
        std::lock_guard lock(b.cache_mu_);
        b.building_.erase(tag);
      }
      b.building_cv_.notify_all();
    }
  } done{*this, in.tag};

  if (const auto info = docker_.image_inspect(in.tag)) {
    ServiceImage image{in.tag, info->value("Id", ""), info->value("Size", std::uint64_t{0}), false,
                       milliseconds(0)};
    std::lock_guard lock(cache_mu_);
    known_[in.tag] = image;
    return image;
  }
  const auto t0 = steady_clock::now();
  const std::string id = build(svc, rt, delivery, in, on_log);
  const auto info = docker_.image_inspect(in.tag);
  ServiceImage image{in.tag, info ? info->value("Id", id) : id,
                     info ? info->value("Size", std::uint64_t{0}) : 0, false, milliseconds(0)};
  {
    std::lock_guard lock(cache_mu_);
    known_[in.tag] = image;
  }
  image.built = true;
  image.build_time = duration_cast<microseconds>(steady_clock::now() - t0);
  return image;
}

std::string ImageBuilder::build(const Service& svc, const ResolvedRuntime& rt,
                                CodeDelivery delivery, const Inputs& in,
                                const std::function<void(std::string_view)>& on_log) {
  const std::string build_id = random_hex(16);
  std::map<std::string, std::string> labels = {
      {std::string(labels::kManaged), "true"},
      {std::string(labels::kKind), "service"},
      {std::string(labels::kService), svc.config.name},
      {std::string(labels::kVersion), std::string(version())},
      {std::string(labels::kSession), session_},
      {std::string(labels::kBuild), build_id},
      {"dev.ignite.runtime.spec", rt.spec()},
      {"dev.ignite.delivery", delivery == CodeDelivery::Baked ? "baked" : "mount"},
  };
  for (const auto& [key, value] : extra_labels_) labels.try_emplace(key, value);
  // The labels come first (not as the build's `labels` parameter, which the daemon turns into
  // one LABEL step per label at the end): every image the build commits is Ignite's, and an
  // unfinished build's images are found by their build id. COPY needs no shell, which the
  // minimal runtime images do not have.
  std::string dockerfile = "FROM " + rt.image + "\n" + label_instruction(labels) + "\n";
  if (in.has_deps) dockerfile += "COPY node_modules /node_modules\n";
  if (delivery == CodeDelivery::Baked) dockerfile += "COPY app /app\n";
  dockerfile += "COPY ignite-audit " + std::string(kAuditDir) + "\n";
  TarWriter tar;
  tar.add_bytes("Dockerfile", dockerfile);
  for (const auto& script : audit_scripts()) {
    tar.add_bytes("ignite-audit/" + std::string(script.name), script.content);
  }
  for (const auto& script : runner_scripts()) {
    tar.add_bytes("ignite-audit/" + std::string(script.name), script.content);
  }
  tar.add_bytes("ignite-audit/ignite-supervisor", supervisor_binary(), 0755);
  tar.add_bytes("ignite-audit/ignite-preboot.so", preboot_library(), 0755);
  for (const auto& [name, source] : in.files) tar.add_path(name, source);

  // Untagged until it is done: the tag never names a half-built image, and the tag of
  // another process's build of the same inputs is not taken over.
  docker::BuildOptions opts;
  std::string id;
  try {
    id = docker_.image_build(tar.finish(), opts, on_log);
    const auto colon = in.tag.rfind(':');
    if (const auto theirs = docker_.image_inspect(in.tag)) {
      // Another process built the same inputs meanwhile: theirs is used, ours goes.
      const std::string their_id = theirs->value("Id", "");
      if (their_id != id) {
        docker::CancelScope uncancelled{std::stop_token{}};
        try {
          docker_.image_remove(id, false);
        } catch (const Error&) {
          // Removed by the age sweep of a later reap instead.
        }
      }
      return their_id;
    }
    docker_.image_tag(id, in.tag.substr(0, colon), in.tag.substr(colon + 1));
  } catch (...) {
    clean_up_after(build_id);
    throw;
  }
  return id;
}

void ImageBuilder::clean_up_after(std::string build_id) {
  std::lock_guard lock(cleanup_mu_);
  // Threads that are done are joined here, so a long-lived Engine does not collect them.
  for (auto it = cleanups_.begin(); it != cleanups_.end();) {
    if (*it->second) {
      it->first.join();
      it = cleanups_.erase(it);
    } else {
      ++it;
    }
  }
  ++cleanups_running_;
  auto done = std::make_shared<bool>(false);
  // Off the caller's path: a cancelled execution returns at once, while the daemon may need a
  // while to finish the step it was in and commit it.
  std::thread worker([this, done, build_id = std::move(build_id)] {
    try {
      remove_build_leftovers(docker_, build_id, steady_clock::now() + kCleanupTime,
                             cleanup_stop_.get_token());
    } catch (...) {
      // remove_build_leftovers does not throw; nothing may leave this thread.
    }
    std::lock_guard lock(cleanup_mu_);
    --cleanups_running_;
    *done = true;
    cleanup_cv_.notify_all();
  });
  cleanups_.emplace_back(std::move(worker), std::move(done));
}

void ImageBuilder::flush() {
  std::unique_lock lock(cleanup_mu_);
  cleanup_cv_.wait(lock, [&] { return cleanups_running_ == 0; });
}

ImageBuilder::~ImageBuilder() {
  {
    std::unique_lock lock(cleanup_mu_);
    cleanup_cv_.wait_for(lock, kCleanupShutdownGrace, [&] { return cleanups_running_ == 0; });
  }
  cleanup_stop_.request_stop();
  for (auto& [thread, done] : cleanups_) thread.join();
}

std::string ImageBuilder::base_id(const ResolvedRuntime& rt) {
  {
    std::lock_guard lock(cache_mu_);
    if (auto it = base_ids_.find(rt.image); it != base_ids_.end()) return it->second;
  }
  const auto base = docker_.image_inspect(rt.image);
  if (!base) {
    const docker::Endpoint& daemon = docker_.endpoint();
    if (!daemon.local()) {
      throw Error(ErrorCode::Runtime,
                  "Runtime image " + rt.image + " for " + rt.spec() +
                      " is not present on the Docker daemon at " + daemon.url +
                      ". Copy it there from a daemon that has it: ignite images copy --to " +
                      daemon.url + " " + rt.spec() + " (Engine::copy_images)");
    }
    throw Error(ErrorCode::Runtime, "Runtime image " + rt.image + " for " + rt.spec() +
                                        " is not present on the Docker daemon. Run tools/bootstrap "
                                        "to build the runtime images.");
  }
  const std::string id = base->value("Id", "");
  std::lock_guard lock(cache_mu_);
  base_ids_[rt.image] = id;
  return id;
}

void ImageBuilder::forget(const std::string& image) {
  std::lock_guard lock(cache_mu_);
  known_.erase(image);
  base_ids_.clear();  // the runtime image may be what went missing
}

}  // namespace Ignite::detail
