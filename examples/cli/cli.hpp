// Shared pieces of the reference `ignite` CLI (examples/cli): the command table, logging and
// output helpers. The CLI consumes the public Ignite API only.
//
// Streams: stdout carries a command's result (reports, listings, JSON documents); every
// `[ignite]` log line (progress, warnings, errors) goes to stderr, so `--json` stdout is exactly
// one JSON document. Colour is used on a stream only when it is a terminal and NO_COLOR is unset.
#pragma once

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <stop_token>
#include <string>
#include <string_view>

#include "ignite/ignite.hpp"

namespace ignite_cli {

// ---- colour and logging ---------------------------------------------------------------------

inline constexpr std::string_view kGreen = "\033[32m";
inline constexpr std::string_view kYellow = "\033[33m";
inline constexpr std::string_view kRed = "\033[31m";
inline constexpr std::string_view kCyan = "\033[36m";
inline constexpr std::string_view kDim = "\033[2m";
inline constexpr std::string_view kBold = "\033[1m";
inline constexpr std::string_view kReset = "\033[0m";

inline bool no_color_env() {
  const char* v = std::getenv("NO_COLOR");
  return v != nullptr && *v != '\0';
}
// Whether output written to stdout / stderr may carry ANSI colours.
inline bool stdout_color() { return !no_color_env() && ::isatty(STDOUT_FILENO) == 1; }
inline bool stderr_color() { return !no_color_env() && ::isatty(STDERR_FILENO) == 1; }

inline std::string paint(std::string_view code, std::string_view text, bool color) {
  if (!color) return std::string(text);
  return std::string(code) + std::string(text) + std::string(kReset);
}

namespace detail {
inline void log_line(std::string_view code, std::string_view text) {
  const bool color = stderr_color();
  std::cerr << paint(kDim, "[ignite]", color) << " " << paint(code, text, color && !code.empty())
            << std::endl;
}
}  // namespace detail

// `[ignite] ...` lines on stderr.
inline void info(std::string_view msg) { detail::log_line({}, msg); }
inline void warn(std::string_view msg) { detail::log_line(kYellow, "\u26a0 " + std::string(msg)); }
inline void error(std::string_view msg) { detail::log_line(kRed, "\u2717 " + std::string(msg)); }
inline void success(std::string_view msg) {
  detail::log_line(kGreen, "\u2713 " + std::string(msg));
}
inline void failure(std::string_view msg) { detail::log_line(kRed, "\u2717 " + std::string(msg)); }

// Result lines on stdout: "✓ msg" / "⚠ msg" / "✗ msg" (icon coloured on a terminal).
inline void out_ok(std::string_view msg) {
  std::cout << paint(kGreen, "\u2713", stdout_color()) << " " << msg << "\n";
}
inline void out_warn(std::string_view msg) {
  std::cout << paint(kYellow, "\u26a0", stdout_color()) << " " << msg << "\n";
}
inline void out_fail(std::string_view msg) {
  std::cout << paint(kRed, "\u2717", stdout_color()) << " " << msg << "\n";
}

// ---- exit statuses (docs/cli.md), shaped after the docker CLI's -----------------------------
//   0     success
//   1     the command's own check said no (preflight failed, lock drift, invalid config in
//         `validate`, `init` refusing to overwrite)
//   2     usage: unknown command or flag, a missing or invalid argument (bad --input JSON)
//   n     `run`: the service's own non-zero exit code
//   123   `run`: the service exceeded its output limit (killed)
//   124   `run`: timeout (as timeout(1))
//   125   Ignite itself failed: bad service.yaml, no Docker daemon, image build failed ...
//   130 / 143  cancelled by SIGINT / SIGTERM
//   137   `run`: memory limit (the OOM killer's SIGKILL)
//   152   `run`: CPU-time limit (128 + SIGXCPU)
inline constexpr int kExitCheckFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitOutputLimit = 123;
inline constexpr int kExitTimeout = 124;
inline constexpr int kExitFailure = 125;
inline constexpr int kExitMemoryLimit = 137;
// run: the CPU-time limit (128 + SIGXCPU, the signal of RLIMIT_CPU).
inline constexpr int kExitCpuLimit = 152;

// Whether the command being run was given --json: then a failure prints the one JSON document
// {"error": {"code", "message"}} on stdout (set by main before the command runs).
void set_json_output(bool on);
bool json_output();

// Reports a failure: "[ignite] ✗ <message>" on stderr and, with --json, the error document on
// stdout. `code` is a stable lowercase name ("usage", "invalid_input", or an Ignite error
// code's to_string: "config", "docker_unavailable" ...). Returns `status`.
int fail(int status, std::string_view code, const std::string& message);
// An Ignite::Error: 125 (2 for invalid arguments), its code, `prefix` + its message.
int fail(const Ignite::Error& e, const std::string& prefix = {});

// ---- shared state ---------------------------------------------------------------------------

// Requested by the first SIGINT/SIGTERM while a command is cancellable (see main.cpp).
std::stop_source& stop_source();
// The signal that requested the stop (SIGINT or SIGTERM), 0 when none.
int stop_signal();
// While true, the first SIGINT/SIGTERM only requests a stop; otherwise it ends the process.
void set_cancellable(bool cancellable);
// `ignite serve`: the first SIGINT/SIGTERM requests stop_source() (graceful shutdown), the
// second fast_stop_source() (cancel running executions, remove their containers); the process
// is never ended from the signal thread, so no container is left behind.
void set_serving(bool serving);
std::stop_source& fast_stop_source();

// Absolute form of a user-supplied path: absolute paths as given, relative ones against cwd.
inline std::filesystem::path resolve_path(const std::string& p) {
  return std::filesystem::absolute(std::filesystem::path(p)).lexically_normal();
}

// Writes `content` to `path` (replacing it). Throws Ignite::Error(InvalidArgument) naming the
// path on failure.
void write_text_file(const std::filesystem::path& path, const std::string& content);

// "Invalid service.yaml: a, b (in f)" -> {"a", "b"}; other messages -> {message}.
std::vector<std::string> split_config_errors(const std::string& message);

// JSON shared by commands: `ignite list --json`'s runtime array; a lock check's
// {locked, drift, details, manifest} (lock --check --json, env --json).
nlohmann::json runtimes_json(const Ignite::RuntimeRegistry& registry);
nlohmann::json drift_json(const Ignite::DriftReport& drift);

// ---- command table --------------------------------------------------------------------------

// One subcommand: its CLI11 node and what to run once the command line parsed. `run` returns
// the process exit status.
struct Command {
  CLI::App* app = nullptr;
  std::function<int(Ignite::Engine&)> run;
  // Adjusts the Engine's options before it is made (only for the command that was parsed).
  std::function<void(Ignite::EngineOptions&)> configure = {};
};

Command add_init(CLI::App& app);
Command add_run(CLI::App& app);
Command add_preflight(CLI::App& app);
Command add_report(CLI::App& app);
Command add_lock(CLI::App& app);
Command add_env(CLI::App& app);
Command add_validate(CLI::App& app);
Command add_list(CLI::App& app);
Command add_gc(CLI::App& app);
Command add_serve(CLI::App& app);
Command add_images(CLI::App& app);

}  // namespace ignite_cli
