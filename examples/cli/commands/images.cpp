// `ignite images copy --to URL [RUNTIME...]`: streams runtime images from this CLI's daemon
// (--host, DOCKER_HOST, the docker context, else the local socket) to another daemon through
// the Engine API (export piped into load, no temporary file), for remote hosts that lack them.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "examples/cli/cli.hpp"

namespace ignite_cli {
namespace {

struct CopyArgs {
  std::string to;
  std::string to_cert_path;
  std::string to_context;
  bool to_allow_plain_tcp = false;
  std::vector<std::string> images;
  bool json = false;
};

std::string megabytes(std::uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return text;
}

int run_copy(Ignite::Engine& engine, const CopyArgs& a) {
  if (a.to.empty() && a.to_context.empty()) {
    error("images copy: --to URL (or --to-context NAME) is required");
    return 1;
  }
  Ignite::EngineOptions target_options;
  target_options.docker_host = a.to;
  target_options.docker_context = a.to_context;
  if (!a.to_cert_path.empty()) {
    target_options.docker_tls_verify = true;
    target_options.docker_cert_path = resolve_path(a.to_cert_path);
  }
  target_options.allow_plain_tcp = a.to_allow_plain_tcp;
  target_options.reap_on_start = false;  // this command creates no containers there
  Ignite::Engine target(target_options);

  // Progress on a terminal only: one line, rewritten in place.
  const bool live = ::isatty(STDERR_FILENO) == 1;
  Ignite::ImageCopyOptions options;
  options.images = a.images;
  options.stop_token = stop_source().get_token();
  if (live) {
    options.on_progress = [](const Ignite::ImageCopyProgress& p) {
      std::string line = "\r[ignite] copying " + megabytes(p.bytes);
      if (p.total_bytes > 0) {
        line += " of ~" + megabytes(p.total_bytes) + " (" +
                std::to_string(std::min<std::uint64_t>(100, p.bytes * 100 / p.total_bytes)) + "%)";
      }
      std::cerr << line << "   " << std::flush;
    };
  }
  info("Copying images from " + engine.docker_endpoint() + " to " + target.docker_endpoint());
  set_cancellable(true);
  Ignite::ImageCopyResult r;
  try {
    r = engine.copy_images(target, options);
  } catch (...) {
    set_cancellable(false);
    if (live) std::cerr << "\n";
    throw;
  }
  set_cancellable(false);
  if (live && r.bytes > 0) std::cerr << "\n";
  if (a.json) {
    std::cout << nlohmann::json{{"from", engine.docker_endpoint()},
                                {"to", target.docker_endpoint()},
                                {"copied", r.copied},
                                {"present", r.present},
                                {"bytes", r.bytes},
                                {"durationMs", r.duration.count()}}
                     .dump(2)
              << "\n";
    return 0;
  }
  for (const auto& image : r.present) out_ok(image + ": already on " + target.docker_endpoint());
  for (const auto& image : r.copied) out_ok(image + ": copied to " + target.docker_endpoint());
  if (!r.copied.empty()) {
    info("Copied " + megabytes(r.bytes) + " in " + std::to_string(r.duration.count()) + " ms");
  }
  return 0;
}

}  // namespace

Command add_images(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("images", "Manage runtime images on Docker daemons");
  cmd->require_subcommand(1);
  auto a = std::make_shared<CopyArgs>();
  CLI::App* copy = cmd->add_subcommand(
      "copy",
      "Stream runtime images from this daemon to another one (for remote hosts: baked "
      "executions there need the runtime images)");
  copy->add_option("--to", a->to,
                   "Target daemon: tcp://HOST:PORT (TLS per DOCKER_TLS_VERIFY/DOCKER_CERT_PATH "
                   "or --to-cert-path), ssh://[USER@]HOST[:PORT] or unix:///path")
      ->type_name("URL");
  copy->add_option("--to-cert-path", a->to_cert_path,
                   "TLS for the target: ca.pem, cert.pem and key.pem in DIR (verify the daemon)")
      ->type_name("DIR");
  copy->add_option("--to-context", a->to_context, "Target daemon as a docker context name")
      ->type_name("NAME");
  copy->add_flag("--to-allow-plain-tcp", a->to_allow_plain_tcp,
                 "Allow plain TCP to a non-loopback target (unencrypted, unauthenticated)");
  copy->add_flag("--json", a->json, "Print what was copied as JSON");
  copy->add_option("images", a->images,
                   "Runtime specs (quickjs, node@20) or image references; default: every "
                   "runtime image this daemon has")
      ->type_name("RUNTIME");
  return {cmd, [a](Ignite::Engine& engine) {
            try {
              return run_copy(engine, *a);
            } catch (const Ignite::Error& e) {
              error("images copy failed: " + e.message());
              return 1;
            }
          }};
}

}  // namespace ignite_cli
