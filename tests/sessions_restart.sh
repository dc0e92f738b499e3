#!/usr/bin/env bash
# Sessions under faults: the appliance restarts while netmesh-gen keeps running.
#
#   netmesh (127.0.0.1, a fixed MAC) --memif-- port 0 [netmesh-wire] port 1 --memif-- netmesh-gen
#
# The appliance runs a counter daemon with --state-dir. It is stopped twice while the generator
# sends: gracefully (SIGINT: its state saved at the stop), then with SIGKILL (restored from the
# last periodic save). Each time:
#   - the generator's IN line on the wire goes down first (the frames it sends meanwhile are
#     counted there, `down`), and the appliance is stopped once it has taken every frame the
#     wire gave it: what sits in a memif ring when its reader leaves is lost uncounted, and
#     this test accounts for every frame. For the SIGKILL run it also waits for the periodic
#     save to hold the counter's last answer, so the restored chain is the one the generator saw
#     (a crash that loses answers is tests/state_restart.sh's; the generator counts it as a
#     chain error, as it should);
#   - the wire keeps the generator's last 8 frames (`capture`: the old session's);
#   - the appliance starts again on the same state dir and the line comes up. The generator's
#     old-session packets are refused (`session_unknown`) until it finds the session dead
#     (nothing authenticated for --session-timeout-ms) and handshakes again; then the wire
#     replays the captured frames, and exactly 8 more are refused;
#   - the counter's first reply after the restart has sequence = saved + 1 and the saved parent
#     hash (read from the state file), and the generator's chain check goes on without a break.
# Every event the generator sent was answered, or dropped and counted by the wire or the
# appliance, and every frame the wire handed an appliance run was received by it.
set -euo pipefail
src=$1
build=$2
# shellcheck source=tests/faults_lib.sh
. "$src/tests/faults_lib.sh"
faults_init sr restart
state=$tmp/state
wire_pid='' app_pid='' gen_pid=''

cleanup() {
  stop_pid "$gen_pid"
  stop_pid "$app_pid"
  stop_pid "$wire_pid"
  local d
  for d in /var/run/dpdk "${XDG_RUNTIME_DIR:-/tmp}/dpdk"; do rm -rf "${d:?}/$tag-"*; done
  rm -rf "$tmp"
}
trap cleanup EXIT

if [ "$(nproc)" -ge 2 ]; then cpu_b=1; else cpu_b=0; fi
common=(--no-huge --no-pci --no-telemetry "--log-level=lib.*:error")
sock=/netmesh-restart-$tag
app_mac=02:00:00:00:00:01 # a restarted appliance keeps its NIC's MAC

head -c 32 /dev/urandom > "$tmp/psk"
head -c 32 /dev/urandom > "$tmp/counter.seed"
chmod 600 "$tmp/psk" "$tmp/counter.seed"
identities "$app_bin" "$gen_bin"

"$wire_bin" "${common[@]}" -m 128 --file-prefix "$tag-wire" --lcores "0@$cpu_b" \
  "--vdev=net_memif0,role=server,socket=$sock-0" "--vdev=net_memif1,role=server,socket=$sock-1" \
  -- --control "$ctl" > "$tmp/wire.log" 2>&1 &
wire_pid=$!
wait_for "the wire's control socket" "$wire_bin" --control "$ctl" --cmd stats > /dev/null 2>&1

start_app() { # start_app N: appliance run N
  "$app_bin" "${common[@]}" -m 192 --file-prefix "$tag-app$1" --lcores "0@0,1@$cpu_b" \
    "--vdev=net_memif0,role=client,socket=$sock-0,mac=$app_mac" -- \
    --ip 127.0.0.1 --keys "$tmp/app-keys" --psk-file "$tmp/psk" \
    --daemon "counter:$tmp/counter.seed:1" --peer "127.0.0.2,node=$gen_node" \
    --state-dir "$state" --snapshot-interval 1 \
    --stats-period 1 --idle-sleep-us 50 > "$tmp/app$1.log" 2>&1 &
  app_pid=$!
  wait_for "appliance run $1" in_log "app$1.log" 'Ctrl-C to stop'
}
# State file (docs/architecture.md): next_parent at 80, CDS1's through_seq at 112 + 37.
file_seq() { printf '%d' "0x$(od -An -tx8 -j 149 -N 8 "$file" | tr -d ' ')"; }
file_next() { od -An -tx8 -j 80 -N 8 "$file" | tr -d ' '; }
# settled N: every frame the wire gave appliance run N (port 0 tx since run N-1 ended) is in a
# counters block of its log.
settled() {
  local tx; tx=$(wire_stat 0 nic tx)
  [ "$(tot_rx "$(total_block "$tmp/app$1.log")")" = $((tx - tx_before)) ]
}
file_holds() { [ -f "$file" ] && [ "$(file_seq)" = "$1" ]; }
rehandshakes_seen() { grep -Eq "^gen: peer 0 rehandshakes=$1\$" "$tmp/gen.log"; }
resumed_seen() { grep -Eq "^gen: daemon 0*$counter_origin resumed after rehandshake $1:" "$tmp/gen.log"; }
block_after() { [ -n "$(total_after "$tmp/$1" "$peer_re")" ]; }
unknown_is() { # unknown_is N LOG: the appliance's last counters block shows N session_unknown
  [ "$(tot_drop "$(total_block "$tmp/$2")" session_unknown)" = "$1" ]
}

# ---- run 1, the generator
start_app 1
counter_origin=$(sed -n 's/^netmesh: daemon counter origin 0x\([0-9a-f]*\) .*/\1/p' "$tmp/app1.log")
[ -n "$counter_origin" ] || fail "no counter origin"
file=$state/$counter_origin.nmstate
tx_before=0
"$gen_bin" "${common[@]}" -m 128 --no-shconf --file-prefix "$tag-gen" --lcores 0@0 \
  "--vdev=net_memif0,role=client,socket=$sock-1" -- \
  --ip 127.0.0.2 --peer-ip 127.0.0.1 --keys "$tmp/gen-keys" \
  --peer-node "$app_node" --peer-static "$app_static" --psk-file "$tmp/psk" \
  --daemon "$counter_origin" --rate 500 --duration 600 --idle-sleep-us 50 \
  > "$tmp/gen.log" 2>&1 &
gen_pid=$!
wait_for "the generator's session" in_log gen.log '^gen: .*session [0-9a-f]* up'
passed_more 1 in 300 "traffic in run 1"

declare -A rx ev_in ev_out drops unknown base
# restart N SIGNAL: stop appliance run N with SIGNAL and start run N+1, as the header says.
restart() {
  local n=$1 sig=$2 next=$(($1 + 1)) block saved_seq saved_next
  note "run $n: quiescing, then SIG$sig"
  wire down 1 in
  wire capture 1 8
  wait_for "run $n to take every frame the wire gave it" settled "$n"
  block=$(total_block "$tmp/app$n.log")
  if [ "$sig" = KILL ]; then
    # Its counter's answers: restored + outputs of this run.
    wait_for "the periodic save to hold run $n's last answer" \
      file_holds $((prev_seq + $(tot_out "$block")))
    kill -KILL "$app_pid"
    wait "$app_pid" 2>/dev/null || true
  else
    stop_graceful "$app_pid" "appliance run $n"
    in_log "app$n.log" '^netmesh: state saved' || fail "run $n: no save on stop"
    block=$(total_block "$tmp/app$n.log") # the final one
  fi
  app_pid=''
  rx[$n]=$(tot_rx "$block") ev_in[$n]=$(tot_in "$block") ev_out[$n]=$(tot_out "$block")
  drops[$n]=$(tot_drops "$block") unknown[$n]=$(tot_drop "$block" session_unknown)
  eq "run $n: frames received = frames the wire gave it" "${rx[$n]}" \
    $(( $(wire_stat 0 nic tx) - tx_before ))
  tx_before=$(wire_stat 0 nic tx)
  saved_seq=$(file_seq) saved_next=$(file_next)
  eq "run $n: the file holds every answer" "$saved_seq" $((prev_seq + ev_out[$n]))
  prev_seq=$saved_seq

  start_app "$next"
  in_log "app$next.log" '^netmesh: daemon counter origin .* (restored)$' || fail "run $next not restored"
  wire up 1 in
  note "run $next up; waiting for the generator's re-handshake"
  wait_for "the generator's re-handshake $n" rehandshakes_seen "$n"
  local sid; sid=$(grep '^gen: .*session [0-9a-f]* up' "$tmp/gen.log" | tail -1 |
    sed -n 's/.*session \([0-9a-f]*\) up.*/\1/p')
  wait_for "run $next to serve session $sid" in_log "app$next.log" "^peer 127.0.0.2: .* session 0x$sid "
  # The old session's packets that reached run N+1 before the generator gave it up: all in the
  # first counters block after that (they came before the msg1).
  peer_re="^peer 127.0.0.2: .* session 0x$sid "
  wait_for "a counters block of run $next" block_after "app$next.log"
  block=$(total_after "$tmp/app$next.log" "$peer_re")
  base[$next]=$(tot_drop "$block" session_unknown)
  wire replay 1
  wait_for "run $next to refuse the 8 replayed frames" unknown_is $((base[$next] + 8)) "app$next.log"
  wait_for "the counter's first reply after the restart" resumed_seen "$n"
  local line; line=$(grep -E "^gen: daemon 0*$counter_origin resumed after rehandshake $n:" "$tmp/gen.log")
  eq "run $next: first reply's sequence (saved + 1)" "$(sed -n 's/.* seq=\([0-9]*\).*/\1/p' <<<"$line")" \
    $((saved_seq + 1))
  eq "run $next: first reply's parent (the saved next parent)" \
    "$(sed -n 's/.* parent=\([0-9a-f]*\).*/\1/p' <<<"$line")" "$saved_next"
  passed_more 1 in 300 "traffic in run $next"
}

prev_seq=0
restart 1 INT
restart 2 KILL

# ---- the end: the generator stops (it drains), then run 3 once it took every frame
note "stopping the generator"
stop_graceful "$gen_pid" netmesh-gen
gen_pid=''
wait_for "run 3 to take every frame the wire gave it" settled 3
stop_graceful "$app_pid" "appliance run 3"
app_pid=''
block=$(total_block "$tmp/app3.log")
rx[3]=$(tot_rx "$block") ev_in[3]=$(tot_in "$block") ev_out[3]=$(tot_out "$block")
drops[3]=$(tot_drops "$block") unknown[3]=$(tot_drop "$block" session_unknown)
eq "run 3: frames received = frames the wire gave it" "${rx[3]}" $(( $(wire_stat 0 nic tx) - tx_before ))
wstats=$("$wire_bin" --control "$ctl" --cmd stats) || fail "wire stats"
stop_pid "$wire_pid"
wire_pid=''

# ---- every number must agree
ws() { sed -n "s/^port $1 $2: .*\b$3=\([0-9]*\).*/\1/p" <<<"$wstats"; }
gline=$(grep '^gen: sent_events=' "$tmp/gen.log" | tail -1)
gval() { sed -n "s/.*\b$1=\([0-9]*\).*/\1/p" <<<"$gline"; }
eq "generator chain errors" "$(gval chain_errors)" 0
eq "generator chain gaps (every output it saw follows the one before)" "$(gval chain_gaps)" 0
eq "generator sessions found dead" "$(gval sessions_dead)" 2
eq "generator re-handshakes" "$(gval rehandshakes)" 2
eq "generator established at the end" "$(gval established)" 1
eq "generator drops" "$(gval drops)" 0
for n in 1 2 3; do
  eq "run $n handshakes completed" "$(sessions_stat "$tmp/app$n.log" handshakes_completed)" 1
  # Every drop of a run is an old-session packet (run 1 has none) or a replayed one.
  eq "run $n drops = session_unknown" "${drops[$n]}" "${unknown[$n]}"
done
eq "run 1 session_unknown" "${unknown[1]}" 0
for n in 2 3; do
  eq "run $n session_unknown = the old session's packets + 8 replayed" "${unknown[$n]}" $((base[$n] + 8))
done
sent=$(gval sent_events)
delivered=$((ev_in[1] + ev_in[2] + ev_in[3]))
# One output per event: what the appliances processed was answered, and nothing else.
eq "appliance outputs = events processed" $((ev_out[1] + ev_out[2] + ev_out[3])) "$delivered"
eq "generator lost_events = events sent - processed" "$(gval lost_events)" $((sent - delivered))
# The events not processed: dropped by the wire (the generator's line down, the appliance's port
# absent or full) or refused as the old session's. The wire's frames there are events, except
# the generator's ARP requests and msg1 that found no appliance (beyond the three that worked).
dropped=$(( $(ws 1 in down) + $(ws 0 nic tx_link_down) + $(ws 0 nic tx_dropped) + base[2] + base[3] ))
nondata=$(( $(gval hs_attempts) - 3 + $(gval arp_requests) - 3 ))
echo "sessions-restart: sent $sent, processed $delivered, wire down $(ws 1 in down)," \
  "link_down $(ws 0 nic tx_link_down), refused old-session ${base[2]}+${base[3]}," \
  "replayed 8+8, no-session events $(gval no_session_events)"
eq "events not processed = frames dropped and counted" $((sent - delivered)) $((dropped - nondata))
echo "sessions-restart: ok"
