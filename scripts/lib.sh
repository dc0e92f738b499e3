#!/usr/bin/env bash
# Shared helpers for netmesh scripts (sourced, not run).

NM_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Benchmarks and run scripts use their own release build; tests use build/.
NM_BUILD=${BUILD:-$NM_ROOT/build-release}

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

# Stop a process we started, by pid: SIGINT, up to 10 s for a graceful exit, then SIGKILL.
# Its exit status is left in nm_stop_status (128+N: killed by signal N).
# shellcheck disable=SC2034 # nm_stop_status is read by the callers
nm_stop_pid() {
  local pid=$1
  nm_stop_status=0
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -INT "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "pid $pid did not stop in 10 s: killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || nm_stop_status=$?
}

# Remove EAL's runtime directories of the given --file-prefix names (a process we stopped).
nm_rm_eal_dirs() {
  local d p
  for d in /var/run/dpdk "${XDG_RUNTIME_DIR:-/tmp}/dpdk"; do
    for p in "$@"; do rm -rf "${d:?}/${p:?}"; done
  done
}

# A demo node pair in DIR: a PSK, one 32-byte seed per further name (DIR/NAME.seed, mode 0600),
# the appliance's and the generator's keys. Sets app_node, app_static and gen_node.
# Usage: nm_make_nodes DIR APP_BIN GEN_BIN [SEED_NAME...]
nm_make_nodes() {
  local dir=$1 app=$2 gen=$3 f
  shift 3
  for f in psk "${@/%/.seed}"; do
    head -c 32 /dev/urandom > "$dir/$f"
    chmod 600 "$dir/$f"
  done
  "$app" --no-huge -m 64 --no-shconf --no-telemetry -l 0 --no-pci "--log-level=lib.*:error" -- \
    --keys "$dir/app-keys" --show-identity > "$dir/app.id"
  "$gen" --keys "$dir/gen-keys" --show-identity > "$dir/gen.id"
  app_node=$(awk '$1 == "node_id" { print $2 }' "$dir/app.id")
  app_static=$(awk '$1 == "noise_static_pub" { print $2 }' "$dir/app.id")
  gen_node=$(awk '$1 == "node_id" { print $2 }' "$dir/gen.id")
  if [ -z "$app_node" ] || [ -z "$app_static" ] || [ -z "$gen_node" ]; then
    echo "could not read the identities in $dir" >&2
    return 1
  fi
}
