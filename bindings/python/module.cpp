// File: bindings/python/module.cpp
//
// `ignite._core`: the private extension module under the `ignite` package. It mirrors the C++
// API one-to-one (Engine, Service, ExecutionResult ... and one exception class per ErrorCode);
// the Pythonic surface (keyword-only arguments, context manager, dataclasses) lives in
// bindings/python/ignite/*.py.
#include <pybind11/pybind11.h>

#include <string>

#include "bindings/python/register.hpp"
#include "ignite/version.hpp"

namespace Ignite::python {

py::str decode_text(std::string_view text) {
  PyObject* s = PyUnicode_DecodeUTF8(text.data(), static_cast<Py_ssize_t>(text.size()), "replace");
  if (s == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(s);
}

}  // namespace Ignite::python

PYBIND11_MODULE(_core, m) {
  m.doc() = "Ignite's C++ API, mirrored one-to-one (private: use the `ignite` package).";
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
