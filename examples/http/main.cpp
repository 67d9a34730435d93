// ignite-server: the reference HTTP server as its own binary. Its flags are exactly those of
// `ignite serve`, both registered by add_server_options().
//   ignite-server --services examples/services --port 3000 --api-key "$KEY"
#include <CLI/CLI.hpp>

#include "examples/http/server.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Ignite HTTP server: runs the services of a directory over HTTP"};
  ignite_http::ServerOptions options;
  ignite_http::add_server_options(app, options);
  CLI11_PARSE(app, argc, argv);
  return ignite_http::run_server(options);
}
