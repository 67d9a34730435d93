#include "ignite/runtime.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "ignite/error.hpp"
#include "ignite/src/format_util.hpp"
#include "ignite/src/yaml_util.hpp"

namespace Ignite {
namespace {

using detail::join;

std::string_view strip_v(std::string_view v) {
  if (!v.empty() && v.front() == 'v') v.remove_prefix(1);
  return v;
}

bool version_matches(std::string_view requested, std::string_view supported) {
  requested = strip_v(requested);
  supported = strip_v(supported);
  if (requested == supported) return true;
  if (requested.size() <= supported.size()) return false;
  if (requested.substr(0, supported.size()) != supported) return false;
  const char next = requested[supported.size()];
  return next == '.' || next == '-';
}

Runtime make(std::string name, std::vector<RuntimeVersion> versions, std::string default_version,
             std::string entry, std::vector<std::string> exts, std::vector<std::string> command) {
  Runtime r;
  r.name = std::move(name);
  r.versions = std::move(versions);
  r.default_version = std::move(default_version);
  r.default_entry = std::move(entry);
  r.file_extensions = std::move(exts);
  r.command = std::move(command);
  return r;
}

void check_definition(const Runtime& r, const std::string& where) {
  auto bad = [&](const std::string& what) {
    throw Error(ErrorCode::Config, where + "runtime \"" + r.name + "\": " + what);
  };
  if (r.name.empty() || r.name.find('@') != std::string::npos) {
    throw Error(ErrorCode::Config, where + "runtime name must be non-empty and contain no '@'");
  }
  if (r.versions.empty()) bad("versions must list at least one version");
  if (r.command.empty() || r.command.front().empty()) bad("command must not be empty");
  bool default_found = false;
  for (const auto& v : r.versions) {
    if (v.version.empty()) bad("a version is empty");
    if (v.image.empty()) bad("version " + v.version + " has no image");
    if (v.version == r.default_version) default_found = true;
  }
  if (!default_found) bad("defaultVersion \"" + r.default_version + "\" is not in versions");
}

}  // namespace

RuntimeSpec RuntimeSpec::parse(std::string_view spec) {
  RuntimeSpec out;
  const auto at = spec.rfind('@');
  if (at != std::string_view::npos && at > 0) {
    out.name = std::string(spec.substr(0, at));
    std::string version(spec.substr(at + 1));
    if (version.empty()) {
      throw Error(ErrorCode::Config,
                  "runtime \"" + std::string(spec) + "\": version after '@' is empty");
    }
    out.version = std::move(version);
  } else {
    out.name = std::string(spec);
  }
  return out;
}

std::string RuntimeSpec::str() const { return version ? name + "@" + *version : name; }

std::vector<std::string> ResolvedRuntime::argv(const std::string& entry,
                                               const std::string& app_dir) const {
  const bool module = entry.size() > 4 && entry.compare(entry.size() - 4, 4, ".mjs") == 0;
  std::vector<std::string> out = module && !module_command.empty() ? module_command : command;
  out.push_back(app_dir + "/" + entry);
  return out;
}

RuntimeRegistry RuntimeRegistry::builtins() {
  RuntimeRegistry reg;
  reg.runtimes_.push_back(make("bun", {{"1.4", "ignite-runtime/bun:1.4"}}, "1.4", "index.ts",
                               {".ts", ".js", ".tsx", ".jsx"}, {"bun"}));
  reg.runtimes_.push_back(make("node",
                               {{"18", "ignite-runtime/node:18"},
                                {"20", "ignite-runtime/node:20"},
                                {"22", "ignite-runtime/node:22"},
                                {"24", "ignite-runtime/node:24"}},
                               "20", "index.js", {".js", ".mjs", ".cjs"}, {"node"}));
  // Deno needs explicit permissions; environment and /app are all a service may read.
  reg.runtimes_.push_back(make("deno", {{"2.9", "ignite-runtime/deno:2.9"}}, "2.9", "index.ts",
                               {".ts", ".js", ".tsx", ".jsx"},
                               {"deno", "run", "--no-prompt", "--allow-env", "--allow-read=/app"}));
  // --std gives scripts the `std` and `os` globals; -m runs an ES module (which imports them).
  Runtime quickjs = make("quickjs",
                         {{"2025-04-26", "ignite-runtime/quickjs:2025-04-26"},
                          {"latest", "ignite-runtime/quickjs:2025-04-26"}},
                         "latest", "index.js", {".js", ".mjs"}, {"qjs", "--std"});
  quickjs.module_command = {"qjs", "--std", "-m"};
  reg.runtimes_.push_back(std::move(quickjs));
  return reg;
}

void RuntimeRegistry::add(Runtime runtime) {
  check_definition(runtime, "");
  auto it = std::find_if(runtimes_.begin(), runtimes_.end(),
                         [&](const Runtime& r) { return r.name == runtime.name; });
  if (it != runtimes_.end()) {
    *it = std::move(runtime);
  } else {
    runtimes_.push_back(std::move(runtime));
  }
}

bool RuntimeRegistry::remove(std::string_view name) {
  auto it = std::find_if(runtimes_.begin(), runtimes_.end(),
                         [&](const Runtime& r) { return r.name == name; });
  if (it == runtimes_.end()) return false;
  runtimes_.erase(it);
  return true;
}

const Runtime* RuntimeRegistry::find(std::string_view name) const {
  for (const auto& r : runtimes_) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

std::vector<std::string> RuntimeRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& r : runtimes_) out.push_back(r.name);
  return out;
}

ResolvedRuntime RuntimeRegistry::resolve(std::string_view spec_text) const {
  const RuntimeSpec spec = RuntimeSpec::parse(spec_text);
  const Runtime* rt = find(spec.name);
  if (rt == nullptr) {
    throw Error(ErrorCode::Runtime, "Unknown runtime: " + spec.name +
                                        ". Available runtimes: " + join(names(), ", ") + ".");
  }
  const std::string wanted = spec.version.value_or(rt->default_version);
  // Prefer an exact match so "latest" never loses to a prefix of another entry.
  const RuntimeVersion* match = nullptr;
  for (const auto& v : rt->versions) {
    if (strip_v(v.version) == strip_v(wanted)) match = &v;
  }
  for (const auto& v : rt->versions) {
    if (match == nullptr && version_matches(wanted, v.version)) match = &v;
  }
  if (match == nullptr) {
    std::vector<std::string> supported;
    for (const auto& v : rt->versions) supported.push_back(v.version);
    throw Error(ErrorCode::Runtime, "Unsupported version \"" + wanted + "\" for runtime \"" +
                                        rt->name + "\". Supported versions: " +
                                        join(supported, ", ") + ".");
  }
  return ResolvedRuntime{rt->name, match->version, match->image, rt->command, rt->module_command};
}

bool RuntimeRegistry::is_valid(std::string_view spec) const noexcept {
  try {
    resolve(spec);
    return true;
  } catch (...) {
    return false;
  }
}

void RuntimeRegistry::load_file(const std::filesystem::path& path) {
  const std::string file = path.string();
  const YAML::Node doc = detail::load_yaml_file(path);
  const YAML::Node list = doc.IsMap() ? doc["runtimes"] : YAML::Node();
  if (!list || !list.IsSequence()) {
    throw Error(ErrorCode::Config, file + ": runtimes must be a list of runtime definitions");
  }
  std::vector<Runtime> parsed;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const YAML::Node n = list[i];
    const std::string where = file + ": runtimes[" + std::to_string(i) + "]";
    if (!n.IsMap()) throw Error(ErrorCode::Config, where + " must be a map");
    Runtime r;
    r.name = detail::require_string(n, "name", where);
    const std::string image = detail::optional_string(n, "image", where).value_or("");
    r.default_entry = detail::optional_string(n, "defaultEntry", where).value_or("index.js");
    r.command = detail::string_list(n, "command", where);
    if (n["moduleCommand"]) r.module_command = detail::string_list(n, "moduleCommand", where);
    if (n["fileExtensions"]) r.file_extensions = detail::string_list(n, "fileExtensions", where);
    const YAML::Node versions = n["versions"];
    if (versions && versions.IsMap()) {
      for (const auto& kv : versions) {
        r.versions.push_back({kv.first.Scalar(), kv.second.Scalar()});
      }
    } else if (versions && versions.IsSequence()) {
      for (const auto& v : versions) {
        if (!v.IsScalar()) throw Error(ErrorCode::Config, where + ".versions: entries must be strings");
        if (image.empty()) {
          throw Error(ErrorCode::Config,
                      where + ".image: required when versions is a list (or map version: image)");
        }
        r.versions.push_back({v.Scalar(), image});
      }
    } else if (!image.empty()) {
      r.versions.push_back({"latest", image});
    } else {
      throw Error(ErrorCode::Config, where + ": needs image or versions");
    }
    r.default_version =
        detail::optional_string(n, "defaultVersion", where).value_or(r.versions.front().version);
    check_definition(r, where + ": ");
    parsed.push_back(std::move(r));
  }
  for (auto& r : parsed) add(std::move(r));
}

}  // namespace Ignite
