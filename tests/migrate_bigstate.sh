#!/usr/bin/env bash
# Large states between two appliances (scripts/bench_migration_total.sh, not timed here): a
# blob-1MiB and a blob-67108561 (64 MiB - 303 bytes, the largest that migrates sealed) daemon go
# A -> B -> A over netmesh-wire on memif. The script checks every migration completed, the
# daemon is on the target only, the target's snapshot holds the source's state byte for byte
# with the same chain head, and netmesh-gen's events before and after were each answered once on
# one chain that continues across the migrations, the daemon's count included. Nothing is left
# behind. Bad arguments are refused with status 2.
set -euo pipefail
src=$1
build=$2
tag=tmp-$$-$RANDOM
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; tail -60 "$tmp/out" 2>/dev/null || true; exit 1; }
# shellcheck source=tests/demo_lib.sh
source "$(dirname "$0")/demo_lib.sh"
bench=$src/scripts/bench_migration_total.sh

for bad in "--runs 0" "--events x" "--sizes 64GiB" "--sizes 0" "--tag a/b" "--bogus"; do
  rc=0
  # shellcheck disable=SC2086 # word splitting is the point
  "$bench" $bad --no-build > "$tmp/out" 2>&1 || rc=$?
  [ "$rc" = 2 ] || fail "'bench_migration_total.sh $bad': exit status $rc, not 2"
done

rc=0
BUILD=$build TMPDIR=$tmp timeout 900 "$bench" --no-build --no-huge --tag "$tag" --sizes 1MiB,64MiB \
  --runs 2 --events 200 > "$tmp/out" 2>&1 || rc=$?
grep -v '^netmesh\|^gen:' "$tmp/out" || true
[ "$rc" = 0 ] || fail "bench_migration_total.sh exit status $rc"
for s in 1MiB 64MiB; do
  grep -Eq "^migration_total_${s}_ns: [1-9][0-9]* ns$" "$tmp/out" || fail "no migration_total_${s}_ns"
  grep -Eq "^# $s: state intact after 2 migrations, [1-9][0-9]* events counted, daemon on A$" \
    "$tmp/out" || fail "$s: not intact, or no event counted, or not back on A"
done
demo_left_behind "$tmp" "$tag" nmmt-wire nmmt-A nmmt-B nmmt-gen
echo "migrate-bigstate: ok"
