#!/usr/bin/env bash
# aliases_test.sh CLI SERVER LIBIGNITE "PYTHON FILES" "IGNITE FILES"
set -uo pipefail
cli=$1 server=$2 lib=$3 python=$4 cxx=$5
fail=0
check() {  # check DESCRIPTION COMMAND...
  if "${@:2}" >/dev/null 2>&1; then echo "ok: $1"; else echo "FAILED: $1"; fail=1; fi
}
check "//:cli is the ignite CLI" bash -c "'$cli' --version | grep -Eq '^[0-9]+\.[0-9]+\.[0-9]+'"
check "//:cli has the run command" bash -c "'$cli' run --help | grep -q 'Run a service once'"
check "//:server is the HTTP server" bash -c "'$server' --help | grep -q -- '--api-key-file'"
check "//:ignite_c is libignite.so" bash -c "[[ '$lib' == *libignite.so ]]"
check "//:ignite_c exports the C API" bash -c "nm -D --defined-only '$lib' | grep -q ' T ignite_engine_new$'"
check "//:python holds the Python package" bash -c "echo '$python' | tr ' ' '\n' | grep -q '/__init__.py$'"
check "//:python brings the _core extension" test -f "${TEST_SRCDIR}/${TEST_WORKSPACE}/bindings/python/_core.so"
check "//:ignite is the C++ library" bash -c "echo '$cxx' | tr ' ' '\n' | grep -Eq 'libignite\.(a|so)$'"
exit $fail
