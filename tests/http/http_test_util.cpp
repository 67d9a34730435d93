#include "tests/http/http_test_util.hpp"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "ignite/src/docker/client.hpp"
#include "tests/test_util.hpp"

extern char** environ;

namespace ignite_http_test {

using Clock = std::chrono::steady_clock;
using Ignite::testing::runfile;
using Ignite::testing::write_file;

// ---- HTTP client -----------------------------------------------------------------------------

nlohmann::json Response::json() const {
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded())
    throw std::runtime_error("not JSON (status " + std::to_string(status) + "): " + body);
  return j;
}

std::string Response::header(const std::string& lower_name) const {
  const auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

namespace {

struct Transfer {
  Response* res;
  const Request* req;
};

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::string_view chunk(data, size * n);
  t->res->body.append(chunk);
  if (t->req->on_data && !t->req->on_data(chunk)) return 0;
  return size * n;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string line(data, size * n);
  const auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ')) value.erase(0, 1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
      value.pop_back();
    t->res->headers[name] = value;
  }
  return size * n;
}

void curl_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_ALL); });
}

}  // namespace

Client::Client() {
  curl_init_once();
  curl_ = curl_easy_init();
}

Client::~Client() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

Response Client::request(const std::string& url, const Request& req) {
  CURL* c = static_cast<CURL*>(curl_);
  Response res;
  Transfer t{&res, &req};
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, req.timeout_ms);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_HTTP_VERSION,
                   req.http10 ? CURL_HTTP_VERSION_1_0 : CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(c, CURLOPT_INTERFACE, req.source_ip.empty() ? nullptr : req.source_ip.c_str());
  if (req.body) {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, req.body->data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body->size()));
  } else if (req.method == "POST") {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(0));
  } else {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  }
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST,
                   req.method == "GET" || req.method == "POST" ? nullptr : req.method.c_str());
  curl_slist* headers = nullptr;
  for (const auto& h : req.headers) headers = curl_slist_append(headers, h.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  const CURLcode rc = curl_easy_perform(c);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK) {
    res.error = curl_easy_strerror(rc);
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res.status);
  curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &res.new_connections);
  if (rc != CURLE_OK && rc != CURLE_WRITE_ERROR) res.status = res.status ? res.status : 0;
  return res;
}

Response http(const std::string& url, const Request& req) {
  Client c;
  return c.request(url, req);
}

// ---- server process --------------------------------------------------------------------------

fs::path server_binary() { return runfile("examples/http/ignite-server"); }

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

fs::path scratch(const std::string& prefix) {
  static int counter = 0;
  const char* base = std::getenv("TEST_TMPDIR");
  fs::path dir = fs::path(base ? base : "/tmp") /
                 (prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  fs::create_directories(dir);
  return dir;
}

std::vector<std::string> build_env(const std::map<std::string, std::optional<std::string>>& extra) {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    const std::string kv(*e);
    const auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  env.erase("IGNITE_API_KEY");  // tests set it explicitly when they want it
  for (const auto& [k, v] : extra) {
    if (v)
      env[k] = *v;
    else
      env.erase(k);
  }
  std::vector<std::string> out;
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

pid_t spawn(const std::vector<std::string>& args, const std::vector<std::string>& env,
            const fs::path& log, const fs::path& binary = server_binary()) {
  std::vector<std::string> argv_s = {binary.string()};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s = env;
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot open " + log.string());
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fd, STDERR_FILENO);
    ::dup2(fd, STDOUT_FILENO);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(fd);
  if (pid < 0) throw std::runtime_error("fork failed");
  return pid;
}

// waitpid with a deadline; returns the raw status, or nullopt on timeout.
std::optional<int> wait_for(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0) return -1;
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(10ms);
  }
}

int exit_code(int raw) { return WIFEXITED(raw) ? WEXITSTATUS(raw) : -1; }

}  // namespace

ServerProcess::ServerProcess(std::vector<std::string> args,
                             std::map<std::string, std::optional<std::string>> env,
                             std::optional<fs::path> binary) {
  if (std::find(args.begin(), args.end(), "--port") == args.end()) {
    args.push_back("--port");
    args.push_back("0");
  }
  const fs::path dir = scratch("server");
  log_path_ = dir / "server.log";
  if (!env.count("IGNITE_STATE_DIR")) env["IGNITE_STATE_DIR"] = (dir / "state").string();
  pid_ = spawn(args, build_env(env), log_path_, binary.value_or(server_binary()));
  const std::string marker = "Ignite HTTP server running at ";
  const auto deadline = Clock::now() + 30s;
  for (;;) {
    const std::string text = slurp(log_path_);
    const auto at = text.find(marker);
    if (at != std::string::npos) {
      const auto eol = text.find('\n', at);
      if (eol != std::string::npos) {
        url_ = text.substr(at + marker.size(), eol - at - marker.size());
        port_ = std::stoi(url_.substr(url_.rfind(':') + 1));
        return;
      }
    }
    if (!running()) throw std::runtime_error("ignite-server exited during start-up:\n" + text);
    if (Clock::now() > deadline) {
      stop(SIGKILL);
      throw std::runtime_error("ignite-server did not start within 30 s:\n" + text);
    }
    std::this_thread::sleep_for(10ms);
  }
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0 && running()) stop(SIGTERM, 60s);
}

bool ServerProcess::running() {
  if (pid_ <= 0 || exit_status_ != -1) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  exit_status_ = r == pid_ ? status : 0;
  return false;
}

int ServerProcess::stop(int sig, std::chrono::milliseconds timeout) {
  if (running()) {
    ::kill(pid_, sig);
    const auto raw = wait_for(pid_, timeout);
    if (!raw) {
      ::kill(pid_, SIGKILL);
      exit_status_ = *wait_for(pid_, 10s);
      return -1;
    }
    exit_status_ = *raw;
  }
  return exit_code(exit_status_);
}

std::string ServerProcess::log() const { return slurp(log_path_); }

std::vector<nlohmann::json> ServerProcess::access_log() const {
  std::vector<nlohmann::json> out;
  std::istringstream in(log());
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line.front() != '{') continue;
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded()) out.push_back(j);
  }
  return out;
}

std::pair<int, std::string> run_server_to_exit(const std::vector<std::string>& args,
                                               std::chrono::milliseconds timeout) {
  const fs::path dir = scratch("server-exit");
  const fs::path log = dir / "server.log";
  const pid_t pid = spawn(args, build_env({}), log);
  const auto raw = wait_for(pid, timeout);
  if (!raw) {
    ::kill(pid, SIGKILL);
    wait_for(pid, 10s);
    return {-2, slurp(log)};
  }
  return {exit_code(*raw), slurp(log)};
}

// ---- raw sockets -----------------------------------------------------------------------------

RawConnection::RawConnection(int port, const std::string& source_ip) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error("socket failed");
  if (!source_ip.empty()) {
    sockaddr_in src{};
    src.sin_family = AF_INET;
    ::inet_pton(AF_INET, source_ip.c_str(), &src.sin_addr);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) {
      throw std::runtime_error("bind " + source_ip + ": " + std::strerror(errno));
    }
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
  }
}

RawConnection::~RawConnection() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawConnection::send(std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool RawConnection::wait_closed(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n == 0) return true;
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return true;  // reset
    }
    received_.append(buf, static_cast<std::size_t>(n));
  }
}

bool can_connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// ---- fixtures --------------------------------------------------------------------------------

namespace {

std::string yaml(const std::string& name, const std::string& extra = "", int memory = 128,
                 int timeout = 60000, const std::string& runtime = "node@20") {
  return "service:\n  name: " + name + "\n  runtime: " + runtime +
         "\n  entry: index.js\n  memoryMb: " + std::to_string(memory) +
         "\n  timeoutMs: " + std::to_string(timeout) + "\n" + extra;
}

void copy_example(const std::string& name, const fs::path& to) {
  fs::copy(Ignite::testing::example_service(name), to / name, fs::copy_options::recursive);
}

fs::path make_services() {
  const fs::path root = scratch("services");
  copy_example("hello-node", root);
  copy_example("hello-quickjs", root);
  write_file(root / "slow/service.yaml", yaml("slow"));
  write_file(root / "slow/index.js", R"(const input = JSON.parse(process.env.IGNITE_INPUT || "{}");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
(async () => {
  console.log("first");
  await sleep(200);
  console.error("oops");
  await sleep(input.ms ?? 1500);
  console.log("second");
})();
)");
  write_file(root / "fail/service.yaml", yaml("fail"));
  write_file(root / "fail/index.js", "console.error('boom');\nprocess.exit(3);\n");
  write_file(root / "spin/service.yaml", yaml("spin", "", 128, 1000));
  write_file(root / "spin/index.js", "setInterval(() => {}, 1000);\n");
  write_file(root / "tiny/service.yaml", yaml("tiny", "", 30));
  write_file(root / "tiny/index.js", "console.log('tiny');\n");
  write_file(root / "never-built/service.yaml", yaml("never-built"));
  write_file(root / "never-built/index.js",
             "// ignite http tests: this service is only ever preflighted, never run.\n"
             "console.log('never-built');\n");
  write_file(root / "ghost/service.yaml", yaml("ghost", "", 128, 5000, "ghost@1"));
  write_file(root / "ghost/index.js", "console.log('boo');\n");
  write_file(root / "broken/service.yaml", "service:\n  name: \"\"\n  runtime: node\n");
  write_file(root / "broken/index.js", "\n");
  write_file(root / "no-yaml/index.js", "console.log('no yaml');\n");
  write_file(root / ".hidden/service.yaml", yaml("hidden"));
  write_file(root / ".hidden/index.js", "console.log('hidden');\n");
  write_file(root / "notes.txt", "not a service\n");
  write_file(root / "runtimes.yaml", R"(runtimes:
  - name: ghost
    image: ignite-runtime/ghost-missing:1
    versions: ["1"]
    command: [node]
)");
  return root;
}

}  // namespace

fs::path services_dir() {
  static const fs::path dir = make_services();
  return dir;
}

fs::path runtimes_file() { return services_dir() / "runtimes.yaml"; }

std::vector<std::string> valid_service_names() {
  return {"fail", "ghost", "hello-node", "hello-quickjs", "never-built", "slow", "spin", "tiny"};
}

std::vector<nlohmann::json> containers_of(pid_t pid) {
  Ignite::docker::DockerClient client(Ignite::docker::socket_from_env());
  return client.containers_list(
      {"dev.ignite.managed=true", "dev.ignite.owner-pid=" + std::to_string(pid)}, true);
}

std::vector<std::pair<std::string, std::string>> parse_sse(std::string_view body) {
  std::vector<std::pair<std::string, std::string>> events;
  std::string event, data;
  std::size_t pos = 0;
  while (pos < body.size()) {
    auto eol = body.find('\n', pos);
    if (eol == std::string_view::npos) eol = body.size();
    const std::string_view line = body.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.empty()) {
      if (!event.empty() || !data.empty())
        events.emplace_back(event.empty() ? "message" : event, data);
      event.clear();
      data.clear();
    } else if (line.rfind("event: ", 0) == 0) {
      event = std::string(line.substr(7));
    } else if (line.rfind("data: ", 0) == 0) {
      if (!data.empty()) data += '\n';
      data += std::string(line.substr(6));
    }
  }
  return events;
}

std::optional<double> metric(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return std::nullopt;
}

}  // namespace ignite_http_test
