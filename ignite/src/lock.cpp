#include "ignite/lock.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <fstream>
#include <set>
#include <sstream>
#include <system_error>

#include "ignite/error.hpp"
#include "ignite/src/format_util.hpp"
#include "ignite/src/service_files.hpp"
#include "ignite/src/yaml_util.hpp"

namespace fs = std::filesystem;

namespace Ignite {
namespace {

// In the order the `lockfile` field prefers them.
constexpr std::array<std::string_view, 5> kLockfiles = {
    "bun.lockb", "bun.lock", "package-lock.json", "yarn.lock", "pnpm-lock.yaml"};

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

// Every file the manifest pins: the service's files plus the manifests that matter to
// dependency installs, which are pinned even when .igniteignore lists them.
std::vector<std::string> tracked_files(const fs::path& dir) {
  const std::vector<std::string> files = detail::service_files(dir);
  std::set<std::string> out(files.begin(), files.end());
  for (std::string_view name :
       {std::string_view("service.yaml"), std::string_view("package.json")}) {
    if (is_file(dir / name)) out.emplace(name);
  }
  for (std::string_view name : kLockfiles) {
    if (is_file(dir / name)) out.emplace(name);
  }
  return {out.begin(), out.end()};
}

std::optional<std::string> detect_lockfile(const fs::path& dir) {
  for (std::string_view name : kLockfiles) {
    if (is_file(dir / name)) return std::string(name);
  }
  return std::nullopt;
}

// True when `s` written as a plain YAML scalar reads back as the same string (so "1.0", "true",
// "~", "a: b" and "" need quotes). Control characters always get quotes (and escapes): yaml-cpp
// reads "x\r\r" alone as itself but, as a value followed by a line break, as "x\r".
bool plain_safe(const std::string& s) {
  if (s.empty() || detail::yaml_nesting_problem(s)) return false;
  for (const char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  try {
    const YAML::Node n = YAML::Load(s);
    return n.IsScalar() && detail::as_string(n) == s;
  } catch (const YAML::Exception&) {
    return false;
  }
}

void emit_string(YAML::Emitter& out, const std::string& s, bool force_quotes = false) {
  if (force_quotes || !plain_safe(s)) out << YAML::DoubleQuoted;
  out << s;
}

bool is_hex_sha256(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// A manifest path must stay inside the service directory: check_drift hashes what it names.
bool is_safe_relative(const std::string& p) {
  if (p.empty() || p.front() == '/' || p.back() == '/' || p.find('\0') != std::string::npos ||
      p.find('\\') != std::string::npos) {
    return false;
  }
  std::size_t start = 0;
  while (true) {
    const auto slash = p.find('/', start);
    const std::string part = p.substr(start, slash - start);
    if (part.empty() || part == "." || part == "..") return false;
    if (slash == std::string::npos) return true;
    start = slash + 1;
  }
}

class LockReader {
 public:
  explicit LockReader(fs::path file) : file_(std::move(file)) {}

  Error fail(const std::string& what) const {
    return Error(ErrorCode::Lock, file_.string() + ": " + what);
  }

  // A scalar field (quoted or not: `version: 1.10` keeps its text); nullopt when absent or null.
  std::optional<std::string> scalar(const YAML::Node& map, const char* key,
                                    const std::string& where) const {
    const YAML::Node n = map[key];
    if (!n || n.IsNull()) return std::nullopt;
    if (!n.IsScalar()) throw fail(where + " must be a string");
    // write_lock could not write it back: yaml-cpp emits invalid UTF-8 as U+FFFD.
    if (!detail::is_valid_utf8(n.Scalar())) throw fail(where + " is not valid UTF-8");
    return n.Scalar();
  }

  std::string required(const YAML::Node& map, const char* key, const std::string& where) const {
    auto v = scalar(map, key, where);
    if (!v) throw fail(where + " is missing");
    if (v->empty()) throw fail(where + " must not be empty");
    return *v;
  }

  LockManifest read(const std::string& text) const {
    if (text.find_first_not_of(" \t\r\n") == std::string::npos) throw fail("file is empty");
    if (const auto deep = detail::yaml_nesting_problem(text)) {
      throw fail("YAML nesting deeper than " + std::to_string(detail::kMaxYamlNesting) +
                 " levels at line " + std::to_string(deep->line) + ", column " +
                 std::to_string(deep->column));
    }
    YAML::Node doc;
    try {
      doc = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      throw fail("YAML syntax error at line " + std::to_string(e.mark.line + 1) + ", column " +
                 std::to_string(e.mark.column + 1) + ": " + e.msg);
    }
    if (!doc.IsMap()) throw fail("expected a YAML map at the top level");

    LockManifest m;
    m.version = required(doc, "version", "version");
    if (m.version != "1" && m.version.rfind("1.", 0) != 0) {
      throw fail("unsupported manifest version \"" + m.version + "\" (this Ignite reads 1.x)");
    }
    const YAML::Node rt = doc["runtime"];
    if (!rt || rt.IsNull()) throw fail("runtime is missing");
    if (!rt.IsMap()) throw fail("runtime must be a map with name and version");
    m.runtime_name = required(rt, "name", "runtime.name");
    m.runtime_version = required(rt, "version", "runtime.version");
    m.base_image_id = scalar(doc, "baseImageId", "baseImageId");
    m.lockfile = scalar(doc, "lockfile", "lockfile");
    m.created_at = scalar(doc, "createdAt", "createdAt").value_or("");

    const YAML::Node sums = doc["checksums"];
    if (sums && !sums.IsNull()) {
      if (!sums.IsMap()) throw fail("checksums must be a map of file -> sha256");
      for (const auto& kv : sums) {
        if (!kv.first.IsScalar()) throw fail("checksums: keys must be file paths");
        const std::string path = kv.first.Scalar();
        if (!detail::is_valid_utf8(path)) {
          throw fail("checksums: \"" + path + "\" is not valid UTF-8");
        }
        if (!is_safe_relative(path)) {
          throw fail("checksums: \"" + path + "\" is not a relative path inside the service");
        }
        if (!kv.second.IsScalar() || !is_hex_sha256(kv.second.Scalar())) {
          throw fail("checksums." + path + " must be a SHA-256 hex digest");
        }
        m.checksums[path] = kv.second.Scalar();
      }
    }
    return m;
  }

 private:
  fs::path file_;
};

Error write_error(const fs::path& target, const std::string& what, int err) {
  return Error(ErrorCode::Lock, target.string() + ": cannot write (" + what +
                                    "): " + std::system_category().message(err));
}

}  // namespace

LockManifest make_lock(const Service& service, const ResolvedRuntime& rt,
                       std::optional<std::string> base_image_id) {
  LockManifest m;
  m.runtime_name = rt.name;
  m.runtime_version = rt.version;
  m.base_image_id = std::move(base_image_id);
  m.lockfile = detect_lockfile(service.path);
  for (const auto& rel : tracked_files(service.path)) {
    const fs::path file = service.path / rel;
    auto sum = detail::sha256_file(file);
    if (!sum) throw Error(ErrorCode::Lock, file.string() + ": cannot read file to pin it");
    m.checksums[rel] = std::move(*sum);
  }
  m.created_at = detail::iso8601_now();
  return m;
}

void write_lock(const fs::path& dir, const LockManifest& m) {
  // YAML holds Unicode text only: a name that is not valid UTF-8 (a Linux file name may be any
  // bytes) would be written as U+FFFD and never match again, so refuse it up front.
  auto require_utf8 = [&](const std::string& value, const std::string& what) {
    if (!detail::is_valid_utf8(value)) {
      throw Error(ErrorCode::Lock, (dir / kLockFileName).string() + ": cannot write " + what +
                                       ": not valid UTF-8 (YAML holds Unicode text only)");
    }
  };
  require_utf8(m.version, "version");
  require_utf8(m.runtime_name, "runtime.name");
  require_utf8(m.runtime_version, "runtime.version");
  if (m.base_image_id) require_utf8(*m.base_image_id, "baseImageId");
  if (m.lockfile) require_utf8(*m.lockfile, "lockfile");
  for (const auto& [path, sum] : m.checksums) {
    require_utf8(path, "file name \"" + path + "\" (rename it or list it in .igniteignore)");
    require_utf8(sum, "checksums." + path);
  }
  require_utf8(m.created_at, "createdAt");
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "version" << YAML::Value;
  emit_string(out, m.version, true);
  out << YAML::Key << "runtime" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value;
  emit_string(out, m.runtime_name);
  out << YAML::Key << "version" << YAML::Value;
  emit_string(out, m.runtime_version, true);
  out << YAML::EndMap;
  if (m.base_image_id) {
    out << YAML::Key << "baseImageId" << YAML::Value;
    emit_string(out, *m.base_image_id);
  }
  if (m.lockfile) {
    out << YAML::Key << "lockfile" << YAML::Value;
    emit_string(out, *m.lockfile);
  }
  out << YAML::Key << "checksums" << YAML::Value;
  if (m.checksums.empty()) {
    out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
  } else {
    out << YAML::BeginMap;
    for (const auto& [path, sum] : m.checksums) {
      out << YAML::Key;
      emit_string(out, path);
      out << YAML::Value;
      emit_string(out, sum);
    }
    out << YAML::EndMap;
  }
  out << YAML::Key << "createdAt" << YAML::Value;
  emit_string(out, m.created_at);
  out << YAML::EndMap;
  if (!out.good()) {
    throw Error(ErrorCode::Internal, "ignite.lock: YAML emitter failed: " + out.GetLastError());
  }
  const std::string text = std::string(out.c_str()) + "\n";

  // Write beside the target and rename over it: readers never see a partial manifest.
  static std::atomic<unsigned> counter{0};
  const fs::path target = dir / kLockFileName;
  const fs::path tmp =
      dir / (".ignite.lock.tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw write_error(target, "create " + tmp.filename().string(), errno);
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw write_error(target, "write", err);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw write_error(target, "flush", err);
  }
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw write_error(target, "rename", err);
  }
}

std::optional<LockManifest> read_lock(const fs::path& dir) {
  const fs::path file = dir / kLockFileName;
  const LockReader reader(file);
  std::error_code ec;
  const fs::file_status st = fs::status(file, ec);
  if (st.type() == fs::file_type::not_found) return std::nullopt;
  if (ec) throw reader.fail("cannot access: " + ec.message());
  if (!fs::is_regular_file(st)) throw reader.fail("not a regular file");
  std::ifstream in(file, std::ios::binary);
  std::ostringstream ss;
  if (!in || !(ss << in.rdbuf()) || in.bad()) {
    // An empty file makes `ss << rdbuf()` fail too; only report unreadable when it is not empty.
    if (!in.is_open() || fs::file_size(file, ec) != 0) throw reader.fail("cannot read");
  }
  return reader.read(ss.str());
}

DriftReport check_drift(const Service& service, const ResolvedRuntime& current,
                        std::optional<std::string> current_base_image_id) {
  DriftReport r;
  r.manifest = read_lock(service.path);
  if (!r.manifest) return r;
  r.locked = true;
  const LockManifest& m = *r.manifest;
  if (m.runtime_name != current.name) {
    r.details.push_back("Runtime changed: " + m.runtime_name + " -> " + current.name);
  }
  if (m.runtime_version != current.version) {
    r.details.push_back("Version changed: " + m.runtime_version + " -> " + current.version);
  }
  if (m.base_image_id && current_base_image_id && *m.base_image_id != *current_base_image_id) {
    r.details.push_back("Base image changed: " + *m.base_image_id + " -> " +
                        *current_base_image_id);
  }
  for (const auto& [rel, sum] : m.checksums) {
    const fs::path file = service.path / rel;
    std::error_code ec;
    if (!fs::exists(fs::symlink_status(file, ec))) {
      r.details.push_back("File removed: " + rel);
      continue;
    }
    const auto now = detail::sha256_file(file);
    if (!now) {
      r.details.push_back("File unreadable: " + rel);
    } else if (*now != sum) {
      r.details.push_back("File modified: " + rel);
    }
  }
  for (const auto& rel : tracked_files(service.path)) {
    if (!m.checksums.count(rel)) r.details.push_back("File added: " + rel);
  }
  r.drift = !r.details.empty();
  return r;
}

std::string format_environment_info(const DriftReport& report) {
  if (!report.locked || !report.manifest) {
    return "Environment: Not locked\n  Run `ignite lock` to create ignite.lock";
  }
  const LockManifest& m = *report.manifest;
  std::string out =
      "Environment: Locked\n  Runtime: " + m.runtime_spec() + "\n  Locked at: " + m.created_at;
  if (m.lockfile) out += "\n  Lockfile: " + *m.lockfile;
  if (m.base_image_id) out += "\n  Base image: " + *m.base_image_id;
  if (report.drift) {
    out += "\n\nWARNING: Environment drift detected:";
    for (const auto& d : report.details) out += "\n    - " + d;
    out += "\n\n  Run `ignite lock --update` to update the manifest";
  } else {
    out += "\n\nEnvironment matches manifest";
  }
  return out;
}

}  // namespace Ignite
