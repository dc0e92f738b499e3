#!/usr/bin/env bash
# The migration demo end to end: scripts/run.sh --migrate runs netmesh-wire, three appliances and
# netmesh-gen; the echo and counter daemons migrate A -> B/C -> A while the generator sends. The
# run must say ok, and its lines must show what ok means: migrations completed, none failed, every
# daemon on exactly one node after each, events back, none lost or duplicated, no chain error;
# and nothing may be left behind (temp dir, EAL runtime dirs, processes).
# demo_migrate.sh SRC BUILD [run.sh options]
set -euo pipefail
src=$1
build=$2
shift 2
tag=tmig-$$-$RANDOM
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; tail -60 "$tmp/out"; exit 1; }

rc=0
BUILD=$build TMPDIR=$tmp timeout 600 "$src/scripts/run.sh" --migrate --no-build --tag "$tag" \
  --duration 8 "$@" > "$tmp/out" 2>&1 || rc=$?
summary=$(grep '^gen: sent_events=' "$tmp/out" | tail -1) || fail "no generator summary"
migrations=$(grep '^migrations: ' "$tmp/out" | tail -1) || fail "no migrations line"
val() { sed -n "s/.*\b$1=\([0-9]*\).*/\1/p" <<<"$2"; }
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

left=$(find "$tmp" -mindepth 1 -maxdepth 1 ! -name out)
[ -z "$left" ] || fail "left in TMPDIR: $left"
for d in /var/run/dpdk "${XDG_RUNTIME_DIR:-/tmp}/dpdk"; do
  for p in wire A B C gen; do
    [ ! -e "$d/nmmig-$tag-$p" ] || fail "$d/nmmig-$tag-$p left behind"
  done
done
if pgrep -f -- "$tag" > /dev/null; then fail "processes left running"; fi
echo "demo migrate: ok ($migrations; $summary)"
