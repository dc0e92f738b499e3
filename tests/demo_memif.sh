#!/usr/bin/env bash
# The README's main job end to end: scripts/run.sh --duration 3 runs the appliance and
# netmesh-gen on a memif pair (no NIC, hugepages optional); the generator's summary line
# must show events back from the daemons and no chain error, and nothing may be left behind.
set -euo pipefail
src=$1
build=$2
tag=test-$$-$RANDOM
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; tail -40 "$tmp/out"; exit 1; }
# shellcheck source=tests/demo_lib.sh
source "$(dirname "$0")/demo_lib.sh"

rc=0
BUILD=$build TMPDIR=$tmp "$src/scripts/run.sh" --no-build --duration 3 --tag "$tag" \
  > "$tmp/out" 2>&1 || rc=$?
summary=$(grep '^gen: sent_events=' "$tmp/out" | tail -1) || fail "no summary line"
val() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$summary"; }
[ "$rc" = 0 ] || fail "run.sh exit status $rc"
[ "$(val established)" = 1 ] || fail "no session"
[ "$(val recv_events)" -gt 0 ] || fail "no events came back"
[ "$(val chain_ok)" -gt 0 ] || fail "no chain validated"
[ "$(val chain_errors)" = 0 ] || fail "chain errors"
[ "$(grep -c '^gen | gen: daemon [0-9a-f]* events=[1-9]' "$tmp/out")" = 2 ] ||
  fail "expected outputs from both daemons"
grep -q '^run: ok' "$tmp/out" || fail "no verdict"

# run.sh cleaned up: its temp dir, EAL's runtime dirs, its processes.
demo_left_behind "$tmp" "$tag" nmrun-app nmrun-gen
echo "demo memif: ok ($summary)"
