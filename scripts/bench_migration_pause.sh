#!/usr/bin/env bash
# scripts/bench.sh migration (its last part): what a live migration costs the events of the
# daemon that moves, between two appliances under a steady stream.
#
#   netmesh A (127.0.0.1) ─memif─ port 0 ┐
#   netmesh B (127.0.0.3) ─memif─ port 1 ├─ netmesh-wire (L2 switch, no faults)
#   netmesh-gen (127.0.0.2) ─memif─ port 2 ┘
#
# One echo daemon starts on A; netmesh-gen offers it --rate events/s (following Moved redirects)
# and records every event's round trip by send time (--rtt-series). After --warmup seconds
# scripts/migrate_driver.py moves the daemon A -> B -> A ... (--round-trips times there and back,
# one migration every --period seconds) and writes each migration's window (--windows): from just
# before the start command to the moment it saw the source's record end, CLOCK_MONOTONIC.
#
# The pause (docs/BENCHMARKS.md, migration): an event sent during a window waits because of the
# migration (held on the source, shipped, replayed on the target, or forwarded) by at most its
# round trip minus what a round trip takes anyway. So
#   migration_cutover_pause_max_ns = the worst round trip of the events sent in any window
#                                    (extended by --margin-ms) - the run's median round trip.
# Beside it, the direct figure: migration_hold_max_ns, per migration the hold the appliances
# stamped themselves (migrate_driver.py: from the source's snapshot request, where the hold begins
# at the earliest, to the target handing the first held event to its worker; both appliances read
# this host's CLOCK_MONOTONIC), the median (migration_hold_p50_ns; of the two middle ones, their
# mean) and the max over the run; migration_hold_measured says of how many (0: both figures 0).
# The worst round trip outside the windows is printed beside it: what the machine's scheduling
# alone does to an event. Lost and duplicate events are the generator's final line's.
# Prints `name: value unit` lines; progress and the EAL choice go to stderr. Exit 0 when the run
# produced the figures (they are reported, not judged), 1 otherwise.
set -euo pipefail

usage() {
  cat <<EOF
usage: scripts/bench.sh migration-pause [options]   (also the last part of scripts/bench.sh migration)
  --rate EPS            events/s offered to the daemon (default 100000)
  --events-per-packet N events per packet (default 1: the generator sends EPS/N packets/s)
  --round-trips N       migrations A -> B -> A, N times (default 5: 2N migrations)
  --period SEC          seconds between migrations (default 1)
  --warmup SEC          traffic before the first migration (default 2)
  --margin-ms MS        each window also covers events sent MS ms after its end (default 10)
  --idle-sleep-us N     the appliances' idle workers sleep N us (default 200; 0: they busy-poll)
  --no-build            use the binaries in \$BUILD as they are (the test suite does)
  --no-huge             never hugepages (the test suite), even when enough are free
  --tag NAME            names memif sockets and EAL file prefixes (default: pid-random)
  --keep-logs DIR       copy every process's log, the series and the windows to DIR
EOF
}

rate=100000 epp=1 round_trips=5 period=1 warmup=2 margin_ms=10 build=1 huge=1 tag=$$-$RANDOM keep=''
idle_us=200
while [ $# -gt 0 ]; do
  case $1 in
    --rate) rate=${2:?--rate needs a value}; shift 2 ;;
    --events-per-packet) epp=${2:?--events-per-packet needs a value}; shift 2 ;;
    --round-trips) round_trips=${2:?--round-trips needs a value}; shift 2 ;;
    --period) period=${2:?--period needs a value}; shift 2 ;;
    --warmup) warmup=${2:?--warmup needs a value}; shift 2 ;;
    --margin-ms) margin_ms=${2:?--margin-ms needs a value}; shift 2 ;;
    --idle-sleep-us) idle_us=${2:?--idle-sleep-us needs a value}; shift 2 ;;
    --no-build) build=0; shift ;;
    --no-huge) huge=0; shift ;;
    --tag) tag=${2:?--tag needs a value}; shift 2 ;;
    --keep-logs) keep=${2:?--keep-logs needs a directory}; shift 2 ;;
    --help|-h) usage; exit 0 ;;
    *) echo "bench migration-pause: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
for n in "$rate" "$epp" "$round_trips" "$period" "$warmup"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "bench migration-pause: '$n' is not a positive number" >&2; exit 2; }
done
[[ $margin_ms =~ ^[0-9]+$ ]] || { echo "bench migration-pause: --margin-ms '$margin_ms' is not a number" >&2; exit 2; }
[[ $idle_us =~ ^[0-9]+$ ]] || { echo "bench migration-pause: --idle-sleep-us '$idle_us' is not a number" >&2; exit 2; }
[[ $tag =~ ^[A-Za-z0-9_-]+$ ]] || { echo "bench migration-pause: --tag: letters, digits, - and _ only" >&2; exit 2; }
[ $((rate % epp)) = 0 ] || { echo "bench migration-pause: --rate must be a multiple of --events-per-packet" >&2; exit 2; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC1091 # lib.sh is checked on its own
source "$here/lib.sh"
[ "$build" = 0 ] || nm_build
app_bin=$NM_BUILD/app/netmesh gen_bin=$NM_BUILD/app/netmesh-gen wire_bin=$NM_BUILD/app/netmesh-wire
for b in "$app_bin" "$gen_bin" "$wire_bin"; do
  [ -x "$b" ] || { echo "bench migration-pause: $b is missing" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/netmesh-migpause.XXXXXX")
sock=/netmesh-migpause-$tag # abstract memif sockets, one per wire port
# EAL file prefixes: nmmp-wire-$tag, nmmp-A-$tag, nmmp-B-$tag, nmmp-gen-$tag
declare -A pid=()
DEADLINE=90 # seconds a start-up condition may take on a loaded machine
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
  trap - INT TERM
  local k
  for k in driver gen A B wire; do nm_stop_pid "${pid[$k]:-}" 15; done
  if [ -n "$keep" ] && mkdir -p "$keep"; then cp "$tmp"/*.log "$tmp"/*.txt "$keep"/ 2>/dev/null || true; fi
  rm -rf "$tmp"
  nm_eal_rundirs_rm "nmmp-wire-$tag" "nmmp-A-$tag" "nmmp-B-$tag" "nmmp-gen-$tag"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() {
  echo "bench migration-pause: $*" >&2
  for f in "$tmp"/*.log; do echo "--- $f" >&2; tail -15 "$f" >&2; done
  exit 1
}
wait_for() { # wait_for WHAT CMD...
  local what=$1
  shift
  nm_wait_for "$DEADLINE" "$@" || fail "timed out waiting for $what"
}
in_log() { grep -q -- "$2" "$tmp/$1.log" 2>/dev/null; }

# Memory: hugepages for all four processes when they fit, else --no-huge for all (one choice, so
# runs compare); -m per process below.
declare -A mb=([wire]=96 [A]=160 [B]=160 [gen]=96)
mem=--no-huge
[ "$huge" = 0 ] || mem=$(nm_eal_mem_args $((mb[wire] + mb[A] + mb[B] + mb[gen])))
mem=${mem%% -m *}
# Two CPUs: every main lcore (they sleep between duties) and the generator on CPU 0; the
# appliances' workers and the wire on CPU 1 (B's worker sleeps while it has no daemon).
if [ "$(nproc)" -ge 2 ]; then cpu_b=1; else cpu_b=0; fi
quiet=(--no-pci "--log-level=lib.*:error")
eal() { echo "$mem -m ${mb[$1]} --file-prefix nmmp-$1-$tag"; }

# Identities, the PSK, the echo daemon's seed.
head -c 32 /dev/urandom > "$tmp/psk"
head -c 32 /dev/urandom > "$tmp/echo.seed"
chmod 600 "$tmp/psk" "$tmp/echo.seed"
declare -A node=() static=()
gen_node=""
nm_mig_identities "$tmp" "$app_bin" "$gen_bin" A B || fail "identities"

# shellcheck disable=SC2046 # eal's words are separate arguments
nm_mig_wire "$wire_bin" "$tmp" "$sock" "0@$cpu_b" $(eal wire) "${quiet[@]}"
pid[wire]=$NM_WIRE_PID
wait_for "the wire's control socket" "$wire_bin" --control "$tmp/wire.ctl" --cmd stats &> /dev/null

# A and B know each other's statics (sealed identity transport); A initiates their session.
# --mbufs 32767: a hold may keep 4096 events (a quarter of the pool at most, nm_migdp).
ips=([0]=127.0.0.1 [1]=127.0.0.3)
start_app() { # start_app NAME PORT OTHER CONNECT [options]
  local n=$1 i=$2 o=$3 conn=$4
  shift 4
  # shellcheck disable=SC2046
  "$app_bin" $(eal "$n") "${quiet[@]}" --lcores "0@0,1@$cpu_b" \
    "--vdev=net_memif0,role=client,socket=$sock-$i,$NM_MEMIF_RING" -- \
    --ip "${ips[$i]}" --keys "$tmp/keys-$n" --psk-file "$tmp/psk" --peer "127.0.0.2,node=$gen_node" \
    --peer "${ips[1 - i]},node=${node[$o]},static=${static[$o]}$conn" --accept echo:1 \
    --idle-sleep-us "$idle_us" --stats-period 0 --mbufs 32767 "$@" > "$tmp/$n.log" 2>&1 &
  pid[$n]=$!
}
start_app A 0 B ,connect --daemon "echo:$tmp/echo.seed:1"
start_app B 1 A ''
for n in A B; do wait_for "appliance $n" in_log "$n" 'Ctrl-C to stop'; done
echo_origin=$(sed -n 's/^netmesh: daemon echo origin 0x\([0-9a-f]*\) .*/\1/p' "$tmp/A.log")
[ -n "$echo_origin" ] || fail "no daemon origin in A's log"
session_up() {
  PYTHONPATH=$here python3 - "nmmp-A-$tag" "${node[B]}" <<'EOF'
import sys
import nm_telemetry
with nm_telemetry.Telemetry(sys.argv[1]) as t:
    p = t.query("/netmesh/peers")
up = [v for v in p.values() if isinstance(v, dict) and int(v.get("node_id", "0"), 16) ==
      int(sys.argv[2], 16) and int(v.get("session_id", "0"), 16) != 0]
sys.exit(0 if up else 1)
EOF
}
wait_for "A's session with B" session_up

migrations=$((2 * round_trips))
drive=$((migrations * period))
secs=$((warmup + drive + 1))
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "# $rate events/s ($epp per packet) to echo $echo_origin on A; $migrations migrations," \
  "one every $period s after $warmup s" >&2
# shellcheck disable=SC2046
"$gen_bin" $(eal gen) "${quiet[@]}" --no-telemetry --lcores 0@0 \
  "--vdev=net_memif0,role=client,socket=$sock-2,$NM_MEMIF_RING" -- \
  --ip 127.0.0.2 --peer-ip "${ips[0]}" --keys "$tmp/keys-gen" --psk-file "$tmp/psk" \
  --peer-node "${node[A]}" --peer-static "${static[A]}" \
  --also-peer "${ips[1]},node=${node[B]},static=${static[B]}" --daemon "$echo_origin" \
  --rate $((rate / epp)) --events-per-packet "$epp" --duration "$secs" \
  --idle-sleep-us 100 --rtt-series "$tmp/series.txt" > "$tmp/gen.log" 2>&1 &
pid[gen]=$!
wait_for "the generator's traffic" in_log gen 'gen: t=.* recv_events=[1-9]'
sleep "$warmup" # the baseline: traffic without a migration (a fixed span of the run, not a wait)

python3 "$here/migrate_driver.py" --duration "$drive" --period "$period" \
  --node "A=nmmp-A-$tag=${node[A]}" --node "B=nmmp-B-$tag=${node[B]}" --daemon "$echo_origin" \
  --windows "$tmp/windows.txt" > "$tmp/driver.log" 2>&1 &
pid[driver]=$!
driver_rc=0
wait "${pid[driver]}" || driver_rc=$?
pid[driver]=''
gen_rc=0
wait "${pid[gen]}" || gen_rc=$?
pid[gen]=''
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
grep '^migrate: ' "$tmp/driver.log" | sed 's/^/# /' >&2 || true
# Where a lost event went: each appliance's drops and migration counters (the driver's state
# lines) and the wire's per-port counters (tx_dropped: a full memif ring towards that port).
grep '^state: ' "$tmp/driver.log" | sed 's/^/# /' >&2 || true
"$wire_bin" --control "$tmp/wire.ctl" --cmd stats 2>/dev/null | sed 's/^/# wire: /' >&2 || true

summary=$(grep '^gen: sent_events=' "$tmp/gen.log" | tail -1 || true)
mline=$(grep '^migrations: ' "$tmp/driver.log" | tail -1 || true)
[ -n "$summary" ] || fail "no generator summary (exit status $gen_rc)"
[ -n "$mline" ] || fail "no migrations line (driver exit status $driver_rc)"
grep -q '^gen: rtt series .* outside=0$' "$tmp/gen.log" || fail "the rtt series is incomplete"
[ -s "$tmp/windows.txt" ] || fail "no migration windows"
kv() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
[ "$(kv established "$summary")" = 1 ] || fail "not every session came up"
[ "$(kv chain_errors "$summary")" = 0 ] || fail "chain errors: $summary"

# Each window against the series: the worst round trip of the events sent in it (a slot that
# overlaps the window counts), then the worst of those outside every window.
awk -v margin=$((margin_ms * 1000000)) -v p50="$(kv rtt_p50_ns "$summary")" '
  FNR == NR { ws[++nw] = $4; we[nw] = $5 + margin; what[nw] = $2 " -> " $3 " " $6
              hold[nw] = $7; next }
  /^#/ { next }
  {
    s = $1; e = $1 + $2; inside = 0
    for (i = 1; i <= nw; i++)
      if (s < we[i] && e > ws[i]) { inside = 1; if ($4 > wmax[i]) wmax[i] = $4 }
    if (!inside && $4 > omax) omax = $4
  }
  END {
    for (i = 1; i <= nw; i++) {
      printf "# migration %d %s: window %.1f ms, worst round trip %.3f ms, hold %s\n", i, what[i],
        (we[i] - ws[i]) / 1e6, wmax[i] / 1e6,
        (hold[i] ~ /^[0-9]+$/ ? sprintf("%.3f ms", hold[i] / 1e6) : "unknown") > "/dev/stderr"
      if (wmax[i] > max) max = wmax[i]
      if (hold[i] ~ /^[0-9]+$/) { hs[++nh] = hold[i] + 0; if (hold[i] + 0 > hmax) hmax = hold[i] + 0 }
    }
    for (i = 2; i <= nh; i++) { # insertion sort: a handful of holds, and mawk has no asort
      v = hs[i]
      for (j = i - 1; j >= 1 && hs[j] > v; j--) hs[j + 1] = hs[j]
      hs[j + 1] = v
    }
    hmed = nh == 0 ? 0 : (nh % 2 ? hs[(nh + 1) / 2] : (hs[nh / 2] + hs[nh / 2 + 1]) / 2)
    printf "migration_rtt_p50_ns: %.0f ns\n", p50
    printf "migration_rtt_max_outside_ns: %.0f ns\n", omax
    printf "migration_rtt_max_in_windows_ns: %.0f ns\n", max
    printf "migration_cutover_pause_max_ns: %.0f ns\n", (max > p50 ? max - p50 : 0)
    printf "migration_hold_p50_ns: %.0f ns\n", hmed
    printf "migration_hold_max_ns: %.0f ns\n", hmax
    printf "migration_hold_measured: %d migrations\n", nh
  }' "$tmp/windows.txt" "$tmp/series.txt"
awk -v s="$(kv sent_events "$summary")" -v t="$(kv seconds "$summary")" -v r="$(kv recv_events "$summary")" \
  'BEGIN { printf "migration_offered_events_per_s: %.0f events/s\n", (t > 0 ? s / t : 0)
           printf "migration_answered_events_per_s: %.0f events/s\n", (t > 0 ? r / t : 0) }'
echo "migration_completed: $(kv completed "$mline") migrations"
echo "migration_failed: $(kv failed "$mline") migrations"
echo "migration_lost_events: $(kv lost_events "$summary") events"
echo "migration_duplicate_events: $(kv duplicate_events "$summary") events"
if [ "$gen_rc" != 0 ] || [ "$driver_rc" != 0 ]; then
  fail "generator exit status $gen_rc, driver exit status $driver_rc ($mline)"
fi
