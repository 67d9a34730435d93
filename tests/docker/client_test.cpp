// DockerClient against replies recorded from a real Docker 20.10 daemon (API 1.41) by
// tests/docker/record_testdata.py: URL building, reply parsing and error mapping.
#include "ignite/src/docker/client.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <deque>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "ignite/error.hpp"

namespace Ignite::docker {
namespace {

using json = nlohmann::json;

std::string testdata_dir() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  if (srcdir == nullptr) throw std::runtime_error("TEST_SRCDIR is not set: run under bazel test");
  return std::string(srcdir) + "/" + (workspace != nullptr ? workspace : "ignite") +
         "/tests/docker/testdata/";
}

std::string base64_decode(std::string_view text) {
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (const char c : text) {
    if (c == '=') break;
    const auto value = kAlphabet.find(c);
    if (value == std::string::npos) continue;
    buffer = (buffer << 6) | static_cast<unsigned>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  return out;
}

std::string url_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += text[i] == '+' ? ' ' : text[i];
    }
  }
  return out;
}

std::string path_of(std::string_view target) {
  return std::string(target.substr(0, target.find('?')));
}

// Query parameters of a request target; repeated keys keep every value in order.
std::multimap<std::string, std::string> query_of(std::string_view target) {
  std::multimap<std::string, std::string> params;
  const auto q = target.find('?');
  if (q == std::string_view::npos) return params;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    const auto eq = pair.find('=');
    params.emplace(url_decode(pair.substr(0, eq)),
                   eq == std::string_view::npos ? "" : url_decode(pair.substr(eq + 1)));
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return params;
}

std::string param(const std::string& target, const std::string& key) {
  const auto params = query_of(target);
  const auto it = params.find(key);
  return it == params.end() ? "<missing>" : it->second;
}

struct Recording {
  std::string name;
  std::string method;
  std::string path;  // without the query: the client's parameter order is its own business
  long status = 0;
  std::string body;
};

Recording load(const std::string& file) {
  std::ifstream in(testdata_dir() + file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open testdata/" + file);
  const json data = json::parse(in);
  Recording r;
  r.name = file;
  r.method = data.at("request").at("method").get<std::string>();
  r.path = path_of(data.at("request").at("path").get<std::string>());
  r.status = data.at("status").get<long>();
  r.body = data.contains("body_base64") ? base64_decode(data["body_base64"].get<std::string>())
                                        : data.value("body", "");
  return r;
}

// Replays recordings in the order given; each answers one request with the same method and
// path. Streams are cut into `chunk`-byte pieces to exercise reassembly.
class RecordedTransport : public Transport {
 public:
  explicit RecordedTransport(std::deque<Recording> replies, std::size_t chunk = 7)
      : replies_(std::move(replies)), chunk_(chunk) {}

  HttpResponse request(const HttpRequest& req) override {
    const Recording r = next(req);
    return {r.status, r.body};
  }

  HttpResponse stream(const HttpRequest& req,
                      const std::function<bool(std::string_view)>& on_data) override {
    const Recording r = next(req);
    if (r.status >= 400) return {r.status, r.body};
    std::string_view rest(r.body);
    while (!rest.empty()) {
      const std::string_view piece = rest.substr(0, chunk_);
      rest.remove_prefix(piece.size());
      if (!on_data(piece)) {
        aborted = true;
        break;
      }
    }
    return {r.status, {}};
  }

  std::vector<HttpRequest> seen;
  bool aborted = false;
  std::size_t unused() const { return replies_.size(); }

 private:
  Recording next(const HttpRequest& req) {
    seen.push_back(req);
    if (replies_.empty()) {
      throw std::runtime_error("unexpected request " + req.method + " " + req.path);
    }
    Recording r = replies_.front();
    if (r.method != req.method || r.path != path_of(req.path)) {
      throw std::runtime_error("request " + req.method + " " + req.path + " does not match " +
                               r.name + " (" + r.method + " " + r.path + ")");
    }
    replies_.pop_front();
    return r;
  }

  std::deque<Recording> replies_;
  std::size_t chunk_;
};

// A client whose transport replays the named recordings; `transport` observes it.
struct Fixture {
  explicit Fixture(const std::vector<std::string>& files, std::size_t chunk = 7) {
    std::deque<Recording> replies;
    for (const auto& f : files) replies.push_back(load(f));
    auto owned = std::make_unique<RecordedTransport>(std::move(replies), chunk);
    transport = owned.get();
    client = std::make_unique<DockerClient>(std::move(owned));
  }
  // A reply written here rather than recorded, for shapes the daemon is hard to provoke into.
  static Fixture replying(Recording reply) {
    Fixture f(std::vector<std::string>{});
    auto owned = std::make_unique<RecordedTransport>(std::deque<Recording>{std::move(reply)});
    f.transport = owned.get();
    f.client = std::make_unique<DockerClient>(std::move(owned));
    return f;
  }
  RecordedTransport* transport = nullptr;
  std::unique_ptr<DockerClient> client;
};

std::string recorded_container_id() {
  return json::parse(load("create_201.json").body).at("Id").get<std::string>();
}

// The container a recording talked about: "/v1.41/containers/<id>/...".
std::string container_in(const std::string& file) {
  const std::string path = load(file).path;
  const std::string prefix = "/v1.41/containers/";
  if (path.rfind(prefix, 0) != 0) throw std::runtime_error(file + " is not about a container");
  return path.substr(prefix.size(), path.find('/', prefix.size()) - prefix.size());
}

// Runs `fn`, expecting Ignite::Error with `code` and `status` whose message contains `text`.
template <typename Fn>
void expect_error(Fn&& fn, ErrorCode code, int status, const std::string& text) {
  try {
    fn();
    ADD_FAILURE() << "expected Ignite::Error(" << to_string(code) << ")";
  } catch (const Error& e) {
    EXPECT_EQ(to_string(e.code()), to_string(code)) << e.what();
    EXPECT_EQ(e.http_status(), status) << e.what();
    EXPECT_NE(e.message().find(text), std::string::npos)
        << "message lacks \"" << text << "\": " << e.message();
    if (status != 0) {
      EXPECT_NE(e.message().find("(HTTP " + std::to_string(status) + ")"), std::string::npos)
          << e.message();
    }
  }
}

TEST(DockerClientRecorded, Ping) {
  Fixture f({"ping.json"});
  EXPECT_NO_THROW(f.client->ping());
  ASSERT_EQ(f.transport->seen.size(), 1u);
  EXPECT_EQ(f.transport->seen[0].method, "GET");
  EXPECT_EQ(f.transport->seen[0].path, "/v1.41/_ping");
  EXPECT_GT(f.transport->seen[0].timeout.count(), 0);
}

TEST(DockerClientRecorded, Version) {
  Fixture f({"version.json"});
  const json v = f.client->version();
  EXPECT_EQ(v.at("ApiVersion"), "1.41");
  EXPECT_TRUE(v.at("Version").is_string());
}

TEST(DockerClientRecorded, ImageInspectFound) {
  Fixture f({"image_inspect_200.json"});
  const auto image = f.client->image_inspect("ignite-test/busybox:record");
  ASSERT_TRUE(image.has_value());
  EXPECT_EQ(image->at("Id").get<std::string>().rfind("sha256:", 0), 0u);
  EXPECT_EQ(image->at("Config").at("Labels").at("ignite-test"), "record");
  // Image references keep their slash and colon in the path, as the daemon routes them.
  EXPECT_EQ(f.transport->seen[0].path, "/v1.41/images/ignite-test/busybox:record/json");
}

TEST(DockerClientRecorded, ImageInspect404IsNullopt) {
  Fixture f({"image_inspect_404.json"});
  EXPECT_FALSE(f.client->image_inspect("ignite-test/nonexistent:latest").has_value());
}

TEST(DockerClientRecorded, ImageImportStreamsFileWithChanges) {
  Fixture f({"import_200.json"});
  const std::string tar = std::string(std::getenv("TEST_TMPDIR")) + "/rootfs.tar";
  std::ofstream(tar) << "not really a tar";
  f.client->image_import(tar, "ignite-test/busybox", "record",
                         {"ENV PATH=/bin", "CMD [\"/bin/sh\"]", "LABEL ignite-test=record"});
  const HttpRequest& req = f.transport->seen.at(0);
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.body_file, tar);
  EXPECT_TRUE(req.body.empty()) << "the tarball must be streamed, not loaded";
  EXPECT_EQ(req.content_type, "application/x-tar");
  EXPECT_EQ(param(req.path, "fromSrc"), "-");
  EXPECT_EQ(param(req.path, "repo"), "ignite-test/busybox");
  EXPECT_EQ(param(req.path, "tag"), "record");
  const auto params = query_of(req.path);
  const auto [first, last] = params.equal_range("changes");
  std::vector<std::string> changes;
  for (auto it = first; it != last; ++it) changes.push_back(it->second);
  EXPECT_EQ(changes, (std::vector<std::string>{"ENV PATH=/bin", "CMD [\"/bin/sh\"]",
                                               "LABEL ignite-test=record"}));
}

TEST(DockerClientRecorded, ImageImportErrorInsideA200Reply) {
  // Shape of the daemon's in-band failure report (same as a failed build's last line).
  auto f = Fixture::replying(
      Recording{"inline", "POST", "/v1.41/images/create", 200,
                "{\"status\":\"Downloading\"}\r\n{\"errorDetail\":{\"message\":\"unexpected "
                "EOF\"},\"error\":\"unexpected EOF\"}\r\n"});
  const std::string tar = std::string(std::getenv("TEST_TMPDIR")) + "/broken.tar";
  std::ofstream(tar) << "x";
  expect_error([&] { f.client->image_import(tar, "ignite-test/x", "y", {}); }, ErrorCode::Docker, 0,
               "unexpected EOF");
}

TEST(DockerClientRecorded, CreateUnknownImageIsNotFound) {
  Fixture f({"create_404.json"});
  expect_error(
      [&] {
        f.client->container_create(json{{"Image", "ignite-test/nonexistent:latest"}});
      },
      ErrorCode::NotFound, 404, "No such image: ignite-test/nonexistent:latest");
  const HttpRequest& req = f.transport->seen.at(0);
  EXPECT_EQ(req.path, "/v1.41/containers/create");
  EXPECT_EQ(req.content_type, "application/json");
  EXPECT_EQ(json::parse(req.body).at("Image"), "ignite-test/nonexistent:latest");
}

TEST(DockerClientRecorded, CreateReturnsIdAndSendsName) {
  Fixture f({"create_201.json"});
  const json body = {{"Image", "ignite-test/busybox:record"}, {"Cmd", {"sh"}}};
  EXPECT_EQ(f.client->container_create(body, "ignite-test-record-1"), recorded_container_id());
  EXPECT_EQ(param(f.transport->seen[0].path, "name"), "ignite-test-record-1");
  EXPECT_EQ(json::parse(f.transport->seen[0].body), body);
}

TEST(DockerClientRecorded, CreateNameConflictIsDockerError) {
  Fixture f({"create_409.json"});
  expect_error(
      [&] {
        f.client->container_create(json{{"Image", "ignite-test/busybox:record"}},
                                   "ignite-test-record-1");
      },
      ErrorCode::Docker, 409, "is already in use");
}

TEST(DockerClientRecorded, Start) {
  const std::string id = container_in("start_204.json");
  Fixture f({"start_204.json", "start_304.json", "start_404.json"});
  EXPECT_NO_THROW(f.client->container_start(id));
  // 304: already running is fine
  EXPECT_NO_THROW(f.client->container_start(container_in("start_304.json")));
  expect_error([&] { f.client->container_start(container_in("start_404.json")); },
               ErrorCode::NotFound, 404, "No such container");
  EXPECT_EQ(f.transport->seen[0].method, "POST");
  EXPECT_EQ(f.transport->seen[0].path, "/v1.41/containers/" + id + "/start");
}

TEST(DockerClientRecorded, WaitReturnsStatusCode) {
  const std::string id = recorded_container_id();
  Fixture f({"wait_200.json"});
  EXPECT_EQ(f.client->container_wait(id), 3);
  EXPECT_EQ(param(f.transport->seen[0].path, "condition"), "not-running");
  // Bounded: callers wait after a kill or for a container known to be ending, and a daemon
  // that does not answer must not hold them forever.
  EXPECT_EQ(f.transport->seen[0].timeout, f.client->timeouts().lifecycle);
}

TEST(DockerClientRecorded, EachKindOfCallHasItsOwnBound) {
  const std::string id = recorded_container_id();
  Fixture f({"wait_200.json", "wait_200.json"});
  f.client->set_timeouts({std::chrono::milliseconds(1111), std::chrono::milliseconds(2222),
                          std::chrono::milliseconds(3333)});
  f.client->container_wait(id);
  f.client->container_wait(id, "not-running", std::chrono::milliseconds(44));
  EXPECT_EQ(f.transport->seen[0].timeout.count(), 2222);
  EXPECT_EQ(f.transport->seen[1].timeout.count(), 44);
}

TEST(DockerClientRecorded, WaitErrorFieldThrows) {
  auto f = Fixture::replying(
      Recording{"inline", "POST", "/v1.41/containers/abc/wait", 200,
                R"({"Error":{"Message":"container was removed"},"StatusCode":-1})"});
  expect_error([&] { f.client->container_wait("abc"); }, ErrorCode::Docker, 0,
               "container was removed");
}

TEST(DockerClientRecorded, LogsAreDemultiplexed) {
  const std::string id = recorded_container_id();
  for (const std::size_t chunk : {std::size_t{1}, std::size_t{5}, std::size_t{4096}}) {
    Fixture f({"logs_200.json"}, chunk);
    std::string out;
    std::string err;
    f.client->container_logs(id, [&](StreamKind kind, std::string_view piece) {
      (kind == StreamKind::Stderr ? err : out).append(piece);
    });
    EXPECT_EQ(out, "out\n") << "chunk " << chunk;
    EXPECT_EQ(err, "err\n") << "chunk " << chunk;
    EXPECT_EQ(param(f.transport->seen[0].path, "stdout"), "1");
    EXPECT_EQ(param(f.transport->seen[0].path, "stderr"), "1");
  }
}

TEST(DockerClientRecorded, LogsTruncatedMidFrameThrows) {
  Recording r = load("logs_200.json");
  r.body.resize(r.body.size() - 2);
  auto f = Fixture::replying(std::move(r));
  expect_error([&] { f.client->container_logs(container_in("logs_200.json"), {}); },
               ErrorCode::Docker, 0, "middle of a frame");
}

TEST(DockerClientRecorded, Kill) {
  Fixture f({"kill_204.json", "kill_409.json", "kill_404.json"});
  EXPECT_TRUE(f.client->container_kill(container_in("kill_204.json")));
  EXPECT_FALSE(f.client->container_kill(container_in("kill_409.json")));  // not running
  EXPECT_FALSE(f.client->container_kill(container_in("kill_404.json")));  // gone
  EXPECT_EQ(param(f.transport->seen[0].path, "signal"), "KILL");
}

TEST(DockerClientRecorded, Remove) {
  const std::string id = recorded_container_id();
  Fixture f({"remove_204.json", "remove_404.json"});
  EXPECT_TRUE(f.client->container_remove(id));
  EXPECT_FALSE(f.client->container_remove(id));
  EXPECT_EQ(f.transport->seen[0].method, "DELETE");
  EXPECT_EQ(param(f.transport->seen[0].path, "force"), "1");
  EXPECT_EQ(param(f.transport->seen[0].path, "v"), "1");
}

TEST(DockerClientRecorded, RemoveConflictOtherThanInProgressThrows) {
  auto f =
      Fixture::replying(Recording{"inline", "DELETE", "/v1.41/containers/abc", 409,
                                  R"({"message":"You cannot remove a running container abc"})"});
  expect_error([&] { f.client->container_remove("abc", false); }, ErrorCode::Docker, 409,
               "cannot remove a running container");
}

TEST(DockerClientRecorded, InspectUnknownContainerIsNotFound) {
  const std::string id = recorded_container_id();
  Fixture f({"container_inspect_404.json"});
  expect_error([&] { f.client->container_inspect(id); }, ErrorCode::NotFound, 404,
               "No such container: " + id);
}

TEST(DockerClientRecorded, ListsFilterByLabel) {
  Fixture f({"images_list.json", "containers_list.json"});
  const auto images = f.client->images_list({"ignite-test=record"});
  ASSERT_EQ(images.size(), 1u);
  EXPECT_EQ(images[0].at("RepoTags").at(0), "ignite-test/busybox:record");
  const auto containers = f.client->containers_list({"ignite-test=record"});
  ASSERT_EQ(containers.size(), 1u);
  EXPECT_EQ(containers[0].at("Id"), recorded_container_id());

  for (const auto& req : f.transport->seen) {
    EXPECT_EQ(json::parse(param(req.path, "filters")),
              (json{{"label", json::array({"ignite-test=record"})}}))
        << req.path;
  }
  EXPECT_EQ(param(f.transport->seen[1].path, "all"), "1");
}

TEST(DockerClientRecorded, ImageRemove) {
  Fixture f({"image_remove_200.json", "image_remove_404.json"});
  EXPECT_TRUE(f.client->image_remove("ignite-test/build:record", true));
  EXPECT_FALSE(f.client->image_remove("ignite-test/build:record", true));
  EXPECT_EQ(f.transport->seen[0].path, "/v1.41/images/ignite-test/build:record?force=1");
}

TEST(DockerClientRecorded, BuildReturnsAuxIdAndWholeLogLines) {
  json recorded_id;
  {
    const Recording r = load("build_ok.json");
    std::istringstream lines(r.body);
    for (std::string line; std::getline(lines, line);) {
      const json m = json::parse(line, nullptr, false);
      if (m.is_object() && m.contains("aux")) recorded_id = m["aux"]["ID"];
    }
  }
  ASSERT_TRUE(recorded_id.is_string());

  for (const std::size_t chunk : {std::size_t{1}, std::size_t{7}, std::size_t{1} << 20}) {
    Fixture f({"build_ok.json"}, chunk);
    BuildOptions options;
    options.tag = "ignite-test/build:record";
    options.labels = {{"ignite-test", "record"}};
    std::vector<std::string> log;
    const std::string context = "context tar bytes";
    const std::string id = f.client->image_build(
        context, options, [&](std::string_view line) { log.emplace_back(line); });
    EXPECT_EQ(id, recorded_id.get<std::string>());
    ASSERT_FALSE(log.empty());
    EXPECT_EQ(log.front(), "Step 1/3 : FROM ignite-test/busybox:record") << "chunk " << chunk;
    EXPECT_EQ(log.back(), "Successfully tagged ignite-test/build:record");
    for (const auto& line : log) EXPECT_EQ(line.find('\n'), std::string::npos);

    const HttpRequest& req = f.transport->seen.at(0);
    EXPECT_EQ(req.method, "POST");
    EXPECT_EQ(path_of(req.path), "/v1.41/build");
    EXPECT_EQ(req.content_type, "application/x-tar");
    EXPECT_EQ(req.body, context);
    // No timeout of its own: the client's build bound.
    EXPECT_EQ(req.timeout, f.client->timeouts().build);
    EXPECT_EQ(param(req.path, "t"), "ignite-test/build:record");
    EXPECT_EQ(json::parse(param(req.path, "labels")), json({{"ignite-test", "record"}}));
    EXPECT_EQ(param(req.path, "dockerfile"), "Dockerfile");
    EXPECT_EQ(param(req.path, "rm"), "1");
    EXPECT_EQ(param(req.path, "forcerm"), "1");
    EXPECT_EQ(param(req.path, "pull"), "0");
  }
}

TEST(DockerClientRecorded, BuildErrorDetailIsBuildError) {
  Fixture f({"build_error.json"});
  BuildOptions options;
  options.tag = "ignite-test/build:record";
  std::vector<std::string> log;
  expect_error(
      [&] {
        f.client->image_build("ctx", options, [&](std::string_view l) { log.emplace_back(l); });
      },
      ErrorCode::Build, 0, "The command '/bin/sh -c exit 3' returned a non-zero code: 3");
  EXPECT_FALSE(log.empty()) << "lines before the error still reach on_log";
}

TEST(DockerClientRecorded, BuildRejectedDockerfileIsBuildErrorWithStatus) {
  Fixture f({"build_parse_error.json"});
  BuildOptions options;
  options.tag = "ignite-test/build:record";
  expect_error([&] { f.client->image_build("ctx", options); }, ErrorCode::Build, 400,
               "unknown instruction: BOGUS");
}

TEST(DockerClientRecorded, NonJsonErrorBodyIsQuoted) {
  auto f =
      Fixture::replying(Recording{"inline", "GET", "/v1.41/version", 500, "  upstream exploded\n"});
  expect_error([&] { f.client->version(); }, ErrorCode::Docker, 500, "upstream exploded");
}

TEST(DockerClientRecorded, TransportUnavailablePropagates) {
  class Down : public Transport {
   public:
    HttpResponse request(const HttpRequest&) override {
      throw Error(ErrorCode::DockerUnavailable, "Docker daemon not reachable at /x.sock");
    }
    HttpResponse stream(const HttpRequest& r,
                        const std::function<bool(std::string_view)>&) override {
      return request(r);
    }
  };
  DockerClient client(std::make_unique<Down>());
  expect_error([&] { client.ping(); }, ErrorCode::DockerUnavailable, 0, "/x.sock");
  expect_error([&] { client.container_inspect("abc"); }, ErrorCode::DockerUnavailable, 0,
               "/x.sock");
}

TEST(DockerClientRecorded, AttachWithoutSocketPathIsInvalidArgument) {
  Fixture f(std::vector<std::string>{});
  expect_error([&] { f.client->container_attach("abc", true); }, ErrorCode::InvalidArgument, 0,
               "socket");
}

class DockerHostEnv : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* v = std::getenv("DOCKER_HOST")) saved_ = v;
  }
  void TearDown() override {
    if (saved_) {
      setenv("DOCKER_HOST", saved_->c_str(), 1);
    } else {
      unsetenv("DOCKER_HOST");
    }
  }
  std::optional<std::string> saved_;
};

TEST_F(DockerHostEnv, UnsetOrEmptyMeansDefaultSocket) {
  unsetenv("DOCKER_HOST");
  EXPECT_EQ(socket_from_env(), "/var/run/docker.sock");
  setenv("DOCKER_HOST", "", 1);
  EXPECT_EQ(socket_from_env(), "/var/run/docker.sock");
}

TEST_F(DockerHostEnv, UnixSocketPath) {
  setenv("DOCKER_HOST", "unix:///run/user/1000/docker.sock", 1);
  EXPECT_EQ(socket_from_env(), "/run/user/1000/docker.sock");
  EXPECT_EQ(DockerClient::from_env()->socket_path(), "/run/user/1000/docker.sock");
}

TEST_F(DockerHostEnv, OtherSchemesAreConfigErrors) {
  for (const char* value : {"tcp://127.0.0.1:2375", "ssh://user@host", "/var/run/docker.sock"}) {
    setenv("DOCKER_HOST", value, 1);
    expect_error([] { socket_from_env(); }, ErrorCode::Config, 0,
                 std::string("DOCKER_HOST=") + value + ": only unix:// sockets are supported");
  }
  setenv("DOCKER_HOST", "unix://", 1);
  expect_error([] { socket_from_env(); }, ErrorCode::Config, 0, "DOCKER_HOST=unix://");
}

}  // namespace
}  // namespace Ignite::docker
