// System libraries loaded at their first use instead of at program start.
//
// libcurl and libarchive together pull some forty shared libraries into a process (GnuTLS,
// Kerberos, LDAP, ICU ...): loading and relocating them costs a short-lived process such as the
// CLI about 5 ms before main(), while an execution on a local daemon needs neither (its Engine
// API calls go over socket_http, and the build context, the only tar, is made when an image is
// built). So the library does not link them; it loads them with dlopen() when a libcurl
// transfer (streams, uploads, TCP/TLS, ssh) or a build context first needs them.
#pragma once

#include <string>
#include <string_view>

#include "ignite/error.hpp"

namespace Ignite::detail {

class SharedLibrary {
 public:
  // `soname` as the dynamic linker finds it ("libcurl.so.4"); `package` names the Debian package
  // that ships it, for the error message.
  constexpr SharedLibrary(const char* soname, const char* package) noexcept
      : soname_(soname), package_(package) {}

  // Loads the library if this process has not yet (thread-safe; it stays loaded) and returns
  // `name` from it as a `Fn` (a pointer to function, taken from the library's own header with
  // decltype). Throws Error(code) naming `what` (what needed it), the library, the symbol, the
  // dynamic linker's reason and the package to install.
  template <typename Fn>
  Fn get(const char* name, ErrorCode code, std::string_view what) const {
    return reinterpret_cast<Fn>(symbol(name, code, what));
  }

  // Whether the library is mapped into this process (by us or anyone else), without loading it.
  bool loaded() const noexcept;

  const char* soname() const noexcept { return soname_; }

 private:
  void* symbol(const char* name, ErrorCode code, std::string_view what) const;

  const char* soname_;
  const char* package_;
};

}  // namespace Ignite::detail
