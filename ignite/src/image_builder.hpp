// Per-service images, built only when their inputs change.
//
// An image is `FROM` the runtime's base image and tagged `ignite-svc/<name>:<hash>`, where the
// hash covers every input of the build: the base image id, the runtime, the delivery mode and
// the content of the files copied in. Unchanged inputs find the tag present and do no build
// work; different inputs (an edit, a --runtime override) get a different tag, so concurrent
// runs never clobber each other's image.
//
// What goes in:
//   - vendored dependencies (`node_modules/`) at `/node_modules`: module resolution from
//     /app/<entry> walks up to it, and the read-only mount of the service at /app cannot hide it;
//   - the audit bootstrap scripts (audit.hpp) at /opt/ignite, whatever the mode, so that audit
//     and plain runs share one image;
//   - with CodeDelivery::Baked, the service files (service_files(): no .env*, .git, or
//     .igniteignore'd paths) at /app, for daemons that cannot see the host's paths.
//
// Labels: one LABEL instruction right after FROM carries all of Ignite's labels, a random
// dev.ignite.build id and the caller's extra labels, so every image the build commits, its
// intermediate images too, is labelled from its first step. A build is one per tag at a time
// in a process; it is built untagged and tagged when done, unless another process tagged its
// own meanwhile (then the later image is removed). A build that did not finish (an error, a
// cancellation, a callback that stopped it) leaves intermediate images; they are removed in
// the background by their build id (remove_build_leftovers), and flush() waits for that.
//
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "ignite/engine.hpp"
#include "ignite/src/docker/client.hpp"

namespace Ignite::detail {

struct ServiceImage {
  std::string ref;  // ignite-svc/<name>:<hash>
  std::string id;   // sha256:...
  std::uint64_t size = 0;
  bool built = false;  // false: reused an existing image
  std::chrono::microseconds build_time{0};
};

// A Dockerfile LABEL instruction setting `labels` ("LABEL \"key\"=\"value\" ..."), each key and
// value double-quoted with \, " and $ escaped. Throws Error(Config) naming the label for what a
// Dockerfile line cannot carry: an empty key, a key with '=', a line break in a key or value.
std::string label_instruction(const std::map<std::string, std::string>& labels);

class ImageBuilder {
 public:
  // `extra_labels` (EngineOptions::labels + $IGNITE_LABELS) go on every image built here.
  ImageBuilder(docker::DockerClient& docker, std::string session,
               std::map<std::string, std::string> extra_labels = {})
      : docker_(docker), session_(std::move(session)), extra_labels_(std::move(extra_labels)) {}
  // Gives the clean-ups of unfinished builds still running up to kCleanupShutdownGrace.
  ~ImageBuilder();
  ImageBuilder(const ImageBuilder&) = delete;
  ImageBuilder& operator=(const ImageBuilder&) = delete;

  // How long the clean-up after an unfinished build keeps looking for what it left.
  static constexpr std::chrono::seconds kCleanupTime{30};
  static constexpr std::chrono::seconds kCleanupShutdownGrace{5};

  // Waits until the clean-ups of unfinished builds are done.
  void flush();

  // The image for these inputs, building it when it does not exist yet. Throws Error(Runtime)
  // when the base image is missing and Error(Build) when the build fails.
  ServiceImage ensure(const Service& service, const ResolvedRuntime& runtime, CodeDelivery delivery,
                      const std::function<void(std::string_view)>& on_log);

  // The image for these inputs when it already exists; nothing is built.
  std::optional<ServiceImage> find(const Service& service, const ResolvedRuntime& runtime,
                                   CodeDelivery delivery);

 private:
  struct Inputs {
    std::string tag;
    std::string base_id;
    std::vector<std::pair<std::string, std::filesystem::path>> files;  // archive path -> source
    bool has_deps = false;
  };
  Inputs inputs(const Service& service, const ResolvedRuntime& runtime, CodeDelivery delivery);
  std::string file_hash(const std::filesystem::path& path);

  docker::DockerClient& docker_;
  std::string session_;
  std::map<std::string, std::string> extra_labels_;
  // Content hashes keyed by path, reused while size and mtime are unchanged: node_modules can
  // hold thousands of files and is hashed on every run otherwise.
  struct CachedHash {
    std::uintmax_t size;
    std::int64_t mtime_ns;
    std::string hash;
  };
  std::mutex hash_mu_;
  std::map<std::string, CachedHash> hash_cache_;

 public:
  // Forgets what is cached about `image` (a per-service tag or a runtime image): the daemon
  // no longer has it (a create answered 404), so the next ensure() looks again and rebuilds.
  void forget(const std::string& image);

 private:
  // Saves two image inspects per execution. The runtime image's id is kept for the Engine's
  // life: a runtime image rebuilt meanwhile is seen by the next Engine (or after forget()).
  std::string base_id(const ResolvedRuntime& runtime);
  std::mutex cache_mu_;
  std::map<std::string, std::string> base_ids_;
  std::map<std::string, ServiceImage> known_;  // per-service tags known to exist
  // Tags being looked up or built now; others wanting the same tag wait on building_cv_.
  std::set<std::string> building_;
  std::condition_variable_any building_cv_;

  // Builds the image for `in` (not present) and tags it; returns its id.
  std::string build(const Service& service, const ResolvedRuntime& runtime, CodeDelivery delivery,
                    const Inputs& in, const std::function<void(std::string_view)>& on_log);
  // Removes what build `build_id` left, in the background.
  void clean_up_after(std::string build_id);
  std::mutex cleanup_mu_;
  std::condition_variable cleanup_cv_;
  std::size_t cleanups_running_ = 0;
  std::stop_source cleanup_stop_;
  std::list<std::pair<std::thread, std::shared_ptr<bool>>> cleanups_;  // thread, done
};

}  // namespace Ignite::detail
