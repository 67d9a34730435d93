// `ignite init <name> [-p DIR] [-r RUNTIME]`: scaffolds a service that loads and runs as is.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <regex>

#include "examples/cli/cli.hpp"

namespace fs = std::filesystem;

namespace ignite_cli {
namespace {

struct InitArgs {
  std::string name;
  std::optional<std::string> path;
  std::string runtime = "bun";
};

// Which language/runtime API the entry template uses.
enum class Flavor { Node, Bun, Deno, QuickJs };

Flavor flavor_of(const Ignite::Runtime& rt) {
  const std::string cmd = fs::path(rt.command.front()).filename().string();
  for (const std::string& n : {rt.name, cmd}) {
    if (n == "bun") return Flavor::Bun;
    if (n == "deno") return Flavor::Deno;
    if (n == "quickjs" || n == "qjs") return Flavor::QuickJs;
  }
  return Flavor::Node;
}

// The input is the JSON on stdin (Ignite delivers it there); IGNITE_INPUT is the fallback when
// stdin is a terminal (running the file by hand) and carries the same text for small inputs.
constexpr const char* kNodeTemplate =
    R"JS(// Ignite service (Node.js). Reads the input JSON from stdin (IGNITE_INPUT when run from a
// terminal), logs it and prints a JSON result.
function readInput() {
  return new Promise((resolve, reject) => {
    if (process.stdin.isTTY) return resolve(process.env.IGNITE_INPUT || "");
    const chunks = [];
    process.stdin.on("data", (chunk) => chunks.push(chunk));
    process.stdin.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    process.stdin.on("error", reject);
  });
}

async function handler(input) {
  return {
    statusCode: 200,
    body: { message: "Hello from Ignite!", input },
  };
}

readInput()
  .then((text) => {
    const raw = text.trim() || (process.env.IGNITE_INPUT || "").trim();
    const input = raw ? JSON.parse(raw) : {};
    console.log("Received event:", JSON.stringify(input));
    return handler(input);
  })
  .then((result) => {
    console.log(JSON.stringify(result, null, 2));
  })
  .catch((err) => {
    console.error("Error:", err && err.message ? err.message : err);
    process.exit(1);
  });
)JS";

constexpr const char* kBunTemplate =
    R"TS(// Ignite service (Bun, TypeScript). Reads the input JSON from stdin (IGNITE_INPUT when run
// from a terminal), logs it and prints a JSON result.
type Input = Record<string, unknown>;

interface Result {
  statusCode: number;
  body: { message: string; input: Input };
}

async function readInput(): Promise<Input> {
  const text = process.stdin.isTTY ? "" : (await Bun.stdin.text()).trim();
  const raw = text || (process.env.IGNITE_INPUT ?? "").trim();
  return raw ? (JSON.parse(raw) as Input) : {};
}

async function handler(input: Input): Promise<Result> {
  return {
    statusCode: 200,
    body: { message: "Hello from Ignite!", input },
  };
}

try {
  const input = await readInput();
  console.log("Received event:", JSON.stringify(input));
  const result = await handler(input);
  console.log(JSON.stringify(result, null, 2));
} catch (err) {
  console.error("Error:", err instanceof Error ? err.message : err);
  process.exit(1);
}
)TS";

constexpr const char* kDenoTemplate =
    R"TS(// Ignite service (Deno, TypeScript). Reads the input JSON from stdin (IGNITE_INPUT when run
// from a terminal), logs it and prints a JSON result.
type Input = Record<string, unknown>;

interface Result {
  statusCode: number;
  body: { message: string; input: Input };
}

async function readInput(): Promise<Input> {
  const text = Deno.stdin.isTerminal()
    ? ""
    : (await new Response(Deno.stdin.readable).text()).trim();
  const raw = text || (Deno.env.get("IGNITE_INPUT") ?? "").trim();
  return raw ? (JSON.parse(raw) as Input) : {};
}

async function handler(input: Input): Promise<Result> {
  return {
    statusCode: 200,
    body: { message: "Hello from Ignite!", input },
  };
}

try {
  const input = await readInput();
  console.log("Received event:", JSON.stringify(input));
  const result = await handler(input);
  console.log(JSON.stringify(result, null, 2));
} catch (err) {
  console.error("Error:", err instanceof Error ? err.message : err);
  Deno.exit(1);
}
)TS";

// QuickJS runs the file as a script with `qjs --std`: `std` and `os` are globals and there is
// no `process`, so the input comes from std.in / std.getenv.
constexpr const char* kQuickJsTemplate =
    R"JS(// Ignite service (QuickJS, run as `qjs --std`: `std` and `os` are globals, there is no
// `process`). Reads the input JSON from stdin (IGNITE_INPUT when run from a terminal), logs it
// and prints a JSON result.
function readInput() {
  const text = os.isatty(0) ? "" : std.in.readAsString().trim();
  const raw = text || (std.getenv("IGNITE_INPUT") || "").trim();
  return raw ? JSON.parse(raw) : {};
}

function handler(input) {
  return {
    statusCode: 200,
    body: { message: "Hello from Ignite!", input },
  };
}

try {
  const input = readInput();
  console.log("Received event:", JSON.stringify(input));
  const result = handler(input);
  console.log(JSON.stringify(result, null, 2));
} catch (err) {
  std.err.puts("Error: " + (err && err.message ? err.message : err) + "\n");
  std.exit(1);
}
)JS";

const char* entry_template(Flavor f) {
  switch (f) {
    case Flavor::Bun:
      return kBunTemplate;
    case Flavor::Deno:
      return kDenoTemplate;
    case Flavor::QuickJs:
      return kQuickJsTemplate;
    case Flavor::Node:
      break;
  }
  return kNodeTemplate;
}

std::string start_script(Flavor f, const Ignite::Runtime& rt, const std::string& entry) {
  switch (f) {
    case Flavor::Bun:
      return "bun run " + entry;
    case Flavor::Deno:
      return "deno run --allow-env " + entry;
    case Flavor::QuickJs:
      return "qjs --std " + entry;
    case Flavor::Node:
      break;
  }
  std::string cmd;
  for (const auto& part : rt.command) cmd += part + " ";
  return cmd + entry;
}

// A YAML scalar for `s`: plain when that reads back as the same string, else double-quoted
// (JSON string syntax is valid YAML).
std::string yaml_scalar(const std::string& s) {
  static const std::regex kPlain("^[A-Za-z][A-Za-z0-9._@/-]*$");
  static const std::regex kReserved("^(true|false|yes|no|on|off|null|y|n)$", std::regex::icase);
  if (std::regex_match(s, kPlain) && !std::regex_match(s, kReserved)) return s;
  return nlohmann::json(s).dump();
}

struct InitFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Creates every file exclusively (O_EXCL: an existing file or symlink is never followed or
// replaced); on any failure the files created by this call are removed again.
void create_files(const std::vector<std::pair<fs::path, std::string>>& files) {
  std::error_code ec;
  for (const auto& [path, content] : files) {
    if (fs::exists(fs::symlink_status(path, ec))) {
      throw InitFailure("Refusing to overwrite existing file: " + path.string());
    }
  }
  std::vector<fs::path> created;
  auto rollback = [&] {
    for (const auto& p : created) fs::remove(p, ec);
  };
  for (const auto& [path, content] : files) {
    fs::create_directories(path.parent_path(), ec);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
      const int err = errno;
      rollback();
      if (err == EEXIST) throw InitFailure("Refusing to overwrite existing file: " + path.string());
      throw InitFailure("cannot create " + path.string() + ": " + std::strerror(err));
    }
    created.push_back(path);
    std::size_t done = 0;
    while (done < content.size()) {
      const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        const int err = errno;
        ::close(fd);
        rollback();
        throw InitFailure("cannot write " + path.string() + ": " + std::strerror(err));
      }
      done += static_cast<std::size_t>(n);
    }
    if (::close(fd) != 0) {
      const int err = errno;
      rollback();
      throw InitFailure("cannot write " + path.string() + ": " + std::strerror(err));
    }
  }
}

int run_init(Ignite::Engine& engine, const InitArgs& a) {
  if (auto problem = Ignite::validate_name(a.name)) {
    return fail(kExitUsage, "invalid_argument",
                "Invalid service name \"" + a.name + "\": " + *problem);
  }
  const Ignite::RuntimeRegistry registry = engine.runtimes();
  if (!registry.is_valid(a.runtime)) {
    return fail(kExitUsage, "invalid_argument",
                "Invalid runtime: " + a.runtime +
                    ". Use a valid runtime like 'bun', 'node', 'deno', or 'quickjs'.");
  }
  const Ignite::Runtime& rt = *registry.find(Ignite::RuntimeSpec::parse(a.runtime).name);
  const Flavor flavor = flavor_of(rt);
  const std::string entry = rt.default_entry;
  const std::string target_arg = a.path.value_or(a.name);
  const fs::path target = resolve_path(target_arg);

  const std::string yaml =
      "service:\n"
      "  name: " +
      a.name +
      "\n"
      "  runtime: " +
      yaml_scalar(a.runtime) +
      "\n"
      "  entry: " +
      yaml_scalar(entry) +
      "\n"
      "  memoryMb: 128\n"
      "  timeoutMs: 5000\n"
      "  env:\n"
      "    NODE_ENV: production\n";
  nlohmann::ordered_json pkg;
  pkg["name"] = a.name;
  pkg["version"] = "1.0.0";
  pkg["type"] = "module";
  pkg["main"] = entry;
  pkg["scripts"]["start"] = start_script(flavor, rt, entry);
  pkg["scripts"]["preflight"] = "ignite preflight .";
  pkg["scripts"]["run"] = "ignite run .";

  try {
    fs::create_directories(target);
    create_files({{target / "service.yaml", yaml},
                  {target / "package.json", pkg.dump(2) + "\n"},
                  {target / entry, entry_template(flavor)}});
  } catch (const std::exception& e) {
    const std::string what = e.what();
    // Refusing to overwrite is the command's own check; anything else is a failure to write.
    const bool refused = what.rfind("Refusing to overwrite", 0) == 0;
    return fail(refused ? kExitCheckFailed : kExitFailure, refused ? "exists" : "io",
                "Failed to initialize service: " + what);
  }

  success("Initialized " + a.runtime + " service \"" + a.name + "\" at " + target.string());
  info("Next steps:");
  info("  1. cd " + target_arg);
  info("  2. Edit " + entry + " with your function logic");
  info("  3. Run: ignite preflight .");
  info("  4. Run: ignite run .");
  return 0;
}

}  // namespace

Command add_init(CLI::App& app) {
  auto a = std::make_shared<InitArgs>();
  CLI::App* cmd = app.add_subcommand("init", "Create a new service directory");
  cmd->add_option("name", a->name, "Service name (lowercase a-z, 0-9, '-'; 1-63 chars)")
      ->required();
  cmd->add_option("-p,--path", a->path, "Target directory (default: ./<name>)");
  cmd->add_option("-r,--runtime", a->runtime, "Runtime spec, e.g. bun, node@22, deno, quickjs")
      ->capture_default_str();
  return {cmd, [a](Ignite::Engine& engine) { return run_init(engine, *a); }};
}

}  // namespace ignite_cli
