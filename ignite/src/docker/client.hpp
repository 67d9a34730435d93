// DockerClient: typed Docker Engine API endpoints over a Transport (libcurl to the daemon's
// Endpoint: a unix socket, TCP with TLS, or ssh). The only code that builds Engine API URLs. Pinned to API v1.41 (Docker 20.10, the
// version Debian 12 ships).
//
// Thread-safety: every method may be called concurrently from several threads.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ignite/src/docker/connection.hpp"
#include "ignite/src/docker/endpoint.hpp"
#include "ignite/src/docker/stream.hpp"
#include "ignite/src/docker/transport.hpp"

namespace Ignite::docker {

inline constexpr std::string_view kApiPrefix = "/v1.41";
inline constexpr std::string_view kDefaultSocket = "/var/run/docker.sock";

// The local daemon's socket for tools and tests that need one: DOCKER_HOST when it is unix://
// (anything else throws Error(Config) naming DOCKER_HOST), else /var/run/docker.sock. Engines
// resolve their endpoint with resolve_endpoint() (endpoint.hpp) instead.
std::string socket_from_env();

// A hijacked attach connection (POST /containers/{id}/attach with Upgrade: tcp) on its own
// Connection. Move-only; closes the connection on destruction.
class Attachment {
 public:
  enum class End { Eof, Deadline, Stopped };

  Attachment() = default;
  // `with_stdin` false: the daemon does not read this connection, so pump() ignores its stdin
  // argument and never half-closes.
  Attachment(std::unique_ptr<Connection> connection, std::string initial_bytes,
             bool with_stdin = true);
  Attachment(Attachment&&) noexcept;
  Attachment& operator=(Attachment&&) noexcept;
  Attachment(const Attachment&) = delete;
  Attachment& operator=(const Attachment&) = delete;
  ~Attachment();

  // Runs the I/O loop: writes `stdin_data` (if the attachment was opened with stdin) and then
  // half-closes the sending side, while decoding output frames into `on_payload`, until the
  // daemon closes the stream (Eof), `deadline` passes (Deadline) or `should_stop` returns true
  // (Stopped; asked after every read and at least every 20 ms, or by `wake_at`). Writing and
  // reading are interleaved, so a service that prints while its input is still arriving cannot
  // deadlock. A container that exits without reading all its input just ends the writing. A later
  // call after Deadline/Stopped resumes writing at the offset reached, and writes nothing once
  // stdin was half-closed. Throws Error(Docker) when the stream is corrupt or ends inside a frame.
  // `close_stdin` false: `stdin_data` is written but the sending side stays open (pooled
  // containers read their job header, and reuse-mode containers several jobs, on one stream).
  // `wake_at` (optional, read before every wait): the time by which should_stop must be asked
  // again, instead of every 20 ms: sooner for a caller that needs a closer look (a CPU-time
  // limit near), never for one whose should_stop only looks at what was read (every wake-up
  // is a context switch).
  End pump(std::string_view stdin_data, const FrameDecoder::Callback& on_payload,
           std::chrono::steady_clock::time_point deadline,
           const std::function<bool()>& should_stop = {}, bool close_stdin = true,
           const std::function<std::chrono::steady_clock::time_point()>& wake_at = {});

  // The next pump() writes its stdin_data from the start (a new job on an open stream).
  void restart_input() noexcept { stdin_written_ = 0; }

  // True when the stream is open and nothing arrived on it: a ready pooled container that has
  // neither printed nor exited since it was last read.
  bool quiet() const noexcept;

  bool valid() const noexcept;
  void close() noexcept;

 private:
  std::unique_ptr<Connection> conn_;
  std::string pending_;  // bytes that arrived with the 101 response headers
  bool stdin_closed_ = false;
  std::size_t stdin_written_ = 0;
  FrameDecoder decoder_;
};

// How long each kind of Engine API call may take before it fails with Error(DockerUnavailable)
// ("the Docker daemon at ... did not answer ... within N ms"). Failure bounds, not latency
// expectations: a healthy daemon answers metadata calls in milliseconds and lifecycle calls in
// well under a second, a busy one in seconds.
struct Timeouts {
  std::chrono::milliseconds metadata{10000};   // ping, version, info, inspect, list
  std::chrono::milliseconds lifecycle{15000};  // create, attach, start, kill, wait, remove, logs
  std::chrono::milliseconds build{600000};     // image build, import, export and load
};

struct BuildOptions {
  std::string tag;                              // "repo:tag"
  std::map<std::string, std::string> labels;   // applied to the image
  std::string dockerfile = "Dockerfile";       // path inside the context
  std::chrono::milliseconds timeout{0};  // 0: the client's Timeouts::build
};

class DockerClient {
 public:
  // Talks to the daemon on the unix socket `socket_path` with libcurl.
  explicit DockerClient(std::string socket_path);
  // Talks to `endpoint` with libcurl (any kind: unix, TCP with TLS, ssh).
  explicit DockerClient(Endpoint endpoint);
  // Uses the given transport (tests replay recorded replies through this). Attach still needs
  // a real socket path (may be empty when attach is not used).
  DockerClient(std::unique_ptr<Transport> transport, std::string socket_path = {});
  ~DockerClient();
  DockerClient(const DockerClient&) = delete;
  DockerClient& operator=(const DockerClient&) = delete;

  static std::unique_ptr<DockerClient> from_env();

  // The unix socket's path; "" for other endpoints (name those by endpoint().url).
  const std::string& socket_path() const noexcept { return endpoint_.socket_path; }
  const Endpoint& endpoint() const noexcept { return endpoint_; }
  // Set before the client is shared between threads.
  void set_timeouts(const Timeouts& timeouts) noexcept { timeouts_ = timeouts; }
  const Timeouts& timeouts() const noexcept { return timeouts_; }

  // GET /_ping. Throws Error(DockerUnavailable) naming the socket when nothing answers.
  void ping();
  // GET /version (the daemon's JSON).
  nlohmann::json version();
  // GET /info (runtimes, cgroup version, security options ...).
  nlohmann::json info();

  // GET /images/{ref}/json; nullopt when the daemon says 404.
  std::optional<nlohmann::json> image_inspect(const std::string& ref);
  // POST /images/create?fromSrc=-&repo=&tag=&changes= with a rootfs tarball as the body.
  void image_import(const std::filesystem::path& tarball, const std::string& repo,
                    const std::string& tag, const std::vector<std::string>& changes);
  // POST /build with a tar context (never pulls). Streams each build output line to `on_log`.
  // Returns the new image id. Throws Error(Build) with the daemon's errorDetail message.
  std::string image_build(const std::string& context_tar, const BuildOptions& options,
                          const std::function<void(std::string_view)>& on_log = {});
  // DELETE /images/{ref}; false when it did not exist.
  bool image_remove(const std::string& ref, bool force = false);
  // GET /images/get?names=...: the images as a `docker save` tarball, handed to `on_data` as it
  // arrives (false from it stops). Bounded by the build timeout.
  void images_export(const std::vector<std::string>& names,
                     const std::function<bool(std::string_view)>& on_data);
  // POST /images/load with the tarball `source` produces (chunked; see HttpRequest::body_source),
  // streamed. `on_line` receives the daemon's progress lines ("Loaded image: ..."). Bounded by
  // the build timeout. Throws Error(Docker) with the daemon's message when it refuses the tar.
  void images_load(const std::function<std::size_t(char*, std::size_t)>& source,
                   const std::function<void(std::string_view)>& on_line = {});
  // GET /images/json filtered by labels ("key" or "key=value"). With `dangling_only`, only
  // untagged images that no other image is built on (what an unfinished build leaves).
  std::vector<nlohmann::json> images_list(const std::vector<std::string>& label_filters,
                                          bool dangling_only = false);

  // POST /containers/create; returns the id. `body` is a ContainerCreateRequest.
  // Throws Error(NotFound) for an unknown image, Error(Docker) otherwise.
  std::string container_create(const nlohmann::json& body, const std::string& name = {});
  // POST /containers/{id}/start.
  void container_start(const std::string& id);
  // Attaches to stdout+stderr (and stdin when `with_stdin`) before or after start.
  Attachment container_attach(const std::string& id, bool with_stdin);
  // POST /containers/{id}/wait?condition=...; returns StatusCode. Bounded by `timeout` (0: the
  // lifecycle timeout): callers wait after a kill, or when the container is known to be ending.
  std::int64_t container_wait(const std::string& id, std::string_view condition = "not-running",
                              std::chrono::milliseconds timeout = std::chrono::milliseconds{0});
  // GET /containers/{id}/logs (stdout+stderr, not following), decoded frame by frame.
  void container_logs(const std::string& id, const FrameDecoder::Callback& on_payload);
  // POST /containers/{id}/kill; false when the container is gone or not running.
  // `timeout` 0: the lifecycle timeout.
  bool container_kill(const std::string& id, std::string_view signal = "KILL",
                      std::chrono::milliseconds timeout = std::chrono::milliseconds{0});
  // DELETE /containers/{id}?force=1&v=1; false when it did not exist. Never throws for 404.
  bool container_remove(const std::string& id, bool force = true);
  // GET /containers/{id}/json.
  nlohmann::json container_inspect(const std::string& id);
  // GET /containers/json?all=1 filtered by labels.
  std::vector<nlohmann::json> containers_list(const std::vector<std::string>& label_filters,
                                              bool all = true);

  // ---- registries and Docker Swarm (the swarm backend; the daemon must be a swarm manager) ----

  // POST /images/{ref}/tag?repo=&tag=.
  void image_tag(const std::string& ref, const std::string& repo, const std::string& tag);
  // POST /images/{repo}/push?tag= with an empty X-Registry-Auth. Returns the manifest digest
  // ("sha256:..."). Throws Error(Docker) with the daemon's or the registry's message.
  std::string image_push(const std::string& repo, const std::string& tag);
  // POST /services/create; returns the service ID. `spec` is a ServiceSpec.
  std::string service_create(const nlohmann::json& spec);
  // DELETE /services/{id}; false when it did not exist. Its tasks' containers are stopped by
  // their nodes in the background.
  bool service_remove(const std::string& id);
  // GET /services filtered by labels.
  std::vector<nlohmann::json> services_list(const std::vector<std::string>& label_filters);
  // GET /tasks?filters={"service":[id]}.
  std::vector<nlohmann::json> tasks_list(const std::string& service_id);
  // GET /services/{id}/logs?stdout=1&stderr=1[&follow=1], decoded frame by frame. With
  // `follow` the stream stays open after the task ended: it ends when `on_payload`'s caller
  // returns false from `keep_going` (checked after each chunk), when `timeout` passes, or on
  // the thread's CancelScope (Error(Cancelled)).
  void service_logs(const std::string& id, bool follow, const FrameDecoder::Callback& on_payload,
                    const std::function<bool()>& keep_going = {},
                    std::chrono::milliseconds timeout = std::chrono::milliseconds{0});
  // POST /secrets/create; returns the ID. `spec` is a SecretSpec (Data base64, at most 500 KiB).
  std::string secret_create(const nlohmann::json& spec);
  // DELETE /secrets/{id}; false when it did not exist.
  bool secret_remove(const std::string& id);
  std::vector<nlohmann::json> secrets_list(const std::vector<std::string>& label_filters);
  // POST /networks/create; returns the ID.
  std::string network_create(const nlohmann::json& body);
  // DELETE /networks/{id}; false when it did not exist. Throws Error(Docker) while a task
  // still uses it.
  bool network_remove(const std::string& id);
  std::vector<nlohmann::json> networks_list(const std::vector<std::string>& label_filters);

 private:
  HttpResponse call(const HttpRequest& req, std::string_view what);
  // The swarm objects' (and networks') create, remove and list calls, `path` their collection
  // ("/services", "/secrets", "/networks").
  std::string object_create(const std::string& path, const nlohmann::json& spec,
                            const std::string& what);
  bool object_remove(const std::string& path, const std::string& id, const std::string& what);
  std::vector<nlohmann::json> objects_list(const std::string& path,
                                           const std::vector<std::string>& label_filters,
                                           const std::string& what);

  std::unique_ptr<Transport> transport_;
  Endpoint endpoint_;
  Timeouts timeouts_;
};

}  // namespace Ignite::docker
