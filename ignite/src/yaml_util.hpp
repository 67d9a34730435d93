// YAML helpers with JavaScript-YAML typing: yaml-cpp hands back untyped scalars, while the
// service.yaml contract distinguishes numbers, strings and booleans as a YAML 1.2 parser would.
#pragma once

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace Ignite::detail {

// Reads and parses a YAML file. Throws Error(Service) when it cannot be read and Error(Config)
// "<file>:<line>:<col>: YAML syntax error: <msg>" on a parse error, or
// "<file>:<line>:<col>: YAML nesting deeper than 64 levels" (see yaml_nesting_problem).
YAML::Node load_yaml_file(const std::filesystem::path& path);
YAML::Node load_yaml_text(const std::string& text, const std::string& file_label);

// Ignite's configuration files are a few levels deep, but yaml-cpp parses nesting by recursion
// up to its own guard at ~500 levels: far more stack than a host thread (a binding's worker, a
// musl or macOS secondary thread) may have, and its guard reports a bare "bad file". So text is
// pre-scanned and refused when a node lies more than kMaxYamlNesting levels below the root
// (flow `[`/`{` plus block indentation, `- ` and `? `; scalars count as a level). The scan is
// linear and skips quoted scalars, comments and block scalars. It may count a level or so
// less than yaml-cpp on some layouts (yaml-cpp's guard still backs it up), and more only for a
// multi-line plain scalar whose continuation lines are indented ever deeper.
inline constexpr int kMaxYamlNesting = 64;
struct YamlNestingProblem {
  int line = 0;  // 1-based position where the limit was passed
  int column = 0;
  std::string message() const;  // "<line>:<col>: YAML nesting deeper than 64 levels"
};
std::optional<YamlNestingProblem> yaml_nesting_problem(std::string_view text);

// Strict UTF-8 (no overlong forms, surrogates or code points past U+10FFFF). YAML text is
// Unicode: yaml-cpp's emitter writes anything else as U+FFFD, so such a string cannot be
// written to a YAML file and read back unchanged.
bool is_valid_utf8(std::string_view s) noexcept;

// A plain (unquoted) scalar that a YAML 1.2 core schema reads as a number, including .inf/.nan.
std::optional<double> as_number(const YAML::Node& node);
// A plain scalar true/false (YAML 1.2 core schema spellings).
std::optional<bool> as_bool(const YAML::Node& node);
// A scalar that is neither a number, a boolean nor null: what JS would call a string.
std::optional<std::string> as_string(const YAML::Node& node);

std::string require_string(const YAML::Node& map, const char* key, const std::string& where);
std::optional<std::string> optional_string(const YAML::Node& map, const char* key,
                                           const std::string& where);
std::vector<std::string> string_list(const YAML::Node& map, const char* key,
                                     const std::string& where);

}  // namespace Ignite::detail
