// `ignite list [--json]`: the runtime registry as a table.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "examples/cli/cli.hpp"

namespace ignite_cli {
namespace {

struct ListArgs {
  bool json = false;
};

}  // namespace

nlohmann::json runtimes_json(const Ignite::RuntimeRegistry& registry) {
  nlohmann::json out = nlohmann::json::array();
  for (const Ignite::Runtime& rt : registry.all()) {
    nlohmann::json versions = nlohmann::json::array();
    for (const auto& v : rt.versions)
      versions.push_back({{"version", v.version}, {"image", v.image}});
    out.push_back({{"name", rt.name},
                   {"versions", versions},
                   {"defaultVersion", rt.default_version},
                   {"defaultEntry", rt.default_entry},
                   {"fileExtensions", rt.file_extensions},
                   {"command", rt.command}});
  }
  return out;
}

namespace {

int run_list(Ignite::Engine& engine, const ListArgs& a) {
  const Ignite::RuntimeRegistry registry = engine.runtimes();
  if (a.json) {
    const nlohmann::json out = runtimes_json(registry);
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::vector<std::array<std::string, 4>> rows = {{"RUNTIME", "VERSIONS", "DEFAULT", "IMAGE"}};
  for (const Ignite::Runtime& rt : registry.all()) {
    std::string versions, image;
    for (const auto& v : rt.versions) {
      versions += (versions.empty() ? "" : ", ") + v.version;
      if (v.version == rt.default_version) image = v.image;
    }
    rows.push_back({rt.name, versions, rt.default_version, image});
  }
  std::array<std::size_t, 4> width{};
  for (const auto& r : rows) {
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    std::cout << line << "\n";
  }
  return 0;
}

}  // namespace

Command add_list(CLI::App& app) {
  auto a = std::make_shared<ListArgs>();
  CLI::App* cmd = app.add_subcommand("list", "List the available runtimes");
  cmd->add_flag("--json", a->json, "Print the registry as JSON");
  return {cmd, [a](Ignite::Engine& engine) { return run_list(engine, *a); }};
}

}  // namespace ignite_cli
