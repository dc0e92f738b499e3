#!/usr/bin/env bash
# The soak: the demo (scripts/run.sh's appliance and netmesh-gen on a memif pair) under steady
# load for MINUTES, sampling both processes' RSS and the appliance's mbuf pools every 10 s.
#
# Phases: the appliance starts and its idle mbuf baseline is read (no traffic yet); the generator
# starts; WARMUP seconds after the first replies the first sample is taken, then one every
# INTERVAL until MINUTES have passed; the generator is paused (SIGSTOP: the memif link stays up,
# see below), the appliance's queues drain and its mbufs in use are read again; the generator is
# resumed with a stop request (its summary), then the appliance is stopped.
#
# Exit status: 0 when the RSS growth ratio is at most 1.01, no mbuf leaked and no chain error;
# 1 when a figure fails or a process did not run through; 2 for bad arguments.
set -euo pipefail

usage() {
  cat <<EOF
usage: scripts/soak.sh MINUTES [--rate PPS] [--warmup SEC] [--interval SEC] [--no-build] [--tag NAME]

  MINUTES          how long to sample after the warm-up (a decimal is fine: 0.5)
  --rate PPS       generator packets per second (default 10000)
  --warmup SEC     seconds between the first replies and the first sample (default 30: the
                   pools' per-lcore caches, the allocator's arenas, the telemetry thread the
                   samples use and the generator's tables reach their working size)
  --interval SEC   seconds between samples (default 10)
  --no-build       use the binaries in \$BUILD as they are (the test suite does)
  --tag NAME       names the memif socket and EAL file prefixes (default: pid-random)

Prints one 'soak: t=...' line per sample, then
  soak_rss_growth_ratio: R ratio   last sample's VmRSS over the first's, the worse process
  soak_mbuf_leak: N mbufs          mbufs in use after the drain minus the idle baseline
  soak_chain_errors: N errors      from the generator's summary
  soak_lost_events: N events       soak_duplicate_events: N events   (reported, not judged)
Uses hugepages when enough are free, --no-huge otherwise; 2 CPUs at most.
EOF
}

minutes='' rate=10000 warmup=30 interval=10 build=1 tag=soak-$$-$RANDOM
while [ $# -gt 0 ]; do
  case $1 in
    --rate|--warmup|--interval|--tag)
      [ $# -ge 2 ] || { echo "soak.sh: $1 needs a value" >&2; exit 2; } ;;
  esac
  case $1 in
    --rate) rate=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --interval) interval=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --tag) tag=$2; shift 2 ;;
    --help|-h) usage; exit 0 ;;
    -*) echo "soak.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    *) [ -z "$minutes" ] || { echo "soak.sh: one MINUTES only" >&2; exit 2; }; minutes=$1; shift ;;
  esac
done
[[ $minutes =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "soak.sh: MINUTES: a number (see --help)" >&2; exit 2; }
for n in "$rate" "$warmup" "$interval"; do
  [[ $n =~ ^[0-9]+$ ]] || { echo "soak.sh: '$n' is not a number" >&2; exit 2; }
done
[ "$interval" -gt 0 ] || { echo "soak.sh: --interval must be at least 1" >&2; exit 2; }
[[ $tag =~ ^[A-Za-z0-9_-]+$ ]] || { echo "soak.sh: --tag: letters, digits, - and _ only" >&2; exit 2; }
soak_s=$(awk -v m="$minutes" 'BEGIN { printf "%d", m * 60 + 0.5 }')
[ "$soak_s" -ge "$interval" ] || { echo "soak.sh: MINUTES shorter than one interval" >&2; exit 2; }

# shellcheck disable=SC1091 # lib.sh is checked on its own
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
nm_demo_binaries soak.sh "$build"
app_bin=$NM_APP_BIN gen_bin=$NM_GEN_BIN

tmp=$(mktemp -d "${TMPDIR:-/tmp}/netmesh-soak.XXXXXX")
sock=/netmesh-soak-$tag.sock # abstract namespace: no file appears
app_prefix=nmsoak-app-$tag
gen_prefix=nmsoak-gen-$tag
app_pid='' gen_pid=''
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
  trap - INT TERM
  [ -z "$gen_pid" ] || kill -CONT "$gen_pid" 2>/dev/null || true # a paused one cannot stop
  nm_stop_pid "$gen_pid"
  nm_stop_pid "$app_pid"
  rm -rf "$tmp"
  nm_eal_rundirs_rm "$app_prefix" "$gen_prefix"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
die() {
  echo "soak.sh: $*" >&2
  local f
  for f in "$tmp/app.log" "$tmp/gen.log"; do [ -f "$f" ] && tail -15 "$f" >&2; done
  exit 1
}

# The appliance's mbufs in use (both pools: frames, reassembled datagrams) and its drops so far,
# from /netmesh/stats: "IN_USE DROPS". DPDK counts the per-lcore caches as free, so the first is
# exact while nothing moves.
app_stats() {
  PYTHONPATH=$NM_ROOT/scripts python3 -c '
import sys
from nm_telemetry import Telemetry
with Telemetry(sys.argv[1], timeout=10) as t:
    s = t.query("/netmesh/stats")
    print(int(s["mbufs_in_use"]), int(s["total"]["drops"]))' "$app_prefix"
}
mbufs_in_use() { local v; v=$(app_stats) && echo "${v% *}"; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
gen_field() { { grep '^gen: t=' "$tmp/gen.log" || true; } | tail -1 | sed -n "s/.* $1=\([0-9]*\).*/\1/p"; }

# Hugepages are shared: free when counted, they may be gone when EAL maps them. Then once more
# without (EAL says "Cannot init memory" and exits at once).
mem_lost() { [ "$1" = --in-memory ] && grep -q 'Cannot init memory' "$2"; }
start_app() {
  setsid "$app_bin" "$@" "${quiet[@]}" --file-prefix "$app_prefix" \
    --lcores "$NM_APP_LCORES" "--vdev=net_memif0,role=server,socket=$sock" -- \
    "${NM_APP_OPTS[@]}" --stats-period 10 > "$tmp/app.log" 2>&1 &
  app_pid=$!
}
start_gen() {
  setsid "$gen_bin" "$@" "${quiet[@]}" --no-telemetry --file-prefix "$gen_prefix" \
    --lcores "$NM_GEN_LCORES" "--vdev=net_memif0,role=client,socket=$sock" -- \
    "${NM_GEN_OPTS[@]}" --rate "$rate" --duration 0 > "$tmp/gen.log" 2>&1 &
  gen_pid=$!
}

# ---- the appliance, idle ----
nm_demo_prepare "$tmp" "$app_bin" "$gen_bin" || exit 1
quiet=(--no-pci "--log-level=lib.*:error")
read -ra mem <<<"$(nm_eal_mem_args 256)"
start_app "${mem[@]}"
if ! nm_demo_wait_app "$tmp/app.log" "$app_pid"; then
  mem_lost "${mem[0]}" "$tmp/app.log" || die "the appliance did not start"
  echo "# eal: the hugepages went meanwhile: --no-huge" >&2
  start_app --no-huge -m 256
  nm_demo_wait_app "$tmp/app.log" "$app_pid" || die "the appliance did not start"
fi
# The idle baseline: mbufs the port holds with no traffic. A NIC's RX queues keep one mbuf per
# descriptor (rxd x queues) from the start; memif in copy mode allocates on receive, so here
# it is what the appliance itself holds at rest. Two equal reads, a second apart.
base='' prev=''
for _ in $(seq 30); do
  base=$(mbufs_in_use) || die "no telemetry from the appliance"
  [ "$base" = "$prev" ] && break
  prev=$base
  sleep 1
done
echo "soak: idle baseline mbufs_in_use=$base (appliance pid $app_pid, $(rss_kb "$app_pid") kB)"

# ---- traffic ----
nm_demo_gen_opts "$tmp" "$tmp/app.log"
read -ra mem <<<"$(nm_eal_mem_args 256)"
start_gen "${mem[@]}"
deadline=$((SECONDS + 90))
until [ "$(gen_field recv_events)" -gt 0 ] 2>/dev/null; do
  if ! kill -0 "$gen_pid" 2>/dev/null; then
    mem_lost "${mem[0]}" "$tmp/gen.log" || die "the generator ended before traffic flowed"
    echo "# eal: the hugepages went meanwhile: --no-huge" >&2
    mem=(--no-huge)
    start_gen --no-huge -m 256
  fi
  [ "$SECONDS" -lt "$deadline" ] || die "no replies within 90 s"
  sleep 0.2
done
echo "soak: traffic flows at --rate $rate; warm-up ${warmup} s, then ${soak_s} s sampled every ${interval} s"
# The warm-up reads telemetry as the samples will: each read is a connection served by a thread
# of the appliance's, whose stack and malloc arena count in its RSS from the first reads on.
deadline=$((SECONDS + warmup))
while [ "$SECONDS" -lt "$deadline" ]; do
  app_stats > /dev/null || die "no telemetry from the appliance"
  sleep 1
done

# ---- samples ----
# Each on its own tick from the start, so a slow telemetry read does not stretch the run.
start=$SECONDS first_app='' first_gen='' last_app='' last_gen='' last_recv=-1 stalled=''
for ((t = 0; t <= soak_s; t += interval)); do
  while [ $((SECONDS - start)) -lt "$t" ]; do sleep 0.2; done
  for p in "$app_pid" "$gen_pid"; do kill -0 "$p" 2>/dev/null || die "pid $p ended during the soak"; done
  last_app=$(rss_kb "$app_pid") last_gen=$(rss_kb "$gen_pid")
  st=$(app_stats) || die "no telemetry from the appliance"
  recv=$(gen_field recv_events)
  [ -n "$first_app" ] || first_app=$last_app first_gen=$last_gen
  echo "soak: t=${t}s app_rss_kb=$last_app gen_rss_kb=$last_gen mbufs_in_use=${st% *} app_drops=${st#* } recv_events=$recv gen_drops=$(gen_field drops)"
  # Replies that stop mean a broken run: its figures are still printed, then it fails.
  if [ "${recv:-0}" -le "$last_recv" ]; then stalled=$t; echo "soak: replies stopped at t=${t}s"; break; fi
  last_recv=$recv
done

# ---- drain and stop ----
# The generator pauses instead of leaving: a memif server whose client disconnects can fault in
# DPDK 22.11's rx burst (the rings are unmapped under the polling worker). Nothing arrives, the
# worker finishes what it holds, and the pools go back to what the appliance keeps.
kill -STOP "$gen_pid"
deadline=$((SECONDS + 30)) same=0 prev=''
while :; do
  cur=$(mbufs_in_use) || die "no telemetry from the appliance"
  [ "$cur" = "$prev" ] && same=$((same + 1)) || same=0
  prev=$cur
  [ "$cur" = "$base" ] || [ "$same" -ge 6 ] || [ "$SECONDS" -ge "$deadline" ] && break
  sleep 0.5
done
echo "soak: drained mbufs_in_use=$cur (generator paused)"
# Every drop has a reason (nm_drop.h): the non-zero ones, for the record.
PYTHONPATH=$NM_ROOT/scripts python3 -c '
import sys
from nm_telemetry import Telemetry
with Telemetry(sys.argv[1], timeout=10) as t:
    d = t.query("/netmesh/drops")
    print("soak: appliance drops", " ".join("%s=%d" % kv for kv in d.items() if kv[1]) or "none")' \
  "$app_prefix" || die "no telemetry from the appliance"
# The appliance stops first, for the same reason: its client must not leave under its worker (the
# soak-short test saw that segfault). Then the generator's stop request, which waits until it
# resumes: it sends nothing more, drains replies, prints its summary.
kill -INT "$app_pid"
app_rc=0
nm_wait_pid "$app_pid" 30 || app_rc=$?
[ "$app_rc" != 124 ] || die "the appliance did not stop in 30 s"
app_pid=''
kill -INT "$gen_pid"
kill -CONT "$gen_pid"
gen_rc=0
nm_wait_pid "$gen_pid" 30 || gen_rc=$?
[ "$gen_rc" != 124 ] || die "the generator did not stop in 30 s"
gen_pid=''

# ---- verdict ----
summary=$(grep '^gen: sent_events=' "$tmp/gen.log" | tail -1 || true)
[ -n "$summary" ] || die "no summary from the generator (exit status $gen_rc)"
val() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$summary"; }
echo "$summary"
ratio=$(awk -v a0="$first_app" -v a1="$last_app" -v g0="$first_gen" -v g1="$last_gen" \
  'BEGIN { r = a1 / a0; if (g1 / g0 > r) r = g1 / g0; printf "%.4f", r }')
leak=$((cur - base))
errors=$(val chain_errors)
echo "soak: appliance rss ${first_app} -> ${last_app} kB, generator rss ${first_gen} -> ${last_gen} kB"
echo "soak_rss_growth_ratio: $ratio ratio"
echo "soak_mbuf_leak: $leak mbufs"
echo "soak_chain_errors: ${errors:-?} errors"
echo "soak_lost_events: $(val lost_events) events"
echo "soak_duplicate_events: $(val duplicate_events) events"
ok=1
awk -v r="$ratio" 'BEGIN { exit !(r <= 1.01) }' || { echo "soak: RSS grew more than 1%"; ok=0; }
[ "$leak" = 0 ] || { echo "soak: mbufs in use differ from the idle baseline"; ok=0; }
[ "${errors:-1}" = 0 ] || { echo "soak: chain errors"; ok=0; }
[ "$app_rc" = 0 ] || { echo "soak: the appliance's exit status $app_rc"; ok=0; }
[ "$(val recv_events)" -gt 0 ] || { echo "soak: no events came back"; ok=0; }
[ -z "$stalled" ] || { echo "soak: replies stopped at t=${stalled}s"; ok=0; }
if [ "$ok" = 1 ]; then echo "soak: ok"; exit 0; fi
echo "soak: FAILED"
exit 1
