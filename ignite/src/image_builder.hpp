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
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "ignite/engine.hpp"
#include "ignite/src/docker/client.hpp"

namespace Ignite::detail {

struct ServiceImage {
  std::string ref;   // ignite-svc/<name>:<hash>
  std::string id;    // sha256:...
  std::uint64_t size = 0;
  bool built = false;  // false: reused an existing image
  std::chrono::microseconds build_time{0};
};

class ImageBuilder {
 public:
  // `extra_labels` (EngineOptions::labels + $IGNITE_LABELS) go on every image built here.
  ImageBuilder(docker::DockerClient& docker, std::string session,
               std::map<std::string, std::string> extra_labels = {})
      : docker_(docker), session_(std::move(session)), extra_labels_(std::move(extra_labels)) {}

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
    std::filesystem::file_time_type mtime;
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
};

}  // namespace Ignite::detail
