// File: bindings/python/register.hpp
//
// The pieces of `ignite_sandbox._core`, one register function per area (boost-histogram's layout):
// errors, value types (models) and the Engine. module.cpp calls them in that order, since the
// engine's signatures mention the model types.
#pragma once

#include <pybind11/pybind11.h>

#include <string_view>

namespace Ignite::python {

namespace py = pybind11;

void register_errors(py::module_& m);
void register_models(py::module_& m);
void register_engine(py::module_& m);

// Service output and file contents are bytes that are usually, but not always, UTF-8: decode
// with U+FFFD replacement instead of failing the whole call on one bad byte.
py::str decode_text(std::string_view text);

}  // namespace Ignite::python
