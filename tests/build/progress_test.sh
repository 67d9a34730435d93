#!/usr/bin/env bash
# progress_test.sh IGNITE BOOTSTRAP BUILD_RUNTIME LIB_SH
# tools/ignite and tools/bootstrap show what takes a while on a terminal (also with --quiet)
# and stay silent otherwise. The terminal is a real pseudo-terminal (script(1)).
set -uo pipefail
ignite=$(realpath "$1") bootstrap=$(realpath "$2") build_runtime=$(realpath "$3") lib=$(realpath "$4")
fail=0
ok() { echo "ok: $1"; }
bad() { echo "FAILED: $1"; fail=1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
on_tty() { script -qec "$1" /dev/null </dev/null; }

# The helper: shown on a terminal even when quiet; when not on one, only when not quiet.
probe="source '$lib'; IGNITE_LOG_TAG=t; progress 'images: building image 3 of 7'"
out=$(IGNITE_QUIET=1 bash -c "$probe" 2>&1)
[[ -z $out ]] && ok "quiet, no terminal: silent" || bad "quiet, no terminal printed: $out"
out=$(on_tty "IGNITE_QUIET=1 bash -c \"$probe\"")
[[ $out == *"[t] images: building image 3 of 7"* ]] && ok "quiet on a terminal: shown" ||
  bad "quiet on a terminal showed: $out"
out=$(on_tty "IGNITE_QUIET=1 IGNITE_PROGRESS=0 bash -c \"$probe\"")
[[ $out != *"image 3"* ]] && ok "IGNITE_PROGRESS=0: silent" || bad "IGNITE_PROGRESS=0 printed: $out"
out=$(IGNITE_QUIET=0 bash -c "$probe" 2>&1)
[[ $out == *"image 3 of 7"* ]] && ok "not quiet: shown" || bad "not quiet printed: $out"

# The slow steps use it: packages being installed, dockerd being started, image n of N.
grep -q 'progress "packages: installing' "$bootstrap" && ok "bootstrap: packages" || bad "bootstrap: packages"
grep -q 'progress "docker: ' "$bootstrap" && ok "bootstrap: docker" || bad "bootstrap: docker"
grep -q 'progress "images: building image $n of ${#ROWS\[@\]}' "$build_runtime" &&
  ok "build-runtime: image n of N" || bad "build-runtime: image n of N"

# tools/ignite, in a copy of the checkout's layout with a bootstrap and a bazel that are slow
# stand-ins (a first run's set-up), and a CLI that prints its arguments.
mkdir -p "$tmp/root/tools" "$tmp/root/.bazel/bin/examples/cli" "$tmp/bin"
cp "$ignite" "$tmp/root/tools/ignite"
cat >"$tmp/root/tools/bootstrap" <<'SH'
#!/usr/bin/env bash
[[ $1 == --quiet ]] || { echo "bootstrap called without --quiet" >&2; exit 9; }
SH
cat >"$tmp/bin/bazel" <<'SH'
#!/usr/bin/env bash
sleep 3
SH
cat >"$tmp/root/.bazel/bin/examples/cli/ignite" <<'SH'
#!/usr/bin/env bash
echo "cli $*"
SH
chmod +x "$tmp/root/tools/ignite" "$tmp/root/tools/bootstrap" "$tmp/bin/bazel" \
  "$tmp/root/.bazel/bin/examples/cli/ignite"
out=$(PATH="$tmp/bin:$PATH" "$tmp/root/tools/ignite" list 2>"$tmp/err")
[[ $out == "cli list" && ! -s $tmp/err ]] && ok "tools/ignite, no terminal: silent" ||
  bad "tools/ignite, no terminal: out=$out err=$(cat "$tmp/err")"
out=$(on_tty "PATH='$tmp/bin:$PATH' '$tmp/root/tools/ignite' list")
[[ $out == *"building the ignite CLI with Bazel"* && $out == *"cli list"* ]] &&
  ok "tools/ignite on a terminal: says it is building" || bad "tools/ignite on a terminal: $out"
exit $fail
