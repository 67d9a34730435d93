// How the reaper decides and counts, on a recorded container list: a container of a dead owner
// on this host is removed and counted, a live owner's and another host's are left alone. (The
// live-daemon tests in tests/integration/reaper_test.cpp assert on state only, because other
// Engines on the host reap the same containers concurrently.)
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "ignite/error.hpp"
#include "ignite/src/docker/client.hpp"
#include "ignite/src/reaper.hpp"
#include "tests/request_only_transport.hpp"

namespace {

using Ignite::docker::HttpRequest;
using Ignite::docker::HttpResponse;

class ListTransport : public Ignite::testing::RequestOnlyTransport {
 public:
  explicit ListTransport(nlohmann::json list, long delete_status = 204)
      : list_(std::move(list)), delete_status_(delete_status) {}
  HttpResponse request(const HttpRequest& req) override {
    if (req.method == "DELETE") {
      deleted.push_back(req.path);
      return {delete_status_, ""};
    }
    if (req.path.find("/containers/json") != std::string::npos) return {200, list_.dump()};
    if (req.path.find("/images/json") != std::string::npos) return {200, "[]"};
    return {404, R"({"message":"unexpected"})"};
  }
  std::vector<std::string> deleted;

 private:
  nlohmann::json list_;
  long delete_status_;
};

nlohmann::json container(const std::string& id, const std::string& host, long pid,
                         const std::string& start) {
  return {{"Id", id},
          {"Labels",
           {{"dev.ignite.managed", "true"},
            {"dev.ignite.owner-host", host},
            {"dev.ignite.owner-pid", std::to_string(pid)},
            {"dev.ignite.owner-start", start}}}};
}

}  // namespace

TEST(ReaperCount, RemovesAndCountsOnlyDeadOwnersOfThisHost) {
  const auto me = Ignite::detail::self_owner();
  // A pid above any pid_max (4194304) is never a live process.
  const nlohmann::json list = {container("dead", me.host, 99999999, "1"),
                               container("alive", me.host, me.pid, me.start),
                               container("recycled", me.host, me.pid, me.start + "0"),
                               container("elsewhere", me.host + "-other", 99999999, "1")};
  auto transport = std::make_unique<ListTransport>(list);
  auto* seen = transport.get();
  Ignite::docker::DockerClient client(std::move(transport));
  const auto r = Ignite::detail::reap(client);
  EXPECT_EQ(r.containers, 2u);  // the dead owner's and the one whose pid was recycled
  ASSERT_EQ(seen->deleted.size(), 2u);
  EXPECT_NE(seen->deleted[0].find("/containers/dead"), std::string::npos) << seen->deleted[0];
  EXPECT_NE(seen->deleted[1].find("/containers/recycled"), std::string::npos) << seen->deleted[1];
}

TEST(ReaperCount, AContainerAlreadyGoneIsNotCounted) {
  const auto me = Ignite::detail::self_owner();
  auto transport = std::make_unique<ListTransport>(
      nlohmann::json::array({container("gone", me.host, 99999999, "1")}), 404);
  Ignite::docker::DockerClient client(std::move(transport));
  EXPECT_EQ(Ignite::detail::reap(client).containers, 0u);
}

namespace {

// Answers image and container lists from scripted replies (the last one repeats) and records
// every request.
class ScriptTransport : public Ignite::testing::RequestOnlyTransport {
 public:
  std::deque<std::string> images, containers;
  std::vector<std::string> requests;
  HttpResponse request(const HttpRequest& req) override {
    requests.push_back(req.method + " " + req.path);
    if (req.method == "DELETE") return {200, "[]"};
    const auto next = [](std::deque<std::string>& q) {
      std::string r = q.empty() ? "[]" : q.front();
      if (q.size() > 1) q.pop_front();
      return r;
    };
    if (req.path.find("/images/json") != std::string::npos) return {200, next(images)};
    if (req.path.find("/containers/json") != std::string::npos) return {200, next(containers)};
    return {404, R"({"message":"unexpected"})"};
  }
  std::vector<std::string> deletes() const {
    std::vector<std::string> out;
    for (const auto& r : requests) {
      if (r.starts_with("DELETE ")) out.push_back(r);
    }
    return out;
  }
};

}  // namespace

TEST(ReaperCount, RemovesDanglingIgniteImagesOnlyWhenOld) {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  auto transport = std::make_unique<ScriptTransport>();
  auto* seen = transport.get();
  seen->images = {nlohmann::json::array({{{"Id", "sha256:old"}, {"Created", now - 3600}},
                                         {{"Id", "sha256:young"}, {"Created", now - 30}},
                                         {{"Id", "sha256:undated"}}})
                      .dump()};
  Ignite::docker::DockerClient client(std::move(transport));
  EXPECT_EQ(Ignite::detail::reap_dangling_images(client, Ignite::detail::kDanglingImageAge), 1u);
  const auto deletes = seen->deletes();
  ASSERT_EQ(deletes.size(), 1u);
  EXPECT_NE(deletes[0].find("/images/sha256:old"), std::string::npos) << deletes[0];
  EXPECT_EQ(deletes[0].find("force"), std::string::npos) << "never forced: " << deletes[0];
  // Asked for dangling images of Ignite's only.
  bool listed = false;
  for (const auto& req : seen->requests) {
    if (req.find("/images/json") == std::string::npos) continue;
    listed = true;
    EXPECT_NE(req.find("dangling"), std::string::npos) << req;
    EXPECT_NE(req.find("dev.ignite.managed%3Dtrue"), std::string::npos) << req;
  }
  EXPECT_TRUE(listed);
}

TEST(ReaperCount, BuildLeftoversAreLookedForUntilTheDaemonIsDoneWithTheBuild) {
  auto transport = std::make_unique<ScriptTransport>();
  auto* seen = transport.get();
  // The daemon still runs the build's step (a container of it exists), then commits it.
  seen->containers = {R"([{"Id":"step"}])", R"([{"Id":"step"}])", "[]"};
  seen->images = {"[]", R"([{"Id":"sha256:late"}])", "[]"};
  Ignite::docker::DockerClient client(std::move(transport));
  const auto t0 = std::chrono::steady_clock::now();
  const auto removed = Ignite::detail::remove_build_leftovers(
      client, "b1", std::chrono::steady_clock::now() + std::chrono::seconds(20));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
  EXPECT_EQ(removed, 1u);
  const auto deletes = seen->deletes();
  ASSERT_EQ(deletes.size(), 1u);
  EXPECT_NE(deletes[0].find("/images/sha256:late"), std::string::npos) << deletes[0];
  for (const auto& req : seen->requests) {
    if (req.starts_with("GET")) {
      EXPECT_NE(req.find("dev.ignite.build%3Db1"), std::string::npos) << req;
    }
  }
}

TEST(ReaperCount, BuildLeftoversGiveUpAtTheDeadline) {
  auto transport = std::make_unique<ScriptTransport>();
  transport->containers = {R"([{"Id":"stuck"}])"};  // a step that never ends
  Ignite::docker::DockerClient client(std::move(transport));
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(Ignite::detail::remove_build_leftovers(
                client, "b2", std::chrono::steady_clock::now() + std::chrono::milliseconds(500)),
            0u);
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(took, std::chrono::milliseconds(450));
  EXPECT_LT(took, std::chrono::seconds(3));
}

// The start-up sweep of dangling images runs at most once per period per stamp file.
TEST(ReaperCount, TheStartUpImageSweepIsThrottledByItsStamp) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("ignite-sweep-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const fs::path stamp = dir / "state" / "image-sweep-x";
  EXPECT_TRUE(Ignite::detail::sweep_due(stamp, std::chrono::minutes(10)));  // none yet: due
  EXPECT_TRUE(fs::exists(stamp));                                            // and made
  EXPECT_FALSE(Ignite::detail::sweep_due(stamp, std::chrono::minutes(10)));  // just swept
  EXPECT_TRUE(Ignite::detail::sweep_due(stamp, std::chrono::seconds(0)));    // period over
  // A stamp older than the period is due again, and is renewed.
  fs::last_write_time(stamp, fs::file_time_type::clock::now() - std::chrono::minutes(11));
  EXPECT_TRUE(Ignite::detail::sweep_due(stamp, std::chrono::minutes(10)));
  EXPECT_FALSE(Ignite::detail::sweep_due(stamp, std::chrono::minutes(10)));
  // A stamp from the future (a clock set back) does not stop sweeps for good.
  fs::last_write_time(stamp, fs::file_time_type::clock::now() + std::chrono::hours(1));
  EXPECT_TRUE(Ignite::detail::sweep_due(stamp, std::chrono::minutes(10)));
  fs::remove_all(dir);
}

// A metadata step's image appears without any container of the build ever being seen: it is
// still found, because the looks go on for kBuildLeftoverSettle.
TEST(ReaperCount, BuildLeftoversCommittedWithoutAContainerAreFound) {
  auto transport = std::make_unique<ScriptTransport>();
  auto* seen = transport.get();
  seen->containers = {"[]"};
  seen->images = {"[]", "[]", "[]", "[]", R"([{"Id":"sha256:label-step"}])", "[]"};
  Ignite::docker::DockerClient client(std::move(transport));
  const auto removed = Ignite::detail::remove_build_leftovers(
      client, "b3", std::chrono::steady_clock::now() + std::chrono::seconds(20));
  EXPECT_EQ(removed, 1u);
  ASSERT_EQ(seen->deletes().size(), 1u);
  EXPECT_NE(seen->deletes()[0].find("/images/sha256:label-step"), std::string::npos);
}
