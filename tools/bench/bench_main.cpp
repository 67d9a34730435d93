// Ignite benchmark driver (run it through tools/bench/run; docs/performance.md explains it).
//
// In one run, on the same per-service images, for each hello service (node, bun, deno, quickjs)
// and each concurrency level, it measures one-shot executions by:
//   docker-run   `docker run --rm -i` through the docker CLI with the equivalent hardened flags
//                (a baseline only: Ignite itself never uses the CLI);
//   raw-api      the bare Engine API sequence done here with DockerClient and the same settings
//                (create with NetworkDisabled -> attach -> start -> stdin/output -> wait ->
//                delete): the floor Ignite's cold path should reach;
//   ignite-cold  Ignite::Engine::execute with the per-service image already built.
// Methods are interleaved batch by batch (a, b, c, then b, c, a, then c, a, b ...) so that drift
// of the host hits all of them alike and none always follows the same other one. No two batches
// overlap, so the CPU time this process spends during Ignite's batches (getrusage) is Ignite's.
//
// Output: a Markdown report on stdout, progress on stderr, everything as JSON in --json PATH.
//
// Adding a method (e.g. the warm pool or reuse mode of issue 7): write a `Sample run(Target&)`
// function, add a Method to make_methods(), and replace the "not implemented" entries of
// evaluate_targets() with checks on its rows. Rows, ratios and JSON pick it up by its id.
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
ProcResult run_process(const std::vector<std::string>& argv, std::string_view input,
                       std::chrono::milliseconds timeout) {
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
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
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
// The benchmark

struct Options {
  fs::path services_dir = "examples/services";
  std::vector<std::string> runtimes = {"node", "bun", "deno", "quickjs"};
  std::vector<int> concurrency = {1, 4};
  int n_serial = 20;      // executions per method at concurrency 1
  int n_concurrent = 40;  // executions per method at each concurrency > 1
  bool quick = false;
  fs::path json_path = "bench-results.json";
  std::string docker_cli = "docker";
  std::vector<std::string> methods = {"docker-run", "raw-api", "ignite-cold"};
  bool keep_images = false;
  bool fixed_order = false;
  std::string input = R"({"name":"bench"})";
};

struct Sample {
  double ms = 0;
  bool ok = false;
  std::string error;
  std::vector<std::pair<std::string, double>> steps;  // where the time went, in order
  bool built = false;                                 // ignite-cold: an image build happened
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
  double wall_s = 0;       // sum of this row's batch wall times
  CpuTimes self_cpu;       // this process, during this row's batches
  CpuTimes children_cpu;   // reaped children (the docker CLI) during this row's batches

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

struct Method {
  std::string id;
  std::string label;
  std::function<Sample(Target&)> run;
};

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

  // Methods
  Sample run_docker_cli(Target& t);
  Sample run_raw_api(Target& t);
  Sample run_ignite(Target& t);

  // Scheduling
  Row& row(const std::string& method, const std::string& runtime, int c);
  void run_batch(const Method& m, Target& t, int c, int count);
  void probe(Target& t);

  // Reporting
  json evaluate_targets();
  json to_json(const json& targets);
  void print_markdown(const json& targets);
  std::size_t cleanup();

  Options opt_;
  std::string session_ = random_hex(12);
  std::unique_ptr<Ignite::Engine> engine_;
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
  t.first_build_ms = static_cast<double>(r.phases.build.count());

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
           {"Ulimits", {{{"Name", "nofile"}, {"Soft", 1024}, {"Hard", 1024}}}},
           {"Mounts",
            {{{"Type", "bind"}, {"Source", t.service.path.string()}, {"Target", "/app"}, {"ReadOnly", true}}}},
       }},
  };
  for (const auto& m : methods_) {
    if (m.id == "ignite-cold") continue;
    const Sample s = m.run(t);
    if (!s.ok) throw std::runtime_error("warm-up of " + m.id + " for " + t.runtime + " failed: " + s.error);
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
  if (!p.error.empty()) {
    s.error = p.error;
  } else if (p.timed_out) {
    s.error = "docker run timed out";
  } else if (p.exit_code != 0) {
    s.error = "docker run exit " + std::to_string(p.exit_code) + ": " + first_line(p.err);
  } else if (p.out.find(t.expect) == std::string::npos) {
    s.error = "unexpected output: " + first_line(p.out);
  } else {
    s.ok = true;
  }
  return s;
}

Sample Bench::run_raw_api(Target& t) {
  namespace dk = Ignite::docker;
  Sample s;
  std::string id;
  const auto t0 = Clock::now();
  auto last = t0;
  const auto step = [&](const char* name) {
    const auto now = Clock::now();
    s.steps.emplace_back(name, ms_between(last, now));
    last = now;
  };
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
  if (!id.empty()) {
    try {
      raw_->container_remove(id, true);
    } catch (...) {
    }
  }
  return s;
}

Sample Bench::run_ignite(Target& t) {
  Sample s;
  Ignite::ExecuteOptions o;
  o.input = opt_.input;
  const auto t0 = Clock::now();
  try {
    const Ignite::ExecutionResult r = engine_->execute(t.service, o);
    s.ms = ms_between(t0, Clock::now());
    const auto& ph = r.phases;
    const double phases = static_cast<double>((ph.create + ph.start + ph.run + ph.cleanup).count());
    const double duration = static_cast<double>(r.duration.count());
    // Engine phases have millisecond resolution; "image" (ImageBuilder::ensure, which includes a
    // build when one happens) is the rest of `duration`, "outside" what execute() does before and
    // after `duration` (validation, policy file, concurrency slot, history file).
    s.steps = {
        {"outside", s.ms - duration},
        {"image", duration - phases},
        {"create+attach", static_cast<double>(ph.create.count())},
        {"start", static_cast<double>(ph.start.count())},
        {"run", static_cast<double>(ph.run.count())},
        {"cleanup", static_cast<double>(ph.cleanup.count())},
    };
    s.built = r.cold_start || ph.build.count() > 0;
    if (r.outcome != Ignite::Outcome::Success) {
      s.error = std::string(Ignite::to_string(r.outcome)) + " exit " + std::to_string(r.exit_code) + ": " +
                first_line(r.stderr_text);
    } else if (r.stdout_text.find(t.expect) == std::string::npos) {
      s.error = "unexpected output: " + first_line(r.stdout_text);
    } else {
      s.ok = true;
    }
  } catch (const std::exception& e) {
    s.ms = ms_between(t0, Clock::now());
    s.error = e.what();
  }
  return s;
}

std::vector<Method> Bench::make_methods() {
  std::vector<Method> all = {
      {"docker-run", "docker run --rm (CLI)", [this](Target& t) { return run_docker_cli(t); }},
      {"raw-api", "raw Engine API", [this](Target& t) { return run_raw_api(t); }},
      {"ignite-cold", "Ignite cold path", [this](Target& t) { return run_ignite(t); }},
  };
  std::vector<Method> chosen;
  for (auto& m : all) {
    if (std::find(opt_.methods.begin(), opt_.methods.end(), m.id) == opt_.methods.end()) continue;
    if (m.id == "docker-run" && !docker_cli_ok_) continue;
    chosen.push_back(std::move(m));
  }
  return chosen;
}

Row& Bench::row(const std::string& method, const std::string& runtime, int c) {
  for (auto& r : rows_) {
    if (r.method == method && r.runtime == runtime && r.concurrency == c) return r;
  }
  rows_.push_back(Row{method, runtime, c, {}, 0, {}, {}});
  return rows_.back();
}

// `count` executions of one method with `c` workers. Nothing else runs in this process meanwhile,
// so the rusage delta is this method's.
void Bench::run_batch(const Method& m, Target& t, int c, int count) {
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
  Row& r = row(m.id, t.runtime, c);
  r.wall_s += ms_between(w0, w1) / 1000.0;
  r.self_cpu += cpu_delta(self0, cpu_now(RUSAGE_SELF));
  r.children_cpu += cpu_delta(child0, cpu_now(RUSAGE_CHILDREN));
  for (auto& g : got) {
    if (g) r.samples.push_back(std::move(*g));
  }
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

std::size_t Bench::cleanup() {
  std::size_t left = 0;
  try {
    if (engine_) left += engine_->remove_containers();
    if (raw_) {
      for (const auto& c : raw_->containers_list({"dev.ignite.session=" + session_}, true)) {
        if (raw_->container_remove(c.value("Id", ""), true)) ++left;
      }
    }
  } catch (const std::exception& e) {
    say(std::string("cleanup: ") + e.what());
  }
  return left;
}

// ---------------------------------------------------------------------------------------------
// Reporting

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
  const auto ratio_target = [&](const std::string& id, const std::string& text, const std::string& base,
                                double limit) {
    json t = {{"id", id}, {"target", text}, {"limit", limit}};
    double worst = 0;
    std::string where;
    bool any = false;
    int over = 0, total = 0;
    json per_row = json::array();
    for (const auto& ig : rows_) {
      if (ig.method != "ignite-cold") continue;
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
  ratio_target("cold-vs-raw", "cold path p50 <= 1.1x the raw Engine API sequence", "raw-api", 1.1);
  ratio_target("cold-vs-docker-run", "cold path p50 <= 0.5x docker run --rm", "docker-run", 0.5);

  // CPU per execution over every measured Ignite execution.
  CpuTimes cpu;
  std::size_t n = 0, built = 0;
  for (const auto& r : rows_) {
    if (r.method != "ignite-cold") continue;
    cpu += r.self_cpu;
    n += r.samples.size();
    for (const auto& s : r.samples) built += s.built ? 1 : 0;
  }
  json cpu_t = {{"id", "ignite-cpu"}, {"target", "<= 2 ms of Ignite CPU per execution"}, {"limit", 2.0}};
  if (n == 0) {
    cpu_t["status"] = "not measured";
  } else {
    const double per = cpu.total() * 1000.0 / static_cast<double>(n);
    cpu_t["status"] = per <= 2.0 ? "met" : "not met";
    cpu_t["value"] = num(per, 3);
    cpu_t["detail"] = fmt("%.2f ms (user %.2f + sys %.2f) over %zu executions", per,
                          cpu.user * 1000.0 / static_cast<double>(n), cpu.sys * 1000.0 / static_cast<double>(n), n);
  }
  out.push_back(cpu_t);
  json build_t = {{"id", "no-rebuild"}, {"target", "an unchanged service does zero build work"}};
  if (n == 0) {
    build_t["status"] = "not measured";
  } else {
    build_t["status"] = built == 0 ? "met" : "not met";
    build_t["detail"] = fmt("%zu of %zu measured executions built an image", built, n);
  }
  out.push_back(build_t);
  for (const auto& [id, text] : std::vector<std::pair<std::string, std::string>>{
           {"pool-p50", "warm pool p50 <= 6 ms (quickjs), <= 15 ms (node, bun, deno)"},
           {"pool-p99", "warm pool p99 <= 50 ms while the pool is not exhausted"},
           {"pool-sustained", "sustained one-shot throughput >= 0.9x the container-churn floor"},
           {"reuse", "reuse mode >= 50 executions/s for the quickjs hello on 2 cores"},
       }) {
    out.push_back({{"id", id}, {"target", text}, {"status", "not implemented"}});
  }
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
        {"process_cpu_ms_per_execution", num(r.self_cpu.total() * 1000.0 / execs, 3)},
        {"children_cpu_ms_per_execution", num(r.children_cpu.total() * 1000.0 / execs, 2)},
        {"mean_steps_ms", steps},
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
  json builds = json::object();
  for (const auto& t : targets_) {
    builds[t.runtime] = {{"image", t.image},
                         {"built", t.built},
                         {"build_ms", num(t.first_build_ms, 0)},
                         {"first_execution_ms", num(t.first_execution_ms, 0)}};
  }
  json methods = json::array();
  for (const auto& m : methods_) methods.push_back({{"id", m.id}, {"label", m.label}});
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
      {"ignite",
       {{"memory", memory_}, {"first_build", builds}}},
      {"probes", probes_},
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
  o << "Each round runs one batch per method (1 execution at c=1, 2c executions on c workers above), in "
    << (opt_.fixed_order ? "the same order every round" : "an order rotated each round") << ":";
  for (const auto& m : methods_) o << " " << m.id;
  o << ". With " << opt_.n_serial << " to " << opt_.n_concurrent
    << " samples per row, p99 is about the maximum.\n\n";

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

  o << "\n### Ratios (Ignite cold path / baseline; lower is better)\n\n";
  o << "| runtime | c | Ignite/raw API p50 | p90 | paired Δ vs raw ms (p25 / median / p75) | Ignite/docker run p50 | p90 |\n";
  o << "|---|--:|--:|--:|--:|--:|--:|\n";
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
  CpuTimes ig_cpu, raw_cpu, cli_cpu;
  std::size_t ig_n = 0, raw_n = 0, cli_n = 0;
  for (const auto& r : rows_) {
    if (r.method == "ignite-cold") {
      ig_cpu += r.self_cpu;
      ig_n += r.samples.size();
    } else if (r.method == "raw-api") {
      raw_cpu += r.self_cpu;
      raw_n += r.samples.size();
    } else if (r.method == "docker-run") {
      cli_cpu += r.children_cpu;
      cli_n += r.samples.size();
    }
  }
  const auto per = [](const CpuTimes& c, std::size_t n) {
    return n ? fmt("%.2f ms (user %.2f + sys %.2f)", c.total() * 1000 / static_cast<double>(n),
                   c.user * 1000 / static_cast<double>(n), c.sys * 1000 / static_cast<double>(n))
             : std::string("–");
  };
  o << "- CPU per execution in this process, Ignite cold path: " << per(ig_cpu, ig_n) << " over " << ig_n
    << " executions; per row:";
  for (const auto& r : rows_) {
    if (r.method != "ignite-cold" || r.samples.empty()) continue;
    o << " " << r.runtime << "/c" << r.concurrency << " "
      << cell(r.self_cpu.total() * 1000 / static_cast<double>(r.samples.size()), 2);
  }
  o << "\n";
  o << "- for comparison, the raw Engine API client (same process, libcurl + attach): " << per(raw_cpu, raw_n)
    << "; the docker CLI processes (children): " << per(cli_cpu, cli_n) << "\n";
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

  Ignite::EngineOptions eo;
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
        const int n = c == 1 ? opt_.n_serial : opt_.n_concurrent;
        // One execution per method per round at c=1; 2c per round above, so c workers overlap.
        const int batch = c == 1 ? 1 : 2 * c;
        std::map<std::string, int> done;
        bool more = true;
        for (std::size_t round = 0; more && !g_stop; ++round) {
          more = false;
          for (std::size_t i = 0; i < methods_.size(); ++i) {
            // Rotated each round (a b c, b c a, c a b ...) unless --fixed-order: every method
            // then follows every other equally often, so what one leaves the daemon doing (the
            // CLI's NetworkMode none teardown, say) does not always land on the same method.
            const Method& m = methods_[opt_.fixed_order ? i : (i + round) % methods_.size()];
            const int k = std::min(batch, n - done[m.id]);
            if (k <= 0 || g_stop) continue;
            run_batch(m, t, c, k);
            done[m.id] += k;
            if (done[m.id] < n) more = true;
          }
        }
        std::string line = t.runtime + " c=" + std::to_string(c) + ":";
        for (const auto& m : methods_) {
          if (const Row* r = find_row(rows_, m.id, t.runtime, c)) {
            line += fmt(" %s p50 %.0f ms (%zu err)", m.id.c_str(), r->p(0.5), r->errors());
          }
        }
        say(line);
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
  --quick               5 executions per method at c=1 and 8 at c>1 (default 20 and 40)
  --runtimes LIST       comma-separated subset of node,bun,deno,quickjs (default all)
  --concurrency LIST    concurrency levels (default 1,4)
  --executions N1,NC    executions per method at c=1 and at each c>1
  --methods LIST        subset of docker-run,raw-api,ignite-cold (default all)
  --json PATH           where the JSON results go (default bench-results.json)
  --services DIR        directory holding hello-<runtime>/ (default examples/services)
  --docker-cli PATH     docker CLI for the docker-run baseline (default docker from PATH)
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
      for (const auto& m : o.methods) {
        if (m != "docker-run" && m != "raw-api" && m != "ignite-cold") {
          throw std::invalid_argument("--methods: unknown method \"" + m + "\" (docker-run, raw-api, ignite-cold)");
        }
      }
    } else if (key == "--json") {
      o.json_path = value();
    } else if (key == "--services") {
      o.services_dir = value();
    } else if (key == "--docker-cli") {
      o.docker_cli = value();
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
