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
nm_stop_pid() {
  local pid=$1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -INT "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "pid $pid did not stop in 10 s: killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}
