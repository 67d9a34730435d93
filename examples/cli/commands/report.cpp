// `ignite report <dir> [-o FILE] [--json]`: preflight and report without executing.
#include "ignite/report.hpp"

#include <nlohmann/json.hpp>

#include "examples/cli/cli.hpp"
#include "ignite/json.hpp"

namespace ignite_cli {
namespace {

struct ReportArgs {
  std::string dir;
  std::optional<std::string> output;
  bool json = false;
};

int run_report(Ignite::Engine& engine, const ReportArgs& a) {
  try {
    const Ignite::Service svc = engine.load(a.dir);
    info("Generating report for: " + svc.config.name);
    const Ignite::ExecutionReport report = engine.report(svc, engine.preflight(svc));
    auto render = [&](bool color) {
      return a.json ? nlohmann::json(report).dump(2) : Ignite::format_report_text(report, color);
    };
    if (a.output) {
      // Files never carry colours.
      const std::filesystem::path file = resolve_path(*a.output);
      write_text_file(file, render(false) + "\n");
      info("Report saved to " + file.string());
    } else {
      std::cout << render(stdout_color()) << "\n";
    }
    return 0;  // a failed preflight is part of the report, not a failure of the command
  } catch (const Ignite::Error& e) {
    return fail(e, "Report generation failed: ");
  }
}

}  // namespace

Command add_report(CLI::App& app) {
  auto a = std::make_shared<ReportArgs>();
  CLI::App* cmd = app.add_subcommand("report", "Preflight report for a service (no execution)");
  cmd->add_option("dir", a->dir, "Service directory")->required();
  cmd->add_option("-o,--output", a->output, "Write the report to FILE instead of stdout");
  cmd->add_flag("--json", a->json, "JSON instead of text");
  return {cmd, [a](Ignite::Engine& engine) { return run_report(engine, *a); }};
}

}  // namespace ignite_cli
