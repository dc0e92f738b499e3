#!/usr/bin/env bash
# scripts/bench.sh latency: one event's round trip, netmesh-gen -> the appliance (an echo
# daemon) -> back, on a memif pair, against the same packets through a plain io forwarder
# (dpdk-testpmd --forward-mode=5tswap, netmesh-gen --reflect) on the same pair and CPUs.
#
# In one run:
#   1. max:   the appliance at --rate 0 (as fast as the pipeline takes): event_max_eps is the
#             generator's rx_eps, events answered per second of sending.
#   2. low:   the appliance at LOW_RATE events/s (default 1000).
#   3. 80pct: the appliance at 80 % of event_max_eps.
#   4. io at the same two rates through testpmd (its forwarding lcore on the worker's CPU).
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
server_pid=''
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
  nm_stop_pid "$server_pid"
  [ -n "${NM_LAT_KEEP:-}" ] || rm -rf "$tmp"
  local d
  for d in /var/run/dpdk "${XDG_RUNTIME_DIR:-/tmp}/dpdk"; do
    rm -rf "${d:?}/nmlat-app-$tag" "${d:?}/nmlat-io-$tag" "${d:?}/nmlat-gen-$tag"
  done
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

head -c 32 /dev/urandom > "$tmp/psk"
head -c 32 /dev/urandom > "$tmp/echo.seed"
chmod 600 "$tmp/psk" "$tmp/echo.seed"
"$app_bin" --no-huge -m 64 --no-shconf -l 0 "${quiet[@]}" -- --keys "$tmp/app-keys" \
  --show-identity > "$tmp/app.id"
"$gen_bin" --keys "$tmp/gen-keys" --show-identity > "$tmp/gen.id"
field() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }
app_node=$(field node_id "$tmp/app.id")
app_static=$(field noise_static_pub "$tmp/app.id")
gen_node=$(field node_id "$tmp/gen.id")
[ -n "$app_node" ] && [ -n "$app_static" ] && [ -n "$gen_node" ] ||
  { echo "bench latency: could not read the identities" >&2; exit 1; }

# Start the memif server (argv after the binary's EAL memory args) and wait for `ready`.
start_server() {
  local name=$1 ready=$2 bin=$3
  shift 3
  setsid "$bin" "${mem[@]}" "${quiet[@]}" --no-shconf --file-prefix "nmlat-$name-$tag" \
    --lcores "$server_lcores" "--vdev=net_memif0,role=server,socket=$sock,mac=$server_mac" \
    "$@" > "$tmp/$name.log" 2>&1 &
  server_pid=$!
  local deadline=$((SECONDS + 60))
  until grep -q "$ready" "$tmp/$name.log"; do
    if ! kill -0 "$server_pid" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
      echo "bench latency: $name did not start:" >&2; cat "$tmp/$name.log" >&2; exit 1
    fi
    sleep 0.1
  done
}

stop_server() {
  nm_stop_pid "$server_pid"
  server_pid=''
}

# One generator run: NAME MEASURED_SEC WARMUP_SEC RATE [gen options]; its summary in $tmp/NAME.sum.
gen_run() {
  local name=$1 measured=$2 secs=$(($2 + $3)) warm=$3 rate=$4 rc=0
  shift 4
  echo "# $name: rate ${rate} events/s (0: unlimited), ${warm} s warm-up, ${measured} s measured" >&2
  timeout $((secs + 60)) "$gen_bin" "${mem[@]}" "${quiet[@]}" --no-shconf \
    --file-prefix "nmlat-gen-$tag" --lcores "$gen_lcores" \
    "--vdev=net_memif0,role=client,socket=$sock" -- --ip 127.0.0.2 --peer-ip 127.0.0.1 \
    --peer-mac "$server_mac" --keys "$tmp/gen-keys" --rate "$rate" --duration "$secs" \
    --warmup "$warm" --stats-period 0 "$@" > "$tmp/$name.log" 2>&1 || rc=$?
  grep '^gen: sent_events=' "$tmp/$name.log" | tail -1 > "$tmp/$name.sum" || true
  local s
  s=$(cat "$tmp/$name.sum")
  if [ "$rc" != 0 ] || [ -z "$s" ] || [ "$(kv established "$s")" != 1 ] ||
     [ "$(kv chain_errors "$s")" != 0 ] || [ "$(kv rtt_samples "$s")" = 0 ]; then
    echo "bench latency: $name failed (generator exit status $rc):" >&2
    tail -20 "$tmp/$name.log" >&2
    exit 1
  fi
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
  # Events never answered, from the destination line: the summary's lost_events also counts
  # the echo chain's jump over the outputs of the earlier phases (one appliance for all).
  local un
  un=$(sed -n 's/^gen: destination .* unanswered=\([0-9]*\) .*/\1/p' "$tmp/$phase.log")
  echo "${prefix}_unanswered_events_${suffix}: ${un:-?} events"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }'; }

long=$seconds short=$(( (seconds + 1) / 2 ))
# Round trips on a shared machine are mostly scheduling: say how loaded it was.
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

start_server app 'Ctrl-C to stop' "$app_bin" -- --ip 127.0.0.1 --keys "$tmp/app-keys" \
  --psk-file "$tmp/psk" --daemon "echo:$tmp/echo.seed:1" --peer "127.0.0.2,node=$gen_node" \
  --stats-period 0
echo_origin=$(sed -n 's/^netmesh: daemon echo origin 0x\([0-9a-f]*\) .*/\1/p' "$tmp/app.log")
event_args=(--peer-node "$app_node" --peer-static "$app_static" --psk-file "$tmp/psk"
            --daemon "$echo_origin")
gen_run max "$short" 1 0 "${event_args[@]}"
max_eps=$(sum max rx_eps)
rate_80=$(awk -v m="$max_eps" 'BEGIN { r = int(m * 0.8); print (r > 0 ? r : 1) }')
gen_run event_low "$long" 2 "$low_rate" "${event_args[@]}"
gen_run event_80 "$short" 1 "$rate_80" "${event_args[@]}"
stop_server

start_server io 'Start automatic packet forwarding\|start packet forwarding' dpdk-testpmd -- \
  --forward-mode=5tswap --auto-start --stats-period 3600 --nb-cores 1 --rxq 1 --txq 1 \
  --total-num-mbufs 8192
gen_run io_low "$long" 2 "$low_rate" --reflect
gen_run io_80 "$short" 1 "$rate_80" --reflect
stop_server

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
