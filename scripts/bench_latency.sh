#!/usr/bin/env bash
# scripts/bench.sh latency: one event's round trip, netmesh-gen -> the appliance (an echo
# daemon) -> back, on a memif pair, against the same packets through a plain io forwarder
# (dpdk-testpmd --forward-mode=5tswap, netmesh-gen --reflect) on the same pair and CPUs.
#
# In one run, each phase against a server started for it:
#   1. max:       the appliance at --rate 0 (as fast as the pipeline takes): event_max_eps is
#                 the generator's rx_eps, events answered per second of sending.
#   2. event 80pct: the appliance at 80 % of event_max_eps.
#   3. event low: the appliance at LOW_RATE events/s (default 1000).
#   4. io low, io 80pct: the same rates through testpmd (its forwarding lcore on the worker's CPU).
# Each phase skips its first second(s) (--warmup): percentiles are over the measured window.
# Prints `name: value unit` lines; progress and the EAL choice go to stderr.
set -euo pipefail

usage() {
  cat <<EOF
usage: scripts/bench.sh latency [--low-rate EPS] [--seconds SEC] [--no-build] [--tag NAME]
  --low-rate EPS   the low rate, events/s (default 1000)
  --seconds SEC    measured seconds of each low-rate phase (default 10; the others: half)
  --no-build       use the binaries in \$BUILD as they are (the smoke test does)
  --tag NAME       names the memif socket and EAL file prefixes (default: pid-random)
NM_LAT_KEEP=1 keeps the temp dir with every process's log.
EOF
}

low_rate=1000 seconds=10 build=1 tag=$$-$RANDOM
while [ $# -gt 0 ]; do
  case $1 in
    --low-rate) low_rate=${2:?--low-rate needs a value}; shift 2 ;;
    --seconds) seconds=${2:?--seconds needs a value}; shift 2 ;;
    --no-build) build=0; shift ;;
    --tag) tag=${2:?--tag needs a value}; shift 2 ;;
    --help|-h) usage; exit 0 ;;
    *) echo "bench latency: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
for n in "$low_rate" "$seconds"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "bench latency: '$n' is not a positive number" >&2; exit 2; }
done
[[ $tag =~ ^[A-Za-z0-9_-]+$ ]] || { echo "bench latency: --tag: letters, digits, - and _ only" >&2; exit 2; }
command -v dpdk-testpmd > /dev/null ||
  { echo "bench latency: dpdk-testpmd is missing (Debian package dpdk-dev; scripts/setup.sh)" >&2; exit 1; }

# shellcheck disable=SC1091 # lib.sh is checked on its own
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[ "$build" = 0 ] || nm_build
app_bin=$NM_BUILD/app/netmesh
gen_bin=$NM_BUILD/app/netmesh-gen
for b in "$app_bin" "$gen_bin"; do
  [ -x "$b" ] || { echo "bench latency: $b is missing" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/netmesh-lat.XXXXXX")
sock=/netmesh-lat-$tag.sock # abstract namespace
server_mac=02:00:00:00:00:01
server_pid='' nm_stop_status=0
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
  nm_stop_pid "$server_pid"
  [ -n "${NM_LAT_KEEP:-}" ] || rm -rf "$tmp"
  nm_eal_rundirs_rm "nmlat-app-$tag" "nmlat-io-$tag" "nmlat-gen-$tag"
}
trap cleanup EXIT

# Two CPUs: the server's busy lcore (the appliance's worker, testpmd's forwarding lcore) on
# CPU 1; the generator on CPU 0 with the server's main lcore, which sleeps between duties
# (the appliance's control thread: 1 ms; testpmd's: its stats period). EAL's own control
# threads follow the main lcore's CPU.
if [ "$(nproc)" -ge 2 ]; then
  server_lcores=0@0,1@1 gen_lcores=0@0
else
  server_lcores=0@0,1@0 gen_lcores=0@0
fi
quiet=(--no-pci --no-telemetry "--log-level=lib.*:error")
# One memory choice for every phase, so they compare: hugepages when both processes fit.
mem_choice=$(nm_eal_mem_args 512)
read -ra mem <<<"${mem_choice/-m 512/-m 256}"

app_node="" app_static="" gen_node="" # set by nm_make_nodes
nm_make_nodes "$tmp" "$app_bin" "$gen_bin" echo

# Start the memif server (argv after the binary's EAL memory args) and wait for `ready`.
start_server() {
  local name=$1 ready=$2 bin=$3
  shift 3
  : > "$tmp/$name.log" # not the last phase's: it has the ready line already
  setsid "$bin" "${mem[@]}" "${quiet[@]}" --no-shconf --file-prefix "nmlat-$name-$tag" \
    --lcores "$server_lcores" "--vdev=net_memif0,role=server,socket=$sock,mac=$server_mac" \
    "$@" > "$tmp/$name.log" 2>&1 &
  server_pid=$!
  local deadline=$((SECONDS + 60))
  until grep -qs "$ready" "$tmp/$name.log"; do
    if ! kill -0 "$server_pid" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
      echo "bench latency: $name did not start:" >&2; cat "$tmp/$name.log" >&2; exit 1
    fi
    sleep 0.1
  done
}

# A server that did not exit cleanly on SIGINT is reported (the phase's figures stand: it ended).
stop_server() {
  nm_stop_pid "$server_pid"
  server_pid=''
  if [ "$nm_stop_status" != 0 ] && [ "$nm_stop_status" != 130 ]; then # 130: SIGINT re-raised (testpmd)
    echo "bench latency: WARNING: the server of phase $1 exited with status $nm_stop_status" >&2
  fi
}

# One generator run: NAME MEASURED_SEC WARMUP_SEC RATE [gen options]; its summary in $tmp/NAME.sum.
gen_run() {
  local name=$1 measured=$2 secs=$(($2 + $3)) warm=$3 rate=$4 rc=0
  shift 4
  echo "# $name: rate ${rate} events/s (0: unlimited), ${warm} s warm-up, ${measured} s measured" >&2
  sample_worker "$tmp/$name.ticks" &
  local sampler=$!
  /usr/bin/time -f '%e %U %S' -o "$tmp/$name.time" \
  timeout $((secs + 60)) "$gen_bin" "${mem[@]}" "${quiet[@]}" --no-shconf \
    --file-prefix "nmlat-gen-$tag" --lcores "$gen_lcores" \
    "--vdev=net_memif0,role=client,socket=$sock" -- --ip 127.0.0.2 --peer-ip 127.0.0.1 \
    --peer-mac "$server_mac" --keys "$tmp/gen-keys" --rate "$rate" --duration "$secs" \
    --warmup "$warm" --stats-period 0 "$@" > "$tmp/$name.log" 2>&1 || rc=$?
  grep '^gen: sent_events=' "$tmp/$name.log" | tail -1 > "$tmp/$name.sum" || true
  # CPU time / wall time of the two busy threads: below 1, the scheduler gave their CPU away.
  awk '{ print ($1 > 0 ? ($2 + $3) / $1 : 0) }' "$tmp/$name.time" > "$tmp/$name.gen_share"
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  awk -v hz="$(getconf CLK_TCK)" 'NR == 1 { t0 = $1; k0 = $2 } { t = $1; k = $2 }
    END { print (t > t0 ? (k - k0) / hz / (t - t0) : 0) }' "$tmp/$name.ticks" > "$tmp/$name.server_share"
  local s
  s=$(cat "$tmp/$name.sum")
  if [ "$rc" != 0 ] || [ -z "$s" ] || [ "$(kv established "$s")" != 1 ] ||
     [ "$(kv chain_errors "$s")" != 0 ] || [ "$(kv rtt_samples "$s")" = 0 ]; then
    echo "bench latency: $name failed (generator exit status $rc):" >&2
    tail -20 "$tmp/$name.log" >&2
    exit 1
  fi
}
# utime + stime (clock ticks) of the server's busy lcore thread (EAL names it rte-worker-1).
worker_ticks() {
  local t
  for t in /proc/"$server_pid"/task/*; do
    if [ "$(cat "$t/comm" 2>/dev/null)" = rte-worker-1 ]; then
      awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "$t/stat"
      return
    fi
  done
  echo 0
}
# Every 0.5 s while the server lives: "seconds ticks" of its busy thread, so the share holds
# even when the server dies as its memif client leaves (seen with both servers).
sample_worker() {
  local k
  while kill -0 "$server_pid" 2>/dev/null; do
    k=$(worker_ticks)
    [ "$k" = 0 ] || echo "$(date +%s.%N) $k" >> "$1"
    sleep 0.5
  done
}
kv() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$2"; }
sum() { kv "$2" "$(cat "$tmp/$1.sum")"; }

# Percentile lines of one phase: PREFIX PHASE SUFFIX KEYS...
report() {
  local prefix=$1 phase=$2 suffix=$3 k
  shift 3
  for k in "$@"; do
    echo "${prefix}_rtt_${k}_ns_${suffix}: $(sum "$phase" "rtt_${k}_ns") ns"
  done
  echo "${prefix}_lost_events_${suffix}: $(sum "$phase" lost_events) events"
  printf '%s_cpu_share_gen_%s: %.2f ratio\n' "$prefix" "$suffix" "$(cat "$tmp/$phase.gen_share")"
  printf '%s_cpu_share_server_%s: %.2f ratio\n' "$prefix" "$suffix" "$(cat "$tmp/$phase.server_share")"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }'; }

long=$seconds short=$(( (seconds + 1) / 2 ))
# Round trips on a shared machine are mostly scheduling: say how loaded it was.
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# A fresh server per phase: each phase's echo chain starts at genesis (lost_events stays
# honest), and no server outlives a memif client going away (the appliance was seen to crash
# once when a second generator connected after the first left).
app() {
  start_server app 'Ctrl-C to stop' "$app_bin" -- --ip 127.0.0.1 --keys "$tmp/app-keys" \
    --psk-file "$tmp/psk" --daemon "echo:$tmp/echo.seed:1" --peer "127.0.0.2,node=$gen_node" \
    --stats-period 0
  echo_origin=$(sed -n 's/^netmesh: daemon echo origin 0x\([0-9a-f]*\) .*/\1/p' "$tmp/app.log")
}
io() {
  start_server io 'Start automatic packet forwarding\|start packet forwarding' dpdk-testpmd -- \
    --forward-mode=5tswap --auto-start --stats-period 3600 --nb-cores 1 --rxq 1 --txq 1 \
    --total-num-mbufs 8192
}
# PHASE SERVER MEASURED_SEC WARMUP_SEC RATE [gen options]
phase() {
  local name=$1 server=$2
  shift 2
  "$server"
  if [ "$server" = app ]; then
    gen_run "$name" "$@" --peer-node "$app_node" --peer-static "$app_static" \
      --psk-file "$tmp/psk" --daemon "$echo_origin"
  else
    gen_run "$name" "$@" --reflect
  fi
  stop_server "$name"
}

phase max app "$short" 1 0
max_eps=$(sum max rx_eps)
rate_80=$(awk -v m="$max_eps" 'BEGIN { r = int(m * 0.8); print (r > 0 ? r : 1) }')
# The low phases run back to back (event, then io), so they see the most similar load.
phase event_80 app "$short" 1 "$rate_80"
phase event_low app "$long" 2 "$low_rate"
phase io_low io "$long" 2 "$low_rate"
phase io_80 io "$short" 1 "$rate_80"

echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "event_max_eps: $max_eps events/s"
echo "event_rate_low_eps: $low_rate events/s"
echo "event_rate_80pct_eps: $rate_80 events/s"
report event event_low low p50 p99 p999
report event event_80 80pct p50 p99 p999
report io io_low low p50 p99
report io io_80 80pct p50 p99
echo "event_rtt_p99_vs_io_low: $(ratio "$(sum event_low rtt_p99_ns)" "$(sum io_low rtt_p99_ns)") ratio"
echo "event_rtt_p99_vs_io_80pct: $(ratio "$(sum event_80 rtt_p99_ns)" "$(sum io_80 rtt_p99_ns)") ratio"
