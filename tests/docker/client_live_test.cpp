// DockerClient against the host's Docker daemon (DOCKER_HOST or /var/run/docker.sock).
//
// The test image is made here from /bin/busybox (Debian's busybox-static) through image_import,
// tagged ignite-test/busybox:latest and removed at the end, so the test needs no registry and
// leaves nothing behind. Everything it creates carries the label ignite-test=client_live_test.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "ignite/error.hpp"
#include "ignite/src/docker/cancel.hpp"
#include "ignite/src/docker/client.hpp"
#include "ignite/src/docker/curl_transport.hpp"
#include "ignite/src/docker/socket_http.hpp"
#include "tests/docker/stop_lateness.hpp"

namespace Ignite::docker {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char* kBusybox = "/bin/busybox";
constexpr const char* kImage = "ignite-test/busybox:latest";
constexpr const char* kBuiltImage = "ignite-test/busybox-built:latest";
constexpr const char* kLabelKey = "ignite-test";
constexpr const char* kLabelValue = "client_live_test";
const std::string kLabel = std::string(kLabelKey) + "=" + kLabelValue;

std::string tmpdir() {
  const char* dir = std::getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}

// Just enough ustar to hand the daemon a rootfs or a build context.
class TarWriter {
 public:
  void add_file(const std::string& name, std::string_view content, unsigned mode = 0644) {
    header(name, content.size(), mode, '0', "");
    data_.append(content);
    data_.append((512 - content.size() % 512) % 512, '\0');
  }
  void add_directory(const std::string& name, unsigned mode = 0755) {
    header(name + "/", 0, mode, '5', "");
  }
  void add_symlink(const std::string& name, const std::string& target) {
    header(name, 0, 0777, '2', target);
  }
  std::string finish() {
    data_.append(1024, '\0');
    return std::move(data_);
  }

 private:
  static void octal(char* field, std::size_t width, unsigned long long value) {
    std::snprintf(field, width, "%0*llo", static_cast<int>(width - 1), value);
  }
  void header(const std::string& name, std::size_t size, unsigned mode, char type,
              const std::string& link) {
    if (name.size() >= 100 || link.size() >= 100) throw std::runtime_error("tar name too long");
    char h[512] = {};
    std::memcpy(h, name.data(), name.size());
    octal(h + 100, 8, mode);
    octal(h + 108, 8, 0);
    octal(h + 116, 8, 0);
    octal(h + 124, 12, size);
    octal(h + 136, 12, 1700000000);
    std::memset(h + 148, ' ', 8);
    h[156] = type;
    std::memcpy(h + 157, link.data(), link.size());
    std::memcpy(h + 257, "ustar", 6);
    std::memcpy(h + 263, "00", 2);
    unsigned sum = 0;
    for (const char c : h) sum += static_cast<unsigned char>(c);
    std::snprintf(h + 148, 8, "%06o", sum);
    data_.append(h, sizeof h);
  }

  std::string data_;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Output of one attach or logs call, split by stream.
struct Output {
  std::string out;
  std::string err;
  FrameDecoder::Callback sink() {
    return [this](StreamKind kind, std::string_view piece) {
      (kind == StreamKind::Stderr ? err : out).append(piece);
    };
  }
};

class DockerLive : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    client_ = DockerClient::from_env();
    if (::access(kBusybox, X_OK) != 0) {
      image_problem_ = std::string(kBusybox) +
                       " is missing: install Debian's busybox-static (apt-get install -y "
                       "busybox-static); the live Docker tests build their test image from it";
      return;
    }
    try {
      client_->ping();
      TarWriter rootfs;
      rootfs.add_directory("bin");
      rootfs.add_file("bin/busybox", read_file(kBusybox), 0755);
      for (const char* applet : {"sh", "cat", "echo", "sleep", "head", "true"}) {
        rootfs.add_symlink(std::string("bin/") + applet, "busybox");
      }
      rootfs.add_directory("tmp", 01777);
      const std::string tar_path = tmpdir() + "/busybox-rootfs.tar";
      std::ofstream(tar_path, std::ios::binary) << rootfs.finish();
      client_->image_import(tar_path, "ignite-test/busybox", "latest",
                            {"ENV PATH=/bin", "CMD [\"/bin/sh\"]", "LABEL " + kLabel});
      image_ready_ = true;
    } catch (const std::exception& e) {
      image_problem_ = std::string("could not import the test image: ") + e.what();
    }
  }

  static void TearDownTestSuite() {
    if (!client_) return;
    try {
      for (const auto& c : client_->containers_list({kLabel})) {
        client_->container_remove(c.at("Id").get<std::string>());
      }
      client_->image_remove(kBuiltImage, true);
      client_->image_remove(kImage, true);
    } catch (const std::exception& e) {
      std::cerr << "cleanup failed: " << e.what() << "\n";
    }
    client_.reset();
  }

  void TearDown() override {
    // A failed assertion ends a test before its own remove(): clean up behind it.
    if (client_ && !created_.empty()) {
      for (const auto& id : created_) client_->container_remove(id);
    }
  }

  // A container of the test image, tracked for removal.
  std::string create(const std::vector<std::string>& cmd, bool open_stdin) {
    json body = {{"Image", kImage},
                 {"Cmd", cmd},
                 {"Tty", false},
                 {"AttachStdout", true},
                 {"AttachStderr", true},
                 {"NetworkDisabled", true},
                 {"Labels", {{kLabelKey, kLabelValue}}}};
    if (open_stdin) {
      body["AttachStdin"] = true;
      body["OpenStdin"] = true;
      body["StdinOnce"] = true;
    }
    const std::string id = client_->container_create(body);
    created_.push_back(id);
    return id;
  }

  void remove(const std::string& id) {
    EXPECT_TRUE(client_->container_remove(id));
    EXPECT_FALSE(client_->container_remove(id)) << "second remove must report it was gone";
    std::erase(created_, id);
  }

  static std::unique_ptr<DockerClient> client_;
  static bool image_ready_;
  static std::string image_problem_;
  std::vector<std::string> created_;
};

std::unique_ptr<DockerClient> DockerLive::client_;
bool DockerLive::image_ready_ = false;
std::string DockerLive::image_problem_;

#define REQUIRE_TEST_IMAGE() ASSERT_TRUE(image_ready_) << image_problem_

TEST_F(DockerLive, PingAndVersion) {
  EXPECT_NO_THROW(client_->ping());
  const json version = client_->version();
  EXPECT_TRUE(version.at("ApiVersion").is_string());
  EXPECT_TRUE(version.at("Version").is_string());
}

TEST_F(DockerLive, UnreachableSocketFailsFastWithItsPath) {
  // TEST_TMPDIR is too long for a socket address (108 bytes): use a short private directory.
  char dir_template[] = "/tmp/ignite-test-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  DockerClient absent(dir + "/no-such-dir/docker.sock");
  DockerClient too_long(tmpdir() + "/" + std::string(120, 'x') + "/docker.sock");

  // A socket file nobody listens on (a daemon that died) must fail just as fast.
  const std::string dead = dir + "/dead.sock";
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof address.sun_path, "%s", dead.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  DockerClient no_listener(dead);

  for (auto* client : {&absent, &too_long, &no_listener}) {
    const auto start = Clock::now();
    for (const auto& call :
         std::vector<std::function<void()>>{[&] { client->ping(); }, [&] { client->version(); },
                                            [&] { client->container_inspect("abc"); },
                                            [&] { client->container_attach("abc", true); }}) {
      try {
        call();
        ADD_FAILURE() << "expected DockerUnavailable for " << client->socket_path();
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::DockerUnavailable) << e.what();
        EXPECT_NE(e.message().find(client->socket_path()), std::string::npos) << e.message();
        EXPECT_NE(e.message().find("Start dockerd or set DOCKER_HOST=unix:///path"),
                  std::string::npos)
            << e.message();
      }
    }
    EXPECT_LT(Clock::now() - start, 2s);
  }
  ::close(fd);
  ::unlink(dead.c_str());
  ::rmdir(dir.c_str());
}

TEST_F(DockerLive, UnknownImageAndContainer) {
  EXPECT_FALSE(client_->image_inspect("ignite-test/nonexistent:latest").has_value());
  try {
    client_->container_create(
        {{"Image", "ignite-test/nonexistent:latest"}, {"Labels", {{kLabelKey, kLabelValue}}}});
    ADD_FAILURE() << "create from an unknown image succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::NotFound) << e.what();
    EXPECT_EQ(e.http_status(), 404);
    EXPECT_NE(e.message().find("No such image"), std::string::npos) << e.message();
  }
  const std::string id = "ignite-test-no-such-container";
  try {
    client_->container_inspect(id);
    ADD_FAILURE() << "inspect of an unknown container succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::NotFound) << e.what();
    EXPECT_NE(e.message().find("No such container"), std::string::npos) << e.message();
  }
  EXPECT_FALSE(client_->container_remove(id));
  EXPECT_FALSE(client_->container_kill(id));
  EXPECT_FALSE(client_->image_remove("ignite-test/nonexistent:latest"));
  try {
    client_->container_attach(id, false);
    ADD_FAILURE() << "attach to an unknown container succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::NotFound) << e.what();
    EXPECT_EQ(e.http_status(), 404);
  }
}

TEST_F(DockerLive, ImportedImageIsListedByLabel) {
  REQUIRE_TEST_IMAGE();
  const auto image = client_->image_inspect(kImage);
  ASSERT_TRUE(image.has_value());
  EXPECT_EQ(image->at("Config").at("Labels").at(kLabelKey), kLabelValue);
  bool listed = false;
  for (const auto& i : client_->images_list({kLabel})) {
    listed = listed || i.at("Id") == image->at("Id");
  }
  EXPECT_TRUE(listed);
  EXPECT_TRUE(client_->images_list({"ignite-test=no-such-value"}).empty());
}

TEST_F(DockerLive, AttachWithStdinRoundTrip) {
  REQUIRE_TEST_IMAGE();
  const std::string id = create({"sh", "-c", "cat; echo to-stderr >&2; exit 3"}, true);

  bool listed = false;
  for (const auto& c : client_->containers_list({kLabel})) listed = listed || c.at("Id") == id;
  EXPECT_TRUE(listed);

  // Attach before start so no output can be missed.
  Attachment attachment = client_->container_attach(id, true);
  ASSERT_TRUE(attachment.valid());
  client_->container_start(id);
  Output output;
  const auto end = attachment.pump("hello\nworld\n", output.sink(), Clock::now() + 20s);
  EXPECT_EQ(end, Attachment::End::Eof);
  EXPECT_EQ(output.out, "hello\nworld\n");
  EXPECT_EQ(output.err, "to-stderr\n");
  EXPECT_EQ(client_->container_wait(id), 3);

  Output logs;
  int nested_calls = 0;
  client_->container_logs(id, [&](StreamKind kind, std::string_view piece) {
    logs.sink()(kind, piece);
    // A callback may use the client again on the same thread while the stream is open.
    client_->ping();
    ++nested_calls;
  });
  EXPECT_GT(nested_calls, 0);
  EXPECT_EQ(logs.out, "hello\nworld\n");
  EXPECT_EQ(logs.err, "to-stderr\n");
  EXPECT_EQ(client_->container_inspect(id).at("State").at("ExitCode"), 3);
  EXPECT_FALSE(client_->container_kill(id)) << "kill of an exited container";

  remove(id);
  EXPECT_THROW(client_->container_inspect(id), Error);
  for (const auto& c : client_->containers_list({kLabel})) EXPECT_NE(c.at("Id"), id);
}

TEST_F(DockerLive, LargeStdinIsEchoedWithoutDeadlock) {
  REQUIRE_TEST_IMAGE();
  // Far beyond the pipe and socket buffers: cat blocks on output unless pump reads while it
  // is still writing.
  std::string input(4u << 20, '\0');
  std::mt19937 rng(1);
  for (auto& c : input) c = static_cast<char>('a' + rng() % 26);
  const std::string id = create({"cat"}, true);
  Attachment attachment = client_->container_attach(id, true);
  client_->container_start(id);
  Output output;
  EXPECT_EQ(attachment.pump(input, output.sink(), Clock::now() + 30s), Attachment::End::Eof);
  EXPECT_EQ(output.out.size(), input.size());
  EXPECT_TRUE(output.out == input);
  EXPECT_EQ(client_->container_wait(id), 0);
  remove(id);
}

TEST_F(DockerLive, ContainerExitingBeforeReadingStdinIsNotAnError) {
  REQUIRE_TEST_IMAGE();
  const std::string id = create({"sh", "-c", "echo early; exit 0"}, true);
  Attachment attachment = client_->container_attach(id, true);
  client_->container_start(id);
  Output output;
  const std::string input(16u << 20, 'x');  // the container never reads it
  EXPECT_EQ(attachment.pump(input, output.sink(), Clock::now() + 20s), Attachment::End::Eof);
  EXPECT_EQ(output.out, "early\n");
  EXPECT_EQ(client_->container_wait(id), 0);
  remove(id);
}

TEST_F(DockerLive, DeadlineStopAndKill) {
  REQUIRE_TEST_IMAGE();
  const std::string id = create({"sleep", "30"}, false);
  Attachment attachment = client_->container_attach(id, false);
  client_->container_start(id);
  Output output;

  auto start = Clock::now();
  EXPECT_EQ(attachment.pump("ignored: no stdin", output.sink(), start + 300ms),
            Attachment::End::Deadline);
  auto elapsed = Clock::now() - start;
  EXPECT_GE(elapsed, 300ms);
  EXPECT_LT(elapsed, 1s);

  std::atomic<bool> stop{false};
  std::thread stopper([&] {
    std::this_thread::sleep_for(100ms);
    stop = true;
  });
  start = Clock::now();
  const auto end = attachment.pump({}, output.sink(), start + 10s, [&] { return stop.load(); });
  elapsed = Clock::now() - start;
  stopper.join();
  EXPECT_EQ(end, Attachment::End::Stopped);
  // Not polling would run to the 10 s deadline; the bound leaves room for a loaded host.
  EXPECT_LT(elapsed, 100ms + 900ms) << "should_stop is polled at least every 20 ms";

  EXPECT_TRUE(client_->container_kill(id));
  EXPECT_EQ(client_->container_wait(id), 137);
  EXPECT_FALSE(client_->container_kill(id)) << "not running any more";
  EXPECT_EQ(attachment.pump({}, output.sink(), Clock::now() + 5s), Attachment::End::Eof);
  EXPECT_TRUE(output.out.empty());
  remove(id);
}

TEST_F(DockerLive, ConcurrentCallsFromManyThreads) {
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        try {
          client_->ping();
          if (client_->version().at("ApiVersion").get<std::string>().empty()) ++failures;
          if (client_->image_inspect("ignite-test/nonexistent:latest")) ++failures;
        } catch (const std::exception& e) {
          std::cerr << e.what() << "\n";
          ++failures;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(DockerLive, TransportTimeoutIsHonoured) {
  REQUIRE_TEST_IMAGE();
  const std::string id = create({"sleep", "30"}, false);
  client_->container_start(id);

  CurlTransport transport(client_->socket_path());
  HttpRequest wait;
  wait.method = "POST";
  wait.path = std::string(kApiPrefix) + "/containers/" + id + "/wait";
  wait.timeout = 300ms;
  const auto start = Clock::now();
  try {
    transport.request(wait);
    ADD_FAILURE() << "wait on a sleeping container returned within 300 ms";
  } catch (const Error& e) {
    // A daemon that does not answer in time is unavailable for this call, named with the bound.
    EXPECT_EQ(e.code(), ErrorCode::DockerUnavailable) << e.what();
    EXPECT_NE(e.message().find("did not answer POST"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("within 300 ms"), std::string::npos) << e.message();
  }
  const auto elapsed = Clock::now() - start;
  // curl's own clock fires the timeout to within a millisecond of 300 ms, either side of ours.
  EXPECT_GE(elapsed, 290ms);
  EXPECT_LT(elapsed, 3000ms);  // the wait itself would last the container's 30 s

  // The timed-out connection is not reused in a broken state.
  HttpRequest ping;
  ping.path = std::string(kApiPrefix) + "/_ping";
  const HttpResponse pong = transport.request(ping);
  EXPECT_EQ(pong.status, 200);
  EXPECT_EQ(pong.body, "OK");

  // A consumer that stops reading ends the transfer without an error.
  HttpRequest events;
  // `since` replays this container's events from its creation, so the first chunk arrives
  // whether or not the stream was subscribed before the kill; the timeout bounds a hang.
  const auto since = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count() - 120;
  events.path = std::string(kApiPrefix) + "/events?since=" + std::to_string(since) +
                "&filters=" + "%7B%22container%22%3A%5B%22" + id + "%22%5D%7D";
  events.timeout = 60s;
  std::thread killer([&] {
    std::this_thread::sleep_for(200ms);
    client_->container_kill(id);
  });
  int chunks = 0;
  const HttpResponse streamed = transport.stream(events, [&](std::string_view) {
    ++chunks;
    return false;
  });
  killer.join();
  EXPECT_EQ(streamed.status, 200);
  EXPECT_EQ(chunks, 1);
  remove(id);
}

TEST_F(DockerLive, BuildFromTestImage) {
  REQUIRE_TEST_IMAGE();
  BuildOptions options;
  options.tag = kBuiltImage;
  options.labels = {{kLabelKey, kLabelValue}, {"ignite-test.kind", "built"}};
  options.timeout = 40s;

  TarWriter good;
  good.add_file("Dockerfile", std::string("FROM ") + kImage +
                                  "\nRUN echo built-by-test > /built\nCMD [\"cat\", \"/built\"]\n");
  std::vector<std::string> log;
  const std::string id = client_->image_build(good.finish(), options,
                                              [&](std::string_view l) { log.emplace_back(l); });
  EXPECT_EQ(id.rfind("sha256:", 0), 0u) << id;
  std::ostringstream joined;
  for (const auto& l : log) joined << l << "\n";
  // The labels become extra LABEL steps, so only the first step's text is fixed.
  EXPECT_NE(joined.str().find(std::string(" : FROM ") + kImage + "\n"), std::string::npos)
      << joined.str();
  EXPECT_EQ(log.at(0).rfind("Step 1/", 0), 0u) << joined.str();
  const auto image = client_->image_inspect(kBuiltImage);
  ASSERT_TRUE(image.has_value());
  EXPECT_EQ(image->at("Id"), id);
  EXPECT_EQ(image->at("Config").at("Labels").at("ignite-test.kind"), "built");

  // The built image runs: its CMD prints what the RUN step wrote.
  const std::string cid =
      client_->container_create({{"Image", kBuiltImage}, {"Labels", {{kLabelKey, kLabelValue}}}});
  created_.push_back(cid);
  client_->container_start(cid);
  EXPECT_EQ(client_->container_wait(cid), 0);
  Output output;
  client_->container_logs(cid, output.sink());
  EXPECT_EQ(output.out, "built-by-test\n");
  remove(cid);

  // The failing step is the first after FROM, so the failed build commits no layer to leak.
  TarWriter failing;
  failing.add_file("Dockerfile", std::string("FROM ") + kImage + "\nRUN exit 3\n");
  try {
    client_->image_build(failing.finish(), options);
    ADD_FAILURE() << "failing build succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Build) << e.what();
    EXPECT_NE(e.message().find("returned a non-zero code: 3"), std::string::npos) << e.message();
  }

  TarWriter bogus;
  bogus.add_file("Dockerfile", std::string("FROM ") + kImage + "\nBOGUS x\n");
  try {
    client_->image_build(bogus.finish(), options);
    ADD_FAILURE() << "unparseable Dockerfile built";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Build) << e.what();
    EXPECT_EQ(e.http_status(), 400);
    EXPECT_NE(e.message().find("unknown instruction"), std::string::npos) << e.message();
  }

  EXPECT_TRUE(client_->image_remove(kBuiltImage));
  EXPECT_FALSE(client_->image_inspect(kBuiltImage).has_value());
}

TEST_F(DockerLive, SmallCallsOfAThreadShareOneConnection) {
  REQUIRE_TEST_IMAGE();
  // On a thread of its own (no kept connection yet): an execution's calls, a few times over.
  std::size_t opened = 0;
  std::string failure;
  std::thread([&] {
    try {
      const std::size_t before = socket_http::connections_opened();
      for (int i = 0; i < 3; ++i) {
        client_->ping();
        EXPECT_TRUE(client_->image_inspect(kImage).has_value());
        const std::string id = create({"true"}, false);
        client_->container_start(id);
        EXPECT_EQ(client_->container_wait(id), 0);
        EXPECT_TRUE(client_->container_remove(id, true));
        std::erase(created_, id);
      }
      opened = socket_http::connections_opened() - before;
    } catch (const std::exception& e) {
      failure = e.what();
    }
  }).join();
  EXPECT_EQ(failure, "");
  EXPECT_EQ(opened, 1u);
}

TEST_F(DockerLive, AStopRequestWakesAStreamAtOnce) {
  // A stream that sends nothing (events of a container that does not exist) goes through
  // libcurl: a stop request wakes its wait through the stop callback, not a look at the token
  // every kCancelPollMs (stop times out of step with 50 ms, which would be 15-40 ms late).
  CurlTransport transport(client_->socket_path());
  HttpRequest events;
  events.path = std::string(kApiPrefix) +
                "/events?filters=" + "%7B%22container%22%3A%5B%22ignite-no-such-container%22%5D%7D";
  events.timeout = 60s;
  const auto late = Ignite::testing::stop_lateness(
      [&] { transport.stream(events, [](std::string_view) { return true; }); },
      [](const Error& e) { EXPECT_EQ(e.code(), ErrorCode::Cancelled) << e.what(); });
  EXPECT_LT(late[2], 10ms);
}

// Runs last in this file: everything the tests above created must be gone.
TEST_F(DockerLive, ZzNoContainerRemains) {
  std::vector<std::string> left;
  for (const auto& c : client_->containers_list({kLabel})) {
    left.push_back(c.at("Id").get<std::string>());
  }
  EXPECT_TRUE(left.empty()) << left.size() << " labelled containers left behind";
}

}  // namespace
}  // namespace Ignite::docker
