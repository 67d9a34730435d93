// File: examples/http/server.hpp
//
// The reference HTTP server (Boost.Beast on Boost.Asio), an example consumer of
// `Ignite::Engine`: health, readiness (a bounded Docker ping), service listing and config,
// preflight, execution (JSON or Server-Sent Events), Prometheus metrics and an OpenAPI document.
// Bearer-token auth (constant-time), per-client rate limiting keyed on the socket peer
// (X-Forwarded-For only from trusted proxies), a concurrency cap with a bounded queue,
// body/header limits and timeouts, structured access logs on stderr and a graceful shutdown on
// SIGINT/SIGTERM.
//
// Example (what `ignite serve` and the `ignite-server` binary do):
//   CLI::App app{"ignite-server"};
//   ignite_http::ServerOptions options;
//   ignite_http::add_server_options(app, options);
//   CLI11_PARSE(app, argc, argv);
//   return ignite_http::run_server(options);
#pragma once

#include <CLI/CLI.hpp>
#include <stop_token>

#include "examples/http/options.hpp"

namespace Ignite {
class Engine;
struct EngineOptions;
}

namespace ignite_http {

// Registers the server's flags on `app` (the standalone binary's root or `ignite serve`):
// -s/--services -h/--host -p/--port --api-key (env IGNITE_API_KEY) --api-key-file (env
// IGNITE_API_KEY_FILE) --allow-unauthenticated --rate-limit --rate-limit-window --trusted-proxy
// (repeatable) --io-threads --max-concurrent --queue --max-body --max-connections-per-client
// --grace-ms --header-timeout-ms --read-timeout-ms --sse-heartbeat-ms --runtimes-file. Values
// are checked while parsing.
// As in the reference's `serve`, -h means --host, so help becomes --help only on `app`.
// `runtimes_file_flag` false leaves --runtimes-file out (for a CLI that has it globally and
// loads it into the Engine it passes to run_server).
void add_server_options(CLI::App& app, ServerOptions& options, bool runtimes_file_flag = true);

// Throws std::invalid_argument naming the option when `options` cannot be served (for callers
// that fill ServerOptions without add_server_options).
void validate_server_options(const ServerOptions& options);

// Creates an Engine (max_concurrent executions, the runtimes file) and serves until SIGINT or
// SIGTERM. Prints `Ignite HTTP server running at http://<host>:<port>` on stderr once
// listening. Returns the process exit status: 0 after a graceful shutdown, 2 when the options
// cannot be served (an unreadable --api-key-file, a non-loopback address without a key and
// without --allow-unauthenticated), 1 when the server could not start otherwise (`Failed to
// start server: <message>` on stderr either way).
int run_server(const ServerOptions& options);

// Copies --pool-size / --reuse into the options of the Engine a caller makes for the server.
void apply_pool_options(const ServerOptions& options, Ignite::EngineOptions& engine_options);

// The same with a caller-owned engine. Its EngineOptions::max_concurrent should be at least
// options.max_concurrent (executions beyond it wait inside the engine, holding a worker);
// options.runtimes_file, when set, is loaded into it.
int run_server(const ServerOptions& options, Ignite::Engine& engine);

// For hosts that handle signals themselves (the `ignite` CLI takes SIGINT/SIGTERM on a sigwait
// thread): installs no signal handler and shuts down gracefully once `stop` is requested.
//   ignite_http::add_server_options(*serve, *options, /*runtimes_file_flag=*/false);
//   ... set_cancellable(true);
//   return ignite_http::run_server(*options, engine, stop_source().get_token());
int run_server(const ServerOptions& options, Ignite::Engine& engine, std::stop_token stop);

// The same, with the host's second signal: once `fast_stop` is requested the grace period ends
// at once (running executions are cancelled, their containers killed and removed, then the
// server returns), as a second SIGINT/SIGTERM does to the standalone server.
int run_server(const ServerOptions& options, Ignite::Engine& engine, std::stop_token stop,
               std::stop_token fast_stop);

}  // namespace ignite_http
