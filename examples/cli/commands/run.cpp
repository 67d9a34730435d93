// `ignite run <dir>`: load, apply overrides, build + preflight, execute, report.
#include <cmath>
#include <csignal>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <type_traits>

#include "examples/cli/cli.hpp"
#include "ignite/json.hpp"
#include "ignite/report.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace ignite_cli {
namespace {

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
  std::optional<double> cpu_time;
  bool skip_preflight = false;
  bool audit = false;
  std::optional<std::string> audit_output;
  std::optional<std::string> delivery;
  std::optional<std::string> output;
};

// A failure the reference reports as "Execution failed: <message>" (ConfigError there).
struct RunFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string read_input_file(const std::string& path) {
  std::ostringstream ss;
  if (path == "-") {
    ss << std::cin.rdbuf();
    return ss.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw RunFailure("Cannot read input file: " + path);
  ss << in.rdbuf();
  return ss.str();
}

// The exit status a shell user expects (cli.hpp's table): the service's code, 124 for a timeout
// (as timeout(1)), 137 for the memory limit (SIGKILL by the OOM killer), 123 for the output
// limit, 152 for the CPU-time limit (128 + SIGXCPU, the signal of RLIMIT_CPU), 130 when
// cancelled by Ctrl+C.
int exit_status(const Ignite::ExecutionResult& r) {
  switch (r.outcome) {
    case Ignite::Outcome::Success:
      return 0;
    case Ignite::Outcome::Timeout:
      return kExitTimeout;
    case Ignite::Outcome::MemoryLimit:
      return kExitMemoryLimit;
    case Ignite::Outcome::CpuLimit:
      return kExitCpuLimit;
    case Ignite::Outcome::Cancelled:
      return stop_signal() == SIGTERM ? 128 + SIGTERM : 130;
    case Ignite::Outcome::OutputLimit:
      return kExitOutputLimit;
    case Ignite::Outcome::Error:
      // A code that reads as 0 to the shell (256) must not look like success.
      return (r.exit_code & 0xff) != 0 ? r.exit_code & 0xff : 1;
  }
  return kExitFailure;
}

// ---- audit ---------------------------------------------------------------------------------

// The audit of `r` in the reference's JSON shape (the library's serialisation); nullopt when
// the run was not audited.
std::optional<json> audit_json(const Ignite::ExecutionResult& r) {
  if (!r.audit) return std::nullopt;
  return json(*r.audit);
}

// Reference §6.4 text, rendered from the audit JSON (so it works with either source).
std::string format_audit_text(const json& audit, bool color) {
  std::vector<std::string> lines = {
      "", "  " + paint(std::string(kCyan) + std::string(kBold), "SECURITY AUDIT", color), ""};
  const json policy = audit.value("policy", json::object());
  auto flag = [&](const char* section, const char* key, bool fallback) {
    const json s = policy.value(section, json::object());
    return s.is_object() ? s.value(key, fallback) : fallback;
  };
  const bool net = flag("network", "enabled", false);
  const bool ro = flag("filesystem", "readOnly", true);
  const bool spawn = flag("process", "allowSpawn", false);
  lines.push_back("  " + paint(kDim, "Policy:", color));
  lines.push_back("    Network: " +
                  (net ? paint(kYellow, "enabled", color) : paint(kGreen, "blocked", color)));
  lines.push_back("    Filesystem: " +
                  (ro ? paint(kGreen, "read-only", color) : paint(kYellow, "read-write", color)));
  lines.push_back("    Process spawn: " +
                  (spawn ? paint(kYellow, "allowed", color) : paint(kGreen, "blocked", color)));
  lines.emplace_back();
  const json events = audit.value("events", json::array());
  int blocked = 0;
  if (!events.is_array() || events.empty()) {
    lines.push_back("  " + paint(kGreen, "\u2713", color) + " No security events detected");
    if (!net) {
      lines.push_back("  " + paint(kGreen, "\u2713", color) + " Service ran in complete isolation");
    }
  } else {
    lines.push_back("  " + paint(kDim, "Events:", color));
    for (const auto& [type, title] : {std::pair<std::string, std::string>{"network", "Network"},
                                      {"filesystem", "Filesystem"},
                                      {"process", "Process"},
                                      {"resource", "Resource"}}) {
      bool header = false;
      for (const auto& e : events) {
        if (e.value("type", "") != type) continue;
        if (!header) {
          lines.emplace_back();
          lines.push_back("  " + paint(kBold, title, color));
          header = true;
        }
        const bool allowed = e.value("allowed", false);
        if (!allowed) ++blocked;
        lines.push_back("    " +
                        (allowed ? paint(kGreen, "\u2713", color) : paint(kRed, "\u2717", color)) +
                        " " + e.value("action", "") + ": " + e.value("target", "") + " " +
                        paint(kDim, allowed ? "(allowed)" : "(blocked)", color));
      }
    }
  }
  lines.emplace_back();
  std::string rule;
  for (int i = 0; i < 50; ++i) rule += "\u2500";
  lines.push_back(rule);
  if (blocked == 0) {
    lines.push_back("  " + paint(kGreen, "\u2713 Security Status: CLEAN", color));
  } else {
    lines.push_back("  " + paint(kRed,
                                 "\u2717 Security Status: " + std::to_string(blocked) +
                                     (blocked == 1 ? " VIOLATION BLOCKED" : " VIOLATIONS BLOCKED"),
                                 color));
  }
  lines.emplace_back();
  std::string out;
  for (std::size_t i = 0; i < lines.size(); ++i) out += (i ? "\n" : "") + lines[i];
  return out;
}

// ---- the command ----------------------------------------------------------------------------

std::optional<Ignite::CodeDelivery> parse_delivery(const std::optional<std::string>& d) {
  if (!d) return std::nullopt;
  if (*d == "mount") return Ignite::CodeDelivery::Mount;
  if (*d == "baked") return Ignite::CodeDelivery::Baked;
  return Ignite::CodeDelivery::Auto;
}

std::string truncate_for_message(const std::string& raw) {
  constexpr std::size_t kMax = 200;
  if (raw.size() <= kMax) return raw;
  std::size_t cut = kMax;
  // Do not split a UTF-8 sequence.
  while (cut > 0 && (static_cast<unsigned char>(raw[cut]) & 0xC0) == 0x80) --cut;
  return raw.substr(0, cut) + "...";
}

int execute_flow(Ignite::Engine& engine, const RunArgs& a) {
  Ignite::Service svc = engine.load(a.dir);

  // Overrides go into the Service copy, so preflight, execution and the report all see them.
  if (a.runtime) {
    if (!engine.runtimes().is_valid(*a.runtime)) throw RunFailure("Invalid runtime: " + *a.runtime);
    svc.config.runtime = *a.runtime;
    info("Runtime override: " + *a.runtime);
  }
  Ignite::ExecuteOptions opt;
  if (a.memory) {
    svc.config.memory_mb = *a.memory;
    opt.memory_mb = *a.memory;
  }
  if (a.cpus) {
    svc.config.cpu_limit = *a.cpus;
    opt.cpus = *a.cpus;
  }
  if (a.timeout) {
    svc.config.timeout_ms = static_cast<double>(*a.timeout);
    opt.timeout = std::chrono::milliseconds(*a.timeout);
  }
  if (a.cpu_time) {
    // Into the Service copy (preflight and the report see it); the plan takes it from there.
    svc.config.cpu_time_ms = *a.cpu_time;
  }
  info("Running service: " + svc.config.name);

  if (a.input) opt.input = *a.input;
  if (a.input_file) opt.input = read_input_file(*a.input_file);
  if (opt.input) {
    try {
      const json parsed = json::parse(*opt.input);
      (void)parsed;
    } catch (const json::parse_error& e) {
      std::string detail = e.what();
      if (const auto close = detail.find("] ");
          detail.rfind("[json.exception", 0) == 0 && close != std::string::npos) {
        detail = detail.substr(close + 2);
      }
      return fail(kExitUsage, "invalid_input",
                  "Execution failed: Invalid JSON input: " + truncate_for_message(*opt.input) +
                      " (input is not valid JSON: " + detail + ")");
    }
  }
  const auto delivery = parse_delivery(a.delivery);
  opt.delivery = delivery;

  // Build the per-service image (when its inputs changed) so that image-size is checked too.
  bool built = false;
  const auto t_build = std::chrono::steady_clock::now();
  Ignite::PreflightOptions pf_opt;
  pf_opt.build_image = true;
  pf_opt.stop_token = stop_source().get_token();
  pf_opt.delivery = delivery;
  pf_opt.on_build_output = [&](std::string_view line) {
    if (!built) info("Building image for " + svc.config.name + "...");
    built = true;
    if (a.stream) std::cerr << line << (line.ends_with('\n') ? "" : "\n") << std::flush;
  };
  Ignite::PreflightResult pf = engine.preflight(svc, pf_opt);
  const auto build_time = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - t_build);
  if (stop_source().stop_requested()) {
    return fail(stop_signal() == SIGTERM ? 128 + SIGTERM : 130, "cancelled", "Execution cancelled");
  }

  if (pf.overall == Ignite::CheckStatus::Fail) {
    if (!a.skip_preflight) {
      failure("Preflight checks failed. Use --skip-preflight to force execution.");
      if (a.output) {
        // The report file is written either way, without an execution section.
        const Ignite::ExecutionReport blocked = engine.report(svc, pf);
        const fs::path file = resolve_path(*a.output);
        write_text_file(
            file,
            (a.json ? json(blocked).dump(2) : Ignite::format_report_text(blocked, false)) + "\n");
        info("Report saved to " + file.string());
      } else if (a.json) {
        std::cout << json(engine.report(svc, pf)).dump(2) << "\n";
      } else {
        std::cout << Ignite::format_preflight_text(pf, stdout_color()) << "\n";
      }
      return kExitCheckFailed;
    }
    warn("Preflight checks failed; executing anyway (--skip-preflight)");
  }

  if (a.audit) {
    opt.audit = true;
    info("Audit mode: hardened container, security events collected");
  }
  if (a.stream) {
    opt.on_stdout = [&a](std::string_view d) {
      // With --json stdout carries only the document, so live output goes to stderr.
      (a.json ? std::cerr : std::cout) << d << std::flush;
    };
    opt.on_stderr = [](std::string_view d) { std::cerr << d << std::flush; };
  }
  opt.stop_token = stop_source().get_token();
  Ignite::ExecutionResult result = engine.execute(svc, opt);
  set_cancellable(false);
  if (built && !result.cold_start) {
    // The image this run needed was built during preflight: still a cold start of this run.
    result.cold_start = true;
    result.phases.build = build_time;
  }

  const std::optional<json> audit = audit_json(result);
  Ignite::ExecutionReport report = engine.report(svc, std::move(pf), result);

  if (a.audit && a.audit_output) {
    const fs::path file = resolve_path(*a.audit_output);
    try {
      json doc = audit ? *audit : json{{"audit", true}, {"available", false}};
      write_text_file(file, doc.dump(2) + "\n");
      info("Audit saved to " + file.string());
    } catch (const Ignite::Error& e) {
      error("Failed to save audit: " + e.message());
    }
  } else if (a.audit_output) {
    warn("--audit-output is ignored without --audit");
  }

  std::string document;
  if (a.json) {
    json j = report;
    if (a.audit) {
      j["audit"] = true;
      if (audit) j["securityAudit"] = *audit;
    }
    document = j.dump(2);
  }
  auto text = [&](bool color) {
    std::string t = Ignite::format_report_text(report, color);
    if (audit) t += "\n" + format_audit_text(*audit, color);
    return t;
  };
  if (a.output) {
    const fs::path file = resolve_path(*a.output);
    write_text_file(file, (a.json ? document : text(false)) + "\n");
    info("Report saved to " + file.string());
  } else if (a.json) {
    std::cout << document << "\n";
  } else {
    std::cout << text(stdout_color()) << "\n";
  }
  std::cout.flush();

  const auto ms = [](std::chrono::microseconds d) {
    std::ostringstream s;
    s << static_cast<double>(d.count()) / 1000.0;
    return s.str();
  };
  std::string summary = result.service_name + " (" + result.runtime +
                        "): " + std::string(Ignite::to_string(result.outcome)) + ", exit code " +
                        std::to_string(result.exit_code) + ", " + ms(result.duration) + " ms";
  if (result.cpu_time) summary += ", CPU " + ms(*result.cpu_time) + " ms";
  if (result.memory_peak_mb) {
    std::ostringstream mb;
    mb << *result.memory_peak_mb;
    summary += ", memory peak " + mb.str() + " MB";
  }
  if (result.stdout_truncated || result.stderr_truncated) summary += ", output truncated";
  if (result.outcome == Ignite::Outcome::Success) {
    success(summary);
  } else {
    failure(summary);
  }
  return exit_status(result);
}

int run_run(Ignite::Engine& engine, const RunArgs& a) {
  set_cancellable(true);
  try {
    return execute_flow(engine, a);
  } catch (const Ignite::Error& e) {
    if (e.code() == Ignite::ErrorCode::Cancelled && stop_source().stop_requested()) {
      return fail(stop_signal() == SIGTERM ? 128 + SIGTERM : 130, "cancelled",
                  "Execution cancelled");
    }
    return fail(e, "Execution failed: ");
  } catch (const RunFailure& e) {
    return fail(kExitUsage, "invalid_argument", std::string("Execution failed: ") + e.what());
  }
}

}  // namespace

Command add_run(CLI::App& app) {
  auto a = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand("run", "Run a service once in a fresh container");
  cmd->add_option("dir", a->dir, "Service directory (holds service.yaml)")->required();
  auto* input = cmd->add_option("-i,--input", a->input, "Input as JSON text");
  cmd->add_option("--input-file", a->input_file, "Read the input JSON from a file ('-' = stdin)")
      ->excludes(input);
  cmd->add_flag("--json", a->json, "Print the report as one JSON document on stdout");
  cmd->add_flag("--stream", a->stream, "Echo the service's output live (to stderr with --json)");
  cmd->add_option("-r,--runtime", a->runtime, "Override the runtime (name[@version])");
  cmd->add_option("-m,--memory", a->memory, "Override the memory limit (MB)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--cpus", a->cpus, "Override the CPU limit")->check(CLI::PositiveNumber);
  cmd->add_option("-t,--timeout", a->timeout, "Override the timeout (ms)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--cpu-time", a->cpu_time,
                  "Override the CPU-time limit (ms of CPU; exit status 152 when passed)")
      ->check(CLI::Range(1e-3, 1e12));
  cmd->add_flag("--skip-preflight", a->skip_preflight, "Execute even when preflight fails");
  cmd->add_flag("--audit", a->audit,
                "Audit mode: apply the service's security policy and report security events");
  cmd->add_option("--audit-output", a->audit_output, "With --audit: write the audit JSON here");
  cmd->add_option("--delivery", a->delivery, "How the code reaches the container")
      ->check(CLI::IsMember({"mount", "baked"}));
  cmd->add_option("-o,--output", a->output, "Write the report to FILE (no colours)");
  // The process exits right after the execution: the daemon deletes the container as it
  // exits, rather than this process waiting for the deletion.
  return {cmd, [a](Ignite::Engine& engine) { return run_run(engine, *a); },
          [](Ignite::EngineOptions& o) { o.cleanup.auto_remove = true; }};
}

}  // namespace ignite_cli
