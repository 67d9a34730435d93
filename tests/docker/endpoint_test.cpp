// Endpoint resolution as the docker CLI does it: URL forms, precedence of settings, environment
// and contexts, the plain-TCP rule, TLS file checks. No daemon is contacted.
#include "ignite/src/docker/endpoint.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>

#include "ignite/error.hpp"
#include "ignite/src/docker/ssh.hpp"

namespace Ignite::docker {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Clears the variables resolve_endpoint reads for the test's duration.
class CleanEnv : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : kNames) {
      if (const char* v = std::getenv(name)) saved_.emplace_back(name, v);
      ::unsetenv(name);
    }
    dir_ = fs::temp_directory_path() / ("endpoint-test-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    ::setenv("DOCKER_CONFIG", (dir_ / "docker-config").c_str(), 1);
  }
  void TearDown() override {
    for (const char* name : kNames) ::unsetenv(name);
    for (const auto& [name, value] : saved_) ::setenv(name.c_str(), value.c_str(), 1);
    fs::remove_all(dir_);
  }
  static constexpr const char* kNames[] = {"DOCKER_HOST",   "DOCKER_CONTEXT",
                                           "DOCKER_CONFIG", "DOCKER_TLS_VERIFY",
                                           "DOCKER_TLS",    "DOCKER_CERT_PATH"};
  std::vector<std::pair<std::string, std::string>> saved_;
  fs::path dir_;
};

std::string config_error(const EndpointSettings& s) {
  try {
    resolve_endpoint(s);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Config) << e.what();
    return e.message();
  }
  ADD_FAILURE() << "expected Error(Config)";
  return {};
}

TEST_F(CleanEnv, DefaultIsTheLocalSocket) {
  const Endpoint ep = resolve_endpoint();
  EXPECT_EQ(ep.kind, Endpoint::Kind::Unix);
  EXPECT_EQ(ep.socket_path, "/var/run/docker.sock");
  EXPECT_TRUE(ep.local());
}

TEST_F(CleanEnv, UrlForms) {
  EXPECT_EQ(parse_host("/run/docker.sock", "x").socket_path, "/run/docker.sock");
  EXPECT_EQ(parse_host("unix:///run/d.sock", "x").url, "unix:///run/d.sock");
  const Endpoint tcp = resolve_endpoint({.host = "tcp://127.0.0.1"});
  EXPECT_EQ(tcp.kind, Endpoint::Kind::Tcp);
  EXPECT_EQ(tcp.url, "tcp://127.0.0.1:2375");  // plain: the docker default port
  EXPECT_FALSE(tcp.local());
  const Endpoint v6 = resolve_endpoint({.host = "tcp://[::1]:2400"});
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.url, "tcp://[::1]:2400");
  const Endpoint ssh = parse_host("ssh://ci@build-box:2222/run/user/1000/docker.sock", "x");
  EXPECT_EQ(ssh.kind, Endpoint::Kind::Ssh);
  EXPECT_EQ(ssh.ssh_user, "ci");
  EXPECT_EQ(ssh.host, "build-box");
  EXPECT_EQ(ssh.port, 2222);
  EXPECT_EQ(ssh.ssh_socket, "/run/user/1000/docker.sock");
  EXPECT_THAT(SshProcess::argv(ssh),
              ElementsAre("ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-T", "-l", "ci",
                          "-p", "2222", "--", "build-box",
                          "docker '--host=unix:///run/user/1000/docker.sock' system dial-stdio"));
  EXPECT_THAT(SshProcess::argv(parse_host("ssh://box", "x")).back(), "docker system dial-stdio");
}

TEST_F(CleanEnv, BadUrlsNameTheSetting) {
  const std::pair<const char*, const char*> cases[] = {
      {"ftp://x", "unsupported scheme \"ftp://\""},
      {"unix://", "no socket path after unix://"},
      {"tcp://h:99999", "is not a port"},
      {"tcp://h:2375/v1", "takes no path"},
      {"tcp://::1:2375", "must be in brackets"},
      {"ssh://u:pw@h", "passwords in ssh:// URLs are not supported"},
      {"ssh://h?x=1", "no query"},
      {"ssh://-oProxyCommand=x", "cannot start with '-'"},
      {"docker.sock", "expected unix:///path"},
  };
  for (const auto& [url, why] : cases) {
    const std::string message = config_error({.host = url});
    EXPECT_THAT(message, HasSubstr(std::string("docker_host=") + url)) << url;
    EXPECT_THAT(message, HasSubstr(why)) << url;
  }
  ::setenv("DOCKER_HOST", "ftp://y", 1);
  EXPECT_THAT(config_error({}), HasSubstr("DOCKER_HOST=ftp://y"));
}

TEST_F(CleanEnv, PlainTcpOnlyToLoopbackUnlessAllowed) {
  for (const char* host :
       {"tcp://127.0.0.1:2375", "tcp://localhost:2375", "tcp://[::1]:2375", "tcp://127.8.9.10:1"}) {
    EXPECT_NO_THROW(resolve_endpoint({.host = host})) << host;
  }
  const std::string message = config_error({.host = "tcp://docker.example:2375"});
  EXPECT_THAT(message, HasSubstr("plain TCP (no TLS) to a non-loopback address"));
  EXPECT_THAT(message, HasSubstr("allow_plain_tcp"));
  EXPECT_NO_THROW(resolve_endpoint({.host = "tcp://docker.example:2375", .allow_plain_tcp = true}));
  // DOCKER_TLS without verification is as exposed.
  ::setenv("DOCKER_TLS", "1", 1);
  EXPECT_THAT(config_error({.host = "tcp://docker.example:2376"}),
              HasSubstr("TLS without verifying the daemon's certificate"));
  EXPECT_TRUE(is_loopback("127.0.0.1"));
  EXPECT_TRUE(is_loopback("::ffff:127.0.0.1"));
  EXPECT_FALSE(is_loopback("128.0.0.1"));
  EXPECT_FALSE(is_loopback("localhost.example"));
}

TEST_F(CleanEnv, TlsFilesComeFromTheCertPathAndAreChecked) {
  ::setenv("DOCKER_TLS_VERIFY", "1", 1);
  ::setenv("DOCKER_CERT_PATH", (dir_ / "certs").c_str(), 1);
  // No such directory: the CA is named.
  EXPECT_THAT(config_error({.host = "tcp://docker.example:2376"}),
              HasSubstr("DOCKER_CERT_PATH=" + (dir_ / "certs").string() + ": " +
                        (dir_ / "certs/ca.pem").string()));
  fs::create_directories(dir_ / "certs");
  std::ofstream(dir_ / "certs/ca.pem") << "not a certificate";
  EXPECT_THAT(config_error({.host = "tcp://docker.example:2376"}),
              HasSubstr("not a PEM certificate"));
  // A setting beats the environment; TLS is only for tcp://.
  EXPECT_THAT(config_error({.host = "tcp://docker.example:2376", .cert_path = dir_ / "other"}),
              HasSubstr("docker_cert_path=" + (dir_ / "other").string()));
  EXPECT_NO_THROW(resolve_endpoint({.host = "unix:///x.sock"}));
  const Endpoint off = resolve_endpoint({.host = "tcp://127.0.0.1:2376", .tls_verify = false});
  EXPECT_FALSE(off.tls.has_value());
}

TEST_F(CleanEnv, PrecedenceHostThenContextThenEnvironment) {
  // A context in the config directory, as `docker context create` writes it.
  const fs::path config = dir_ / "docker-config";
  const auto write_context = [&](const std::string& name, const std::string& host) {
    const std::string digest = [&] {
      // The same digest the docker CLI uses for the directory name.
      FILE* p = ::popen(("printf %s '" + name + "' | sha256sum").c_str(), "r");
      char buf[65] = {};
      if (p != nullptr) {
        if (std::fread(buf, 1, 64, p) != 64) buf[0] = '\0';
        ::pclose(p);
      }
      return std::string(buf);
    }();
    fs::create_directories(config / "contexts/meta" / digest);
    std::ofstream(config / "contexts/meta" / digest / "meta.json")
        << R"({"Name":")" << name << R"(","Metadata":{},"Endpoints":{"docker":{"Host":")" << host
        << R"(","SkipTLSVerify":false}}})";
  };
  write_context("far", "ssh://me@far-host");
  write_context("near", "unix:///run/near.sock");
  std::ofstream(config / "config.json") << R"({"currentContext": "far"})";

  EXPECT_EQ(resolve_endpoint().url, "ssh://me@far-host");  // currentContext
  ::setenv("DOCKER_CONTEXT", "near", 1);
  EXPECT_EQ(resolve_endpoint().socket_path, "/run/near.sock");  // DOCKER_CONTEXT wins
  ::setenv("DOCKER_HOST", "unix:///run/env.sock", 1);
  EXPECT_EQ(resolve_endpoint().socket_path, "/run/env.sock");                // DOCKER_HOST wins
  EXPECT_EQ(resolve_endpoint({.context = "far"}).url, "ssh://me@far-host");  // a setting wins
  EXPECT_EQ(resolve_endpoint({.host = "unix:///run/set.sock", .context = "far"}).socket_path,
            "/run/set.sock");
  EXPECT_EQ(resolve_endpoint({.context = "default"}).socket_path, "/run/env.sock");
  EXPECT_THAT(resolve_endpoint({.context = "far"}).source, HasSubstr("far"));
  EXPECT_THAT(config_error({.context = "nowhere"}),
              HasSubstr("docker context \"nowhere\" does not exist"));
  std::ofstream(config / "config.json") << "{broken";
  ::unsetenv("DOCKER_HOST");
  ::unsetenv("DOCKER_CONTEXT");
  EXPECT_THAT(config_error({}),
              HasSubstr("config.json: docker configuration is not a JSON object"));
}

}  // namespace
}  // namespace Ignite::docker
