#!/usr/bin/env bash
# scripts/run.sh --migrate: live migration between three appliances, on this machine.
#
#   netmesh A (127.0.0.1) ─memif─ port 0 ┐
#   netmesh B (127.0.0.3) ─memif─ port 1 ├─ netmesh-wire (L2 switch; --loss between 0..2)
#   netmesh C (127.0.0.4) ─memif─ port 2 │
#   netmesh-gen (127.0.0.2) ─memif─ port 3 ┘
#
# An echo and a counter daemon start on A; every appliance accepts both kinds (--accept). The
# generator sends to both on A and follows Moved redirects. scripts/migrate_driver.py moves each
# daemon every --period seconds to B or C and back to A, through the appliances' telemetry.
# Exit 0 only when events came back, lost_events=0, duplicate_events=0, chain_errors=0, no
# migration failed and after each one the daemon lived on exactly one node. Under --loss a
# migration may fail (abort), but every one must end; under --loss-all lost_events may be up to
# the frames the wire dropped on the generator's own path (nobody retransmits those).
set -euo pipefail

usage() {
  cat <<EOF
usage: scripts/run.sh --migrate [--duration SEC] [--loss PCT | --loss-all PCT] [--rate PPS]
                      [--period SEC] [--flap-ms MS] [--seed N] [--no-build] [--tag NAME]
                      [--keep-logs DIR]

  --duration SEC   generator send time; migrations run meanwhile (default 20)
  --loss PCT       netmesh-wire drops PCT % of the frames between the appliances, each way
                   (0x0500 messages, forwarded events, sessions between A, B and C); the
                   generator's own path is clean, so lost_events must stay 0; migrations
                   may abort (failed=N), but every one must end
  --loss-all PCT   PCT % both ways on the appliances' whole ports, the generator's events and
                   replies included (nobody retransmits those): lost_events must not exceed
                   the frames the wire dropped on the generator's path (docs/migration.md)
  --rate PPS       generator packets per second (default 1000: five processes share the CPUs)
  --period SEC     seconds between migration rounds (default 2)
  --flap-ms MS     start each round with the targets' wire ports down, up again MS ms later
                   (the migrations retransmit until the link returns; keep MS under 10000,
                   the engine's phase timeout)
  --seed N         netmesh-wire's seed for its fault decisions (default 7)
  --no-build       use the binaries in \$BUILD as they are (the test suite does)
  --tag NAME       names memif sockets and EAL file prefixes (default: pid-random)
  --keep-logs DIR  copy every process's log to DIR at the end
EOF
}

duration=20 loss=0 loss_all=0 seed=7 rate=1000 period=2 flap=0 build=1 tag=$$-$RANDOM keep=''
while [ $# -gt 0 ]; do
  case $1 in
    --migrate) shift ;;
    --duration) duration=${2:?--duration needs a value}; shift 2 ;;
    --loss) loss=${2:?--loss needs a value}; shift 2 ;;
    --loss-all) loss_all=${2:?--loss-all needs a value}; shift 2 ;;
    --rate) rate=${2:?--rate needs a value}; shift 2 ;;
    --period) period=${2:?--period needs a value}; shift 2 ;;
    --seed) seed=${2:?--seed needs a value}; shift 2 ;;
    --flap-ms) flap=${2:?--flap-ms needs a value}; shift 2 ;;
    --no-build) build=0; shift ;;
    --tag) tag=${2:?--tag needs a value}; shift 2 ;;
    --keep-logs) keep=${2:?--keep-logs needs a directory}; shift 2 ;;
    --help|-h) usage; exit 0 ;;
    *) echo "run.sh --migrate: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
for n in "$duration" "$rate" "$flap" "$seed"; do
  [[ $n =~ ^[0-9]+$ ]] || { echo "run.sh: '$n' is not a number" >&2; exit 2; }
done
[ "$duration" -gt 0 ] || { echo "run.sh --migrate: --duration must be > 0" >&2; exit 2; }
for n in "$loss" "$loss_all"; do
  [[ $n =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "run.sh: loss '$n' is not a percentage" >&2; exit 2; }
done
[ "$loss" = 0 ] || [ "$loss_all" = 0 ] || { echo "run.sh: --loss or --loss-all, not both" >&2; exit 2; }
[[ $period =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "run.sh: --period '$period' is not a number" >&2; exit 2; }
[[ $tag =~ ^[A-Za-z0-9_-]+$ ]] || { echo "run.sh: --tag: letters, digits, - and _ only" >&2; exit 2; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC1091 # lib.sh is checked on its own
source "$here/lib.sh"
if [ "$build" = 1 ]; then
  echo "# building in $NM_BUILD" >&2
  nm_build
fi
app_bin=$NM_BUILD/app/netmesh gen_bin=$NM_BUILD/app/netmesh-gen wire_bin=$NM_BUILD/app/netmesh-wire
for b in "$app_bin" "$gen_bin" "$wire_bin"; do
  [ -x "$b" ] || { echo "run.sh: $b is missing (build it, or drop --no-build)" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/netmesh-migrate.XXXXXX")
ctl=$tmp/wire.ctl
sock=/netmesh-mig-$tag # abstract memif sockets, one per wire port
prefix=nmmig-$tag      # EAL file prefixes: $prefix-wire, -A, -B, -C, -gen
names=(A B C)
ips=(127.0.0.1 127.0.0.3 127.0.0.4)
declare -A pid=()
DEADLINE=90 # seconds a start-up condition may take on a loaded machine

stop_pid() { nm_stop_pid "$1" 15; }
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
  trap - INT TERM
  local k d
  for k in driver gen A B C wire; do stop_pid "${pid[$k]:-}"; done
  if [ -n "$keep" ]; then mkdir -p "$keep" && cp "$tmp"/*.log "$keep"/ 2>/dev/null || true; fi
  rm -rf "$tmp"
  for d in /var/run/dpdk "${XDG_RUNTIME_DIR:-/tmp}/dpdk"; do
    for k in wire A B C gen; do rm -rf "${d:?}/$prefix-$k"; done
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() { echo "run.sh --migrate: $*" >&2; for f in "$tmp"/*.log; do echo "--- $f" >&2; tail -15 "$f" >&2; done; exit 1; }
wait_for() { # wait_for WHAT CMD...
  local what=$1
  shift
  nm_wait_for "$DEADLINE" "$@" || fail "timed out waiting for $what"
}
in_log() { grep -q -- "$2" "$tmp/$1.log" 2>/dev/null; }

if [ "$(nproc)" -ge 2 ]; then cpu_b=1; else cpu_b=0; fi
quiet=(--no-pci "--log-level=lib.*:error")
field() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }

# Identities, one PSK for every session, daemon seeds.
head -c 32 /dev/urandom > "$tmp/psk"
head -c 32 /dev/urandom > "$tmp/echo.seed"
head -c 32 /dev/urandom > "$tmp/counter.seed"
chmod 600 "$tmp/psk" "$tmp/echo.seed" "$tmp/counter.seed"
declare -A node=() static=()
for n in "${names[@]}"; do
  id=$(nm_app_identity "$app_bin" "$tmp" "$n") || fail "could not read $n's identity"
  node[$n]=${id% *} static[$n]=${id#* }
done
"$gen_bin" --keys "$tmp/keys-gen" --show-identity > "$tmp/gen.id"
gen_node=$(field node_id "$tmp/gen.id")
gen_static=$(field noise_static_pub "$tmp/gen.id")
[ -n "$gen_node" ] || fail "could not read the generator's identity"
gen_peer="127.0.0.2,node=$gen_node${gen_static:+,static=$gen_static}"

# The wire: memif server of four ports; a fixed seed, so fault decisions repeat (as far as the
# frames' order does).
"$wire_bin" --no-huge -m 128 "${quiet[@]}" --no-telemetry --file-prefix "$prefix-wire" \
  --lcores "0@$cpu_b" "--vdev=net_memif0,role=server,socket=$sock-0" \
  "--vdev=net_memif1,role=server,socket=$sock-1" "--vdev=net_memif2,role=server,socket=$sock-2" \
  "--vdev=net_memif3,role=server,socket=$sock-3" -- --control "$ctl" --seed "$seed" \
  > "$tmp/wire.log" 2>&1 &
pid[wire]=$!
wait_for "the wire's control socket" "$wire_bin" --control "$ctl" --cmd stats > /dev/null 2>&1

# The appliances: each knows the others' statics (sealed identity transport); the lower one of a
# pair initiates (connect), so every pair has one session from the start.
for i in 0 1 2; do
  n=${names[$i]}
  peers=(--peer "$gen_peer")
  for j in 0 1 2; do
    [ "$j" != "$i" ] || continue
    m=${names[$j]}
    spec="${ips[$j]},node=${node[$m]},static=${static[$m]}"
    [ "$j" -lt "$i" ] || spec="$spec,connect"
    peers+=(--peer "$spec")
  done
  daemons=()
  [ "$n" != A ] || daemons=(--daemon "echo:$tmp/echo.seed:1" --daemon "counter:$tmp/counter.seed:1")
  "$app_bin" --no-huge -m 256 "${quiet[@]}" --file-prefix "$prefix-$n" --lcores "0@0,1@$cpu_b" \
    "--vdev=net_memif0,role=client,socket=$sock-$i,$NM_MEMIF_RING" -- \
    --ip "${ips[$i]}" --keys "$tmp/keys-$n" --psk-file "$tmp/psk" "${peers[@]}" "${daemons[@]}" \
    --accept echo:1 --accept counter:1 --idle-sleep-us 200 --stats-period 5 --mbufs 32767 \
    > "$tmp/$n.log" 2>&1 &
  pid[$n]=$!
done
for n in "${names[@]}"; do wait_for "appliance $n" in_log "$n" 'Ctrl-C to stop'; done
origin() { sed -n "s/^netmesh: daemon $1 origin 0x\([0-9a-f]*\) .*/\1/p" "$tmp/A.log"; }
echo_origin=$(origin echo)
counter_origin=$(origin counter)
[ -n "$echo_origin" ] && [ -n "$counter_origin" ] || fail "no daemon origins in A's log"
echo "# A ${node[A]}, B ${node[B]}, C ${node[C]}; echo $echo_origin, counter $counter_origin" >&2

# The appliance-to-appliance sessions before any migration (a migration needs its session).
peers_up() {
  PYTHONPATH=$here python3 - "$prefix-$1" "$2" <<'EOF'
import sys
import nm_telemetry
want = int(sys.argv[2])
with nm_telemetry.Telemetry(sys.argv[1]) as t:
    p = t.query("/netmesh/peers")
up = [v for k, v in p.items() if k.startswith("peer_") and isinstance(v, dict) and
      int(v["session_id"], 16) != 0]
sys.exit(0 if len(up) >= want else 1)
EOF
}
for n in A B; do wait_for "$n's sessions with the other appliances" peers_up "$n" 2; done

wire_cmd() { "$wire_bin" --control "$ctl" --cmd "$1" > /dev/null || fail "wire: $1"; }
if [ "$loss" != 0 ]; then
  for pair in '0<>1' '0<>2' '1<>2'; do wire_cmd "loss $pair $loss"; done
  echo "# netmesh-wire: $loss % loss each way between the appliances (ports 0..2)" >&2
fi
if [ "$loss_all" != 0 ]; then
  for p in 0 1 2; do wire_cmd "loss $p $loss_all both"; done
  echo "# netmesh-wire: $loss_all % loss both ways on the appliances' ports, the generator's path too" >&2
fi

# The generator: the daemons on A; B and C for redirects. Under loss a migration can take
# seconds (retransmission backoff), and the events it held replay only when it commits: the
# generator keeps listening for 15 s without a reply instead of 3, so that late is not lost.
drain_quiet_ms=3000
[ "$loss" = 0 ] && [ "$loss_all" = 0 ] || drain_quiet_ms=15000
"$gen_bin" --no-huge -m 128 "${quiet[@]}" --no-telemetry --file-prefix "$prefix-gen" --lcores 0@0 \
  "--vdev=net_memif0,role=client,socket=$sock-3,$NM_MEMIF_RING" -- \
  --ip 127.0.0.2 --peer-ip "${ips[0]}" --keys "$tmp/keys-gen" --psk-file "$tmp/psk" \
  --peer-node "${node[A]}" --peer-static "${static[A]}" \
  --also-peer "${ips[1]},node=${node[B]},static=${static[B]}" \
  --also-peer "${ips[2]},node=${node[C]},static=${static[C]}" \
  --daemon "$echo_origin" --daemon "$counter_origin" --rate "$rate" --duration "$duration" \
  --idle-sleep-us 100 --drain-quiet-ms "$drain_quiet_ms" > "$tmp/gen.log" 2>&1 &
pid[gen]=$!
wait_for "the generator's traffic" in_log gen 'gen: t=.* recv_events=[1-9]'

python3 "$here/migrate_driver.py" --duration "$duration" --period "$period" \
  --node "A=$prefix-A=${node[A]}" --node "B=$prefix-B=${node[B]}" --node "C=$prefix-C=${node[C]}" \
  --daemon "$echo_origin" --daemon "$counter_origin" \
  --flap-ms "$flap" --wire-bin "$wire_bin" --wire-ctl "$ctl" > "$tmp/driver.log" 2>&1 &
pid[driver]=$!
driver_rc=0
wait "${pid[driver]}" || driver_rc=$?
pid[driver]=''
gen_rc=0
wait "${pid[gen]}" || gen_rc=$?
pid[gen]=''

grep '^migrate: ' "$tmp/driver.log" || true
# The wire's drops per pair (port 3 is the generator's): what the generator may have lost.
"$wire_bin" --control "$ctl" --cmd stats > "$tmp/wire.stats" 2>&1 || true
grep '^pair ' "$tmp/wire.stats" | sed 's/^/wire: /' || true
wire_drops=$(awk '
  /^pair / { split($2, p, /[>:]/); d = $0; sub(/.* drops=/, "", d); sub(/ .*/, "", d)
             if (p[1] == 3) to += d; else if (p[2] == 3) from += d; else apps += d }
  / nic: / { for (i = 3; i <= NF; i++) if ($i ~ /^tx_(link_down|dropped)=/) { split($i, v, "="); tx += v[2] } }
  /^copies_failed=/ { split($0, v, "="); tx += v[2] }
  END { printf "generator_path_drops=%d to_appliances=%d to_generator=%d between_appliances_drops=%d tx_drops=%d\n",
               to + from, to, from, apps, tx }
' "$tmp/wire.stats")
echo "wire: $wire_drops"
migrations=$(grep '^migrations: ' "$tmp/driver.log" | tail -1 || true)
summary=$(grep '^gen: sent_events=' "$tmp/gen.log" | tail -1 || true)
echo "${migrations:-migrations: no summary (driver exit status $driver_rc)}"
echo "${summary:-gen: no summary (exit status $gen_rc)}"
val() { sed -n "s/.*\b$1=\([0-9]*\).*/\1/p" <<<"$2"; }
recv=$(val recv_events "$summary") lost=$(val lost_events "$summary")
dups=$(val duplicate_events "$summary") errors=$(val chain_errors "$summary")
completed=$(val completed "$migrations") failed=$(val failed "$migrations")
placement=$(val placement_errors "$migrations")
to_apps=$(val to_appliances "$wire_drops") to_gen=$(val to_generator "$wire_drops")
tx_drops=$(val tx_drops "$wire_drops")
# A lost event either never ran (its datagram was dropped: one event a datagram here) or ran
# and its output never arrived (a gap in the daemon's chain: the generator's per-daemon lost=;
# a reply datagram carries several outputs, so these are not bounded by frames one for one).
gap_lost=$(sed -n 's/^gen: daemon .* lost=\([0-9]*\) .*/\1/p' "$tmp/gen.log" | awk '{ n += $1 } END { print n + 0 }')
never_ran=$(( ${lost:-0} > gap_lost ? ${lost:-0} - gap_lost : 0 ))
echo "accounting: lost_events=${lost:-?} never_ran=$never_ran (the wire dropped ${to_apps:-?}" \
  "frames towards the appliances) outputs_lost=$gap_lost (in ${to_gen:-?} frames dropped towards" \
  "the generator) tx_drops=${tx_drops:-?}"
# What may be lost and what may fail: nothing on a clean wire; under --loss, aborts (every
# migration still ended: placement_errors counts one that did not); under --loss-all, events
# whose datagram the wire dropped, and outputs only if the wire dropped frames to the generator.
lost_max=0 failed_max=0 accounted=1
[ "$loss" = 0 ] && [ "$loss_all" = 0 ] || failed_max=${failed:-1}
if [ "$loss_all" != 0 ]; then
  lost_max=${lost:-0}
  [ "$never_ran" -le $(( ${to_apps:-0} + ${tx_drops:-0} )) ] || accounted=0
  [ "$gap_lost" = 0 ] || [ "${to_gen:-0}" -gt 0 ] || accounted=0
fi
if [ "$gen_rc" -eq 0 ] && [ "$driver_rc" -eq 0 ] && [ "${recv:-0}" -gt 0 ] && [ "$accounted" = 1 ] &&
   [ "${lost:-1}" -le "$lost_max" ] && [ "${dups:-1}" = 0 ] && [ "${errors:-1}" = 0 ] &&
   [ "${completed:-0}" -gt 0 ] && [ "${failed:-1}" -le "$failed_max" ] && [ "${placement:-1}" = 0 ]; then
  echo "run: ok ($completed migrations completed, ${failed:-0} aborted, $recv events came back," \
    "lost_events=$lost, each one the wire dropped, none duplicated, every chain validated)"
  exit 0
fi
echo "run: FAILED (generator exit $gen_rc, driver exit $driver_rc, recv_events=${recv:-?}," \
  "lost_events=${lost:-?} (accounted=$accounted), duplicate_events=${dups:-?}, chain_errors=${errors:-?}," \
  "completed=${completed:-?}, failed=${failed:-?}, placement_errors=${placement:-?})"
exit 1
