// Helpers shared by the libFuzzer targets in fuzz/ (built by tools/fuzz, not by Bazel).
//
// Each file-based target reuses one scratch directory per process, created on first use under
// $TMPDIR and removed at exit, and rewrites the file under test there on every iteration.
// Ignite::Error is the documented failure mode of every entry point fuzzed here, so targets
// catch it and nothing else: any other exception escapes to libFuzzer, which reports it as a
// crash together with the input (as it does for sanitizer reports and -timeout hangs).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>

namespace ignite_fuzz {

inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    std::error_code ec;
    std::filesystem::path base = std::filesystem::temp_directory_path(ec);
    if (ec) base = "/tmp";
    std::string tmpl = (base / "ignite-fuzz-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      std::perror("ignite fuzz: mkdtemp");
      std::abort();
    }
    static const std::filesystem::path made(tmpl);
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(made, ignored);
    });
    return made;
  }();
  return dir;
}

// Replaces `dir/name` with exactly `bytes`; aborts when it cannot (a harness problem, not a
// finding in Ignite).
inline void write_file(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) {
    std::fprintf(stderr, "ignite fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
}

// A violated invariant: print what and where, then abort so libFuzzer saves the input.
[[noreturn]] inline void invariant_failed(const char* what, const char* file, int line) {
  std::fprintf(stderr, "ignite fuzz: invariant violated at %s:%d: %s\n", file, line, what);
  std::abort();
}

}  // namespace ignite_fuzz

#define FUZZ_CHECK(cond) \
  ((cond) ? (void)0 : ::ignite_fuzz::invariant_failed(#cond, __FILE__, __LINE__))
