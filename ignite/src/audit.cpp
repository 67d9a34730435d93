#include "ignite/src/audit.hpp"

#include <sys/random.h>

#include <cerrno>
#include <nlohmann/json.hpp>

#include "ignite/error.hpp"

namespace Ignite::detail {
namespace {

std::string script_path(std::string_view name) {
  return std::string(kAuditDir) + "/" + std::string(name);
}

}  // namespace

std::string_view program_of(const std::vector<std::string>& argv) {
  if (argv.empty()) return {};
  const std::string_view path = argv.front();
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

bool has_option(const std::vector<std::string>& argv, std::string_view option) {
  for (std::size_t i = 1; i + 1 < argv.size(); ++i) {
    if (argv[i] == option) return true;
  }
  return false;
}

std::optional<std::vector<std::string>> audit_argv(const std::vector<std::string>& argv) {
  if (argv.size() < 2) return std::nullopt;
  const std::string_view program = program_of(argv);
  std::vector<std::string> out = argv;
  if (program == "node") {
    out.insert(out.begin() + 1, {"--require", script_path("audit-node.cjs")});
  } else if (program == "bun") {
    out.insert(out.begin() + 1, {"--preload", script_path("audit-bun.js")});
  } else if (program == "deno") {
    if (argv[1] != "run") return std::nullopt;
    out.insert(out.begin() + 2, {"--preload", script_path("audit-deno.js")});
  } else if (program == "qjs") {
    // Without --std there are no std/os globals to observe (and none to read the nonce with).
    if (!has_option(argv, "--std")) return std::nullopt;
    out.insert(out.end() - 1, {"-I", script_path("audit-qjs.js")});
  } else {
    return std::nullopt;
  }
  return out;
}

std::string audit_nonce() {
  unsigned char bytes[16];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(ErrorCode::Internal, "getrandom failed while making the audit nonce");
    }
    got += static_cast<std::size_t>(n);
  }
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

// ---- the channel ------------------------------------------------------------------------------

RecordDemux::RecordDemux(std::string marker, std::function<void(std::string_view)> sink,
                         std::function<bool(std::string_view)> on_record)
    : marker_(std::move(marker)), sink_(std::move(sink)), on_record_(std::move(on_record)) {}

AuditDemux::AuditDemux(std::string nonce, std::function<void(std::string_view)> sink,
                       std::function<void(AuditRecord&&)> on_record)
    : RecordDemux("\x1eIGNITE-AUDIT " + nonce + " ", std::move(sink),
                  [cb = std::move(on_record)](std::string_view text) {
                    auto r = parse_audit_record(text);
                    if (!r) return false;
                    cb(std::move(*r));
                    return true;
                  }) {}

void RecordDemux::feed(std::string_view data) {
  std::string joined;
  if (!held_.empty() && !in_record_) {
    joined = std::move(held_) + std::string(data);
    held_.clear();
    data = joined;
  }
  while (!data.empty()) {
    if (in_record_) {
      const auto nl = data.find('\n');
      const std::string_view part = data.substr(0, nl);
      if (!overlong_) {
        if (record_.size() + part.size() > kMaxRecord) {
          overlong_ = true;
          record_.clear();
        } else {
          record_.append(part);
        }
      }
      if (nl == std::string_view::npos) return;
      end_record();
      data.remove_prefix(nl + 1);
      continue;
    }
    const auto at = data.find(marker_);
    if (at != std::string_view::npos) {
      if (at > 0) sink_(data.substr(0, at));
      data.remove_prefix(at + marker_.size());
      in_record_ = true;
      overlong_ = false;
      record_.clear();
      continue;
    }
    // No whole marker: hold back a tail that may be the start of one. Such a tail begins with
    // the marker's only \x1e, so it can only start at the last \x1e, within the last
    // marker_.size() - 1 bytes.
    std::size_t keep = 0;
    const auto rs = data.rfind('\x1e');
    if (rs != std::string_view::npos && data.size() - rs < marker_.size()) {
      const std::string_view tail = data.substr(rs);
      if (std::string_view(marker_).substr(0, tail.size()) == tail) keep = tail.size();
    }
    if (data.size() > keep) sink_(data.substr(0, data.size() - keep));
    held_.assign(data.substr(data.size() - keep));
    return;
  }
}

void RecordDemux::end_record() {
  in_record_ = false;
  if (overlong_) {
    ++malformed_;
  } else if (!on_record_(record_)) {
    ++malformed_;
  }
  overlong_ = false;
  record_.clear();
}

void RecordDemux::finish() {
  if (in_record_) {
    ++malformed_;
    in_record_ = false;
    record_.clear();
  }
  if (!held_.empty()) sink_(held_);
  held_.clear();
}

std::optional<AuditRecord> parse_audit_record(std::string_view text) {
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  auto str = [&](const char* key, std::size_t max) -> std::optional<std::string> {
    const auto it = j.find(key);
    if (it == j.end()) return std::string();
    if (!it->is_string()) return std::nullopt;
    std::string s = it->get<std::string>();
    if (s.size() > max) s.resize(max);
    return s;
  };
  AuditRecord r;
  const auto type = str("type", 32), action = str("action", 32), target = str("target", 4096),
             details = str("details", 4096), program = str("program", 4096);
  if (!type || !action || !target || !details || !program) return std::nullopt;
  if (*type != "network" && *type != "filesystem" && *type != "process") return std::nullopt;
  if (action->empty()) return std::nullopt;
  for (char c : *action) {
    if (!((c >= 'a' && c <= 'z') || c == '-')) return std::nullopt;
  }
  r.type = *type;
  r.action = *action;
  r.target = *target;
  r.details = *details;
  r.program = *program;
  if (const auto it = j.find("time"); it != j.end() && it->is_number()) {
    const double ms = it->get<double>();
    // 2000-01-01 .. 2200-01-01: anything else is not a clock reading.
    if (ms >= 946684800000.0 && ms < 7258118400000.0) r.time_ms = static_cast<std::int64_t>(ms);
  }
  return r;
}

}  // namespace Ignite::detail
