// File: ignite/engine.hpp
//
// `Ignite::Engine` drives Docker (Engine API over the unix socket) to run services in fresh,
// hardened containers: non-root, no capabilities, no new privileges, read-only root filesystem
// with a small /tmp, pids limit, no network unless service.yaml asks, memory/CPU/time limits,
// and the service directory mounted read-only at /app. Every container is labelled and removed.
//
// Example:
//   Ignite::Engine engine;                       // DOCKER_HOST or /var/run/docker.sock
//   Ignite::Service svc = engine.load("examples/services/hello-node");
//   Ignite::ExecutionResult r = engine.execute(svc, {.input = R"({"name":"World"})"});
//   std::cout << r.stdout_text << "exit " << r.exit_code << "\n";
//
// Thread-safety: one Engine may be used from many threads; at most
// EngineOptions::max_concurrent executions run at once, the rest wait their turn.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>

#include "ignite/execution.hpp"
#include "ignite/runtime.hpp"
#include "ignite/service.hpp"

namespace Ignite {

struct EngineOptions {
  // "unix:///path/to/docker.sock" or a socket path; empty: DOCKER_HOST, else
  // /var/run/docker.sock.
  std::string docker_host;
  std::size_t max_concurrent = 8;
  // Container limits that service.yaml does not set.
  int pids_limit = 256;
  std::string tmpfs_size = "64m";
};

class Engine {
 public:
  // Does not contact the daemon: loading and validating services works without Docker.
  explicit Engine(EngineOptions options = {});
  ~Engine();
  Engine(Engine&&) noexcept;
  Engine& operator=(Engine&&) noexcept;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Loads and validates a service directory against this engine's runtime registry.
  // Throws Error(Config | Service).
  Service load(const std::filesystem::path& dir) const;

  // Runs the service once in a fresh container and removes it. Throws Error only when Ignite
  // could not run it (Docker unreachable, runtime image missing, bad options); the service's
  // own failures are reported in ExecutionResult::outcome.
  ExecutionResult execute(const Service& service, const ExecuteOptions& options = {});

  // Throws Error(DockerUnavailable) when the daemon does not answer.
  void ping();

  // A snapshot of the registry; changes go through the methods below.
  RuntimeRegistry runtimes() const;
  void register_runtime(Runtime runtime);
  bool unregister_runtime(const std::string& name);
  void load_runtimes_file(const std::filesystem::path& path);

  // The label value identifying resources this engine created (dev.ignite.session).
  const std::string& session_id() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace Ignite
