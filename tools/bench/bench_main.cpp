// Ignite benchmark driver (run it through tools/bench/run; docs/performance.md explains it).
//
// In one run, on the same per-service images, for each hello service (node, bun, deno, quickjs)
// and each concurrency level, it measures one-shot executions by:
//   docker-run   `docker run --rm -i` through the docker CLI with the equivalent hardened flags
//                (a baseline only: Ignite itself never uses the CLI);
//   raw-api      the bare Engine API sequence done here with DockerClient and the same settings
//                (create with NetworkDisabled -> attach -> start -> stdin/output -> wait ->
//                delete): the floor Ignite's cold path should reach;
//   ignite-cold  Ignite::Engine::execute with the per-service image already built;
//   ignite-pool-burst      execute() served by a full warm pool (PoolOptions::size = c, filled
//                          by prewarm() before each batch, unmeasured);
//   ignite-pool-sustained  execute() back to back on a pool of c, so that most executions wait
//                          for a container the pool is still starting: the throughput of
//                          one-shot executions when the pool has to replace every container;
//   churn        the container churn of a pool done here with DockerClient: create a container
//                as the pool does (supervisor + runner) -> attach -> start -> runner ready ->
//                remove. Its exec/s is the floor of ignite-pool-sustained;
//   ignite-reuse execute() in reuse mode (PoolOptions::reuse = 50 jobs per container).
//   ignite-remote-tls  Ignite's cold path against a second dockerd over TCP with TLS in a
//                network namespace of its own (tests/remote/tls_dockerd, a veth pair with
//                198.19.x addresses, started and stopped by this run; the
//                runtime images copied there with Engine::copy_images): delivery is baked, every
//                call and the attach stream go through TLS. Compare with ignite-cold.
// The pooled methods use an Engine of their own per runtime x concurrency, so pools do not
// interfere with each other or with the cold path.
// Methods are interleaved batch by batch (a, b, c, then b, c, a, then c, a, b ...) so that drift
// of the host hits all of them alike and none always follows the same other one. No two batches
// overlap: a method that leaves work in the background (container removal, pool refills) waits
// for it after its batch, and that wait is counted in its CPU (and, except for the burst, in its
// wall time). So the CPU time this process spends during Ignite's batches (getrusage) is
// Ignite's.
//
// Output: a Markdown report on stdout, progress on stderr, everything as JSON in --json PATH.
//
// Adding a method: write a `Sample run(Target&)` function, add a Method to make_methods() (with
// its sizes and, if it keeps work in the background, its after_batch), and checks on its rows in
// evaluate_targets(). Rows, ratios and JSON pick it up by its id.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "ignite/engine.hpp"
#include "ignite/error.hpp"
#include "ignite/src/docker/client.hpp"
#include "tools/bench/chart.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr double kMiB = 1024.0 * 1024.0;
constexpr auto kExecutionTimeout = std::chrono::seconds(120);

std::atomic<bool> g_stop{false};

void on_signal(int) { g_stop = true; }

__attribute__((format(printf, 1, 2))) std::string fmt(const char* format, ...) {
  char buffer[1024];
  va_list args;
  va_start(args, format);
  std::vsnprintf(buffer, sizeof buffer, format, args);
  va_end(args);
  return buffer;
}

void say(const std::string& line) { std::fprintf(stderr, "[bench] %s\n", line.c_str()); }

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// A result's time (microseconds) in fractional milliseconds.
double to_ms(std::chrono::microseconds d) { return static_cast<double>(d.count()) / 1000.0; }

std::string random_hex(std::size_t n) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  std::srand(static_cast<unsigned>(::getpid() ^ std::time(nullptr)));
  for (std::size_t i = 0; i < n; ++i) out += kHex[std::rand() % 16];
  return out;
}

// ---------------------------------------------------------------------------------------------
// Host facts

struct CpuTimes {
  double user = 0;  // seconds
  double sys = 0;
  double total() const { return user + sys; }
  CpuTimes& operator+=(const CpuTimes& o) {
    user += o.user;
    sys += o.sys;
    return *this;
  }
};

CpuTimes cpu_now(int who) {
  rusage ru{};
  ::getrusage(who, &ru);
  const auto s = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6; };
  return {s(ru.ru_utime), s(ru.ru_stime)};
}

CpuTimes cpu_delta(const CpuTimes& a, const CpuTimes& b) { return {b.user - a.user, b.sys - a.sys}; }

// A "Key: 123 kB" field of /proc/self/status, in MiB.
double proc_status_mib(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) {
      return std::strtod(line.c_str() + key.size() + 1, nullptr) / 1024.0;
    }
  }
  return std::nan("");
}

std::string read_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// The 1, 5 and 15 minute load averages.
std::string loadavg() {
  std::istringstream in(read_line("/proc/loadavg"));
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(colon + 2);
    }
  }
  return "unknown";
}

double mem_total_gib() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  double kib = 0;
  while (in >> key >> kib) {
    if (key == "MemTotal:") return kib / 1024.0 / 1024.0;
    in.ignore(256, '\n');
  }
  return 0;
}

std::string hostname() {
  char buffer[256] = {};
  if (::gethostname(buffer, sizeof buffer - 1) != 0) return "unknown";
  return buffer;
}

// Field 22 of /proc/self/stat (the owner label the reaper compares, so that containers of a
// bench process that died are removed by the next Engine, like Ignite's own).
std::string self_start_time() {
  const std::string stat = read_line("/proc/self/stat");
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return "";
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; ++i) {
    if (i == 22) return field;
  }
  return "";
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

// ---------------------------------------------------------------------------------------------
// Child processes (the docker CLI)

struct ProcResult {
  int exit_code = -1;
  std::string out;
  std::string err;
  bool timed_out = false;
  std::string error;  // could not run it at all
};

// Runs argv with `input` on its stdin (then closed), collecting stdout and stderr. Every pipe is
// close-on-exec, so concurrent children never inherit each other's pipes (which would hold
// their end-of-file back).
// `env_set`: NAME=VALUE entries that replace or add to this process's environment.
ProcResult run_process(const std::vector<std::string>& argv, std::string_view input,
                       std::chrono::milliseconds timeout, const std::vector<std::string>& env_set = {}) {
  ProcResult result;
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0) {
    result.error = std::strerror(errno);
    return result;
  }
  if (::pipe2(out, O_CLOEXEC) != 0) {
    result.error = std::strerror(errno);
    ::close(in[0]);
    ::close(in[1]);
    return result;
  }
  if (::pipe2(err, O_CLOEXEC) != 0) {
    result.error = std::strerror(errno);
    for (int fd : {in[0], in[1], out[0], out[1]}) ::close(fd);
    return result;
  }
  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  ::posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  ::posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    const std::string_view entry(*e);
    const auto name = entry.substr(0, entry.find('=') + 1);
    const bool replaced = std::any_of(env_set.begin(), env_set.end(),
                                      [&](const std::string& v) { return v.rfind(name, 0) == 0; });
    if (!replaced) env_strings.emplace_back(entry);
  }
  env_strings.insert(env_strings.end(), env_set.begin(), env_set.end());
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), envp.data());
  ::posix_spawn_file_actions_destroy(&actions);
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    for (int fd : {in[1], out[0], err[0]}) ::close(fd);
    result.error = argv[0] + ": " + std::strerror(rc);
    return result;
  }
  ::fcntl(in[1], F_SETFL, O_NONBLOCK);
  int in_fd = in[1];
  if (input.empty()) {
    ::close(in_fd);
    in_fd = -1;
  }
  std::size_t written = 0;
  int out_fd = out[0], err_fd = err[0];
  const auto deadline = Clock::now() + timeout;
  while (out_fd >= 0 || err_fd >= 0) {
    pollfd fds[3];
    int n = 0;
    if (in_fd >= 0) fds[n++] = {in_fd, POLLOUT, 0};
    if (out_fd >= 0) fds[n++] = {out_fd, POLLIN, 0};
    if (err_fd >= 0) fds[n++] = {err_fd, POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      ::kill(pid, SIGKILL);
      break;
    }
    const int ready = ::poll(fds, static_cast<nfds_t>(n), static_cast<int>(std::min<long>(left.count(), 1000)));
    if (ready < 0 && errno != EINTR) break;
    for (int i = 0; i < n && ready > 0; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == in_fd) {
        const ssize_t w = ::write(in_fd, input.data() + written, input.size() - written);
        if (w > 0) written += static_cast<std::size_t>(w);
        if ((w < 0 && errno != EAGAIN && errno != EINTR) || written >= input.size()) {
          ::close(in_fd);
          in_fd = -1;
        }
        continue;
      }
      char buffer[16384];
      const ssize_t r = ::read(fds[i].fd, buffer, sizeof buffer);
      if (r > 0) {
        (fds[i].fd == out_fd ? result.out : result.err).append(buffer, static_cast<std::size_t>(r));
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        ::close(fds[i].fd);
        (fds[i].fd == out_fd ? out_fd : err_fd) = -1;
      }
    }
  }
  for (int fd : {in_fd, out_fd, err_fd}) {
    if (fd >= 0) ::close(fd);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.exit_code = 128 + WTERMSIG(status);
  }
  return result;
}

std::string first_line(const std::string& text) {
  const auto nl = text.find('\n');
  std::string line = text.substr(0, std::min<std::size_t>(nl, 200));
  return line.empty() ? "(no output)" : line;
}

// ---------------------------------------------------------------------------------------------
// Statistics

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return std::nan("");
  const double pos = p * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const auto hi = static_cast<std::size_t>(std::ceil(pos));
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - static_cast<double>(lo));
}

double round_to(double v, int digits) {
  if (!std::isfinite(v)) return v;
  const double f = std::pow(10.0, digits);
  return std::round(v * f) / f;
}

json num(double v, int digits = 1) { return std::isfinite(v) ? json(round_to(v, digits)) : json(nullptr); }

std::string cell(double v, int digits = 1) { return std::isfinite(v) ? fmt("%.*f", digits, v) : "–"; }

// ---------------------------------------------------------------------------------------------
// Pooled containers, as the library makes them (ignite/src/runner.hpp, which is internal to the
// library: the churn method repeats what it needs here).

constexpr const char* kSupervisor = "/opt/ignite/ignite-supervisor";
constexpr std::string_view kRunnerReady = "\x1eIGNITE-READY\n";

// `argv` with the resident runner preloaded (detail::runner_argv): node --require, bun
// --preload, deno run --preload, qjs -I ahead of any other include (before the entry).
std::optional<std::vector<std::string>> runner_cmd(const std::vector<std::string>& argv) {
  if (argv.size() < 2) return std::nullopt;
  const std::string program = fs::path(argv.front()).filename().string();
  std::vector<std::string> out = argv;
  if (program == "node") {
    out.insert(out.begin() + 1, {"--require", "/opt/ignite/runner-node.cjs"});
  } else if (program == "bun") {
    out.insert(out.begin() + 1, {"--preload", "/opt/ignite/runner-node.cjs"});
  } else if (program == "deno") {
    if (argv[1] != "run") return std::nullopt;
    out.insert(out.begin() + 2, {"--preload", "/opt/ignite/runner-deno.js"});
  } else if (program == "qjs") {
    if (std::find(argv.begin() + 1, argv.end() - 1, "--std") == argv.end() - 1) return std::nullopt;
    auto at = std::find(out.begin() + 1, out.end() - 1, "-I");
    out.insert(at, {"-I", "/opt/ignite/runner-qjs.js"});
  } else {
    return std::nullopt;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The benchmark

// Every method, in the order of the report.
const std::vector<std::string> kMethodIds = {
    "docker-run", "cli", "raw-api", "ignite-cold", "ignite-pool-burst", "ignite-pool-sustained", "churn",
    "ignite-reuse", "ignite-remote-tls",
};

constexpr std::size_t kReuseJobs = 50;  // ignite-reuse: PoolOptions::reuse

struct Options {
  fs::path services_dir = "examples/services";
  std::vector<std::string> runtimes = {"node", "bun", "deno", "quickjs"};
  std::vector<int> concurrency = {1, 4};
  int n_serial = 20;      // executions per method at concurrency 1
  int n_concurrent = 40;  // executions per method at each concurrency > 1
  bool quick = false;
  fs::path json_path = "bench-results.json";
  fs::path chart_path;  // empty: json_path with .svg
  std::string docker_cli = "docker";
  // The reference CLI for the `cli` method (tools/bench/run builds it -c opt); empty: not run.
  std::string ignite_cli;
  std::vector<std::string> methods = kMethodIds;
  bool keep_images = false;
  bool fixed_order = false;
  std::string input = R"({"name":"bench"})";
  fs::path tls_dockerd;  // tests/remote/tls_dockerd (ignite-remote-tls)
};

struct Sample {
  double ms = 0;
  bool ok = false;
  std::string error;
  std::vector<std::pair<std::string, double>> steps;  // where the time went, in order
  bool built = false;                                 // Ignite methods: an image build happened
  std::string start;  // Ignite methods: ExecutionResult::container_start ("cold", "warm", "reused")
};

// One hello service as every method runs it.
struct Target {
  std::string runtime;         // "node"
  Ignite::Service service;     // loaded from examples/services/hello-<runtime>, renamed
  std::string image;           // the per-service image Ignite built (all methods use it)
  std::vector<std::string> cmd;
  std::vector<std::string> env;  // KEY=VALUE, exactly what Ignite passes
  std::int64_t memory = 0;       // bytes
  double cpus = 1;
  std::string expect;            // a line every correct execution prints
  json raw_body;                 // raw-api create body
  json churn_body;               // churn create body: a pooled container as the warm pool makes it
  // Warm-up (first execution through Ignite, which builds the image).
  bool built = false;
  double first_build_ms = 0;
  double first_execution_ms = 0;
};

struct Row {
  std::string method;
  std::string runtime;
  int concurrency = 1;
  std::vector<Sample> samples;
  double wall_s = 0;       // sum of this row's batch wall times (with settling, see Method)
  CpuTimes self_cpu;       // this process, during this row's batches
  CpuTimes settle_cpu;     // this process, while settling after this row's batches
  double settle_s = 0;     // wall time spent settling
  CpuTimes children_cpu;   // reaped children (the docker CLI) during this row's batches
  json pool;               // pooled methods: the Engine's PoolStats at the end of the row

  std::vector<double> sorted_ok() const {
    std::vector<double> v;
    for (const auto& s : samples) {
      if (s.ok) v.push_back(s.ms);
    }
    std::sort(v.begin(), v.end());
    return v;
  }
  std::size_t errors() const {
    return static_cast<std::size_t>(
        std::count_if(samples.begin(), samples.end(), [](const Sample& s) { return !s.ok; }));
  }
  double p(double q) const { return percentile(sorted_ok(), q); }
  double throughput() const { return wall_s > 0 ? static_cast<double>(samples.size()) / wall_s : 0; }
  CpuTimes cpu() const {
    CpuTimes c = self_cpu;
    c += settle_cpu;
    return c;
  }
  // How many executions got a cold, warm or reused container (Ignite methods).
  std::map<std::string, std::size_t> starts() const {
    std::map<std::string, std::size_t> n;
    for (const auto& s : samples) {
      if (!s.start.empty()) ++n[s.start];
    }
    return n;
  }
  // Mean of each step over successful samples, in first-seen order.
  std::vector<std::pair<std::string, double>> mean_steps() const {
    std::vector<std::pair<std::string, double>> sums;
    std::size_t n = 0;
    for (const auto& s : samples) {
      if (!s.ok) continue;
      ++n;
      for (const auto& [name, ms] : s.steps) {
        auto it = std::find_if(sums.begin(), sums.end(), [&](const auto& e) { return e.first == name; });
        if (it == sums.end()) {
          sums.emplace_back(name, ms);
        } else {
          it->second += ms;
        }
      }
    }
    for (auto& e : sums) e.second /= static_cast<double>(std::max<std::size_t>(n, 1));
    return sums;
  }
};

const Row* find_row(const std::vector<Row>& rows, const std::string& m, const std::string& rt, int c);

struct Method {
  std::string id;
  std::string label;
  std::function<Sample(Target&)> run;
  // Executions per row and per batch at concurrency c.
  std::function<std::pair<int, int>(int c)> sizes;
  // Methods with an Engine of their own: before each runtime x concurrency segment (unmeasured:
  // make the Engine, prewarm, one execution), and after it (returns the pool's statistics).
  std::function<void(Target&, int c)> open;
  std::function<json()> close;
  // Before each batch, unmeasured (ignite-pool-burst: fill the pool).
  std::function<void(Target&)> before_batch;
  // After each batch: waits for what the batch left running in the background (container
  // removals, pool refills), so that batches never overlap. Counted in the row's CPU, and in its
  // wall time (exec/s) when settle_in_wall.
  std::function<void(Target&)> after_batch;
  bool settle_in_wall = true;
  json pool_options;  // pooled methods, for the report
};

Method make_method(std::string id, std::string label, std::function<Sample(Target&)> run,
                   std::function<std::pair<int, int>(int c)> sizes) {
  Method m;
  m.id = std::move(id);
  m.label = std::move(label);
  m.run = std::move(run);
  m.sizes = std::move(sizes);
  return m;
}

class Bench {
 public:
  explicit Bench(Options options) : opt_(std::move(options)) {}

  int main();

 private:
  // Setup
  void collect_machine();
  Target make_target(const std::string& runtime);
  void warm_up(Target& t);
  std::vector<Method> make_methods();
  std::map<std::string, std::string> bench_labels() const;
  // The label (key=value) on the containers of the CLI processes this run starts.
  std::string cli_label() const { return "dev.ignite.test-run=bench-" + session_; }

  // Methods
  Sample run_docker_cli(Target& t);
  Sample run_ignite_cli(Target& t);
  // The SVG of every row's latency distribution (chart.hpp); false when it cannot be written.
  bool write_chart();
  fs::path chart_path() const {
    return opt_.chart_path.empty() ? fs::path(opt_.json_path).replace_extension(".svg") : opt_.chart_path;
  }
  Sample run_raw_api(Target& t);
  Sample run_churn(Target& t);
  // A raw method's container left by a failure (empty: none); errors are the sweep's to handle.
  void remove_quietly(const std::string& id);
  enum class Expect { Any, Warm, Pooled };  // which ContainerStart counts as a success
  Sample run_ignite(Target& t, Ignite::Engine& engine, Expect expect);
  Ignite::ExecuteOptions execute_options() const;

  // Pooled methods: an Engine of their own per runtime x concurrency segment.
  Ignite::Engine& pool_engine(const std::string& method);
  void open_pool(const std::string& method, Target& t, Ignite::PoolOptions pool);
  void settle_pool(const std::string& method, Target& t);
  json close_pool(const std::string& method);
  void note_once(const std::string& text);

  // Scheduling
  Row& row(const std::string& method, const std::string& runtime, int c);
  void run_batch(const Method& m, Target& t, int c, int count);
  void run_segment(Target& t, int c);
  void probe(Target& t);

  // Reporting
  json evaluate_targets();
  json to_json(const json& targets);
  void print_markdown(const json& targets);
  std::size_t cleanup();
  // ignite-remote-tls: the TLS daemon and the Engine that talks to it.
  void start_remote();
  void stop_remote();

  Options opt_;
  fs::path tls_dir_;
  std::unique_ptr<Ignite::Engine> remote_;
  json remote_info_ = json::object();
  std::string session_ = random_hex(12);
  Ignite::EngineOptions engine_options_;
  std::unique_ptr<Ignite::Engine> engine_;                         // ignite-cold (pool off)
  std::map<std::string, std::unique_ptr<Ignite::Engine>> pools_;  // by method, current segment
  std::unique_ptr<Ignite::docker::DockerClient> raw_;
  std::vector<Target> targets_;
  std::vector<Method> methods_;
  std::vector<Row> rows_;
  json machine_;
  json memory_;
  json probes_ = json::object();
  bool docker_cli_ok_ = false;
  std::string docker_cli_version_;
  std::string started_at_;
  double total_s_ = 0;
  std::size_t leftover_containers_ = 0;
  std::vector<std::string> notes_;
};

std::map<std::string, std::string> Bench::bench_labels() const {
  return {
      {"dev.ignite.managed", "true"},
      {"dev.ignite.kind", "bench"},
      {"dev.ignite.session", session_},
      {"dev.ignite.owner-host", hostname()},
      {"dev.ignite.owner-pid", std::to_string(::getpid())},
      {"dev.ignite.owner-start", self_start_time()},
  };
}

void Bench::collect_machine() {
  utsname u{};
  ::uname(&u);
  machine_ = {
      {"cpu", cpu_model()},
      {"cores", std::thread::hardware_concurrency()},
      {"memory_gib", std::round(mem_total_gib() * 10) / 10},
      {"kernel", std::string(u.release)},
      {"hostname", hostname()},
      {"loadavg_start", loadavg()},
#ifdef __OPTIMIZE__
      {"build", "opt"},
#else
      {"build", "unoptimized (fastbuild/dbg)"},
#endif
  };
  try {
    const json v = raw_->version();
    machine_["docker"] = v.value("Version", "?") + " (API " + v.value("ApiVersion", "?") + ")";
    const json info = raw_->info();
    machine_["docker_storage"] = info.value("Driver", "?");
    machine_["docker_cgroup"] = info.value("CgroupVersion", "?");
    machine_["docker_cpus"] = info.value("NCPU", 0);
  } catch (const Ignite::Error& e) {
    throw std::runtime_error(std::string("the Docker daemon does not answer: ") + e.what());
  }
  if (std::find(opt_.methods.begin(), opt_.methods.end(), "docker-run") != opt_.methods.end()) {
    const ProcResult v = run_process({opt_.docker_cli, "version", "--format", "{{.Client.Version}}"}, "",
                                     std::chrono::seconds(30));
    docker_cli_ok_ = v.error.empty() && v.exit_code == 0;
    docker_cli_version_ = docker_cli_ok_ ? first_line(v.out) : "";
    if (!docker_cli_ok_) {
      notes_.push_back("docker CLI \"" + opt_.docker_cli + "\" not usable (" +
                       (v.error.empty() ? first_line(v.err) : v.error) + "): docker-run skipped");
    }
    machine_["docker_cli"] = docker_cli_ok_ ? opt_.docker_cli + " " + docker_cli_version_ : "unavailable";
  }
}

Target Bench::make_target(const std::string& runtime) {
  Target t;
  t.runtime = runtime;
  t.service = engine_->load(opt_.services_dir / ("hello-" + runtime));
  // A name of this run's own: the per-service image is built fresh (its build time is reported)
  // and removed at the end, and other users of the example's image are not disturbed.
  t.service.config.name = "bench-" + session_.substr(0, 6) + "-" + t.service.config.name;
  const auto rt = engine_->runtimes().resolve(t.service.config.runtime);
  t.cmd = rt.argv(t.service.config.entry);
  // Exactly the environment Engine::execute builds for this input.
  std::map<std::string, std::string> env = t.service.config.env;
  env["IGNITE_INPUT"] = opt_.input;
  env["IGNITE_INPUT_BYTES"] = std::to_string(opt_.input.size());
  env.try_emplace("NODE_ENV", "production");
  for (const auto& [k, v] : env) t.env.push_back(k + "=" + v);
  t.memory = static_cast<std::int64_t>(std::llround(t.service.config.memory_mb * kMiB));
  t.cpus = t.service.config.cpu_limit.value_or(1.0);
  const auto greeting = t.service.config.env.count("GREETING") ? t.service.config.env.at("GREETING") : "Hello";
  t.expect = greeting + ", bench!";
  return t;
}

// The first execution goes through Ignite (it builds the per-service image: that is the
// first-build time); then every method runs once unmeasured, so that none pays first-use costs.
void Bench::warm_up(Target& t) {
  Ignite::ExecuteOptions o;
  o.input = opt_.input;
  const auto t0 = Clock::now();
  const Ignite::ExecutionResult r = engine_->execute(t.service, o);
  t.first_execution_ms = ms_between(t0, Clock::now());
  if (r.outcome != Ignite::Outcome::Success) {
    throw std::runtime_error("warm-up of " + t.service.config.name + " failed: " +
                             std::string(Ignite::to_string(r.outcome)) + ", stderr: " + first_line(r.stderr_text));
  }
  t.image = r.image;
  t.built = r.cold_start;
  t.first_build_ms = to_ms(r.phases.build);

  // The raw-api create body: Ignite's settings for a service without network or policy file.
  json labels = json::object();
  for (const auto& [k, v] : bench_labels()) labels[k] = v;
  t.raw_body = {
      {"Image", t.image},
      {"Cmd", t.cmd},
      {"Env", t.env},
      {"User", "1000:1000"},
      {"WorkingDir", "/app"},
      {"Labels", labels},
      {"AttachStdin", true},
      {"AttachStdout", true},
      {"AttachStderr", true},
      {"OpenStdin", true},
      {"StdinOnce", true},
      {"Tty", false},
      {"NetworkDisabled", true},
      {"HostConfig",
       {
           {"Memory", t.memory},
           {"MemorySwap", t.memory},
           {"NanoCpus", static_cast<std::int64_t>(std::llround(t.cpus * 1e9))},
           {"PidsLimit", 256},
           {"ReadonlyRootfs", true},
           {"CapDrop", {"ALL"}},
           {"SecurityOpt", {"no-new-privileges"}},
           {"Tmpfs", {{"/tmp", "rw,noexec,nosuid,nodev,size=64m"}}},
           {"Init", true},
           {"IpcMode", "none"},  // as Ignite: no writable /dev/shm
           {"Ulimits", {{{"Name", "nofile"}, {"Soft", 1024}, {"Hard", 1024}}}},
           {"Mounts",
            {{{"Type", "bind"}, {"Source", t.service.path.string()}, {"Target", "/app"}, {"ReadOnly", true}}}},
       }},
  };

  // The churn create body: what the warm pool creates for this service (Engine::Impl::pool_body
  // and start_warm): the supervisor in `once` mode starting the runtime with the runner
  // preloaded as PID 1 (no docker-init), IGNITE_RUNNER=1 instead of the job's variables (those
  // reach the runner with the job; the supervisor's completion key arrives on stdin), no
  // /dev/shm (IpcMode none) and the pool label.
  std::map<std::string, std::string> pool_env = t.service.config.env;
  pool_env.try_emplace("NODE_ENV", "production");
  pool_env["IGNITE_RUNNER"] = "1";
  json env = json::array();
  for (const auto& [k, v] : pool_env) env.push_back(k + "=" + v);
  std::vector<std::string> cmd = {kSupervisor, "once", "--"};
  const auto runner = runner_cmd(t.cmd);
  if (!runner) throw std::runtime_error("no resident runner for the command of " + t.runtime);
  cmd.insert(cmd.end(), runner->begin(), runner->end());
  t.churn_body = t.raw_body;
  t.churn_body["Cmd"] = cmd;
  t.churn_body["Env"] = env;
  t.churn_body["Labels"]["dev.ignite.pool"] = "warm";
  t.churn_body["HostConfig"]["Init"] = false;

  for (const auto& m : methods_) {
    // The cold path's warm-up was the build above; pooled methods warm up in open().
    if (m.id == "ignite-cold" || m.open) continue;
    const Sample s = m.run(t);
    if (!s.ok) throw std::runtime_error("warm-up of " + m.id + " for " + t.runtime + " failed: " + s.error);
  }
}

// The verdict on one process-driven sample (docker run, ignite run): it ran, in time, exited
// 0 and printed the expected greeting.
void process_verdict(Sample& s, const ProcResult& p, const std::string& expect, const std::string& what) {
  if (!p.error.empty()) {
    s.error = p.error;
  } else if (p.timed_out) {
    s.error = what + " timed out";
  } else if (p.exit_code != 0) {
    s.error = what + " exit " + std::to_string(p.exit_code) + ": " + first_line(p.err);
  } else if (p.out.find(expect) == std::string::npos) {
    s.error = "unexpected output: " + first_line(p.out);
  } else {
    s.ok = true;
  }
}

Sample Bench::run_docker_cli(Target& t) {
  std::vector<std::string> argv = {opt_.docker_cli, "run", "--rm", "-i"};
  for (const auto& [k, v] : bench_labels()) {
    argv.push_back("--label");
    argv.push_back(k + "=" + v);
  }
  const std::vector<std::string> flags = {
      "--network", "none",
      "--read-only",
      "--tmpfs", "/tmp:rw,noexec,nosuid,nodev,size=64m",
      "--memory", std::to_string(t.memory),
      "--memory-swap", std::to_string(t.memory),
      "--cpus", fmt("%g", t.cpus),
      "--pids-limit", "256",
      "--cap-drop", "ALL",
      "--security-opt", "no-new-privileges",
      "--user", "1000:1000",
      "--init",
      "--ipc", "none",
      "--ulimit", "nofile=1024:1024",
      "-v", t.service.path.string() + ":/app:ro",
      "-w", "/app",
  };
  argv.insert(argv.end(), flags.begin(), flags.end());
  for (const auto& e : t.env) {
    argv.push_back("-e");
    argv.push_back(e);
  }
  argv.push_back(t.image);
  argv.insert(argv.end(), t.cmd.begin(), t.cmd.end());

  Sample s;
  const auto t0 = Clock::now();
  const ProcResult p = run_process(argv, opt_.input, kExecutionTimeout);
  s.ms = ms_between(t0, Clock::now());
  process_verdict(s, p, t.expect, "docker run");
  return s;
}

// The reference CLI as a user runs it: process start to exit, on the example service itself
// (its own name and per-service image, which the warm-up builds once and the run keeps: it is
// the image `tools/ignite run` uses). Its containers carry this run's labels ($IGNITE_LABELS),
// so the final sweep finds any it left; with AutoRemove the daemon deletes them as they exit,
// which may finish after the process did.
Sample Bench::run_ignite_cli(Target& t) {
  const std::vector<std::string> argv = {opt_.ignite_cli, "run",
                                         (opt_.services_dir / ("hello-" + t.runtime)).string(),
                                         "--input", opt_.input};
  Sample s;
  const auto t0 = Clock::now();
  const ProcResult p = run_process(argv, "", kExecutionTimeout, {"IGNITE_LABELS=" + cli_label()});
  s.ms = ms_between(t0, Clock::now());
  process_verdict(s, p, t.expect, "ignite run");
  return s;
}

void Bench::remove_quietly(const std::string& id) {
  if (id.empty()) return;
  try {
    raw_->container_remove(id, true);
  } catch (...) {
  }
}

// Records, per step, the time since the previous one (the first since the sample began).
struct StepClock {
  Sample& sample;
  Clock::time_point last;
  void operator()(const char* name) {
    const auto now = Clock::now();
    sample.steps.emplace_back(name, ms_between(last, now));
    last = now;
  }
};

Sample Bench::run_raw_api(Target& t) {
  namespace dk = Ignite::docker;
  Sample s;
  std::string id;
  const auto t0 = Clock::now();
  StepClock step{s, t0};
  try {
    id = raw_->container_create(t.raw_body);
    step("create");
    dk::Attachment attachment = raw_->container_attach(id, true);
    step("attach");
    raw_->container_start(id);
    step("start");
    std::string out, err;
    const auto end = attachment.pump(
        opt_.input,
        [&](dk::StreamKind kind, std::string_view data) { (kind == dk::StreamKind::Stderr ? err : out).append(data); },
        Clock::now() + kExecutionTimeout);
    attachment.close();
    step("io");
    if (end != dk::Attachment::End::Eof) {
      raw_->container_kill(id, "KILL");
      s.error = "timed out";
    }
    const std::int64_t code = raw_->container_wait(id);
    step("wait");
    raw_->container_remove(id, true);
    id.clear();
    step("delete");
    s.ms = ms_between(t0, Clock::now());
    if (!s.error.empty()) {
    } else if (code != 0) {
      s.error = "exit " + std::to_string(code) + ": " + first_line(err);
    } else if (out.find(t.expect) == std::string::npos) {
      s.error = "unexpected output: " + first_line(out);
    } else {
      s.ok = true;
    }
  } catch (const std::exception& e) {
    s.ms = ms_between(t0, Clock::now());
    s.error = e.what();
  }
  remove_quietly(id);
  return s;
}

// The per-container cost of refilling a pool: create a container exactly as the pool does,
// attach, start, read its stderr until the runner reports ready, remove it (force: it is still
// running, waiting for a job that never comes).
Sample Bench::run_churn(Target& t) {
  namespace dk = Ignite::docker;
  Sample s;
  std::string id;
  const auto t0 = Clock::now();
  StepClock step{s, t0};
  try {
    id = raw_->container_create(t.churn_body);
    step("create");
    dk::Attachment attachment = raw_->container_attach(id, true);
    step("attach");
    raw_->container_start(id);
    step("start");
    bool ready = false;
    std::string err;
    const std::string key_line = "IGNITE-KEY " + session_ + session_.substr(0, 8) + "\n";
    const auto end = attachment.pump(
        key_line,
        [&](dk::StreamKind kind, std::string_view data) {
          if (kind != dk::StreamKind::Stderr || ready) return;
          err.append(data);
          ready = err.find(kRunnerReady) != std::string::npos;
        },
        Clock::now() + std::chrono::seconds(60), [&] { return ready; }, /*close_stdin=*/false);
    attachment.close();
    step("ready");
    raw_->container_remove(id, true);
    id.clear();
    step("remove");
    s.ms = ms_between(t0, Clock::now());
    if (ready) {
      s.ok = true;
    } else {
      s.error = std::string(end == dk::Attachment::End::Eof ? "exited before its runner was ready"
                                                           : "runner not ready within 60 s") +
                ": " + first_line(err);
    }
  } catch (const std::exception& e) {
    s.ms = ms_between(t0, Clock::now());
    s.error = e.what();
  }
  remove_quietly(id);
  return s;
}

Ignite::ExecuteOptions Bench::execute_options() const {
  Ignite::ExecuteOptions o;
  o.input = opt_.input;
  return o;
}

Sample Bench::run_ignite(Target& t, Ignite::Engine& engine, Expect expect) {
  Sample s;
  const Ignite::ExecuteOptions o = execute_options();
  const bool pooled = &engine != engine_.get();
  const auto t0 = Clock::now();
  try {
    const Ignite::ExecutionResult r = engine.execute(t.service, o);
    s.ms = ms_between(t0, Clock::now());
    const auto& ph = r.phases;
    const double phases = to_ms(ph.create + ph.start + ph.run + ph.cleanup);
    const double duration = to_ms(r.duration);
    // Engine phases have microsecond resolution; "image" (ImageBuilder::ensure, which includes a
    // build when one happens; with a pool also taking a container from it, waiting for one being
    // started if need be) is the rest of `duration`, "outside" what execute() does before and
    // after `duration` (validation, policy file, concurrency slot, history file). "cleanup" is
    // the exit status and queueing the container's removal (done in the background).
    s.steps = {
        {"outside", s.ms - duration},
        {pooled ? "image+take" : "image", duration - phases},
        {"create+attach", to_ms(ph.create)},
        {"start", to_ms(ph.start)},
        {"run", to_ms(ph.run)},
        {"cleanup", to_ms(ph.cleanup)},
    };
    s.built = r.cold_start || ph.build.count() > 0;
    s.start = std::string(Ignite::to_string(r.container_start));
    const bool start_ok = expect == Expect::Any ||
                          (expect == Expect::Warm && r.container_start == Ignite::ContainerStart::Warm) ||
                          (expect == Expect::Pooled && r.container_start != Ignite::ContainerStart::Cold);
    if (r.outcome != Ignite::Outcome::Success) {
      s.error = std::string(Ignite::to_string(r.outcome)) + " exit " + std::to_string(r.exit_code) + ": " +
                first_line(r.stderr_text);
    } else if (r.stdout_text.find(t.expect) == std::string::npos) {
      s.error = "unexpected output: " + first_line(r.stdout_text);
    } else if (!start_ok) {
      s.error = "container start " + s.start + " (expected " + (expect == Expect::Warm ? "warm" : "warm or reused") +
                "): the pool did not serve this execution";
    } else {
      s.ok = true;
    }
  } catch (const std::exception& e) {
    s.ms = ms_between(t0, Clock::now());
    s.error = e.what();
  }
  return s;
}

Ignite::Engine& Bench::pool_engine(const std::string& method) {
  const auto it = pools_.find(method);
  if (it == pools_.end() || !it->second) throw std::runtime_error(method + ": no Engine open");
  return *it->second;
}

// A fresh Engine with `pool` for one runtime x concurrency segment: filled, one unmeasured
// execution (the warm-up every method gets), then full again.
void Bench::open_pool(const std::string& method, Target& t, Ignite::PoolOptions pool) {
  Ignite::EngineOptions eo = engine_options_;
  eo.pool = pool;
  pools_[method] = std::make_unique<Ignite::Engine>(eo);
  Ignite::Engine& e = *pools_[method];
  const std::size_t ready = e.prewarm(t.service, execute_options());
  if (ready < pool.size) {
    throw std::runtime_error(fmt("prewarm: %zu of %zu containers ready", ready, pool.size));
  }
  const Sample s = run_ignite(t, e, Expect::Pooled);
  if (!s.ok) throw std::runtime_error("warm-up execution failed: " + s.error);
  settle_pool(method, t);
}

// Until the pool is full again and nothing is being started or removed: prewarm() waits on the
// pool's condition variable; a start can still be in flight with the ready count reached (reuse
// mode starts a replacement for every container taken), hence the loop on `starting`.
void Bench::settle_pool(const std::string& method, Target& t) {
  Ignite::Engine& e = pool_engine(method);
  e.prewarm(t.service, execute_options());
  const auto give_up = Clock::now() + std::chrono::seconds(120);
  while (e.pool_stats().starting > 0 && Clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  e.flush();
}

json Bench::close_pool(const std::string& method) {
  const auto it = pools_.find(method);
  if (it == pools_.end() || !it->second) return nullptr;
  const Ignite::PoolStats st = it->second->pool_stats();
  it->second->drain_pool();
  it->second->flush();
  pools_.erase(it);  // the destructor removes what is left
  return {{"ready", st.ready},           {"starting", st.starting},   {"created", st.created},
          {"dispatched", st.dispatched}, {"discarded", st.discarded}, {"expired", st.expired}};
}

void Bench::note_once(const std::string& text) {
  if (std::find(notes_.begin(), notes_.end(), text) == notes_.end()) notes_.push_back(text);
}

std::vector<Method> Bench::make_methods() {
  // Executions per row and per batch. The default: n per row; 1 per batch at c=1, 2c above (so
  // c workers overlap).
  const auto base = [this](int c) {
    return std::pair<int, int>{c == 1 ? opt_.n_serial : opt_.n_concurrent, c == 1 ? 1 : 2 * c};
  };
  // Slow methods measured for their exec/s (churn, sustained): half the executions, in batches
  // long enough that the pool has to replace most containers during the batch (4 at c=1, 4c
  // above), rounded up to whole batches.
  const auto slow = [base](int c) {
    const int batch = 4 * c;
    const int n = std::max(1, (base(c).first + 1) / 2);
    return std::pair<int, int>{(n + batch - 1) / batch * batch, batch};
  };
  // The burst: batches of c (the pool's size) from a full pool; as many batches as the others.
  const auto burst = [base](int c) {
    return std::pair<int, int>{c == 1 ? base(c).first : std::max(c, base(c).first / 2), c};
  };
  // Reuse: cheap executions, 5 times as many (so that containers reach their job limit too).
  const auto reuse = [base](int c) { return std::pair<int, int>{5 * base(c).first, 5 * base(c).second}; };
  const auto pool_json = [](const Ignite::PoolOptions& p) {
    return json{{"size", p.size},
                {"reuse", p.reuse},
                {"refill_concurrency", p.refill_concurrency},
                {"idle_expiry_s", p.idle_expiry.count()},
                {"memory_budget_mb", p.memory_budget_mb}};
  };
  const auto pool_options = [](int c, std::size_t jobs) {
    Ignite::PoolOptions p;
    p.size = static_cast<std::size_t>(c);
    p.reuse = jobs;
    return p;
  };

  std::vector<Method> all;
  all.push_back(make_method("docker-run", "docker run --rm (CLI)", [this](Target& t) { return run_docker_cli(t); },
                            base));
  all.push_back(make_method("cli", "ignite run (CLI, end to end)", [this](Target& t) { return run_ignite_cli(t); },
                            base));
  all.push_back(make_method("raw-api", "raw Engine API", [this](Target& t) { return run_raw_api(t); }, base));
  {
    Method m = make_method("ignite-cold", "Ignite cold path",
                           [this](Target& t) { return run_ignite(t, *engine_, Expect::Any); }, base);
    // Containers are removed in the background: wait for that after each batch.
    m.after_batch = [this](Target&) { engine_->flush(); };
    all.push_back(std::move(m));
  }
  const auto pooled = [&](const std::string& id, const std::string& label, Expect expect, std::size_t jobs,
                          std::function<std::pair<int, int>(int)> sizes) {
    Method m = make_method(id, label, [this, id, expect](Target& t) { return run_ignite(t, pool_engine(id), expect); },
                           std::move(sizes));
    m.open = [this, id, pool_options, jobs](Target& t, int c) { open_pool(id, t, pool_options(c, jobs)); };
    m.close = [this, id] { return close_pool(id); };
    m.after_batch = [this, id](Target& t) { settle_pool(id, t); };
    m.pool_options = pool_json(pool_options(1, jobs));
    m.pool_options["size"] = "c";
    return m;
  };
  {
    // Each batch from a full pool: prewarm() before it (unmeasured); the refills after it are
    // counted in the CPU but not in the wall time (which is the burst's own).
    Method m = pooled("ignite-pool-burst", "Ignite warm pool, burst", Expect::Warm, 1, burst);
    m.before_batch = [this](Target& t) { pool_engine("ignite-pool-burst").prewarm(t.service, execute_options()); };
    m.settle_in_wall = false;
    all.push_back(std::move(m));
  }
  all.push_back(pooled("ignite-pool-sustained", "Ignite warm pool, sustained", Expect::Any, 1, slow));
  all.push_back(make_method("churn", "container churn (raw API)", [this](Target& t) { return run_churn(t); }, slow));
  all.push_back(pooled("ignite-reuse", fmt("Ignite reuse mode (%zu jobs)", kReuseJobs), Expect::Pooled, kReuseJobs,
                       reuse));
  if (std::find(opt_.methods.begin(), opt_.methods.end(), "ignite-remote-tls") != opt_.methods.end()) {
    try {
      start_remote();
      Method m = make_method("ignite-remote-tls", "Ignite cold path, remote daemon over TLS",
                             [this](Target& t) { return run_ignite(t, *remote_, Expect::Any); }, base);
      m.after_batch = [this](Target&) { remote_->flush(); };
      all.push_back(std::move(m));
    } catch (const std::exception& e) {
      notes_.push_back(std::string("ignite-remote-tls skipped: ") + e.what());
      say(notes_.back());
      stop_remote();
    }
  }

  std::vector<Method> chosen;
  for (auto& m : all) {
    if (std::find(opt_.methods.begin(), opt_.methods.end(), m.id) == opt_.methods.end()) continue;
    if (m.id == "docker-run" && !docker_cli_ok_) continue;
    if (m.id == "cli" && opt_.ignite_cli.empty()) {
      notes_.push_back("no --ignite-cli given: the cli method is skipped (tools/bench/run passes it)");
      continue;
    }
    chosen.push_back(std::move(m));
  }
  return chosen;
}

Row& Bench::row(const std::string& method, const std::string& runtime, int c) {
  for (auto& r : rows_) {
    if (r.method == method && r.runtime == runtime && r.concurrency == c) return r;
  }
  Row r;
  r.method = method;
  r.runtime = runtime;
  r.concurrency = c;
  rows_.push_back(std::move(r));
  return rows_.back();
}

// `count` executions of one method with `c` workers. Nothing else runs in this process meanwhile,
// so the rusage delta is this method's.
void Bench::run_batch(const Method& m, Target& t, int c, int count) {
  const auto guarded = [&](const char* what, const std::function<void(Target&)>& f) {
    try {
      f(t);
    } catch (const std::exception& e) {
      const std::string text = m.id + " " + t.runtime + " c=" + std::to_string(c) + ": " + what + ": " + e.what();
      say(text);
      note_once(text);
    }
  };
  if (m.before_batch) guarded("before the batch", m.before_batch);
  std::vector<std::optional<Sample>> got(static_cast<std::size_t>(count));
  const CpuTimes self0 = cpu_now(RUSAGE_SELF), child0 = cpu_now(RUSAGE_CHILDREN);
  const auto w0 = Clock::now();
  if (c == 1) {
    for (auto& g : got) {
      if (g_stop) break;
      g = m.run(t);
    }
  } else {
    std::atomic<int> next{0};
    std::vector<std::thread> workers;
    for (int w = 0; w < std::min(c, count); ++w) {
      workers.emplace_back([&] {
        for (int i; !g_stop && (i = next++) < count;) got[static_cast<std::size_t>(i)] = m.run(t);
      });
    }
    for (auto& w : workers) w.join();
  }
  const auto w1 = Clock::now();
  const CpuTimes self1 = cpu_now(RUSAGE_SELF);
  Row& r = row(m.id, t.runtime, c);
  r.wall_s += ms_between(w0, w1) / 1000.0;
  r.self_cpu += cpu_delta(self0, self1);
  r.children_cpu += cpu_delta(child0, cpu_now(RUSAGE_CHILDREN));
  if (m.after_batch) {
    guarded("after the batch", m.after_batch);
    const double settle = ms_between(w1, Clock::now()) / 1000.0;
    r.settle_cpu += cpu_delta(self1, cpu_now(RUSAGE_SELF));
    r.settle_s += settle;
    if (m.settle_in_wall) r.wall_s += settle;
  }
  for (auto& g : got) {
    if (g) r.samples.push_back(std::move(*g));
  }
}

// Every method's executions for one runtime at concurrency c, in rounds of one batch per method.
// A method with fewer batches than the others (churn and sustained at c=1, say) runs in evenly
// spread rounds.
void Bench::run_segment(Target& t, int c) {
  struct Plan {
    const Method* m;
    int n = 0;
    int batch = 1;
    int rounds = 0;
    int done = 0;
  };
  std::vector<Plan> plans;
  for (const auto& m : methods_) {
    if (m.open) {
      say(m.id + " " + t.runtime + " c=" + std::to_string(c) + ": prewarm");
      try {
        m.open(t, c);
      } catch (const std::exception& e) {
        const std::string text = m.id + " " + t.runtime + " c=" + std::to_string(c) + " skipped: " + e.what();
        say(text);
        notes_.push_back(text);
        if (m.close) m.close();
        continue;
      }
    }
    const auto [n, batch] = m.sizes(c);
    plans.push_back({&m, n, std::max(1, batch), (n + std::max(1, batch) - 1) / std::max(1, batch)});
  }
  int total_rounds = 0;
  for (const auto& p : plans) total_rounds = std::max(total_rounds, p.rounds);
  for (int round = 0; round < total_rounds && !g_stop; ++round) {
    for (std::size_t i = 0; i < plans.size(); ++i) {
      // Rotated each round (a b c, b c a, c a b ...) unless --fixed-order: every method then
      // follows every other equally often, so what one leaves the daemon doing (the CLI's
      // NetworkMode none teardown, say) does not always land on the same method.
      Plan& p = plans[opt_.fixed_order ? i : (i + static_cast<std::size_t>(round)) % plans.size()];
      // p.rounds of the total_rounds, evenly spread.
      const auto due = [&](int r) { return static_cast<long>(r) * p.rounds / total_rounds; };
      if (due(round + 1) == due(round)) continue;
      const int k = std::min(p.batch, p.n - p.done);
      if (k <= 0 || g_stop) continue;
      run_batch(*p.m, t, c, k);
      p.done += k;
    }
  }
  for (const auto& p : plans) {
    if (p.m->close) row(p.m->id, t.runtime, c).pool = p.m->close();
  }
  std::string line = t.runtime + " c=" + std::to_string(c) + ":";
  for (const auto& p : plans) {
    if (const Row* r = find_row(rows_, p.m->id, t.runtime, c)) {
      line += fmt(" %s p50 %.0f ms %.1f/s (%zu err)", p.m->id.c_str(), r->p(0.5), r->throughput(), r->errors());
    }
  }
  say(line);
}

// Costs of single calls the cold path makes beyond the raw sequence (for the findings section):
// GET /images/{ref}/json (ImageBuilder::ensure makes two per execution), GET /containers/{id}/json
// (after wait, for OOMKilled) and Ignite::load_policy (per execution): wall p50 and this
// process's CPU per call.
void Bench::probe(Target& t) {
  const int kRounds = 20;
  json out = json::object();
  const auto measure = [&](const char* name, const std::function<void()>& call) {
    std::vector<double> wall;
    const CpuTimes c0 = cpu_now(RUSAGE_SELF);
    for (int i = 0; i < kRounds; ++i) {
      const auto t0 = Clock::now();
      call();
      wall.push_back(ms_between(t0, Clock::now()));
    }
    const CpuTimes c = cpu_delta(c0, cpu_now(RUSAGE_SELF));
    std::sort(wall.begin(), wall.end());
    out[name] = {{"wall_p50_ms", num(percentile(wall, 0.5), 3)},
                 {"cpu_ms", num(c.total() * 1000.0 / kRounds, 3)}};
  };
  measure("image_inspect", [&] { raw_->image_inspect(t.image); });
  measure("load_policy", [&] { Ignite::load_policy(t.service.path); });
  const std::string id = raw_->container_create(t.raw_body);
  try {
    measure("container_inspect", [&] { raw_->container_inspect(id); });
  } catch (...) {
    raw_->container_remove(id, true);
    throw;
  }
  raw_->container_remove(id, true);
  probes_[t.runtime] = out;
}

void Bench::start_remote() {
  if (opt_.tls_dockerd.empty()) throw std::runtime_error("no --tls-dockerd script given");
  tls_dir_ = fs::temp_directory_path() / ("ignite-bench-tls-" + session_);
  const auto t0 = Clock::now();
  const ProcResult started = run_process({opt_.tls_dockerd.string(), "start", tls_dir_.string()}, "",
                                         std::chrono::seconds(60));
  if (!started.error.empty() || started.exit_code != 0) {
    throw std::runtime_error("starting the TLS daemon: " +
                             (started.error.empty() ? first_line(started.err) : started.error));
  }
  const std::string address = first_line(started.out);  // "198.19.k.2:2376", its own netns
  Ignite::EngineOptions o = engine_options_;
  o.docker_host = "tcp://" + address;
  o.docker_tls_verify = true;
  o.docker_cert_path = tls_dir_ / "client";
  remote_ = std::make_unique<Ignite::Engine>(o);
  // The runtime images, as a user would: streamed through the Engine API.
  Ignite::ImageCopyOptions copy;
  copy.images = opt_.runtimes;
  const auto copied = engine_->copy_images(*remote_, copy);
  say(fmt("remote TLS daemon on %s up; runtime images copied: %.1f MB in %lld ms (%.0f ms in all)",
          address.c_str(), static_cast<double>(copied.bytes) / 1e6,
          static_cast<long long>(copied.duration.count()), ms_between(t0, Clock::now())));
  remote_info_ = {{"endpoint", o.docker_host},
                  {"images_copy", {{"bytes", copied.bytes},
                                   {"ms", copied.duration.count()},
                                   {"images", copied.copied}}}};
  notes_.push_back(fmt("ignite-remote-tls: a second dockerd with TLS at %s (a network namespace of its own, "
                       "over a veth pair); the runtime images "
                       "(%s) were copied there first: %.1f MB in %lld ms (Engine::copy_images)",
                       address.c_str(), [&] {
                         std::string list;
                         for (const auto& i : copied.copied) list += (list.empty() ? "" : ", ") + i;
                         return list;
                       }().c_str(),
                       static_cast<double>(copied.bytes) / 1e6, static_cast<long long>(copied.duration.count())));
}

void Bench::stop_remote() {
  if (remote_) {
    try {
      remote_->flush();
    } catch (const std::exception& e) {
      say(std::string("remote flush: ") + e.what());
    }
    remote_.reset();
  }
  if (!tls_dir_.empty()) {
    run_process({opt_.tls_dockerd.string(), "stop", tls_dir_.string()}, "", std::chrono::seconds(60));
    tls_dir_.clear();
  }
}

std::size_t Bench::cleanup() {
  std::size_t left = 0;
  try {
    for (auto& [id, e] : pools_) {
      if (!e) continue;
      e->drain_pool();
      e->flush();
      left += e->remove_containers();
    }
    pools_.clear();
    if (engine_) {
      engine_->flush();  // removals still queued are not leftovers
      left += engine_->remove_containers();
    }
    if (raw_) {
      for (const auto& c : raw_->containers_list({"dev.ignite.session=" + session_}, true)) {
        if (raw_->container_remove(c.value("Id", ""), true)) ++left;
      }
      // The CLI's containers: the daemon deletes them as they exit (AutoRemove), which may
      // still be in progress; give it a moment before calling one a leftover.
      for (int tries = 0; tries < 20; ++tries) {
        const auto cli = raw_->containers_list({cli_label()}, true);
        if (cli.empty()) break;
        if (tries == 19) {
          for (const auto& c : cli) {
            if (raw_->container_remove(c.value("Id", ""), true)) ++left;
          }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  } catch (const std::exception& e) {
    say(std::string("cleanup: ") + e.what());
  }
  return left;
}

// ---------------------------------------------------------------------------------------------
// Reporting

bool Bench::write_chart() {
  std::vector<ignite_bench::ChartSeries> series;
  for (const auto& rt : opt_.runtimes) {
    for (const auto& m : methods_) {
      for (int c : opt_.concurrency) {
        const Row* r = find_row(rows_, m.id, rt, c);
        if (r) series.push_back({rt, m.label, c, r->sorted_ok()});
      }
    }
  }
  const std::string title = "Ignite benchmark, " + started_at_ + " (" + machine_.value("cpu", std::string("?")) +
                            ", " + std::to_string(machine_.value("cores", 0)) + " cores)";
  const fs::path path = chart_path();
  std::ofstream out(path);
  out << ignite_bench::latency_chart_svg(series, title);
  out.close();
  if (!out) {
    say("could not write " + path.string());
    return false;
  }
  say("chart written to " + fs::absolute(path).string());
  return true;
}

// Ignite minus baseline, sample by sample: the i-th executions of both methods ran in the same
// round (within a few hundred ms of each other), so host drift mostly cancels out. Sorted.
std::vector<double> paired_deltas(const Row& a, const Row& b) {
  std::vector<double> d;
  for (std::size_t i = 0; i < std::min(a.samples.size(), b.samples.size()); ++i) {
    if (a.samples[i].ok && b.samples[i].ok) d.push_back(a.samples[i].ms - b.samples[i].ms);
  }
  std::sort(d.begin(), d.end());
  return d;
}

const Row* find_row(const std::vector<Row>& rows, const std::string& m, const std::string& rt, int c) {
  for (const auto& r : rows) {
    if (r.method == m && r.runtime == rt && r.concurrency == c) return &r;
  }
  return nullptr;
}

json Bench::evaluate_targets() {
  json out = json::array();
  const auto ratio_target = [&](const std::string& id, const std::string& text, const std::string& method,
                                const std::string& base, double limit) {
    json t = {{"id", id}, {"target", text}, {"limit", limit}};
    double worst = 0;
    std::string where;
    bool any = false;
    int over = 0, total = 0;
    json per_row = json::array();
    for (const auto& ig : rows_) {
      if (ig.method != method) continue;
      const Row* b = find_row(rows_, base, ig.runtime, ig.concurrency);
      if (!b) continue;
      const double r = ig.p(0.5) / b->p(0.5);
      if (!std::isfinite(r)) continue;
      any = true;
      ++total;
      over += r > limit ? 1 : 0;
      per_row.push_back({{"runtime", ig.runtime}, {"concurrency", ig.concurrency}, {"ratio", num(r, 3)}});
      if (r > worst) {
        worst = r;
        where = ig.runtime + ", c=" + std::to_string(ig.concurrency);
      }
    }
    if (!any) {
      t["status"] = "not measured";
    } else {
      t["status"] = worst <= limit ? "met" : "not met";
      t["value"] = num(worst, 3);
      t["detail"] = fmt("worst %.2fx (%s); %d of %d rows above %.2gx", worst, where.c_str(), over, total, limit);
      t["rows"] = per_row;
    }
    out.push_back(t);
  };
  ratio_target("cold-vs-raw", "cold path p50 <= 1.1x the raw Engine API sequence", "ignite-cold", "raw-api", 1.1);
  ratio_target("cold-vs-docker-run", "cold path p50 <= 0.5x docker run --rm", "ignite-cold", "docker-run", 0.5);
  ratio_target("cli-vs-docker-run", "ignite run (CLI) p50 <= 0.5x docker run --rm, end to end", "cli",
               "docker-run", 0.5);
  {
    // The remote TLS cold path against the local one, same run (baked delivery, TLS, TCP).
    json t = {{"id", "remote-tls-vs-cold"},
              {"target", "remote TLS cold path p50 <= 1.5x the local cold path"},
              {"limit", 1.5}};
    double worst = 0;
    std::string where;
    json per_row = json::array();
    for (const auto& r : rows_) {
      if (r.method != "ignite-remote-tls") continue;
      const Row* cold = find_row(rows_, "ignite-cold", r.runtime, r.concurrency);
      if (!cold || !(cold->p(0.5) > 0)) continue;
      const double ratio = r.p(0.5) / cold->p(0.5);
      per_row.push_back({{"runtime", r.runtime},
                         {"concurrency", r.concurrency},
                         {"ratio", num(ratio, 3)},
                         {"remote_p50_ms", num(r.p(0.5), 1)},
                         {"cold_p50_ms", num(cold->p(0.5), 1)}});
      if (ratio > worst) {
        worst = ratio;
        where = r.runtime + ", c=" + std::to_string(r.concurrency);
      }
    }
    if (per_row.empty()) {
      t["status"] = "not measured";
    } else {
      t["status"] = worst <= 1.5 ? "met" : "not met";
      t["value"] = num(worst, 3);
      t["detail"] = fmt("worst %.2fx (%s)", worst, where.c_str());
      t["rows"] = per_row;
    }
    out.push_back(t);
  }

  // CPU per execution over every measured execution of one Ignite method, settling included
  // (waiting for background removals and pool refills: Ignite's work for those executions).
  const auto cpu_target = [&](const std::string& id, const std::string& method, const std::string& what) {
    CpuTimes cpu, settle;
    std::size_t n = 0;
    for (const auto& r : rows_) {
      if (r.method != method) continue;
      cpu += r.cpu();
      settle += r.settle_cpu;
      n += r.samples.size();
    }
    json t = {{"id", id}, {"target", "<= 2 ms of Ignite CPU per execution (" + what + ")"}, {"limit", 2.0}};
    if (n == 0) {
      t["status"] = "not measured";
    } else {
      const double per = cpu.total() * 1000.0 / static_cast<double>(n);
      t["status"] = per <= 2.0 ? "met" : "not met";
      t["value"] = num(per, 3);
      t["detail"] = fmt("%.2f ms (user %.2f + sys %.2f; %.2f of it after the batches) over %zu executions", per,
                        cpu.user * 1000.0 / static_cast<double>(n), cpu.sys * 1000.0 / static_cast<double>(n),
                        settle.total() * 1000.0 / static_cast<double>(n), n);
    }
    out.push_back(t);
  };
  cpu_target("ignite-cpu", "ignite-cold", "cold path");
  cpu_target("ignite-cpu-pool", "ignite-pool-burst", "warm pool, refill included");
  cpu_target("ignite-cpu-reuse", "ignite-reuse", "reuse mode");

  std::size_t n = 0, built = 0;
  for (const auto& r : rows_) {
    if (r.method.rfind("ignite-", 0) != 0) continue;
    n += r.samples.size();
    for (const auto& s : r.samples) built += s.built ? 1 : 0;
  }
  json build_t = {{"id", "no-rebuild"}, {"target", "an unchanged service does zero build work"}};
  if (n == 0) {
    build_t["status"] = "not measured";
  } else {
    build_t["status"] = built == 0 ? "met" : "not met";
    build_t["detail"] = fmt("%zu of %zu measured Ignite executions built an image", built, n);
  }
  out.push_back(build_t);

  // A value per row of `method` against a per-runtime limit; met when every row is within it.
  const auto per_row = [&](const std::string& id, const std::string& text, const std::string& method,
                           const std::function<double(const Row&)>& value,
                           const std::function<double(const Row&)>& limit, bool at_most, const char* unit) {
    json t = {{"id", id}, {"target", text}};
    json rows = json::array();
    int off = 0, total = 0;
    double worst_score = -1, worst_value = 0;
    std::string worst, each;
    std::size_t errors = 0;
    for (const auto& r : rows_) {
      if (r.method != method) continue;
      const double v = value(r), lim = limit(r);
      if (!std::isfinite(v)) continue;
      ++total;
      errors += r.errors();
      const bool ok = at_most ? v <= lim : v >= lim;
      off += ok ? 0 : 1;
      rows.push_back({{"runtime", r.runtime}, {"concurrency", r.concurrency}, {"value", num(v, 3)},
                      {"limit", lim}, {"met", ok}});
      each += fmt("%s%s/c%d %.2f", each.empty() ? "" : ", ", r.runtime.c_str(), r.concurrency, v);
      // How far from the limit, as a ratio (> 1: not met).
      const double score = at_most ? v / lim : lim / std::max(v, 1e-9);
      if (score > worst_score) {
        worst_score = score;
        worst_value = v;
        worst = fmt("%.2f%s (%s, c=%d; limit %g%s)", v, unit, r.runtime.c_str(), r.concurrency, lim, unit);
      }
    }
    if (total == 0) {
      t["status"] = "not measured";
    } else {
      t["status"] = off == 0 ? "met" : "not met";
      t["value"] = num(worst_value, 3);
      t["detail"] = fmt("worst %s; %d of %d rows %s the limit (%s)", worst.c_str(), off, total,
                        at_most ? "above" : "below", each.c_str());
      if (errors > 0) t["detail"] = t["detail"].get<std::string>() + fmt("; %zu failed executions", errors);
      t["rows"] = rows;
    }
    out.push_back(t);
  };
  per_row("pool-p50", "warm pool p50 <= 6 ms (quickjs), <= 15 ms (node, bun, deno)", "ignite-pool-burst",
          [](const Row& r) { return r.p(0.5); },
          [](const Row& r) { return r.runtime == "quickjs" ? 6.0 : 15.0; }, true, " ms");
  per_row("pool-p99", "warm pool p99 <= 50 ms while the pool is not exhausted", "ignite-pool-burst",
          [](const Row& r) { return r.p(0.99); }, [](const Row&) { return 50.0; }, true, " ms");
  per_row("pool-sustained", "sustained one-shot throughput >= 0.9x the container-churn floor",
          "ignite-pool-sustained",
          [&](const Row& r) {
            const Row* churn = find_row(rows_, "churn", r.runtime, r.concurrency);
            return churn && churn->throughput() > 0 ? r.throughput() / churn->throughput() : std::nan("");
          },
          [](const Row&) { return 0.9; }, false, "x");

  // Reuse: the quickjs row with the highest throughput (the concurrency that uses the machine).
  json reuse_t = {{"id", "reuse"}, {"target", "reuse mode >= 50 executions/s for the quickjs hello on 2 cores"},
                  {"limit", 50.0}};
  const Row* best = nullptr;
  std::string all;
  for (const auto& r : rows_) {
    if (r.method != "ignite-reuse" || r.runtime != "quickjs" || r.samples.empty()) continue;
    all += fmt("%sc=%d %.1f/s", all.empty() ? "" : ", ", r.concurrency, r.throughput());
    if (!best || r.throughput() > best->throughput()) best = &r;
  }
  if (!best) {
    reuse_t["status"] = "not measured";
  } else {
    reuse_t["status"] = best->throughput() >= 50.0 ? "met" : "not met";
    reuse_t["value"] = num(best->throughput(), 2);
    reuse_t["detail"] = fmt("best %.1f executions/s (c=%d, %zu failed); all rows: %s", best->throughput(),
                            best->concurrency, best->errors(), all.c_str());
  }
  out.push_back(reuse_t);
  return out;
}

json Bench::to_json(const json& targets) {
  json rows = json::array();
  for (const auto& r : rows_) {
    const auto v = r.sorted_ok();
    json steps = json::object();
    for (const auto& [name, ms] : r.mean_steps()) steps[name] = num(ms, 2);
    json errors = json::array();
    for (const auto& s : r.samples) {
      if (!s.ok && errors.size() < 5) errors.push_back(s.error);
    }
    const double execs = static_cast<double>(std::max<std::size_t>(r.samples.size(), 1));
    rows.push_back({
        {"method", r.method},
        {"runtime", r.runtime},
        {"concurrency", r.concurrency},
        {"executions", r.samples.size()},
        {"errors", r.errors()},
        {"median_ms", num(percentile(v, 0.5))},
        {"p90_ms", num(percentile(v, 0.9))},
        {"p99_ms", num(percentile(v, 0.99))},
        {"min_ms", num(v.empty() ? std::nan("") : v.front())},
        {"max_ms", num(v.empty() ? std::nan("") : v.back())},
        {"executions_per_s", num(r.throughput(), 2)},
        {"wall_s", num(r.wall_s, 2)},
        {"process_cpu_ms_per_execution", num(r.cpu().total() * 1000.0 / execs, 3)},
        {"settle_cpu_ms_per_execution", num(r.settle_cpu.total() * 1000.0 / execs, 3)},
        {"settle_s", num(r.settle_s, 2)},
        {"children_cpu_ms_per_execution", num(r.children_cpu.total() * 1000.0 / execs, 2)},
        {"mean_steps_ms", steps},
        {"container_starts", r.starts()},
        {"pool", r.pool},
        {"error_samples", errors},
    });
  }
  json ratios = json::array();
  for (const auto& ig : rows_) {
    if (ig.method != "ignite-cold") continue;
    json e = {{"runtime", ig.runtime}, {"concurrency", ig.concurrency}};
    for (const auto& base : {"raw-api", "docker-run"}) {
      if (const Row* b = find_row(rows_, base, ig.runtime, ig.concurrency)) {
        const std::string key = std::string("ignite_over_") + (std::string(base) == "raw-api" ? "raw_api" : "docker_run");
        const auto d = paired_deltas(ig, *b);
        e[key] = {{"p50", num(ig.p(0.5) / b->p(0.5), 3)},
                  {"p90", num(ig.p(0.9) / b->p(0.9), 3)},
                  {"throughput", num(ig.throughput() / b->throughput(), 3)},
                  {"paired_delta_ms", {{"p25", num(percentile(d, 0.25))},
                                       {"median", num(percentile(d, 0.5))},
                                       {"p75", num(percentile(d, 0.75))}}}};
      }
    }
    ratios.push_back(e);
  }
  json pool_ratios = json::array();
  for (const auto& rt : opt_.runtimes) {
    for (int c : opt_.concurrency) {
      const Row* burst = find_row(rows_, "ignite-pool-burst", rt, c);
      const Row* sustained = find_row(rows_, "ignite-pool-sustained", rt, c);
      const Row* churn = find_row(rows_, "churn", rt, c);
      const Row* reuse = find_row(rows_, "ignite-reuse", rt, c);
      const Row* cold = find_row(rows_, "ignite-cold", rt, c);
      json e = {{"runtime", rt}, {"concurrency", c}};
      for (const auto& [key, base] : {std::pair<const char*, const char*>{"pool_burst_over_cold", "ignite-cold"},
                                      {"pool_burst_over_docker_run", "docker-run"}}) {
        const Row* b = find_row(rows_, base, rt, c);
        if (burst && b) {
          e[key] = {{"p50", num(burst->p(0.5) / b->p(0.5), 4)}, {"p90", num(burst->p(0.9) / b->p(0.9), 4)}};
        }
      }
      if (sustained && churn && churn->throughput() > 0) {
        e["sustained_over_churn"] = {{"throughput", num(sustained->throughput() / churn->throughput(), 3)}};
      }
      if (reuse && cold && cold->throughput() > 0) {
        e["reuse_over_cold"] = {{"throughput", num(reuse->throughput() / cold->throughput(), 3)},
                                {"p50", num(reuse->p(0.5) / cold->p(0.5), 4)}};
      }
      if (e.size() > 2) pool_ratios.push_back(e);
    }
  }
  json builds = json::object();
  for (const auto& t : targets_) {
    builds[t.runtime] = {{"image", t.image},
                         {"built", t.built},
                         {"build_ms", num(t.first_build_ms, 0)},
                         {"first_execution_ms", num(t.first_execution_ms, 0)}};
  }
  json methods = json::array();
  for (const auto& m : methods_) {
    json sizes = json::array();
    for (int c : opt_.concurrency) {
      const auto [n, batch] = m.sizes(c);
      sizes.push_back({{"concurrency", c}, {"executions", n}, {"batch", batch}});
    }
    json e = {{"id", m.id},
              {"label", m.label},
              {"sizes", sizes},
              {"settle_in_wall", m.settle_in_wall && m.after_batch}};
    if (!m.pool_options.is_null()) e["pool"] = m.pool_options;
    methods.push_back(e);
  }
  return {
      {"schema", "ignite-bench/1"},
      {"started_at", started_at_},
      {"duration_s", num(total_s_, 1)},
      {"machine", machine_},
      {"config",
       {{"runtimes", opt_.runtimes},
        {"concurrency", opt_.concurrency},
        {"executions_serial", opt_.n_serial},
        {"executions_concurrent", opt_.n_concurrent},
        {"quick", opt_.quick},
        {"order", opt_.fixed_order ? "fixed" : "rotated"},
        {"input", opt_.input},
        {"session", session_}}},
      {"methods", methods},
      {"results", rows},
      {"ratios", ratios},
      {"pool_ratios", pool_ratios},
      {"ignite",
       {{"memory", memory_}, {"first_build", builds}}},
      {"probes", probes_},
      {"remote_tls", remote_info_},
      {"targets", targets},
      {"leftover_containers_removed", leftover_containers_},
      {"notes", notes_},
  };
}

void Bench::print_markdown(const json& targets) {
  std::ostringstream o;
  o << "## Ignite benchmark, " << started_at_ << "\n\n";
  o << "Machine: " << machine_.value("cpu", "?") << ", " << machine_.value("cores", 0) << " cores, "
    << machine_.value("memory_gib", 0.0) << " GiB, kernel " << machine_.value("kernel", "?") << "; Docker "
    << machine_.value("docker", "?") << ", " << machine_.value("docker_storage", "?") << ", cgroup v"
    << machine_.value("docker_cgroup", "?");
  if (machine_.contains("docker_cli")) o << "; CLI " << machine_.value("docker_cli", "?");
  o << "; driver build: " << machine_.value("build", "?") << ".\n";
  o << "Load average at start: " << machine_.value("loadavg_start", "?") << "; at end: "
    << machine_.value("loadavg_end", "?") << ".\n";
  o << "Executions per method: " << opt_.n_serial << " at c=1, " << opt_.n_concurrent << " at c>1"
    << (opt_.quick ? " (--quick)" : "") << "; input " << opt_.input << "; total " << cell(total_s_, 0)
    << " s.\n";
  o << "Each round runs one batch per method (1 execution at c=1, 2c executions on c workers above, unless "
       "listed below), in "
    << (opt_.fixed_order ? "the same order every round" : "an order rotated each round") << ":";
  for (const auto& m : methods_) o << " " << m.id;
  o << ". With " << opt_.n_serial << " to " << opt_.n_concurrent
    << " samples per row, p99 is about the maximum.\n";
  std::string sizes;
  for (const auto& m : methods_) {
    std::string per_c;
    bool differs = false;
    for (int c : opt_.concurrency) {
      const auto [n, batch] = m.sizes(c);
      const int base_n = c == 1 ? opt_.n_serial : opt_.n_concurrent, base_batch = c == 1 ? 1 : 2 * c;
      differs = differs || n != base_n || batch != base_batch;
      per_c += fmt("%s%d in batches of %d at c=%d", per_c.empty() ? "" : ", ", n, batch, c);
    }
    if (differs) sizes += (sizes.empty() ? "" : "; ") + m.id + ": " + per_c;
  }
  if (!sizes.empty()) o << "Executions per row: " << sizes << ".\n";
  o << "\n";

  o << "### Latency and throughput\n\n";
  o << "| runtime | c | method | n | err | p50 ms | p90 ms | p99 ms | exec/s |\n";
  o << "|---|--:|---|--:|--:|--:|--:|--:|--:|\n";
  for (const auto& rt : opt_.runtimes) {
    for (int c : opt_.concurrency) {
      for (const auto& m : methods_) {
        const Row* r = find_row(rows_, m.id, rt, c);
        if (!r) continue;
        o << "| " << rt << " | " << c << " | " << m.label << " | " << r->samples.size() << " | " << r->errors()
          << " | " << cell(r->p(0.5)) << " | " << cell(r->p(0.9)) << " | " << cell(r->p(0.99)) << " | "
          << cell(r->throughput(), 2) << " |\n";
      }
    }
  }

  const bool any_cold =
      std::any_of(rows_.begin(), rows_.end(), [](const Row& r) { return r.method == "ignite-cold"; });
  if (any_cold) {
    o << "\n### Ratios (Ignite cold path / baseline; lower is better)\n\n";
    o << "| runtime | c | Ignite/raw API p50 | p90 | paired Δ vs raw ms (p25 / median / p75) | "
         "Ignite/docker run p50 | p90 |\n";
    o << "|---|--:|--:|--:|--:|--:|--:|\n";
  }
  for (const auto& rt : opt_.runtimes) {
    for (int c : opt_.concurrency) {
      const Row* ig = find_row(rows_, "ignite-cold", rt, c);
      if (!ig) continue;
      const Row* raw = find_row(rows_, "raw-api", rt, c);
      const Row* dr = find_row(rows_, "docker-run", rt, c);
      const auto ratio = [&](const Row* b, double q) {
        return b ? cell(ig->p(q) / b->p(q), 2) + "x" : std::string("–");
      };
      std::string delta = "–";
      if (raw) {
        const auto d = paired_deltas(*ig, *raw);
        if (!d.empty()) {
          delta = fmt("%+.1f / %+.1f / %+.1f", percentile(d, 0.25), percentile(d, 0.5), percentile(d, 0.75));
        }
      }
      o << "| " << rt << " | " << c << " | " << ratio(raw, 0.5) << " | " << ratio(raw, 0.9) << " | " << delta
        << " | " << ratio(dr, 0.5) << " | " << ratio(dr, 0.9) << " |\n";
    }
  }

  if (std::any_of(rows_.begin(), rows_.end(), [](const Row& r) { return r.method == "cli"; })) {
    o << "\n### The reference CLI end to end (`ignite run` process start to exit / `docker run --rm`)\n\n";
    o << "| runtime | c | CLI p50 ms | docker run p50 ms | CLI/docker run p50 | p90 | paired Δ ms (median) |\n";
    o << "|---|--:|--:|--:|--:|--:|--:|\n";
    for (const auto& rt : opt_.runtimes) {
      for (int c : opt_.concurrency) {
        const Row* cli = find_row(rows_, "cli", rt, c);
        const Row* dr = find_row(rows_, "docker-run", rt, c);
        if (!cli) continue;
        const auto ratio = [&](double q) { return dr ? cell(cli->p(q) / dr->p(q), 2) + "x" : std::string("–"); };
        std::string delta = "–";
        if (dr) {
          const auto d = paired_deltas(*cli, *dr);
          if (!d.empty()) delta = fmt("%+.1f", percentile(d, 0.5));
        }
        o << "| " << rt << " | " << c << " | " << cell(cli->p(0.5)) << " | " << (dr ? cell(dr->p(0.5)) : "–")
          << " | " << ratio(0.5) << " | " << ratio(0.9) << " | " << delta << " |\n";
      }
    }
  }

  bool any_pool = false;
  for (const auto& r : rows_) {
    any_pool = any_pool || r.method == "ignite-pool-burst" || r.method == "ignite-pool-sustained" ||
               r.method == "churn" || r.method == "ignite-reuse";
  }
  if (any_pool) {
    o << "\n### Warm pool and reuse mode\n\n";
    o << "| runtime | c | burst p50 ms | burst/cold p50 | p90 | burst/docker run p50 | p90 | sustained exec/s | "
         "churn exec/s | sustained/churn | reuse exec/s | reuse p50 ms |\n";
    o << "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n";
    for (const auto& rt : opt_.runtimes) {
      for (int c : opt_.concurrency) {
        const Row* burst = find_row(rows_, "ignite-pool-burst", rt, c);
        const Row* sustained = find_row(rows_, "ignite-pool-sustained", rt, c);
        const Row* churn = find_row(rows_, "churn", rt, c);
        const Row* reuse = find_row(rows_, "ignite-reuse", rt, c);
        const Row* cold = find_row(rows_, "ignite-cold", rt, c);
        const Row* dr = find_row(rows_, "docker-run", rt, c);
        if (!burst && !sustained && !churn && !reuse) continue;
        const auto ratio = [](const Row* a, const Row* b, double q) {
          return a && b ? cell(a->p(q) / b->p(q), 3) + "x" : std::string("–");
        };
        const auto rate = [](const Row* r) { return r ? cell(r->throughput(), 2) : std::string("–"); };
        o << "| " << rt << " | " << c << " | " << (burst ? cell(burst->p(0.5)) : "–") << " | "
          << ratio(burst, cold, 0.5) << " | " << ratio(burst, cold, 0.9) << " | " << ratio(burst, dr, 0.5) << " | "
          << ratio(burst, dr, 0.9) << " | " << rate(sustained) << " | " << rate(churn) << " | "
          << (sustained && churn && churn->throughput() > 0
                  ? cell(sustained->throughput() / churn->throughput(), 2) + "x"
                  : std::string("–"))
          << " | " << rate(reuse) << " | " << (reuse ? cell(reuse->p(0.5)) : "–") << " |\n";
      }
    }
    o << "\nContainers of the pooled rows (executions by container start; the pool's counters over the row, "
         "its warm-up included):\n";
    for (const auto& rt : opt_.runtimes) {
      for (int c : opt_.concurrency) {
        for (const auto& m : methods_) {
          const Row* r = find_row(rows_, m.id, rt, c);
          if (!r || !m.open) continue;
          std::string starts;
          for (const auto& [k, v] : r->starts()) starts += fmt("%s%s %zu", starts.empty() ? "" : ", ", k.c_str(), v);
          o << "- " << m.id << " " << rt << " c=" << c << ": " << starts;
          if (r->pool.is_object()) {
            o << "; pool created " << r->pool.value("created", 0) << ", dispatched "
              << r->pool.value("dispatched", 0) << ", discarded " << r->pool.value("discarded", 0) << ", expired "
              << r->pool.value("expired", 0);
          }
          o << "\n";
        }
      }
    }
  }

  o << "\n### Where the time goes (mean ms per successful execution)\n\n";
  o << "| runtime | c | method | steps |\n|---|--:|---|---|\n";
  for (const auto& rt : opt_.runtimes) {
    for (int c : opt_.concurrency) {
      for (const auto& m : methods_) {
        const Row* r = find_row(rows_, m.id, rt, c);
        if (!r) continue;
        const auto steps = r->mean_steps();
        if (steps.empty()) continue;
        std::string text;
        for (const auto& [name, ms] : steps) text += (text.empty() ? "" : ", ") + name + " " + cell(ms);
        o << "| " << rt << " | " << c << " | " << m.label << " | " << text << " |\n";
      }
    }
  }
  if (!probes_.empty()) {
    o << "\nSingle calls the cold path adds to the raw sequence (p50 wall / CPU in this process, "
         "20 calls each):";
    for (const auto& [rt, p] : probes_.items()) {
      o << "\n- " << rt << ":";
      for (const auto& [name, v] : p.items()) {
        o << " " << name << " " << cell(v.value("wall_p50_ms", 0.0), 2) << " ms / "
          << cell(v.value("cpu_ms", 0.0), 3) << " ms CPU;";
      }
    }
    o << "\n";
  }

  o << "\n### Ignite process cost\n\n";
  const auto per = [](const CpuTimes& c, std::size_t n) {
    return n ? fmt("%.2f ms (user %.2f + sys %.2f)", c.total() * 1000 / static_cast<double>(n),
                   c.user * 1000 / static_cast<double>(n), c.sys * 1000 / static_cast<double>(n))
             : std::string("–");
  };
  // Ignite's methods: this process's CPU over the batches and the settling after them.
  for (const auto& m : methods_) {
    if (m.id.rfind("ignite-", 0) != 0) continue;
    CpuTimes cpu, settle;
    std::size_t n = 0;
    std::string rows;
    for (const auto& r : rows_) {
      if (r.method != m.id || r.samples.empty()) continue;
      cpu += r.cpu();
      settle += r.settle_cpu;
      n += r.samples.size();
      rows += fmt(" %s/c%d %.2f", r.runtime.c_str(), r.concurrency,
                  r.cpu().total() * 1000 / static_cast<double>(r.samples.size()));
    }
    if (n == 0) continue;
    o << "- CPU per execution in this process, " << m.label << ": " << per(cpu, n) << " over " << n
      << " executions, of which " << cell(settle.total() * 1000 / static_cast<double>(n), 2)
      << (m.id == "ignite-cold" ? " ms waiting for the background removals after each batch"
                                : " ms after each batch (pool refills and removals)")
      << "; per row:" << rows << "\n";
  }
  CpuTimes raw_cpu, cli_cpu, churn_cpu;
  std::size_t raw_n = 0, cli_n = 0, churn_n = 0;
  for (const auto& r : rows_) {
    if (r.method == "raw-api") {
      raw_cpu += r.self_cpu;
      raw_n += r.samples.size();
    } else if (r.method == "churn") {
      churn_cpu += r.self_cpu;
      churn_n += r.samples.size();
    } else if (r.method == "docker-run") {
      cli_cpu += r.children_cpu;
      cli_n += r.samples.size();
    }
  }
  o << "- for comparison, the raw Engine API client (same process, libcurl + attach): " << per(raw_cpu, raw_n);
  if (churn_n > 0) o << "; the raw churn of pooled containers: " << per(churn_cpu, churn_n);
  o << "; the docker CLI processes (children): " << per(cli_cpu, cli_n) << "\n";
  o << "- idle memory: VmRSS " << cell(memory_.value("rss_idle_mib", 0.0)) << " MiB after constructing an Engine and loading "
    << targets_.size() << " services (" << cell(memory_.value("rss_start_mib", 0.0)) << " MiB at process start, so +"
    << cell(memory_.value("rss_idle_mib", 0.0) - memory_.value("rss_start_mib", 0.0), 2) << " MiB); "
    << cell(memory_.value("rss_end_mib", 0.0)) << " MiB after all executions (peak VmHWM "
    << cell(memory_.value("hwm_end_mib", 0.0)) << " MiB)\n";
  o << "- first build of the per-service image (warm-up execution, excluded from the rows):";
  for (const auto& t : targets_) {
    o << " " << t.runtime << " " << (t.built ? cell(t.first_build_ms, 0) + " ms" : std::string("not built (present)"))
      << " (execution " << cell(t.first_execution_ms, 0) << " ms);";
  }
  o << "\n";

  o << "\n### Targets (issue 7)\n\n";
  for (const auto& t : targets) {
    const std::string status = t.value("status", "?");
    o << "- " << (status == "met" ? "MET" : status == "not met" ? "NOT MET" : status) << ": "
      << t.value("target", "") << (t.contains("detail") ? " — " + t.value("detail", "") : "") << "\n";
  }
  if (!notes_.empty()) {
    o << "\nNotes:\n";
    for (const auto& n : notes_) o << "- " << n << "\n";
  }
  std::cout << o.str() << std::flush;
}

int Bench::main() {
  started_at_ = utc_now();
  const auto run_t0 = Clock::now();
  memory_["rss_start_mib"] = num(proc_status_mib("VmRSS"), 2);

  Ignite::EngineOptions& eo = engine_options_;
  // History files (preflight hints) of the bench go to a scratch directory.
  eo.state_dir = fs::temp_directory_path() / ("ignite-bench-state-" + session_);
  engine_ = std::make_unique<Ignite::Engine>(eo);
  for (const auto& rt : opt_.runtimes) targets_.push_back(make_target(rt));
  // The library's idle footprint: an Engine with its services loaded, nothing executed yet.
  memory_["rss_idle_mib"] = num(proc_status_mib("VmRSS"), 2);

  raw_ = std::make_unique<Ignite::docker::DockerClient>(Ignite::docker::socket_from_env());
  collect_machine();
  methods_ = make_methods();

  int rc = 0;
  try {
    for (auto& t : targets_) {
      if (g_stop) break;
      say("warm-up " + t.runtime + " (" + t.service.config.name + ")");
      warm_up(t);
      say(fmt("  image %s %s", t.image.c_str(),
              t.built ? fmt("built in %.0f ms", t.first_build_ms).c_str() : "already present"));
      for (int c : opt_.concurrency) {
        if (g_stop) break;
        run_segment(t, c);
      }
      if (!g_stop) probe(t);
    }
  } catch (const std::exception& e) {
    say(std::string("FAILED: ") + e.what());
    notes_.push_back(std::string("run aborted: ") + e.what());
    rc = 1;
  }
  if (g_stop) {
    notes_.push_back("interrupted: partial results");
    rc = 130;
  }
  memory_["rss_end_mib"] = num(proc_status_mib("VmRSS"), 2);
  memory_["hwm_end_mib"] = num(proc_status_mib("VmHWM"), 2);
  memory_["note"] = "VmRSS of the whole driver process (Ignite + libcurl + this driver)";
  leftover_containers_ = cleanup();
  stop_remote();  // its containers and images go with its data-root
  if (leftover_containers_ > 0) {
    notes_.push_back(fmt("%zu containers of this run were still present at the end and were removed",
                         leftover_containers_));
  }
  if (!opt_.keep_images) {
    for (const auto& t : targets_) {
      if (t.image.empty()) continue;
      try {
        raw_->image_remove(t.image, false);
      } catch (const std::exception& e) {
        say(std::string("could not remove ") + t.image + ": " + e.what());
      }
    }
  }
  std::error_code ec;
  fs::remove_all(eo.state_dir, ec);

  machine_["loadavg_end"] = loadavg();
  total_s_ = ms_between(run_t0, Clock::now()) / 1000.0;
  std::size_t errors = 0;
  for (const auto& r : rows_) errors += r.errors();
  if (errors > 0) notes_.push_back(fmt("%zu executions failed (see error_samples in the JSON)", errors));

  const json targets = evaluate_targets();
  const json doc = to_json(targets);
  print_markdown(targets);
  std::ofstream out(opt_.json_path);
  out << doc.dump(2) << "\n";
  if (!out) {
    say("could not write " + opt_.json_path.string());
    return 1;
  }
  say("JSON written to " + fs::absolute(opt_.json_path).string());
  if (!write_chart()) return 1;
  if (rc == 0 && errors > 0) rc = 2;
  return rc;
}

// ---------------------------------------------------------------------------------------------

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

const char* kUsage = R"(Usage: bench [options]   (normally run through tools/bench/run)
  --quick               5 executions per method at c=1 and 8 at c>1 (default 20 and 40; the
                        pooled methods and churn scale these, see docs/performance.md)
  --runtimes LIST       comma-separated subset of node,bun,deno,quickjs (default all)
  --concurrency LIST    concurrency levels (default 1,4)
  --executions N1,NC    executions per method at c=1 and at each c>1
  --tls-dockerd PATH    tests/remote/tls_dockerd (for ignite-remote-tls; tools/bench/run passes it)
  --methods LIST        subset of docker-run,cli,raw-api,ignite-cold,ignite-pool-burst,
                        ignite-pool-sustained,churn,ignite-reuse,ignite-remote-tls (default all)
  --json PATH           where the JSON results go (default bench-results.json)
  --chart PATH          where the SVG chart of the latency distributions goes (default: the JSON
                        path with .svg)
  --services DIR        directory holding hello-<runtime>/ (default examples/services)
  --docker-cli PATH     docker CLI for the docker-run baseline (default docker from PATH)
  --ignite-cli PATH     the reference CLI for the cli method (tools/bench/run passes its -c opt build)
  --keep-images         keep the per-service images this run built
  --fixed-order         run the methods in the same order every round (default: rotate)
)";

int parse_int(const std::string& s, const std::string& what) {
  try {
    std::size_t used = 0;
    const int v = std::stoi(s, &used);
    if (used != s.size() || v <= 0) throw std::invalid_argument(s);
    return v;
  } catch (const std::exception&) {
    throw std::invalid_argument(what + ": expected a positive number, got \"" + s + "\"");
  }
}

Options parse_args(int argc, char** argv) {
  Options o;
  std::optional<std::pair<int, int>> executions;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&]() -> std::string {
      const auto eq = a.find('=');
      if (eq != std::string::npos) return a.substr(eq + 1);
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    const std::string key = a.substr(0, a.find('='));
    if (key == "-h" || key == "--help") {
      std::cout << kUsage;
      std::exit(0);
    } else if (key == "--quick") {
      o.quick = true;
    } else if (key == "--runtimes") {
      o.runtimes = split(value());
      for (const auto& r : o.runtimes) {
        if (r != "node" && r != "bun" && r != "deno" && r != "quickjs") {
          throw std::invalid_argument("--runtimes: unknown runtime \"" + r + "\" (node, bun, deno, quickjs)");
        }
      }
    } else if (key == "--concurrency") {
      o.concurrency.clear();
      for (const auto& c : split(value())) o.concurrency.push_back(parse_int(c, "--concurrency"));
    } else if (key == "--executions") {
      const auto parts = split(value());
      if (parts.size() != 2) throw std::invalid_argument("--executions: expected N1,NC (e.g. 20,40)");
      executions = {parse_int(parts[0], "--executions"), parse_int(parts[1], "--executions")};
    } else if (key == "--methods") {
      o.methods = split(value());
      if (o.methods.empty()) throw std::invalid_argument("--methods: empty list");
      for (const auto& m : o.methods) {
        if (std::find(kMethodIds.begin(), kMethodIds.end(), m) == kMethodIds.end()) {
          std::string known;
          for (const auto& id : kMethodIds) known += (known.empty() ? "" : ", ") + id;
          throw std::invalid_argument("--methods: unknown method \"" + m + "\" (" + known + ")");
        }
      }
    } else if (key == "--json") {
      o.json_path = value();
    } else if (key == "--chart") {
      o.chart_path = value();
    } else if (key == "--services") {
      o.services_dir = value();
    } else if (key == "--tls-dockerd") {
      o.tls_dockerd = value();
    } else if (key == "--docker-cli") {
      o.docker_cli = value();
    } else if (key == "--ignite-cli") {
      o.ignite_cli = value();
    } else if (key == "--keep-images") {
      o.keep_images = true;
    } else if (key == "--fixed-order") {
      o.fixed_order = true;
    } else {
      throw std::invalid_argument("unknown argument: " + a + " (see --help)");
    }
  }
  if (o.quick) {
    o.n_serial = 5;
    o.n_concurrent = 8;
  }
  if (executions) std::tie(o.n_serial, o.n_concurrent) = *executions;
  if (o.runtimes.empty()) throw std::invalid_argument("--runtimes: empty list");
  if (o.concurrency.empty()) throw std::invalid_argument("--concurrency: empty list");
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  try {
    options = parse_args(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench: %s\n", e.what());
    return 64;
  }
  ::signal(SIGPIPE, SIG_IGN);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  try {
    return Bench(std::move(options)).main();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "[bench] FAILED: %s\n", e.what());
    return 1;
  }
}
