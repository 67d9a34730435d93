#include "examples/http/server.hpp"

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <thread>
#include <vector>

#include "examples/http/access_log.hpp"
#include "examples/http/auth.hpp"
#include "examples/http/connection_limit.hpp"
#include "examples/http/context.hpp"
#include "examples/http/executor.hpp"
#include "examples/http/listener.hpp"
#include "examples/http/metrics.hpp"
#include "examples/http/rate_limit.hpp"
#include "examples/http/readiness.hpp"
#include "examples/http/router.hpp"
#include "ignite/engine.hpp"
#include "ignite/error.hpp"

namespace fs = std::filesystem;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace ignite_http {
namespace {

// Listing, config and preflight run on their own small pool, so a burst of executions never
// starves them (and vice versa).
constexpr std::size_t kBlockingWorkers = 2;
constexpr std::size_t kBlockingQueue = 64;
// After the grace period, cancelled executions still need to kill and remove their containers.
constexpr auto kCancelWait = std::chrono::seconds(60);
// Time for answers to reach their clients once every execution has ended.
constexpr auto kFlushWait = std::chrono::seconds(5);

void add_ms_option(CLI::App& app, const std::string& name, milliseconds& target,
                   const std::string& description, long long min) {
  app.add_option_function<long long>(
         name, [&target](const long long& v) { target = milliseconds(v); }, description)
      ->default_str(std::to_string(target.count()))
      ->type_name("MS")
      ->check(CLI::Range(min, 24LL * 3600 * 1000));
}

std::string url_host(const std::string& host) {
  return host.find(':') != std::string::npos && host.front() != '[' ? "[" + host + "]" : host;
}

// Waits for both pools to be idle until `deadline`; gives up early when `abandon` turns true.
bool wait_idle(const BoundedPool& a, const BoundedPool& b, Clock::time_point deadline,
               const std::function<bool()>& abandon) {
  for (;;) {
    const auto step = std::min(deadline, Clock::now() + milliseconds(50));
    if (a.wait_idle(step) && b.wait_idle(step)) return true;
    if (Clock::now() >= deadline || (abandon && abandon())) return false;
  }
}

// Problems with what the operator asked for (as opposed to what failed while starting): the
// process exits 2, like a command-line usage error.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The key is the file's first line without surrounding blanks; a missing, unreadable, empty or
// huge file is refused rather than silently running without authentication.
std::string read_key_file(const fs::path& path) {
  constexpr std::uintmax_t kMaxKeyFile = 4096;
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) throw UsageError("--api-key-file: cannot read " + path.string() + ": " + ec.message());
  if (size > kMaxKeyFile) {
    throw UsageError("--api-key-file: " + path.string() + " is larger than 4096 bytes");
  }
  std::ifstream in(path, std::ios::binary);
  std::string line;
  if (!in || !std::getline(in, line)) {
    if (!in.eof() || !line.empty()) {
      throw UsageError("--api-key-file: cannot read " + path.string());
    }
  }
  const auto first = line.find_first_not_of(" \t\r");
  const auto last = line.find_last_not_of(" \t\r");
  if (first == std::string::npos) {
    throw UsageError("--api-key-file: " + path.string() +
                     " holds no key (its first line is empty)");
  }
  const auto perms = fs::status(path, ec).permissions();
  if (!ec && (perms & (fs::perms::group_read | fs::perms::others_read)) != fs::perms::none) {
    log_line("Warning: --api-key-file " + path.string() +
             " is readable by other users (chmod 600 it)");
  }
  return line.substr(first, last - first + 1);
}

bool is_loopback(const net::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return net::ip::make_address_v4(net::ip::v4_mapped, a.to_v6()).is_loopback();
  }
  return a.is_loopback();
}

}  // namespace

namespace {
int serve(const ServerOptions& options, Ignite::Engine& engine,
          std::optional<std::stop_token> external_stop, std::optional<std::stop_token> fast_stop);
}  // namespace

void add_server_options(CLI::App& app, ServerOptions& o, bool runtimes_file_flag) {
  // The reference's `serve` short flags: -s, -p and -h (host; help is --help only there).
  app.set_help_flag("--help", "Print this help message and exit");
  app.add_option("-s,--services", o.services_dir, "Directory holding one directory per service")
      ->capture_default_str()
      ->type_name("DIR");
  app.add_option("-h,--host", o.host, "Address to listen on")->capture_default_str();
  app.add_option("-p,--port", o.port, "Port to listen on (0: any free port, printed)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  app.add_option("--api-key", o.api_key,
                 "Bearer token required on every route but /health and /ready (default: none, all "
                 "open)")
      ->envname("IGNITE_API_KEY")
      ->type_name("KEY");
  app.add_option_function<std::string>(
         "--api-key-file", [&o](const std::string& v) { o.api_key_file = v; },
         "Read the bearer token from this file (its first line; keeps it out of argv)")
      ->envname("IGNITE_API_KEY_FILE")
      ->type_name("PATH");
  app.add_flag("--allow-unauthenticated", o.allow_unauthenticated,
               "Listen on a non-loopback address without an API key (everyone may run services)");
  app.add_option("--max-connections-per-client", o.max_connections_per_client,
                 "Connections one client address may hold open (0: no limit; trusted proxies "
                 "are exempt)")
      ->capture_default_str()
      ->type_name("N")
      ->check(CLI::Range(static_cast<std::size_t>(0), static_cast<std::size_t>(100000)));
  app.add_option("--rate-limit", o.rate_limit, "Requests per client and window (0: no limit)")
      ->capture_default_str()
      ->type_name("N");
  add_ms_option(app, "--rate-limit-window", o.rate_limit_window, "Rate-limit window (ms)", 1);
  app.add_option("--trusted-proxy", o.trusted_proxies,
                 "Proxy (IP or CIDR) whose X-Forwarded-For names the client; repeatable")
      ->allow_extra_args(false)
      ->type_name("IP")
      ->check(CLI::Validator(
          [](std::string& value) -> std::string {
            try {
              TrustedProxies t;
              t.add(value);
              return {};
            } catch (const std::exception& e) {
              return e.what();
            }
          },
          "IP|CIDR"));
  app.add_option("--io-threads", o.io_threads, "Threads serving connections")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  app.add_option("--max-concurrent", o.max_concurrent, "Executions running at once")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app.add_option("--queue", o.queue, "Executions waiting for a slot before 503")
      ->capture_default_str()
      ->check(CLI::Range(0, 100000));
  app.add_option("--max-body", o.max_body, "Largest request body in bytes (larger: 413)")
      ->capture_default_str()
      ->type_name("BYTES")
      ->check(CLI::Range(static_cast<std::size_t>(1), static_cast<std::size_t>(1) << 30));
  app.add_option("--pool-size", o.pool_size,
                 "Warm pool: containers kept started per service (0: every execution starts one)")
      ->capture_default_str()
      ->check(CLI::Range(0, 64));
  app.add_option("--reuse", o.pool_reuse,
                 "Jobs of one service that may share a container, one after another (1: never)")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  add_ms_option(app, "--grace-ms", o.grace,
                "On SIGINT/SIGTERM, time running executions get before they are cancelled", 0);
  add_ms_option(app, "--header-timeout-ms", o.header_timeout,
                "Time a client has to send a complete request header (also keep-alive idle)", 1);
  add_ms_option(app, "--read-timeout-ms", o.read_timeout, "Time a client has to send the body", 1);
  add_ms_option(app, "--sse-heartbeat-ms", o.sse_heartbeat,
                "Longest silence on an event stream before a comment line is sent", 10);
  if (runtimes_file_flag) {
    app.add_option_function<std::string>(
           "--runtimes-file", [&o](const std::string& v) { o.runtimes_file = v; },
           "runtimes.yaml with custom runtimes")
        ->type_name("PATH");
  }
}

void validate_server_options(const ServerOptions& o) {
  auto fail = [](const std::string& m) { throw std::invalid_argument(m); };
  if (o.host.empty()) fail("--host: must not be empty");
  if (o.port > 65535) fail("--port: must be 0-65535");
  if (o.rate_limit_window.count() <= 0) fail("--rate-limit-window: must be positive");
  if (o.io_threads == 0) fail("--io-threads: must be at least 1");
  if (o.max_concurrent == 0) fail("--max-concurrent: must be at least 1");
  if (o.max_body == 0) fail("--max-body: must be at least 1");
  if (o.grace.count() < 0) fail("--grace-ms: must not be negative");
  if (o.header_timeout.count() <= 0) fail("--header-timeout-ms: must be positive");
  if (o.read_timeout.count() <= 0) fail("--read-timeout-ms: must be positive");
  if (o.sse_heartbeat.count() <= 0) fail("--sse-heartbeat-ms: must be positive");
  if (!o.api_key.empty() && o.api_key_file) {
    fail("--api-key-file: give either a key (--api-key / IGNITE_API_KEY) or a key file, not both");
  }
  TrustedProxies t;
  for (const auto& p : o.trusted_proxies) {
    try {
      t.add(p);
    } catch (const std::exception& e) {
      fail(std::string("--trusted-proxy: ") + e.what());
    }
  }
}

void apply_pool_options(const ServerOptions& options, Ignite::EngineOptions& eo) {
  eo.pool.size = options.pool_size;
  eo.pool.reuse = std::max<std::size_t>(options.pool_reuse, 1);
}

int run_server(const ServerOptions& options) {
  try {
    Ignite::EngineOptions eo;
    eo.max_concurrent = std::max<std::size_t>(options.max_concurrent, 1);
    apply_pool_options(options, eo);
    Ignite::Engine engine(eo);
    return run_server(options, engine);
  } catch (const std::exception& e) {
    log_line(std::string("Failed to start server: ") + e.what());
    return 1;
  }
}

int run_server(const ServerOptions& options, Ignite::Engine& engine) {
  return serve(options, engine, std::nullopt, std::nullopt);
}

int run_server(const ServerOptions& options, Ignite::Engine& engine, std::stop_token stop) {
  return serve(options, engine, std::move(stop), std::nullopt);
}

int run_server(const ServerOptions& options, Ignite::Engine& engine, std::stop_token stop,
               std::stop_token fast_stop) {
  return serve(options, engine, std::move(stop), std::move(fast_stop));
}

namespace {

int serve(const ServerOptions& options, Ignite::Engine& engine,
          std::optional<std::stop_token> external_stop, std::optional<std::stop_token> fast_stop) {
  // Declaration order is destruction order in reverse: the io_context (and with it every
  // session) goes before the context the sessions point to.
  Metrics metrics;
  BoundedPool executions(options.max_concurrent, options.queue);
  BoundedPool blocking(kBlockingWorkers, kBlockingQueue);
  TrustedProxies trusted;
  std::optional<BearerAuth> auth;
  std::optional<RateLimiter> limiter;
  std::optional<ReadinessProbe> readiness;
  std::optional<Router> router;
  std::optional<ServerContext> ctx;
  std::optional<net::io_context> ioc;
  std::shared_ptr<Listener> listener;
  fs::path services;
  const auto started = Clock::now();
  std::optional<ConnectionLimits> connection_limits;
  try {
    validate_server_options(options);
    for (const auto& p : options.trusted_proxies) trusted.add(p);
    const std::string key =
        options.api_key_file ? read_key_file(*options.api_key_file) : options.api_key;
    if (options.runtimes_file) engine.load_runtimes_file(*options.runtimes_file);
    services = fs::absolute(options.services_dir).lexically_normal();
    auth.emplace(key);
    limiter.emplace(options.rate_limit, options.rate_limit_window);
    readiness.emplace([&engine] { engine.ping(); }, engine.docker_endpoint());
    router.emplace(services, engine, *auth, *limiter, metrics, *readiness, [&] {
      Gauges g;
      g.queue_depth = executions.queued();
      g.executions_running = executions.running();
      g.connections = ctx ? ctx->sessions.size() : 0;
      g.uptime_seconds = std::chrono::duration<double>(Clock::now() - started).count();
      const Ignite::PoolStats pool = engine.pool_stats();
      g.pool_ready = pool.ready;
      g.pool_dispatched = pool.dispatched;
      return g;
    });
    connection_limits.emplace(options.max_connections_per_client);
    ctx.emplace(options, *router, metrics, executions, blocking, trusted, *connection_limits,
                *readiness);
    ioc.emplace(static_cast<int>(options.io_threads));
    tcp::resolver resolver(*ioc);
    const auto results = resolver.resolve(options.host, std::to_string(options.port),
                                          tcp::resolver::passive | tcp::resolver::numeric_service);
    if (results.empty()) throw std::runtime_error("cannot resolve host " + options.host);
    const tcp::endpoint endpoint = results.begin()->endpoint();
    if (key.empty() && !options.allow_unauthenticated && !is_loopback(endpoint.address())) {
      throw UsageError("refusing to listen on " + endpoint.address().to_string() +
                       " (not a loopback address) without an API key: anyone who can reach it "
                       "could run services. Set --api-key-file (or IGNITE_API_KEY_FILE, "
                       "IGNITE_API_KEY), or pass --allow-unauthenticated");
    }
    listener = std::make_shared<Listener>(*ioc, endpoint, *ctx);
  } catch (const UsageError& e) {
    log_line(std::string("Failed to start server: ") + e.what());
    return 2;
  } catch (const std::invalid_argument& e) {
    log_line(std::string("Failed to start server: ") + e.what());
    return 2;
  } catch (const std::exception& e) {
    log_line(std::string("Failed to start server: ") + e.what());
    return 1;
  }

  std::signal(SIGPIPE, SIG_IGN);
  // Shutdown requests: SIGINT/SIGTERM (a second one skips the grace period), or the caller's
  // stop token (the caller then owns signal handling).
  std::mutex mu;
  std::condition_variable cv;
  int signals_seen = 0;
  int last_signal = 0;
  auto request_stop = [&](int sig) {
    {
      std::lock_guard lock(mu);
      ++signals_seen;
      last_signal = sig;
    }
    cv.notify_all();
  };
  std::optional<net::signal_set> signals;
  std::function<void()> arm = [&] {
    signals->async_wait([&](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      request_stop(sig);
      arm();
    });
  };
  std::optional<std::stop_callback<std::function<void()>>> on_stop;
  std::optional<std::stop_callback<std::function<void()>>> on_fast_stop;
  if (external_stop) {
    on_stop.emplace(*external_stop, std::function<void()>([&] { request_stop(0); }));
    // Counted as a second request (skip the grace period) even when it comes first.
    if (fast_stop) {
      on_fast_stop.emplace(*fast_stop, std::function<void()>([&] {
        request_stop(0);
        request_stop(0);
      }));
    }
  } else {
    signals.emplace(*ioc, SIGINT, SIGTERM);
    arm();
  }
  auto work = net::make_work_guard(*ioc);
  listener->run();
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < options.io_threads; ++i) threads.emplace_back([&] { ioc->run(); });

  const auto port = listener->local_endpoint().port();
  log_line("Ignite HTTP server running at http://" + url_host(options.host) + ":" +
           std::to_string(port));
  log_line("Services directory: " + services.string());
  std::error_code ec;
  if (!fs::is_directory(services, ec)) {
    log_line("Warning: the services directory does not exist; /services answers 500 until it does");
  }
  if (!auth->enabled()) {
    log_line("Warning: no API key (--api-key or IGNITE_API_KEY): every route is open");
  }
  log_line("Press Ctrl+C to stop");

  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return signals_seen > 0; });
  }
  log_line(std::string(last_signal == SIGINT    ? "Received SIGINT"
                       : last_signal == SIGTERM ? "Received SIGTERM"
                                                : "Stop requested") +
           ": shutting down (running executions: " + std::to_string(executions.running()) +
           ", grace " + std::to_string(options.grace.count()) + " ms)");
  ctx->draining = true;
  listener->stop();
  ctx->sessions.close_idle();
  auto second_signal = [&] {
    std::lock_guard lock(mu);
    return signals_seen > 1;
  };
  if (!wait_idle(executions, blocking, Clock::now() + options.grace, second_signal)) {
    log_line("Cancelling " + std::to_string(executions.in_flight()) +
             " execution(s): their containers are removed");
    ctx->cancel.request_stop();
    if (!wait_idle(executions, blocking, Clock::now() + kCancelWait, nullptr)) {
      log_line("Warning: executions still running after cancellation");
    }
  }
  // Let the last answers reach their clients; connections close after answering.
  const auto flush_end = Clock::now() + kFlushWait;
  while (ctx->sessions.size() > 0 && Clock::now() < flush_end) {
    ctx->sessions.close_idle();
    std::this_thread::sleep_for(milliseconds(20));
  }
  boost::system::error_code ignored;
  if (signals) signals->cancel(ignored);
  work.reset();
  ioc->stop();
  for (auto& t : threads) t.join();
  executions.join();
  blocking.join();
  // Safety net: executions remove their own containers; remove_containers() also drains the
  // warm pool and waits for queued removals, then removes anything left (a worker that could
  // not finish).
  try {
    if (const auto n = engine.remove_containers(); n > 0) {
      log_line("Removed " + std::to_string(n) + " leftover container(s)");
    }
  } catch (const Ignite::Error& e) {
    // No daemon: no container can be left either.
    if (e.code() != Ignite::ErrorCode::DockerUnavailable) {
      log_line(std::string("Warning: could not check for leftover containers: ") + e.what());
    }
  } catch (const std::exception& e) {
    log_line(std::string("Warning: could not check for leftover containers: ") + e.what());
  }
  // Waits for a /ready ping in flight (the engine bounds it by DockerTimeouts::metadata); left
  // until now so that, on a daemon that hangs, the wait overlaps the clean-up above rather than
  // adding to it. Before the io_context goes: a /ready still waiting holds its session, whose
  // socket belongs to it.
  readiness->stop();
  listener.reset();
  ioc.reset();
  log_line("Ignite HTTP server stopped");
  return 0;
}

}  // namespace

}  // namespace ignite_http
