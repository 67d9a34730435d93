// `ignite preflight <dir> [--json]`: the preflight checks without building or executing.
#include <nlohmann/json.hpp>

#include "examples/cli/cli.hpp"
#include "ignite/json.hpp"
#include "ignite/report.hpp"

namespace ignite_cli {
namespace {

struct PreflightArgs {
  std::string dir;
  bool json = false;
};

int run_preflight(Ignite::Engine& engine, const PreflightArgs& a) {
  try {
    info("Running preflight checks for " + a.dir + "...");
    const Ignite::Service svc = engine.load(a.dir);
    // No build: image-size is checked when the service's image already exists.
    const Ignite::PreflightResult pf = engine.preflight(svc);
    if (a.json) {
      std::cout << nlohmann::json(pf).dump(2) << "\n";
    } else {
      std::cout << Ignite::format_preflight_text(pf, stdout_color()) << "\n";
    }
    return pf.overall == Ignite::CheckStatus::Fail ? kExitCheckFailed : 0;
  } catch (const Ignite::Error& e) {
    return fail(e, "Preflight failed: ");
  }
}

}  // namespace

Command add_preflight(CLI::App& app) {
  auto a = std::make_shared<PreflightArgs>();
  CLI::App* cmd = app.add_subcommand("preflight", "Run the preflight checks for a service");
  cmd->add_option("dir", a->dir, "Service directory")->required();
  cmd->add_flag("--json", a->json, "Print the result as one JSON document");
  return {cmd, [a](Ignite::Engine& engine) { return run_preflight(engine, *a); }};
}

}  // namespace ignite_cli
