// File: ignite/export.hpp
//
// Symbol visibility for types that must be catchable or usable across shared-object
// boundaries (for example `Ignite::Error` thrown inside libignite.so and caught by a host
// application built with -fvisibility=hidden). Thread-safety: a macro only.
#pragma once

#define IGNITE_EXPORT __attribute__((visibility("default")))
