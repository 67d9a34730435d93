#include "ignite/src/service_files.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <sstream>
#include <system_error>

#include "ignite/error.hpp"

namespace fs = std::filesystem;

namespace Ignite::detail {
namespace {

// A `[...]` class at p[i] (p[i] == '['). Returns false when the class is not closed, in which
// case '[' is an ordinary character. On success `end` is the index after ']'.
bool match_class(std::string_view p, std::size_t i, char c, bool& matched, std::size_t& end) {
  std::size_t j = i + 1;
  bool negate = false;
  if (j < p.size() && (p[j] == '!' || p[j] == '^')) {
    negate = true;
    ++j;
  }
  bool found = false;
  bool first = true;
  while (j < p.size() && (p[j] != ']' || first)) {
    first = false;
    char lo = p[j];
    if (lo == '\\' && j + 1 < p.size()) lo = p[++j];
    char hi = lo;
    if (j + 2 < p.size() && p[j + 1] == '-' && p[j + 2] != ']') {
      hi = p[j + 2];
      if (hi == '\\' && j + 3 < p.size()) hi = p[++j + 2];
      j += 2;
    }
    if (lo <= c && c <= hi) found = true;
    ++j;
  }
  if (j >= p.size()) return false;
  matched = found != negate;
  end = j + 1;
  return true;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool is_env_file(std::string_view name) { return starts_with(name, ".env"); }
bool is_skipped_dir(std::string_view name) { return name == "node_modules" || name == ".git"; }
bool is_lock_file(std::string_view name) {
  return name == "ignite.lock" || starts_with(name, ".ignite.lock.tmp-");
}

std::string basename(std::string_view rel) {
  const auto slash = rel.rfind('/');
  return std::string(slash == std::string_view::npos ? rel : rel.substr(slash + 1));
}

// Built-in exclusions for a '/'-separated path relative to the service directory.
bool excluded_by_builtin_rules(const std::string& rel) {
  std::size_t start = 0;
  while (true) {
    const auto slash = rel.find('/', start);
    const std::string_view part = std::string_view(rel).substr(start, slash - start);
    if (slash == std::string::npos) return is_env_file(part) || (start == 0 && is_lock_file(part));
    if (is_skipped_dir(part)) return true;
    start = slash + 1;
  }
}

struct Walker {
  fs::path root;
  fs::path canonical_root;
  const IgnoreRules& rules;
  std::vector<std::string>& out;

  // Whether a symlink at `link` resolves to a regular, not excluded file inside the directory.
  bool symlink_ok(const fs::path& link) const {
    std::error_code ec;
    const fs::path target = fs::canonical(link, ec);
    if (ec || !fs::is_regular_file(target, ec)) return false;
    const fs::path rel = target.lexically_relative(canonical_root);
    if (rel.empty() || *rel.begin() == "..") return false;
    const std::string rel_text = rel.generic_string();
    return !excluded_by_builtin_rules(rel_text) && !rules.ignored(rel_text, false);
  }

  void walk(const std::string& prefix) {
    const fs::path dir = prefix.empty() ? root : root / prefix;
    std::error_code ec;
    fs::directory_iterator it(dir, ec);
    for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
      const std::string name = it->path().filename().string();
      const std::string rel = prefix.empty() ? name : prefix + "/" + name;
      std::error_code st_ec;
      const fs::file_status st = it->symlink_status(st_ec);
      if (st_ec) continue;
      if (fs::is_directory(st)) {
        if (is_skipped_dir(name) || rules.ignored(rel, true)) continue;
        walk(rel);
        continue;
      }
      if (!fs::is_regular_file(st) && !fs::is_symlink(st)) continue;
      if (is_env_file(name) || (prefix.empty() && is_lock_file(name))) continue;
      if (rules.ignored(rel, false)) continue;
      if (fs::is_symlink(st) && !symlink_ok(it->path())) continue;
      out.push_back(rel);
    }
    if (ec) {
      throw Error(ErrorCode::Service, dir.string() + ": cannot list directory: " + ec.message());
    }
  }
};

std::string to_hex(const unsigned char* data, unsigned int len) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[data[i] >> 4];
    out += kHex[data[i] & 0xf];
  }
  return out;
}

using MdCtx = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

// OpenSSL 3 looks the algorithm up by name at every init of EVP_sha256() (a hash-table
// search under a lock, several times the cost of hashing a short manifest): fetched once.
const EVP_MD* sha256_md() {
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
  static const EVP_MD* const fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (fetched != nullptr) return fetched;
#endif
  return EVP_sha256();
}

MdCtx new_sha256() {
  MdCtx ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), sha256_md(), nullptr) != 1) {
    throw Error(ErrorCode::Internal, "OpenSSL: cannot initialise SHA-256");
  }
  return ctx;
}

std::string finish(EVP_MD_CTX* ctx) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx, md, &len) != 1) {
    throw Error(ErrorCode::Internal, "OpenSSL: SHA-256 failed");
  }
  return to_hex(md, len);
}

}  // namespace

bool glob_match(std::string_view p, std::string_view t) {
  std::size_t pi = 0, ti = 0;
  while (pi < p.size()) {
    char pc = p[pi];
    if (pc == '*') {
      const bool globstar = pi + 1 < p.size() && p[pi + 1] == '*';
      if (globstar && pi + 2 < p.size() && p[pi + 2] == '/' && (pi == 0 || p[pi - 1] == '/')) {
        // "**/": zero or more whole directories.
        const std::string_view rest = p.substr(pi + 3);
        if (glob_match(rest, t.substr(ti))) return true;
        for (std::size_t k = ti; k < t.size(); ++k) {
          if (t[k] == '/' && glob_match(rest, t.substr(k + 1))) return true;
        }
        return false;
      }
      if (globstar) {
        // "**" elsewhere: anything, '/' included.
        const std::string_view rest = p.substr(pi + 2);
        for (std::size_t k = ti; k <= t.size(); ++k) {
          if (glob_match(rest, t.substr(k))) return true;
        }
        return false;
      }
      const std::string_view rest = p.substr(pi + 1);
      for (std::size_t k = ti; k <= t.size(); ++k) {
        if (glob_match(rest, t.substr(k))) return true;
        if (k < t.size() && t[k] == '/') break;
      }
      return false;
    }
    if (ti >= t.size()) return false;
    if (pc == '?') {
      if (t[ti] == '/') return false;
      ++pi;
      ++ti;
      continue;
    }
    if (pc == '[') {
      bool matched = false;
      std::size_t end = 0;
      if (match_class(p, pi, t[ti], matched, end)) {
        if (t[ti] == '/' || !matched) return false;
        pi = end;
        ++ti;
        continue;
      }
    }
    if (pc == '\\' && pi + 1 < p.size()) pc = p[++pi];
    if (pc != t[ti]) return false;
    ++pi;
    ++ti;
  }
  return ti == t.size();
}

IgnoreRules IgnoreRules::parse(std::string_view text) {
  IgnoreRules out;
  std::size_t start = 0;
  while (start < text.size()) {
    auto nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    std::string line(text.substr(start, nl - start));
    start = nl + 1;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
      if (line.size() >= 2 && line[line.size() - 2] == '\\' && line.back() == ' ') break;
      line.pop_back();
    }
    if (line.empty() || line[0] == '#') continue;
    Rule rule;
    if (line[0] == '!') {
      rule.negate = true;
      line.erase(0, 1);
    } else if (line[0] == '\\' && line.size() > 1 && (line[1] == '#' || line[1] == '!')) {
      line.erase(0, 1);
    }
    if (!line.empty() && line.back() == '/') {
      rule.dir_only = true;
      while (!line.empty() && line.back() == '/') line.pop_back();
    }
    if (line.find('/') != std::string::npos) {
      rule.anchored = true;
      while (!line.empty() && line[0] == '/') line.erase(0, 1);
    }
    if (line.empty()) continue;
    rule.pattern = std::move(line);
    out.rules_.push_back(std::move(rule));
  }
  return out;
}

IgnoreRules IgnoreRules::load(const fs::path& dir) {
  const fs::path file = dir / kIgnoreFileName;
  std::error_code ec;
  if (!fs::exists(file, ec)) return {};
  std::ifstream in(file, std::ios::binary);
  std::ostringstream ss;
  if (!in || !(ss << in.rdbuf())) {
    throw Error(ErrorCode::Service, file.string() + ": cannot read");
  }
  return parse(ss.str());
}

bool IgnoreRules::ignored(std::string_view rel, bool is_dir) const {
  bool ignored = false;
  std::string name;
  for (const auto& rule : rules_) {
    if (rule.dir_only && !is_dir) continue;
    // Only a rule that could change the verdict needs evaluating.
    if (rule.negate != ignored) continue;
    bool hit;
    if (rule.anchored) {
      hit = glob_match(rule.pattern, rel);
    } else {
      if (name.empty()) name = basename(rel);
      hit = glob_match(rule.pattern, name);
    }
    if (hit) ignored = !rule.negate;
  }
  return ignored;
}

std::vector<std::string> service_files(const fs::path& dir) {
  std::error_code ec;
  const fs::path canonical_root = fs::canonical(dir, ec);
  if (ec)
    throw Error(ErrorCode::Service, dir.string() + ": cannot open directory: " + ec.message());
  const IgnoreRules rules = IgnoreRules::load(dir);
  std::vector<std::string> out;
  Walker{dir, canonical_root, rules, out}.walk("");
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<std::string> sha256_file(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  MdCtx ctx = new_sha256();
  char buf[64 * 1024];
  while (in) {
    in.read(buf, sizeof buf);
    const std::streamsize n = in.gcount();
    if (n > 0 && EVP_DigestUpdate(ctx.get(), buf, static_cast<std::size_t>(n)) != 1) {
      throw Error(ErrorCode::Internal, "OpenSSL: SHA-256 failed");
    }
  }
  if (in.bad()) return std::nullopt;
  return finish(ctx.get());
}

std::string sha256_hex(std::string_view data) {
  MdCtx ctx = new_sha256();
  if (EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1) {
    throw Error(ErrorCode::Internal, "OpenSSL: SHA-256 failed");
  }
  return finish(ctx.get());
}

}  // namespace Ignite::detail
