#include "tests/test_util.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace fs = std::filesystem;

namespace Ignite::testing {

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  const char* base = std::getenv("TEST_TMPDIR");
  fs::path root = base ? fs::path(base) : fs::temp_directory_path();
  path_ = root / ("t" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  fs::remove_all(path_);
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void write_file(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("cannot write " + path.string());
  out << content;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

fs::path runfile(const std::string& rel) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* ws = std::getenv("TEST_WORKSPACE");
  if (srcdir && ws) return fs::path(srcdir) / ws / rel;
  return fs::current_path() / rel;
}

}  // namespace Ignite::testing

#include <sys/wait.h>

#include <sstream>

namespace Ignite::testing {

fs::path example_service(const std::string& name) {
  const fs::path yaml = runfile("examples/services/" + name + "/service.yaml");
  return fs::canonical(yaml).parent_path();
}

CommandResult run_command(const std::string& command, const std::string& stdin_data) {
  TempDir dir;
  write_file(dir.path() / "in", stdin_data);
  const std::string full = "(" + command + ") <" + (dir.path() / "in").string() + " >" +
                           (dir.path() / "out").string() + " 2>" + (dir.path() / "err").string();
  CommandResult r;
  const int raw = std::system(full.c_str());
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  auto slurp = [](const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  r.out = slurp(dir.path() / "out");
  r.err = slurp(dir.path() / "err");
  return r;
}

}  // namespace Ignite::testing
