// File: bindings/python/register_errors.cpp
//
// `IgniteError` and one subclass per Ignite::ErrorCode, plus the one translator that turns an
// Ignite::Error thrown by any _core function into an instance of its code's class. Every
// instance carries `.code` (the stable string of Ignite::to_string(ErrorCode)), `.message`
// (the bare message) and `.status_code` (the Engine API's HTTP status, or None); str(e) is
// the tagged text of Error::what(): "[ignite.config] ...".
#include <pybind11/eval.h>

#include <array>
#include <string>
#include <utility>

#include "bindings/python/register.hpp"
#include "ignite/error.hpp"

namespace Ignite::python {
namespace {

// Base class in Python, so that it has a real __init__/__str__/__reduce__ and can also be
// raised from Python code with a message alone.
constexpr const char* kBaseSource = R"PY(
class IgniteError(Exception):
    """Base class of every error Ignite raises.

    Attributes:
        code: stable lowercase name of the error code ("config", "docker_unavailable", ...),
            the same string the C++ API's ``Ignite::to_string(ErrorCode)`` returns.
        message: the message without the "[ignite.<code>]" tag.
        status_code: HTTP status of the Docker Engine API reply (DockerError, NotFoundError),
            else None.
    """

    code = None

    def __init__(self, message="", status_code=None):
        super().__init__(message)
        self.message = message
        self.status_code = status_code

    def __str__(self):
        return f"[ignite.{self.code}] {self.message}" if self.code else str(self.message)

    def __reduce__(self):
        return (type(self), (self.message, self.status_code))
)PY";

struct ErrorClass {
  ErrorCode code;
  const char* name;
  const char* extra_base;  // a builtin the class also derives from, or nullptr
  const char* doc;
};

constexpr std::array<ErrorClass, 13> kClasses{{
    {ErrorCode::Config, "ConfigError", nullptr,
     "service.yaml, runtimes.yaml, a policy file or an option is invalid."},
    {ErrorCode::Service, "ServiceError", nullptr,
     "The service directory or its entry file is missing or unreadable."},
    {ErrorCode::Runtime, "RuntimeNotFoundError", nullptr,
     "Unknown runtime, unsupported runtime version, or its base image is missing\n"
     "(ErrorCode::Runtime; named so that it does not shadow the builtin RuntimeError)."},
    {ErrorCode::Build, "BuildError", nullptr, "The per-service image build failed."},
    {ErrorCode::DockerUnavailable, "DockerUnavailableError", "ConnectionError",
     "No Docker daemon answers on the configured socket."},
    {ErrorCode::Docker, "DockerError", nullptr,
     "The Docker daemon answered with an error; `status_code` holds the HTTP status."},
    {ErrorCode::Execution, "ExecutionError", nullptr,
     "A container could not be created, started or observed."},
    {ErrorCode::Preflight, "PreflightError", nullptr,
     "Preflight failed and the caller asked to block on failure."},
    {ErrorCode::Lock, "LockError", nullptr, "ignite.lock is missing, malformed or out of date."},
    {ErrorCode::NotFound, "NotFoundError", nullptr,
     "A named object (service, image, container) does not exist."},
    {ErrorCode::InvalidArgument, "InvalidArgumentError", "ValueError",
     "A bad argument from the caller (invalid input JSON, env name, limit ...)."},
    {ErrorCode::Cancelled, "CancelledError", nullptr, "The caller cancelled the operation."},
    {ErrorCode::Internal, "InternalError", nullptr, "A bug in Ignite."},
}};
static_assert(static_cast<int>(ErrorCode::Internal) + 1 == static_cast<int>(kClasses.size()),
              "one Python class per ErrorCode");

// Strong references owned for the life of the process: the module is never unloaded, and
// dropping them at interpreter teardown would race the translator.
std::array<PyObject*, kClasses.size()> g_classes{};
PyObject* g_base = nullptr;

constexpr bool table_in_code_order() {
  for (std::size_t i = 0; i < kClasses.size(); ++i) {
    if (static_cast<std::size_t>(kClasses[i].code) != i) return false;
  }
  return true;
}
static_assert(table_in_code_order(), "kClasses is indexed by ErrorCode");

void set_python_error(const Error& e) {
  const auto index = static_cast<std::size_t>(e.code());
  PyObject* cls = index < g_classes.size() ? g_classes[index] : g_base;
  py::object status = e.http_status() != 0 ? py::object(py::int_(e.http_status())) : py::none();
  py::object instance = py::reinterpret_borrow<py::object>(cls)(decode_text(e.message()), status);
  PyErr_SetObject(cls, instance.ptr());
}

}  // namespace

void register_errors(py::module_& m) {
  py::enum_<ErrorCode>(m, "ErrorCode", "Ignite::ErrorCode (see the exception classes).")
      .value("Config", ErrorCode::Config)
      .value("Service", ErrorCode::Service)
      .value("Runtime", ErrorCode::Runtime)
      .value("Build", ErrorCode::Build)
      .value("DockerUnavailable", ErrorCode::DockerUnavailable)
      .value("Docker", ErrorCode::Docker)
      .value("Execution", ErrorCode::Execution)
      .value("Preflight", ErrorCode::Preflight)
      .value("Lock", ErrorCode::Lock)
      .value("NotFound", ErrorCode::NotFound)
      .value("InvalidArgument", ErrorCode::InvalidArgument)
      .value("Cancelled", ErrorCode::Cancelled)
      .value("Internal", ErrorCode::Internal);

  py::dict scope;
  scope["__builtins__"] = py::module_::import("builtins");
  scope["__name__"] = m.attr("__name__");
  py::exec(kBaseSource, scope);
  py::object base = scope["IgniteError"];
  g_base = base.inc_ref().ptr();
  m.attr("IgniteError") = base;

  py::module_ builtins = py::module_::import("builtins");
  py::object make_type = builtins.attr("type");
  py::dict by_code;
  for (std::size_t i = 0; i < kClasses.size(); ++i) {
    const ErrorClass& c = kClasses[i];
    py::tuple bases =
        c.extra_base ? py::make_tuple(base, builtins.attr(c.extra_base)) : py::make_tuple(base);
    py::dict ns;
    ns["code"] = std::string(to_string(c.code));
    ns["__doc__"] = c.doc;
    ns["__module__"] = m.attr("__name__");
    py::object cls = make_type(c.name, bases, ns);
    g_classes[i] = cls.inc_ref().ptr();
    m.attr(c.name) = cls;
    by_code[py::str(std::string(to_string(c.code)))] = cls;
  }
  m.attr("ERROR_CLASSES") = by_code;

  py::register_local_exception_translator([](std::exception_ptr p) {
    if (!p) return;
    try {
      std::rethrow_exception(p);
    } catch (const Error& e) {
      set_python_error(e);
    }
  });

  m.def(
      "to_string", [](ErrorCode code) { return std::string(to_string(code)); }, py::arg("code"),
      "Stable lowercase name of an error code (\"config\", \"docker_unavailable\" ...).");
  m.def(
      "throw_error",
      [](ErrorCode code, const std::string& message, int http_status) {
        throw Error(code, message, http_status);
      },
      py::arg("code"), py::arg("message"), py::arg("http_status") = 0,
      "Throws Ignite::Error(code, message, http_status) in C++, through the translator (for "
      "tests of the error mapping).");
}

}  // namespace Ignite::python
