// The files that make up a service directory, as pinned by ignite.lock and shipped in an image
// build context, plus SHA-256 content hashes. Internal: not part of the public API.
//
// Exclusion rules (applied while walking, so an excluded directory is never entered):
//   1. Directories named `node_modules` or `.git`, at any depth.
//   2. Files whose name starts with `.env` (.env, .env.local, ...), at any depth: secrets.
//   3. `ignite.lock` and its temporary files (`.ignite.lock.tmp-*`) in the top directory.
//   4. Whatever the top directory's `.igniteignore` matches. Its syntax is a small subset of
//      .gitignore: one glob per line; blank lines and lines starting with `#` are skipped; a
//      leading `\` escapes a literal `#` or `!`; a trailing `/` matches directories only; a
//      pattern containing another `/` is anchored at the service directory (a leading `/` is
//      dropped), one without matches the name at any depth; `*` and `?` match within one path
//      component, `[abc]`/`[a-z]`/`[!a]` match a character class, `**` matches across
//      directories (`**/x`, `a/**`, `a/**/b`); `!pattern` re-includes what an earlier line
//      excluded (the last matching line wins), but not below an excluded directory.
//   5. Symbolic links to directories are not followed; a symbolic link to a file is listed only
//      when it resolves to a regular file inside the service directory. Other non-regular
//      entries (sockets, fifos, devices) are skipped.
// `.igniteignore` itself is listed like any other file.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace Ignite::detail {

inline constexpr std::string_view kIgnoreFileName = ".igniteignore";

// Parsed .igniteignore rules.
class IgnoreRules {
 public:
  IgnoreRules() = default;
  static IgnoreRules parse(std::string_view text);
  // Reads `<dir>/.igniteignore`; no rules when it does not exist.
  // Throws Error(Service) when it exists but cannot be read.
  static IgnoreRules load(const std::filesystem::path& dir);

  // `rel` is '/'-separated and relative to the service directory.
  bool ignored(std::string_view rel, bool is_dir) const;
  bool empty() const noexcept { return rules_.empty(); }

 private:
  struct Rule {
    std::string pattern;
    bool negate = false;
    bool dir_only = false;
    bool anchored = false;
  };
  std::vector<Rule> rules_;
};

// `pattern` against `text` with the .igniteignore glob syntax ('/' separates components).
bool glob_match(std::string_view pattern, std::string_view text);

// Sorted '/'-separated paths, relative to `dir`, of the files that make up the service, with the
// exclusions above. Throws Error(Service) when a directory cannot be listed.
std::vector<std::string> service_files(const std::filesystem::path& dir);

// Lower-case hex SHA-256 of a file's bytes; nullopt when it cannot be opened or read.
std::optional<std::string> sha256_file(const std::filesystem::path& path);
std::string sha256_hex(std::string_view data);

}  // namespace Ignite::detail
