// File: bindings/python/register_models.cpp
//
// The value types of the C++ API as read-only Python classes with the C++ field names:
// Service/ServiceConfig, ExecutionResult (+ PhaseTimings, SecurityAudit), PreflightResult,
// ExecutionReport, LockManifest/DriftReport, the runtime registry types, and the enums
// (Outcome, ContainerStart ...). Each type with a JSON form in ignite/json.hpp has
// `to_json(indent=-1)` returning that exact text.
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "bindings/python/register.hpp"
#include "ignite/engine.hpp"
#include "ignite/json.hpp"
#include "ignite/lock.hpp"
#include "ignite/policy.hpp"
#include "ignite/report.hpp"
#include "ignite/runtime.hpp"
#include "ignite/service.hpp"

namespace Ignite::python {
namespace {

using json = nlohmann::json;

// Service output may hold invalid UTF-8: replace it rather than throw from dump().
template <typename T>
std::string dump(const T& value, int indent) {
  const json j = value;
  return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

constexpr const char* kToJsonDoc =
    "This value as JSON text (the shape of ignite/json.hpp, camelCase keys); indent < 0: one "
    "line.";

// A time in fractional milliseconds (microsecond resolution).
double ms(std::chrono::microseconds d) { return static_cast<double>(d.count()) / 1000.0; }

template <typename T, typename Class>
void def_to_json(Class& cls) {
  cls.def(
      "to_json", [](const T& v, int indent) { return dump(v, indent); }, py::arg("indent") = -1,
      kToJsonDoc);
}

// service.yaml's `preflight:` block with its YAML key names, only the keys that were set.
py::dict preflight_config(const PreflightConfig& c) {
  py::dict out;
  auto section = [&](const char* name,
                     std::initializer_list<std::pair<const char*, std::optional<double>>> fields) {
    py::dict d;
    for (const auto& [key, value] : fields) {
      if (value) d[key] = *value;
    }
    if (!d.empty()) out[name] = d;
  };
  section("memory", {{"baseMb", c.memory.base_mb},
                     {"perDependencyMb", c.memory.per_dependency_mb},
                     {"warnRatio", c.memory.warn_ratio},
                     {"failRatio", c.memory.fail_ratio}});
  section("dependencies",
          {{"warnCount", c.dependencies.warn_count}, {"infoCount", c.dependencies.info_count}});
  section("image", {{"warnMb", c.image.warn_mb}, {"failMb", c.image.fail_mb}});
  section("timeout", {{"minMs", c.timeout.min_ms},
                      {"maxMs", c.timeout.max_ms},
                      {"coldStartBufferMs", c.timeout.cold_start_buffer_ms}});
  return out;
}

void register_enums(py::module_& m) {
  py::enum_<Outcome>(m, "Outcome", "Ignite::Outcome: how an execution ended.")
      .value("Success", Outcome::Success)
      .value("Error", Outcome::Error)
      .value("Timeout", Outcome::Timeout)
      .value("MemoryLimit", Outcome::MemoryLimit)
      .value("OutputLimit", Outcome::OutputLimit)
      .value("Cancelled", Outcome::Cancelled)
      .value("CpuLimit", Outcome::CpuLimit);
  py::enum_<CodeDelivery>(m, "CodeDelivery",
                          "Ignite::CodeDelivery: how code reaches the container.")
      .value("Auto", CodeDelivery::Auto)
      .value("Mount", CodeDelivery::Mount)
      .value("Baked", CodeDelivery::Baked);
  py::enum_<CheckStatus>(m, "CheckStatus", "Ignite::CheckStatus of a preflight check.")
      .value("Pass", CheckStatus::Pass)
      .value("Warn", CheckStatus::Warn)
      .value("Fail", CheckStatus::Fail);
  py::enum_<WarningLevel>(m, "WarningLevel", "Ignite::WarningLevel of a report warning.")
      .value("Info", WarningLevel::Info)
      .value("Warning", WarningLevel::Warning)
      .value("Critical", WarningLevel::Critical);
  py::enum_<ContainerStart>(m, "ContainerStart",
                            "Ignite::ContainerStart: how an execution's container was obtained.")
      .value("Cold", ContainerStart::Cold)
      .value("Warm", ContainerStart::Warm)
      .value("Reused", ContainerStart::Reused);
  // Overloads of the ErrorCode one in register_errors.cpp.
  m.def(
      "to_string", [](Outcome o) { return std::string(to_string(o)); }, py::arg("outcome"),
      "\"success\", \"error\", \"timeout\", \"memory_limit\", \"output_limit\", \"cancelled\", "
      "\"cpu_limit\".");
  m.def(
      "to_string", [](CheckStatus s) { return std::string(to_string(s)); }, py::arg("status"),
      "\"pass\", \"warn\", \"fail\".");
  m.def(
      "to_string", [](WarningLevel l) { return std::string(to_string(l)); }, py::arg("level"),
      "\"info\", \"warning\", \"critical\".");
  m.def(
      "to_string", [](ContainerStart s) { return std::string(to_string(s)); }, py::arg("start"),
      "\"cold\", \"warm\", \"reused\".");
}

void register_service(py::module_& m) {
  py::class_<ServiceConfig> config(m, "ServiceConfig",
                                   "service.yaml's `service:` block, validated.");
  config.def_readonly("name", &ServiceConfig::name)
      .def_readonly("runtime", &ServiceConfig::runtime)
      .def_readonly("entry", &ServiceConfig::entry)
      .def_readonly("memory_mb", &ServiceConfig::memory_mb)
      .def_readonly("cpu_limit", &ServiceConfig::cpu_limit)
      .def_readonly("timeout_ms", &ServiceConfig::timeout_ms)
      .def_readonly("cpu_time_ms", &ServiceConfig::cpu_time_ms)
      .def_readonly("network", &ServiceConfig::network)
      .def_readonly("env", &ServiceConfig::env)
      .def_readonly("reuse", &ServiceConfig::reuse)
      .def_property_readonly(
          "preflight", [](const ServiceConfig& c) { return preflight_config(c.preflight); },
          "The `preflight:` thresholds that were set, keyed as in service.yaml.");
  def_to_json<ServiceConfig>(config);

  py::class_<Service>(m, "Service", "A loaded, validated service directory (immutable).")
      .def_readonly("config", &Service::config)
      .def_readonly("path", &Service::path)
      .def_readonly("entry_path", &Service::entry_path)
      .def_readonly("has_node_modules", &Service::has_node_modules)
      .def_readonly("node_modules_size", &Service::node_modules_size)
      .def_readonly("dependency_count", &Service::dependency_count);

  m.def(
      "load_service", [](const std::filesystem::path& dir) { return load_service(dir); },
      py::arg("dir"), py::call_guard<py::gil_scoped_release>(),
      "Loads and validates <dir>/service.yaml against the built-in runtimes.");
  m.def(
      "validate_name", [](std::string_view name) { return validate_name(name); }, py::arg("name"),
      "The problem with a service name, or None when it is valid.");
  m.def(
      "is_valid_env_name", [](std::string_view name) { return is_valid_env_name(name); },
      py::arg("name"), "Whether `name` is a portable environment variable name.");
}

void register_execution(py::module_& m) {
  m.attr("DEFAULT_OUTPUT_LIMIT") = kDefaultOutputLimit;
  m.attr("MAX_ENV_INPUT") = kMaxEnvInput;

  py::enum_<Isolation>(m, "Isolation", "Ignite::Isolation: the container runtime of a policy.")
      .value("Runc", Isolation::Runc)
      .value("Gvisor", Isolation::Gvisor);
  py::class_<PolicyLimits>(m, "PolicyLimits", "A policy's resource limits (None: not set).")
      .def_readonly("pids", &PolicyLimits::pids)
      .def_readonly("open_files", &PolicyLimits::open_files)
      .def_readonly("file_size_mb", &PolicyLimits::file_size_mb)
      .def_readonly("tmpfs_mb", &PolicyLimits::tmpfs_mb)
      .def_readonly("output_bytes", &PolicyLimits::output_bytes);
  py::class_<SecurityPolicy> policy(m, "SecurityPolicy", "A service's security policy.");
  policy.def_readonly("network_enabled", &SecurityPolicy::network_enabled)
      .def_readonly("filesystem_read_only", &SecurityPolicy::filesystem_read_only)
      .def_readonly("allow_spawn", &SecurityPolicy::allow_spawn)
      .def_readonly("allowed_commands", &SecurityPolicy::allowed_commands)
      .def_readonly("isolation", &SecurityPolicy::isolation)
      .def_readonly("limits", &SecurityPolicy::limits)
      .def_readonly("source", &SecurityPolicy::source);
  def_to_json<SecurityPolicy>(policy);
  m.def(
      "load_policy", [](const std::filesystem::path& dir) { return load_policy(dir); },
      py::arg("service_dir"), "The service directory's policy file, else the default policy.");

  py::class_<SecurityEvent> event(m, "SecurityEvent", "One observed security-relevant event.");
  event.def_readonly("type", &SecurityEvent::type)
      .def_readonly("action", &SecurityEvent::action)
      .def_readonly("target", &SecurityEvent::target)
      .def_readonly("allowed", &SecurityEvent::allowed)
      .def_readonly("timestamp", &SecurityEvent::timestamp)
      .def_readonly("details", &SecurityEvent::details);
  def_to_json<SecurityEvent>(event);

  py::class_<SecurityAudit> audit(m, "SecurityAudit", "Policy and events of an audit-mode run.");
  audit.def_readonly("policy", &SecurityAudit::policy)
      .def_readonly("events", &SecurityAudit::events);
  def_to_json<SecurityAudit>(audit);

  py::class_<PhaseTimings>(m, "PhaseTimings",
                           "Milliseconds (to the microsecond) spent in each phase of a run.")
      .def_property_readonly("build_ms", [](const PhaseTimings& p) { return ms(p.build); })
      .def_property_readonly("create_ms", [](const PhaseTimings& p) { return ms(p.create); })
      .def_property_readonly("start_ms", [](const PhaseTimings& p) { return ms(p.start); })
      .def_property_readonly("run_ms", [](const PhaseTimings& p) { return ms(p.run); })
      .def_property_readonly("cleanup_ms", [](const PhaseTimings& p) { return ms(p.cleanup); });

  py::class_<ExecutionResult> result(m, "ExecutionResult", "What one execution produced.");
  result.def_readonly("service_name", &ExecutionResult::service_name)
      .def_readonly("runtime", &ExecutionResult::runtime)
      .def_readonly("image", &ExecutionResult::image)
      .def_readonly("outcome", &ExecutionResult::outcome)
      .def_readonly("exit_code", &ExecutionResult::exit_code)
      .def_property_readonly(
          "stdout_text", [](const ExecutionResult& r) { return decode_text(r.stdout_text); },
          "stdout decoded as UTF-8 (invalid bytes become U+FFFD).")
      .def_property_readonly(
          "stderr_text", [](const ExecutionResult& r) { return decode_text(r.stderr_text); },
          "stderr decoded as UTF-8 (invalid bytes become U+FFFD).")
      .def_property_readonly(
          "stdout_bytes", [](const ExecutionResult& r) { return py::bytes(r.stdout_text); },
          "stdout exactly as captured.")
      .def_property_readonly(
          "stderr_bytes", [](const ExecutionResult& r) { return py::bytes(r.stderr_text); },
          "stderr exactly as captured.")
      .def_readonly("stdout_truncated", &ExecutionResult::stdout_truncated)
      .def_readonly("stderr_truncated", &ExecutionResult::stderr_truncated)
      .def_readonly("oom_killed", &ExecutionResult::oom_killed)
      .def_readonly("memory_peak_mb", &ExecutionResult::memory_peak_mb)
      .def_readonly("cold_start", &ExecutionResult::cold_start)
      .def_readonly("container_start", &ExecutionResult::container_start)
      .def_readonly("container_id", &ExecutionResult::container_id)
      .def_readonly("container_job", &ExecutionResult::container_job)
      .def_readonly("audit", &ExecutionResult::audit)
      .def_property_readonly(
          "duration_ms", [](const ExecutionResult& r) { return ms(r.duration); },
          "Wall time, create through cleanup, in milliseconds to the microsecond.")
      .def_property_readonly(
          "cpu_time_ms",
          [](const ExecutionResult& r) -> std::optional<double> {
            if (!r.cpu_time) return std::nullopt;
            return ms(*r.cpu_time);
          },
          "CPU time (user + system) of the container's processes in milliseconds to the "
          "microsecond (this job's share in a pooled container); None when not observable.")
      .def_readonly("phases", &ExecutionResult::phases)
      .def_readonly("delivery", &ExecutionResult::delivery)
      .def_readonly("delivery_note", &ExecutionResult::delivery_note)
      .def_property_readonly(
          "placement",
          [](const ExecutionResult& r) {
            py::dict d;
            d["backend"] = r.placement.backend;
            d["host"] = r.placement.host;
            if (r.placement.backend == "swarm") {
              d["node"] = r.placement.node;
              d["task"] = r.placement.task;
            }
            return d;
          },
          "Where the job ran: backend, host and, on a swarm, node and task ids.");
  def_to_json<ExecutionResult>(result);
}

void register_preflight_and_report(py::module_& m) {
  py::class_<PreflightCheck> check(m, "PreflightCheck", "One preflight check's verdict.");
  check.def_readonly("name", &PreflightCheck::name)
      .def_readonly("status", &PreflightCheck::status)
      .def_readonly("message", &PreflightCheck::message)
      .def_readonly("value", &PreflightCheck::value)
      .def_readonly("threshold", &PreflightCheck::threshold);
  def_to_json<PreflightCheck>(check);

  py::class_<PreflightResult> preflight(m, "PreflightResult", "All preflight checks of a service.");
  preflight.def_readonly("service_name", &PreflightResult::service_name)
      .def_readonly("timestamp", &PreflightResult::timestamp)
      .def_readonly("checks", &PreflightResult::checks)
      .def_readonly("overall", &PreflightResult::overall)
      .def(
          "to_text",
          [](const PreflightResult& r, bool color) { return format_preflight_text(r, color); },
          py::arg("color") = false, "The `ignite preflight` listing (format_preflight_text).");
  def_to_json<PreflightResult>(preflight);

  py::class_<Warning> warning(m, "Warning", "A report warning with an optional suggestion.");
  warning.def_readonly("level", &Warning::level)
      .def_readonly("message", &Warning::message)
      .def_readonly("suggestion", &Warning::suggestion);
  def_to_json<Warning>(warning);

  py::class_<ExecutionReport> report(m, "ExecutionReport",
                                     "A preflight, the execution that followed, and warnings.");
  report.def_readonly("service_name", &ExecutionReport::service_name)
      .def_readonly("timestamp", &ExecutionReport::timestamp)
      .def_readonly("preflight", &ExecutionReport::preflight)
      .def_readonly("execution", &ExecutionReport::execution)
      .def_readonly("warnings", &ExecutionReport::warnings)
      .def(
          "to_text",
          [](const ExecutionReport& r, bool color) {
            return decode_text(format_report_text(r, color));
          },
          py::arg("color") = false, "The plain-text report (format_report_text).");
  def_to_json<ExecutionReport>(report);
}

void register_lock(py::module_& m) {
  m.attr("LOCK_FILE_NAME") = std::string(kLockFileName);
  py::class_<LockManifest>(m, "LockManifest", "ignite.lock's content.")
      .def_readonly("version", &LockManifest::version)
      .def_readonly("runtime_name", &LockManifest::runtime_name)
      .def_readonly("runtime_version", &LockManifest::runtime_version)
      .def_readonly("base_image_id", &LockManifest::base_image_id)
      .def_readonly("lockfile", &LockManifest::lockfile)
      .def_readonly("checksums", &LockManifest::checksums)
      .def_readonly("created_at", &LockManifest::created_at)
      .def("runtime_spec", &LockManifest::runtime_spec);
  py::class_<DriftReport>(m, "DriftReport", "How a service differs from its ignite.lock.")
      .def_readonly("manifest", &DriftReport::manifest)
      .def_readonly("locked", &DriftReport::locked)
      .def_readonly("drift", &DriftReport::drift)
      .def_readonly("details", &DriftReport::details)
      .def(
          "to_text", [](const DriftReport& d) { return format_environment_info(d); },
          "The environment summary (format_environment_info).");
  m.def(
      "write_lock",
      [](const std::filesystem::path& dir, const LockManifest& manifest) {
        write_lock(dir, manifest);
      },
      py::arg("dir"), py::arg("manifest"), py::call_guard<py::gil_scoped_release>(),
      "Writes <dir>/ignite.lock atomically.");
  m.def(
      "read_lock", [](const std::filesystem::path& dir) { return read_lock(dir); }, py::arg("dir"),
      py::call_guard<py::gil_scoped_release>(),
      "Reads <dir>/ignite.lock; None when there is none.");
}

void register_runtimes(py::module_& m) {
  py::class_<RuntimeVersion>(m, "RuntimeVersion", "One version of a runtime and its image.")
      .def(py::init([](std::string version, std::string image) {
             return RuntimeVersion{std::move(version), std::move(image)};
           }),
           py::arg("version"), py::arg("image"))
      .def_readwrite("version", &RuntimeVersion::version)
      .def_readwrite("image", &RuntimeVersion::image);

  py::class_<Runtime>(m, "Runtime", "A runtime definition (see runtimes.yaml).")
      .def(py::init([](std::string name, std::vector<RuntimeVersion> versions,
                       std::string default_version, std::string default_entry,
                       std::vector<std::string> file_extensions, std::vector<std::string> command,
                       std::vector<std::string> module_command) {
             Runtime r;
             r.name = std::move(name);
             r.versions = std::move(versions);
             r.default_version = std::move(default_version);
             r.default_entry = std::move(default_entry);
             r.file_extensions = std::move(file_extensions);
             r.command = std::move(command);
             r.module_command = std::move(module_command);
             return r;
           }),
           py::kw_only(), py::arg("name"), py::arg("versions"), py::arg("default_version"),
           py::arg("default_entry") = "index.js",
           py::arg("file_extensions") = std::vector<std::string>{},
           py::arg("command") = std::vector<std::string>{},
           py::arg("module_command") = std::vector<std::string>{})
      .def_readwrite("name", &Runtime::name)
      .def_readwrite("versions", &Runtime::versions)
      .def_readwrite("default_version", &Runtime::default_version)
      .def_readwrite("default_entry", &Runtime::default_entry)
      .def_readwrite("file_extensions", &Runtime::file_extensions)
      .def_readwrite("command", &Runtime::command)
      .def_readwrite("module_command", &Runtime::module_command);

  py::class_<ResolvedRuntime>(m, "ResolvedRuntime", "A runtime spec resolved to one image.")
      .def_readonly("name", &ResolvedRuntime::name)
      .def_readonly("version", &ResolvedRuntime::version)
      .def_readonly("image", &ResolvedRuntime::image)
      .def_readonly("command", &ResolvedRuntime::command)
      .def_readonly("module_command", &ResolvedRuntime::module_command)
      .def("argv", &ResolvedRuntime::argv, py::arg("entry"), py::arg("app_dir") = "/app",
           "Full argv to run `entry` from a container whose service directory is `app_dir`.")
      .def("spec", &ResolvedRuntime::spec, "\"name@version\".");

  py::class_<RuntimeSpec>(m, "RuntimeSpec", "`name[@version]`.")
      .def_static("parse", &RuntimeSpec::parse, py::arg("spec"))
      .def_readonly("name", &RuntimeSpec::name)
      .def_readonly("version", &RuntimeSpec::version)
      .def("str", &RuntimeSpec::str);

  py::class_<RuntimeRegistry>(m, "RuntimeRegistry", "Runtimes, their versions and images.")
      .def(py::init<>())
      .def_static("builtins", &RuntimeRegistry::builtins, "bun, node, deno and quickjs.")
      .def("add", &RuntimeRegistry::add, py::arg("runtime"))
      .def("remove", &RuntimeRegistry::remove, py::arg("name"))
      .def("load_file", &RuntimeRegistry::load_file, py::arg("path"))
      .def(
          "find",
          [](const RuntimeRegistry& r, std::string_view name) -> std::optional<Runtime> {
            const Runtime* rt = r.find(name);
            if (rt == nullptr) return std::nullopt;
            return *rt;
          },
          py::arg("name"), "A copy of the named runtime, or None.")
      .def("names", &RuntimeRegistry::names)
      .def("all", &RuntimeRegistry::all)
      .def("resolve", &RuntimeRegistry::resolve, py::arg("spec"))
      .def("is_valid", &RuntimeRegistry::is_valid, py::arg("spec"));
}

}  // namespace

void register_models(py::module_& m) {
  register_enums(m);
  register_service(m);
  register_execution(m);
  register_preflight_and_report(m);
  register_lock(m);
  register_runtimes(m);
}

}  // namespace Ignite::python
