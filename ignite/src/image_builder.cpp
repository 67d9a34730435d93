#include "ignite/src/image_builder.hpp"

#include <sys/stat.h>

#include "ignite/error.hpp"
#include "ignite/src/audit.hpp"
#include "ignite/src/labels.hpp"
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

}  // namespace

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
    std::lock_guard lock(cache_mu_);
    if (auto it = known_.find(in.tag); it != known_.end()) return it->second;
  }
  if (const auto info = docker_.image_inspect(in.tag)) {
    ServiceImage image{in.tag, info->value("Id", ""), info->value("Size", std::uint64_t{0}), false,
                       milliseconds(0)};
    std::lock_guard lock(cache_mu_);
    known_[in.tag] = image;
    return image;
  }
  const auto t0 = steady_clock::now();
  // COPY needs no shell, which the minimal runtime images do not have.
  std::string dockerfile = "FROM " + rt.image + "\n";
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

  docker::BuildOptions opts;
  opts.tag = in.tag;
  opts.labels = {
      {std::string(labels::kManaged), "true"},
      {std::string(labels::kKind), "service"},
      {std::string(labels::kService), svc.config.name},
      {std::string(labels::kVersion), std::string(version())},
      {std::string(labels::kSession), session_},
      {"dev.ignite.runtime.spec", rt.spec()},
      {"dev.ignite.delivery", delivery == CodeDelivery::Baked ? "baked" : "mount"},
  };
  for (const auto& [key, value] : extra_labels_) opts.labels.try_emplace(key, value);
  const std::string id = docker_.image_build(tar.finish(), opts, on_log);
  const auto info = docker_.image_inspect(in.tag);
  ServiceImage image{in.tag, id, info ? info->value("Size", std::uint64_t{0}) : 0, false,
                     milliseconds(0)};
  {
    std::lock_guard lock(cache_mu_);
    known_[in.tag] = image;
  }
  image.built = true;
  image.build_time = duration_cast<microseconds>(steady_clock::now() - t0);
  return image;
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
