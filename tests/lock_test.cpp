// ignite.lock: what is pinned (and what is not), the file format, malformed manifests, and drift
// detection including the §15 fixes (sources, bun.lock, added files, unversioned runtimes).
#include "ignite/lock.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "ignite/error.hpp"
#include "ignite/runtime.hpp"
#include "ignite/service.hpp"
#include "tests/test_util.hpp"

namespace fs = std::filesystem;
using Ignite::DriftReport;
using Ignite::ErrorCode;
using Ignite::LockManifest;
using Ignite::ResolvedRuntime;
using Ignite::testing::TempDir;
using Ignite::testing::write_file;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

namespace {

constexpr const char* kHelloSha =
    "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";

const ResolvedRuntime kBun14{"bun", "1.4", "ignite-runtime/bun:1.4", {"bun"}};

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A bun service with sources, a lockfile and every kind of file the manifest must skip.
Ignite::Service make_service(const TempDir& dir, const std::string& runtime = "bun") {
  const fs::path& d = dir.path();
  write_file(d / "service.yaml", "service:\n  name: locked\n  runtime: " + runtime +
                                     "\n  entry: index.ts\n  memoryMb: 128\n  timeoutMs: 5000\n");
  write_file(d / "index.ts", "hello\n");
  write_file(d / "src/util.ts", "export const x = 1;\n");
  write_file(d / "docs/readme.md", "# docs\n");
  write_file(d / "package.json", "{\"name\":\"locked\"}\n");
  write_file(d / "bun.lock", "{}\n");
  // Never pinned.
  write_file(d / "node_modules/left-pad/index.js", "module.exports = 1;\n");
  write_file(d / "src/node_modules/x/index.js", "");
  write_file(d / ".git/HEAD", "ref: refs/heads/main\n");
  write_file(d / ".env", "SECRET=1\n");
  write_file(d / ".env.local", "SECRET=2\n");
  write_file(d / "src/.env.production", "SECRET=3\n");
  // .igniteignore: names at any depth, a directory, an anchored path, a re-include.
  write_file(d / ".igniteignore",
             "# comment\n\n*.log\n!keep.log\nbuild/\n/secret.txt\ndocs/**/*.tmp\n");
  write_file(d / "debug.log", "x\n");
  write_file(d / "src/trace.log", "x\n");
  write_file(d / "keep.log", "x\n");
  write_file(d / "build/out.js", "x\n");
  write_file(d / "src/build/gen.js", "x\n");
  write_file(d / "secret.txt", "x\n");
  write_file(d / "nested/secret.txt", "x\n");  // /secret.txt is anchored: this one stays
  write_file(d / "docs/a/b/c.tmp", "x\n");
  return Ignite::load_service(d);
}

std::vector<std::string> keys(const LockManifest& m) {
  std::vector<std::string> out;
  for (const auto& [k, v] : m.checksums) out.push_back(k);
  return out;
}

Ignite::Error lock_error(const TempDir& dir, const std::string& content) {
  write_file(dir.path() / "ignite.lock", content);
  try {
    Ignite::read_lock(dir.path());
  } catch (const Ignite::Error& e) {
    return e;
  }
  ADD_FAILURE() << "expected an error for:\n" << content;
  return Ignite::Error(ErrorCode::Internal, "no error");
}

}  // namespace

TEST(Lock, MakeLockPinsServiceFiles) {
  TempDir dir;
  const auto svc = make_service(dir);
  const LockManifest m = Ignite::make_lock(svc, kBun14, std::nullopt);
  EXPECT_EQ(m.version, "1.0");
  EXPECT_EQ(m.runtime_name, "bun");
  EXPECT_EQ(m.runtime_version, "1.4");
  EXPECT_EQ(m.runtime_spec(), "bun@1.4");
  EXPECT_EQ(m.lockfile, "bun.lock");
  EXPECT_FALSE(m.base_image_id);
  EXPECT_TRUE(
      std::regex_match(m.created_at, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
  EXPECT_THAT(keys(m),
              ElementsAre(".igniteignore", "bun.lock", "docs/readme.md", "index.ts", "keep.log",
                          "nested/secret.txt", "package.json", "service.yaml", "src/util.ts"));
  EXPECT_EQ(m.checksums.at("index.ts"), kHelloSha);
}

TEST(Lock, ManifestsArePinnedEvenWhenIgnored) {
  TempDir dir;
  auto svc = make_service(dir);
  write_file(dir.path() / ".igniteignore", "*.json\n*.yaml\nbun.*\n");
  const auto m = Ignite::make_lock(svc, kBun14, std::nullopt);
  EXPECT_TRUE(m.checksums.count("package.json"));
  EXPECT_TRUE(m.checksums.count("service.yaml"));
  EXPECT_TRUE(m.checksums.count("bun.lock"));
}

TEST(Lock, LockfilePreference) {
  TempDir dir;
  auto svc = make_service(dir);
  write_file(dir.path() / "yarn.lock", "");
  EXPECT_EQ(Ignite::make_lock(svc, kBun14).lockfile, "bun.lock");
  write_file(dir.path() / "bun.lockb", "\x01\x02");
  const auto m = Ignite::make_lock(svc, kBun14);
  EXPECT_EQ(m.lockfile, "bun.lockb");
  EXPECT_TRUE(m.checksums.count("yarn.lock"));
  EXPECT_EQ(m.checksums.at("yarn.lock"),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  fs::remove(dir.path() / "bun.lockb");
  fs::remove(dir.path() / "bun.lock");
  fs::remove(dir.path() / "yarn.lock");
  EXPECT_FALSE(Ignite::make_lock(svc, kBun14).lockfile);
}

TEST(Lock, SymlinksStayInside) {
  TempDir dir;
  TempDir outside;
  write_file(outside.path() / "host.txt", "host secret\n");
  auto svc = make_service(dir);
  fs::create_symlink(outside.path() / "host.txt", dir.path() / "escape.txt");
  fs::create_symlink(outside.path(), dir.path() / "escape-dir");
  fs::create_symlink("index.ts", dir.path() / "alias.ts");
  fs::create_symlink(".env", dir.path() / "env-alias");
  fs::create_symlink("missing.ts", dir.path() / "dangling.ts");
  const auto m = Ignite::make_lock(svc, kBun14);
  EXPECT_TRUE(m.checksums.count("alias.ts"));
  EXPECT_EQ(m.checksums.at("alias.ts"), kHelloSha);
  EXPECT_FALSE(m.checksums.count("escape.txt"));
  EXPECT_FALSE(m.checksums.count("escape-dir/host.txt"));
  EXPECT_FALSE(m.checksums.count("env-alias"));
  EXPECT_FALSE(m.checksums.count("dangling.ts"));
}

TEST(Lock, WriteReadRoundTrip) {
  TempDir dir;
  const auto svc = make_service(dir);
  auto m = Ignite::make_lock(svc, kBun14, "sha256:abc");
  Ignite::write_lock(dir.path(), m);
  const auto back = Ignite::read_lock(dir.path());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->version, m.version);
  EXPECT_EQ(back->runtime_name, m.runtime_name);
  EXPECT_EQ(back->runtime_version, m.runtime_version);
  EXPECT_EQ(back->base_image_id, "sha256:abc");
  EXPECT_EQ(back->lockfile, m.lockfile);
  EXPECT_EQ(back->checksums, m.checksums);
  EXPECT_EQ(back->created_at, m.created_at);
  // No temporary files left behind, and ignite.lock pins nothing about itself.
  for (const auto& e : fs::directory_iterator(dir.path())) {
    EXPECT_THAT(e.path().filename().string(), ::testing::Not(StartsWith(".ignite.lock.tmp")));
  }
  EXPECT_FALSE(Ignite::make_lock(svc, kBun14).checksums.count("ignite.lock"));
}

TEST(Lock, FileFormat) {
  TempDir dir;
  LockManifest m;
  m.runtime_name = "node";
  m.runtime_version = "20";
  m.lockfile = "package-lock.json";
  m.checksums["index.js"] = kHelloSha;
  m.created_at = "2026-01-24T10:15:30.123Z";
  Ignite::write_lock(dir.path(), m);
  EXPECT_EQ(read(dir.path() / "ignite.lock"),
            "version: \"1.0\"\n"
            "runtime:\n"
            "  name: node\n"
            "  version: \"20\"\n"
            "lockfile: package-lock.json\n"
            "checksums:\n"
            "  index.js: " +
                std::string(kHelloSha) +
                "\n"
                "createdAt: 2026-01-24T10:15:30.123Z\n");
  // Overwrites in place; optional keys stay out; an empty checksum map is written as {}.
  m.lockfile.reset();
  m.checksums.clear();
  Ignite::write_lock(dir.path(), m);
  const std::string text = read(dir.path() / "ignite.lock");
  EXPECT_THAT(text, ::testing::Not(HasSubstr("lockfile")));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("baseImageId")));
  EXPECT_THAT(text, HasSubstr("checksums: {}\n"));
  EXPECT_TRUE(Ignite::read_lock(dir.path())->checksums.empty());
}

TEST(Lock, AwkwardNamesRoundTrip) {
  TempDir dir;
  LockManifest m;
  m.runtime_name = "true";
  m.runtime_version = "1.10";  // must not become the number 1.1
  m.base_image_id = "null";
  for (const char* name : {"true", "1.5", "a: b.js", "#x.js", "- item", "sp ace.js", "\xc3\xa9.js",
                           "quote\".js", "dir/~"}) {
    m.checksums[name] = kHelloSha;
  }
  m.created_at = "2026-01-24T10:15:30.123Z";
  Ignite::write_lock(dir.path(), m);
  const auto back = Ignite::read_lock(dir.path());
  ASSERT_TRUE(back) << read(dir.path() / "ignite.lock");
  EXPECT_EQ(back->runtime_name, "true");
  EXPECT_EQ(back->runtime_version, "1.10");
  EXPECT_EQ(back->base_image_id, "null");
  EXPECT_EQ(back->checksums, m.checksums);
  EXPECT_THAT(read(dir.path() / "ignite.lock"), HasSubstr("version: \"1.10\""));
}

TEST(Lock, HandWrittenManifestIsAccepted) {
  TempDir dir;
  write_file(dir.path() / "ignite.lock",
             "version: 1.0\nruntime:\n  name: bun\n  version: 1.10\nchecksums:\ncreatedAt: x\n");
  const auto m = Ignite::read_lock(dir.path());
  ASSERT_TRUE(m);
  EXPECT_EQ(m->version, "1.0");
  EXPECT_EQ(m->runtime_version, "1.10");
  EXPECT_TRUE(m->checksums.empty());
  EXPECT_FALSE(m->lockfile);
}

TEST(Lock, MissingLockIsNotAnError) {
  TempDir dir;
  EXPECT_FALSE(Ignite::read_lock(dir.path()));
  const auto svc = make_service(dir);
  const DriftReport d = Ignite::check_drift(svc, kBun14, std::nullopt);
  EXPECT_FALSE(d.locked);
  EXPECT_FALSE(d.drift);
  EXPECT_FALSE(d.manifest);
  EXPECT_TRUE(d.details.empty());
  EXPECT_EQ(Ignite::format_environment_info(d),
            "Environment: Not locked\n  Run `ignite lock` to create ignite.lock");
}

TEST(Lock, MalformedManifestsThrowLockErrorsNamingThePath) {
  TempDir dir;
  const std::string prefix = (dir.path() / "ignite.lock").string() + ": ";
  const std::pair<const char*, const char*> cases[] = {
      {"", "file is empty"},
      {"  \n\n", "file is empty"},
      {"version: [\n", "YAML syntax error at line"},
      {"- a\n- b\n", "expected a YAML map"},
      {"just text\n", "expected a YAML map"},
      {"version: \"1.0\"\nchecksums: {}\n", "runtime is missing"},
      {"version: \"1.0\"\nruntime: bun\n", "runtime must be a map"},
      {"version: \"1.0\"\nruntime:\n  name: bun\n", "runtime.version is missing"},
      {"version: \"1.0\"\nruntime:\n  version: \"1\"\n", "runtime.name is missing"},
      {"version: \"1.0\"\nruntime:\n  name: [a]\n  version: \"1\"\n",
       "runtime.name must be a string"},
      {"runtime:\n  name: bun\n  version: \"1\"\n", "version is missing"},
      {"version: \"2.0\"\nruntime:\n  name: bun\n  version: \"1\"\n",
       "unsupported manifest version"},
      {"version: \"1.0\"\nruntime:\n  name: bun\n  version: \"1\"\nchecksums: [a]\n",
       "checksums must be a map"},
      {"version: \"1.0\"\nruntime:\n  name: bun\n  version: \"1\"\nchecksums:\n  a.js: nothex\n",
       "checksums.a.js must be a SHA-256 hex digest"},
      {"version: \"1.0\"\nruntime:\n  name: bun\n  version: \"1\"\nchecksums:\n  ../../etc/passwd: "
       "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03\n",
       "is not a relative path inside the service"},
      {"version: \"1.0\"\nruntime:\n  name: bun\n  version: \"1\"\nchecksums:\n  /etc/passwd: "
       "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03\n",
       "is not a relative path inside the service"},
  };
  for (const auto& [content, problem] : cases) {
    const auto e = lock_error(dir, content);
    EXPECT_EQ(e.code(), ErrorCode::Lock) << content;
    EXPECT_THAT(e.message(), StartsWith(prefix)) << content;
    EXPECT_THAT(e.message(), HasSubstr(problem)) << content;
  }
  // A directory in the way is reported too, and drift checks surface the same error.
  fs::remove(dir.path() / "ignite.lock");
  fs::create_directory(dir.path() / "ignite.lock");
  try {
    Ignite::read_lock(dir.path());
    FAIL();
  } catch (const Ignite::Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Lock);
    EXPECT_EQ(e.message(), prefix + "not a regular file");
  }
}

TEST(Lock, CheckDriftPropagatesMalformedManifest) {
  TempDir dir;
  const auto svc = make_service(dir);
  write_file(dir.path() / "ignite.lock", "");
  try {
    Ignite::check_drift(svc, kBun14);
    FAIL();
  } catch (const Ignite::Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Lock);
    EXPECT_THAT(e.message(), HasSubstr((dir.path() / "ignite.lock").string()));
  }
}

TEST(Lock, WriteIntoMissingDirectoryFails) {
  TempDir dir;
  LockManifest m;
  m.runtime_name = "bun";
  m.runtime_version = "1.4";
  try {
    Ignite::write_lock(dir.path() / "nope", m);
    FAIL();
  } catch (const Ignite::Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Lock);
    EXPECT_THAT(e.message(), StartsWith((dir.path() / "nope" / "ignite.lock").string() + ": "));
  }
}

// Fuzz finding (fuzz/fuzz_lock.cpp, write/read round trip): read_lock accepted invalid UTF-8,
// which write_lock's emitter turns into U+FFFD, so a manifest (or a file name on disk) never
// read back as written and showed as drift forever.
TEST(Lock, FuzzInvalidUtf8IsRefusedNotCorrupted) {
  TempDir dir;
  const std::string prefix = (dir.path() / "ignite.lock").string() + ": ";
  auto e = lock_error(dir, "version: \"1.0\"\nruntime:\n  name: bun\n  version: \xd5\xce\"\n");
  EXPECT_EQ(e.code(), ErrorCode::Lock);
  EXPECT_EQ(e.message(), prefix + "runtime.version is not valid UTF-8");
  e = lock_error(dir, std::string("version: \"1.0\"\nruntime: {name: bun, version: \"1\"}\n"
                                  "checksums:\n  bad\xff.js: ") +
                          kHelloSha + "\n");
  EXPECT_THAT(e.message(), HasSubstr("is not valid UTF-8"));
  fs::remove(dir.path() / "ignite.lock");

  LockManifest m;
  m.runtime_name = "bun";
  m.runtime_version = "1.4";
  m.checksums["caf\xe9.js"] = kHelloSha;  // Latin-1, as a Linux file name may be
  try {
    Ignite::write_lock(dir.path(), m);
    FAIL();
  } catch (const Ignite::Error& err) {
    EXPECT_EQ(err.code(), ErrorCode::Lock);
    EXPECT_THAT(err.message(), StartsWith(prefix + "cannot write file name"));
    EXPECT_THAT(err.message(), HasSubstr("not valid UTF-8"));
  }
  EXPECT_FALSE(fs::exists(dir.path() / "ignite.lock"));
  // Valid UTF-8, control characters and NUL still round-trip.
  m.checksums.clear();
  m.checksums["caf\xc3\xa9 \x01.js"] = kHelloSha;
  m.runtime_name = std::string("a\0b", 3);
  Ignite::write_lock(dir.path(), m);
  const auto back = Ignite::read_lock(dir.path());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->checksums, m.checksums);
  EXPECT_EQ(back->runtime_name, m.runtime_name);
}

// Fuzz finding (fuzz/fuzz_lock.cpp, write/read round trip): a value ending in carriage returns
// was written unquoted, and the line break after it swallowed one of them on reading back.
TEST(Lock, FuzzControlCharactersRoundTrip) {
  TempDir dir;
  write_file(dir.path() / "ignite.lock",
             "version: \"1.0\"\nruntime:\n  name: bun\n  version: \"1\"\n"
             "createdAt: 2026-01-24T10:15:30.1\r\r\r\n");
  const auto m = Ignite::read_lock(dir.path());
  ASSERT_TRUE(m);
  EXPECT_EQ(m->created_at, "2026-01-24T10:15:30.1\r\r");
  LockManifest w = *m;
  w.runtime_name = "tab\there\r";
  w.checksums["cr\r.js"] = kHelloSha;
  w.checksums["del\x7f.js"] = kHelloSha;
  Ignite::write_lock(dir.path(), w);
  const auto back = Ignite::read_lock(dir.path());
  ASSERT_TRUE(back) << read(dir.path() / "ignite.lock");
  EXPECT_EQ(back->created_at, w.created_at);
  EXPECT_EQ(back->runtime_name, w.runtime_name);
  EXPECT_EQ(back->checksums, w.checksums);
}

// Fuzz finding (fuzz/fuzz_lock.cpp): write_lock threw std::out_of_range (from as_number) for a
// value such as a runtime version spelled as a hex number past 64 bits.
TEST(Lock, FuzzHexNumberPast64BitsRoundTrips) {
  TempDir dir;
  LockManifest m;
  m.runtime_name = "0x10000000000000000";
  m.runtime_version = "0o7777777777777777777777777";
  m.created_at = "0xfffffffffffffffffff";
  Ignite::write_lock(dir.path(), m);
  const auto back = Ignite::read_lock(dir.path());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->runtime_name, m.runtime_name);
  EXPECT_EQ(back->runtime_version, m.runtime_version);
  EXPECT_EQ(back->created_at, m.created_at);
  EXPECT_THAT(read(dir.path() / "ignite.lock"), HasSubstr("name: \"0x10000000000000000\""));
}

// Robustness (fuzz/fuzz_lock.cpp): nesting is refused before yaml-cpp recurses into it.
TEST(Lock, FuzzDeepNestingIsALockError) {
  TempDir dir;
  const auto e = lock_error(dir, "version: \"1.0\"\nruntime: " + std::string(5000, '[') + "\n");
  EXPECT_EQ(e.code(), ErrorCode::Lock);
  EXPECT_EQ(e.message(), (dir.path() / "ignite.lock").string() +
                             ": YAML nesting deeper than 64 levels at line 2, column 73");
}

TEST(Drift, NoDriftRightAfterLocking) {
  TempDir dir;
  const auto svc = make_service(dir);
  auto m = Ignite::make_lock(svc, kBun14);
  m.created_at = "2026-01-24T10:15:30.123Z";
  Ignite::write_lock(dir.path(), m);
  const DriftReport d = Ignite::check_drift(svc, kBun14, "sha256:new");  // lock has no image id
  EXPECT_TRUE(d.locked);
  EXPECT_FALSE(d.drift);
  EXPECT_TRUE(d.details.empty());
  ASSERT_TRUE(d.manifest);
  EXPECT_EQ(d.manifest->checksums, m.checksums);
  EXPECT_EQ(Ignite::format_environment_info(d),
            "Environment: Locked\n"
            "  Runtime: bun@1.4\n"
            "  Locked at: 2026-01-24T10:15:30.123Z\n"
            "  Lockfile: bun.lock\n"
            "\n"
            "Environment matches manifest");
  // Changes to excluded files are not drift.
  write_file(dir.path() / ".env", "SECRET=changed\n");
  write_file(dir.path() / "node_modules/new-dep/index.js", "");
  write_file(dir.path() / "build/new.js", "");
  write_file(dir.path() / "other.log", "");
  EXPECT_FALSE(Ignite::check_drift(svc, kBun14).drift);
}

TEST(Drift, FilesModifiedRemovedAddedUnreadable) {
  TempDir dir;
  const auto svc = make_service(dir);
  Ignite::write_lock(dir.path(), Ignite::make_lock(svc, kBun14));
  write_file(dir.path() / "index.ts", "changed\n");
  fs::remove(dir.path() / "src/util.ts");
  fs::remove(dir.path() / "docs/readme.md");
  fs::create_symlink("gone.md", dir.path() / "docs/readme.md");
  write_file(dir.path() / "src/new.ts", "");
  write_file(dir.path() / "yarn.lock", "");  // a lockfile added after locking
  const DriftReport d = Ignite::check_drift(svc, kBun14);
  EXPECT_TRUE(d.locked);
  EXPECT_TRUE(d.drift);
  EXPECT_THAT(d.details, ElementsAre("File unreadable: docs/readme.md", "File modified: index.ts",
                                     "File removed: src/util.ts", "File added: src/new.ts",
                                     "File added: yarn.lock"));
}

TEST(Drift, ServiceYamlAndBunLockArePinned) {
  TempDir dir;
  const auto svc = make_service(dir);
  Ignite::write_lock(dir.path(), Ignite::make_lock(svc, kBun14));
  write_file(dir.path() / "bun.lock", "{\"changed\":true}\n");
  write_file(dir.path() / "service.yaml", read(dir.path() / "service.yaml") + "# edited\n");
  EXPECT_THAT(Ignite::check_drift(svc, kBun14).details,
              ElementsAre("File modified: bun.lock", "File modified: service.yaml"));
}

TEST(Drift, RuntimeChanged) {
  TempDir dir;
  const auto svc = make_service(dir);
  Ignite::write_lock(dir.path(), Ignite::make_lock(svc, kBun14));
  const ResolvedRuntime node{"node", "20", "ignite-runtime/node:20", {"node"}};
  const DriftReport d = Ignite::check_drift(svc, node);
  EXPECT_TRUE(d.drift);
  EXPECT_THAT(d.details, ElementsAre("Runtime changed: bun -> node", "Version changed: 1.4 -> 20"));
}

TEST(Drift, UnversionedRuntimeDetectsVersionDrift) {
  TempDir dir;
  const auto svc = make_service(dir, "bun");  // no version in service.yaml
  const ResolvedRuntime old{"bun", "1.2", "ignite-runtime/bun:1.2", {"bun"}};
  Ignite::write_lock(dir.path(), Ignite::make_lock(svc, old));
  const ResolvedRuntime now = Ignite::RuntimeRegistry::builtins().resolve(svc.config.runtime);
  ASSERT_EQ(now.version, "1.4");
  const DriftReport d = Ignite::check_drift(svc, now);
  EXPECT_TRUE(d.drift);
  EXPECT_THAT(d.details, ElementsAre("Version changed: 1.2 -> 1.4"));
  // The lock records the resolved default, not "latest" or an empty version.
  EXPECT_EQ(Ignite::make_lock(svc, now).runtime_version, "1.4");
}

TEST(Drift, BaseImageChanged) {
  TempDir dir;
  const auto svc = make_service(dir);
  auto m = Ignite::make_lock(svc, kBun14, "sha256:aaa");
  m.created_at = "2026-01-24T10:15:30.123Z";
  Ignite::write_lock(dir.path(), m);
  EXPECT_FALSE(Ignite::check_drift(svc, kBun14, "sha256:aaa").drift);
  EXPECT_FALSE(Ignite::check_drift(svc, kBun14, std::nullopt).drift);  // unknown now: not compared
  const DriftReport d = Ignite::check_drift(svc, kBun14, "sha256:bbb");
  EXPECT_THAT(d.details, ElementsAre("Base image changed: sha256:aaa -> sha256:bbb"));
  EXPECT_EQ(Ignite::format_environment_info(d),
            "Environment: Locked\n"
            "  Runtime: bun@1.4\n"
            "  Locked at: 2026-01-24T10:15:30.123Z\n"
            "  Lockfile: bun.lock\n"
            "  Base image: sha256:aaa\n"
            "\n"
            "WARNING: Environment drift detected:\n"
            "    - Base image changed: sha256:aaa -> sha256:bbb\n"
            "\n"
            "  Run `ignite lock --update` to update the manifest");
}

TEST(Drift, FormatWithoutLockfile) {
  DriftReport d;
  d.locked = true;
  d.drift = true;
  d.details = {"File modified: index.js", "File added: x.js"};
  d.manifest = LockManifest{};
  d.manifest->runtime_name = "node";
  d.manifest->runtime_version = "20";
  d.manifest->created_at = "C";
  EXPECT_EQ(Ignite::format_environment_info(d),
            "Environment: Locked\n"
            "  Runtime: node@20\n"
            "  Locked at: C\n"
            "\n"
            "WARNING: Environment drift detected:\n"
            "    - File modified: index.js\n"
            "    - File added: x.js\n"
            "\n"
            "  Run `ignite lock --update` to update the manifest");
}
