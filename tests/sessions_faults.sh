#!/usr/bin/env bash
# Sessions under faults: the appliance and netmesh-gen through netmesh-wire over memif.
#
#   netmesh (127.0.0.1) --memif-- port 0 [netmesh-wire] port 1 --memif-- netmesh-gen 1 (127.0.0.2)
#                                                       port 2 --memif-- netmesh-gen 2 (127.0.0.2)
#
# One appliance run with an echo and a counter daemon; two generator runs with the same keys:
#   gen 1: 5 % loss both ways, 5 % duplicates both ways, 5 % reordering (4 positions or 2 ms,
#          well inside the 1024-counter replay window) towards the appliance, then a link flap;
#   restart: gen 1 stops, the wire captures its last frames, gen 2 (the same node, restarted
#          on another switch port, so it need not wait for gen 1's teardown) handshakes anew (the
#          appliance's live session is replaced once gen 2's first packet authenticates; on a
#          machine stalled past the 30 s session timeout it expires first), the captured
#          old-session frames are replayed and refused;
#   gen 2: clean traffic; the daemons' chains continue where gen 1 left them.
# Every drop must be explained by a counter: both sides' final stats and the wire's agree exactly.
# Reordering is applied towards the appliance only: netmesh-gen's chain check reads an output that
# arrives out of order as a chain error (it judges each link against the previous one).
set -euo pipefail
src=$1
build=$2
app_bin=$build/app/netmesh gen_bin=$build/app/netmesh-gen wire_bin=$build/app/netmesh-wire
tag=sf-$$-$RANDOM
tmp=$(mktemp -d "${TMPDIR:-/tmp}/netmesh-faults.XXXXXX")
ctl=$tmp/wire.ctl
wire_pid='' app_pid='' gen_pid='' old_gen_pid=''
DEADLINE=90 # seconds any one condition may take on a loaded machine

stop_pid() {
  local pid=$1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -INT "$pid" 2>/dev/null || true
  for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  stop_pid "$gen_pid"
  local p
  for p in $old_gen_pid; do stop_pid "$p"; done
  stop_pid "$app_pid"
  stop_pid "$wire_pid"
  local d
  for d in /var/run/dpdk "${XDG_RUNTIME_DIR:-/tmp}/dpdk"; do
    rm -rf "${d:?}/$tag-wire" "${d:?}/$tag-app" "${d:?}/$tag-gen1" "${d:?}/$tag-gen2"
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
note() { echo "# $(date +%T) $*"; }
fail() {
  echo "FAIL: $*"
  for f in wire.log app.log gen1.log gen2.log; do
    [ -f "$tmp/$f" ] && { echo "--- $f (head, tail)"; head -8 "$tmp/$f"; echo ...; tail -25 "$tmp/$f"; }
  done
  "$wire_bin" --control "$ctl" --cmd stats 2>/dev/null || true
  exit 1
}
wire() { "$wire_bin" --control "$ctl" --cmd "$*" > /dev/null || fail "wire: $*"; }
# wire_stat PORT DIR FIELD: one counter of the running wire.
wire_stat() {
  "$wire_bin" --control "$ctl" --cmd stats 2>/dev/null |
    sed -n "s/^port $1 $2: .*\b$3=\([0-9]*\).*/\1/p"
}
# wait_for WHAT CMD...: poll CMD until it succeeds, DEADLINE s of sleeps at most (counted, not
# read from the wall clock, which this machine's time keeping may step).
wait_for() {
  local what=$1; shift
  local left=$((DEADLINE * 10))
  until "$@"; do
    left=$((left - 1))
    [ $left -gt 0 ] || fail "timed out waiting for $what"
    sleep 0.1
  done
}
at_least() { local v; v=$(wire_stat "$1" "$2" "$3"); [ "${v:-0}" -ge "$4" ]; }
in_log() { grep -q -- "$2" "$tmp/$1" 2>/dev/null; }

# Two CPUs: the wire beside the appliance's worker, the generator beside the appliance's main lcore.
# The appliance and the generators sleep when idle (--idle-sleep-us), so the wire is never starved
# long enough for a leaving generator's memif ring to still hold frames: memif drops those
# uncounted, and this test must see every frame accounted for.
if [ "$(nproc)" -ge 2 ]; then cpu_b=1; else cpu_b=0; fi
common=(--no-huge --no-pci --no-telemetry "--log-level=lib.*:error")
sock=/netmesh-faults-$tag

head -c 32 /dev/urandom > "$tmp/psk"
head -c 32 /dev/urandom > "$tmp/echo.seed"
head -c 32 /dev/urandom > "$tmp/counter.seed"
chmod 600 "$tmp/psk" "$tmp/echo.seed" "$tmp/counter.seed"
"$app_bin" "${common[@]}" -m 64 --no-shconf -l 0 -- --keys "$tmp/app-keys" --show-identity > "$tmp/app.id"
"$gen_bin" --keys "$tmp/gen-keys" --show-identity > "$tmp/gen.id"
field() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }
app_node=$(field node_id "$tmp/app.id")
app_static=$(field noise_static_pub "$tmp/app.id")
gen_node=$(field node_id "$tmp/gen.id")
[ -n "$app_node" ] && [ -n "$app_static" ] && [ -n "$gen_node" ] || fail "identities"

# The wire: memif server on both sockets; a fixed seed, so the fault decisions repeat.
"$wire_bin" "${common[@]}" -m 128 --file-prefix "$tag-wire" --lcores "0@$cpu_b" \
  "--vdev=net_memif0,role=server,socket=$sock-0" "--vdev=net_memif1,role=server,socket=$sock-1" \
  "--vdev=net_memif2,role=server,socket=$sock-2" \
  -- --control "$ctl" --seed 42 > "$tmp/wire.log" 2>&1 &
wire_pid=$!
wait_for "the wire's control socket" "$wire_bin" --control "$ctl" --cmd stats > /dev/null 2>&1

"$app_bin" "${common[@]}" -m 192 --file-prefix "$tag-app" --lcores "0@0,1@$cpu_b" \
  "--vdev=net_memif0,role=client,socket=$sock-0" -- \
  --ip 127.0.0.1 --keys "$tmp/app-keys" --psk-file "$tmp/psk" \
  --daemon "echo:$tmp/echo.seed:1" --daemon "counter:$tmp/counter.seed:1" \
  --peer "127.0.0.2,node=$gen_node" --stats-period 1 --idle-sleep-us 50 > "$tmp/app.log" 2>&1 &
app_pid=$!
wait_for "the appliance" in_log app.log 'Ctrl-C to stop'
origin() { sed -n "s/^netmesh: daemon $1 origin 0x\([0-9a-f]*\) .*/\1/p" "$tmp/app.log"; }
echo_origin=$(origin echo)
counter_origin=$(origin counter)

start_gen() { # start_gen N: generator run N in the background, on wire port N
  "$gen_bin" "${common[@]}" -m 128 --no-shconf --file-prefix "$tag-gen$1" --lcores 0@0 \
    "--vdev=net_memif0,role=client,socket=$sock-$1" -- \
    --ip 127.0.0.2 --peer-ip 127.0.0.1 --keys "$tmp/gen-keys" \
    --peer-node "$app_node" --peer-static "$app_static" --psk-file "$tmp/psk" \
    --daemon "$echo_origin" --daemon "$counter_origin" --rate 1000 --duration 120 --idle-sleep-us 50 \
    > "$tmp/gen$1.log" 2>&1 &
  gen_pid=$!
  wait_for "gen $1's session" in_log "gen$1.log" '^gen: .*session [0-9a-f]* up'
}
# stop_gen N: SIGINT; done once its summary is written. Its teardown (port, EAL) can take long on
# a loaded machine and needs nobody: it is waited for at the end.
stop_gen() {
  note "stopping gen $1"
  kill -INT "$gen_pid" 2>/dev/null || true
  wait_for "gen $1's summary" in_log "gen$1.log" '^gen: sent_events='
  old_gen_pid="$old_gen_pid $gen_pid"
  gen_pid=''
}
# passed_more PORT DIR N: wait until N more frames passed that line.
passed_more() {
  local base; base=$(wire_stat "$1" "$2" passed)
  wait_for "$4" at_least "$1" "$2" passed $((base + $3))
}

# ---- gen 1: loss, duplicates, reordering, then a link flap
note "gen 1"
start_gen 1
passed_more 1 in 200 "traffic before the faults"
wire loss 1 5 in
wire dup 1 5 in
wire reorder 1 5 4 2000 in
wire loss 1 5 out
wire dup 1 5 out
for f in lost duplicated reordered; do wait_for "port 1 in $f" at_least 1 in $f 5; done
for f in lost duplicated; do wait_for "port 1 out $f" at_least 1 out $f 5; done
note "link flap"
wire clear 1
wire down 1
wait_for "frames lost to the link being down" at_least 1 in down 50
wire up 1
passed_more 1 in 300 "traffic after the flap" # a clean tail: every loss shows as a gap
stop_gen 1
note "gen 1 stopped"

# ---- restart: the old session's last frames are kept to be replayed
wire capture 1 8
start_gen 2
note "gen 2 up"
# The live session is replaced once gen 2's first packet authenticates (sessions_rotated=1); if
# the machine stalled past the 30 s session timeout, gen 1's session expired first instead.
sid2=$(sed -n 's/^gen: .*session \([0-9a-f]*\) up.*/\1/p' "$tmp/gen2.log")
wait_for "the appliance to serve gen 2's session" in_log app.log "^peer 127.0.0.2: .* session 0x$sid2 "
note "gen 2's session is the appliance's"
wire replay 1
replayed_unknown() { grep -Eq 'total: +drop session_unknown +8$' "$tmp/app.log"; }
wait_for "the replayed old-session frames to be refused" replayed_unknown
passed_more 2 in 300 "gen 2's traffic"
stop_gen 2

wstats=$("$wire_bin" --control "$ctl" --cmd stats) || fail "wire stats"
stop_pid "$app_pid"
app_pid=''
stop_pid "$wire_pid"
wire_pid=''

# ---- every number must agree
ws() { sed -n "s/^port $1 $2: .*\b$3=\([0-9]*\).*/\1/p" <<<"$wstats"; }
wnic() { sed -n "s/^port $1 nic: .*\b$2=\([0-9]*\).*/\1/p" <<<"$wstats"; }
gval() { grep '^gen: sent_events=' "$tmp/gen$1.log" | tail -1 | sed -n "s/.*\b$2=\([0-9]*\).*/\1/p"; }
gdrop() { sed -n "s/^gen: drop $2=\([0-9]*\)$/\1/p" "$tmp/gen$1.log"; }
gdaemon() { sed -n "s/^gen: daemon 0*$2 .*\b$3=\([0-9]*\).*/\1/p" "$tmp/gen$1.log" | tail -1; }
# The appliance's final block: the last "total:" line and the drop lines after it.
final=$(awk '/^total: +rx/ { block = "" } /^total:/ { block = block $0 "\n" } END { printf "%s", block }' "$tmp/app.log")
app_in=$(sed -n 's/^total: .* events in \([0-9]*\) out.*/\1/p' <<<"$final")
app_out=$(sed -n 's/^total: .* events in [0-9]* out \([0-9]*\) .*/\1/p' <<<"$final")
app_drops=$(sed -n 's/^total: .*| drops \([0-9]*\)$/\1/p' <<<"$final")
adrop() { local v; v=$(sed -n "s/^total: *drop $1 *\([0-9]*\)$/\1/p" <<<"$final"); echo "${v:-0}"; }
sessions=$(grep '^sessions:' "$tmp/app.log" | tail -1)
sm() { sed -n "s/.*\b$1=\([0-9]*\).*/\1/p" <<<"$sessions"; }
eq() { [ "$2" = "$3" ] || fail "$1: $2 != $3"; }

for g in 1 2; do
  eq "gen $g chain errors" "$(gval $g chain_errors)" 0
  eq "gen $g established" "$(gval $g established)" 1
done
sent=$(( $(gval 1 sent_events) + $(gval 2 sent_events) ))
# Lost towards the appliance: by the faults on gen 1's IN line, or refused by the appliance's
# memif ring (the wire counts both).
lost_in=$(( $(ws 1 in lost) + $(ws 1 in down) + $(wnic 0 tx_dropped) + $(wnic 0 tx_link_down) ))
# Towards the appliance: every event sent arrived, or the wire counted it lost; duplicates
# (and nothing else but the replayed frames) were refused by the replay window.
eq "events sent - delivered = lost on the wire ($(grep '^port [0-9] nic' <<<"$wstats" | tr '\n' ' '))" \
  $((sent - app_in)) "$lost_in"
eq "appliance replay_dup = wire duplicates" "$(adrop replay_dup)" "$(ws 1 in duplicated)"
eq "appliance session_unknown = replayed frames" "$(adrop session_unknown)" 8
eq "appliance drops explained" "$app_drops" $(( $(adrop replay_dup) + 8 ))
# Towards the generator: gen 1 saw every event or a gap for it; its drops are the wire's duplicates.
gen1_dups=$(gdrop 1 replay_dup)
eq "gen 1 replay_dup = wire duplicates" "${gen1_dups:-0}" "$(ws 1 out duplicated)"
eq "gen 1 drops explained" "$(gval 1 drops)" "${gen1_dups:-0}"
eq "gen 2 drops" "$(gval 2 drops)" 0
[ "$(gval 1 lost_events)" -gt 0 ] || fail "gen 1 saw no loss"
# The daemons' chains continue across the restart: gen 2's first output of each daemon follows
# gen 1's last (one gap, exactly gen 1's view of that chain), and the appliance emitted exactly
# what gen 2's view of the chains adds up to.
total=0
for d in "$echo_origin" "$counter_origin"; do
  ev1=$(gdaemon 1 "$d" events) lost1=$(gdaemon 1 "$d" lost)
  ev2=$(gdaemon 2 "$d" events) lost2=$(gdaemon 2 "$d" lost) gaps2=$(gdaemon 2 "$d" chain_gaps)
  [ -n "$ev1" ] && [ -n "$ev2" ] || fail "daemon $d: no per-daemon line"
  eq "daemon $d: gen 2 starts where gen 1 ended" "$lost2" $((ev1 + lost1))
  eq "daemon $d: gen 2 gaps" "$gaps2" 1
  total=$((total + ev2 + lost2))
done
eq "appliance outputs = the chains' length" "$app_out" "$total"
# The session manager: one handshake per generator run, one rotation, nothing refused.
eq "handshakes completed" "$(sm handshakes_completed)" 2
eq "gen 1's session replaced or expired, once" $(( $(sm sessions_rotated) + $(sm sessions_expired) )) 1
for c in handshake_failures unknown_peer msg1_replays candidate_timeouts early_data_dropped; do
  eq "$c" "$(sm $c)" 0
done
eq "wire copies failed" "$(grep -o 'copies_failed=[0-9]*' <<<"$wstats")" copies_failed=0
# Frames towards a generator that stopped reading (it is leaving) are counted by the wire
# (tx_link_down, tx_dropped on ports 1 and 2) and are none of the events above: printed below.
echo "sessions-faults: ok (sent $sent, delivered $app_in, wire lost $lost_in," \
  "duplicated $(ws 1 in duplicated)+$(ws 1 out duplicated), reordered $(ws 1 in reordered)," \
  "gen 1 gaps $(gval 1 lost_events), outputs $app_out," \
  "wire tx to leaving generators $(( $(wnic 1 tx_link_down) + $(wnic 1 tx_dropped) + $(wnic 2 tx_link_down) + $(wnic 2 tx_dropped) ))," \
  "rotated $(sm sessions_rotated) expired $(sm sessions_expired))"
