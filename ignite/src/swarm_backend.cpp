#include "ignite/src/swarm_backend.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "ignite/error.hpp"
#include "ignite/src/docker/cancel.hpp"
#include "ignite/src/labels.hpp"
#include "ignite/src/reaper.hpp"

using namespace std::chrono;
using json = nlohmann::json;

namespace Ignite::detail {
namespace {

constexpr auto kGiveUpAfter = minutes(2);

// Whether the object's owner (labels) is a process of this host that has died.
bool owner_dead(const json& object) {
  const Owner owner =
      owner_from_labels(object.contains("Spec") ? object["Spec"].value("Labels", json::object())
                                                : object.value("Labels", json::object()));
  // Without a host label the owner cannot be judged: another machine may own it.
  return owner.host == self_owner().host && !owner_alive(owner);
}

}  // namespace

SwarmBackend::SwarmBackend(docker::DockerClient& docker, std::string registry, std::string host,
                           milliseconds shutdown_grace)
    : docker_(docker),
      registry_(std::move(registry)),
      host_(std::move(host)),
      shutdown_grace_(shutdown_grace),
      thread_([this](std::stop_token st) { janitor(st); }) {}

SwarmBackend::~SwarmBackend() {
  {
    std::unique_lock lock(mu_);
    // Last: its jobs' services (queued before it) go first, and it is retried until their
    // containers are gone.
    if (!network_id_.empty()) {
      queue_.push_back(
          Item{Kind::Network, network_id_, 0, steady_clock::now(), steady_clock::now()});
    }
    const auto until = steady_clock::now() + shutdown_grace_;
    // Retries due later are tried now: the process may be about to exit.
    for (auto& item : queue_) item.not_before = steady_clock::now();
    cv_.notify_all();
    cv_.wait_until(lock, until, [&] { return queue_.empty() && busy_ == 0; });
  }
  thread_.request_stop();
  cv_.notify_all();
}

void SwarmBackend::require_manager() {
  std::call_once(manager_once_, [&] {
    const json swarm = docker_.info().value("Swarm", json::object());
    const std::string state = swarm.value("LocalNodeState", "");
    if (state != "active" || !swarm.value("ControlAvailable", false)) {
      throw Error(ErrorCode::Config,
                  "backend swarm: the Docker daemon at " + host_ +
                      " is not a swarm manager (Swarm.LocalNodeState: " +
                      (state.empty() ? "unknown" : state) +
                      (state == "active" ? ", a worker" : "") +
                      "); point docker_host at a manager, run `docker swarm init` there, or use "
                      "the docker backend");
    }
  });
}

std::string SwarmBackend::network(const json& spec) {
  std::lock_guard lock(network_mu_);
  if (network_id_.empty()) {
    try {
      network_id_ = docker_.network_create(spec);
    } catch (const Error& e) {
      // A create whose reply never came may still be carried out: removed by name later.
      if (e.code() == ErrorCode::Cancelled || e.code() == ErrorCode::DockerUnavailable) {
        dispose(Kind::Network, spec.value("Name", ""));
      }
      throw;
    }
  }
  return network_id_;
}

std::string SwarmBackend::pinned_image(const ServiceImage& image, bool& pushed) {
  pushed = false;
  std::lock_guard lock(push_mu_);
  if (auto it = pinned_.find(image.ref); it != pinned_.end()) return it->second;
  // ignite-svc/<name>:<content hash> -> HOST:PORT/ignite-svc/<name>:<content hash>
  const auto colon = image.ref.rfind(':');
  if (colon == std::string::npos) {
    throw Error(ErrorCode::Internal, "per-service image " + image.ref + " has no tag");
  }
  const std::string repo = registry_ + "/" + image.ref.substr(0, colon);
  const std::string tag = image.ref.substr(colon + 1);
  docker_.image_tag(image.ref, repo, tag);
  std::string digest;
  try {
    digest = docker_.image_push(repo, tag);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::Cancelled) throw;
    throw Error(ErrorCode::Docker,
                "backend swarm: cannot push " + image.ref + " to the registry " + registry_ +
                    " (EngineOptions::registry / IGNITE_REGISTRY): " + e.message());
  }
  pushed = true;
  return pinned_[image.ref] = repo + "@" + digest;
}

void SwarmBackend::dispose(Kind kind, std::string id) {
  if (id.empty()) return;
  std::lock_guard lock(mu_);
  queue_.push_back(Item{kind, std::move(id), 0, steady_clock::now(), steady_clock::now()});
  cv_.notify_all();
}

void SwarmBackend::flush() {
  std::unique_lock lock(mu_);
  for (auto& item : queue_)
    item.not_before = std::min(item.not_before, steady_clock::now() + milliseconds(200));
  cv_.notify_all();
  cv_.wait(lock, [&] { return queue_.empty() && busy_ == 0; });
}

bool SwarmBackend::remove_now(const Item& item) noexcept {
  // Removal goes through whatever the caller's stop token says: it is the cleanup.
  docker::CancelScope cleanup{std::stop_token()};
  try {
    switch (item.kind) {
      case Kind::Service:
        docker_.service_remove(item.id);
        break;
      case Kind::Secret:
        docker_.secret_remove(item.id);
        break;
      case Kind::Network:
        docker_.network_remove(item.id);
        break;
    }
    return true;
  } catch (...) {
    // In use (a task still shutting down), or the daemon did not answer: retried.
    return false;
  }
}

void SwarmBackend::janitor(std::stop_token st) {
  std::unique_lock lock(mu_);
  while (!st.stop_requested()) {
    if (queue_.empty()) {
      cv_.wait(lock, st, [&] { return !queue_.empty(); });
      continue;
    }
    Item item = queue_.front();
    if (item.not_before > steady_clock::now()) {
      cv_.wait_until(lock, st, item.not_before, [] { return false; });
      continue;
    }
    queue_.pop_front();
    ++busy_;
    lock.unlock();
    const bool gone = remove_now(item);
    lock.lock();
    --busy_;
    if (!gone && steady_clock::now() - item.since < kGiveUpAfter) {
      // In order: what was queued behind it (the same job's other objects) waits too, so a
      // network is not tried while its service still exists. Given up after kGiveUpAfter: the
      // reaper removes it once this process is gone.
      ++item.attempts;
      item.not_before =
          steady_clock::now() +
          std::min<milliseconds>(milliseconds(50L << std::min(item.attempts, 7)), seconds(5));
      queue_.push_front(std::move(item));
    }
    cv_.notify_all();
  }
}

std::size_t SwarmBackend::reap() {
  std::size_t removed = 0;
  const std::vector<std::string> managed = {std::string(labels::kManaged) + "=true"};
  for (const auto& s : docker_.services_list(managed)) {
    if (!owner_dead(s)) continue;
    try {
      if (docker_.service_remove(s.value("ID", ""))) ++removed;
    } catch (const Error&) {
      // Removed meanwhile, or the daemon refused: the next reap tries again.
    }
  }
  for (const auto& s : docker_.secrets_list(managed)) {
    if (!owner_dead(s)) continue;
    try {
      if (docker_.secret_remove(s.value("ID", ""))) ++removed;
    } catch (const Error&) {
    }
  }
  // A network stays in use until its task's container is gone (a second or so after the
  // service): those are retried here for a while.
  std::vector<std::string> networks;
  for (const auto& n : docker_.networks_list(managed)) {
    if (owner_dead(n)) networks.push_back(n.value("Id", ""));
  }
  const auto until = steady_clock::now() + seconds(20);
  while (!networks.empty()) {
    std::erase_if(networks, [&](const std::string& id) {
      try {
        if (docker_.network_remove(id)) ++removed;
        return true;
      } catch (const Error&) {
        return false;
      }
    });
    if (networks.empty() || steady_clock::now() > until) break;
    std::this_thread::sleep_for(milliseconds(250));
  }
  return removed;
}

}  // namespace Ignite::detail
