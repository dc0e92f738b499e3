#!/usr/bin/env bash
# netmesh-top --once against the demo's appliance: one plain-text frame whose peers, daemons
# (with event rates), drops and MeshOS sections carry real values.
set -euo pipefail
src=$1
build=$2
tmp=$(mktemp -d)
# shellcheck source=tests/demo_lib.sh
source "$(dirname "$0")/demo_lib.sh"
# shellcheck disable=SC2317 # called from the EXIT trap
finish() { demo_kill; rm -rf "$tmp"; }
trap finish EXIT
fail() { echo "FAIL: $*"; cat "$tmp/frame" 2>/dev/null || tail -30 "$tmp/run.out"; exit 1; }

demo_start "$src" "$build" "$tmp" "top-$$-$RANDOM"
demo_wait_traffic
"$src/scripts/netmesh-top" --file-prefix "nmrun-app-$demo_tag" --once > "$tmp/frame" 2>&1 ||
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
has '^MIGRATIONS  in progress [0-9]+  finished: completed [0-9]+ failed [0-9]+$'

demo_stop
echo "top: ok"
