// The remover on a fake transport: removals are not lost (a push while its threads are idle is
// served at once, also with the sweeper waiting), failed ones are retried with backoff, a new
// removal does not wait behind a backed-off retry, and the sweep removes untracked containers.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "ignite/error.hpp"
#include "ignite/src/docker/client.hpp"
#include "ignite/src/remover.hpp"
#include "tests/request_only_transport.hpp"
#include "tests/test_util.hpp"

using namespace std::chrono_literals;
using Ignite::docker::HttpRequest;
using Ignite::docker::HttpResponse;
using Ignite::testing::eventually;

namespace {

class FakeDaemon : public Ignite::testing::RequestOnlyTransport {
 public:
  HttpResponse request(const HttpRequest& req) override {
    std::lock_guard lock(mu_);
    if (req.method == "DELETE") {
      const auto id = req.path.substr(req.path.find("/containers/") + 12);
      const std::string bare = id.substr(0, id.find('?'));
      if (failing_.contains(bare) && failing_[bare] > 0) {
        --failing_[bare];
        return {500, R"({"message":"busy"})"};
      }
      if (appears_.contains(bare) && std::chrono::steady_clock::now() < appears_[bare]) {
        ++misses_;
        return {404, R"({"message":"No such container"})"};
      }
      deleted_.push_back(bare);
      return {204, ""};
    }
    if (req.path.find("/containers/json") != std::string::npos) return {200, list_.dump()};
    return {404, R"({"message":"unexpected"})"};
  }
  void fail(const std::string& id, int times) {
    std::lock_guard lock(mu_);
    failing_[id] = times;
  }
  // The container exists only from `after` on (a create the daemon carries out late).
  void appears(const std::string& id, std::chrono::milliseconds after) {
    std::lock_guard lock(mu_);
    appears_[id] = std::chrono::steady_clock::now() + after;
  }
  int misses() {
    std::lock_guard lock(mu_);
    return misses_;
  }
  void list(nlohmann::json l) {
    std::lock_guard lock(mu_);
    list_ = std::move(l);
  }
  bool deleted(const std::string& id) {
    std::lock_guard lock(mu_);
    return std::find(deleted_.begin(), deleted_.end(), id) != deleted_.end();
  }

 private:
  std::mutex mu_;
  std::map<std::string, int> failing_;
  std::map<std::string, std::chrono::steady_clock::time_point> appears_;
  int misses_ = 0;
  std::vector<std::string> deleted_;
  nlohmann::json list_ = nlohmann::json::array();
};

struct Fixture {
  FakeDaemon* daemon;
  std::unique_ptr<Ignite::docker::DockerClient> client;
  Fixture() {
    auto owned = std::make_unique<FakeDaemon>();
    daemon = owned.get();
    client = std::make_unique<Ignite::docker::DockerClient>(std::move(owned));
  }
};

Ignite::detail::Remover::SweepOptions sweep_options(std::chrono::milliseconds interval) {
  Ignite::detail::Remover::SweepOptions o;
  o.labels = {"dev.ignite.session=s"};
  o.interval = interval;
  o.grace = 0s;
  o.in_use = [](const std::string& id) { return id == "busy"; };
  return o;
}

}  // namespace

TEST(Remover, APushWhileItsThreadsAreIdleIsServedAtOnce) {
  Fixture f;
  Ignite::detail::Remover r(*f.client, sweep_options(60s));  // the sweeper waits meanwhile
  for (int i = 0; i < 5; ++i) {
    const std::string id = "c" + std::to_string(i);
    r.push(id);
    EXPECT_TRUE(eventually([&] { return f.daemon->deleted(id); }, 2s)) << id << " was not removed";
    std::this_thread::sleep_for(20ms);  // the threads go idle between pushes
  }
}

TEST(Remover, AFailedRemovalIsRetriedAndDoesNotHoldUpNewOnes) {
  Fixture f;
  Ignite::detail::Remover r(*f.client);
  f.daemon->fail("stubborn", 6);  // backoff 200, 400, 800, 1600 ms ...
  r.push("stubborn");
  EXPECT_TRUE(eventually([&] { return r.retrying() == 1; }, 2s));
  std::this_thread::sleep_for(300ms);  // a retry is now backed off for a while
  const auto t0 = std::chrono::steady_clock::now();
  r.push("fresh");
  EXPECT_TRUE(eventually([&] { return f.daemon->deleted("fresh"); }, 2s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s) << "a new removal waited behind a retry";
  EXPECT_TRUE(eventually([&] { return f.daemon->deleted("stubborn"); }, 30s))
      << "the failing removal was given up";
  EXPECT_EQ(r.retrying(), 0u);
}

TEST(Remover, FlushDoesNotWaitForeverForARemovalThatKeepsFailing) {
  Fixture f;
  Ignite::detail::Remover r(*f.client);
  f.daemon->fail("never", 1000000);
  r.push("never");
  r.push("ok");
  const auto t0 = std::chrono::steady_clock::now();
  r.flush();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_TRUE(f.daemon->deleted("ok"));
  EXPECT_EQ(r.retrying(), 1u);
}

TEST(Remover, TheSweepRemovesWhatNothingTracks) {
  Fixture f;
  f.daemon->list(nlohmann::json::array({{{"Id", "stray"}, {"Created", 0}},
                                        {{"Id", "busy"}, {"Created", 0}},
                                        {{"Id", "young"}, {"Created", 4102444800}}}));
  Ignite::detail::Remover r(*f.client, sweep_options(100ms));
  EXPECT_TRUE(eventually([&] { return f.daemon->deleted("stray"); }, 5s));
  std::this_thread::sleep_for(300ms);  // a few more sweeps
  EXPECT_FALSE(f.daemon->deleted("busy")) << "a tracked container was swept";
  EXPECT_FALSE(f.daemon->deleted("young")) << "a container within its grace was swept";
}

TEST(Remover, AContainerCreatedLateIsRemovedWhenItAppears) {
  Fixture f;
  Ignite::detail::Remover r(*f.client);
  f.daemon->appears("late-create", 300ms);  // not there at the first look (200 ms)
  r.push_unconfirmed("late-create", 200ms);
  const auto t0 = std::chrono::steady_clock::now();
  r.flush();  // does not wait for an unconfirmed removal
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 150ms);
  EXPECT_TRUE(eventually([&] { return f.daemon->deleted("late-create"); }, 5s));
  EXPECT_EQ(f.daemon->misses(), 1);
}
