// libFuzzer target: Ignite::read_lock on an arbitrary ignite.lock.
//
// A bad manifest must be Error(Lock) "<path>: <problem>". A manifest that reads must hold what
// lock.hpp promises (runtime named, checksum keys inside the service, SHA-256 hex values), and
// writing it back with write_lock must give a file that reads back to the same manifest.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz/fuzz_util.hpp"
#include "ignite/error.hpp"
#include "ignite/lock.hpp"

namespace {

// Names the first field that differs (on stderr) and returns whether all are equal.
bool same(const Ignite::LockManifest& a, const Ignite::LockManifest& b) {
  const char* field = a.version != b.version                   ? "version"
                      : a.runtime_name != b.runtime_name       ? "runtime.name"
                      : a.runtime_version != b.runtime_version ? "runtime.version"
                      : a.base_image_id != b.base_image_id     ? "baseImageId"
                      : a.lockfile != b.lockfile               ? "lockfile"
                      : a.checksums != b.checksums             ? "checksums"
                      : a.created_at != b.created_at           ? "createdAt"
                                                               : nullptr;
  if (field != nullptr) std::fprintf(stderr, "ignite fuzz: %s differs after write_lock\n", field);
  return field == nullptr;
}

void check_manifest(const Ignite::LockManifest& m) {
  FUZZ_CHECK(!m.version.empty() && !m.runtime_name.empty() && !m.runtime_version.empty());
  for (const auto& [path, sum] : m.checksums) {
    FUZZ_CHECK(!path.empty() && path.front() != '/');
    for (const auto& part : std::filesystem::path(path)) FUZZ_CHECK(part != ".." && part != ".");
    FUZZ_CHECK(sum.size() == 64);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::filesystem::path& dir = ignite_fuzz::scratch_dir();
  const std::filesystem::path file = dir / Ignite::kLockFileName;
  ignite_fuzz::write_file(file, std::string_view(reinterpret_cast<const char*>(data), size));
  std::optional<Ignite::LockManifest> m;
  try {
    m = Ignite::read_lock(dir);
  } catch (const Ignite::Error& e) {
    FUZZ_CHECK(e.code() == Ignite::ErrorCode::Lock);
    FUZZ_CHECK(e.message().rfind(file.string() + ": ", 0) == 0);
    return 0;
  }
  FUZZ_CHECK(m.has_value());  // the file exists
  check_manifest(*m);
  // Round trip: what Ignite accepted, Ignite must be able to write and read back unchanged.
  Ignite::write_lock(dir, *m);
  const std::optional<Ignite::LockManifest> back = Ignite::read_lock(dir);
  FUZZ_CHECK(back.has_value());
  FUZZ_CHECK(same(*m, *back));
  return 0;
}
