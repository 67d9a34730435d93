// libFuzzer target: Ignite::load_service on an arbitrary service.yaml.
//
// The input becomes <scratch>/service.yaml beside a fixed index.js. Ignite::Error is the
// documented outcome for a bad file; a service that loads must satisfy the contract of
// ignite/service.hpp (checked below), anything else is a finding.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz/fuzz_util.hpp"
#include "ignite/error.hpp"
#include "ignite/service.hpp"

namespace {

void check_positive(const std::optional<double>& v) {
  if (v) FUZZ_CHECK(std::isfinite(*v) && *v > 0);
}

void check_service(const Ignite::Service& svc) {
  const Ignite::ServiceConfig& c = svc.config;
  FUZZ_CHECK(!Ignite::validate_name(c.name));
  FUZZ_CHECK(!c.runtime.empty());
  FUZZ_CHECK(!c.entry.empty() && c.entry.front() != '/');
  for (const auto& part : std::filesystem::path(c.entry)) FUZZ_CHECK(part != "..");
  FUZZ_CHECK(std::isfinite(c.memory_mb) && c.memory_mb > 0);
  FUZZ_CHECK(std::isfinite(c.timeout_ms) && c.timeout_ms > 0);
  check_positive(c.cpu_limit);
  for (const auto& [key, value] : c.env) {
    FUZZ_CHECK(Ignite::is_valid_env_name(key));
    FUZZ_CHECK(value.find('\0') == std::string::npos);
  }
  const Ignite::PreflightConfig& p = c.preflight;
  for (const auto* v :
       {&p.memory.base_mb, &p.memory.per_dependency_mb, &p.memory.warn_ratio, &p.memory.fail_ratio,
        &p.dependencies.warn_count, &p.dependencies.info_count, &p.image.warn_mb, &p.image.fail_mb,
        &p.timeout.min_ms, &p.timeout.max_ms, &p.timeout.cold_start_buffer_ms}) {
    check_positive(*v);
  }
  const auto rel = svc.entry_path.lexically_relative(svc.path);
  FUZZ_CHECK(!rel.empty() && *rel.begin() != "..");
  FUZZ_CHECK(!svc.has_node_modules && svc.dependency_count == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::filesystem::path& dir = ignite_fuzz::scratch_dir();
  static const bool entry_written = [&] {
    ignite_fuzz::write_file(dir / "index.js", "console.log('hello')\n");
    return true;
  }();
  (void)entry_written;
  const std::filesystem::path yaml = dir / "service.yaml";
  ignite_fuzz::write_file(yaml, std::string_view(reinterpret_cast<const char*>(data), size));
  try {
    check_service(Ignite::load_service(dir));
  } catch (const Ignite::Error& e) {
    FUZZ_CHECK(e.code() == Ignite::ErrorCode::Config || e.code() == Ignite::ErrorCode::Service);
    // A configuration problem names the file it is in.
    if (e.code() == Ignite::ErrorCode::Config) {
      FUZZ_CHECK(e.message().find(yaml.string()) != std::string::npos);
    }
  }
  return 0;
}
