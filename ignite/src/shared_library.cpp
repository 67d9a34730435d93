#include "ignite/src/shared_library.hpp"

#include <dlfcn.h>

#include <map>
#include <mutex>

namespace Ignite::detail {
namespace {

// One lock for the handle map and dlerror()'s message. Handles are never closed: unloading
// libcurl under a live transfer, or before its thread-local handles are cleaned up at thread
// exit, would crash.
std::mutex g_mu;
std::map<std::string, void*, std::less<>>& handles() {
  static std::map<std::string, void*, std::less<>> map;
  return map;
}

}  // namespace

bool SharedLibrary::loaded() const noexcept {
  void* handle = ::dlopen(soname_, RTLD_LAZY | RTLD_NOLOAD);
  if (handle == nullptr) return false;
  ::dlclose(handle);  // drops only the reference RTLD_NOLOAD took
  return true;
}

void* SharedLibrary::symbol(const char* name, ErrorCode code, std::string_view what) const {
  std::lock_guard lock(g_mu);
  auto& map = handles();
  auto it = map.find(soname_);
  if (it == map.end()) {
    // RTLD_LOCAL: its symbols stay out of the global scope, so they cannot interpose on another
    // copy of the library the host application may have linked.
    void* handle = ::dlopen(soname_, RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* why = ::dlerror();
      throw Error(code, std::string(what) + ": cannot load " + soname_ + " (" +
                            (why ? why : "unknown reason") + "); install the Debian package " +
                            package_);
    }
    it = map.emplace(soname_, handle).first;
  }
  ::dlerror();
  void* sym = ::dlsym(it->second, name);
  if (sym == nullptr) {
    const char* why = ::dlerror();
    throw Error(code, std::string(what) + ": " + soname_ + " has no " + name + " (" +
                          (why ? why : "null symbol") + "); install the Debian package " +
                          package_);
  }
  return sym;
}

}  // namespace Ignite::detail
