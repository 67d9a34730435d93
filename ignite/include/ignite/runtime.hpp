// File: ignite/runtime.hpp
//
// The runtime registry: which JavaScript runtimes Ignite can run a service on, which versions
// each offers and which local image provides a version. Built-ins are bun, node, deno and
// quickjs, backed by the `ignite-runtime/*` images that tools/bootstrap builds; custom runtimes
// are added through `RuntimeRegistry::add` or a runtimes.yaml file.
//
// Example:
//   Ignite::RuntimeRegistry reg = Ignite::RuntimeRegistry::builtins();
//   Ignite::ResolvedRuntime rt = reg.resolve("node@20.12.0");   // node 20 -> ignite-runtime/node:20
//   rt.argv("index.js");                                        // {"node", "/app/index.js"}
//
// Thread-safety: a const RuntimeRegistry may be read from many threads; mutation needs
// external synchronisation (Engine guards its own registry).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace Ignite {

// `name@version`, split at the last '@' when it is not the first character (reference §2.1).
struct RuntimeSpec {
  std::string name;
  std::optional<std::string> version;  // nullopt: no constraint

  // Throws Error(Config) on an empty version ("bun@"): the reference silently accepted it.
  static RuntimeSpec parse(std::string_view spec);
  std::string str() const;
};

// One version of a runtime and the local image that provides it.
struct RuntimeVersion {
  std::string version;  // what a spec matches against: "20", "1.4", "2025-04-26"
  std::string image;    // local image providing it: "ignite-runtime/node:20"
};

// A runtime definition: a built-in (RuntimeRegistry::builtins) or one from a runtimes.yaml.
struct Runtime {
  std::string name;
  std::vector<RuntimeVersion> versions;  // must not be empty
  std::string default_version;           // one of versions[].version
  std::string default_entry = "index.js";
  std::vector<std::string> file_extensions;
  // argv before the entry path, e.g. {"deno", "run", "--allow-env", "--allow-read=/app"}.
  std::vector<std::string> command;
  // argv for entries ending in ".mjs" when the runtime needs to be told it runs a module
  // (QuickJS: qjs --std -m); empty: `command` serves every entry.
  std::vector<std::string> module_command;
};

// A runtime spec resolved to one concrete image.
struct ResolvedRuntime {
  std::string name;
  std::string version;  // the matched registry version ("20" for a request of "20.12.0")
  std::string image;
  std::vector<std::string> command;
  std::vector<std::string> module_command{};

  // Full argv to run `entry` (relative to the service root) from a container whose service
  // directory is at `app_dir`.
  std::vector<std::string> argv(const std::string& entry, const std::string& app_dir = "/app") const;
  std::string spec() const { return name + "@" + version; }
};

// The runtimes an Engine knows. Not thread-safe by itself: the Engine guards its registry with a
// lock (Engine::load_runtimes_file may run while executions resolve runtimes).
class RuntimeRegistry {
 public:
  // bun, node, deno, quickjs (in that order), mapped to the images tools/bootstrap builds.
  static RuntimeRegistry builtins();

  // Adds or replaces by name; a custom runtime may shadow a built-in (listed once).
  // Throws Error(Config) when the definition is incomplete.
  void add(Runtime runtime);
  bool remove(std::string_view name);

  // Reads a runtimes.yaml file and adds every runtime it declares. Throws Error(Config) naming
  // the file and field on any problem; nothing is added when the file is invalid.
  void load_file(const std::filesystem::path& path);

  // The runtime called `name` (nullptr when there is none), every name, every definition.
  const Runtime* find(std::string_view name) const;
  std::vector<std::string> names() const;
  const std::vector<Runtime>& all() const { return runtimes_; }

  // Reference §2.2 matching: R matches S when R == S or R starts with "S." or "S-", after one
  // leading 'v' is dropped from both. Throws Error(Runtime) for an unknown runtime or version.
  ResolvedRuntime resolve(std::string_view spec) const;
  bool is_valid(std::string_view spec) const noexcept;

 private:
  std::vector<Runtime> runtimes_;
};

}  // namespace Ignite
