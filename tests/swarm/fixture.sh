#!/usr/bin/env bash
# A real 2-node Docker Swarm on this machine (shared/recipes/multi-node-swarm.md), for the swarm
# backend's tests and benchmark:
#   - manager: the host's dockerd (DOCKER_HOST or /var/run/docker.sock), advertised on the host
#     side of a veth pair;
#   - worker: a second dockerd in a network namespace made here, with its own data and exec roots;
#   - a registry (Debian's docker-registry) on the manager's veth address, served over TLS with a
#     CA made here: both daemons trust it through /etc/docker/certs.d/<addr>/ca.crt, which they
#     read at every pull and push, so neither daemon is reconfigured or restarted.
# Addresses: 198.18.77.1 (host side) and 198.18.77.2 (namespace); docker_gwbridge 198.18.78.0/24;
# overlay networks from 198.19.0.0/16: all inside 198.18.0.0/15. Nothing else is contacted.
#
# Usage: tests/swarm/fixture.sh up ENV_FILE   sets everything up (tearing down a stale fixture
#                                             first) and writes shell assignments to ENV_FILE:
#                                             SWARM_REGISTRY, SWARM_MANAGER_NODE, SWARM_WORKER_NODE,
#                                             SWARM_WORKER_SOCKET
#        tests/swarm/fixture.sh down          removes everything `up` made (idempotent): the
#                                             worker leaves, the host daemon leaves the swarm,
#                                             docker_gwbridge, the worker daemon, the registry,
#                                             the namespace, the veth pair, the files
# `up` refuses to touch a host daemon that is already in a swarm it did not make.
# Callers hold /run/ignite-swarm.lock from up to down (`flock -o`: the daemons started here must
# not inherit the lock), so there is one fixture at a time.
set -uo pipefail

NS=ignite-swarm
VETH_HOST=ign-sw0
VETH_NS=ign-sw1
HOST_ADDR=198.18.77.1
NS_ADDR=198.18.77.2
PREFIX=24
REG_PORT=5000
GWBRIDGE_SUBNET=198.18.78.0/24
OVERLAY_POOL=198.19.0.0/16
STATE=/run/ignite-swarm             # pid files, sockets, certificates, the marker
DATA=/var/lib/ignite-swarm-worker   # the worker daemon's data root
CERTS_D=/etc/docker/certs.d/$HOST_ADDR:$REG_PORT
MARKER=$STATE/owns-host-swarm       # present while the host daemon is in a swarm we made
WORKER_SOCK=$STATE/worker.sock

host_sock=${DOCKER_HOST:-unix:///var/run/docker.sock}
host_sock=${host_sock#unix://}

say() { echo "[swarm-fixture] $*" >&2; }
hdocker() { docker -H "unix://$host_sock" "$@"; }
wdocker() { docker -H "unix://$WORKER_SOCK" "$@"; }

# kill_wait PIDFILE SECONDS: TERM, then KILL after SECONDS; waits until the process is gone.
kill_wait() {
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 0
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  kill "$pid" 2>/dev/null || { rm -f "$1"; return 0; }
  for _ in $(seq $(($2 * 10))); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  rm -f "$1"
}

host_swarm_state() { hdocker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null; }

down() {
  if [ -S "$WORKER_SOCK" ]; then
    timeout 20 docker -H "unix://$WORKER_SOCK" swarm leave --force >/dev/null 2>&1
  fi
  if [ -e "$MARKER" ]; then
    if [ "$(host_swarm_state)" != inactive ]; then
      timeout 30 docker -H "unix://$host_sock" swarm leave --force >/dev/null 2>&1 ||
        say "the host daemon did not leave the swarm"
    fi
    # Survives `swarm leave`; made by the swarm we created.
    for _ in $(seq 20); do
      hdocker network inspect docker_gwbridge >/dev/null 2>&1 || break
      hdocker network rm docker_gwbridge >/dev/null 2>&1 && break
      sleep 0.5
    done
    rm -f "$MARKER"
  fi
  kill_wait "$STATE/worker.pid" 8
  # The manager's references to the registry's copies of per-service images (tags pushed from
  # here, digests pulled by its tasks): the registry is gone.
  hdocker images --format '{{.Repository}}:{{.Tag}} {{.Repository}}@{{.Digest}}' 2>/dev/null |
    tr ' ' '\n' | grep "^$HOST_ADDR:$REG_PORT/" | grep -v -e ':<none>$' -e '@<none>$' |
    xargs -r docker -H "unix://$host_sock" rmi >/dev/null 2>&1
  kill_wait "$STATE/registry.pid" 5
  ip netns del "$NS" 2>/dev/null
  ip link del "$VETH_HOST" 2>/dev/null
  # The worker's containerd leaves its mounts under the exec root when it dies hard.
  for m in $(awk -v d="$DATA" -v s="$STATE" '$2 ~ "^(" d "|" s ")" {print $2}' /proc/mounts | sort -r); do
    umount -l "$m" 2>/dev/null
  done
  rm -rf "$DATA" "$STATE" "$CERTS_D"
  rmdir /etc/docker/certs.d 2>/dev/null
  return 0
}

fail() {
  say "$1"
  [ -n "${2:-}" ] && [ -f "$2" ] && tail -n 20 "$2" >&2
  down
  exit 1
}

up() {
  local env_file=$1
  down
  local state
  state=$(host_swarm_state)
  if [ "$state" != inactive ]; then
    say "the host daemon is already in a swarm (state: ${state:-unknown}) that this fixture did not make: not touching it"
    exit 1
  fi
  for tool in ip nsenter dockerd docker docker-registry openssl; do
    command -v "$tool" >/dev/null || fail "$tool is missing (tools/bootstrap installs it)"
  done
  mkdir -p "$STATE" "$DATA" && chmod 700 "$STATE"

  # -- the namespace and its link ---------------------------------------------------------------
  ip netns add "$NS" || fail "ip netns add $NS failed"
  ip link add "$VETH_HOST" type veth peer name "$VETH_NS" || fail "cannot make the veth pair"
  ip link set "$VETH_NS" netns "$NS"
  ip addr add "$HOST_ADDR/$PREFIX" dev "$VETH_HOST" && ip link set "$VETH_HOST" up ||
    fail "cannot address $VETH_HOST"
  ip netns exec "$NS" ip addr add "$NS_ADDR/$PREFIX" dev "$VETH_NS"
  ip netns exec "$NS" ip link set "$VETH_NS" up && ip netns exec "$NS" ip link set lo up ||
    fail "cannot address $VETH_NS"

  # -- the registry, over TLS with a CA made here ------------------------------------------------
  local pki=$STATE/pki
  mkdir -p "$pki"
  (
    cd "$pki" &&
      openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=ignite-swarm-test-ca" \
        -keyout ca.key -out ca.crt &&
      openssl req -newkey rsa:2048 -nodes -subj "/CN=$HOST_ADDR" -keyout reg.key -out reg.csr &&
      printf 'subjectAltName=IP:%s\nextendedKeyUsage=serverAuth\n' "$HOST_ADDR" >reg.ext &&
      openssl x509 -req -in reg.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
        -extfile reg.ext -out reg.crt
  ) >"$STATE/openssl.log" 2>&1 || fail "openssl could not make the registry's certificates" "$STATE/openssl.log"
  mkdir -p "$CERTS_D" && cp "$pki/ca.crt" "$CERTS_D/ca.crt"
  cat >"$STATE/registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $STATE/registry-data
  delete:
    enabled: true
http:
  addr: $HOST_ADDR:$REG_PORT
  tls:
    certificate: $pki/reg.crt
    key: $pki/reg.key
EOF
  setsid docker-registry serve "$STATE/registry.yml" >"$STATE/registry.log" 2>&1 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
  echo $! >"$STATE/registry.pid"

  # -- the worker daemon in the namespace --------------------------------------------------------
  # Its own config file: by default it would read the host's /etc/docker/daemon.json. nsenter,
  # not `ip netns exec` (which remounts /sys; dockerd then finds no devices cgroup).
  echo '{}' >"$STATE/daemon.json"
  nsenter --net="/run/netns/$NS" setsid dockerd --config-file "$STATE/daemon.json" \
    --data-root "$DATA" --exec-root "$STATE/exec" --pidfile "$STATE/worker.pid" \
    -H "unix://$WORKER_SOCK" >"$STATE/worker.log" 2>&1 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
  local ok=0
  for _ in $(seq 300); do
    if [ -S "$WORKER_SOCK" ] && wdocker version >/dev/null 2>&1; then ok=1; break; fi
    sleep 0.1
  done
  [ $ok = 1 ] || fail "the worker dockerd did not come up within 30 s" "$STATE/worker.log"
  ok=0
  for _ in $(seq 100); do
    if curl -sf --max-time 2 --cacert "$pki/ca.crt" "https://$HOST_ADDR:$REG_PORT/v2/" >/dev/null; then ok=1; break; fi
    sleep 0.1
  done
  [ $ok = 1 ] || fail "the registry did not answer on $HOST_ADDR:$REG_PORT within 10 s" "$STATE/registry.log"

  # -- the swarm ---------------------------------------------------------------------------------
  # Every address the swarm hands out stays in 198.18.0.0/15: docker_gwbridge (made by the swarm
  # otherwise, from the daemon's private default pool) is made here first on both daemons, and
  # overlay subnets (ingress, Ignite's internal networks) come from 198.19.0.0/16.
  touch "$MARKER"
  for d in hdocker wdocker; do
    $d network create --driver bridge --subnet "$GWBRIDGE_SUBNET" \
      --opt com.docker.network.bridge.name=docker_gwbridge \
      --opt com.docker.network.bridge.enable_icc=false \
      --opt com.docker.network.bridge.enable_ip_masquerade=false docker_gwbridge >/dev/null ||
      fail "cannot make docker_gwbridge ($d)"
  done
  hdocker swarm init --advertise-addr "$HOST_ADDR" --listen-addr "$HOST_ADDR:2377" \
    --default-addr-pool "$OVERLAY_POOL" --default-addr-pool-mask-length 24 >/dev/null ||
    fail "docker swarm init failed on the host daemon"
  local token
  token=$(hdocker swarm join-token -q worker) || fail "no worker join token"
  wdocker swarm join --token "$token" --advertise-addr "$NS_ADDR" --listen-addr "$NS_ADDR:2377" \
    "$HOST_ADDR:2377" >/dev/null || fail "the worker could not join the swarm" "$STATE/worker.log"
  local manager worker
  manager=$(hdocker info --format '{{.Swarm.NodeID}}')
  worker=$(wdocker info --format '{{.Swarm.NodeID}}')
  ok=0
  for _ in $(seq 100); do
    if [ "$(hdocker node inspect "$worker" --format '{{.Status.State}}' 2>/dev/null)" = ready ]; then ok=1; break; fi
    sleep 0.1
  done
  [ $ok = 1 ] || fail "the worker node did not become ready within 10 s" "$STATE/worker.log"
  {
    echo "SWARM_REGISTRY=$HOST_ADDR:$REG_PORT"
    echo "SWARM_MANAGER_NODE=$manager"
    echo "SWARM_WORKER_NODE=$worker"
    echo "SWARM_WORKER_SOCKET=$WORKER_SOCK"
  } >"$env_file"
  say "up: manager $manager, worker $worker, registry $HOST_ADDR:$REG_PORT"
}

case ${1:-} in
  up)
    [ $# -eq 2 ] || { echo "usage: $0 up ENV_FILE" >&2; exit 2; }
    up "$2"
    ;;
  down) down ;;
  *)
    echo "usage: $0 up ENV_FILE | down" >&2
    exit 2
    ;;
esac
