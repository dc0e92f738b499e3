# shellcheck shell=bash
# Helpers shared by sessions_faults.sh and sessions_restart.sh (sourced): processes, the wire's
# control socket, waiting for conditions, log and counter reads. The caller sets build and calls
# faults_init; its processes log to $tmp/*.log.

# faults_init TAG NAME: the programs, a run tag (EAL prefixes, sockets), a temp dir, the wire's
# control socket in it, and how long any one condition may take on a loaded machine.
# shellcheck disable=SC2034 # the callers read them
faults_init() {
  app_bin=$build/app/netmesh gen_bin=$build/app/netmesh-gen wire_bin=$build/app/netmesh-wire
  tag=$1-$$-$RANDOM
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/netmesh-$2.XXXXXX")
  ctl=$tmp/wire.ctl
  DEADLINE=90 # seconds
}

# fail WHY: the reason, every log's head and tail, the wire's counters; exit 1.
fail() {
  echo "FAIL: $*"
  local f
  for f in "$tmp"/*.log; do
    [ -f "$f" ] && { echo "--- ${f##*/} (head, tail)"; head -8 "$f"; echo ...; tail -30 "$f"; }
  done
  "$wire_bin" --control "$ctl" --cmd stats 2>/dev/null || true
  exit 1
}

# stop_pid PID [SIGNAL]: the signal (INT), up to 15 s, then SIGKILL; reaped.
stop_pid() {
  local pid=$1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill "-${2:-INT}" "$pid" 2>/dev/null || true
  for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
}
# stop_graceful PID WHAT: SIGINT, then up to DEADLINE s for the exit (a loaded machine can take
# longer than stop_pid's 15 s to drain and save, and a SIGKILL then would lose the final counters);
# fails unless it exits 0.
gone() { ! kill -0 "$1" 2>/dev/null; }
stop_graceful() {
  local rc=0
  kill -INT "$1" 2>/dev/null || true
  wait_for "$2 to stop" gone "$1"
  wait "$1" || rc=$?
  [ "$rc" = 0 ] || fail "$2: exit status $rc"
}
note() { echo "# $(date +%T) $*"; }
wire() { "$wire_bin" --control "$ctl" --cmd "$*" > /dev/null || fail "wire: $*"; }
# wire_stat PORT DIR FIELD: one counter of the running wire (DIR in, out or nic).
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
# passed_more PORT DIR N WHAT: wait until N more frames passed that line.
passed_more() {
  local base; base=$(wire_stat "$1" "$2" passed)
  wait_for "$4" at_least "$1" "$2" passed $((base + $3))
}
field() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }
# identities APP_BIN GEN_BIN: keys in $tmp/app-keys and $tmp/gen-keys; sets app_node,
# app_static, gen_node.
identities() {
  "$1" --no-huge -m 64 --no-shconf -l 0 --no-pci --no-telemetry "--log-level=lib.*:error" -- \
    --keys "$tmp/app-keys" --show-identity > "$tmp/app.id"
  "$2" --keys "$tmp/gen-keys" --show-identity > "$tmp/gen.id"
  app_node=$(field node_id "$tmp/app.id")
  app_static=$(field noise_static_pub "$tmp/app.id")
  gen_node=$(field node_id "$tmp/gen.id")
  [ -n "$app_node" ] && [ -n "$app_static" ] && [ -n "$gen_node" ] || fail "identities"
}
# total_block LOG: the appliance's last counters block ("total:" and its drop lines).
total_block() {
  awk '/^total: +rx/ { block = "" } /^total:/ { block = block $0 "\n" } END { printf "%s", block }' "$1"
}
# total_after LOG REGEX: the first counters block printed after the first line matching REGEX.
total_after() {
  awk -v re="$2" 'seen && /^total: +rx/ { if (got) exit; got = 1 }
    got && /^total:/ { print } $0 ~ re { seen = 1 }' "$1"
}
# From a counters block: tot_rx, tot_in, tot_out, tot_drops, tot_drop REASON.
tot_rx() { sed -n 's/^total: *rx \([0-9]*\) pkts.*/\1/p' <<<"$1"; }
tot_in() { sed -n 's/^total: .* events in \([0-9]*\) out.*/\1/p' <<<"$1"; }
tot_out() { sed -n 's/^total: .* events in [0-9]* out \([0-9]*\) .*/\1/p' <<<"$1"; }
tot_drops() { sed -n 's/^total: .*| drops \([0-9]*\)$/\1/p' <<<"$1"; }
tot_drop() { local v; v=$(sed -n "s/^total: *drop $2 *\([0-9]*\)$/\1/p" <<<"$1"); echo "${v:-0}"; }
# sessions_stat LOG FIELD: from the appliance's last "sessions:" line.
sessions_stat() { grep '^sessions:' "$1" | tail -1 | sed -n "s/.*\b$2=\([0-9]*\).*/\1/p"; }
eq() { [ "$2" = "$3" ] || fail "$1: $2 != $3"; }
