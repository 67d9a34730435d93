// File: ignite/service.hpp
//
// A service is a directory holding `service.yaml`, an entry file and optionally package.json /
// node_modules. `load_service` reads and validates it; the result is an immutable value.
//
// service.yaml (reference schema, unknown keys ignored):
//   service:
//     name: hello            # lowercase a-z 0-9 '-', 1-63 chars
//     runtime: node@20       # name[@version]
//     entry: index.js        # relative, must stay inside the directory
//     memoryMb: 128          # > 0
//     cpuLimit: 1            # optional, > 0
//     timeoutMs: 5000        # > 0
//     cpuTimeMs: 2000        # optional, > 0: CPU-time limit (Ignite; outcome cpu_limit)
//     network: false         # optional: true gives the container a network
//     env: {KEY: value}      # optional map of strings
//     overridableEnv: [KEY]  # optional (Ignite): variables a client of the HTTP server may set
//     reuse: 1               # optional (Ignite): jobs one pooled container may run, 1..10000
//   preflight: {memory: {...}, dependencies: {...}, image: {...}, timeout: {...}}
//
// Example:
//   Ignite::Service svc = Ignite::load_service("examples/services/hello-node");
//   std::cout << svc.config.name << " runs " << svc.entry_path << "\n";
//
// Every field, its default and the error each bad value gets: docs/service-yaml.md.
//
// Thread-safety: load_service() reads only its own directory and may run concurrently; a
// Service is an immutable value, safe to share between threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace Ignite {

class RuntimeRegistry;

// service.yaml's optional `preflight:` thresholds; unset values take the reference defaults.
struct PreflightConfig {
  // preflight.memory: baseMb, perDependencyMb, warnRatio, failRatio.
  struct Memory {
    std::optional<double> base_mb, per_dependency_mb, warn_ratio, fail_ratio;
  } memory;
  // preflight.dependencies: warnCount, infoCount.
  struct Dependencies {
    std::optional<double> warn_count, info_count;
  } dependencies;
  // preflight.image: warnMb, failMb.
  struct Image {
    std::optional<double> warn_mb, fail_mb;
  } image;
  // preflight.timeout: minMs, maxMs, coldStartBufferMs.
  struct Timeout {
    std::optional<double> min_ms, max_ms, cold_start_buffer_ms;
  } timeout;
};

// The validated `service:` block of service.yaml (camelCase there, snake_case here).
struct ServiceConfig {
  std::string name;
  std::string runtime;  // spec as written, e.g. "node@20"
  std::string entry;    // normalised relative path
  double memory_mb = 0;
  std::optional<double> cpu_limit;  // default 1 at run time
  double timeout_ms = 0;
  // CPU-time limit in milliseconds (user + system of everything in the container); unset: none.
  std::optional<double> cpu_time_ms;
  bool network = false;
  std::map<std::string, std::string> env;
  // Variables the service lets *clients* of a server (examples/http) set per execution; the
  // server refuses any other. Names only, unique, never IGNITE_*. The embedding program's own
  // ExecuteOptions::env is not limited by it.
  std::vector<std::string> overridable_env;
  // Jobs of this service that may share one container, one after another (PoolOptions::reuse,
  // which this overrides). 1: every job gets a container of its own.
  std::optional<std::size_t> reuse;
  PreflightConfig preflight;
};

// A loaded service: its validated configuration plus what load_service() found on disk.
// Made only by load_service() / Engine::load(), which throw on invalid input.
struct Service {
  ServiceConfig config;
  std::filesystem::path path;        // absolute service directory
  std::filesystem::path entry_path;  // absolute path of the entry file
  bool has_node_modules = false;
  std::uint64_t node_modules_size = 0;  // bytes of regular files under node_modules
  int dependency_count = 0;             // top-level packages (scopes counted per package)
};

// Loads and validates `<dir>/service.yaml`. Every validation problem is reported at once in one
// Error(Config) whose message starts "Invalid service.yaml: " and names each field. Runtime
// names are checked against `registry` (the built-ins when null).
// Throws Error(Service) when the directory, file or entry cannot be read.
Service load_service(const std::filesystem::path& dir, const RuntimeRegistry* registry = nullptr);

// Reference §1.4 Docker-name rule: returns the problem, or nullopt for a valid name.
std::optional<std::string> validate_name(std::string_view name);

// POSIX-portable environment variable name: [A-Za-z_][A-Za-z0-9_]*.
bool is_valid_env_name(std::string_view name) noexcept;

}  // namespace Ignite
