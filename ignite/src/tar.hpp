// In-memory tar archives (libarchive) for Engine API build contexts. Entries are written with
// fixed owner and mtime, so the same inputs always give the same bytes.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace Ignite::detail {

class TarWriter {
 public:
  TarWriter();
  ~TarWriter();
  TarWriter(const TarWriter&) = delete;
  TarWriter& operator=(const TarWriter&) = delete;

  // Adds a regular file with the given content.
  void add_bytes(const std::string& archive_path, std::string_view content, int mode = 0644);
  // Adds a file from disk (regular files only; symlinks are stored as symlinks, directories
  // as directories). Throws Error(Build) naming the file when it cannot be read.
  void add_path(const std::string& archive_path, const std::filesystem::path& source);
  // Finishes the archive and returns its bytes. The writer is unusable afterwards.
  std::string finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;  // libarchive's C handle lives here
};

}  // namespace Ignite::detail
