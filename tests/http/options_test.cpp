// The flags of ignite-server / `ignite serve` (add_server_options) and their checks, parsed
// in-process without starting a server.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include "examples/http/server.hpp"
#include "ignite/engine.hpp"

using ignite_http::ServerOptions;
using namespace std::chrono_literals;

namespace {

ServerOptions parse(std::vector<std::string> args, bool runtimes_file_flag = true) {
  CLI::App app{"test"};
  ServerOptions o;
  ignite_http::add_server_options(app, o, runtimes_file_flag);
  std::reverse(args.begin(), args.end());
  app.parse(args);
  return o;
}

}  // namespace

TEST(ServerOptions, Defaults) {
  ::unsetenv("IGNITE_API_KEY");
  const ServerOptions o = parse({});
  EXPECT_EQ(o.services_dir, "./services");
  EXPECT_EQ(o.host, "127.0.0.1");
  EXPECT_EQ(o.port, 3000u);
  EXPECT_EQ(o.api_key, "");
  EXPECT_EQ(o.rate_limit, 60u);
  EXPECT_EQ(o.rate_limit_window, 60000ms);
  EXPECT_TRUE(o.trusted_proxies.empty());
  EXPECT_EQ(o.max_body, 1024u * 1024u);
  EXPECT_EQ(o.grace, 10000ms);
  EXPECT_FALSE(o.runtimes_file.has_value());
  EXPECT_NO_THROW(ignite_http::validate_server_options(o));
}

TEST(ServerOptions, EveryFlag) {
  const ServerOptions o = parse({"--services",
                                 "svc",
                                 "--host",
                                 "0.0.0.0",
                                 "--port",
                                 "0",
                                 "--api-key",
                                 "k",
                                 "--rate-limit",
                                 "5",
                                 "--rate-limit-window",
                                 "1000",
                                 "--trusted-proxy",
                                 "10.0.0.1",
                                 "--trusted-proxy",
                                 "fd00::/8",
                                 "--io-threads",
                                 "3",
                                 "--max-concurrent",
                                 "2",
                                 "--queue",
                                 "0",
                                 "--max-body",
                                 "99",
                                 "--grace-ms",
                                 "0",
                                 "--header-timeout-ms",
                                 "1500",
                                 "--read-timeout-ms",
                                 "2500",
                                 "--runtimes-file",
                                 "rt.yaml",
                                 "--pool-size",
                                 "3",
                                 "--reuse",
                                 "20"});
  EXPECT_EQ(o.services_dir, "svc");
  EXPECT_EQ(o.host, "0.0.0.0");
  EXPECT_EQ(o.port, 0u);
  EXPECT_EQ(o.api_key, "k");
  EXPECT_EQ(o.rate_limit, 5u);
  EXPECT_EQ(o.rate_limit_window, 1000ms);
  EXPECT_EQ(o.trusted_proxies, (std::vector<std::string>{"10.0.0.1", "fd00::/8"}));
  EXPECT_EQ(o.io_threads, 3u);
  EXPECT_EQ(o.max_concurrent, 2u);
  EXPECT_EQ(o.queue, 0u);
  EXPECT_EQ(o.max_body, 99u);
  EXPECT_EQ(o.grace, 0ms);
  EXPECT_EQ(o.header_timeout, 1500ms);
  EXPECT_EQ(o.read_timeout, 2500ms);
  EXPECT_EQ(o.runtimes_file, std::filesystem::path("rt.yaml"));
  EXPECT_EQ(o.pool_size, 3u);
  EXPECT_EQ(o.pool_reuse, 20u);
  Ignite::EngineOptions eo;
  ignite_http::apply_pool_options(o, eo);
  EXPECT_EQ(eo.pool.size, 3u);
  EXPECT_EQ(eo.pool.reuse, 20u);
}

TEST(ServerOptions, ReferenceShortFlags) {
  const ServerOptions o = parse({"-s", "dir", "-h", "localhost", "-p", "8080"});
  EXPECT_EQ(o.services_dir, "dir");
  EXPECT_EQ(o.host, "localhost");
  EXPECT_EQ(o.port, 8080u);
}

TEST(ServerOptions, ApiKeyFromEnvironment) {
  ::setenv("IGNITE_API_KEY", "from-env", 1);
  EXPECT_EQ(parse({}).api_key, "from-env");
  EXPECT_EQ(parse({"--api-key", "flag"}).api_key, "flag");
  ::unsetenv("IGNITE_API_KEY");
}

TEST(ServerOptions, RejectsBadValues) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--port", "65536"},
           {"--trusted-proxy", "nope"},
           {"--trusted-proxy", "10.0.0.0/40"},
           {"--io-threads", "0"},
           {"--max-concurrent", "0"},
           {"--max-body", "0"},
           {"--rate-limit-window", "0"},
           {"--header-timeout-ms", "0"},
           {"--grace-ms", "-1"},
           {"--pool-size", "-1"},
           {"--pool-size", "65"},
           {"--reuse", "0"},
       }) {
    EXPECT_THROW(parse(args), CLI::ParseError) << args[0] << " " << args[1];
  }
  ServerOptions o;
  o.trusted_proxies = {"garbage"};
  EXPECT_THROW(ignite_http::validate_server_options(o), std::invalid_argument);
}

TEST(ServerOptions, RuntimesFileFlagCanBeLeftToTheHost) {
  EXPECT_THROW(parse({"--runtimes-file", "x"}, false), CLI::ParseError);
}
