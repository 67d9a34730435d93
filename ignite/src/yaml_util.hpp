// YAML helpers with JavaScript-YAML typing: yaml-cpp hands back untyped scalars, while the
// service.yaml contract distinguishes numbers, strings and booleans as a YAML 1.2 parser would.
#pragma once

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace Ignite::detail {

// Reads and parses a YAML file. Throws Error(Service) when it cannot be read and Error(Config)
// "<file>:<line>:<col>: YAML syntax error: <msg>" on a parse error.
YAML::Node load_yaml_file(const std::filesystem::path& path);
YAML::Node load_yaml_text(const std::string& text, const std::string& file_label);

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
