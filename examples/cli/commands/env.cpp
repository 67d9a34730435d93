// `ignite env [dir] [--runtimes]`: the supported runtimes, or a service's environment status.
#include <nlohmann/json.hpp>

#include "examples/cli/cli.hpp"
#include "ignite/json.hpp"
#include "ignite/lock.hpp"

namespace ignite_cli {
namespace {

struct EnvArgs {
  std::optional<std::string> dir;
  bool runtimes = false;
  bool json = false;
};

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

void print_runtimes(const Ignite::RuntimeRegistry& registry) {
  std::cout << "Supported Runtimes:\n\n";
  for (const Ignite::Runtime& rt : registry.all()) {
    std::vector<std::string> versions;
    for (const auto& v : rt.versions) versions.push_back(v.version);
    std::cout << "  " << rt.name << "\n"
              << "    Default entry: " << rt.default_entry << "\n";
    if (!rt.file_extensions.empty()) {
      std::cout << "    Extensions: " << join(rt.file_extensions) << "\n";
    }
    if (!versions.empty()) {
      std::cout << "    Versions: " << join(versions) << " (default: " << rt.default_version
                << ")\n";
    }
    std::cout << "\n";
  }
  std::cout << "Usage examples:\n"
            << "  runtime: bun                     # service.yaml: the default version\n"
            << "  runtime: bun@1.4                 # service.yaml: a specific version\n"
            << "  runtime: node@20                 # service.yaml: Node.js 20\n"
            << "  ignite run . --runtime node@22   # override for one run\n";
}

int run_env(Ignite::Engine& engine, const EnvArgs& a) {
  if (a.runtimes) {
    if (a.json) {
      std::cout << nlohmann::json{{"runtimes", runtimes_json(engine.runtimes())}}.dump(2) << "\n";
    } else {
      print_runtimes(engine.runtimes());
    }
    return 0;
  }
  if (!a.dir) {
    return fail(kExitUsage, "usage",
                "Service path required. Use `ignite env <service>` or `ignite env --runtimes`");
  }
  try {
    const Ignite::Service svc = engine.load(*a.dir);
    info("Environment info for " + svc.config.name);
    const Ignite::DriftReport drift = engine.check_lock(svc);
    if (a.json) {
      std::cout << nlohmann::json{{"service", svc.config},
                                  {"runtime", engine.runtimes().resolve(svc.config.runtime).spec()},
                                  {"lock", drift_json(drift)}}
                       .dump(2)
                << "\n";
      return 0;
    }
    std::cout << "\nService: " << svc.config.name << "\nRuntime: " << svc.config.runtime << "\n\n"
              << Ignite::format_environment_info(drift) << "\n";
    return 0;  // drift is information here; `ignite lock --check` is the gate
  } catch (const Ignite::Error& e) {
    return fail(e, "Failed to get environment info: ");
  }
}

}  // namespace

Command add_env(CLI::App& app) {
  auto a = std::make_shared<EnvArgs>();
  CLI::App* cmd =
      app.add_subcommand("env", "Show supported runtimes or a service's environment status");
  cmd->add_option("dir", a->dir, "Service directory");
  cmd->add_flag("--runtimes", a->runtimes, "List the supported runtimes and versions");
  cmd->add_flag("--json", a->json, "Print one JSON document");
  return {cmd, [a](Ignite::Engine& engine) { return run_env(engine, *a); }};
}

}  // namespace ignite_cli
