#include "ignite/src/docker/curl_api.hpp"

#include <string>

#include "ignite/error.hpp"
#include "ignite/src/shared_library.hpp"

namespace Ignite::docker {
namespace {

constexpr detail::SharedLibrary kLibcurl("libcurl.so.4", "libcurl4");
constexpr std::string_view kWhat = "talking to the Docker daemon through libcurl";

template <typename Fn>
void bind(Fn& fn, const char* name) {
  fn = kLibcurl.get<Fn>(name, ErrorCode::DockerUnavailable, kWhat);
}

CurlApi load() {
  CurlApi api{};
  bind(api.easy_init, "curl_easy_init");
  bind(api.easy_cleanup, "curl_easy_cleanup");
  bind(api.easy_reset, "curl_easy_reset");
  bind(api.easy_setopt, "curl_easy_setopt");
  bind(api.easy_getinfo, "curl_easy_getinfo");
  bind(api.easy_strerror, "curl_easy_strerror");
  bind(api.multi_init, "curl_multi_init");
  bind(api.multi_cleanup, "curl_multi_cleanup");
  bind(api.multi_add_handle, "curl_multi_add_handle");
  bind(api.multi_remove_handle, "curl_multi_remove_handle");
  bind(api.multi_perform, "curl_multi_perform");
  bind(api.multi_poll, "curl_multi_poll");
  bind(api.multi_info_read, "curl_multi_info_read");
  bind(api.multi_wakeup, "curl_multi_wakeup");
  bind(api.multi_strerror, "curl_multi_strerror");
  bind(api.slist_append, "curl_slist_append");
  bind(api.slist_free_all, "curl_slist_free_all");
  decltype(&::curl_global_init) global_init = nullptr;
  bind(global_init, "curl_global_init");
  if (const CURLcode rc = global_init(CURL_GLOBAL_DEFAULT); rc != CURLE_OK) {
    throw Error(ErrorCode::DockerUnavailable,
                std::string(kWhat) + ": curl_global_init failed: " + api.easy_strerror(rc));
  }
  return api;
}

}  // namespace

const CurlApi& curl_api() {
  // A static initialised by a call that throws is initialised again by the next call.
  static const CurlApi api = load();
  return api;
}

}  // namespace Ignite::docker
