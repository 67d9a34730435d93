// `ignite gc [--images] [--json]`: removes what dead Ignite processes left behind on this host
// (containers whose owner was killed; with --backend swarm also their swarm services, secrets
// and networks), and with --images the per-service image cache.
#include <nlohmann/json.hpp>

#include "examples/cli/cli.hpp"

namespace ignite_cli {
namespace {

struct GcArgs {
  bool images = false;
  bool json = false;
};

int run_gc(Ignite::Engine& engine, const GcArgs& a) {
  const Ignite::GcResult r = engine.gc(a.images);
  if (a.json) {
    std::cout << nlohmann::json{{"containers", r.containers},
                                {"images", r.images},
                                {"swarmObjects", r.swarm_objects}}
                     .dump(2)
              << "\n";
  } else {
    out_ok("Removed " + std::to_string(r.containers) + " leftover container(s)" +
           (a.images ? " and " + std::to_string(r.images) + " service image(s)" : "") +
           (r.swarm_objects ? ", " + std::to_string(r.swarm_objects) +
                                  " swarm service(s)/secret(s)/network(s)"
                            : ""));
  }
  return 0;
}

}  // namespace

Command add_gc(CLI::App& app) {
  auto a = std::make_shared<GcArgs>();
  CLI::App* cmd = app.add_subcommand(
      "gc", "Remove containers left by dead Ignite processes (and, with --images, service images)");
  cmd->add_flag("--images", a->images, "Also remove every unused per-service image");
  cmd->add_flag("--json", a->json, "Print the counts as JSON");
  return {cmd, [a](Ignite::Engine& engine) {
            try {
              return run_gc(engine, *a);
            } catch (const Ignite::Error& e) {
              return fail(e, "gc failed: ");
            }
          }};
}

}  // namespace ignite_cli
