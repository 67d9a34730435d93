// `ignite serve`: the reference HTTP server (examples/http) on this CLI's Engine, so
// --runtimes-file applies to it too. SIGINT/SIGTERM arrive through the CLI's signal thread as a
// stop request, which the server turns into a graceful shutdown; a second one into its fast
// shutdown (running executions cancelled, their containers removed). Never _exit: a container
// of a running execution would be left behind.
#include "examples/cli/cli.hpp"
#include "examples/http/server.hpp"

namespace ignite_cli {

Command add_serve(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("serve", "Start the HTTP server");
  auto opts = std::make_shared<ignite_http::ServerOptions>();
  ignite_http::add_server_options(*sub, *opts, /*runtimes_file_flag=*/false);
  return {sub,
          [opts](Ignite::Engine& engine) {
            set_serving(true);
            set_cancellable(true);
            const int status = ignite_http::run_server(*opts, engine, stop_source().get_token(),
                                                       fast_stop_source().get_token());
            // The server's "could not start" (1) is Ignite failing, as in every command.
            return status == 1 ? kExitFailure : status;
          },
          [opts](Ignite::EngineOptions& eo) { ignite_http::apply_pool_options(*opts, eo); }};
}

}  // namespace ignite_cli
