// The resident runners (runner.hpp). The scripts' sources are ignite/container/runner-*.js and
// runner-node.cjs (container_files.hpp).
#include "ignite/src/runner.hpp"

#include <nlohmann/json.hpp>

#include "ignite/src/container_files.hpp"

namespace Ignite::detail {

std::span<const AuditScript> runner_scripts() {
  // Built on first use: the contents are defined in another translation unit (audit_scripts()
  // says why that matters).
  static const AuditScript kScripts[] = {
      {"runner-node.cjs", container::runner_node_cjs()},
      {"runner-deno.js", container::runner_deno_js()},
      {"runner-qjs.js", container::runner_qjs_js()},
  };
  return kScripts;
}

std::optional<std::vector<std::string>> runner_argv(const std::vector<std::string>& argv) {
  if (argv.size() < 2) return std::nullopt;
  const std::string_view program = program_of(argv);
  const std::string dir(kAuditDir);
  std::vector<std::string> out = argv;
  if (program == "node") {
    out.insert(out.begin() + 1, {"--require", dir + "/runner-node.cjs"});
  } else if (program == "bun") {
    out.insert(out.begin() + 1, {"--preload", dir + "/runner-node.cjs"});
  } else if (program == "deno") {
    if (argv[1] != "run") return std::nullopt;
    out.insert(out.begin() + 2, {"--preload", dir + "/runner-deno.js"});
  } else if (program == "qjs") {
    if (!has_option(argv, "--std")) return std::nullopt;
    // Ahead of any other include (the audit bootstrap reads stdin after the job header).
    auto at = out.end() - 1;
    for (auto it = out.begin() + 1; it != out.end() - 1; ++it) {
      if (*it == "-I") {
        at = it;
        break;
      }
    }
    out.insert(at, {"-I", dir + "/runner-qjs.js"});
  } else {
    return std::nullopt;
  }
  return out;
}

std::optional<std::vector<std::string>> preboot_options(
    const std::vector<std::string>& argv, const std::map<std::string, std::string>& env) {
  if (!runner_argv(argv)) return std::nullopt;
  const std::string_view program = program_of(argv);
  // Deno boots with DENO_DIR (under /tmp) pointing nowhere; without its emit cache it does not
  // retry writing there (150 ms per TypeScript entry).
  if (program == "deno") {
    return std::vector<std::string>{"--preboot", "--preboot-env=DENO_EMIT_CACHE_MODE=disable"};
  }
  if (program == "node" && !env.contains("NODE_OPTIONS")) {
    return std::vector<std::string>{"--preboot", "--hold-port=9229"};
  }
  return std::nullopt;
}

std::string runner_header(const std::vector<std::pair<std::string, std::string>>& env) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : env) j[k] = v;
  // ensure_ascii: the QuickJS runner turns bytes into characters one to one.
  const std::string body = j.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
  return std::to_string(body.size()) + "\n" + body;
}

std::string supervisor_key_line(const std::string& key) { return "IGNITE-KEY " + key + "\n"; }

}  // namespace Ignite::detail
