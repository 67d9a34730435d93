// `ignite lock <dir> [-u|--update] [-c|--check]`: create, refresh or verify ignite.lock.
#include "ignite/lock.hpp"

#include <nlohmann/json.hpp>

#include "examples/cli/cli.hpp"

namespace ignite_cli {
namespace {

struct LockArgs {
  std::string dir;
  bool update = false;
  bool check = false;
  bool json = false;
};

nlohmann::json manifest_json(const Ignite::LockManifest& m) {
  nlohmann::json j = {{"version", m.version},
                      {"runtime", m.runtime_spec()},
                      {"baseImageId", m.base_image_id ? nlohmann::json(*m.base_image_id) : nullptr},
                      {"lockfile", m.lockfile ? nlohmann::json(*m.lockfile) : nullptr},
                      {"checksums", m.checksums},
                      {"createdAt", m.created_at}};
  return j;
}

}  // namespace

nlohmann::json drift_json(const Ignite::DriftReport& d) {
  return {{"locked", d.locked},
          {"drift", d.drift},
          {"details", d.details},
          {"manifest", d.manifest ? manifest_json(*d.manifest) : nlohmann::json(nullptr)}};
}

namespace {

int run_lock(Ignite::Engine& engine, const LockArgs& a) {
  try {
    const Ignite::Service svc = engine.load(a.dir);
    const std::string& name = svc.config.name;

    // --check wins over --update. Nothing locked is a failed check: there is nothing to match.
    if (a.check) {
      info("Checking environment for " + name + "...");
      const Ignite::DriftReport drift = engine.check_lock(svc);
      if (a.json) {
        nlohmann::json j = drift_json(drift);
        j["serviceName"] = name;
        j["ok"] = drift.locked && !drift.drift;
        std::cout << j.dump(2) << "\n";
      } else {
        std::cout << Ignite::format_environment_info(drift) << "\n";
      }
      return (!drift.locked || drift.drift) ? kExitCheckFailed : 0;
    }
    // Without --update an existing (and well-formed) manifest is kept; --update replaces even
    // a malformed one.
    if (!a.update && Ignite::read_lock(svc.path)) {
      warn("Environment already locked. Use --update to refresh the manifest.");
      const Ignite::DriftReport drift = engine.check_lock(svc);
      if (a.json) {
        nlohmann::json j = drift_json(drift);
        j["serviceName"] = name;
        j["action"] = "kept";
        std::cout << j.dump(2) << "\n";
      } else {
        std::cout << Ignite::format_environment_info(drift) << "\n";
      }
      return 0;
    }
    info("Locking environment for " + name + "...");
    const Ignite::LockManifest manifest = engine.make_lock(svc);
    Ignite::write_lock(svc.path, manifest);
    if (a.json) {
      std::cout << nlohmann::json{{"serviceName", name},
                                  {"action", a.update ? "updated" : "created"},
                                  {"manifest", manifest_json(manifest)}}
                       .dump(2)
                << "\n";
      return 0;
    }
    out_ok("Created ignite.lock for " + name);
    std::cout << "  Runtime: " << manifest.runtime_spec() << "\n"
              << "  Lockfile: " << manifest.lockfile.value_or("none detected") << "\n"
              << "  Checksums: " << manifest.checksums.size() << " file(s)\n";
    return 0;
  } catch (const Ignite::Error& e) {
    return fail(e, "Lock failed: ");
  }
}

}  // namespace

Command add_lock(CLI::App& app) {
  auto a = std::make_shared<LockArgs>();
  CLI::App* cmd = app.add_subcommand("lock", "Create, update or check the ignite.lock manifest");
  cmd->add_option("dir", a->dir, "Service directory")->required();
  cmd->add_flag("-u,--update", a->update, "Replace an existing ignite.lock");
  cmd->add_flag("-c,--check", a->check,
                "Compare the service with ignite.lock; exit 1 on drift or when not locked");
  cmd->add_flag("--json", a->json,
                "Print one JSON document ({serviceName, locked, drift, details, manifest, ...})");
  return {cmd, [a](Ignite::Engine& engine) { return run_lock(engine, *a); }};
}

}  // namespace ignite_cli
