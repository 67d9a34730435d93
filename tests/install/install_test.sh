#!/usr/bin/env bash
# tools/install on prebuilt artifacts (running Bazel inside a Bazel test would deadlock), then
# the installed prefix used the way outside projects use it: a C program built with
# `gcc $(pkg-config --cflags --libs ignite)`, and a CMake project with find_package(Ignite)
# using Ignite::ignite (C++) and Ignite::ignite_c (C). Each runs a real service on the daemon.
set -euo pipefail
R="$TEST_SRCDIR/$TEST_WORKSPACE"
T=$(mktemp -d "${TEST_TMPDIR:-/tmp}/install.XXXXXX")
PREFIX="$T/prefix"
checks=0
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
ok() {
  checks=$((checks + 1))
  echo "ok $checks - $*"
}
# The real directory of an example service: the daemon cannot bind-mount runfiles symlinks.
service_dir() { dirname "$(readlink -f "$R/examples/services/$1/service.yaml")"; }
expect_output() {  # name, expected substring, command...
  local name=$1 want=$2 out
  shift 2
  out=$("$@" 2>&1) || fail "$name exited $?: $out"
  grep -qF -- "$want" <<<"$out" || fail "$name: no '$want' in: $out"
  grep -qF -- "outcome: success" <<<"$out" || fail "$name: not a success: $out"
  ok "$name"
}

"$R/tools/installer/install.sh" --prefix "$PREFIX" --from-bazel-bin "$R" --source-dir "$R"
ok "tools/install --from-bazel-bin"

for f in include/ignite.h include/ignite/ignite.hpp include/ignite/engine.hpp \
  include/ignite/error.hpp include/ignite/export.hpp include/ignite/json.hpp \
  lib/libignite.so.0.1.0 lib/libignite_cpp.so.0.1.0 lib/pkgconfig/ignite.pc \
  lib/pkgconfig/ignite-cpp.pc lib/cmake/Ignite/IgniteConfig.cmake \
  lib/cmake/Ignite/IgniteConfigVersion.cmake; do
  [ -f "$PREFIX/$f" ] || fail "$f not installed"
done
[ "$(readlink "$PREFIX/lib/libignite.so")" = libignite.so.0 ] || fail "libignite.so symlink"
[ "$(readlink "$PREFIX/lib/libignite.so.0")" = libignite.so.0.1.0 ] || fail "libignite.so.0 symlink"
readelf -d "$PREFIX/lib/libignite.so.0.1.0" | grep -q 'SONAME.*\[libignite\.so\.0\]' || fail "SONAME"
readelf -d "$PREFIX/lib/libignite_cpp.so.0.1.0" | grep -q 'SONAME.*\[libignite_cpp\.so\.0\]' ||
  fail "SONAME of libignite_cpp"
others=$(nm -D --defined-only "$PREFIX/lib/libignite.so" | awk '{print $NF}' | grep -v '^ignite_' || true)
[ -z "$others" ] || fail "installed libignite.so exports: $others"
ok "layout, symlinks, SONAMEs, exports"

export PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig"
[ "$(pkg-config --modversion ignite)" = "0.1.0" ] || fail "pkg-config --modversion ignite"
# shellcheck disable=SC2046
gcc -std=c99 -Wall -Wextra -Werror -pedantic "$R/examples/c/hello.c" -o "$T/hello_c" \
  $(pkg-config --cflags --libs ignite)
ok "C consumer built with pkg-config"
expect_output "C consumer runs hello-node" "Hello, pkg-config!" \
  env LD_LIBRARY_PATH="$PREFIX/lib" "$T/hello_c" "$(service_dir hello-node)" '{"name":"pkg-config"}'

cmake -S "$R/tests/install/cmake_consumer" -B "$T/build" -DCMAKE_PREFIX_PATH="$PREFIX" \
  -DIGNITE_HELLO_C="$R/examples/c/hello.c" >"$T/cmake.log" 2>&1 || { cat "$T/cmake.log"; fail "cmake configure"; }
cmake --build "$T/build" >>"$T/cmake.log" 2>&1 || { cat "$T/cmake.log"; fail "cmake build"; }
ok "CMake consumer built with find_package(Ignite)"
# RUNPATH from CMake finds the libraries: no LD_LIBRARY_PATH.
expect_output "C++ consumer (Ignite::ignite) runs hello-quickjs" "Hello, CMake!" \
  "$T/build/cpp_consumer" "$(service_dir hello-quickjs)" '{"name":"CMake"}'
expect_output "C consumer (Ignite::ignite_c) runs hello-node" "Hello, CMake C!" \
  "$T/build/c_consumer" "$(service_dir hello-node)" '{"name":"CMake C"}'

# The version file refuses an incompatible request.
mkdir -p "$T/v"
cat >"$T/v/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.16)
project(v NONE)
find_package(Ignite 0.2 QUIET)
if(Ignite_FOUND)
  message(FATAL_ERROR "Ignite 0.2 must not match an installed 0.1.0")
endif()
CM
cmake -S "$T/v" -B "$T/v/build" -DCMAKE_PREFIX_PATH="$PREFIX" >"$T/v.log" 2>&1 ||
  { cat "$T/v.log"; fail "version check"; }
ok "find_package(Ignite 0.2) rejects 0.1.0"

rm -rf "$T"
echo "$checks checks passed"
