#!/usr/bin/env bash
# netmesh-top --once against the demo's appliance: one plain-text frame whose peers, daemons
# (with event rates), drops and MeshOS sections carry real values.
set -euo pipefail
src=$1
build=$2
tag=top-$$-$RANDOM
tmp=$(mktemp -d)
run_pid=''
# shellcheck disable=SC2317 # called from the EXIT trap
finish() {
  if [ -n "$run_pid" ] && kill -0 "$run_pid" 2>/dev/null; then
    kill -TERM "$run_pid" 2>/dev/null || true
    wait "$run_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap finish EXIT
fail() { echo "FAIL: $*"; cat "$tmp/frame" 2>/dev/null || tail -30 "$tmp/run.out"; exit 1; }

BUILD=$build TMPDIR=$tmp "$src/scripts/run.sh" --no-build --tag "$tag" > "$tmp/run.out" 2>&1 &
run_pid=$!
deadline=$((SECONDS + 90))
until grep -q '^gen | gen: t=.* recv_events=[1-9]' "$tmp/run.out"; do
  kill -0 "$run_pid" 2>/dev/null || fail "the demo ended before traffic flowed"
  [ "$SECONDS" -lt "$deadline" ] || fail "no traffic within 90 s"
  sleep 0.2
done

"$src/scripts/netmesh-top" --file-prefix "nmrun-app-$tag" --once > "$tmp/frame" 2>&1 ||
  fail "netmesh-top --once"
f=$tmp/frame
has() { grep -Eq -- "$1" "$f" || fail "no line matching '$1'"; }
has '^netmesh-top  node 0x[0-9a-f]{16}  prefix nmrun-app-'
has '^TRAFFIC  rx [0-9.]+k?/s '
has '^PEERS \(1\)$'
has '^  127\.0\.0\.2:7777 +0x[0-9a-f]{16} +healthy '
has '^  handshakes: started [0-9]+ completed [1-9]'
has '^DAEMONS \(2\)$'
# Each daemon row: processed > 0 and a non-zero event rate (the generator sends to both).
for d in echo counter; do
  has "^  0x[0-9a-f]{16} +$d +1 +[1-9][0-9]* +[0-9.]*[1-9][0-9.]*k?/s "
done
has '^DROPS \(total [0-9]+\)$'
has '^MESHOS  state active  backpressure off .* daemons 2  ticks [1-9]'
has '^MIGRATIONS '

kill -TERM "$run_pid"
rc=0
wait "$run_pid" || rc=$?
run_pid=''
[ "$rc" = 0 ] || fail "run.sh exit status $rc"
echo "top: ok"
