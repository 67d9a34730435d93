# shellcheck shell=bash
# Helpers shared by tools/bootstrap and tools/images/build-runtime. Sourced, never run.
# Everything that talks to Docker goes through the Engine API on its unix socket with curl;
# the docker CLI is not used anywhere.

IGNITE_CACHE=${IGNITE_CACHE:-$HOME/.cache/ignite}
IGNITE_LOG_TAG=${IGNITE_LOG_TAG:-bootstrap}
IGNITE_QUIET=${IGNITE_QUIET:-0}
# shellcheck disable=SC2034 # used by the scripts that source this file
IGNITE_LOG_DIR="$IGNITE_CACHE/logs"
DOCKER_API=v1.41

# /usr/bin/python3 (from python3-dev) starts faster than a pyenv shim and is always there after
# the package step; it is used only to read JSON and apt sources.
if [[ -x /usr/bin/python3 ]]; then PY=/usr/bin/python3; else PY=python3; fi

# One progress line (suppressed by --quiet).
say() {
  [[ $IGNITE_QUIET == 1 ]] || printf '[%s] %s\n' "$IGNITE_LOG_TAG" "$*"
}

# A line about work that takes a while (installing packages, starting dockerd, building image
# n of 7): shown on a terminal even with --quiet, so a first run is never minutes of silence;
# otherwise only when not quiet. On stderr, so stdout stays the command's. IGNITE_PROGRESS=0
# turns it off, IGNITE_PROGRESS=1 on (for callers that know better than isatty, e.g. tests).
progress() {
  local show=${IGNITE_PROGRESS:-}
  if [[ -z $show ]]; then
    if [[ -t 2 || $IGNITE_QUIET != 1 ]]; then show=1; else show=0; fi
  fi
  [[ $show != 1 ]] || printf '[%s] %s\n' "$IGNITE_LOG_TAG" "$*" >&2
}

# An error line (always shown, on stderr).
err() {
  printf '[%s] %s\n' "$IGNITE_LOG_TAG" "$*" >&2
}

# fail STEP MESSAGE [HINT] [LOGFILE]: names the failed step and what to do, then exits 1.
fail() {
  local step=$1 msg=$2 hint=${3:-} log=${4:-}
  err "$step: FAILED: $msg"
  if [[ -n $log && -s $log ]]; then
    err "$step: last lines of $log:"
    tail -n 20 "$log" | sed 's/^/    /' >&2
  fi
  [[ -z $hint ]] || err "$step: what to do: $hint"
  exit 1
}

# Microseconds since the epoch (EPOCHREALTIME's separator follows the locale).
now_us() {
  local t=${EPOCHREALTIME//[.,]/}
  printf '%s\n' "$t"
}

# elapsed START_US -> "12.3s"
elapsed() {
  local d=$(($(now_us) - $1))
  printf '%d.%ds\n' $((d / 1000000)) $(((d / 100000) % 10))
}

# The Docker daemon socket: DOCKER_HOST when it is unix://PATH, else /var/run/docker.sock.
docker_socket() {
  local host=${DOCKER_HOST:-}
  if [[ -z $host ]]; then
    printf '%s\n' /var/run/docker.sock
  elif [[ $host == unix://* ]]; then
    printf '%s\n' "${host#unix://}"
  else
    return 1
  fi
}

# docker_ping SOCKET: true when GET /_ping answers OK.
docker_ping() {
  local out
  out=$(curl -s --max-time 3 --unix-socket "$1" http://localhost/_ping 2>/dev/null) || return 1
  [[ $out == OK ]]
}

# api METHOD PATH [CURL_ARGS...]: calls the Engine API on $DOCKER_SOCK.
# Sets API_STATUS (HTTP code, 000 when no answer) and API_BODY; returns 0 for a 2xx answer.
API_STATUS=000
API_BODY=
api() {
  local method=$1 path=$2 out
  shift 2
  out=$(curl -s --unix-socket "$DOCKER_SOCK" --max-time "${API_TIMEOUT:-120}" -X "$method" \
    -w '\n%{http_code}' "$@" "http://localhost/$DOCKER_API$path") || true
  API_STATUS=${out##*$'\n'}
  API_BODY=${out%$'\n'*}
  [[ $API_STATUS == 2?? ]]
}

# api_json METHOD PATH JSON: api() with a JSON request body.
api_json() {
  local method=$1 path=$2 body=$3
  api "$method" "$path" -H 'Content-Type: application/json' --data-binary "$body"
}

# The message of a Docker error answer ({"message": "..."}), or the raw body.
api_error() {
  local msg
  if [[ $API_STATUS == 000 ]]; then
    printf 'no answer from the Docker daemon on %s\n' "$DOCKER_SOCK"
    return 0
  fi
  msg=$(printf '%s' "$API_BODY" | "$PY" -c 'import json,sys
try: print(json.load(sys.stdin).get("message",""))
except Exception: pass' 2>/dev/null) || true
  printf 'HTTP %s: %s\n' "$API_STATUS" "${msg:-$API_BODY}"
}
