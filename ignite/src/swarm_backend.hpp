// The swarm backend (EngineOptions::backend = Backend::Swarm): what outlives one swarm
// execution. It checks once that the daemon is a swarm manager, pushes each per-service image
// to the registry once per content hash (its tag is the content hash) and hands out the
// digest-pinned reference the nodes pull, removes swarm objects in the background (in order:
// a job's service, then its secret and network, which the swarm refuses to delete while a task
// still uses them, so they are retried), and reaps what dead Ignite processes of this host left
// in the swarm (owner labels, as the container reaper does).
//
// The backend talks to the manager only through the Engine's DockerClient, so it works with
// whatever endpoint that client speaks to.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "ignite/src/docker/client.hpp"
#include "ignite/src/image_builder.hpp"

namespace Ignite::detail {

class SwarmBackend {
 public:
  // `registry`: HOST:PORT. `host`: the endpoint the client talks to (for messages and
  // placement). `shutdown_grace`: the most the destructor waits for queued removals.
  SwarmBackend(docker::DockerClient& docker, std::string registry, std::string host,
               std::chrono::milliseconds shutdown_grace);
  // Waits up to shutdown_grace for queued removals; what is left is the reaper's.
  ~SwarmBackend();
  SwarmBackend(const SwarmBackend&) = delete;
  SwarmBackend& operator=(const SwarmBackend&) = delete;

  docker::DockerClient& docker() const { return docker_; }
  const std::string& host() const { return host_; }

  // Throws Error(Config) naming the endpoint when the daemon is not a swarm manager. Checked
  // once; later calls return at once.
  void require_manager();

  // The Engine's internal overlay network (created on first use; removed by the destructor).
  // `spec` is its create body (swarm_spec.hpp network_spec).
  std::string network(const nlohmann::json& spec);

  // HOST:PORT/ignite-svc/<name>@sha256:..., pushed when this Engine has not pushed it yet.
  // Returns whether it pushed in `pushed`.
  std::string pinned_image(const ServiceImage& image, bool& pushed);

  enum class Kind { Service, Secret, Network };
  // Removes the object in the background, after everything queued before it; retried with
  // backoff for up to two minutes.
  void dispose(Kind kind, std::string id);
  // Waits until every removal queued so far is done (or given up).
  void flush();

  // Removes services, secrets and networks whose owner process on this host has died.
  // Returns how many were removed.
  std::size_t reap();

 private:
  struct Item {
    Kind kind;
    std::string id;
    int attempts = 0;
    std::chrono::steady_clock::time_point not_before;
    std::chrono::steady_clock::time_point since;  // queued
  };
  bool remove_now(const Item& item) noexcept;  // true: gone (or given up)
  void janitor(std::stop_token st);

  docker::DockerClient& docker_;
  std::string registry_;
  std::string host_;
  std::chrono::milliseconds shutdown_grace_;

  std::once_flag manager_once_;
  std::mutex network_mu_;
  std::string network_id_;
  std::mutex push_mu_;  // one push at a time: concurrent first runs of a service push once
  std::map<std::string, std::string> pinned_;  // local tag -> pinned reference

  std::mutex mu_;
  std::condition_variable_any cv_;
  std::deque<Item> queue_;
  std::size_t busy_ = 0;  // items taken out of the queue and being removed
  std::jthread thread_;
};

}  // namespace Ignite::detail
