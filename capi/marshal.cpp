// C arguments to Ignite's C++ types and back: UTF-8 and JSON checks, option structs, the
// streaming callback and cancel token, runtime JSON. No behaviour of its own: every decision
// about services, containers and runtimes is the Engine's.
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "capi/internal.hpp"

namespace ignite_capi {
namespace {

using nlohmann::json;

// Offset of the first byte that does not start a well-formed UTF-8 sequence (overlong forms,
// surrogates and code points above U+10FFFF are malformed), or nullopt.
std::optional<std::size_t> first_invalid_utf8(std::string_view s) {
  static constexpr std::uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return i;
    }
    if (s.size() - i <= n) return i;
    for (std::size_t k = 1; k <= n; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += n + 1;
  }
  return std::nullopt;
}

CError invalid(const char* fn, const std::string& what) {
  return CError(IGNITE_EINVALID, std::string(fn) + ": " + what);
}

std::optional<Ignite::CodeDelivery> delivery(const char* fn, ignite_delivery d) {
  switch (d) {
    case IGNITE_DELIVERY_DEFAULT:
      return std::nullopt;
    case IGNITE_DELIVERY_AUTO:
      return Ignite::CodeDelivery::Auto;
    case IGNITE_DELIVERY_MOUNT:
      return Ignite::CodeDelivery::Mount;
    case IGNITE_DELIVERY_BAKED:
      return Ignite::CodeDelivery::Baked;
  }
  throw invalid(fn, "opts->delivery " + std::to_string(static_cast<int>(d)) +
                        " is not an ignite_delivery value");
}

// A non-empty C string, optional: NULL or "" is nullopt.
std::optional<std::string> optional_text(const char* fn, const char* name, const char* text) {
  if (!text || !*text) return std::nullopt;
  return utf8_arg(fn, name, text);
}

// A path: bytes as given (need not be UTF-8); NULL or "" is nullopt.
std::optional<std::string> optional_path(const char* text) {
  if (!text || !*text) return std::nullopt;
  return std::string(text);
}

void add_env_json(const char* fn, const char* text, std::map<std::string, std::string>& env) {
  const json j = json::parse(json_arg(fn, "opts->env_json", text));
  if (!j.is_object()) throw invalid(fn, "opts->env_json must be a JSON object of strings");
  for (const auto& [key, value] : j.items()) {
    if (!value.is_string()) {
      throw invalid(fn, "opts->env_json: the value of \"" + key + "\" is not a string");
    }
    env[key] = value.get<std::string>();
  }
}

void add_env_arrays(const char* fn, const ignite_execute_options& o,
                    std::map<std::string, std::string>& env) {
  if (o.env_count == 0) return;
  if (!o.env_keys) throw invalid(fn, "opts->env_keys is NULL but opts->env_count is not 0");
  if (!o.env_values) throw invalid(fn, "opts->env_values is NULL but opts->env_count is not 0");
  for (std::size_t i = 0; i < o.env_count; ++i) {
    const std::string key_name = "opts->env_keys[" + std::to_string(i) + "]";
    const std::string value_name = "opts->env_values[" + std::to_string(i) + "]";
    if (!o.env_keys[i]) throw invalid(fn, key_name + " is NULL");
    if (!o.env_values[i]) throw invalid(fn, value_name + " is NULL");
    env[utf8_arg(fn, key_name.c_str(), o.env_keys[i])] =
        utf8_arg(fn, value_name.c_str(), o.env_values[i]);
  }
}

Ignite::ExecuteOptions execute_options(const char* fn, const ignite_execute_options& o) {
  check_version(fn, "opts->version", o.version, IGNITE_EXECUTE_OPTIONS_VERSION);
  Ignite::ExecuteOptions opt;
  if (o.input_json) opt.input = json_arg(fn, "opts->input_json", o.input_json);
  if (o.env_json) add_env_json(fn, o.env_json, opt.env);
  add_env_arrays(fn, o, opt.env);
  opt.runtime = optional_text(fn, "opts->runtime", o.runtime);
  if (o.timeout_ms != 0) opt.timeout = std::chrono::milliseconds(o.timeout_ms);
  if (o.memory_mb != 0) opt.memory_mb = o.memory_mb;
  if (o.cpus != 0) opt.cpus = o.cpus;
  if (o.output_limit != 0) opt.output_limit = o.output_limit;
  opt.audit = o.audit != 0;
  opt.delivery = delivery(fn, o.delivery);
  if (o.version < 3) return opt;  // older structs end before cpu_time_ms: never read further
  if (o.cpu_time_ms != 0) {
    if (!std::isfinite(o.cpu_time_ms) || o.cpu_time_ms < 0 || o.cpu_time_ms > 1e12) {
      throw invalid(fn, "opts->cpu_time_ms must be a positive number of milliseconds up to 1e12 "
                        "(0: service.yaml's cpuTimeMs), got " + std::to_string(o.cpu_time_ms));
    }
    opt.cpu_time_limit = std::chrono::microseconds(
        std::max<std::int64_t>(1, std::llround(o.cpu_time_ms * 1000.0)));
  }
  return opt;
}

// Requests the run's stop when the caller's cancel token fires.
struct ForwardStop {
  std::stop_source* target;
  void operator()() const noexcept { target->request_stop(); }
};

json runtime_json(const Ignite::Runtime& r) {
  json versions = json::array();
  for (const auto& v : r.versions) versions.push_back({{"version", v.version}, {"image", v.image}});
  json j = {{"name", r.name},
            {"versions", std::move(versions)},
            {"defaultVersion", r.default_version},
            {"defaultEntry", r.default_entry},
            {"fileExtensions", r.file_extensions},
            {"command", r.command}};
  if (!r.module_command.empty()) j["moduleCommand"] = r.module_command;
  return j;
}

}  // namespace

void check_version(const char* fn, const char* name, unsigned int version, unsigned int current) {
  if (version == 0 || version > current) {
    throw invalid(fn, std::string(name) + " " + std::to_string(version) +
                          " is not supported (this library knows versions 1 to " +
                          std::to_string(current) + "; initialise options with their _INIT macro)");
  }
}

std::string utf8_arg(const char* fn, const char* name, const char* text) {
  const std::string_view s(text);
  if (const auto at = first_invalid_utf8(s)) {
    throw invalid(fn, std::string(name) + " is not valid UTF-8 (byte " + std::to_string(*at) + ")");
  }
  return std::string(s);
}

std::string json_arg(const char* fn, const char* name, const char* text) {
  std::string s = utf8_arg(fn, name, text);
  if (!json::accept(s)) throw invalid(fn, std::string(name) + " is not valid JSON");
  return s;
}

// A version 1 ignite_engine_options ends with tmpfs_size; later fields exist from version 2 on.
constexpr std::size_t kEngineOptionsV1Size = offsetof(ignite_engine_options, pool_size);
static_assert(kEngineOptionsV1Size == offsetof(ignite_engine_options, tmpfs_size) + sizeof(char*),
              "version 1 of ignite_engine_options must stay a prefix of the current struct");
// A version 2 struct ends with pool_memory_budget_mb.
constexpr std::size_t kEngineOptionsV2Size = offsetof(ignite_engine_options, metadata_timeout_ms);
static_assert(kEngineOptionsV2Size ==
                  offsetof(ignite_engine_options, pool_memory_budget_mb) + sizeof(double),
              "version 2 of ignite_engine_options must stay a prefix of the current struct");
// A version 3 struct ends with shutdown_grace_ms.
constexpr std::size_t kEngineOptionsV3Size = offsetof(ignite_engine_options, docker_context);
static_assert(kEngineOptionsV3Size ==
                  offsetof(ignite_engine_options, shutdown_grace_ms) + sizeof(int64_t),
              "version 3 of ignite_engine_options must stay a prefix of the current struct");
// A version 4 struct ends with ssh_options.
constexpr std::size_t kEngineOptionsV4Size = offsetof(ignite_engine_options, backend);
static_assert(kEngineOptionsV4Size ==
                  offsetof(ignite_engine_options, ssh_options) + sizeof(const char* const*),
              "version 4 of ignite_engine_options must stay a prefix of the current struct");
static_assert(IGNITE_ENGINE_OPTIONS_VERSION == 5, "engine_options_size knows versions 1 to 5");

// Version 1 of ignite_execute_options ends with `cancel`; of ignite_preflight_options with
// `delivery`.
constexpr std::size_t kExecuteOptionsV1Size = offsetof(ignite_execute_options, on_build_log);
static_assert(kExecuteOptionsV1Size ==
                  offsetof(ignite_execute_options, cancel) + sizeof(ignite_cancel_token*),
              "version 1 of ignite_execute_options must stay a prefix of the current struct");
constexpr std::size_t kExecuteOptionsV2Size = offsetof(ignite_execute_options, cpu_time_ms);
static_assert(kExecuteOptionsV2Size ==
                  offsetof(ignite_execute_options, build_log_payload) + sizeof(void*),
              "version 2 of ignite_execute_options must stay a prefix of the current struct");
static_assert(IGNITE_EXECUTE_OPTIONS_VERSION == 3, "execute_options_size knows versions 1 to 3");
constexpr std::size_t kPreflightOptionsV1Size = offsetof(ignite_preflight_options, on_build_log);
static_assert(IGNITE_PREFLIGHT_OPTIONS_VERSION == 2,
              "preflight_options_size knows versions 1 to 2");

std::size_t execute_options_size(unsigned int version) noexcept {
  return version >= 3   ? sizeof(ignite_execute_options)
         : version == 2 ? kExecuteOptionsV2Size
                        : kExecuteOptionsV1Size;
}

std::size_t preflight_options_size(unsigned int version) noexcept {
  return version >= 2 ? sizeof(ignite_preflight_options) : kPreflightOptionsV1Size;
}

std::size_t engine_options_size(unsigned int version) noexcept {
  return version >= 5   ? sizeof(ignite_engine_options)
         : version == 4 ? kEngineOptionsV4Size
         : version == 3 ? kEngineOptionsV3Size
         : version == 2 ? kEngineOptionsV2Size
                        : kEngineOptionsV1Size;
}

namespace {
std::chrono::milliseconds positive_ms(const char* fn, const char* name, int64_t v,
                                      std::chrono::milliseconds fallback) {
  if (v < 0) {
    throw invalid(fn, std::string(name) + " must not be negative (got " + std::to_string(v) + ")");
  }
  return v == 0 ? fallback : std::chrono::milliseconds(v);
}
}  // namespace

Ignite::EngineOptions engine_options(const char* fn, const ignite_engine_options* o) {
  Ignite::EngineOptions opt;
  if (!o) return opt;
  check_version(fn, "opts->version", o->version, IGNITE_ENGINE_OPTIONS_VERSION);
  if (auto host = optional_text(fn, "opts->docker_host", o->docker_host)) opt.docker_host = *host;
  if (o->max_concurrent != 0) opt.max_concurrent = o->max_concurrent;
  if (auto dir = optional_path(o->state_dir)) opt.state_dir = *dir;
  if (auto d = delivery(fn, o->delivery)) opt.delivery = *d;
  if (o->pids_limit != 0) opt.pids_limit = o->pids_limit;
  if (auto size = optional_text(fn, "opts->tmpfs_size", o->tmpfs_size)) opt.tmpfs_size = *size;
  if (o->version < 2) return opt;  // a version 1 struct has no pool fields: never read them
  opt.pool.size = o->pool_size;
  if (o->pool_reuse != 0) opt.pool.reuse = o->pool_reuse;
  if (o->pool_idle_expiry_ms < 0) {
    throw invalid(fn, "opts->pool_idle_expiry_ms must not be negative (got " +
                          std::to_string(o->pool_idle_expiry_ms) + ")");
  }
  if (o->pool_idle_expiry_ms != 0) {
    opt.pool.idle_expiry =
        std::chrono::ceil<std::chrono::seconds>(std::chrono::milliseconds(o->pool_idle_expiry_ms));
  }
  if (o->pool_refill_concurrency != 0) opt.pool.refill_concurrency = o->pool_refill_concurrency;
  if (!std::isfinite(o->pool_memory_budget_mb) || o->pool_memory_budget_mb < 0) {
    throw invalid(fn, "opts->pool_memory_budget_mb must be a finite number, at least 0");
  }
  if (o->pool_memory_budget_mb != 0) opt.pool.memory_budget_mb = o->pool_memory_budget_mb;
  if (o->version < 3) return opt;
  auto& t = opt.docker_timeouts;
  t.metadata = positive_ms(fn, "opts->metadata_timeout_ms", o->metadata_timeout_ms, t.metadata);
  t.lifecycle = positive_ms(fn, "opts->lifecycle_timeout_ms", o->lifecycle_timeout_ms, t.lifecycle);
  t.build = positive_ms(fn, "opts->build_timeout_ms", o->build_timeout_ms, t.build);
  if (auto labels = optional_text(fn, "opts->labels", o->labels)) {
    opt.labels = Ignite::parse_labels(*labels, std::string(fn) + ": opts->labels");
  }
  if (o->sweep_interval_ms < -1) {
    throw invalid(fn, "opts->sweep_interval_ms must be -1 (never), 0 (default) or positive");
  }
  if (o->sweep_interval_ms == -1) {
    opt.cleanup.sweep_interval = std::chrono::milliseconds(0);
  } else if (o->sweep_interval_ms > 0) {
    opt.cleanup.sweep_interval = std::chrono::milliseconds(o->sweep_interval_ms);
  }
  opt.cleanup.shutdown_grace = positive_ms(fn, "opts->shutdown_grace_ms", o->shutdown_grace_ms,
                                           opt.cleanup.shutdown_grace);
  if (o->version < 4) return opt;
  if (auto context = optional_text(fn, "opts->docker_context", o->docker_context)) {
    opt.docker_context = *context;
  }
  if (o->docker_tls_verify < -1 || o->docker_tls_verify > 1) {
    throw invalid(fn, "opts->docker_tls_verify must be 1 (TLS), -1 (no TLS) or 0 "
                      "($DOCKER_TLS_VERIFY) (got " + std::to_string(o->docker_tls_verify) + ")");
  }
  if (o->docker_tls_verify != 0) opt.docker_tls_verify = o->docker_tls_verify == 1;
  if (auto dir = optional_text(fn, "opts->docker_cert_path", o->docker_cert_path)) {
    opt.docker_cert_path = *dir;
  }
  opt.allow_plain_tcp = o->allow_plain_tcp != 0;
  if (o->ssh_options != nullptr) {
    for (std::size_t i = 0; o->ssh_options[i] != nullptr; ++i) {
      opt.ssh_options.push_back(utf8_arg(
          fn, ("opts->ssh_options[" + std::to_string(i) + "]").c_str(), o->ssh_options[i]));
    }
  }
  if (o->version < 5) return opt;
  switch (o->backend) {
    case IGNITE_BACKEND_DEFAULT: break;
    case IGNITE_BACKEND_DOCKER: opt.backend = Ignite::Backend::Docker; break;
    case IGNITE_BACKEND_SWARM: opt.backend = Ignite::Backend::Swarm; break;
    default:
      throw invalid(fn, "opts->backend: unknown value " + std::to_string(static_cast<int>(o->backend)) +
                            " (expected an ignite_backend)");
  }
  if (auto registry = optional_text(fn, "opts->registry", o->registry)) opt.registry = *registry;
  return opt;
}

Ignite::PreflightOptions preflight_options(const char* fn, const ignite_preflight_options* o) {
  Ignite::PreflightOptions opt;
  if (!o) return opt;
  check_version(fn, "opts->version", o->version, IGNITE_PREFLIGHT_OPTIONS_VERSION);
  opt.build_image = o->build_image != 0;
  opt.runtime = optional_text(fn, "opts->runtime", o->runtime);
  opt.delivery = delivery(fn, o->delivery);
  return opt;
}

namespace {

// What a call shares with the caller while it runs: one stop source that the caller's cancel
// token and a callback returning non-zero both stop, and which callback stopped it.
class CallControl {
 public:
  CallControl(const char* fn, ignite_cancel_token* cancel) : fn_(fn) {
    if (cancel) link_.emplace(cancel->source.get_token(), ForwardStop{&stop_});
  }
  std::stop_token token() const { return stop_.get_token(); }

  // Records a callback's non-zero return and stops the call.
  void stopped_by(const char* callback, int rc) {
    if (rc_ != 0) return;
    rc_ = rc;
    callback_ = callback;
    stop_.request_stop();
  }
  bool stopped() const { return rc_ != 0; }

  std::function<void(std::string_view)> build_log(ignite_build_log_cb cb, void* payload) {
    if (!cb) return {};
    return [this, cb, payload](std::string_view line) {
      if (stopped()) return;
      if (const int rc = cb(line.data(), line.size(), payload); rc != 0) {
        stopped_by("on_build_log", rc);
      }
    };
  }

  // After the call: IGNITE_EUSER when a callback stopped it (whatever the engine made of the
  // stop: a result, or Error(Cancelled)).
  void check() const {
    if (rc_ == 0) return;
    throw CError(IGNITE_EUSER, std::string(fn_) + ": " + callback_ + " returned " +
                                   std::to_string(rc_) + ": the call was stopped");
  }

 private:
  const char* fn_;
  std::stop_source stop_;
  std::optional<std::stop_callback<ForwardStop>> link_;
  int rc_ = 0;
  const char* callback_ = "";
};

}  // namespace

Ignite::PreflightResult preflight(const char* fn, Ignite::Engine& engine,
                                  const Ignite::Service& service,
                                  const ignite_preflight_options* o) {
  Ignite::PreflightOptions opt = preflight_options(fn, o);
  const bool v2 = o && o->version >= 2;
  CallControl control(fn, v2 ? o->cancel : nullptr);
  opt.stop_token = control.token();
  if (v2) opt.on_build_output = control.build_log(o->on_build_log, o->build_log_payload);
  try {
    Ignite::PreflightResult r = engine.preflight(service, opt);
    control.check();
    return r;
  } catch (const Ignite::Error&) {
    control.check();
    throw;
  }
}

std::size_t prewarm(const char* fn, Ignite::Engine& engine, const Ignite::Service& service,
                    const ignite_execute_options* o, std::size_t count) {
  Ignite::ExecuteOptions opt = o ? execute_options(fn, *o) : Ignite::ExecuteOptions{};
  CallControl control(fn, o ? o->cancel : nullptr);
  opt.stop_token = control.token();
  if (o && o->version >= 2) {
    opt.on_build_output = control.build_log(o->on_build_log, o->build_log_payload);
  }
  try {
    const std::size_t ready = engine.prewarm(service, opt, count);
    control.check();
    return ready;
  } catch (const Ignite::Error&) {
    control.check();
    throw;
  }
}

void pool_stats_out(const char* fn, ignite_pool_stats& out, const Ignite::PoolStats& stats) {
  check_version(fn, "out->version", out.version, IGNITE_POOL_STATS_VERSION);
  out.ready = stats.ready;
  out.starting = stats.starting;
  out.created = stats.created;
  out.dispatched = stats.dispatched;
  out.discarded = stats.discarded;
  out.expired = stats.expired;
}

ignite_result* execute(const char* fn, Ignite::Engine& engine, const Ignite::Service& service,
                       const ignite_execute_options* o) {
  static const ignite_execute_options kDefaults = IGNITE_EXECUTE_OPTIONS_INIT;
  if (!o) o = &kDefaults;
  Ignite::ExecuteOptions opt = execute_options(fn, *o);

  // One stop source per run: the caller's token and the callbacks all stop it. Callbacks run
  // on this thread only.
  CallControl control(fn, o->cancel);
  opt.stop_token = control.token();
  if (o->on_output) {
    const auto tee = [&control, cb = o->on_output, payload = o->payload](int stream) {
      return [&control, cb, payload, stream](std::string_view data) {
        if (control.stopped()) return;
        if (const int rc = cb(data.data(), data.size(), stream, payload); rc != 0) {
          control.stopped_by("on_output", rc);
        }
      };
    };
    opt.on_stdout = tee(IGNITE_STREAM_STDOUT);
    opt.on_stderr = tee(IGNITE_STREAM_STDERR);
  }
  if (o->version >= 2) {
    opt.on_build_output = control.build_log(o->on_build_log, o->build_log_payload);
  }

  std::unique_ptr<ignite_result> result;
  try {
    result = std::make_unique<ignite_result>(ignite_result{engine.execute(service, opt)});
  } catch (const Ignite::Error&) {
    control.check();
    throw;
  }
  control.check();  // the run was stopped and its container removed
  return result.release();
}

std::string runtimes_json(const Ignite::RuntimeRegistry& registry) {
  json list = json::array();
  for (const auto& r : registry.all()) list.push_back(runtime_json(r));
  return list.dump();
}

Ignite::Runtime runtime_from_json(const char* fn, const std::string& text) {
  const json j = json::parse(text);
  const auto bad = [&](const std::string& what) { return invalid(fn, "json: " + what); };
  if (!j.is_object()) throw bad("must be a JSON object describing one runtime");
  const auto string_field = [&](const char* key, std::string& dst) {
    if (!j.contains(key)) return;
    if (!j[key].is_string()) throw bad(std::string(key) + " must be a string");
    dst = j[key].get<std::string>();
  };
  const auto list_field = [&](const char* key, std::vector<std::string>& dst) {
    if (!j.contains(key)) return;
    if (!j[key].is_array()) throw bad(std::string(key) + " must be an array of strings");
    for (const auto& e : j[key]) {
      if (!e.is_string()) throw bad(std::string(key) + " must be an array of strings");
      dst.push_back(e.get<std::string>());
    }
  };
  Ignite::Runtime r;
  string_field("name", r.name);
  string_field("defaultEntry", r.default_entry);
  list_field("fileExtensions", r.file_extensions);
  list_field("command", r.command);
  list_field("moduleCommand", r.module_command);
  if (j.contains("versions")) {
    const json& v = j["versions"];
    if (v.is_object()) {
      for (const auto& [version, image] : v.items()) {
        if (!image.is_string()) throw bad("versions." + version + " must be an image name");
        r.versions.push_back({version, image.get<std::string>()});
      }
    } else if (v.is_array()) {
      for (const auto& e : v) {
        if (!e.is_object() || !e.contains("version") || !e["version"].is_string() ||
            !e.contains("image") || !e["image"].is_string()) {
          throw bad("versions entries must be {\"version\": string, \"image\": string}");
        }
        r.versions.push_back({e["version"].get<std::string>(), e["image"].get<std::string>()});
      }
    } else {
      throw bad("versions must be an array or an object");
    }
  }
  string_field("defaultVersion", r.default_version);
  if (r.default_version.empty() && !r.versions.empty())
    r.default_version = r.versions.front().version;
  return r;
}

}  // namespace ignite_capi
