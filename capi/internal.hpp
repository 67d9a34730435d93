// File: capi/internal.hpp
//
// What the C entry points (ignite_capi.cpp) share: the handle structs behind ignite.h's opaque
// types, the per-thread last error, `guard` (the one place exceptions stop) and the
// marshalling helpers that turn C arguments into Ignite's C++ types (marshal.cpp).
// Nothing here is visible outside libignite.so.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <new>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <string_view>
#include <type_traits>

#include "capi/include/ignite.h"
#include "ignite/engine.hpp"
#include "ignite/error.hpp"
#include "ignite/json.hpp"

// The handles. Each owns plain C++ values; none refers back to the engine that made it.
struct ignite_engine {
  explicit ignite_engine(Ignite::EngineOptions options) : engine(std::move(options)) {}
  Ignite::Engine engine;
};

struct ignite_service {
  explicit ignite_service(Ignite::Service s) : svc(std::move(s)), path(svc.path.string()) {}
  Ignite::Service svc;
  std::string path;  // svc.path as text, for the borrowed getter
};

struct ignite_result {
  Ignite::ExecutionResult result;
};

struct ignite_preflight {
  Ignite::PreflightResult preflight;
};

struct ignite_report {
  Ignite::ExecutionReport report;
};

struct ignite_cancel_token {
  std::stop_source source;
};

namespace ignite_capi {

// A failure the C layer itself reports with a C status (IGNITE_EINVALID, IGNITE_EUSER).
class CError : public std::runtime_error {
 public:
  CError(ignite_status code, const std::string& message)
      : std::runtime_error(message), code(code) {}
  ignite_status code;
};

ignite_status to_status(Ignite::ErrorCode code) noexcept;

// Records the calling thread's last error ("<a>: <b>", or just `a`) and returns `code`.
ignite_status set_error(ignite_status code, std::string_view a, std::string_view b = {},
                        int http_status = 0) noexcept;

// Runs `f()`, or `f(fn)` when it takes the entry point's name (for messages), and turns
// whatever it throws into a status and the thread's last error; returning is IGNITE_OK.
template <class F>
ignite_status guard(const char* fn, F&& f) noexcept {
  try {
    if constexpr (std::is_invocable_v<F&, const char*>) {
      f(fn);
    } else {
      f();
    }
    return IGNITE_OK;
  } catch (const CError& e) {
    return set_error(e.code, e.what());
  } catch (const Ignite::Error& e) {
    return set_error(to_status(e.code()), e.message(), {}, e.http_status());
  } catch (const std::bad_alloc&) {
    return set_error(IGNITE_EINTERNAL, fn, "out of memory");
  } catch (const std::exception& e) {
    return set_error(IGNITE_EINTERNAL, fn, e.what());
  } catch (...) {
    return set_error(IGNITE_EINTERNAL, fn, "unknown exception");
  }
}

// A NUL-terminated malloc'ed copy for `char **out` (released by ignite_free). Throws bad_alloc.
char* dup_string(std::string_view s);

// Argument checks: a NULL pointer argument is IGNITE_EINVALID "<fn>: <name> is NULL".
struct Arg {
  const volatile void* ptr;
  const char* name;
};
ignite_status check_args(const char* fn, std::initializer_list<Arg> args) noexcept;

// Sets a `T **out` to NULL up front, so a failing call never leaves a stale pointer behind.
template <class T>
void reset_out(T** out) noexcept {
  if (out) *out = nullptr;
}
template <class T>
void reset_out(T*) noexcept {}

// C strings in: UTF-8 (else CError IGNITE_EINVALID naming `fn` and `name`).
std::string utf8_arg(const char* fn, const char* name, const char* text);
// JSON text in: UTF-8 and valid JSON.
std::string json_arg(const char* fn, const char* name, const char* text);

// An options struct's `version` (IGNITE_EINVALID unless 1 <= version <= current).
void check_version(const char* fn, const char* name, unsigned int version, unsigned int current);

// Bytes of ignite_engine_options a caller of `version` has (1 <= version <= current): a
// version 1 struct ends before the pool fields.
std::size_t engine_options_size(unsigned int version) noexcept;
// The bytes of an ignite_execute_options / ignite_preflight_options of `version` (an older
// version's struct is shorter).
std::size_t execute_options_size(unsigned int version) noexcept;
std::size_t preflight_options_size(unsigned int version) noexcept;

// Option structs: NULL means the defaults; an unknown version is IGNITE_EINVALID.
Ignite::EngineOptions engine_options(const char* fn, const ignite_engine_options* opts);
Ignite::PreflightOptions preflight_options(const char* fn, const ignite_preflight_options* opts);
// ignite_preflight_run: options, build-log callback and cancel token (version 2).
Ignite::PreflightResult preflight(const char* fn, Ignite::Engine& engine,
                                  const Ignite::Service& service,
                                  const ignite_preflight_options* opts);
// ignite_engine_prewarm: the execute options that shape the container, the cancel token and
// the build-log callback.
std::size_t prewarm(const char* fn, Ignite::Engine& engine, const Ignite::Service& service,
                    const ignite_execute_options* opts, std::size_t count);

// Fills the fields of out.version (IGNITE_EINVALID for an unknown version).
void pool_stats_out(const char* fn, ignite_pool_stats& out, const Ignite::PoolStats& stats);

// ignite_execute: options, streaming callback, cancel token; IGNITE_EUSER (CError) when the
// callback stopped the run.
ignite_result* execute(const char* fn, Ignite::Engine& engine, const Ignite::Service& service,
                       const ignite_execute_options* opts);

// Runtimes as JSON (the shape documented in ignite.h).
std::string runtimes_json(const Ignite::RuntimeRegistry& registry);
Ignite::Runtime runtime_from_json(const char* fn, const std::string& json_text);

// JSON text of a value with an Ignite::to_json; bytes that are not UTF-8 (a service may print
// anything) become U+FFFD instead of failing.
template <class T>
std::string to_json_text(const T& value) {
  return nlohmann::json(value).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace ignite_capi

// IGNITE_CHECK(out, engine, path): clears the first argument when it is a `T **out`, then
// returns IGNITE_EINVALID naming the first NULL argument.
#define IGNITE_CAPI_ARG_(x) \
  ::ignite_capi::Arg { x, #x }
#define IGNITE_CAPI_FE_1_(m, a) m(a)
#define IGNITE_CAPI_FE_2_(m, a, ...) m(a), IGNITE_CAPI_FE_1_(m, __VA_ARGS__)
#define IGNITE_CAPI_FE_3_(m, a, ...) m(a), IGNITE_CAPI_FE_2_(m, __VA_ARGS__)
#define IGNITE_CAPI_FE_4_(m, a, ...) m(a), IGNITE_CAPI_FE_3_(m, __VA_ARGS__)
#define IGNITE_CAPI_FE_5_(m, a, ...) m(a), IGNITE_CAPI_FE_4_(m, __VA_ARGS__)
#define IGNITE_CAPI_PICK_(_1, _2, _3, _4, _5, n, ...) n
#define IGNITE_CAPI_FOR_EACH_(m, ...)                                                     \
  IGNITE_CAPI_PICK_(__VA_ARGS__, IGNITE_CAPI_FE_5_, IGNITE_CAPI_FE_4_, IGNITE_CAPI_FE_3_, \
                    IGNITE_CAPI_FE_2_, IGNITE_CAPI_FE_1_)                                 \
  (m, __VA_ARGS__)
#define IGNITE_CAPI_FIRST_(a, ...) a
#define IGNITE_CHECK(...)                                                      \
  do {                                                                         \
    ::ignite_capi::reset_out(IGNITE_CAPI_FIRST_(__VA_ARGS__, 0));              \
    if (const ignite_status rc_ = ::ignite_capi::check_args(                   \
            __func__, {IGNITE_CAPI_FOR_EACH_(IGNITE_CAPI_ARG_, __VA_ARGS__)}); \
        rc_ != IGNITE_OK) {                                                    \
      return rc_;                                                              \
    }                                                                          \
  } while (0)
