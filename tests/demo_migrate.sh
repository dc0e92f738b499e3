#!/usr/bin/env bash
# The migration demo end to end: scripts/run.sh --migrate runs netmesh-wire, three appliances and
# netmesh-gen; the echo and counter daemons migrate A -> B/C -> A while the generator sends. The
# run must say ok, and its lines must show what ok means: migrations completed, none failed, every
# daemon on exactly one node after each, events back, none lost or duplicated, no chain error;
# and nothing may be left behind (temp dir, EAL runtime dirs, processes).
#
# demo_migrate.sh SRC BUILD lossy: two runs. First with netmesh-wire dropping 5 % of the frames
# each way between the appliances (--loss 5: 0x0500 messages, forwarded events, their sessions;
# the generator's own path is clean): every migration must end, completed or failed (an abort is
# allowed under loss), the daemon on exactly one node after each (the driver reads
# /netmesh/daemons and /netmesh/migrations on all three), and no event lost, run twice or out of
# its chain (lost_events=0, duplicate_events=0, chain_errors=0). Then with 5 % on the
# appliances' whole ports (--loss-all 5: the generator's events and replies too, which nobody
# retransmits): the same, except that lost_events may reach the frames the wire dropped on the
# generator's path: every event that never ran is a datagram the wire dropped towards an
# appliance (pairs 3>X; one event a datagram), and outputs are missing from a chain only if the
# wire dropped replies towards the generator (a reply datagram carries several outputs).
#
# demo_migrate.sh SRC BUILD flap: the clean demo's verdict while each round's migrations start
# with the targets' wire ports down for 1.5 s: the migrations retransmit across the outage and
# complete, the daemons come back across the old node's outage; no event is lost (the generator
# only talks to the sources meanwhile). docs/migration.md, "Known limits seen with the demo".
set -euo pipefail
src=$1
build=$2
mode=${3:-clean}
tag=tmig-$$-$RANDOM
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; tail -60 "$tmp/out"; exit 1; }
val() { sed -n "s/.*\b$1=\([0-9]*\).*/\1/p" <<<"$2"; }

# demo OPTS...: one run.sh --migrate into $tmp/out; sets rc, summary, migrations, wire.
demo() {
  rc=0
  BUILD=$build TMPDIR=$tmp timeout 900 "$src/scripts/run.sh" --migrate --no-build --tag "$tag" \
    --duration 8 "$@" > "$tmp/out" 2>&1 || rc=$?
  summary=$(grep '^gen: sent_events=' "$tmp/out" | tail -1) || fail "no generator summary"
  migrations=$(grep '^migrations: ' "$tmp/out" | tail -1) || fail "no migrations line"
  wire=$(grep '^wire: generator_path_drops=' "$tmp/out" | tail -1) || fail "no wire drops line"
}

opts=()
# flap: a round across the outage takes up to 6.5 s and must end while the generator still
# listens (migrate_driver.py), so 14 s give three rounds (A -> B/C, back, A -> C/B).
[ "$mode" != flap ] || opts=(--flap-ms 1500 --period 3 --duration 14)
[ "$mode" = lossy ] || demo "${opts[@]}"
# no_leftovers: run.sh removed its temp dir, EAL's runtime dirs and its processes.
no_leftovers() {
  local left d p
  left=$(find "$tmp" -mindepth 1 -maxdepth 1 ! -name out)
  [ -z "$left" ] || fail "left in TMPDIR: $left"
  for d in /var/run/dpdk "${XDG_RUNTIME_DIR:-/tmp}/dpdk"; do
    for p in wire A B C gen; do
      [ ! -e "$d/nmmig-$tag-$p" ] || fail "$d/nmmig-$tag-$p left behind"
    done
  done
  if pgrep -f -- "$tag" > /dev/null; then fail "processes left running"; fi
}
# lossy_verdict LOST_MAX: every migration ended, one home after each, nothing duplicated, one
# chain, at most LOST_MAX events lost, and the frames lost between the appliances were counted.
# (run.sh's exit status includes its own accounting of what was lost.)
lossy_verdict() {
  [ "$rc" = 0 ] || fail "run.sh exit status $rc"
  [ "$(grep -c '^migrate: [0-9a-f]* [ABC] -> [ABC] \(completed\|failed\)' "$tmp/out")" -ge 2 ] ||
    fail "fewer than 2 migrations ended"
  ! grep -q 'did not end\|refused' "$tmp/out" || fail "a migration did not end, or was refused"
  [ "$(val placement_errors "$migrations")" = 0 ] || fail "a daemon was not on exactly one node"
  [ "$(val duplicate_events "$summary")" = 0 ] || fail "duplicate events"
  [ "$(val chain_errors "$summary")" = 0 ] || fail "chain errors"
  [ "$(val recv_events "$summary")" -gt 0 ] || fail "no events came back"
  [ "$(val lost_events "$summary")" -le "$1" ] || fail "lost_events over $1 ($wire)"
  grep -q '^wire: pair [0-2]>[0-2]: frames=[1-9]' "$tmp/out" || fail "no frame between appliances"
  no_leftovers
}
if [ "$mode" = lossy ]; then
  demo --loss 5
  grep -q '^# netmesh-wire: 5 % loss each way between the appliances' "$tmp/out" ||
    fail "no loss was applied"
  [ "$(val generator_path_drops "$wire")" = 0 ] || fail "the generator's path was lossy ($wire)"
  lossy_verdict 0
  echo "demo migrate lossy (between appliances): ok ($migrations; $wire; $summary)"
  demo --loss-all 5
  grep -q "^# netmesh-wire: 5 % loss both ways on the appliances' ports" "$tmp/out" ||
    fail "no loss was applied"
  [ "$(val generator_path_drops "$wire")" -gt 0 ] || fail "the generator's path lost nothing ($wire)"
  acct=$(grep '^accounting: ' "$tmp/out" | tail -1) || fail "no accounting line"
  [ "$(val never_ran "$acct")" -le $(( $(val to_appliances "$wire") + $(val tx_drops "$wire") )) ] ||
    fail "events that never ran beyond the wire's drops ($acct; $wire)"
  lossy_verdict "$(val lost_events "$summary")"
  summary="$acct; $summary"
  echo "demo migrate lossy (whole ports): ok ($migrations; $wire; $summary)"
  exit 0
fi
[ "$rc" = 0 ] || fail "run.sh exit status $rc"
[ "$(val established "$summary")" = 1 ] || fail "not every session came up"
[ "$(val recv_events "$summary")" -gt 0 ] || fail "no events came back"
[ "$(val lost_events "$summary")" = 0 ] || fail "events lost"
[ "$(val duplicate_events "$summary")" = 0 ] || fail "duplicate events"
[ "$(val chain_errors "$summary")" = 0 ] || fail "chain errors"
[ "$(val redirects "$summary")" -gt 0 ] || fail "the generator never followed a daemon"
# Both daemons went out and came back at least once: 4 migrations or more.
[ "$(val completed "$migrations")" -ge 4 ] || fail "fewer than 4 migrations completed"
[ "$(val failed "$migrations")" = 0 ] || fail "a migration failed"
[ "$(val placement_errors "$migrations")" = 0 ] || fail "a daemon was not on exactly one node"
origins=$(sed -n 's/^# A .* echo \([0-9a-f]*\), counter \([0-9a-f]*\)$/\1 \2/p' "$tmp/out")
[ "$(wc -w <<<"$origins")" = 2 ] || fail "no daemon origins in the output"
for o in $origins; do
  grep -q "^migrate: $o A -> [BC] completed" "$tmp/out" || fail "$o never left A"
  grep -q "^migrate: $o [BC] -> A completed" "$tmp/out" || fail "$o never came back to A"
done
grep -q '^run: ok' "$tmp/out" || fail "no ok verdict"
if [ "$mode" = flap ]; then
  [ "$(grep -c '^migrate: link down on port' "$tmp/out")" -ge 2 ] || fail "fewer than 2 link flaps"
  grep -q '^migrate: .* completed .* retries=[1-9]' "$tmp/out" ||
    fail "no migration retransmitted across a flap"
fi
no_leftovers
echo "demo migrate: ok ($migrations; $summary)"
