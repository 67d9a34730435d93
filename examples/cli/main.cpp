// The reference `ignite` CLI: the application, global options, signal handling and dispatch to
// the commands in commands/<verb>.cpp. A consumer of the public Ignite API only.
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <thread>
#include <vector>

#include "examples/cli/cli.hpp"

namespace ignite_cli {
namespace {

std::atomic<bool> g_cancellable{false};
std::atomic<int> g_signal{0};
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
      if (g_cancellable.load() && g_signal.load() == 0) {
        g_signal.store(sig);
        write_stderr(std::string("[ignite] ") + (sig == SIGINT ? "Interrupted" : "Terminated") +
                     ": cancelling (repeat to force)\n");
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

int stop_signal() { return g_signal.load(); }

void set_cancellable(bool cancellable) { g_cancellable.store(cancellable); }

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

  const std::vector<Command> commands = {
      add_init(app), add_run(app), add_preflight(app), add_report(app),
      add_lock(app), add_env(app), add_validate(app),  add_list(app), add_gc(app), add_serve(app),
  };

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 1;
  }

  try {
    // `serve` bounds concurrency itself (--max-concurrent); the engine must not be the tighter cap.
    Ignite::EngineOptions engine_options;
    engine_options.max_concurrent = 256;
    if (!backend.empty()) {
      engine_options.backend = backend == "swarm" ? Ignite::Backend::Swarm : Ignite::Backend::Docker;
    }
    engine_options.registry = registry;
    for (const Command& c : commands) {
      if (c.app->parsed() && c.configure) c.configure(engine_options);
    }
    Ignite::Engine engine(engine_options);
    if (!runtimes_file.empty()) {
      try {
        engine.load_runtimes_file(runtimes_file);
      } catch (const Ignite::Error& e) {
        error("Failed to load runtimes file: " + e.message());
        return 1;
      }
    }
    for (const Command& c : commands) {
      if (c.app->parsed()) return c.run(engine);
    }
  } catch (const Ignite::Error& e) {
    error(e.message());
    return 1;
  } catch (const std::exception& e) {
    error(std::string("internal error: ") + e.what());
    return 1;
  }
  return 1;
}
