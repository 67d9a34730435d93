// The reference `ignite` CLI. Logs go to stderr so that `--json` output on stdout is exactly one
// JSON document.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <fstream>
#include <iostream>
#include <sstream>

#include "ignite/ignite.hpp"
#include "ignite/json.hpp"

namespace {

constexpr int kIgniteFailure = 1;

struct RunArgs {
  std::string dir;
  std::optional<std::string> input;
  std::optional<std::string> input_file;
  bool json = false;
  bool stream = false;
  std::optional<std::string> runtime;
  std::optional<double> memory;
  std::optional<double> cpus;
  std::optional<long> timeout;
};

std::string read_input_file(const std::string& path) {
  std::ostringstream ss;
  if (path == "-") {
    ss << std::cin.rdbuf();
    return ss.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Ignite::Error(Ignite::ErrorCode::InvalidArgument, "--input-file: cannot read " + path);
  ss << in.rdbuf();
  return ss.str();
}

// The exit status a shell user expects: the service's code, 124 for a timeout (as timeout(1)),
// 137 for the memory limit (SIGKILL by the OOM killer).
int exit_status(const Ignite::ExecutionResult& r) {
  switch (r.outcome) {
    case Ignite::Outcome::Success: return 0;
    case Ignite::Outcome::Timeout: return 124;
    case Ignite::Outcome::MemoryLimit: return 137;
    case Ignite::Outcome::Cancelled: return 130;
    case Ignite::Outcome::OutputLimit:
    case Ignite::Outcome::Error: return r.exit_code != 0 ? r.exit_code : 1;
  }
  return 1;
}

int cmd_run(const RunArgs& a) {
  Ignite::Engine engine;
  const Ignite::Service svc = engine.load(a.dir);
  Ignite::ExecuteOptions opt;
  if (a.input && a.input_file) {
    throw Ignite::Error(Ignite::ErrorCode::InvalidArgument,
                        "--input and --input-file are mutually exclusive");
  }
  if (a.input) opt.input = *a.input;
  if (a.input_file) opt.input = read_input_file(*a.input_file);
  opt.runtime = a.runtime;
  opt.memory_mb = a.memory;
  opt.cpus = a.cpus;
  if (a.timeout) opt.timeout = std::chrono::milliseconds(*a.timeout);
  if (a.stream) {
    opt.on_stdout = [&](std::string_view d) {
      // With --json stdout carries only the document, so live output goes to stderr.
      (a.json ? std::cerr : std::cout) << d << std::flush;
    };
    opt.on_stderr = [](std::string_view d) { std::cerr << d << std::flush; };
  }
  const Ignite::ExecutionResult r = engine.execute(svc, opt);
  if (a.json) {
    std::cout << nlohmann::json(r).dump(2) << "\n";
  } else {
    if (!a.stream) {
      std::cout << r.stdout_text;
      if (!r.stdout_text.empty() && r.stdout_text.back() != '\n') std::cout << "\n";
      std::cerr << r.stderr_text;
      if (!r.stderr_text.empty() && r.stderr_text.back() != '\n') std::cerr << "\n";
    }
    std::cerr << "[ignite] " << r.service_name << " (" << r.runtime << "): "
              << Ignite::to_string(r.outcome) << ", exit code " << r.exit_code << ", "
              << r.duration.count() << " ms";
    if (r.memory_peak_mb) std::cerr << ", memory peak " << *r.memory_peak_mb << " MB";
    if (r.stdout_truncated || r.stderr_truncated) std::cerr << ", output truncated";
    std::cerr << "\n";
  }
  return exit_status(r);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Ignite: run untrusted JavaScript/TypeScript services in hardened containers"};
  app.set_version_flag("-V,--version", std::string(Ignite::version()));
  app.require_subcommand(1);

  RunArgs run;
  CLI::App* run_cmd = app.add_subcommand("run", "Run a service once in a fresh container");
  run_cmd->add_option("dir", run.dir, "Service directory (holds service.yaml)")->required();
  run_cmd->add_option("-i,--input", run.input, "Input as JSON text");
  run_cmd->add_option("--input-file", run.input_file, "Read the input JSON from a file ('-' = stdin)");
  run_cmd->add_flag("--json", run.json, "Print one JSON document on stdout");
  run_cmd->add_flag("--stream", run.stream, "Echo the service's output live");
  run_cmd->add_option("-r,--runtime", run.runtime, "Override the runtime (name@version)");
  run_cmd->add_option("-m,--memory", run.memory, "Override memory limit in MB");
  run_cmd->add_option("--cpus", run.cpus, "Override CPU limit");
  run_cmd->add_option("-t,--timeout", run.timeout, "Override timeout in ms");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kIgniteFailure;
  }
  try {
    if (*run_cmd) return cmd_run(run);
  } catch (const Ignite::Error& e) {
    std::cerr << "[ignite] error: " << e.what() << "\n";
    return kIgniteFailure;
  } catch (const std::exception& e) {
    std::cerr << "[ignite] internal error: " << e.what() << "\n";
    return kIgniteFailure;
  }
  return kIgniteFailure;
}
