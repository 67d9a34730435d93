// File: bindings/python/module.cpp
//
// `ignite_sandbox._core`: the private extension module under the `ignite_sandbox` package. It
// mirrors the C++ API one-to-one (Engine, Service, ExecutionResult ... and one exception class
// per ErrorCode); the Pythonic surface (keyword-only arguments, context manager, dataclasses,
// asyncio) lives in bindings/python/ignite_sandbox/*.py.
#include <pybind11/pybind11.h>

#include <string>

#include "bindings/python/register.hpp"
#include "ignite/version.hpp"

// The Python ABI these objects were compiled for (CPython's headers), as a string a packager can
// find in the file without loading it (setup.py does, so that a wheel is tagged for the ABI of
// its _core.so, never for whichever interpreter happens to run the packaging). "d": a debug
// build of CPython.
#define IGNITE_STR2(x) #x
#define IGNITE_STR(x) IGNITE_STR2(x)
#ifdef Py_DEBUG
#define IGNITE_PY_DEBUG "d"
#else
#define IGNITE_PY_DEBUG ""
#endif
extern "C" __attribute__((used)) const char ignite_python_abi[] =
    "IGNITE_PYTHON_ABI=cpython-" IGNITE_STR(PY_MAJOR_VERSION) IGNITE_STR(PY_MINOR_VERSION)
        IGNITE_PY_DEBUG ";";

namespace Ignite::python {

py::str decode_text(std::string_view text) {
  PyObject* s = PyUnicode_DecodeUTF8(text.data(), static_cast<Py_ssize_t>(text.size()), "replace");
  if (s == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(s);
}

}  // namespace Ignite::python

PYBIND11_MODULE(_core, m) {
  m.doc() = "Ignite's C++ API, mirrored one-to-one (private: use the `ignite_sandbox` package).";
  // "cpython-311": the ABI tag this module was compiled for (see ignite_python_abi).
  m.attr("PYTHON_ABI") = std::string(ignite_python_abi + 18, sizeof(ignite_python_abi) - 20);
  m.attr("__version__") = std::string(Ignite::version());
  m.attr("VERSION_MAJOR") = IGNITE_VERSION_MAJOR;
  m.attr("VERSION_MINOR") = IGNITE_VERSION_MINOR;
  m.attr("VERSION_PATCH") = IGNITE_VERSION_PATCH;
  m.def(
      "version", [] { return std::string(Ignite::version()); },
      "Version of the Ignite library linked into this module.");
  Ignite::python::register_errors(m);
  Ignite::python::register_models(m);
  Ignite::python::register_engine(m);
}
