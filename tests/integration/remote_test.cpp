// Remote Docker hosts on real daemons: a second dockerd with TLS in a network namespace of its
// own (tests/remote/tls_dockerd: a 198.19.x.2 address, its own data-root, certificates made by
// openssl) and the host's
// daemon through a local sshd (tests/remote/sshd, its own keys and config). Both are started
// once for this binary and always stopped (a global test environment), also when tests fail.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "ignite/engine.hpp"
#include "ignite/error.hpp"
#include "ignite/json.hpp"
#include "ignite/src/docker/client.hpp"
#include "ignite/src/docker/endpoint.hpp"
#include "tests/test_util.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Ignite::ErrorCode;
using Ignite::testing::example_service;
using Ignite::testing::run_command;
using ::testing::HasSubstr;

namespace {

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string read_or_empty(const fs::path& file) {
  std::ifstream in(file);
  std::string text;
  std::getline(in, text);
  return trim(text);
}

bool pid_alive(const std::string& pid) { return !pid.empty() && ::kill(std::stoi(pid), 0) == 0; }

// The two far ends, started by SetUp and stopped by TearDown.
class RemoteEnvironment : public ::testing::Environment {
 public:
  static RemoteEnvironment* instance;

  fs::path tls_dir;
  std::string tls_address;  // "198.19.k.2:2376"
  std::string tls_error;
  fs::path ssh_dir;
  int ssh_port = 0;
  std::string ssh_user;
  std::string ssh_error;

  void SetUp() override {
    sweep_stale();
    const std::string base = "/tmp/ignite-remote-" + std::to_string(::getpid());
    tls_dir = base + "-tls";
    ssh_dir = base + "-ssh";
    const auto t0 = Clock::now();
    auto tls = run_command(script("tls_dockerd") + " start " + tls_dir.string() + " 2>&1");
    if (tls.status == 0) {
      tls_address = trim(tls.out);
      Ignite::testing::write_file(tls_dir / "owner", std::to_string(::getpid()));
    } else {
      tls_error = "tests/remote/tls_dockerd start failed: " + tls.out + tls.err;
    }
    std::cerr << "[remote] TLS dockerd up in "
              << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count()
              << " ms on " << tls_address << "\n";
    auto ssh = run_command(script("sshd") + " start " + ssh_dir.string() + " 2>&1");
    if (ssh.status == 0) {
      ssh_port = std::stoi(trim(ssh.out));
      ssh_user = trim(Ignite::testing::read_file(ssh_dir / "user"));
      Ignite::testing::write_file(ssh_dir / "owner", std::to_string(::getpid()));
    } else {
      ssh_error = "tests/remote/sshd start failed: " + ssh.out + ssh.err;
    }
  }

  void TearDown() override {
    if (!tls_dir.empty()) run_command(script("tls_dockerd") + " stop " + tls_dir.string());
    if (!ssh_dir.empty()) run_command(script("sshd") + " stop " + ssh_dir.string());
  }

  static std::string script(const std::string& name) {
    return Ignite::testing::runfile("tests/remote/" + name).string();
  }

  // What an earlier run of this test that was killed (no TearDown) left behind.
  static void sweep_stale() {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/tmp", ec)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind("ignite-remote-", 0) != 0) continue;
      const std::string owner = read_or_empty(entry.path() / "owner");
      if (owner.empty() || pid_alive(owner)) continue;
      const bool tls = name.size() > 4 && name.substr(name.size() - 4) == "-tls";
      run_command(script(tls ? "tls_dockerd" : "sshd") + " stop " + entry.path().string());
    }
  }

  std::string tls_url() const { return "tcp://" + tls_address; }

  Ignite::EngineOptions tls_options(const std::string& certs = "client") const {
    Ignite::EngineOptions o;
    o.docker_host = tls_url();
    o.docker_tls_verify = true;
    o.docker_cert_path = tls_dir / certs;
    o.reap_on_start = false;
    o.state_dir = tls_dir / "state";
    return o;
  }
};
RemoteEnvironment* RemoteEnvironment::instance =
    static_cast<RemoteEnvironment*>(::testing::AddGlobalTestEnvironment(new RemoteEnvironment));

RemoteEnvironment& env() { return *RemoteEnvironment::instance; }

#define REQUIRE_TLS_DAEMON() ASSERT_TRUE(env().tls_error.empty()) << env().tls_error
#define REQUIRE_SSHD() ASSERT_TRUE(env().ssh_error.empty()) << env().ssh_error

long long ms_since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

// Runs `fn`, which must throw Ignite::Error with `code`; returns the message and how long it
// took.
template <typename F>
std::pair<std::string, long long> expect_failure(F fn, ErrorCode code) {
  const auto t0 = Clock::now();
  try {
    fn();
  } catch (const Ignite::Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    return {e.message(), ms_since(t0)};
  }
  ADD_FAILURE() << "expected an Ignite::Error";
  return {"", ms_since(t0)};
}

// The image the registry resolves "quickjs" to.
const std::string kQuickjsImage = Ignite::RuntimeRegistry::builtins().resolve("quickjs").image;

// The quickjs runtime image on the TLS daemon: copied once through the Engine API.
void ensure_quickjs_on_tls_daemon() {
  static std::once_flag once;
  std::call_once(once, [] {
    Ignite::Engine local;
    Ignite::Engine remote(env().tls_options());
    local.copy_images(remote, {.images = {"quickjs"}});
  });
}

// ---- TLS daemon: images, execution, attach ------------------------------------------------

TEST(RemoteTls, MissingRuntimeImageNamesTheFixThenImagesCopyMakesItRun) {
  REQUIRE_TLS_DAEMON();
  Ignite::Engine remote(env().tls_options());
  EXPECT_FALSE(remote.docker_is_local());
  EXPECT_EQ(remote.docker_endpoint(), env().tls_url());
  const auto svc = remote.load(example_service("hello-quickjs"));

  // No runtime image on the fresh daemon: the error says how to get it there.
  const auto [message, ms] = expect_failure([&] { remote.execute(svc); }, ErrorCode::Runtime);
  EXPECT_THAT(message, HasSubstr("not present on the Docker daemon at " + env().tls_url()));
  EXPECT_THAT(message, HasSubstr("ignite images copy --to " + env().tls_url() + " quickjs"));

  // The fix: stream the image from the host's daemon to the TLS daemon.
  Ignite::Engine local;
  std::vector<Ignite::ImageCopyProgress> progress;
  const auto t0 = Clock::now();
  const Ignite::ImageCopyResult copied = local.copy_images(
      remote, {.images = {"quickjs"},
               .on_progress = [&](const Ignite::ImageCopyProgress& p) { progress.push_back(p); }});
  const auto copy_ms = ms_since(t0);
  ASSERT_EQ(copied.copied, std::vector<std::string>{kQuickjsImage});
  EXPECT_TRUE(copied.present.empty());
  EXPECT_GT(copied.bytes, 1'000'000u);  // the 4 MB image as an archive
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back().bytes, copied.bytes);
  EXPECT_GT(progress.back().total_bytes, 0u);
  std::cerr << "[remote] images copy quickjs: " << copied.bytes << " bytes in " << copy_ms
            << " ms\n";
  {
    Ignite::docker::DockerClient direct((env().tls_dir / "docker.sock").string());
    const auto there = direct.image_inspect(kQuickjsImage);
    ASSERT_TRUE(there.has_value());
    Ignite::docker::DockerClient host(Ignite::docker::socket_from_env());
    EXPECT_EQ(there->value("Id", ""), host.image_inspect(kQuickjsImage)->value("Id", ""));
  }
  // Again: the target has the same image id, nothing is sent.
  const auto again = local.copy_images(remote, {.images = {kQuickjsImage}});
  EXPECT_TRUE(again.copied.empty());
  EXPECT_EQ(again.present, std::vector<std::string>{kQuickjsImage});
  EXPECT_EQ(again.bytes, 0u);

  // Now it runs there, baked (the remote daemon cannot see this host's files).
  const auto r = remote.execute(svc, {.input = R"({"name":"TLS"})"});
  EXPECT_EQ(r.outcome, Ignite::Outcome::Success) << r.stderr_text;
  EXPECT_THAT(r.stdout_text, HasSubstr("Hello, TLS!"));
  EXPECT_EQ(r.delivery, Ignite::CodeDelivery::Baked);
  EXPECT_THAT(r.delivery_note, HasSubstr(env().tls_url()));
  const nlohmann::json j = r;
  EXPECT_EQ(j["delivery"]["mode"], "baked");
  EXPECT_THAT(j["delivery"]["note"].get<std::string>(), HasSubstr("remote"));
}

TEST(RemoteTls, AttachCarriesLargeInputAndOutputOverTls) {
  REQUIRE_TLS_DAEMON();
  ensure_quickjs_on_tls_daemon();
  Ignite::Engine remote(env().tls_options());
  const auto svc = remote.load(example_service("hello-quickjs"));
  // 300 KB in on stdin (ends only with TLS close_notify), twice that out on stdout.
  const std::string name(300 * 1024, 'x');
  const auto r = remote.execute(svc, {.input = R"({"name":")" + name + R"("})"});
  ASSERT_EQ(r.outcome, Ignite::Outcome::Success) << r.stderr_text;
  EXPECT_THAT(r.stdout_text, HasSubstr("Hello, " + name + "!"));
  EXPECT_GT(r.stdout_text.size(), 2 * name.size());
}

TEST(RemoteTls, WarmPoolRunsJobsOnTheHijackedTlsStream) {
  REQUIRE_TLS_DAEMON();
  ensure_quickjs_on_tls_daemon();
  auto options = env().tls_options();
  options.pool.size = 1;
  Ignite::Engine remote(options);
  const auto svc = remote.load(example_service("hello-quickjs"));
  ASSERT_EQ(remote.prewarm(svc), 1u);
  const auto r = remote.execute(svc, {.input = R"({"name":"pool"})"});
  EXPECT_EQ(r.outcome, Ignite::Outcome::Success) << r.stderr_text;
  EXPECT_EQ(r.container_start, Ignite::ContainerStart::Warm);
  EXPECT_THAT(r.stdout_text, HasSubstr("Hello, pool!"));
}

TEST(RemoteTls, MountIsRefusedForARemoteDaemon) {
  REQUIRE_TLS_DAEMON();
  Ignite::Engine remote(env().tls_options());
  const auto svc = remote.load(example_service("hello-quickjs"));
  const auto [message, ms] = expect_failure(
      [&] { remote.execute(svc, {.delivery = Ignite::CodeDelivery::Mount}); }, ErrorCode::Config);
  EXPECT_THAT(message, HasSubstr("cannot see the service directory"));
  EXPECT_THAT(message, HasSubstr(env().tls_url()));
}

TEST(RemoteTls, DockerContextAndEnvironmentNameTheSameDaemon) {
  REQUIRE_TLS_DAEMON();
  Ignite::testing::TempDir config;
  // As `docker context create tls-test --docker host=...,ca=...,cert=...,key=...` stores it.
  const std::string name = "ignite-tls-test";
  const std::string digest =
      trim(run_command("printf %s " + name + " | sha256sum | cut -d' ' -f1").out);
  const fs::path meta = config.path() / "contexts/meta" / digest;
  const fs::path tls = config.path() / "contexts/tls" / digest / "docker";
  fs::create_directories(meta);
  fs::create_directories(tls);
  Ignite::testing::write_file(
      meta / "meta.json",
      nlohmann::json{
          {"Name", name},
          {"Metadata", nlohmann::json::object()},
          {"Endpoints", {{"docker", {{"Host", env().tls_url()}, {"SkipTLSVerify", false}}}}}}
          .dump());
  for (const char* f : {"ca.pem", "cert.pem", "key.pem"}) {
    fs::copy_file(env().tls_dir / "client" / f, tls / f);
  }
  Ignite::testing::write_file(config.path() / "config.json",
                              nlohmann::json{{"currentContext", name}}.dump());

  struct Env {
    std::string name;
    std::optional<std::string> saved;
    Env(std::string n, const std::string& value) : name(std::move(n)) {
      if (const char* v = std::getenv(name.c_str())) saved = v;
      ::setenv(name.c_str(), value.c_str(), 1);
    }
    ~Env() {
      if (saved) {
        ::setenv(name.c_str(), saved->c_str(), 1);
      } else {
        ::unsetenv(name.c_str());
      }
    }
  };
  Env docker_config("DOCKER_CONFIG", config.path().string());
  ::unsetenv("DOCKER_HOST");
  {
    // The config's currentContext.
    Ignite::Engine by_config({.reap_on_start = false});
    EXPECT_EQ(by_config.docker_endpoint(), env().tls_url());
    EXPECT_NO_THROW(by_config.ping());
  }
  {
    Ignite::EngineOptions o;
    o.docker_context = name;
    o.reap_on_start = false;
    Ignite::Engine by_option(o);
    EXPECT_NO_THROW(by_option.ping());
    // DOCKER_HOST names the daemon the default context means.
    Env host("DOCKER_CONTEXT", "default");
    Ignite::Engine by_env({.reap_on_start = false});
    EXPECT_EQ(by_env.docker_endpoint(), "unix:///var/run/docker.sock");
  }
  {
    Env host("DOCKER_HOST", env().tls_url());
    Env verify("DOCKER_TLS_VERIFY", "1");
    Env certs("DOCKER_CERT_PATH", (env().tls_dir / "client").string());
    Ignite::Engine by_docker_host({.reap_on_start = false});
    EXPECT_NO_THROW(by_docker_host.ping());
  }
  const auto [message, ms] = expect_failure(
      [&] {
        Ignite::EngineOptions o;
        o.docker_context = "no-such-context";
        Ignite::Engine e(o);
      },
      ErrorCode::Config);
  EXPECT_THAT(message, HasSubstr("docker context \"no-such-context\" does not exist"));
}

// ---- the CLI: --host for every command, images copy --------------------------------------

std::string cli() { return Ignite::testing::runfile("examples/cli/ignite").string(); }

TEST(RemoteTlsCli, ImagesCopyAndRunWithHost) {
  REQUIRE_TLS_DAEMON();
  ensure_quickjs_on_tls_daemon();
  // Untag the runtime image there, so the CLI has something to copy.
  Ignite::docker::DockerClient direct((env().tls_dir / "docker.sock").string());
  direct.image_remove(kQuickjsImage, /*force=*/true);
  ASSERT_FALSE(direct.image_inspect(kQuickjsImage).has_value());

  const std::string certs = (env().tls_dir / "client").string();
  const auto copy = run_command(cli() + " images copy --to " + env().tls_url() +
                                " --to-cert-path " + certs + " quickjs --json");
  ASSERT_EQ(copy.status, 0) << copy.err;
  const auto copied = nlohmann::json::parse(copy.out);
  EXPECT_EQ(copied["copied"], nlohmann::json::array({kQuickjsImage}));
  EXPECT_EQ(copied["to"], env().tls_url());
  EXPECT_GT(copied["bytes"].get<long long>(), 1'000'000);
  EXPECT_TRUE(direct.image_inspect(kQuickjsImage).has_value());

  const auto run = run_command(cli() + " --host " + env().tls_url() + " --cert-path " + certs +
                               " run " + example_service("hello-quickjs").string() +
                               " --input '{\"name\":\"cli\"}' --json");
  ASSERT_EQ(run.status, 0) << run.err << run.out;
  const auto report = nlohmann::json::parse(run.out);
  const auto execution = report.contains("execution") ? report["execution"] : report;
  EXPECT_THAT(execution.dump(), HasSubstr("Hello, cli!"));
  EXPECT_THAT(execution.dump(), HasSubstr("\"mode\":\"baked\""));

  // A bad target is named, with the problem.
  const auto bad = run_command(cli() + " images copy --to " + env().tls_url() + " --to-cert-path " +
                               (env().tls_dir / "wrong-ca").string() + " quickjs");
  EXPECT_EQ(bad.status, 1);
  EXPECT_THAT(bad.err, HasSubstr("not signed by the CA"));
}

// ---- bad TLS: fails within seconds, naming the endpoint and the problem ---------------------

TEST(RemoteTlsRefused, WrongCaForTheDaemonsCertificate) {
  REQUIRE_TLS_DAEMON();
  Ignite::Engine e(env().tls_options("wrong-ca"));
  const auto [message, ms] = expect_failure([&] { e.ping(); }, ErrorCode::DockerUnavailable);
  EXPECT_THAT(message, HasSubstr(env().tls_url()));
  EXPECT_THAT(message,
              HasSubstr("not signed by the CA in " + (env().tls_dir / "wrong-ca/ca.pem").string()));
  EXPECT_LT(ms, 3000);
  std::cerr << "[remote] wrong CA: " << ms << " ms: " << message << "\n";

  // The attach stream's own TLS connection says the same.
  Ignite::docker::DockerClient client(Ignite::docker::resolve_endpoint(
      {.host = env().tls_url(), .tls_verify = true, .cert_path = env().tls_dir / "wrong-ca"}));
  const auto [attach_message, attach_ms] = expect_failure(
      [&] { client.container_attach("0123456789ab", true); }, ErrorCode::DockerUnavailable);
  EXPECT_THAT(attach_message, HasSubstr("not signed by the CA"));
  EXPECT_THAT(attach_message, HasSubstr(env().tls_url()));
  EXPECT_LT(attach_ms, 3000);
}

TEST(RemoteTlsRefused, ExpiredClientCertificateIsNamedBeforeConnecting) {
  REQUIRE_TLS_DAEMON();
  const auto [message, ms] =
      expect_failure([&] { Ignite::Engine e(env().tls_options("expired")); }, ErrorCode::Config);
  EXPECT_THAT(message, HasSubstr((env().tls_dir / "expired/cert.pem").string()));
  EXPECT_THAT(message, HasSubstr("expired on"));
  EXPECT_THAT(message, HasSubstr(env().tls_url()));
  EXPECT_LT(ms, 3000);
  std::cerr << "[remote] expired client cert: " << ms << " ms: " << message << "\n";
}

TEST(RemoteTlsRefused, MissingClientCertificate) {
  REQUIRE_TLS_DAEMON();
  Ignite::Engine e(env().tls_options("no-client"));
  const auto [message, ms] = expect_failure([&] { e.ping(); }, ErrorCode::DockerUnavailable);
  EXPECT_THAT(message, HasSubstr(env().tls_url()));
  EXPECT_THAT(message, HasSubstr("requires a client certificate and none was presented"));
  EXPECT_LT(ms, 3000);
  std::cerr << "[remote] no client cert: " << ms << " ms: " << message << "\n";
}

TEST(RemoteTlsRefused, ClientCertificateFromAnotherCa) {
  REQUIRE_TLS_DAEMON();
  Ignite::Engine e(env().tls_options("foreign-client"));
  const auto [message, ms] = expect_failure([&] { e.ping(); }, ErrorCode::DockerUnavailable);
  EXPECT_THAT(message, HasSubstr(env().tls_url()));
  EXPECT_THAT(message, HasSubstr("refused the client certificate"));
  EXPECT_LT(ms, 3000);
  std::cerr << "[remote] foreign client cert: " << ms << " ms: " << message << "\n";

  Ignite::docker::DockerClient client(
      Ignite::docker::resolve_endpoint({.host = env().tls_url(),
                                        .tls_verify = true,
                                        .cert_path = env().tls_dir / "foreign-client"}));
  const auto [attach_message, attach_ms] = expect_failure(
      [&] { client.container_attach("0123456789ab", true); }, ErrorCode::DockerUnavailable);
  EXPECT_THAT(attach_message, HasSubstr("refused the client certificate"));
  EXPECT_LT(attach_ms, 3000);
}

TEST(RemoteTlsRefused, PlainClientOnTheTlsPort) {
  REQUIRE_TLS_DAEMON();
  auto options = env().tls_options();
  options.docker_tls_verify = false;
  options.allow_plain_tcp = true;  // not loopback: plain TCP must be asked for (and is wrong here)
  Ignite::Engine e(options);
  const auto [message, ms] = expect_failure([&] { e.ping(); }, ErrorCode::DockerUnavailable);
  EXPECT_THAT(message, HasSubstr(env().tls_url()));
  EXPECT_THAT(message, HasSubstr("speaks TLS and this client sent plain HTTP"));
  EXPECT_LT(ms, 3000);
  std::cerr << "[remote] plain client on TLS port: " << ms << " ms: " << message << "\n";
}

// A plain TCP server on a loopback port: `reply` is sent after the first bytes arrive (a
// plain-HTTP daemon answering a TLS ClientHello with 400), or nothing at all (one waiting for
// the end of a request line that never comes).
class PlainServer {
 public:
  explicit PlainServer(std::string reply) : reply_(std::move(reply)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 8);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~PlainServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  std::string url() const { return "tcp://127.0.0.1:" + std::to_string(port_); }

 private:
  void serve() {
    std::vector<int> clients;
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) > 0) {
        const int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) continue;
        clients.push_back(c);
        char buf[4096];
        pollfd q{c, POLLIN, 0};
        if (!reply_.empty() && ::poll(&q, 1, 1000) > 0 && ::recv(c, buf, sizeof buf, 0) > 0) {
          (void)::send(c, reply_.data(), reply_.size(), MSG_NOSIGNAL);
          ::shutdown(c, SHUT_WR);
        }
      }
    }
    for (const int c : clients) ::close(c);
  }
  std::string reply_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(RemoteTlsRefused, TlsClientOnAPlainPort) {
  REQUIRE_TLS_DAEMON();
  {
    PlainServer plain("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    auto options = env().tls_options();
    options.docker_host = plain.url();
    Ignite::Engine e(options);
    const auto [message, ms] = expect_failure([&] { e.ping(); }, ErrorCode::DockerUnavailable);
    EXPECT_THAT(message, HasSubstr(plain.url()));
    EXPECT_THAT(message, HasSubstr("does not speak TLS"));
    EXPECT_LT(ms, 3000);
    std::cerr << "[remote] TLS client on plain port (answers): " << ms << " ms: " << message
              << "\n";
  }
  {
    PlainServer silent("");
    auto options = env().tls_options();
    options.docker_host = silent.url();
    Ignite::Engine e(options);
    const auto [message, ms] = expect_failure([&] { e.ping(); }, ErrorCode::DockerUnavailable);
    EXPECT_THAT(message, HasSubstr(silent.url()));
    EXPECT_THAT(message, HasSubstr("no TLS handshake reply"));
    EXPECT_LT(ms, 8000);
    std::cerr << "[remote] TLS client on plain port (silent): " << ms << " ms: " << message << "\n";

    Ignite::docker::DockerClient client(Ignite::docker::resolve_endpoint(
        {.host = silent.url(), .tls_verify = true, .cert_path = env().tls_dir / "client"}));
    client.set_timeouts({.metadata = 2000ms, .lifecycle = 2000ms, .build = 2000ms});
    const auto [attach_message, attach_ms] = expect_failure(
        [&] { client.container_attach("0123456789ab", true); }, ErrorCode::DockerUnavailable);
    EXPECT_THAT(attach_message, HasSubstr("no TLS handshake reply in time"));
    EXPECT_LT(attach_ms, 5000);
  }
}

// ---- ssh:// ---------------------------------------------------------------------------------

Ignite::EngineOptions ssh_options(const fs::path& config) {
  Ignite::EngineOptions o;
  o.docker_host = "ssh://" + env().ssh_user + "@127.0.0.1:" + std::to_string(env().ssh_port);
  o.ssh_options = {"-F", config.string()};
  o.reap_on_start = false;
  return o;
}

TEST(RemoteSsh, ExecutesThroughSshDialStdio) {
  REQUIRE_SSHD();
  Ignite::Engine engine(ssh_options(env().ssh_dir / "ssh_config"));
  EXPECT_FALSE(engine.docker_is_local());
  const auto svc = engine.load(example_service("hello-quickjs"));
  const auto t0 = Clock::now();
  const auto r = engine.execute(svc, {.input = R"({"name":"ssh"})"});
  std::cerr << "[remote] ssh execution: " << ms_since(t0) << " ms (build " << std::chrono::duration_cast<std::chrono::milliseconds>(r.phases.build).count()
            << " ms)\n";
  EXPECT_EQ(r.outcome, Ignite::Outcome::Success) << r.stderr_text;
  EXPECT_THAT(r.stdout_text, HasSubstr("Hello, ssh!"));
  EXPECT_EQ(r.delivery, Ignite::CodeDelivery::Baked);
  EXPECT_THAT(r.delivery_note, HasSubstr("ssh://"));
  engine.flush();
}

TEST(RemoteSsh, RefusedKeyIsReportedWithWhatSshSaid) {
  REQUIRE_SSHD();
  // A configuration with no usable key: ssh gives up at once (BatchMode, no prompt).
  Ignite::testing::TempDir dir;
  Ignite::testing::write_file(dir.path() / "ssh_config",
                              "Host *\n  IdentityFile " + (dir.path() / "none").string() +
                                  "\n  IdentitiesOnly yes\n  UserKnownHostsFile " +
                                  (env().ssh_dir / "known_hosts").string() +
                                  "\n  StrictHostKeyChecking yes\n");
  Ignite::Engine engine(ssh_options(dir.path() / "ssh_config"));
  const auto [message, ms] = expect_failure([&] { engine.ping(); }, ErrorCode::DockerUnavailable);
  EXPECT_THAT(message, HasSubstr("ssh://"));
  EXPECT_THAT(message, HasSubstr("Permission denied"));
  EXPECT_LT(ms, 5000);
}

}  // namespace
