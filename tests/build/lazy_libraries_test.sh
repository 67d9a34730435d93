#!/usr/bin/env bash
# lazy_libraries_test.sh CLI SERVER LIBIGNITE PYTHON_CORE SERVICES_DIR
# libcurl and libarchive are loaded at first use, not at program start (shared_library.hpp):
# no Ignite binary lists them as needed, an execution on the local daemon never loads them, and
# when one cannot be loaded, what needed it fails with an error naming the library and the
# package to install.
set -uo pipefail
cli=$(realpath "$1") server=$(realpath "$2") lib=$(realpath "$3") core=$(realpath "$4")
services=$(realpath "$5")
fail=0
ok() { echo "ok: $1"; }
bad() { echo "FAILED: $1"; fail=1; }
tmp=$(mktemp -d)
name="lazy-libs-$$-$RANDOM"
api() { curl -s --unix-socket /var/run/docker.sock "$@"; }
cleanup() {  # the images this test's services built (both names)
  local filter ids
  filter=$(python3 -c 'import json,sys; print(json.dumps({"label":["dev.ignite.service="+sys.argv[1]]}))' "$1")
  ids=$(api -G "http://localhost/v1.41/images/json" --data-urlencode "filters=$filter" |
    python3 -c 'import json,sys; print(" ".join(i["Id"] for i in json.load(sys.stdin)))')
  for id in $ids; do api -X DELETE "http://localhost/v1.41/images/$id?force=1" >/dev/null; done
}
trap 'cleanup "$name"; cleanup "$name-b"; rm -rf "$tmp"' EXIT

for bin in "$cli" "$server" "$lib" "$core"; do
  needed=$(readelf -d "$bin" | grep NEEDED)
  if [[ -n $needed && $needed != *libcurl* && $needed != *libarchive* ]]; then
    ok "$(basename "$bin") does not need libcurl or libarchive at start"
  else
    bad "$(basename "$bin") needs: $needed"
  fi
done

# A service of its own (a fresh image build), run twice: the second run is a plain execution.
cp -rL "$services/hello-quickjs" "$tmp/svc"
chmod -R u+w "$tmp/svc"
sed -i "s/^  name: .*/  name: $name/" "$tmp/svc/service.yaml"
echo "// $name" >>"$tmp/svc/index.js"
"$cli" run "$tmp/svc" --input '{"name":"lazy"}' >"$tmp/first.out" 2>&1 ||
  bad "first run failed: $(tail -5 "$tmp/first.out")"
LD_DEBUG=files "$cli" run "$tmp/svc" --input '{"name":"lazy"}' >"$tmp/second.out" 2>"$tmp/second.err"
rc=$?
if [[ $rc == 0 ]] && grep -q "Hello, lazy!" "$tmp/second.out"; then
  ok "a local execution succeeds"
else
  bad "local execution: rc=$rc $(tail -5 "$tmp/second.err")"
fi
if grep -q "file=libcurl.so.4\|file=libarchive.so.13" "$tmp/second.err"; then
  bad "a local execution loaded: $(grep -o 'file=lib[a-z]*\.so\.[0-9]*' "$tmp/second.err" | sort -u | tr '\n' ' ')"
else
  ok "a local execution loads neither libcurl nor libarchive"
fi
# The first run built the image: that needs both, loaded on demand, and it worked.
grep -q "Hello, lazy!" "$tmp/first.out" && ok "a run that builds the image loads them and succeeds" ||
  bad "building run output: $(tail -3 "$tmp/first.out")"

# A library that cannot be loaded: an empty file in its place. The run must fail with exit 125
# and a message naming the library (as `what`) and its Debian package.
mkdir -p "$tmp/fake"
: >"$tmp/fake/libcurl.so.4"
: >"$tmp/fake/libarchive.so.13"
expect_missing() {  # expect_missing LABEL MESSAGE PACKAGE [ENV=VALUE...]
  local label=$1 message=$2 package=$3 rc
  shift 3
  env LD_LIBRARY_PATH="$tmp/fake" "$@" "$cli" run "$tmp/svc" --input '{}' \
    >"$tmp/$label.out" 2>"$tmp/$label.err"
  rc=$?
  if [[ $rc == 125 ]] && grep -q "$message" "$tmp/$label.err" && grep -q "$package" "$tmp/$label.err"; then
    ok "$label: exit 125 naming the library and its package"
  else
    bad "$label: rc=$rc $(cat "$tmp/$label.err")"
  fi
}
# A tcp:// daemon: every call goes through libcurl.
expect_missing no-libcurl "cannot load libcurl.so.4" libcurl4 DOCKER_HOST=tcp://127.0.0.1:1
# A service name of its own: its image must be built, and the build context is a tar.
sed -i "s/^  name: .*/  name: $name-b/" "$tmp/svc/service.yaml"
expect_missing no-libarchive "build context: cannot load libarchive.so.13" libarchive13
exit $fail
