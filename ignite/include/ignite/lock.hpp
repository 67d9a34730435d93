// File: ignite/lock.hpp
//
// ignite.lock, the environment manifest (reference §8 with the §15 fixes): the resolved runtime,
// optionally the base image id, and the SHA-256 of every file that makes up the service, so
// that a later run can tell whether anything changed since the service was locked.
//
// Pinned files: service.yaml, package.json, the lockfiles bun.lockb, bun.lock,
// package-lock.json, yarn.lock and pnpm-lock.yaml (each when it exists), and every other file
// in the service directory, recursively, except node_modules/, .git/, .env* files, ignite.lock
// itself and what a top-level `.igniteignore` (one .gitignore-style glob per line) matches.
//
// File format (YAML):
//   version: "1.0"
//   runtime:
//     name: bun
//     version: "1.4"
//   baseImageId: sha256:...     # omitted when unknown
//   lockfile: bun.lock          # omitted when none exists
//   checksums:
//     index.ts: <sha256 hex>
//     service.yaml: <sha256 hex>
//   createdAt: 2026-01-24T10:15:30.123Z
//
// Example:
//   Ignite::ResolvedRuntime rt = registry.resolve(svc.config.runtime);
//   Ignite::write_lock(svc.path, Ignite::make_lock(svc, rt, std::nullopt));
//   Ignite::DriftReport d = Ignite::check_drift(svc, rt, std::nullopt);
//   std::cout << Ignite::format_environment_info(d) << "\n";
//
// Thread-safety: functions may run concurrently; write_lock replaces the file atomically, so a
// concurrent reader sees the old or the new manifest, never a torn one.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ignite/runtime.hpp"
#include "ignite/service.hpp"

namespace Ignite {

inline constexpr std::string_view kLockFileName = "ignite.lock";

// The contents of ignite.lock: the runtime a service resolved to, its base image and a checksum
// of every file, so that drift (check_drift) can be found later. A plain value.
struct LockManifest {
  std::string version = "1.0";
  std::string runtime_name;
  std::string runtime_version;  // the resolved registry version, never empty
  std::optional<std::string> base_image_id;
  std::optional<std::string> lockfile;  // first of bun.lockb, bun.lock, package-lock.json, ...
  std::map<std::string, std::string> checksums;  // '/'-separated relative path -> sha256 hex
  std::string created_at;                        // ISO-8601 UTC with milliseconds

  // "node@20": the spec the lock pins.
  std::string runtime_spec() const { return runtime_name + "@" + runtime_version; }
};

// Hashes the service's files now. `rt` is the runtime the service resolves to, so an
// unversioned spec records the default version it runs on.
// Throws Error(Service) when the directory cannot be listed and Error(Lock) when a file to pin
// cannot be read.
LockManifest make_lock(const Service& service, const ResolvedRuntime& rt,
                       std::optional<std::string> base_image_id = std::nullopt);

// Writes `<dir>/ignite.lock` through a temporary file and a rename.
// Throws Error(Lock) naming the path when it cannot be written.
void write_lock(const std::filesystem::path& dir, const LockManifest& manifest);

// Reads `<dir>/ignite.lock`; nullopt when there is none.
// Throws Error(Lock) "<path>: <problem>" when it is unreadable, empty, not valid YAML, lacks
// the runtime, or has a malformed field.
std::optional<LockManifest> read_lock(const std::filesystem::path& dir);

// What check_drift found: whether the service is locked, whether anything drifted, and what.
struct DriftReport {
  std::optional<LockManifest> manifest;  // nullopt: not locked
  bool locked = false;
  bool drift = false;
  // In order: "Runtime changed: <old> -> <new>", "Version changed: <old> -> <new>",
  // "Base image changed: <old> -> <new>", then per pinned file "File removed: <f>",
  // "File unreadable: <f>" or "File modified: <f>", then "File added: <f>" for new files.
  std::vector<std::string> details;
};

// Compares the service directory and the runtime it resolves to now with its ignite.lock.
// Versions are compared after resolution, so an unversioned runtime whose default moved on is
// drift. The base image is compared only when both ids are known.
// Throws Error(Lock) as read_lock does, and Error(Service) when the directory cannot be listed.
DriftReport check_drift(const Service& service, const ResolvedRuntime& current,
                        std::optional<std::string> current_base_image_id = std::nullopt);

// The reference's environment summary ("Environment: Locked" ...), lines joined with "\n" and
// no final newline.
std::string format_environment_info(const DriftReport& report);

}  // namespace Ignite
