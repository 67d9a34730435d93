// `ignite validate <dir> [--json]`: configuration-only checks (no Docker, no preflight).
#include <nlohmann/json.hpp>
#include <sstream>

#include "examples/cli/cli.hpp"
#include "ignite/json.hpp"

namespace fs = std::filesystem;

namespace ignite_cli {
namespace {

struct ValidateArgs {
  std::string dir;
  bool json = false;
};

std::string number(double v) {
  std::ostringstream ss;
  ss << v;
  return ss.str();
}

int run_validate(Ignite::Engine& engine, const ValidateArgs& a) {
  std::optional<Ignite::Service> svc;
  std::vector<std::string> errors;
  std::string file;  // the service.yaml a configuration error names
  try {
    svc = engine.load(a.dir);
  } catch (const Ignite::Error& e) {
    errors = split_config_errors(e.message());
    const std::string& m = e.message();
    const auto at = m.rfind(" (in ");
    if (m.rfind("Invalid service.yaml: ", 0) == 0 && at != std::string::npos && m.back() == ')') {
      file = m.substr(at + 5, m.size() - at - 6);
    }
  }

  std::vector<std::string> warnings;
  std::optional<Ignite::ResolvedRuntime> resolved;
  if (svc) {
    const Ignite::ServiceConfig& c = svc->config;
    resolved = engine.runtimes().resolve(c.runtime);
    if (c.memory_mb < 32) {
      warnings.push_back("memoryMb " + number(c.memory_mb) + " is very low, consider 64+");
    }
    std::error_code ec;
    if (svc->has_node_modules && !fs::exists(svc->path / "package.json", ec)) {
      warnings.push_back(
          "package.json missing (node_modules is present; dependency installs "
          "need it)");
    }
  }

  if (a.json) {
    nlohmann::json j = {{"valid", errors.empty()},
                        {"errors", errors},
                        {"warnings", warnings},
                        {"service", nullptr}};
    if (svc) j["service"] = svc->config;
    std::cout << j.dump(2) << "\n";
    return errors.empty() ? 0 : 1;
  }

  if (!svc) {
    for (const auto& e : errors) out_fail(e);
    if (!file.empty()) {
      out_fail("Configuration is invalid: " + std::to_string(errors.size()) + " error(s) in " +
               file);
    }
    return 1;
  }
  const Ignite::ServiceConfig& c = svc->config;
  out_ok("name: " + c.name);
  out_ok("runtime: " + c.runtime + " (" + resolved->spec() + ", image " + resolved->image + ")");
  out_ok("entry: " + c.entry);
  out_ok("memoryMb: " + number(c.memory_mb));
  if (c.cpu_limit) out_ok("cpuLimit: " + number(*c.cpu_limit));
  out_ok("timeoutMs: " + number(c.timeout_ms));
  if (c.cpu_time_ms) out_ok("cpuTimeMs: " + number(*c.cpu_time_ms));
  for (const auto& w : warnings) out_warn(w);
  out_ok("Configuration is valid");
  return 0;
}

}  // namespace

Command add_validate(CLI::App& app) {
  auto a = std::make_shared<ValidateArgs>();
  CLI::App* cmd = app.add_subcommand("validate", "Check a service's configuration only");
  cmd->add_option("dir", a->dir, "Service directory")->required();
  cmd->add_flag("--json", a->json, "Print {valid, errors, warnings, service} as JSON");
  return {cmd, [a](Ignite::Engine& engine) { return run_validate(engine, *a); }};
}

}  // namespace ignite_cli
