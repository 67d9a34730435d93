"""Compiler flags shared by every Ignite target (one place, as abseil does)."""

IGNITE_COPTS = [
    "-std=c++20",
    "-Wall",
    "-Wextra",
    "-Werror",
]

IGNITE_TEST_COPTS = IGNITE_COPTS + ["-Wno-sign-compare"]
