// Swarm benchmark driver (run it through tools/bench/swarm, which sets up the 2-node swarm of
// tests/swarm/fixture.sh and tears it down; docs/scale-out.md explains the numbers).
//
// In one run, for hello-quickjs with the same input, at each concurrency level, it measures
// one-shot executions by:
//   local-cold   Ignite's docker backend, cold path (a container on the local daemon);
//   swarm-raw    the bare swarm sequence done here with DockerClient: service create (one
//                replica, restart none, the pinned image, the Engine's kind of internal overlay
//                network, created once) -> follow its logs until the service's output arrived
//                -> service remove. The floor of Ignite's swarm backend: no input secret, no
//                supervisor, no limits, no placement lookup;
//   swarm-ignite Ignite's swarm backend (Backend::Swarm): input secret, hardened service,
//                supervisor records, placement.
// Methods run interleaved, batch by batch and rotated each round, so drift of the host hits all
// of them alike. Per method and concurrency: per-execution latency (median, p90) and
// executions/s (executions / wall time of their batches), and where the swarm tasks ran.
//
// Usage: swarm_bench --services DIR --registry HOST:PORT [--concurrency 1,4,8]
//                    [--executions N1,NC] [--json PATH]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ignite/engine.hpp"
#include "ignite/error.hpp"
#include "ignite/src/docker/cancel.hpp"
#include "ignite/src/docker/client.hpp"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

void say(const std::string& s) { std::fprintf(stderr, "[swarm-bench] %s\n", s.c_str()); }

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

std::vector<int> int_list(const std::string& text) {
  std::vector<int> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) out.push_back(std::stoi(item));
  return out;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const double rank = p * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(rank));
  const auto hi = static_cast<std::size_t>(std::ceil(rank));
  return v[lo] + (v[hi] - v[lo]) * (rank - static_cast<double>(lo));
}

struct Row {
  std::vector<double> latency_ms;
  double wall_s = 0;
  int failures = 0;
  std::map<std::string, int> nodes;
  std::vector<std::string> errors;
};

const std::string kInput = R"({"name":"Bench"})";
const std::string kExpected =
    "Hello, Bench!\n{\"ok\":true,\"runtime\":\"quickjs\",\"name\":\"Bench\"}\n";

class Bench {
 public:
  Bench(fs::path services, std::string registry)
      : svc_dir_(std::move(services) / "hello-quickjs"),
        registry_(std::move(registry)),
        local_(local_options()),
        swarm_(swarm_options()),
        docker_(Ignite::docker::socket_from_env()) {}

  void prepare() {
    svc_ = swarm_.load(svc_dir_);
    // Builds, pushes and pins the image and makes the Engine's network: not measured.
    for (int i = 0; i < 2; ++i) {
      const auto r = swarm_.execute(svc_, {.input = kInput});
      if (r.stdout_text != kExpected)
        throw std::runtime_error("swarm warm-up: " + r.stdout_text + r.stderr_text);
      image_ = r.image;
    }
    for (int i = 0; i < 2; ++i) local_.execute(svc_, {.input = kInput});
    network_ = docker_.network_create(
        {{"Name", "ignite-bench-raw-" + std::to_string(::getpid())},
         {"Driver", "overlay"},
         {"Internal", true},
         {"Labels", {{"dev.ignite.managed", "true"}, {"dev.ignite.kind", "bench"}}}});
    raw_once();  // the raw network's first use on a node
    raw_once();
  }

  ~Bench() {
    if (!network_.empty()) {
      for (int i = 0; i < 40; ++i) {
        try {
          docker_.network_remove(network_);
          break;
        } catch (const std::exception&) {
          std::this_thread::sleep_for(250ms);
        }
      }
    }
  }

  using Run = std::function<std::string()>;  // returns the node it ran on ("" if unknown)

  Run method(const std::string& id) {
    if (id == "local-cold") return [this] { return local_once(); };
    if (id == "swarm-raw") return [this] { return raw_once(); };
    return [this] { return swarm_once(); };
  }

  void batch(const std::string& id, int c, int count, Row& row) {
    const Run run = method(id);
    std::atomic<int> next{0};
    std::mutex mu;
    const auto t0 = Clock::now();
    std::vector<std::thread> workers;
    for (int w = 0; w < std::min(c, count); ++w) {
      workers.emplace_back([&] {
        for (int i; (i = next++) < count;) {
          const auto s = Clock::now();
          try {
            const std::string node = run();
            const double ms = ms_between(s, Clock::now());
            std::lock_guard lock(mu);
            row.latency_ms.push_back(ms);
            if (!node.empty()) row.nodes[node]++;
          } catch (const std::exception& e) {
            std::lock_guard lock(mu);
            row.failures++;
            if (row.errors.size() < 3) row.errors.push_back(e.what());
          }
        }
      });
    }
    for (auto& w : workers) w.join();
    row.wall_s += ms_between(t0, Clock::now()) / 1000.0;
    // Removals of this batch finish before the next batch starts (not counted).
    local_.flush();
    swarm_.flush();
  }

 private:
  Ignite::EngineOptions local_options() const {
    Ignite::EngineOptions o;
    o.backend = Ignite::Backend::Docker;
    o.labels = {{"ignite-bench", "swarm"}};
    return o;
  }
  Ignite::EngineOptions swarm_options() const {
    Ignite::EngineOptions o = local_options();
    o.backend = Ignite::Backend::Swarm;
    o.registry = registry_;
    return o;
  }

  std::string local_once() {
    const auto r = local_.execute(svc_, {.input = kInput});
    if (r.stdout_text != kExpected)
      throw std::runtime_error("local: " + std::string(Ignite::to_string(r.outcome)) + " " +
                               r.stderr_text);
    return {};
  }

  std::string swarm_once() {
    const auto r = swarm_.execute(svc_, {.input = kInput});
    if (r.stdout_text != kExpected)
      throw std::runtime_error("swarm: " + std::string(Ignite::to_string(r.outcome)) + " " +
                               r.stderr_text);
    return r.placement.node.substr(0, 6);
  }

  // service create -> follow logs until the output arrived -> service remove.
  std::string raw_once() {
    static std::atomic<int> n{0};
    const json spec = {
        {"Name", "ignite-bench-raw-" + std::to_string(::getpid()) + "-" + std::to_string(n++)},
        {"Labels", {{"dev.ignite.managed", "true"}, {"dev.ignite.kind", "bench"}}},
        {"TaskTemplate",
         {{"ContainerSpec",
           {{"Image", image_},
            {"Command", {"qjs", "--std", "/app/index.js"}},
            {"Env", {"GREETING=Hello", "IGNITE_INPUT=" + kInput}},
            {"Dir", "/app"},
            {"StopSignal", "SIGKILL"}}},
          {"RestartPolicy", {{"Condition", "none"}}},
          {"Networks", {{{"Target", network_}}}}}},
        {"Mode", {{"Replicated", {{"Replicas", 1}}}}}};
    const std::string id = docker_.service_create(spec);
    std::string out;
    std::string error;
    try {
      docker_.service_logs(
          id, /*follow=*/true,
          [&](Ignite::docker::StreamKind, std::string_view d) { out.append(d); },
          [&] { return out.find("\"name\":\"World\"}\n") == std::string::npos; }, 60s);
    } catch (const std::exception& e) {
      error = e.what();
    }
    docker_.service_remove(id);
    // hello-quickjs reads its name from stdin, which a raw service does not have: "World".
    if (out.find("\"name\":\"World\"}\n") == std::string::npos) {
      throw std::runtime_error("raw: output " + out + " " + error);
    }
    return {};
  }

  fs::path svc_dir_;
  std::string registry_;
  Ignite::Engine local_;
  Ignite::Engine swarm_;
  Ignite::docker::DockerClient docker_;
  Ignite::Service svc_;
  std::string image_;
  std::string network_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string services, registry, json_path = "swarm-bench-results.json";
  std::vector<int> levels = {1, 4, 8};
  std::vector<int> executions = {10, 16};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--services")
      services = value();
    else if (a == "--registry")
      registry = value();
    else if (a == "--concurrency")
      levels = int_list(value());
    else if (a == "--executions")
      executions = int_list(value());
    else if (a == "--json")
      json_path = value();
    else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  if (services.empty() || registry.empty() || executions.size() != 2) {
    std::fprintf(stderr,
                 "usage: swarm_bench --services DIR --registry HOST:PORT [--concurrency 1,4,8] "
                 "[--executions N1,NC] [--json PATH]\n");
    return 2;
  }
  try {
    Bench bench(services, registry);
    say("warming up (image build, push, networks)");
    bench.prepare();
    const std::vector<std::string> methods = {"local-cold", "swarm-raw", "swarm-ignite"};
    std::map<std::pair<std::string, int>, Row> rows;
    for (const int c : levels) {
      const int total = c == 1 ? executions[0] : executions[1];
      const int rounds = 2;
      for (int round = 0; round < rounds; ++round) {
        for (std::size_t k = 0; k < methods.size(); ++k) {
          const std::string& m = methods[(k + static_cast<std::size_t>(round)) % methods.size()];
          const int count = total / rounds + (round == 0 ? total % rounds : 0);
          say("c=" + std::to_string(c) + " round " + std::to_string(round + 1) + ": " + m + " x" +
              std::to_string(count));
          bench.batch(m, c, count, rows[{m, c}]);
        }
      }
    }
    json out = json::array();
    std::printf(
        "## Swarm backend: hello-quickjs, 2-node swarm (manager = host daemon, worker in a network "
        "namespace)\n\n");
    std::printf(
        "| method | c | n | median ms | p90 ms | exec/s | vs local-cold (median) | vs swarm-raw "
        "(median) | nodes | failures |\n");
    std::printf("|---|---|---|---|---|---|---|---|---|---|\n");
    for (const int c : levels) {
      const double local_med = percentile(rows[{"local-cold", c}].latency_ms, 0.5);
      const double raw_med = percentile(rows[{"swarm-raw", c}].latency_ms, 0.5);
      for (const auto& m : methods) {
        const Row& r = rows[{m, c}];
        const double med = percentile(r.latency_ms, 0.5);
        const double p90 = percentile(r.latency_ms, 0.9);
        const double rate =
            r.wall_s > 0 ? static_cast<double>(r.latency_ms.size()) / r.wall_s : NAN;
        std::string nodes;
        for (const auto& [n, k] : r.nodes)
          nodes += (nodes.empty() ? "" : " ") + n + ":" + std::to_string(k);
        std::printf("| %s | %d | %zu | %.0f | %.0f | %.2f | %.2fx | %.2fx | %s | %d |\n", m.c_str(),
                    c, r.latency_ms.size(), med, p90, rate, med / local_med, med / raw_med,
                    nodes.empty() ? "-" : nodes.c_str(), r.failures);
        out.push_back({{"method", m},
                       {"concurrency", c},
                       {"executions", r.latency_ms.size()},
                       {"median_ms", med},
                       {"p90_ms", p90},
                       {"exec_per_s", rate},
                       {"nodes", r.nodes},
                       {"failures", r.failures},
                       {"errors", r.errors}});
      }
    }
    std::ofstream(json_path) << out.dump(2) << "\n";
    say("JSON written to " + json_path);
  } catch (const std::exception& e) {
    say(std::string("failed: ") + e.what());
    return 1;
  }
  return 0;
}
