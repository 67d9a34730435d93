#!/usr/bin/env bash
# Installs Ignite for users outside this repository (see tools/install --help).
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: tools/install --prefix DIR [--from-bazel-bin DIR] [--source-dir DIR]

Builds //tools/installer:artifacts with Bazel and installs under DIR:
  include/ignite.h, include/ignite/*.hpp     the C API and the C++ API headers
  lib/libignite.so.X.Y.Z (+ .so.0, .so)      the C API (exports only ignite_*)
  lib/libignite_cpp.so.X.Y.Z (+ .so.0, .so)  the C++ API (Ignite::Engine ...)
  lib/pkgconfig/ignite.pc, ignite-cpp.pc
  lib/cmake/Ignite/IgniteConfig.cmake, IgniteConfigVersion.cmake
      find_package(Ignite) -> Ignite::ignite (C++), Ignite::ignite_c (C)

  --from-bazel-bin DIR  skip the build: take the libraries from DIR (a bazel-bin, or a runfiles
                        tree holding capi/libignite.so and tools/installer/libignite_cpp.so)
  --source-dir DIR      where capi/include/ and ignite/include/ are (default: this checkout)
USAGE
}

SELF=$(readlink -f "${BASH_SOURCE[0]}")
ROOT=$(cd "$(dirname "$SELF")/../.." && pwd)
PREFIX=""
BIN=""
SRC="$ROOT"
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX=${2:?--prefix needs a directory}; shift 2 ;;
    --prefix=*) PREFIX=${1#*=}; shift ;;
    --from-bazel-bin) BIN=${2:?--from-bazel-bin needs a directory}; shift 2 ;;
    --from-bazel-bin=*) BIN=${1#*=}; shift ;;
    --source-dir) SRC=${2:?--source-dir needs a directory}; shift 2 ;;
    --source-dir=*) SRC=${1#*=}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
if [ -z "$PREFIX" ]; then
  echo "install: --prefix DIR is required" >&2
  usage >&2
  exit 2
fi
mkdir -p "$PREFIX"
PREFIX=$(cd "$PREFIX" && pwd)

if [ -z "$BIN" ]; then
  echo "[install] bazel build //tools/installer:artifacts" >&2
  (cd "$ROOT" && bazel build //tools/installer:artifacts)
  BIN=$(cd "$ROOT" && bazel info bazel-bin 2>/dev/null)
fi

header="$SRC/capi/include/ignite.h"
[ -f "$header" ] || { echo "install: $header not found (--source-dir?)" >&2; exit 1; }
VERSION=$(sed -n 's/^#define IGNITE_C_VERSION "\(.*\)"$/\1/p' "$header")
SOVERSION=$(sed -n 's/^#define IGNITE_C_SOVERSION \([0-9]*\)$/\1/p' "$header")
[ -n "$VERSION" ] && [ -n "$SOVERSION" ] || { echo "install: no version in $header" >&2; exit 1; }

for f in "$BIN/capi/libignite.so" "$BIN/tools/installer/libignite_cpp.so"; do
  [ -f "$f" ] || { echo "install: $f not found (build //tools/installer:artifacts)" >&2; exit 1; }
done

echo "[install] Ignite $VERSION -> $PREFIX" >&2
install -d "$PREFIX/include/ignite" "$PREFIX/lib/pkgconfig" "$PREFIX/lib/cmake/Ignite"
install -m 0644 "$header" "$PREFIX/include/ignite.h"
install -m 0644 "$SRC"/ignite/include/ignite/*.hpp "$PREFIX/include/ignite/"

# lib<name>.so.X.Y.Z, lib<name>.so.SOVERSION -> it, lib<name>.so -> that.
install_lib() {
  local from=$1 name=$2
  install -m 0755 "$from" "$PREFIX/lib/$name.so.$VERSION"
  ln -sfn "$name.so.$VERSION" "$PREFIX/lib/$name.so.$SOVERSION"
  ln -sfn "$name.so.$SOVERSION" "$PREFIX/lib/$name.so"
}
install_lib "$BIN/capi/libignite.so" libignite
install_lib "$BIN/tools/installer/libignite_cpp.so" libignite_cpp

cat >"$PREFIX/lib/pkgconfig/ignite.pc" <<PC
prefix=$PREFIX
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: ignite
Description: Ignite C API: run untrusted JavaScript/TypeScript services in Docker containers
Version: $VERSION
Libs: -L\${libdir} -lignite
Cflags: -I\${includedir}
PC

cat >"$PREFIX/lib/pkgconfig/ignite-cpp.pc" <<PC
prefix=$PREFIX
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: ignite-cpp
Description: Ignite C++ API (C++20; ignite/json.hpp also needs nlohmann_json)
Version: $VERSION
Libs: -L\${libdir} -lignite_cpp
Cflags: -I\${includedir}
PC

cat >"$PREFIX/lib/cmake/Ignite/IgniteConfig.cmake" <<CMAKE
# Ignite $VERSION: find_package(Ignite) gives
#   Ignite::ignite    the C++ API (#include <ignite/ignite.hpp>, C++20)
#   Ignite::ignite_c  the C API (#include <ignite.h>)
# Relocatable: paths are computed from this file's location.
get_filename_component(_IGNITE_PREFIX "\${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)

if(NOT TARGET Ignite::ignite_c)
  add_library(Ignite::ignite_c SHARED IMPORTED)
  set_target_properties(Ignite::ignite_c PROPERTIES
    IMPORTED_LOCATION "\${_IGNITE_PREFIX}/lib/libignite.so.$VERSION"
    IMPORTED_SONAME "libignite.so.$SOVERSION"
    INTERFACE_INCLUDE_DIRECTORIES "\${_IGNITE_PREFIX}/include")
endif()

if(NOT TARGET Ignite::ignite)
  add_library(Ignite::ignite SHARED IMPORTED)
  set_target_properties(Ignite::ignite PROPERTIES
    IMPORTED_LOCATION "\${_IGNITE_PREFIX}/lib/libignite_cpp.so.$VERSION"
    IMPORTED_SONAME "libignite_cpp.so.$SOVERSION"
    INTERFACE_INCLUDE_DIRECTORIES "\${_IGNITE_PREFIX}/include"
    INTERFACE_COMPILE_FEATURES cxx_std_20)
  # ignite/json.hpp is opt-in and needs nlohmann/json; link it when it can be found.
  find_package(nlohmann_json 3 QUIET)
  if(TARGET nlohmann_json::nlohmann_json)
    set_property(TARGET Ignite::ignite APPEND PROPERTY
      INTERFACE_LINK_LIBRARIES nlohmann_json::nlohmann_json)
  endif()
endif()

set(Ignite_VERSION "$VERSION")
set(Ignite_C_LIBRARY Ignite::ignite_c)
set(Ignite_CXX_LIBRARY Ignite::ignite)
unset(_IGNITE_PREFIX)
CMAKE

cat >"$PREFIX/lib/cmake/Ignite/IgniteConfigVersion.cmake" <<CMAKE
# Ignite $VERSION. Before 1.0 a minor release may break the API, so a request is compatible
# only with the same major.minor (and this version at least); from 1.0 on, the same major.
set(PACKAGE_VERSION "$VERSION")
set(PACKAGE_VERSION_COMPATIBLE FALSE)
if(NOT PACKAGE_FIND_VERSION VERSION_GREATER PACKAGE_VERSION)
  string(REGEX MATCH "^([0-9]+)\\\\.([0-9]+)" _ignite_mm "\${PACKAGE_VERSION}")
  set(_ignite_major "\${CMAKE_MATCH_1}")
  set(_ignite_minor "\${CMAKE_MATCH_2}")
  if(PACKAGE_FIND_VERSION_MAJOR STREQUAL _ignite_major AND
     (NOT _ignite_major STREQUAL "0" OR PACKAGE_FIND_VERSION_MINOR STREQUAL _ignite_minor))
    set(PACKAGE_VERSION_COMPATIBLE TRUE)
  endif()
endif()
if(PACKAGE_FIND_VERSION STREQUAL PACKAGE_VERSION)
  set(PACKAGE_VERSION_EXACT TRUE)
endif()
# 64-bit Linux only.
if(CMAKE_SIZEOF_VOID_P AND NOT CMAKE_SIZEOF_VOID_P STREQUAL "8")
  set(PACKAGE_VERSION "\${PACKAGE_VERSION} (64bit)")
  set(PACKAGE_VERSION_UNSUITABLE TRUE)
endif()
CMAKE

echo "[install] done: pkg-config --cflags --libs ignite (PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig)," \
  "or find_package(Ignite) with CMAKE_PREFIX_PATH=$PREFIX" >&2
