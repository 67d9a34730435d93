// The C API entry points (capi/include/ignite.h). Each one checks its arguments, then makes
// one call into Ignite::Engine inside `guard`, which stops every exception at this boundary.
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <memory>
#include <optional>
#include <utility>

#include "capi/internal.hpp"
#include "ignite/lock.hpp"
#include "ignite/report.hpp"
#include "ignite/version.hpp"

using Ignite::CheckStatus;
using Ignite::ContainerStart;
using Ignite::ErrorCode;
using Ignite::Outcome;

static_assert(IGNITE_C_VERSION_MAJOR == IGNITE_VERSION_MAJOR &&
                  IGNITE_C_VERSION_MINOR == IGNITE_VERSION_MINOR &&
                  IGNITE_C_VERSION_PATCH == IGNITE_VERSION_PATCH &&
                  IGNITE_C_VERSION_NUMBER == IGNITE_VERSION_NUMBER,
              "ignite.h and ignite/version.hpp disagree on the version");

namespace ignite_capi {
namespace {

// The C values are fixed (ignite.h): a new ErrorCode gets a new value, appended, and nothing
// renumbers. The switch has no default, so -Wswitch (an error here) names a code without one.
constexpr ignite_status status_of(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::Config:
      return IGNITE_ECONFIG;
    case ErrorCode::Service:
      return IGNITE_ESERVICE;
    case ErrorCode::Runtime:
      return IGNITE_ERUNTIME;
    case ErrorCode::Build:
      return IGNITE_EBUILD;
    case ErrorCode::DockerUnavailable:
      return IGNITE_EDOCKER_UNAVAILABLE;
    case ErrorCode::Docker:
      return IGNITE_EDOCKER;
    case ErrorCode::Execution:
      return IGNITE_EEXECUTION;
    case ErrorCode::Preflight:
      return IGNITE_EPREFLIGHT;
    case ErrorCode::Lock:
      return IGNITE_ELOCK;
    case ErrorCode::NotFound:
      return IGNITE_ENOTFOUND;
    case ErrorCode::InvalidArgument:
      return IGNITE_EINVALID;
    case ErrorCode::Cancelled:
      return IGNITE_ECANCELLED;
    case ErrorCode::Internal:
      return IGNITE_EINTERNAL;
  }
  return IGNITE_EINTERNAL;
}
// The published values; changing one breaks every caller that stored or switched on it.
static_assert(IGNITE_OK == 0 && IGNITE_ECONFIG == -1 && IGNITE_ESERVICE == -2 &&
                  IGNITE_ERUNTIME == -3 && IGNITE_EBUILD == -4 &&
                  IGNITE_EDOCKER_UNAVAILABLE == -5 && IGNITE_EDOCKER == -6 &&
                  IGNITE_EEXECUTION == -7 && IGNITE_EPREFLIGHT == -8 && IGNITE_ELOCK == -9 &&
                  IGNITE_ENOTFOUND == -10 && IGNITE_EINVALID == -11 && IGNITE_ECANCELLED == -12 &&
                  IGNITE_EINTERNAL == -13 && IGNITE_EUSER == -100,
              "ignite.h's error codes are fixed values: append new ones, never renumber");

constexpr std::pair<Outcome, ignite_outcome> kOutcomes[] = {
    {Outcome::Success, IGNITE_OUTCOME_SUCCESS},
    {Outcome::Error, IGNITE_OUTCOME_ERROR},
    {Outcome::Timeout, IGNITE_OUTCOME_TIMEOUT},
    {Outcome::MemoryLimit, IGNITE_OUTCOME_MEMORY_LIMIT},
    {Outcome::OutputLimit, IGNITE_OUTCOME_OUTPUT_LIMIT},
    {Outcome::Cancelled, IGNITE_OUTCOME_CANCELLED},
    {Outcome::CpuLimit, IGNITE_OUTCOME_CPU_LIMIT},
};
constexpr std::pair<CheckStatus, ignite_check_status> kChecks[] = {
    {CheckStatus::Pass, IGNITE_CHECK_PASS},
    {CheckStatus::Warn, IGNITE_CHECK_WARN},
    {CheckStatus::Fail, IGNITE_CHECK_FAIL},
};
constexpr std::pair<ContainerStart, ignite_container_start> kStarts[] = {
    {ContainerStart::Cold, IGNITE_CONTAINER_START_COLD},
    {ContainerStart::Warm, IGNITE_CONTAINER_START_WARM},
    {ContainerStart::Reused, IGNITE_CONTAINER_START_REUSED},
};
template <class Table>
constexpr bool identity_table_ok(const Table &table) {
  for (std::size_t i = 0; i < std::size(table); ++i) {
    if (static_cast<std::size_t>(table[i].first) != i) return false;
    if (static_cast<std::size_t>(table[i].second) != i) return false;
  }
  return true;
}
static_assert(std::size(kOutcomes) == static_cast<std::size_t>(Outcome::CpuLimit) + 1 &&
                  identity_table_ok(kOutcomes),
              "ignite_outcome must mirror Ignite::Outcome");
static_assert(std::size(kChecks) == static_cast<std::size_t>(CheckStatus::Fail) + 1 &&
                  identity_table_ok(kChecks),
              "ignite_check_status must mirror Ignite::CheckStatus");
static_assert(std::size(kStarts) == static_cast<std::size_t>(ContainerStart::Reused) + 1 &&
                  identity_table_ok(kStarts),
              "ignite_container_start must mirror Ignite::ContainerStart");

struct LastError {
  std::string text;
  ignite_error error{IGNITE_OK, "no error", 0};
};
thread_local LastError t_last;

ignite_outcome to_c(Outcome o) noexcept { return kOutcomes[static_cast<std::size_t>(o)].second; }
ignite_check_status to_c(CheckStatus s) noexcept {
  return kChecks[static_cast<std::size_t>(s)].second;
}
ignite_container_start to_c(ContainerStart s) noexcept {
  return kStarts[static_cast<std::size_t>(s)].second;
}

}  // namespace

ignite_status to_status(ErrorCode code) noexcept { return status_of(code); }

ignite_status set_error(ignite_status code, std::string_view a, std::string_view b,
                        int http_status) noexcept {
  try {
    t_last.text.assign(a);
    if (!b.empty()) t_last.text.append(": ").append(b);
    t_last.error = {code, t_last.text.c_str(), http_status};
  } catch (...) {
    t_last.error = {code, "out of memory while recording an error", http_status};
  }
  return code;
}

char *dup_string(std::string_view s) {
  auto *p = static_cast<char *>(std::malloc(s.size() + 1));
  if (!p) throw std::bad_alloc();
  std::memcpy(p, s.data(), s.size());
  p[s.size()] = '\0';
  return p;
}

ignite_status check_args(const char *fn, std::initializer_list<Arg> args) noexcept {
  for (const Arg &a : args) {
    if (a.ptr) continue;
    try {
      return set_error(IGNITE_EINVALID, fn, std::string(a.name) + " is NULL");
    } catch (...) {
      return set_error(IGNITE_EINVALID, fn, a.name);
    }
  }
  return IGNITE_OK;
}

}  // namespace ignite_capi

using namespace ignite_capi;

// --- Version, errors, memory ---------------------------------------------------------------

IGNITE_EXTERN(const char *) ignite_version(void) { return Ignite::version().data(); }

IGNITE_EXTERN(int) ignite_version_number(void) { return IGNITE_VERSION_NUMBER; }

IGNITE_EXTERN(const ignite_error *) ignite_error_last(void) { return &t_last.error; }

IGNITE_EXTERN(void) ignite_error_clear(void) { t_last.error = {IGNITE_OK, "no error", 0}; }

IGNITE_EXTERN(const char *) ignite_error_str(ignite_status code) {
  switch (code) {
    case IGNITE_OK:
      return "no error";
    case IGNITE_ECONFIG:
      return "invalid configuration";
    case IGNITE_ESERVICE:
      return "service directory or entry file unreadable";
    case IGNITE_ERUNTIME:
      return "unknown runtime or missing runtime image";
    case IGNITE_EBUILD:
      return "image build failed";
    case IGNITE_EDOCKER_UNAVAILABLE:
      return "Docker daemon unavailable";
    case IGNITE_EDOCKER:
      return "Docker daemon error";
    case IGNITE_EEXECUTION:
      return "container could not be run";
    case IGNITE_EPREFLIGHT:
      return "preflight failed";
    case IGNITE_ELOCK:
      return "ignite.lock error";
    case IGNITE_ENOTFOUND:
      return "not found";
    case IGNITE_EINVALID:
      return "invalid argument";
    case IGNITE_ECANCELLED:
      return "cancelled";
    case IGNITE_EINTERNAL:
      return "internal error";
    case IGNITE_EUSER:
      return "stopped by a callback";
    default:
      return "unknown error code";
  }
}

IGNITE_EXTERN(void) ignite_free(void *ptr) { std::free(ptr); }

// --- Engine ---------------------------------------------------------------------------------

IGNITE_EXTERN(ignite_status)
ignite_engine_options_init(ignite_engine_options *opts, unsigned int version) {
  IGNITE_CHECK(opts);
  return guard(__func__, [&](const char *fn) {
    check_version(fn, "version", version, IGNITE_ENGINE_OPTIONS_VERSION);
    // A caller of an older version has a shorter struct: write only its fields.
    static const ignite_engine_options kDefaults = IGNITE_ENGINE_OPTIONS_INIT;
    std::memcpy(static_cast<void *>(opts), &kDefaults, engine_options_size(version));
    opts->version = version;
  });
}

IGNITE_EXTERN(ignite_status)
ignite_engine_new(ignite_engine **out, const ignite_engine_options *opts) {
  IGNITE_CHECK(out);
  return guard(__func__,
               [&](const char *fn) { *out = new ignite_engine(engine_options(fn, opts)); });
}

IGNITE_EXTERN(void) ignite_engine_free(ignite_engine *engine) { delete engine; }

IGNITE_EXTERN(ignite_status) ignite_engine_ping(ignite_engine *engine) {
  IGNITE_CHECK(engine);
  return guard(__func__, [&] { engine->engine.ping(); });
}

IGNITE_EXTERN(ignite_status)
ignite_engine_session_id(const char **out, const ignite_engine *engine) {
  IGNITE_CHECK(out, engine);
  return guard(__func__, [&] { *out = engine->engine.session_id().c_str(); });
}

// --- Services -------------------------------------------------------------------------------

IGNITE_EXTERN(ignite_status)
ignite_service_load(ignite_service **out, ignite_engine *engine, const char *path) {
  IGNITE_CHECK(out, engine, path);
  return guard(__func__, [&] {
    // A path is bytes (ignite.h): no UTF-8 requirement.
    *out = new ignite_service(engine->engine.load(std::string(path)));
  });
}

IGNITE_EXTERN(void) ignite_service_free(ignite_service *service) { delete service; }

IGNITE_EXTERN(ignite_status) ignite_service_name(const char **out, const ignite_service *service) {
  IGNITE_CHECK(out, service);
  return guard(__func__, [&] { *out = service->svc.config.name.c_str(); });
}

IGNITE_EXTERN(ignite_status)
ignite_service_runtime(const char **out, const ignite_service *service) {
  IGNITE_CHECK(out, service);
  return guard(__func__, [&] { *out = service->svc.config.runtime.c_str(); });
}

IGNITE_EXTERN(ignite_status) ignite_service_entry(const char **out, const ignite_service *service) {
  IGNITE_CHECK(out, service);
  return guard(__func__, [&] { *out = service->svc.config.entry.c_str(); });
}

IGNITE_EXTERN(ignite_status) ignite_service_path(const char **out, const ignite_service *service) {
  IGNITE_CHECK(out, service);
  return guard(__func__, [&] { *out = service->path.c_str(); });
}

IGNITE_EXTERN(ignite_status) ignite_service_memory_mb(double *out, const ignite_service *service) {
  IGNITE_CHECK(out, service);
  return guard(__func__, [&] { *out = service->svc.config.memory_mb; });
}

IGNITE_EXTERN(ignite_status) ignite_service_timeout_ms(double *out, const ignite_service *service) {
  IGNITE_CHECK(out, service);
  return guard(__func__, [&] { *out = service->svc.config.timeout_ms; });
}

IGNITE_EXTERN(ignite_status) ignite_service_json(char **out, const ignite_service *service) {
  IGNITE_CHECK(out, service);
  return guard(__func__, [&] { *out = dup_string(to_json_text(service->svc.config)); });
}

// --- Cancellation ---------------------------------------------------------------------------

IGNITE_EXTERN(ignite_status) ignite_cancel_token_new(ignite_cancel_token **out) {
  IGNITE_CHECK(out);
  return guard(__func__, [&] { *out = new ignite_cancel_token(); });
}

IGNITE_EXTERN(ignite_status) ignite_cancel_token_cancel(ignite_cancel_token *token) {
  IGNITE_CHECK(token);
  return guard(__func__, [&] { token->source.request_stop(); });
}

IGNITE_EXTERN(ignite_status)
ignite_cancel_token_is_cancelled(int *out, const ignite_cancel_token *token) {
  IGNITE_CHECK(out, token);
  return guard(__func__, [&] { *out = token->source.stop_requested() ? 1 : 0; });
}

IGNITE_EXTERN(void) ignite_cancel_token_free(ignite_cancel_token *token) { delete token; }

// --- Execution ------------------------------------------------------------------------------

IGNITE_EXTERN(const char *) ignite_outcome_str(ignite_outcome outcome) {
  const auto i = static_cast<std::size_t>(outcome);
  return i < std::size(kOutcomes) ? Ignite::to_string(kOutcomes[i].first).data() : "unknown";
}

IGNITE_EXTERN(ignite_status)
ignite_execute_options_init(ignite_execute_options *opts, unsigned int version) {
  IGNITE_CHECK(opts);
  return guard(__func__, [&](const char *fn) {
    check_version(fn, "version", version, IGNITE_EXECUTE_OPTIONS_VERSION);
    // A caller of an older version has a shorter struct: write only its fields.
    static const ignite_execute_options kDefaults = IGNITE_EXECUTE_OPTIONS_INIT;
    std::memcpy(static_cast<void *>(opts), &kDefaults, execute_options_size(version));
    opts->version = version;
  });
}

IGNITE_EXTERN(ignite_status)
ignite_execute(ignite_result **out, ignite_engine *engine, const ignite_service *service,
               const ignite_execute_options *opts) {
  IGNITE_CHECK(out, engine, service);
  return guard(__func__,
               [&](const char *fn) { *out = execute(fn, engine->engine, service->svc, opts); });
}

IGNITE_EXTERN(void) ignite_result_free(ignite_result *result) { delete result; }

IGNITE_EXTERN(ignite_status)
ignite_result_outcome(ignite_outcome *out, const ignite_result *result) {
  IGNITE_CHECK(out, result);
  return guard(__func__, [&] { *out = to_c(result->result.outcome); });
}

IGNITE_EXTERN(ignite_status) ignite_result_exit_code(int *out, const ignite_result *result) {
  IGNITE_CHECK(out, result);
  return guard(__func__, [&] { *out = result->result.exit_code; });
}

IGNITE_EXTERN(ignite_status)
ignite_result_stdout(const char **out, size_t *out_len, const ignite_result *result) {
  IGNITE_CHECK(out, out_len, result);
  return guard(__func__, [&] {
    *out = result->result.stdout_text.c_str();
    *out_len = result->result.stdout_text.size();
  });
}

IGNITE_EXTERN(ignite_status)
ignite_result_stderr(const char **out, size_t *out_len, const ignite_result *result) {
  IGNITE_CHECK(out, out_len, result);
  return guard(__func__, [&] {
    *out = result->result.stderr_text.c_str();
    *out_len = result->result.stderr_text.size();
  });
}

IGNITE_EXTERN(ignite_status) ignite_result_stdout_truncated(int *out, const ignite_result *result) {
  IGNITE_CHECK(out, result);
  return guard(__func__, [&] { *out = result->result.stdout_truncated ? 1 : 0; });
}

IGNITE_EXTERN(ignite_status) ignite_result_stderr_truncated(int *out, const ignite_result *result) {
  IGNITE_CHECK(out, result);
  return guard(__func__, [&] { *out = result->result.stderr_truncated ? 1 : 0; });
}

IGNITE_EXTERN(ignite_status) ignite_result_oom_killed(int *out, const ignite_result *result) {
  IGNITE_CHECK(out, result);
  return guard(__func__, [&] { *out = result->result.oom_killed ? 1 : 0; });
}

IGNITE_EXTERN(ignite_status) ignite_result_cold_start(int *out, const ignite_result *result) {
  IGNITE_CHECK(out, result);
  return guard(__func__, [&] { *out = result->result.cold_start ? 1 : 0; });
}

IGNITE_EXTERN(ignite_status) ignite_result_duration_ms(int64_t *out, const ignite_result *result) {
  IGNITE_CHECK(out, result);
  return guard(__func__, [&] {
    *out = std::chrono::duration_cast<std::chrono::milliseconds>(result->result.duration).count();
  });
}

IGNITE_EXTERN(ignite_status) ignite_result_duration_us(int64_t *out, const ignite_result *result) {
  IGNITE_CHECK(out, result);
  return guard(__func__, [&] { *out = result->result.duration.count(); });
}

IGNITE_EXTERN(ignite_status) ignite_result_cpu_time_us(int64_t *out, const ignite_result *result) {
  IGNITE_CHECK(out, result);
  return guard(__func__, [&] {
    *out = result->result.cpu_time ? result->result.cpu_time->count() : int64_t{-1};
  });
}

IGNITE_EXTERN(ignite_status)
ignite_result_phase_us(int64_t *out, const ignite_result *result, ignite_phase phase) {
  IGNITE_CHECK(out, result);
  return guard(__func__, [&](const char *fn) {
    const Ignite::PhaseTimings &p = result->result.phases;
    switch (phase) {
      case IGNITE_PHASE_BUILD: *out = p.build.count(); return;
      case IGNITE_PHASE_CREATE: *out = p.create.count(); return;
      case IGNITE_PHASE_START: *out = p.start.count(); return;
      case IGNITE_PHASE_RUN: *out = p.run.count(); return;
      case IGNITE_PHASE_CLEANUP: *out = p.cleanup.count(); return;
    }
    throw CError(IGNITE_EINVALID,
                 std::string(fn) + ": phase " + std::to_string(static_cast<int>(phase)) +
                     " is not an ignite_phase (IGNITE_PHASE_BUILD .. IGNITE_PHASE_CLEANUP)");
  });
}

IGNITE_EXTERN(ignite_status)
ignite_result_memory_peak_mb(double *out, const ignite_result *result) {
  IGNITE_CHECK(out, result);
  return guard(__func__, [&] { *out = result->result.memory_peak_mb.value_or(-1.0); });
}

IGNITE_EXTERN(ignite_status) ignite_result_runtime(const char **out, const ignite_result *result) {
  IGNITE_CHECK(out, result);
  return guard(__func__, [&] { *out = result->result.runtime.c_str(); });
}

IGNITE_EXTERN(ignite_status) ignite_result_json(char **out, const ignite_result *result) {
  IGNITE_CHECK(out, result);
  return guard(__func__, [&] { *out = dup_string(to_json_text(result->result)); });
}

IGNITE_EXTERN(const char *) ignite_container_start_str(ignite_container_start start) {
  const auto i = static_cast<std::size_t>(start);
  return i < std::size(kStarts) ? Ignite::to_string(kStarts[i].first).data() : "unknown";
}

IGNITE_EXTERN(ignite_status)
ignite_result_container_start(ignite_container_start *out, const ignite_result *result) {
  IGNITE_CHECK(out, result);
  return guard(__func__, [&] { *out = to_c(result->result.container_start); });
}

IGNITE_EXTERN(ignite_status)
ignite_result_container_id(const char **out, const ignite_result *result) {
  IGNITE_CHECK(out, result);
  return guard(__func__, [&] { *out = result->result.container_id.c_str(); });
}

IGNITE_EXTERN(ignite_status) ignite_result_container_job(size_t *out, const ignite_result *result) {
  IGNITE_CHECK(out, result);
  return guard(__func__, [&] { *out = result->result.container_job; });
}

IGNITE_EXTERN(ignite_status)
ignite_result_placement(ignite_placement *out, const ignite_result *result) {
  IGNITE_CHECK(out, result);
  return guard(__func__, [&] {
    const Ignite::Placement &p = result->result.placement;
    *out = {p.backend.c_str(), p.host.c_str(), p.node.c_str(), p.task.c_str()};
  });
}

// --- Warm pool ------------------------------------------------------------------------------

IGNITE_EXTERN(ignite_status)
ignite_engine_prewarm(size_t *out, ignite_engine *engine, const ignite_service *service,
                      const ignite_execute_options *opts, size_t count) {
  if (out) *out = 0;  // optional
  IGNITE_CHECK(engine, service);
  return guard(__func__, [&](const char *fn) {
    const std::size_t ready = prewarm(fn, engine->engine, service->svc, opts, count);
    if (out) *out = ready;
  });
}

IGNITE_EXTERN(ignite_status)
ignite_engine_pool_stats(ignite_pool_stats *out, const ignite_engine *engine) {
  IGNITE_CHECK(out, engine);
  return guard(__func__,
               [&](const char *fn) { pool_stats_out(fn, *out, engine->engine.pool_stats()); });
}

IGNITE_EXTERN(ignite_status) ignite_engine_drain_pool(ignite_engine *engine) {
  IGNITE_CHECK(engine);
  return guard(__func__, [&] { engine->engine.drain_pool(); });
}

IGNITE_EXTERN(ignite_status) ignite_engine_flush(ignite_engine *engine) {
  IGNITE_CHECK(engine);
  return guard(__func__, [&] { engine->engine.flush(); });
}

IGNITE_EXTERN(ignite_status) ignite_engine_remove_containers(size_t *out, ignite_engine *engine) {
  if (out) *out = 0;  // optional
  IGNITE_CHECK(engine);
  return guard(__func__, [&] {
    const std::size_t n = engine->engine.remove_containers();
    if (out) *out = n;
  });
}

IGNITE_EXTERN(ignite_status)
ignite_engine_gc(size_t *out_containers, size_t *out_images, ignite_engine *engine,
                 int service_images) {
  if (out_containers) *out_containers = 0;  // both optional
  if (out_images) *out_images = 0;
  IGNITE_CHECK(engine);
  return guard(__func__, [&] {
    const Ignite::GcResult r = engine->engine.gc(service_images != 0);
    if (out_containers) *out_containers = r.containers;
    if (out_images) *out_images = r.images;
  });
}

// --- Preflight ------------------------------------------------------------------------------

IGNITE_EXTERN(const char *) ignite_check_status_str(ignite_check_status status) {
  const auto i = static_cast<std::size_t>(status);
  return i < std::size(kChecks) ? Ignite::to_string(kChecks[i].first).data() : "unknown";
}

IGNITE_EXTERN(ignite_status)
ignite_preflight_options_init(ignite_preflight_options *opts, unsigned int version) {
  IGNITE_CHECK(opts);
  return guard(__func__, [&](const char *fn) {
    check_version(fn, "version", version, IGNITE_PREFLIGHT_OPTIONS_VERSION);
    static const ignite_preflight_options kDefaults = IGNITE_PREFLIGHT_OPTIONS_INIT;
    std::memcpy(static_cast<void *>(opts), &kDefaults, preflight_options_size(version));
    opts->version = version;
  });
}

IGNITE_EXTERN(ignite_status)
ignite_preflight_run(ignite_preflight **out, ignite_engine *engine, const ignite_service *service,
                     const ignite_preflight_options *opts) {
  IGNITE_CHECK(out, engine, service);
  return guard(__func__, [&](const char *fn) {
    *out = new ignite_preflight{preflight(fn, engine->engine, service->svc, opts)};
  });
}

IGNITE_EXTERN(void) ignite_preflight_free(ignite_preflight *preflight) { delete preflight; }

IGNITE_EXTERN(ignite_status)
ignite_preflight_status(ignite_check_status *out, const ignite_preflight *preflight) {
  IGNITE_CHECK(out, preflight);
  return guard(__func__, [&] { *out = to_c(preflight->preflight.overall); });
}

IGNITE_EXTERN(ignite_status) ignite_preflight_json(char **out, const ignite_preflight *preflight) {
  IGNITE_CHECK(out, preflight);
  return guard(__func__, [&] { *out = dup_string(to_json_text(preflight->preflight)); });
}

IGNITE_EXTERN(ignite_status)
ignite_preflight_text(char **out, const ignite_preflight *preflight, int color) {
  IGNITE_CHECK(out, preflight);
  return guard(__func__, [&] {
    *out = dup_string(Ignite::format_preflight_text(preflight->preflight, color != 0));
  });
}

// --- Reports --------------------------------------------------------------------------------

IGNITE_EXTERN(ignite_status)
ignite_report_new(ignite_report **out, ignite_engine *engine, const ignite_service *service,
                  const ignite_preflight *preflight, const ignite_result *result) {
  IGNITE_CHECK(out, engine, service, preflight);
  return guard(__func__, [&] {
    *out = new ignite_report{engine->engine.report(
        service->svc, preflight->preflight, result ? std::optional(result->result) : std::nullopt)};
  });
}

IGNITE_EXTERN(void) ignite_report_free(ignite_report *report) { delete report; }

IGNITE_EXTERN(ignite_status) ignite_report_json(char **out, const ignite_report *report) {
  IGNITE_CHECK(out, report);
  return guard(__func__, [&] { *out = dup_string(to_json_text(report->report)); });
}

IGNITE_EXTERN(ignite_status)
ignite_report_text(char **out, const ignite_report *report, int color) {
  IGNITE_CHECK(out, report);
  return guard(__func__,
               [&] { *out = dup_string(Ignite::format_report_text(report->report, color != 0)); });
}

// --- Environment lock -----------------------------------------------------------------------

IGNITE_EXTERN(ignite_status)
ignite_lock_write(ignite_engine *engine, const ignite_service *service) {
  IGNITE_CHECK(engine, service);
  return guard(__func__, [&] {
    Ignite::write_lock(service->svc.path, engine->engine.make_lock(service->svc));
  });
}

IGNITE_EXTERN(ignite_status)
ignite_lock_check(ignite_lock_state *out, char **out_text, ignite_engine *engine,
                  const ignite_service *service) {
  reset_out(out_text);
  IGNITE_CHECK(out, engine, service);
  return guard(__func__, [&] {
    const Ignite::DriftReport d = engine->engine.check_lock(service->svc);
    if (out_text) *out_text = dup_string(Ignite::format_environment_info(d));
    *out = !d.locked ? IGNITE_LOCK_NONE : d.drift ? IGNITE_LOCK_DRIFT : IGNITE_LOCK_MATCH;
  });
}

// --- Runtimes -------------------------------------------------------------------------------

IGNITE_EXTERN(ignite_status) ignite_runtime_list(char **out, ignite_engine *engine) {
  IGNITE_CHECK(out, engine);
  return guard(__func__, [&] { *out = dup_string(runtimes_json(engine->engine.runtimes())); });
}

IGNITE_EXTERN(ignite_status) ignite_runtime_register(ignite_engine *engine, const char *json) {
  IGNITE_CHECK(engine, json);
  return guard(__func__, [&](const char *fn) {
    engine->engine.register_runtime(runtime_from_json(fn, json_arg(fn, "json", json)));
  });
}

IGNITE_EXTERN(ignite_status) ignite_runtime_load_file(ignite_engine *engine, const char *path) {
  IGNITE_CHECK(engine, path);
  return guard(__func__, [&] { engine->engine.load_runtimes_file(std::string(path)); });
}

IGNITE_EXTERN(ignite_status)
ignite_runtime_unregister(int *out, ignite_engine *engine, const char *name) {
  IGNITE_CHECK(out, engine, name);
  return guard(__func__, [&](const char *fn) {
    *out = engine->engine.unregister_runtime(utf8_arg(fn, "name", name)) ? 1 : 0;
  });
}
