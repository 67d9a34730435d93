// Audit evidence from inside the container: per-runtime bootstrap scripts and the channel they
// report through.
//
// Every per-service image carries the bootstrap scripts at /opt/ignite (audit_scripts()). In
// audit mode the runtime loads the one for its kind before the service's entry
// (audit_argv()): `node --require`, `bun --preload`, `deno run --preload`, `qjs -I`. The engine
// writes a random nonce as the first line of the container's stdin; the bootstrap reads exactly
// that line before any service code runs, keeps it in a closure, and reports each attempted
// network connection, file write outside /tmp and process spawn as one stderr line
//
//   \x1eIGNITE-AUDIT <nonce> {"type":..,"action":..,"target":..,"time":<epoch ms>,"details":..}\n
//
// AuditDemux takes those lines out of the stderr stream (the service never sees them in
// stderr_text and they do not count against the output cap); text without the nonce, such as a
// service printing the marker itself, stays ordinary stderr. AuditLog (audit_log.hpp) turns the
// records into SecurityEvents, deciding `allowed` from the effective policy.
//
// The hooks only observe: they call through to the original function, so enforcement stays with
// the kernel (seccomp, no network interfaces, read-only root filesystem) and Deno's permissions.
// Code running in the same process can bypass or fake them; the nonce only protects the
// channel from output that merely looks like an audit line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace Ignite::detail {

// Where the scripts live inside every per-service image.
inline constexpr std::string_view kAuditDir = "/opt/ignite";

struct AuditScript {
  std::string_view name;     // file name under kAuditDir
  std::string_view content;
};
std::span<const AuditScript> audit_scripts();

// `argv` (a runtime's command followed by the entry) with the runtime's bootstrap in front of the
// entry, or nullopt when no bootstrap fits that command (custom runtimes: their audit holds
// kernel facts only, and their stdin carries no nonce).
std::optional<std::vector<std::string>> audit_argv(const std::vector<std::string>& argv);

// The program of a runtime command (the file name of argv[0]: "node", "qjs", ...), and whether
// `option` is among its arguments before the entry (the last element). Shared by the audit and
// the runner preloads, which recognise the same built-in runtimes.
std::string_view program_of(const std::vector<std::string>& argv);
bool has_option(const std::vector<std::string>& argv, std::string_view option);

// 32 lowercase hex digits from the kernel's CSPRNG.
std::string audit_nonce();

// One record as the bootstrap sent it.
struct AuditRecord {
  std::string type;     // network | filesystem | process
  std::string action;   // connect, dns, write, delete, mkdir, rename, symlink, link, spawn
  std::string target;   // host:port, unix:<path>, absolute path, command
  std::string details;  // the API that was called, with its arguments
  std::string program;  // process records: the program whose name allowedCommands is matched with
  std::optional<std::int64_t> time_ms;  // epoch milliseconds
};

// Splits a stderr stream into service output (passed to `sink`, in order) and audit records
// (passed to `on_record`). A record starts with "\x1eIGNITE-AUDIT <nonce> " anywhere in the
// stream (a service line without a trailing newline may precede it) and ends at the next '\n'.
// Memory is bounded: at most the marker's length is held back while it could still be a
// marker, and at most kMaxRecord bytes of one record; a longer one is skipped to its newline.
class RecordDemux {
 public:
  static constexpr std::size_t kMaxRecord = 8192;

  // `on_record` gets each record's text (marker and newline removed) and returns false when it
  // is not a valid record.
  RecordDemux(std::string marker, std::function<void(std::string_view)> sink,
              std::function<bool(std::string_view)> on_record);
  void feed(std::string_view data);
  // End of stream: bytes held back as a possible marker are service output after all; a record
  // without its newline is counted as malformed.
  void finish();
  // Marked lines that were not a valid record (too long, or refused by on_record).
  std::size_t malformed() const noexcept { return malformed_; }

 private:
  void end_record();

  std::string marker_;
  std::function<void(std::string_view)> sink_;
  std::function<bool(std::string_view)> on_record_;
  std::string held_;    // a suffix of the stream that is a proper prefix of marker_
  bool in_record_ = false;
  bool overlong_ = false;
  std::string record_;
  std::size_t malformed_ = 0;
};

class AuditDemux : public RecordDemux {
 public:
  AuditDemux(std::string nonce, std::function<void(std::string_view)> sink,
             std::function<void(AuditRecord&&)> on_record);
};

// Parses one record's JSON text; nullopt when it is not a valid record.
std::optional<AuditRecord> parse_audit_record(std::string_view json_text);

}  // namespace Ignite::detail
