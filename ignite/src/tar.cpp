#include "ignite/src/tar.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <vector>

#include "ignite/error.hpp"

namespace fs = std::filesystem;

namespace Ignite::detail {

struct TarWriter::Impl {
  std::unique_ptr<archive, decltype(&archive_write_free)> ar{archive_write_new(), &archive_write_free};
  std::string out;
  bool finished = false;

  static la_ssize_t write_cb(archive*, void* self, const void* buf, size_t n) {
    static_cast<Impl*>(self)->out.append(static_cast<const char*>(buf), n);
    return static_cast<la_ssize_t>(n);
  }
  static int open_cb(archive*, void*) { return ARCHIVE_OK; }
  static int close_cb(archive*, void*) { return ARCHIVE_OK; }

  [[noreturn]] void fail(const std::string& what) {
    throw Error(ErrorCode::Build, "build context: " + what + ": " +
                                      (archive_error_string(ar.get()) ? archive_error_string(ar.get()) : "libarchive error"));
  }

  void header(const std::string& path, mode_t type, mode_t perm, la_int64_t size,
              const std::string& link = {}) {
    std::unique_ptr<archive_entry, decltype(&archive_entry_free)> e(archive_entry_new(),
                                                                    &archive_entry_free);
    archive_entry_set_pathname(e.get(), path.c_str());
    archive_entry_set_filetype(e.get(), type);
    archive_entry_set_perm(e.get(), perm);
    archive_entry_set_size(e.get(), size);
    archive_entry_set_uid(e.get(), 0);
    archive_entry_set_gid(e.get(), 0);
    archive_entry_set_mtime(e.get(), 0, 0);
    if (!link.empty()) archive_entry_set_symlink(e.get(), link.c_str());
    if (archive_write_header(ar.get(), e.get()) != ARCHIVE_OK) fail(path);
  }
};

TarWriter::TarWriter() : impl_(std::make_unique<Impl>()) {
  archive_write_set_format_pax_restricted(impl_->ar.get());
  archive_write_set_bytes_in_last_block(impl_->ar.get(), 1);
  if (archive_write_open(impl_->ar.get(), impl_.get(), &Impl::open_cb, &Impl::write_cb, &Impl::close_cb) !=
      ARCHIVE_OK) {
    impl_->fail("open");
  }
}

TarWriter::~TarWriter() = default;

void TarWriter::add_bytes(const std::string& path, std::string_view content, int mode) {
  impl_->header(path, AE_IFREG, static_cast<mode_t>(mode), static_cast<la_int64_t>(content.size()));
  if (!content.empty() &&
      archive_write_data(impl_->ar.get(), content.data(), content.size()) < 0) {
    impl_->fail(path);
  }
}

void TarWriter::add_path(const std::string& path, const fs::path& source) {
  std::error_code ec;
  const auto st = fs::symlink_status(source, ec);
  if (ec) throw Error(ErrorCode::Build, "build context: cannot stat " + source.string());
  if (fs::is_symlink(st)) {
    impl_->header(path, AE_IFLNK, 0777, 0, fs::read_symlink(source, ec).string());
    return;
  }
  if (fs::is_directory(st)) {
    impl_->header(path, AE_IFDIR, 0755, 0);
    return;
  }
  if (!fs::is_regular_file(st)) return;  // sockets, fifos and devices have no place in an image
  std::ifstream in(source, std::ios::binary);
  if (!in) throw Error(ErrorCode::Build, "build context: cannot read " + source.string());
  const auto size = fs::file_size(source, ec);
  const bool exec = (st.permissions() & fs::perms::owner_exec) != fs::perms::none;
  impl_->header(path, AE_IFREG, exec ? 0755 : 0644, static_cast<la_int64_t>(size));
  std::vector<char> buf(1 << 16);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto n = in.gcount();
    if (n > 0 && archive_write_data(impl_->ar.get(), buf.data(), static_cast<size_t>(n)) < 0) {
      impl_->fail(path);
    }
  }
}

std::string TarWriter::finish() {
  if (!impl_->finished) {
    if (archive_write_close(impl_->ar.get()) != ARCHIVE_OK) impl_->fail("close");
    impl_->finished = true;
  }
  return std::move(impl_->out);
}

}  // namespace Ignite::detail
