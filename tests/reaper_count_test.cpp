// How the reaper decides and counts, on a recorded container list: a container of a dead owner
// on this host is removed and counted, a live owner's and another host's are left alone. (The
// live-daemon tests in tests/integration/reaper_test.cpp assert on state only, because other
// Engines on the host reap the same containers concurrently.)
#include <gtest/gtest.h>
#include <unistd.h>

#include <deque>
#include <nlohmann/json.hpp>

#include "ignite/error.hpp"
#include "ignite/src/docker/client.hpp"
#include "ignite/src/reaper.hpp"

namespace {

using Ignite::docker::HttpRequest;
using Ignite::docker::HttpResponse;

class ListTransport : public Ignite::docker::Transport {
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
  HttpResponse stream(const HttpRequest& req,
                      const std::function<bool(std::string_view)>& on_data) override {
    auto r = request(req);
    on_data(r.body);
    return r;
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
