#!/usr/bin/env bash
# scripts/soak.sh itself, shortened: 30 s sampled every 10 s after a 10 s warm-up. Its verdict
# (RSS within 1%, no mbuf leak against the idle baseline, no chain error), the exact result
# lines, real samples, and nothing left behind; bad arguments are refused with status 2.
set -euo pipefail
src=$1
build=$2
tag=soakt-$$-$RANDOM
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; tail -40 "$tmp/out" 2>/dev/null || true; exit 1; }
# shellcheck source=tests/demo_lib.sh
source "$(dirname "$0")/demo_lib.sh"
soak=$src/scripts/soak.sh

for bad in "" "x" "1 --rate" "1 --interval 0" "0.05" "1 2" "1 --bogus"; do
  rc=0
  # shellcheck disable=SC2086 # word splitting is the point
  "$soak" $bad --no-build > "$tmp/out" 2>&1 || rc=$?
  [ "$rc" = 2 ] || fail "'soak.sh $bad': exit status $rc, not 2"
done

rc=0
BUILD=$build TMPDIR=$tmp "$soak" 0.5 --warmup 10 --interval 10 --no-build --tag "$tag" \
  > "$tmp/out" 2>&1 || rc=$?
cat "$tmp/out"
[ "$rc" = 0 ] || fail "soak.sh exit status $rc"
grep -Eq '^soak_rss_growth_ratio: [0-9]+\.[0-9]{4} ratio$' "$tmp/out" || fail "no growth ratio line"
grep -qx 'soak_mbuf_leak: 0 mbufs' "$tmp/out" || fail "no leak line with 0"
grep -qx 'soak_chain_errors: 0 errors' "$tmp/out" || fail "no chain error line with 0"
grep -Eq '^soak_lost_events: [0-9]+ events$' "$tmp/out" || fail "no lost events line"
grep -Eq '^soak_duplicate_events: [0-9]+ events$' "$tmp/out" || fail "no duplicate events line"
grep -Eq '^soak: idle baseline mbufs_in_use=[0-9]+ ' "$tmp/out" || fail "no idle baseline"
# t=0, 10, 20, 30: four samples, each with both RSS figures and replies that kept coming.
n=$(grep -Ec '^soak: t=[0-9]+s app_rss_kb=[1-9][0-9]* gen_rss_kb=[1-9][0-9]* mbufs_in_use=[0-9]+ .*recv_events=[1-9]' "$tmp/out")
[ "$n" = 4 ] || fail "$n sample lines, not 4"
grep -q '^gen: sent_events=[1-9]' "$tmp/out" || fail "no generator summary"
demo_left_behind "$tmp" "$tag" nmsoak-app nmsoak-gen
echo "soak short: ok"
