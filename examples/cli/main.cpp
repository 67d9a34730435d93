// The reference `ignite` CLI: the application, global options, signal handling and dispatch to
// the commands in commands/<verb>.cpp. A consumer of the public Ignite API only.
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "examples/cli/cli.hpp"

namespace ignite_cli {
namespace {

std::atomic<bool> g_cancellable{false};
std::atomic<bool> g_serving{false};
std::atomic<bool> g_json{false};
std::atomic<int> g_signal{0};
std::atomic<int> g_signals{0};
// From the first SIGINT/SIGTERM to the latest exit.
constexpr int kCancelExitBoundMs = 1800;

void write_stderr(const std::string& text) {
  // Best effort; nothing sensible can be done when stderr is gone.
  const ssize_t n = ::write(STDERR_FILENO, text.data(), text.size());
  (void)n;
}

// Signals are taken synchronously by a dedicated thread (sigwait) rather than in a handler, so
// that cancelling may use ordinary code: the first SIGINT/SIGTERM during a cancellable phase
// requests a stop (the running container is killed and removed by the engine); a second one,
// or one outside such a phase, ends the process at once with 128 + signal.
void start_signal_thread() {
  sigset_t set;
  sigemptyset(&set);
  struct sigaction current {};
  // A SIGINT ignored on entry (a background job of a non-interactive shell, nohup) stays ignored.
  if (::sigaction(SIGINT, nullptr, &current) == 0 && current.sa_handler != SIG_IGN) {
    sigaddset(&set, SIGINT);
  }
  sigaddset(&set, SIGTERM);
  if (::pthread_sigmask(SIG_BLOCK, &set, nullptr) != 0) return;
  std::thread([set] {
    for (;;) {
      int sig = 0;
      if (::sigwait(&set, &sig) != 0) continue;
      const char* what = sig == SIGINT ? "Interrupted" : "Terminated";
      if (g_serving.load() && g_cancellable.load()) {
        // The server's own shutdown is bounded and removes every container it made; ending
        // the process from here would leave them running.
        const int n = ++g_signals;
        if (n == 1) {
          g_signal.store(sig);
          stop_source().request_stop();
        } else if (n == 2) {
          write_stderr(std::string("[ignite] ") + what +
                       " again: cancelling running executions and removing their containers\n");
          fast_stop_source().request_stop();
        } else {
          write_stderr(
              "[ignite] already shutting down (containers are being removed; SIGKILL ends the "
              "process now and leaves them to the next Ignite's clean-up)\n");
        }
        continue;
      }
      if (g_cancellable.load() && g_signal.load() == 0) {
        g_signal.store(sig);
        write_stderr(std::string("[ignite] ") + what + ": cancelling (repeat to force)\n");
        stop_source().request_stop();
        // Cancelling is bounded: an execution ends within ~1 s of the stop even when the daemon
        // does not answer; past this, the process ends anyway and whatever it could not remove
        // is removed by the next Engine on this host (owner labels).
        std::thread([sig] {
          std::this_thread::sleep_for(std::chrono::milliseconds(kCancelExitBoundMs));
          write_stderr("[ignite] cleanup did not finish in time; exiting\n");
          ::_exit(128 + sig);
        }).detach();
        continue;
      }
      ::_exit(128 + sig);
    }
  }).detach();
}

}  // namespace

std::stop_source& stop_source() {
  // Never destroyed: the signal thread may still use it while the process exits.
  static std::stop_source* source = new std::stop_source();
  return *source;
}

std::stop_source& fast_stop_source() {
  static std::stop_source* source = new std::stop_source();
  return *source;
}

int stop_signal() { return g_signal.load(); }

void set_cancellable(bool cancellable) { g_cancellable.store(cancellable); }

void set_serving(bool serving) { g_serving.store(serving); }

void set_json_output(bool on) { g_json.store(on); }

bool json_output() { return g_json.load(); }

int fail(int status, std::string_view code, const std::string& message) {
  error(message);
  if (json_output()) {
    std::cout << nlohmann::json{{"error", {{"code", std::string(code)}, {"message", message}}}}
                     .dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
              << "\n"
              << std::flush;
  }
  return status;
}

int fail(const Ignite::Error& e, const std::string& prefix) {
  const bool usage = e.code() == Ignite::ErrorCode::InvalidArgument;
  return fail(usage ? kExitUsage : kExitFailure, Ignite::to_string(e.code()), prefix + e.message());
}

void write_text_file(const std::filesystem::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (out) out << content;
  if (out) out.flush();
  if (!out) {
    throw Ignite::Error(Ignite::ErrorCode::InvalidArgument,
                        "cannot write " + path.string() + ": " + std::strerror(errno));
  }
}

std::vector<std::string> split_config_errors(const std::string& message) {
  constexpr std::string_view kPrefix = "Invalid service.yaml: ";
  if (message.rfind(kPrefix, 0) != 0) return {message};
  std::string body = message.substr(kPrefix.size());
  if (const auto at = body.rfind(" (in "); at != std::string::npos && body.back() == ')') {
    body.resize(at);
  }
  // Errors are joined with ", "; a new one always starts with the field it names.
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t pos = body.find(", "); pos != std::string::npos;
       pos = body.find(", ", pos + 2)) {
    const std::string_view next = std::string_view(body).substr(pos + 2);
    if (next.rfind("service.", 0) == 0 || next.rfind("preflight", 0) == 0) {
      out.push_back(body.substr(start, pos - start));
      start = pos + 2;
    }
  }
  out.push_back(body.substr(start));
  return out;
}

}  // namespace ignite_cli

int main(int argc, char** argv) {
  using namespace ignite_cli;
  // A closed stdout (`ignite run ... | head -1`) makes writes fail instead of killing the
  // process mid-run: the command goes on, and its containers are still removed.
  std::signal(SIGPIPE, SIG_IGN);
  start_signal_thread();

  CLI::App app{"Ignite: run untrusted JavaScript/TypeScript services in hardened containers"};
  app.name("ignite");
  app.set_version_flag("-V,--version", std::string(Ignite::version()));
  app.require_subcommand(1);
  app.fallthrough();  // global options may follow the command

  std::string runtimes_file;
  app.add_option("--runtimes-file", runtimes_file,
                 "Load custom runtimes from a runtimes.yaml file first")
      ->envname("IGNITE_RUNTIMES_FILE");

  std::string backend;
  app.add_option("--backend", backend,
                 "Where executions run: docker (a container on the daemon, the default) or swarm "
                 "(a Docker Swarm service; the daemon must be a swarm manager)")
      ->envname("IGNITE_BACKEND")
      ->check(CLI::IsMember({"docker", "swarm"}));
  std::string registry;
  app.add_option("--registry", registry,
                 "HOST:PORT of the registry the swarm's nodes pull per-service images from "
                 "(--backend swarm)")
      ->envname("IGNITE_REGISTRY");
  // The Docker daemon, as the docker CLI names it (docs/scale-out.md). `serve` has its own
  // -h/--host (the address it listens on): give the daemon before the command there
  // (`ignite --host URL serve ...`) or as --docker-host.
  Ignite::EngineOptions daemon;
  app.add_option("-H,--host,--docker-host", daemon.docker_host,
                 "Docker daemon: unix:///path, tcp://HOST:PORT or ssh://[USER@]HOST[:PORT] "
                 "(default: DOCKER_HOST, the docker context, /var/run/docker.sock)")
      ->type_name("URL");
  app.add_option("--context", daemon.docker_context, "Docker context to use (docker context ls)")
      ->type_name("NAME");
  app.add_option_function<std::string>(
         "--cert-path",
         [&daemon](const std::string& dir) {
           daemon.docker_tls_verify = true;
           daemon.docker_cert_path = resolve_path(dir);
         },
         "TLS for a tcp:// daemon: ca.pem, cert.pem, key.pem in DIR (as DOCKER_TLS_VERIFY=1 "
         "DOCKER_CERT_PATH=DIR)")
      ->type_name("DIR");
  app.add_flag("--allow-plain-tcp", daemon.allow_plain_tcp,
               "Allow plain TCP to a non-loopback daemon (unencrypted, unauthenticated)");

  const std::vector<Command> commands = {
      add_init(app),     add_run(app),  add_preflight(app), add_report(app),
      add_lock(app),     add_env(app),  add_validate(app),  add_list(app),
      add_gc(app),       add_serve(app), add_images(app),
  };

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (app.exit(e) == 0) return 0;  // --help, --version
    // The command was not parsed, so ask the command line whether JSON was wanted.
    for (int i = 1; i < argc; ++i) {
      if (std::string_view(argv[i]) == "--json") set_json_output(true);
    }
    if (json_output()) {
      std::cout << nlohmann::json{{"error", {{"code", "usage"}, {"message", e.what()}}}}.dump(2)
                << "\n";
    }
    return kExitUsage;
  }
  for (const Command& c : commands) {
    if (!c.app->parsed()) continue;
    if (const CLI::Option* j = c.app->get_option_no_throw("--json"); j && j->count() > 0) {
      set_json_output(true);
    }
  }

  try {
    // `serve` bounds concurrency itself (--max-concurrent); the engine must not be the tighter cap.
    Ignite::EngineOptions engine_options;
    engine_options.max_concurrent = 256;
    if (!backend.empty()) {
      engine_options.backend = backend == "swarm" ? Ignite::Backend::Swarm : Ignite::Backend::Docker;
    }
    engine_options.registry = registry;
    engine_options.docker_host = daemon.docker_host;
    engine_options.docker_context = daemon.docker_context;
    engine_options.docker_tls_verify = daemon.docker_tls_verify;
    engine_options.docker_cert_path = daemon.docker_cert_path;
    engine_options.allow_plain_tcp = daemon.allow_plain_tcp;
    for (const Command& c : commands) {
      if (c.app->parsed() && c.configure) c.configure(engine_options);
    }
    Ignite::Engine engine(engine_options);
    if (!runtimes_file.empty()) {
      try {
        engine.load_runtimes_file(runtimes_file);
      } catch (const Ignite::Error& e) {
        return fail(e, "Failed to load runtimes file: ");
      }
    }
    for (const Command& c : commands) {
      if (c.app->parsed()) return c.run(engine);
    }
  } catch (const Ignite::Error& e) {
    return fail(e);
  } catch (const std::exception& e) {
    return fail(kExitFailure, "internal", std::string("internal error: ") + e.what());
  }
  return kExitFailure;
}
