#!/usr/bin/env bash
# The one-command demo: the netmesh appliance and the netmesh-gen traffic
# generator on the two ends of a memif pair, on this machine. The generator
# handshakes with the appliance, sends sealed causal events to an echo and a
# counter daemon, and checks every reply's chain. Live stats from both each
# second; the generator's summary at the end.
#
# Exit status: 0 when the generator received events and saw no chain error.
set -euo pipefail

usage() {
  cat <<EOF
usage: scripts/run.sh [--duration SEC] [--rate PPS] [--event-size BYTES] [--events-per-packet N]
                      [--no-build] [--tag NAME] [--top] [--huge-dir DIR]

Runs until Ctrl-C, or for --duration SEC seconds, then stops both processes
and prints the generator's summary.

  --duration SEC          stop after SEC seconds (default: run until Ctrl-C)
  --rate PPS              generator packets per second, 0 = as fast as possible (default 10000)
  --event-size BYTES      event payload size (default 64)
  --events-per-packet N   events per packet, capped by the 1500-byte MTU (default 1)
  --no-build              use the binaries in \$BUILD as they are (the test suite does)
  --tag NAME              names the memif socket and EAL file prefixes (default: pid-random)
  --top                   the live view is netmesh-top on the appliance's telemetry (q quits,
                          then the demo stops as after Ctrl-C); the stats lines go to the logs only
  --huge-dir DIR          the appliance's memory in hugepage files under DIR (a hugetlbfs
                          mount) with EAL's shared config, so dpdk-dumpcap and dpdk-proc-info can
                          attach (--file-prefix nmrun-app-TAG); its files are removed at exit
  --help                  this text

Needs no NIC: the two processes talk over a memif pair (addresses 127.0.0.1 and
127.0.0.2 exist only inside it). Uses hugepages when enough are free, --no-huge
otherwise. Binaries come from \$BUILD (default build-release/, built if needed).
EOF
}

duration=0 rate=10000 event_size=64 per_packet=1 build=1 tag=$$-$RANDOM top=0 huge_dir=''
while [ $# -gt 0 ]; do
  case $1 in
    --duration) duration=${2:?--duration needs a value}; shift 2 ;;
    --rate) rate=${2:?--rate needs a value}; shift 2 ;;
    --event-size) event_size=${2:?--event-size needs a value}; shift 2 ;;
    --events-per-packet) per_packet=${2:?--events-per-packet needs a value}; shift 2 ;;
    --no-build) build=0; shift ;;
    --tag) tag=${2:?--tag needs a value}; shift 2 ;;
    --top) top=1; shift ;;
    --huge-dir) huge_dir=${2:?--huge-dir needs a directory}; shift 2 ;;
    --help|-h) usage; exit 0 ;;
    *) echo "run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
for n in "$duration" "$rate" "$event_size" "$per_packet"; do
  [[ $n =~ ^[0-9]+$ ]] || { echo "run.sh: '$n' is not a number" >&2; exit 2; }
done
[[ $tag =~ ^[A-Za-z0-9_-]+$ ]] || { echo "run.sh: --tag: letters, digits, - and _ only" >&2; exit 2; }

# shellcheck disable=SC1091 # lib.sh is checked on its own
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
if [ "$build" = 1 ]; then
  echo "# building in $NM_BUILD" >&2
  nm_build
fi
app_bin=$NM_BUILD/app/netmesh
gen_bin=$NM_BUILD/app/netmesh-gen
for b in "$app_bin" "$gen_bin"; do
  [ -x "$b" ] || { echo "run.sh: $b is missing (build it, or drop --no-build)" >&2; exit 1; }
done

# Unique names, so several demos (and the test suite) can run side by side.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/netmesh-run.XXXXXX")
sock=/netmesh-run-$tag.sock # abstract namespace: no file appears
app_prefix=nmrun-app-$tag
gen_prefix=nmrun-gen-$tag
app_pid='' gen_pid='' watchdog_pid=''

# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
  trap - INT TERM
  [ -z "$watchdog_pid" ] || kill "$watchdog_pid" 2>/dev/null || true
  nm_stop_pid "$gen_pid"
  nm_stop_pid "$app_pid"
  rm -rf "$tmp"
  [ -z "$huge_dir" ] || rm -f "$huge_dir/${app_prefix}"map_*
  nm_rm_eal_dirs "$app_prefix" "$gen_prefix"
}
trap cleanup EXIT

# Two CPUs: appliance main lcore (sleeps between duties) on CPU 0, its worker on CPU 1, the
# generator on CPU 0 beside the mostly idle main lcore, so the worker keeps a CPU to itself.
if [ "$(nproc)" -ge 2 ]; then
  app_lcores=0@0,1@1 gen_lcores=0@0
else
  app_lcores=0@0,1@0 gen_lcores=0@0
fi
quiet=(--no-pci "--log-level=lib.*:error")
# The live view: prefixed lines, minus per-lcore detail (the totals follow) and memif's
# notice that --in-memory has no multi-process channel (harmless: one process per node).
live() {
  if [ "$top" = 1 ]; then cat > /dev/null; return; fi # netmesh-top has the terminal
  grep --line-buffered -v -e "$2" -e 'Failed to register mp action callback' | sed -u "s/^/$1 | /"
}

# Keys, PSK and daemon seeds.
app_node="" app_static="" gen_node="" # set by nm_make_nodes
nm_make_nodes "$tmp" "$app_bin" "$gen_bin" echo counter
echo "# appliance node $app_node, generator node $gen_node; memif socket @$sock" >&2

# The appliance: memif server. Its own session, so Ctrl-C reaches only this script,
# which then stops the generator first (its summary) and the appliance after it.
if [ -n "$huge_dir" ]; then
  awk -v d="$(realpath "$huge_dir")" '$2 == d && $3 == "hugetlbfs" { ok = 1 } END { exit !ok }' \
    /proc/mounts || { echo "run.sh: --huge-dir $huge_dir is not a hugetlbfs mount" >&2; exit 2; }
  app_mem=(--huge-dir "$huge_dir")
else
  read -ra app_mem <<<"$(nm_eal_mem_args 256)"
fi
setsid "$app_bin" "${app_mem[@]}" "${quiet[@]}" --file-prefix "$app_prefix" \
  --lcores "$app_lcores" "--vdev=net_memif0,role=server,socket=$sock" -- \
  --ip 127.0.0.1 --keys "$tmp/app-keys" --psk-file "$tmp/psk" \
  --daemon "echo:$tmp/echo.seed:1" --daemon "counter:$tmp/counter.seed:1" \
  --peer "127.0.0.2,node=$gen_node" --stats-period 1 \
  > >(trap '' INT TERM; tee "$tmp/app.log" | live app '^lcore ') 2>&1 &
app_pid=$!

for _ in $(seq 100); do
  grep -q 'Ctrl-C to stop' "$tmp/app.log" 2>/dev/null && break
  kill -0 "$app_pid" 2>/dev/null || break
  sleep 0.1
done
grep -q 'Ctrl-C to stop' "$tmp/app.log" || {
  echo "run.sh: the appliance did not start:" >&2; cat "$tmp/app.log" >&2; exit 1; }
origin() { sed -n "s/^netmesh: daemon $1 origin 0x\([0-9a-f]*\) .*/\1/p" "$tmp/app.log"; }
echo_origin=$(origin echo)
counter_origin=$(origin counter)

# The generator: memif client.
# shellcheck disable=SC2046
setsid "$gen_bin" $(nm_eal_mem_args 256) "${quiet[@]}" --no-telemetry --file-prefix "$gen_prefix" \
  --lcores "$gen_lcores" "--vdev=net_memif0,role=client,socket=$sock" -- \
  --ip 127.0.0.2 --peer-ip 127.0.0.1 --keys "$tmp/gen-keys" \
  --peer-node "$app_node" --peer-static "$app_static" --psk-file "$tmp/psk" \
  --daemon "$echo_origin" --daemon "$counter_origin" --rate "$rate" \
  --event-size "$event_size" --events-per-packet "$per_packet" --duration "$duration" \
  > >(trap '' INT TERM; tee "$tmp/gen.log" | live gen '^$') 2>&1 &
gen_pid=$!

# Bounded even if something hangs: the generator stops itself after --duration.
if [ "$duration" -gt 0 ]; then
  (sleep $((duration + 30)); kill -INT "$gen_pid" 2>/dev/null) &
  watchdog_pid=$!
fi
trap 'kill -INT "$gen_pid" 2>/dev/null || true' INT TERM
if [ "$top" = 1 ]; then
  "$NM_ROOT/scripts/netmesh-top" --file-prefix "$app_prefix" || true
  kill -INT "$gen_pid" 2>/dev/null || true
fi

gen_rc=0
while :; do
  wait "$gen_pid" && gen_rc=0 || gen_rc=$?
  kill -0 "$gen_pid" 2>/dev/null || break # a trapped signal interrupted wait: wait again
done
gen_pid=''
nm_stop_pid "$app_pid"
app_pid=''
sleep 0.2 # let the log pipes finish

summary=$(grep '^gen: sent_events=' "$tmp/gen.log" | tail -1 || true)
echo
echo "${summary:-gen: no summary (exit status $gen_rc)}"
recv=$(sed -n 's/.* recv_events=\([0-9]*\).*/\1/p' <<<"$summary")
errors=$(sed -n 's/.* chain_errors=\([0-9]*\).*/\1/p' <<<"$summary")
if [ "$gen_rc" -eq 0 ] && [ "${recv:-0}" -gt 0 ] && [ "${errors:-1}" -eq 0 ]; then
  echo "run: ok ($recv events came back, every chain validated)"
  exit 0
fi
echo "run: FAILED (generator exit status $gen_rc, recv_events=${recv:-?}, chain_errors=${errors:-?})"
exit 1
