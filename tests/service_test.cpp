// service.yaml loading and validation (reference §1 plus Ignite's fixes).
#include "ignite/service.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "ignite/error.hpp"
#include "ignite/json.hpp"
#include "ignite/policy.hpp"
#include "ignite/runtime.hpp"
#include "tests/test_util.hpp"

namespace fs = std::filesystem;
using Ignite::ErrorCode;
using Ignite::testing::TempDir;
using Ignite::testing::write_file;
using ::testing::HasSubstr;
using ::testing::StartsWith;

namespace {

const char* kValid = R"(service:
  name: demo
  runtime: node@20
  entry: index.js
  memoryMb: 128
  timeoutMs: 5000
)";

// Loads a service whose service.yaml is `yaml` (plus an index.js); returns the error.
Ignite::Error load_error(const std::string& yaml, const std::string& entry_file = "index.js") {
  TempDir dir;
  write_file(dir.path() / "service.yaml", yaml);
  write_file(dir.path() / entry_file, "console.log(1)\n");
  try {
    Ignite::load_service(dir.path());
  } catch (const Ignite::Error& e) {
    return e;
  }
  ADD_FAILURE() << "expected an error for:\n" << yaml;
  return Ignite::Error(ErrorCode::Internal, "no error");
}

std::string with(const std::string& line) {
  return std::string(kValid) + line + "\n";
}

// Writes `yaml` and an index.js into `dir`; returns its path.
fs::path example_dir(const TempDir& dir, const std::string& yaml) {
  write_file(dir.path() / "service.yaml", yaml);
  write_file(dir.path() / "index.js", "");
  return dir.path();
}

}  // namespace

TEST(Service, LoadsValidService) {
  TempDir dir;
  write_file(dir.path() / "service.yaml", std::string(kValid) + "  cpuLimit: 0.5\n  env:\n    A: b\n");
  write_file(dir.path() / "index.js", "");
  const auto svc = Ignite::load_service(dir.path());
  EXPECT_EQ(svc.config.name, "demo");
  EXPECT_EQ(svc.config.runtime, "node@20");
  EXPECT_EQ(svc.config.entry, "index.js");
  EXPECT_EQ(svc.config.memory_mb, 128);
  EXPECT_EQ(svc.config.cpu_limit, 0.5);
  EXPECT_EQ(svc.config.timeout_ms, 5000);
  EXPECT_EQ(svc.config.env.at("A"), "b");
  EXPECT_EQ(svc.path, fs::canonical(dir.path()));
  EXPECT_EQ(svc.entry_path, svc.path / "index.js");
  EXPECT_FALSE(svc.has_node_modules);
}

TEST(Service, MissingDirectoryNamesFile) {
  try {
    Ignite::load_service("/nonexistent/ignite/svc");
    FAIL();
  } catch (const Ignite::Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Service);
    EXPECT_THAT(e.message(), HasSubstr("Cannot read service.yaml at /nonexistent/ignite/svc/service.yaml"));
  }
}

TEST(Service, NotAMap) {
  auto e = load_error("");
  EXPECT_EQ(e.code(), ErrorCode::Config);
  EXPECT_THAT(e.message(), StartsWith("Invalid service.yaml: Config must be an object"));
  EXPECT_THAT(load_error("service: hello\n").message(),
              StartsWith("Invalid service.yaml: Missing service block"));
}

TEST(Service, ReportsAllFiveErrorsInOrder) {
  auto e = load_error("service:\n  name: \"\"\n");
  EXPECT_THAT(e.message(),
              StartsWith("Invalid service.yaml: service.name is required, service.runtime must be "
                         "one of: bun, node, deno, quickjs, service.entry is required, "
                         "service.memoryMb must be a positive number, service.timeoutMs must be a "
                         "positive number"));
  EXPECT_THAT(e.message(), HasSubstr("service.yaml)"));  // names the file
}

TEST(Service, NameRules) {
  EXPECT_THAT(load_error("service:\n  name: Hello\n  runtime: node\n  entry: index.js\n  memoryMb: 1\n  timeoutMs: 1\n").message(),
              HasSubstr("service.name invalid: Name must be lowercase alphanumeric with hyphens (1-63 chars)"));
  EXPECT_THAT(load_error("service:\n  name: a..b\n  runtime: node\n  entry: index.js\n  memoryMb: 1\n  timeoutMs: 1\n").message(),
              HasSubstr("service.name invalid: Name contains invalid characters"));
  EXPECT_THAT(load_error("service:\n  name: 123\n  runtime: node\n  entry: index.js\n  memoryMb: 1\n  timeoutMs: 1\n").message(),
              HasSubstr("service.name is required"));
  EXPECT_FALSE(Ignite::validate_name("a"));
  EXPECT_FALSE(Ignite::validate_name(std::string(63, 'a')));
  EXPECT_TRUE(Ignite::validate_name(std::string(64, 'a')));
  EXPECT_TRUE(Ignite::validate_name("-a"));
  EXPECT_TRUE(Ignite::validate_name("a-"));
  EXPECT_EQ(*Ignite::validate_name(""), "Name is required");
}

TEST(Service, RuntimeRules) {
  auto runtime = [](const std::string& rt) {
    return load_error("service:\n  name: x\n  runtime: \"" + rt +
                      "\"\n  entry: index.js\n  memoryMb: 1\n  timeoutMs: 1\n  cpuLimit: -1\n")
        .message();
  };
  EXPECT_THAT(runtime("python"), HasSubstr("service.runtime must be one of: bun, node, deno, quickjs"));
  EXPECT_THAT(runtime("node@99"), HasSubstr("service.runtime must be one of"));
  EXPECT_THAT(runtime("bun@"), HasSubstr("service.runtime must be one of"));
  EXPECT_THAT(runtime("node@20"), ::testing::Not(HasSubstr("service.runtime")));
}

TEST(Service, NumbersMustBeFinitePositiveNumbers) {
  for (const char* bad : {"0", "-5", ".nan", ".inf", "-.inf", "\"128\"", "abc", "true", "null"}) {
    auto e = load_error(std::string("service:\n  name: x\n  runtime: node\n  entry: index.js\n  timeoutMs: 10\n  memoryMb: ") + bad + "\n");
    EXPECT_THAT(e.message(), HasSubstr("service.memoryMb must be a positive number")) << bad;
    auto t = load_error(std::string("service:\n  name: x\n  runtime: node\n  entry: index.js\n  memoryMb: 10\n  timeoutMs: ") + bad + "\n");
    EXPECT_THAT(t.message(), HasSubstr("service.timeoutMs must be a positive number")) << bad;
    auto c = load_error(with(std::string("  cpuLimit: ") + bad));
    EXPECT_THAT(c.message(), HasSubstr("service.cpuLimit must be a positive number")) << bad;
  }
}

TEST(Service, CpuTimeMsIsAnOptionalPositiveNumberOfMilliseconds) {
  TempDir dir;
  write_file(dir.path() / "service.yaml", with("  cpuTimeMs: 250.5"));
  write_file(dir.path() / "index.js", "");
  EXPECT_EQ(Ignite::load_service(dir.path()).config.cpu_time_ms, 250.5);
  write_file(dir.path() / "service.yaml", kValid);
  EXPECT_FALSE(Ignite::load_service(dir.path()).config.cpu_time_ms.has_value());
  for (const char* bad :
       {"0", "-5", ".nan", ".inf", "\"200\"", "abc", "true", "null", "[1]", "1e13"}) {
    const auto e = load_error(with(std::string("  cpuTimeMs: ") + bad));
    EXPECT_EQ(e.code(), ErrorCode::Config) << bad;
    EXPECT_THAT(e.message(),
                HasSubstr("service.cpuTimeMs must be a positive number of milliseconds of CPU "
                          "time, at most 1e12"))
        << bad;
  }
  // Reported with the other problems, each naming its field.
  const auto e = load_error(with("  cpuTimeMs: 0\n  cpuLimit: 0"));
  EXPECT_THAT(e.message(), HasSubstr("service.cpuLimit must be a positive number"));
  EXPECT_THAT(e.message(), HasSubstr("service.cpuTimeMs must be a positive number"));
}

TEST(Service, EntryMustStayInside) {
  for (const char* bad : {"/etc/passwd", "../x.js", "sub/../../x.js", "./..", "."}) {
    auto e = load_error(std::string("service:\n  name: x\n  runtime: node\n  memoryMb: 1\n  timeoutMs: 1\n  entry: \"") + bad + "\"\n");
    EXPECT_THAT(e.message(), HasSubstr("service.entry must be a relative path within the service directory")) << bad;
  }
}

TEST(Service, EntryIsNormalised) {
  TempDir dir;
  write_file(dir.path() / "service.yaml", "service:\n  name: x\n  runtime: node\n  memoryMb: 1\n  timeoutMs: 1\n  entry: ./src/../src//main.js\n");
  write_file(dir.path() / "src/main.js", "");
  EXPECT_EQ(Ignite::load_service(dir.path()).config.entry, "src/main.js");
}

TEST(Service, MissingEntryFile) {
  TempDir dir;
  write_file(dir.path() / "service.yaml", kValid);
  try {
    Ignite::load_service(dir.path());
    FAIL();
  } catch (const Ignite::Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Service);
    EXPECT_THAT(e.message(), HasSubstr("Entry file not found: "));
    EXPECT_THAT(e.message(), HasSubstr("index.js"));
  }
}

TEST(Service, EntrySymlinkOutsideIsRefused) {
  TempDir dir;
  write_file(dir.path() / "service.yaml", kValid);
  fs::create_symlink("/etc/passwd", dir.path() / "index.js");
  try {
    Ignite::load_service(dir.path());
    FAIL();
  } catch (const Ignite::Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Config);
    EXPECT_THAT(e.message(), HasSubstr("resolves outside the service directory"));
  }
}

TEST(Service, EnvRules) {
  EXPECT_THAT(load_error(with("  env:\n    - a\n    - b")).message(), HasSubstr("service.env must be an object"));
  EXPECT_THAT(load_error(with("  env: null")).message(), HasSubstr("service.env must be an object"));
  EXPECT_THAT(load_error(with("  env:\n    PORT: 3000")).message(), HasSubstr("service.env.PORT must be a string"));
  EXPECT_THAT(load_error(with("  env:\n    1BAD: x")).message(), HasSubstr("service.env.1BAD is not a valid environment variable name"));
  EXPECT_THAT(load_error(with("  env:\n    A=B: x")).message(), HasSubstr("is not a valid environment variable name"));
}

// overridableEnv: the variables a server's clients may set (examples/http refuses the rest).
TEST(Service, OverridableEnvRules) {
  TempDir dir;
  write_file(dir.path() / "service.yaml", with("  overridableEnv: [GREETING, LOG_LEVEL]"));
  write_file(dir.path() / "index.js", "");
  const auto svc = Ignite::load_service(dir.path());
  EXPECT_EQ(svc.config.overridable_env, (std::vector<std::string>{"GREETING", "LOG_LEVEL"}));
  EXPECT_EQ(nlohmann::json(svc.config).at("overridableEnv"),
            nlohmann::json::array({"GREETING", "LOG_LEVEL"}));
  EXPECT_TRUE(Ignite::load_service(example_dir(dir, kValid)).config.overridable_env.empty());
  EXPECT_THAT(load_error(with("  overridableEnv: GREETING")).message(),
              HasSubstr("service.overridableEnv must be a list of environment variable names"));
  EXPECT_THAT(load_error(with("  overridableEnv: [OK, 1BAD]")).message(),
              HasSubstr("service.overridableEnv[1] must be an environment variable name"));
  EXPECT_THAT(load_error(with("  overridableEnv: [IGNITE_INPUT]")).message(),
              HasSubstr("service.overridableEnv[0]: IGNITE_INPUT is reserved"));
  EXPECT_THAT(load_error(with("  overridableEnv: [A, A]")).message(),
              HasSubstr("service.overridableEnv[1]: A is listed twice"));
  EXPECT_THAT(load_error(with("  overridableEnv: [[A]]")).message(),
              HasSubstr("service.overridableEnv[0] must be"));
}

TEST(Service, YamlSyntaxErrorHasLineAndColumn) {
  auto e = load_error("service:\n  name: [a\n  runtime: node\n");
  EXPECT_EQ(e.code(), ErrorCode::Config);
  EXPECT_THAT(e.message(), HasSubstr("service.yaml:"));
  EXPECT_THAT(e.message(), HasSubstr("YAML syntax error"));
  EXPECT_THAT(e.message(), ::testing::ContainsRegex(R"(service\.yaml:[0-9]+:[0-9]+: )"));
}

TEST(Service, PreflightRules) {
  EXPECT_THAT(load_error(with("preflight: 3")).message(), HasSubstr("preflight must be an object"));
  EXPECT_THAT(load_error(with("preflight:\n  memory: 3")).message(), HasSubstr("preflight.memory must be an object"));
  EXPECT_THAT(load_error(with("preflight:\n  memory:\n    baseMb: abc")).message(), HasSubstr("preflight.memory.baseMb must be a number"));
  EXPECT_THAT(load_error(with("preflight:\n  memory:\n    baseMb: .inf")).message(), HasSubstr("preflight.memory.baseMb must be a number"));
  EXPECT_THAT(load_error(with("preflight:\n  image:\n    warnMb: -1")).message(), HasSubstr("preflight.image.warnMb must be a positive number"));
  EXPECT_THAT(load_error(with("preflight:\n  image:\n    warnMb: 10\n    failMb: 5")).message(), HasSubstr("preflight.image.warnMb must be less than preflight.image.failMb"));
  EXPECT_THAT(load_error(with("preflight:\n  dependencies:\n    warnCount: 10\n    infoCount: 50")).message(), HasSubstr("preflight.dependencies.infoCount must be less than preflight.dependencies.warnCount"));
  EXPECT_THAT(load_error(with("preflight:\n  timeout:\n    minMs: 10\n    maxMs: 5")).message(), HasSubstr("preflight.timeout.minMs must be less than preflight.timeout.maxMs"));
  EXPECT_THAT(load_error(with("preflight:\n  memory:\n    warnRatio: 0.5\n    failRatio: 0.8")).message(), HasSubstr("preflight.memory.failRatio must be less than preflight.memory.warnRatio"));
}

TEST(Service, DocumentedMemoryRatiosLoad) {
  // The reference's own docs (warnRatio 1 / failRatio 0.8 and 1 / 0.85) were rejected there.
  for (const char* fail : {"0.8", "0.85"}) {
    TempDir dir;
    write_file(dir.path() / "service.yaml", with(std::string("preflight:\n  memory:\n    warnRatio: 1\n    failRatio: ") + fail));
    write_file(dir.path() / "index.js", "");
    const auto svc = Ignite::load_service(dir.path());
    EXPECT_EQ(svc.config.preflight.memory.warn_ratio, 1.0);
  }
}

TEST(Service, CountsDependencies) {
  TempDir dir;
  write_file(dir.path() / "service.yaml", kValid);
  write_file(dir.path() / "index.js", "");
  write_file(dir.path() / "node_modules/a/index.js", "12345");
  write_file(dir.path() / "node_modules/b/package.json", "{}");
  write_file(dir.path() / "node_modules/@scope/c/x.js", "1");
  write_file(dir.path() / "node_modules/@scope/d/x.js", "1");
  write_file(dir.path() / "node_modules/.bin/tool", "1");
  fs::create_directory_symlink(dir.path() / "node_modules/a", dir.path() / "node_modules/linked");
  const auto svc = Ignite::load_service(dir.path());
  EXPECT_TRUE(svc.has_node_modules);
  EXPECT_EQ(svc.dependency_count, 4);
  EXPECT_EQ(svc.node_modules_size, 5u + 2u + 1u + 1u + 1u);
}

TEST(Service, EnvNameRule) {
  EXPECT_TRUE(Ignite::is_valid_env_name("_A1"));
  EXPECT_FALSE(Ignite::is_valid_env_name("1A"));
  EXPECT_FALSE(Ignite::is_valid_env_name(""));
  EXPECT_FALSE(Ignite::is_valid_env_name("A-B"));
}

// Robustness (fuzz/fuzz_service_yaml.cpp): yaml-cpp parses nesting by recursion, so deep nesting
// is refused up front with an error naming the file and position, before the parser runs.
TEST(Service, FuzzDeepNestingIsAConfigErrorNamingTheFile) {
  std::string indented = "service:\n  env:\n";
  for (int i = 0; i < 70; ++i) indented += std::string(4 + 2 * i, ' ') + "k:\n";
  std::string dashes;
  for (int i = 0; i < 100; ++i) dashes += "- ";
  for (const std::string& yaml :
       {"service:\n  env: " + std::string(5000, '[') + "\n", indented, dashes + "x\n"}) {
    const auto e = load_error(yaml);
    EXPECT_EQ(e.code(), ErrorCode::Config);
    EXPECT_THAT(e.message(),
                ::testing::ContainsRegex(
                    R"(/service\.yaml:[0-9]+:[0-9]+: YAML nesting deeper than 64 levels$)"));
  }
  // Brackets in quoted, block and plain scalars and comments are text, not nesting; 64 levels
  // (a top-level map holding 63 nested lists) are fine.
  TempDir dir;
  const std::string many(200, '[');
  const std::string deep = std::string(63, '[') + std::string(63, ']');
  write_file(dir.path() / "service.yaml", std::string(kValid) + "  env:\n    A: \"" + many +
                                              "\"\n    B: '" + many + "'\n    C: x" + many +
                                              "  # " + many + "\n    D: |\n      " + many +
                                              "\n      \"unclosed\nextra: " + deep + "\n");
  write_file(dir.path() / "index.js", "");
  EXPECT_EQ(Ignite::load_service(dir.path()).config.env.at("C"), "x" + many);
}

// Fuzz finding (fuzz/fuzz_lock.cpp, via as_number): a hex or octal number past 64 bits made
// std::stoull throw std::out_of_range out of load_service instead of an Ignite::Error.
TEST(Service, FuzzHexNumberPast64BitsIsAConfigError) {
  for (const char* big : {"0x10000000000000000", "0o7777777777777777777777777"}) {
    auto e = load_error(with(std::string("  cpuLimit: ") + big));
    EXPECT_EQ(e.code(), ErrorCode::Config) << big;
    EXPECT_THAT(e.message(), HasSubstr("service.cpuLimit must be a positive number")) << big;
  }
  // Within range they are numbers, as before.
  TempDir dir;
  write_file(dir.path() / "service.yaml", with("  cpuLimit: 0x2"));
  write_file(dir.path() / "index.js", "");
  EXPECT_EQ(Ignite::load_service(dir.path()).config.cpu_limit, 2.0);
}

// Fuzz finding (fuzz/fuzz_service_yaml.cpp, ASan stack-overflow): numbers were recognised with
// std::regex, which recurses once per character in libstdc++: a 50 KB numeric scalar crashed
// the process. Long scalars are now scanned in constant stack.
TEST(Service, FuzzLongNumericScalarDoesNotOverflowTheStack) {
  const std::string digits(200000, '1');
  EXPECT_THAT(load_error(with("  cpuLimit: " + digits)).message(),
              HasSubstr("service.cpuLimit must be a positive number"));
  EXPECT_THAT(load_error(with("  env:\n    A: " + digits)).message(),
              HasSubstr("service.env.A must be a string"));
  EXPECT_THAT(load_error(with("  env:\n    A: 0." + digits + "e-5")).message(),
              HasSubstr("service.env.A must be a string"));
}

// Fuzz finding (fuzz/fuzz_policy.cpp, UBSan): a policy limit past the range of int, such as
// `pids: 1e10`, was converted from double to int: undefined behaviour.
TEST(Policy, FuzzLimitOutsideIntRangeIsAConfigError) {
  for (const char* value : {"1e10", "2147483648", "1e15"}) {
    TempDir dir;
    write_file(dir.path() / "ignite.policy.yaml",
               std::string("security:\n  limits:\n    pids: ") + value + "\n");
    try {
      Ignite::load_policy(dir.path());
      FAIL() << value;
    } catch (const Ignite::Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::Config);
      EXPECT_THAT(e.message(), HasSubstr("security.limits.pids must be an integer"));
    }
  }
  TempDir dir;
  write_file(dir.path() / "ignite.policy.yaml",
             "security:\n  limits: {pids: 2147483647, outputBytes: 1000000000000}\n");
  const auto p = Ignite::load_policy(dir.path());
  EXPECT_EQ(p.limits.pids, 2147483647);
  EXPECT_EQ(p.limits.output_bytes, 1000000000000u);
}
