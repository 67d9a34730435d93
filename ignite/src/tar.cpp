#include "ignite/src/tar.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <type_traits>
#include <vector>

#include "ignite/error.hpp"
#include "ignite/src/shared_library.hpp"

namespace fs = std::filesystem;

namespace Ignite::detail {
namespace {

struct ArchiveApi {
  decltype(&::archive_entry_new) entry_new;
  decltype(&::archive_entry_free) entry_free;
  decltype(&::archive_entry_set_filetype) entry_set_filetype;
  decltype(&::archive_entry_set_gid) entry_set_gid;
  decltype(&::archive_entry_set_mtime) entry_set_mtime;
  decltype(&::archive_entry_set_pathname) entry_set_pathname;
  decltype(&::archive_entry_set_perm) entry_set_perm;
  decltype(&::archive_entry_set_size) entry_set_size;
  decltype(&::archive_entry_set_symlink) entry_set_symlink;
  decltype(&::archive_entry_set_uid) entry_set_uid;
  decltype(&::archive_error_string) error_string;
  decltype(&::archive_write_close) write_close;
  decltype(&::archive_write_data) write_data;
  decltype(&::archive_write_free) write_free;
  decltype(&::archive_write_header) write_header;
  decltype(&::archive_write_new) write_new;
  decltype(&::archive_write_open) write_open;
  decltype(&::archive_write_set_bytes_in_last_block) write_set_bytes_in_last_block;
  decltype(&::archive_write_set_format_pax_restricted) write_set_format_pax_restricted;
};

// libarchive is loaded when the first build context is made (shared_library.hpp says why).
constexpr SharedLibrary kLibarchive("libarchive.so.13", "libarchive13");

const ArchiveApi& archive_api() {
  static const ArchiveApi api = [] {
    ArchiveApi a{};
    const auto bind = [](auto& fn, const char* name) {
      fn = kLibarchive.get<std::remove_reference_t<decltype(fn)>>(name, ErrorCode::Build,
                                                                     "build context");
    };
    bind(a.entry_new, "archive_entry_new");
    bind(a.entry_free, "archive_entry_free");
    bind(a.entry_set_filetype, "archive_entry_set_filetype");
    bind(a.entry_set_gid, "archive_entry_set_gid");
    bind(a.entry_set_mtime, "archive_entry_set_mtime");
    bind(a.entry_set_pathname, "archive_entry_set_pathname");
    bind(a.entry_set_perm, "archive_entry_set_perm");
    bind(a.entry_set_size, "archive_entry_set_size");
    bind(a.entry_set_symlink, "archive_entry_set_symlink");
    bind(a.entry_set_uid, "archive_entry_set_uid");
    bind(a.error_string, "archive_error_string");
    bind(a.write_close, "archive_write_close");
    bind(a.write_data, "archive_write_data");
    bind(a.write_free, "archive_write_free");
    bind(a.write_header, "archive_write_header");
    bind(a.write_new, "archive_write_new");
    bind(a.write_open, "archive_write_open");
    bind(a.write_set_bytes_in_last_block, "archive_write_set_bytes_in_last_block");
    bind(a.write_set_format_pax_restricted, "archive_write_set_format_pax_restricted");
    return a;
  }();
  return api;
}

}  // namespace

struct TarWriter::Impl {
  std::unique_ptr<archive, decltype(&::archive_write_free)> ar{archive_api().write_new(),
                                                        archive_api().write_free};
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
                                      (archive_api().error_string(ar.get()) ? archive_api().error_string(ar.get()) : "libarchive error"));
  }

  void header(const std::string& path, mode_t type, mode_t perm, la_int64_t size,
              const std::string& link = {}) {
    std::unique_ptr<archive_entry, decltype(&::archive_entry_free)> e(archive_api().entry_new(),
                                                                      archive_api().entry_free);
    archive_api().entry_set_pathname(e.get(), path.c_str());
    archive_api().entry_set_filetype(e.get(), type);
    archive_api().entry_set_perm(e.get(), perm);
    archive_api().entry_set_size(e.get(), size);
    archive_api().entry_set_uid(e.get(), 0);
    archive_api().entry_set_gid(e.get(), 0);
    archive_api().entry_set_mtime(e.get(), 0, 0);
    if (!link.empty()) archive_api().entry_set_symlink(e.get(), link.c_str());
    if (archive_api().write_header(ar.get(), e.get()) != ARCHIVE_OK) fail(path);
  }
};

TarWriter::TarWriter() : impl_(std::make_unique<Impl>()) {
  archive_api().write_set_format_pax_restricted(impl_->ar.get());
  archive_api().write_set_bytes_in_last_block(impl_->ar.get(), 1);
  if (archive_api().write_open(impl_->ar.get(), impl_.get(), &Impl::open_cb, &Impl::write_cb, &Impl::close_cb) !=
      ARCHIVE_OK) {
    impl_->fail("open");
  }
}

TarWriter::~TarWriter() = default;

void TarWriter::add_bytes(const std::string& path, std::string_view content, int mode) {
  impl_->header(path, AE_IFREG, static_cast<mode_t>(mode), static_cast<la_int64_t>(content.size()));
  if (!content.empty() &&
      archive_api().write_data(impl_->ar.get(), content.data(), content.size()) < 0) {
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
    if (n > 0 && archive_api().write_data(impl_->ar.get(), buf.data(), static_cast<size_t>(n)) < 0) {
      impl_->fail(path);
    }
  }
}

std::string TarWriter::finish() {
  if (!impl_->finished) {
    if (archive_api().write_close(impl_->ar.get()) != ARCHIVE_OK) impl_->fail("close");
    impl_->finished = true;
  }
  return std::move(impl_->out);
}

}  // namespace Ignite::detail
