// libFuzzer target: Ignite::load_policy on an arbitrary ignite.policy.yaml.
//
// A policy that loads must name its source file; a bad one must be Error(Config) (or
// Error(Service) when unreadable) naming the file. Anything else is a finding.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_util.hpp"
#include "ignite/error.hpp"
#include "ignite/policy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::filesystem::path& dir = ignite_fuzz::scratch_dir();
  const std::filesystem::path file = dir / "ignite.policy.yaml";
  ignite_fuzz::write_file(file, std::string_view(reinterpret_cast<const char*>(data), size));
  try {
    const Ignite::SecurityPolicy p = Ignite::load_policy(dir);
    FUZZ_CHECK(p.source && *p.source == file);
  } catch (const Ignite::Error& e) {
    FUZZ_CHECK(e.code() == Ignite::ErrorCode::Config || e.code() == Ignite::ErrorCode::Service);
    // policy.hpp: errors name the file.
    FUZZ_CHECK(e.message().find(file.string()) != std::string::npos);
  }
  return 0;
}
