// No image leaks from per-service image builds, on the real daemon: every image a build commits
// (its intermediate images too) carries Ignite's labels from its first step; a build that did
// not finish (a callback that stopped it, a cancellation, a step that failed) leaves no
// dangling image of its own; executions of a new service started together build it once; and
// the reaper removes old dangling Ignite images but never an image that is not Ignite's.
//
// Every image here is found by a label this test run makes up (kTestLabel=<random>), so the
// assertions and the clean-up touch nothing of other tests on the shared daemon.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <set>
#include <thread>

#include "ignite/engine.hpp"
#include "ignite/error.hpp"
#include "ignite/src/docker/client.hpp"
#include "ignite/src/reaper.hpp"
#include "tests/test_util.hpp"

using namespace std::chrono_literals;
using Ignite::testing::run_command;
using Ignite::testing::TempDir;
using Ignite::testing::write_file;
using ::testing::HasSubstr;
using json = nlohmann::json;

namespace {

constexpr const char* kTestLabel = "test.ignite-image-leak";

Ignite::docker::DockerClient& client() {
  static Ignite::docker::DockerClient c(Ignite::docker::socket_from_env());
  return c;
}

std::string random_id() {
  std::random_device rd;
  return std::to_string(::getpid()) + "-" + std::to_string(rd() % 1000000);
}

// One test's images: made with its own label value, removed (forced) at the end whatever
// happened.
struct Images {
  std::string run = random_id();
  std::string filter() const { return std::string(kTestLabel) + "=" + run; }
  std::vector<json> dangling() const { return client().images_list({filter()}, true); }
  std::vector<json> all() const { return client().images_list({filter()}); }
  ~Images() {
    for (const auto& img : all()) {
      try {
        client().image_remove(img.value("Id", ""), true);
      } catch (const std::exception&) {
      }
    }
  }
};

Ignite::EngineOptions options_for(const Images& images) {
  Ignite::EngineOptions o;
  o.labels = {{kTestLabel, images.run}};
  return o;
}

// A quickjs service whose image build takes a while: node_modules with many files.
struct Scratch {
  TempDir dir;
  Scratch(const std::string& name, int files, const std::string& runtime = "quickjs") {
    write_file(dir.path() / "service.yaml", "service:\n  name: " + name +
                                                "\n  runtime: " + runtime +
                                                "\n  entry: index.js\n  memoryMb: 32\n"
                                                "  timeoutMs: 20000\n");
    write_file(dir.path() / "index.js", "print('ran');");
    write_file(dir.path() / "node_modules/dep/index.js", "export default 1;");
    for (int i = 0; i < files; ++i) {
      write_file(dir.path() / ("node_modules/dep/data/f" + std::to_string(i) + ".txt"),
                 std::string(2048, static_cast<char>('a' + i % 26)) + std::to_string(i));
    }
  }
};

// The image ids a legacy build printed for the steps after FROM (" ---> 0123456789ab").
struct BuildLog {
  std::mutex mu;
  std::vector<std::string> lines;
  std::vector<std::string> step_images;
  int step = 0;
  void add(std::string_view line) {
    static const std::regex kStep(R"(^Step (\d+)/\d+ :)");
    static const std::regex kImage(R"(^ ---> ([0-9a-f]{12})\s*$)");
    std::lock_guard lock(mu);
    const std::string text(line);
    lines.push_back(text);
    std::smatch m;
    if (std::regex_search(text, m, kStep)) step = std::stoi(m[1]);
    if (step >= 2 && std::regex_match(text, m, kImage)) step_images.push_back(m[1]);
  }
  std::string dump() {
    std::lock_guard lock(mu);
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
  }
};

}  // namespace

TEST(ImageLabels, EveryImageOfABuildIsFullyLabelledFromItsFirstStep) {
  Images images;
  auto opts = options_for(images);
  // Quoting: what a Dockerfile would otherwise split, unquote or expand.
  const std::string tricky = R"(two words "quoted" $HOME ${PATH} back\slash \" end\)";
  opts.labels["test.ignite-tricky"] = tricky;
  Ignite::Engine e(opts);
  Scratch s("leak-labels-" + std::to_string(::getpid()), 50);
  const auto svc = e.load(s.dir.path());

  BuildLog log;
  json intermediate;
  Ignite::ExecuteOptions xo;
  xo.on_build_output = [&](std::string_view line) {
    log.add(line);
    std::lock_guard lock(log.mu);
    // The first image after FROM (the LABEL step), inspected while the build goes on.
    if (intermediate.is_null() && !log.step_images.empty()) {
      intermediate = client().image_inspect(log.step_images.front()).value_or(json::object());
    }
  };
  const auto r = e.execute(svc, xo);
  ASSERT_EQ(r.outcome, Ignite::Outcome::Success) << r.stderr_text << log.dump();
  ASSERT_TRUE(r.cold_start);
  ASSERT_FALSE(intermediate.is_null()) << "no image id in the build output:\n" << log.dump();
  ASSERT_GE(log.step_images.size(), 3u) << log.dump();  // LABEL, COPY node_modules, COPY audit

  const json labels = intermediate.at("Config").at("Labels");
  EXPECT_EQ(labels.value("dev.ignite.managed", ""), "true") << labels.dump();
  EXPECT_EQ(labels.value("dev.ignite.kind", ""), "service") << labels.dump();
  EXPECT_EQ(labels.value("dev.ignite.service", ""), svc.config.name) << labels.dump();
  EXPECT_EQ(labels.value("dev.ignite.session", ""), e.session_id()) << labels.dump();
  EXPECT_FALSE(labels.value("dev.ignite.version", "").empty()) << labels.dump();
  EXPECT_FALSE(labels.value("dev.ignite.build", "").empty()) << labels.dump();
  EXPECT_EQ(labels.value("dev.ignite.runtime.spec", ""), r.runtime) << labels.dump();
  EXPECT_EQ(labels.value("dev.ignite.delivery", ""), "mount") << labels.dump();
  EXPECT_EQ(labels.value(kTestLabel, ""), images.run) << labels.dump();
  EXPECT_EQ(labels.value("test.ignite-tricky", ""), tricky) << labels.dump();

  // The tagged image: the same labels, the same build id, the content-based tag.
  const auto final_image = client().image_inspect(r.image);
  ASSERT_TRUE(final_image);
  const json final_labels = final_image->at("Config").at("Labels");
  EXPECT_EQ(final_labels.value("dev.ignite.build", "x"), labels.value("dev.ignite.build", "y"));
  EXPECT_EQ(final_labels.value("test.ignite-tricky", ""), tricky);
  EXPECT_THAT(r.image, ::testing::MatchesRegex("ignite-svc/leak-labels-[0-9]+:[0-9a-f]{20}"));
  // One LABEL step, not one step per label.
  std::size_t label_steps = 0;
  for (const auto& line : log.lines) label_steps += line.find(" : LABEL ") != std::string::npos;
  EXPECT_EQ(label_steps, 1u) << log.dump();

  // The tag is content-based: a second Engine (another session) finds it and builds nothing.
  Ignite::Engine again(opts);
  const auto r2 = again.execute(again.load(s.dir.path()));
  EXPECT_EQ(r2.outcome, Ignite::Outcome::Success);
  EXPECT_FALSE(r2.cold_start);
  EXPECT_EQ(r2.image, r.image);
  e.flush();
  again.flush();
  EXPECT_TRUE(images.dangling().empty());
}

TEST(ImageLabels, WhatALabelLineCannotCarryIsAClearError) {
  for (const auto& [key, value, what] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"test.multi-line", "one\ntwo", "line break"},
           {"test.cr", "one\rtwo", "line break"},
           {"test.a=b", "v", "'='"}}) {
    Ignite::EngineOptions o;
    o.labels = {{key, value}};
    try {
      Ignite::Engine e(o);
      ADD_FAILURE() << key << ": no error";
    } catch (const Ignite::Error& err) {
      EXPECT_EQ(err.code(), Ignite::ErrorCode::Config);
      EXPECT_THAT(err.message(), HasSubstr(key)) << err.message();
      EXPECT_THAT(err.message(), HasSubstr(what)) << err.message();
    }
  }
}

TEST(BuildLeftovers, ACallbackThatStopsTheBuildLeavesNoImage) {
  Images images;
  Ignite::Engine e(options_for(images));
  Scratch s("leak-stop-" + std::to_string(::getpid()), 400);
  const auto svc = e.load(s.dir.path());
  BuildLog log;
  std::stop_source stop;
  Ignite::ExecuteOptions xo;
  xo.stop_token = stop.get_token();
  // Stops once the LABEL step has committed its image: there is a leftover to remove.
  xo.on_build_output = [&](std::string_view line) {
    log.add(line);
    std::lock_guard lock(log.mu);
    if (!log.step_images.empty()) stop.request_stop();
  };
  const auto r = e.execute(svc, xo);
  EXPECT_EQ(r.outcome, Ignite::Outcome::Cancelled) << log.dump();
  ASSERT_FALSE(log.step_images.empty()) << log.dump();
  e.flush();  // waits for the clean-up of the unfinished build
  for (const auto& id : log.step_images) {
    EXPECT_FALSE(client().image_inspect(id)) << "image " << id << " of the stopped build is left";
  }
  EXPECT_TRUE(images.dangling().empty());
  EXPECT_TRUE(images.all().empty());  // and no tag was made
}

TEST(BuildLeftovers, ACancellationMidStepLeavesNoImage) {
  Images images;
  Ignite::Engine e(options_for(images));
  // Enough files that the COPY step is still going when the cancellation comes: the daemon
  // finishes and commits it after the client has gone.
  Scratch s("leak-cancel-" + std::to_string(::getpid()), 3000);
  const auto svc = e.load(s.dir.path());
  BuildLog log;
  std::stop_source stop;
  Ignite::ExecuteOptions xo;
  xo.stop_token = stop.get_token();
  xo.on_build_output = [&](std::string_view line) {
    log.add(line);
    if (line.starts_with("Step 3/")) stop.request_stop();  // COPY node_modules begins
  };
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = e.execute(svc, xo);
  // The clean-up is not on the cancelled call's path.
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 20s);
  EXPECT_EQ(r.outcome, Ignite::Outcome::Cancelled) << log.dump();
  ASSERT_TRUE(stop.stop_requested()) << "the build never reached its COPY step:\n" << log.dump();
  e.flush();
  EXPECT_TRUE(images.dangling().empty()) << log.dump();
  EXPECT_TRUE(images.all().empty());
  for (const auto& id : log.step_images) EXPECT_FALSE(client().image_inspect(id)) << id;
}

TEST(BuildLeftovers, AFailingStepLeavesNoImage) {
  Images images;
  Ignite::Engine e(options_for(images));
  // A base image where /node_modules is a file: the build's COPY node_modules step fails
  // after its LABEL step has committed an image.
  TempDir base;
  write_file(base.path() / "node_modules", "not a directory\n");
  const std::string quickjs = e.runtimes().resolve("quickjs").image;
  write_file(base.path() / "Dockerfile", "FROM " + quickjs + "\nCOPY node_modules /node_modules\n");
  const std::string base_tag = "ignite-leak-test-base:" + images.run;
  const auto built = run_command("docker build -q --label " + images.filter() + " -t " + base_tag +
                                 " " + base.path().string());
  ASSERT_EQ(built.status, 0) << built.err;

  TempDir rt;
  write_file(rt.path() / "runtimes.yaml",
             "runtimes:\n  - name: broken-base\n    image: " + base_tag + "\n    command: [qjs]\n");
  e.load_runtimes_file(rt.path() / "runtimes.yaml");
  Scratch s("leak-fail-" + std::to_string(::getpid()), 5, "broken-base");
  const auto svc = e.load(s.dir.path());
  BuildLog log;
  Ignite::ExecuteOptions xo;
  xo.on_build_output = [&](std::string_view line) { log.add(line); };
  try {
    e.execute(svc, xo);
    ADD_FAILURE() << "the build should have failed:\n" << log.dump();
  } catch (const Ignite::Error& err) {
    EXPECT_EQ(err.code(), Ignite::ErrorCode::Build) << err.what();
  }
  ASSERT_FALSE(log.step_images.empty()) << "the LABEL step committed nothing:\n" << log.dump();
  e.flush();
  for (const auto& id : log.step_images) EXPECT_FALSE(client().image_inspect(id)) << id;
  // Only the test's base image is left (removed by ~Images).
  const auto left = images.all();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_THAT(left[0].value("RepoTags", json::array()).dump(), HasSubstr(base_tag));
}

TEST(BuildOnce, ExecutionsOfANewServiceStartedTogetherBuildOneImage) {
  Images images;
  Ignite::Engine e(options_for(images));
  Scratch s("leak-once-" + std::to_string(::getpid()), 20);
  const auto svc = e.load(s.dir.path());
  std::atomic<int> built{0};
  std::vector<std::future<Ignite::ExecutionResult>> runs;
  for (int i = 0; i < 4; ++i) {
    runs.push_back(std::async(std::launch::async, [&] {
      auto r = e.execute(svc);
      if (r.cold_start) ++built;
      return r;
    }));
  }
  for (auto& f : runs) EXPECT_EQ(f.get().outcome, Ignite::Outcome::Success);
  EXPECT_EQ(built.load(), 1);
  e.flush();
  EXPECT_EQ(images.all().size(), 1u);
  EXPECT_TRUE(images.dangling().empty());
}

namespace {

// Loads images with a made-up config (its creation time, its labels) and no tag: dangling.
// Returns their ids, in order.
std::vector<std::string> load_dangling(const std::vector<std::pair<std::string, json>>& configs) {
  TempDir dir;
  const auto& d = dir.path();
  write_file(d / "rootfs/marker", "image-leak-test\n");
  auto r = run_command("tar -C " + d.string() + "/rootfs -cf " + d.string() + "/layer.tar marker");
  if (r.status != 0) throw std::runtime_error("tar: " + r.err);
  r = run_command("sha256sum " + d.string() + "/layer.tar");
  if (r.status != 0) throw std::runtime_error("sha256sum: " + r.err);
  const std::string layer_sha = r.out.substr(0, 64);
  json manifest = json::array();
  std::vector<std::string> ids;
  int n = 0;
  for (const auto& [created, labels] : configs) {
    const json config = {{"architecture", "amd64"},
                         {"os", "linux"},
                         {"created", created},
                         {"config", {{"Labels", labels}, {"Cmd", {"/marker"}}}},
                         {"rootfs", {{"type", "layers"}, {"diff_ids", {"sha256:" + layer_sha}}}}};
    const std::string name = "config" + std::to_string(n++) + ".json";
    write_file(d / name, config.dump());
    r = run_command("sha256sum " + (d / name).string());
    ids.push_back("sha256:" + r.out.substr(0, 64));
    manifest.push_back({{"Config", name}, {"RepoTags", nullptr}, {"Layers", {"layer.tar"}}});
  }
  write_file(d / "manifest.json", manifest.dump());
  r = run_command("tar -C " + d.string() + " -cf " + d.string() +
                  "/image.tar manifest.json layer.tar $(cd " + d.string() +
                  " && ls config*.json) && docker load -i " + d.string() + "/image.tar");
  if (r.status != 0) throw std::runtime_error("docker load: " + r.err + r.out);
  return ids;
}

std::string rfc3339(std::chrono::system_clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

TEST(Reaper, RemovesOldDanglingIgniteImagesOnly) {
  Images images;
  const json mine = {{kTestLabel, images.run}};
  json managed = mine;
  managed["dev.ignite.managed"] = "true";
  managed["dev.ignite.kind"] = "service";
  const auto old = rfc3339(std::chrono::system_clock::now() - 2h);
  const auto fresh = rfc3339(std::chrono::system_clock::now());
  const auto ids = load_dangling({{old, managed}, {old, mine}, {fresh, managed}});
  std::set<std::string> dangling;
  for (const auto& img : images.dangling()) dangling.insert(img.value("Id", ""));
  ASSERT_TRUE(dangling.contains(ids[1]) && dangling.contains(ids[2]));

  // Narrowed to this test's label: the daemon's other dangling images are not this test's.
  // (Another test binary's Engine starting now may reap the old one first: asserted on state;
  // the count is checked in reaper_count_test.)
  const auto removed = Ignite::detail::reap_dangling_images(
      client(), Ignite::detail::kDanglingImageAge, {images.filter()});
  EXPECT_LE(removed, 1u);
  EXPECT_FALSE(client().image_inspect(ids[0])) << "the old dangling Ignite image is left";
  EXPECT_TRUE(client().image_inspect(ids[1])) << "an image that is not Ignite's was removed";
  EXPECT_TRUE(client().image_inspect(ids[2]))
      << "a dangling image of a build in progress was removed";

  // An image a container uses stays, however old.
  const auto more = load_dangling({{old, managed}});
  const std::string cid = client().container_create({{"Image", more[0]}, {"Labels", mine}});
  EXPECT_EQ(Ignite::detail::reap_dangling_images(client(), Ignite::detail::kDanglingImageAge,
                                                 {images.filter()}),
            0u);
  EXPECT_TRUE(client().image_inspect(more[0]));
  client().container_remove(cid, true);
}
