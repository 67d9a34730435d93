// SharedLibrary: a system library loaded at its first use, and the errors when it cannot be.
#include "ignite/src/shared_library.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using Ignite::Error;
using Ignite::ErrorCode;
using Ignite::detail::SharedLibrary;

// zlib: installed everywhere this builds, and not linked into this test.
constexpr SharedLibrary kZlib("libz.so.1", "zlib1g");
using ZlibVersion = const char* (*)();

TEST(SharedLibrary, LoadsAtFirstUseAndResolvesASymbol) {
  EXPECT_FALSE(kZlib.loaded()) << "the test binary should not link zlib";
  const auto version = kZlib.get<ZlibVersion>("zlibVersion", ErrorCode::Internal, "test");
  ASSERT_NE(version, nullptr);
  EXPECT_EQ(std::string(version()).substr(0, 2), "1.");
  EXPECT_TRUE(kZlib.loaded());
  // Later lookups reuse the handle.
  EXPECT_EQ(kZlib.get<ZlibVersion>("zlibVersion", ErrorCode::Internal, "test"), version);
}

TEST(SharedLibrary, AMissingLibraryNamesItAndItsPackage) {
  constexpr SharedLibrary missing("libignite-does-not-exist.so.7", "ignite-nothing");
  try {
    missing.get<ZlibVersion>("anything", ErrorCode::Build, "build context");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Build);
    const std::string m = e.message();
    EXPECT_NE(m.find("build context: cannot load libignite-does-not-exist.so.7"), std::string::npos) << m;
    EXPECT_NE(m.find("install the Debian package ignite-nothing"), std::string::npos) << m;
  }
  EXPECT_FALSE(missing.loaded());
}

TEST(SharedLibrary, AMissingSymbolNamesIt) {
  try {
    kZlib.get<ZlibVersion>("ignite_no_such_symbol", ErrorCode::DockerUnavailable, "streams");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::DockerUnavailable);
    EXPECT_NE(e.message().find("streams: libz.so.1 has no ignite_no_such_symbol"), std::string::npos)
        << e.message();
  }
}

}  // namespace
