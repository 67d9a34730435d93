// Text helpers shared by preflight, report and lock: numbers printed the way JavaScript prints
// them (the reference's message strings are template literals) and ISO-8601 timestamps; and the
// random names of containers, sessions and temporary files (random_hex).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace Ignite::detail {

// Number.prototype.toString: 128 (not 128.0), 0.5, 1e+21, 1e-7, NaN, Infinity.
std::string js_number(double value);

// Math.round: halves round towards +infinity (-2.5 -> -2).
double js_round(double value);

// Date.prototype.toISOString: "2026-01-24T10:15:30.123Z" (UTC, milliseconds).
std::string iso8601_utc(std::chrono::system_clock::time_point when);
std::string iso8601_now();

// Items separated by `sep` ("a, b, c"), as the reference's error lists are joined.
std::string join(const std::vector<std::string>& items, std::string_view sep);

// `n` random lowercase hex digits (a per-thread generator, not for secrets: audit_nonce() is).
std::string random_hex(std::size_t n);

// Whole microseconds from `t0` to now (phase timings).
std::chrono::microseconds since(std::chrono::steady_clock::time_point t0);

}  // namespace Ignite::detail
