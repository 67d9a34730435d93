#!/usr/bin/env bash
# libignite.so exports the C API and nothing else: every defined dynamic symbol starts with
# ignite_, and every function ignite.h declares is among them.
set -euo pipefail
lib=$1
header=$2
defined=$(nm -D --defined-only "$lib" | awk '{print $NF}' | sort)
others=$(grep -v '^ignite_' <<<"$defined" || true)
if [ -n "$others" ]; then
  echo "FAIL: $lib exports symbols outside the C API:" >&2
  echo "$others" | head -50 >&2
  exit 1
fi
declared=$(tr '\n' ' ' <"$header" | grep -oE 'IGNITE_EXTERN\([^)]*\)[[:space:]]*ignite_[a-z0-9_]+' |
  grep -oE 'ignite_[a-z0-9_]+$' | sort -u)
missing=$(comm -23 <(echo "$declared") <(echo "$defined"))
if [ -n "$missing" ]; then
  echo "FAIL: declared in ignite.h but not exported: $missing" >&2
  exit 1
fi
extra=$(comm -13 <(echo "$declared") <(echo "$defined"))
if [ -n "$extra" ]; then
  echo "FAIL: exported but not declared in ignite.h: $extra" >&2
  exit 1
fi
echo "ok: $(wc -l <<<"$defined") symbols, all ignite_* and all declared in ignite.h"
