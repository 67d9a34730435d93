#!/usr/bin/env bash
# Runs swarm_engine_test on a real 2-node Docker Swarm: the fixture is set up (one at a time on
# this machine: /run/ignite-swarm.lock), the test runs, and the fixture is torn down always --
# also when the test fails, crashes, or Bazel stops it (SIGTERM on timeout) -- so the host
# daemon leaves the swarm and works as before for everything else.
set -uo pipefail
R="$TEST_SRCDIR/$TEST_WORKSPACE"
FIXTURE="$R/tests/swarm/fixture.sh"
ENV_FILE=$(mktemp "${TEST_TMPDIR:-/tmp}/swarm-env.XXXXXX")

exec 9>/run/ignite-swarm.lock
if ! flock -w 600 9; then
  echo "[swarm_test] another swarm fixture held /run/ignite-swarm.lock for 10 minutes" >&2
  exit 1
fi
child=
teardown() {
  [ -n "$child" ] && kill -9 "$child" 2>/dev/null
  "$FIXTURE" down
  rm -f "$ENV_FILE"
}
trap teardown EXIT
trap 'exit 143' TERM INT

"$FIXTURE" up "$ENV_FILE" || exit 1
set -a
# shellcheck disable=SC1090
source "$ENV_FILE"
set +a
# In the background, so that a SIGTERM runs the teardown at once instead of after the test.
"$R/tests/swarm/swarm_engine_test" "$@" &
child=$!
wait "$child"
rc=$?
child=
exit "$rc"
