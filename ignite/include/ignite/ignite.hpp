// File: ignite/ignite.hpp
//
// Umbrella header: everything a host application needs. Thread-safety is stated per header
// (the Engine is thread-safe; value types are safe to share while nobody modifies them).
#pragma once

#include "ignite/engine.hpp"
#include "ignite/error.hpp"
#include "ignite/execution.hpp"
#include "ignite/lock.hpp"
#include "ignite/policy.hpp"
#include "ignite/preflight.hpp"
#include "ignite/report.hpp"
#include "ignite/runtime.hpp"
#include "ignite/service.hpp"
#include "ignite/version.hpp"
