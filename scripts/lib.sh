#!/usr/bin/env bash
# Shared helpers for netmesh scripts (sourced, not run).

NM_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Benchmarks and run scripts use their own release build; tests use build/.
NM_BUILD=${BUILD:-$NM_ROOT/build-release}

# The memif rings between netmesh-wire and each process in the multi-node scripts: the client
# sizes them (log2). 4096 frames instead of memif's 1024 are 40 ms of 100 k packets/s, so a
# receiver descheduled for a few ms on a loaded 2-CPU machine does not make the wire drop frames
# into a full ring (counted there as tx_dropped, and lost to the generator). 8 MiB per ring.
NM_MEMIF_RING=rsize=12

# Configure and build once; later calls only rebuild what changed.
nm_build() {
  local log
  if [ ! -f "$NM_BUILD/build.ninja" ]; then
    log=$(meson setup "$NM_BUILD" "$NM_ROOT" --buildtype=release 2>&1) || { echo "$log" >&2; return 1; }
  fi
  log=$(meson compile -C "$NM_BUILD" 2>&1) || { echo "$log" | tail -30 >&2; return 1; }
}

# Free 2 MiB hugepages, in MiB (0 when none or hugetlbfs is not mounted).
nm_hugepages_free_mb() {
  local free size
  free=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
  size=$(awk '/^Hugepagesize:/ {print $2}' /proc/meminfo)
  if ! grep -q hugetlbfs /proc/mounts; then echo 0; return; fi
  echo $(( ${free:-0} * ${size:-0} / 1024 ))
}

# EAL memory options: hugepages when at least $1 MiB are free, else --no-huge.
# Prints the choice on stderr so stdout stays machine-readable.
nm_eal_mem_args() {
  local want=${1:-512}
  if [ "$(nm_hugepages_free_mb)" -ge "$want" ]; then
    echo "# eal: hugepages (${want} MiB)" >&2
    echo "--in-memory -m $want"
  else
    echo "# eal: --no-huge (no free hugepages; figures are ~3x below hugepage runs)" >&2
    echo "--no-huge -m $want"
  fi
}

# nm_wait_pid PID SEC: until PID exits (SEC seconds at most); its exit status when it is our
# child, 124 when it still runs.
nm_wait_pid() {
  local pid=$1 deadline=$((SECONDS + $2)) rc=0
  while kill -0 "$pid" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || return 124
    sleep 0.1
  done
  wait "$pid" 2>/dev/null || rc=$?
  return "$rc"
}

# nm_stop_pid PID [SECONDS]: SIGINT a process we started, SIGKILL it after SECONDS (default 10),
# reap it. Nothing when PID is empty or gone; always 0. Its exit status is left in
# nm_stop_status (128+N: killed by signal N; 0 when there was nothing to stop).
# shellcheck disable=SC2034 # nm_stop_status is read by the callers
nm_stop_pid() {
  local pid=$1 secs=${2:-10} rc=0
  nm_stop_status=0
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -INT "$pid" 2>/dev/null || true
  nm_wait_pid "$pid" "$secs" || rc=$?
  if [ "$rc" = 124 ]; then
    echo "${0##*/}: pid $pid did not stop in $secs s: killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
    rc=0
    wait "$pid" 2>/dev/null || rc=$?
  fi
  nm_stop_status=$rc
}

# nm_wait_for SEC CMD...: until CMD succeeds, polling every 0.1 s; 1 after SEC s of polls
# (counted sleeps, not the wall clock: a loaded machine's stalls do not eat the budget).
nm_wait_for() {
  local left=$(($1 * 10))
  shift
  until "$@"; do
    left=$((left - 1))
    [ "$left" -gt 0 ] || return 1
    sleep 0.1
  done
}

# nm_app_identity APP_BIN DIR NAME: NAME's keys in DIR/keys-NAME (made on first use), its
# --show-identity in DIR/NAME.id; prints "NODE_ID STATIC_PUB", or returns 1.
nm_app_identity() {
  local node static
  "$1" --no-huge -m 64 --no-shconf --no-telemetry -l 0 --no-pci "--log-level=lib.*:error" -- \
    --keys "$2/keys-$3" --show-identity > "$2/$3.id" || return 1
  node=$(nm_field node_id "$2/$3.id")
  static=$(nm_field noise_static_pub "$2/$3.id")
  [ -n "$node" ] && [ -n "$static" ] || return 1
  echo "$node $static"
}

# Two appliances and a generator for the migration benchmarks (bench_migration_pause.sh,
# bench_migration_total.sh). nm_mig_identities DIR APP_BIN GEN_BIN NAME...: each NAME's node id
# and static into the caller's associative arrays node[] and static[], the generator's into
# gen_node; returns 1 naming what it could not read.
# shellcheck disable=SC2034,SC2004 # node, static (associative) and gen_node are the caller's
nm_mig_identities() {
  local dir=$1 app=$2 gen=$3 n id
  shift 3
  for n in "$@"; do
    id=$(nm_app_identity "$app" "$dir" "$n") || { echo "could not read $n's identity" >&2; return 1; }
    node[$n]=${id% *} static[$n]=${id#* }
  done
  "$gen" --keys "$dir/keys-gen" --show-identity > "$dir/gen.id" || return 1
  gen_node=$(nm_field node_id "$dir/gen.id")
  [ -n "$gen_node" ] || { echo "could not read the generator's identity" >&2; return 1; }
}
#
# nm_mig_wire WIRE_BIN DIR SOCK LCORES EAL_ARG...: netmesh-wire in the background with memif
# server ports 0..2 on SOCK-0..2 and its control socket DIR/wire.ctl, logging to DIR/wire.log;
# its pid in NM_WIRE_PID (the caller waits for the control socket).
# shellcheck disable=SC2034 # NM_WIRE_PID is the caller's
nm_mig_wire() {
  local wire=$1 dir=$2 sock=$3 lcores=$4
  shift 4
  "$wire" "$@" --no-telemetry --lcores "$lcores" \
    "--vdev=net_memif0,role=server,socket=$sock-0" "--vdev=net_memif1,role=server,socket=$sock-1" \
    "--vdev=net_memif2,role=server,socket=$sock-2" -- --control "$dir/wire.ctl" --stats-period 0 \
    > "$dir/wire.log" 2>&1 &
  NM_WIRE_PID=$!
}

# Remove EAL's runtime dirs of these file prefixes (root's and a user's).
nm_eal_rundirs_rm() {
  local d p
  for d in /var/run/dpdk "${XDG_RUNTIME_DIR:-/tmp}/dpdk"; do
    for p in "$@"; do rm -rf "${d:?}/${p:?}"; done
  done
}

# The demo's pieces (scripts/run.sh, scripts/soak.sh): the appliance with an echo and a counter
# daemon on the server end of a memif pair, netmesh-gen on the client end.
#
# nm_demo_binaries SCRIPT BUILD: builds when BUILD is 1, then NM_APP_BIN and NM_GEN_BIN, or exit 1.
# shellcheck disable=SC2034 # NM_* are the caller's
nm_demo_binaries() {
  local b
  if [ "$2" = 1 ]; then
    echo "# building in $NM_BUILD" >&2
    nm_build
  fi
  NM_APP_BIN=$NM_BUILD/app/netmesh
  NM_GEN_BIN=$NM_BUILD/app/netmesh-gen
  for b in "$NM_APP_BIN" "$NM_GEN_BIN"; do
    [ -x "$b" ] || { echo "$1: $b is missing (build it, or drop --no-build)" >&2; exit 1; }
  done
}
#
# nm_make_nodes DIR APP_BIN GEN_BIN [SEED_NAME...]: a demo node pair in DIR: a PSK, one 32-byte
# seed per further name (DIR/NAME.seed, mode 0600), the appliance's and the generator's keys.
# Sets app_node, app_static and gen_node.
# shellcheck disable=SC2034 # app_* and gen_node are the caller's
nm_make_nodes() {
  local dir=$1 app=$2 gen=$3 f
  shift 3
  for f in psk "${@/%/.seed}"; do
    head -c 32 /dev/urandom > "$dir/$f"
    chmod 600 "$dir/$f"
  done
  "$app" --no-huge -m 64 --no-shconf --no-telemetry -l 0 --no-pci "--log-level=lib.*:error" -- \
    --keys "$dir/app-keys" --show-identity > "$dir/app.id" || return 1
  "$gen" --keys "$dir/gen-keys" --show-identity > "$dir/gen.id" || return 1
  app_node=$(nm_field node_id "$dir/app.id")
  app_static=$(nm_field noise_static_pub "$dir/app.id")
  gen_node=$(nm_field node_id "$dir/gen.id")
  if [ -z "$app_node" ] || [ -z "$app_static" ] || [ -z "$gen_node" ]; then
    echo "could not read the identities in $dir" >&2
    return 1
  fi
}
#
# nm_demo_prepare DIR APP_BIN GEN_BIN: keys, a PSK and two daemon seeds in DIR, then sets
# NM_APP_LCORES, NM_GEN_LCORES and NM_APP_OPTS (the appliance's options after "--").
# Two CPUs: the appliance's main lcore (it sleeps between duties) on CPU 0, its worker on CPU 1,
# the generator on CPU 0 beside the mostly idle main lcore, so the worker keeps a CPU to itself.
# shellcheck disable=SC2034 # NM_* are the caller's
nm_demo_prepare() {
  local dir=$1 app_bin=$2 gen_bin=$3
  if [ "$(nproc)" -ge 2 ]; then
    NM_APP_LCORES=0@0,1@1 NM_GEN_LCORES=0@0
  else
    NM_APP_LCORES=0@0,1@0 NM_GEN_LCORES=0@0
  fi
  nm_make_nodes "$dir" "$app_bin" "$gen_bin" echo counter || return 1
  NM_APP_NODE=$app_node NM_APP_STATIC=$app_static NM_GEN_NODE=$gen_node
  NM_APP_OPTS=(--ip 127.0.0.1 --keys "$dir/app-keys" --psk-file "$dir/psk"
    --daemon "echo:$dir/echo.seed:1" --daemon "counter:$dir/counter.seed:1"
    --peer "127.0.0.2,node=$NM_GEN_NODE")
}
nm_field() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }

# nm_demo_wait_app LOG PID: until the appliance logged that it runs (60 s); 1 if it did not start.
nm_demo_wait_app() {
  local log=$1 pid=$2
  for _ in $(seq 600); do
    grep -q 'Ctrl-C to stop' "$log" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  grep -q 'Ctrl-C to stop' "$log" 2>/dev/null
}

# nm_demo_gen_opts DIR APP_LOG: NM_GEN_OPTS, the generator's options after "--" (its peer and the
# two daemons, by the origins the appliance logged).
# shellcheck disable=SC2034 # NM_GEN_OPTS is the caller's
nm_demo_gen_opts() {
  local dir=$1 log=$2 echo_origin counter_origin
  echo_origin=$(sed -n 's/^netmesh: daemon echo origin 0x\([0-9a-f]*\) .*/\1/p' "$log")
  counter_origin=$(sed -n 's/^netmesh: daemon counter origin 0x\([0-9a-f]*\) .*/\1/p' "$log")
  NM_GEN_OPTS=(--ip 127.0.0.2 --peer-ip 127.0.0.1 --keys "$dir/gen-keys"
    --peer-node "$NM_APP_NODE" --peer-static "$NM_APP_STATIC" --psk-file "$dir/psk"
    --daemon "$echo_origin" --daemon "$counter_origin")
}
