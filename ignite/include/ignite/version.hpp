// File: ignite/version.hpp
//
// Compile-time version of the headers and `Ignite::version()` for the library actually linked.
// Thread-safety: constants and a pure function, safe from any thread.
//
// Example:
//   static_assert(IGNITE_VERSION_CHECK(0, 1, 0));
//   std::cout << Ignite::version() << "\n";
#pragma once

#include <string_view>

#define IGNITE_VERSION_MAJOR 0
#define IGNITE_VERSION_MINOR 1
#define IGNITE_VERSION_PATCH 0
#define IGNITE_VERSION_STRING "0.1.0"
#define IGNITE_VERSION_NUMBER \
  (IGNITE_VERSION_MAJOR * 10000 + IGNITE_VERSION_MINOR * 100 + IGNITE_VERSION_PATCH)
#define IGNITE_VERSION_CHECK(major, minor, patch) \
  (IGNITE_VERSION_NUMBER >= ((major) * 10000 + (minor) * 100 + (patch)))

namespace Ignite {

// The version of the library actually linked ("0.1.0"), which may differ from
// IGNITE_VERSION_STRING of the headers a program was compiled with. Never throws.
std::string_view version() noexcept;

}  // namespace Ignite
