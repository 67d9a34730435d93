// Runtime registry: spec parsing, reference §2.2 version matching, images, custom runtimes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ignite/error.hpp"
#include "ignite/runtime.hpp"
#include "tests/test_util.hpp"

using Ignite::ErrorCode;
using Ignite::RuntimeRegistry;
using Ignite::RuntimeSpec;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

namespace {
Ignite::Runtime custom(std::string name, std::vector<Ignite::RuntimeVersion> versions,
                       std::string default_version, std::vector<std::string> command) {
  Ignite::Runtime r;
  r.name = std::move(name);
  r.versions = std::move(versions);
  r.default_version = std::move(default_version);
  r.command = std::move(command);
  return r;
}
}  // namespace

TEST(RuntimeSpec, Parse) {
  auto s = RuntimeSpec::parse("node@20.12.0");
  EXPECT_EQ(s.name, "node");
  EXPECT_EQ(s.version, "20.12.0");
  EXPECT_EQ(RuntimeSpec::parse("bun").version, std::nullopt);
  EXPECT_EQ(RuntimeSpec::parse("@bun").name, "@bun");
  EXPECT_EQ(RuntimeSpec::parse("node@20@1").name, "node@20");
  EXPECT_EQ(RuntimeSpec::parse("node@20").str(), "node@20");
  EXPECT_THROW(RuntimeSpec::parse("bun@"), Ignite::Error);
}

TEST(RuntimeRegistry, BuiltinsInOrder) {
  EXPECT_THAT(RuntimeRegistry::builtins().names(), ElementsAre("bun", "node", "deno", "quickjs"));
}

TEST(RuntimeRegistry, ReferenceMatchingRules) {
  const auto reg = RuntimeRegistry::builtins();
  for (const char* ok : {"node", "node@20", "node@20.12.0", "node@v20", "node@20.x", "node@18",
                         "node@22", "node@24", "node@20-nightly", "bun", "bun@1.4", "bun@1.4.5",
                         "deno", "deno@2.9.6", "quickjs", "quickjs@latest", "quickjs@latest.1",
                         "quickjs@2025-04-26"}) {
    EXPECT_TRUE(reg.is_valid(ok)) << ok;
  }
  for (const char* bad : {"node@99", "node@200", "node@2", "bun@1", "bun@1.40", "deno@2", "BUN",
                          " bun", "@bun", "node@20@1", "bun@", "python"}) {
    EXPECT_FALSE(reg.is_valid(bad)) << bad;
  }
}

TEST(RuntimeRegistry, ResolvesToLocalImages) {
  const auto reg = RuntimeRegistry::builtins();
  auto node = reg.resolve("node@20.12.0");
  EXPECT_EQ(node.version, "20");
  EXPECT_EQ(node.image, "ignite-runtime/node:20");
  EXPECT_THAT(node.argv("src/main.js"), ElementsAre("node", "/app/src/main.js"));
  // The reference produced tags that do not exist for v-prefixed and .x versions.
  EXPECT_EQ(reg.resolve("node@v22").image, "ignite-runtime/node:22");
  EXPECT_EQ(reg.resolve("node@20.x").image, "ignite-runtime/node:20");
  EXPECT_EQ(reg.resolve("node").version, "20");
  EXPECT_EQ(reg.resolve("quickjs").image, "ignite-runtime/quickjs:2025-04-26");
  EXPECT_THAT(reg.resolve("quickjs").argv("index.js"), ElementsAre("qjs", "--std", "/app/index.js"));
  EXPECT_THAT(reg.resolve("quickjs").argv("main.mjs"),
              ElementsAre("qjs", "--std", "-m", "/app/main.mjs"));
  EXPECT_THAT(node.argv("main.mjs"), ElementsAre("node", "/app/main.mjs"));
  // Deno's command is separate argv elements (the reference passed one multi-word element).
  EXPECT_THAT(reg.resolve("deno").command,
              ElementsAre("deno", "run", "--no-prompt", "--allow-env", "--allow-read=/app"));
}

TEST(RuntimeRegistry, ErrorMessages) {
  const auto reg = RuntimeRegistry::builtins();
  try {
    reg.resolve("python");
    FAIL();
  } catch (const Ignite::Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Runtime);
    EXPECT_THAT(e.message(), HasSubstr("Unknown runtime: python. Available runtimes: bun, node, deno, quickjs."));
  }
  try {
    reg.resolve("node@99");
    FAIL();
  } catch (const Ignite::Error& e) {
    EXPECT_THAT(e.message(), HasSubstr("Unsupported version \"99\" for runtime \"node\". Supported versions: 18, 20, 22, 24."));
  }
}

TEST(RuntimeRegistry, CustomRuntimeShadowsWithoutDuplicates) {
  auto reg = RuntimeRegistry::builtins();
  reg.add(custom("node", {{"20", "my/node:20"}}, "20", {"node"}));
  EXPECT_THAT(reg.names(), ElementsAre("bun", "node", "deno", "quickjs"));
  EXPECT_EQ(reg.resolve("node").image, "my/node:20");
  reg.add(custom("hermes", {{"1", "my/hermes:1"}}, "1", {"hermes"}));
  EXPECT_THAT(reg.names(), ElementsAre("bun", "node", "deno", "quickjs", "hermes"));
  EXPECT_TRUE(reg.remove("hermes"));
  EXPECT_FALSE(reg.remove("hermes"));
  EXPECT_THROW(reg.add(custom("x", {}, "1", {"x"})), Ignite::Error);
  EXPECT_THROW(reg.add(custom("x", {{"1", "i"}}, "2", {"x"})), Ignite::Error);
}

TEST(RuntimeRegistry, LoadsRuntimesYaml) {
  Ignite::testing::TempDir dir;
  Ignite::testing::write_file(dir.path() / "runtimes.yaml", R"(runtimes:
  - name: busybox-js
    command: [sh, -c]
    defaultEntry: main.sh
    versions:
      "1": example/one:1
      "2": example/two:2
    defaultVersion: "2"
  - name: single
    image: example/single:latest
    command: [run]
)");
  auto reg = RuntimeRegistry::builtins();
  reg.load_file(dir.path() / "runtimes.yaml");
  EXPECT_EQ(reg.resolve("busybox-js").image, "example/two:2");
  EXPECT_EQ(reg.resolve("busybox-js@1").image, "example/one:1");
  EXPECT_EQ(reg.find("busybox-js")->default_entry, "main.sh");
  EXPECT_EQ(reg.resolve("single").image, "example/single:latest");
}

TEST(RuntimeRegistry, BadRuntimesYamlNamesFileAndField) {
  Ignite::testing::TempDir dir;
  Ignite::testing::write_file(dir.path() / "runtimes.yaml", "runtimes:\n  - name: x\n    image: i\n");
  auto reg = RuntimeRegistry::builtins();
  try {
    reg.load_file(dir.path() / "runtimes.yaml");
    FAIL();
  } catch (const Ignite::Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Config);
    EXPECT_THAT(e.message(), HasSubstr("runtimes.yaml: runtimes[0].command"));
  }
  EXPECT_EQ(reg.find("x"), nullptr);
}
