#!/usr/bin/env bash
# Smoke test of scripts/bench.sh latency (short phases): the appliance's echo path and the io
# baseline (dpdk-testpmd 5tswap, netmesh-gen --reflect) both run on a memif pair, every figure
# is printed as `name: number unit`, and nothing is left behind. No figure is judged.
set -euo pipefail
src=$1
build=$2
tag=test-$$-$RANDOM
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; tail -40 "$tmp/out"; exit 1; }

rc=0
BUILD=$build TMPDIR=$tmp "$src/scripts/bench.sh" latency --no-build --seconds 1 --tag "$tag" \
  > "$tmp/out" 2> "$tmp/err" || rc=$?
cat "$tmp/err" >> "$tmp/out"
[ "$rc" = 0 ] || fail "bench.sh latency exit status $rc"
for name in event_max_eps event_rate_low_eps event_rate_80pct_eps \
    event_rtt_p50_ns_low event_rtt_p99_ns_low event_rtt_p999_ns_low event_lost_events_low \
    event_rtt_p50_ns_80pct event_rtt_p99_ns_80pct event_rtt_p999_ns_80pct \
    event_lost_events_80pct io_rtt_p50_ns_low io_rtt_p99_ns_low io_lost_events_low \
    io_rtt_p50_ns_80pct io_rtt_p99_ns_80pct io_lost_events_80pct \
    event_cpu_share_gen_low event_cpu_share_server_low io_cpu_share_gen_80pct io_cpu_share_server_80pct \
    event_rtt_p99_vs_io_low event_rtt_p99_vs_io_80pct; do
  grep -Eq "^$name: [0-9]+(\.[0-9]+)? [a-z/]+$" "$tmp/out" || fail "no figure $name"
done
# Replies came back on both paths (the script also fails a phase without round trips).
p50=$(sed -n 's/^io_rtt_p50_ns_low: \([0-9]*\) ns$/\1/p' "$tmp/out")
[ "$p50" -gt 0 ] || fail "no io round trip"
[ "$(grep -c '^[a-z0-9_]*: ' "$tmp/out")" = 27 ] || fail "expected exactly 27 figures"

left=$(find "$tmp" -mindepth 1 -maxdepth 1 ! -name out ! -name err)
[ -z "$left" ] || fail "left in TMPDIR: $left"
for d in /var/run/dpdk "${XDG_RUNTIME_DIR:-/tmp}/dpdk"; do
  for p in "nmlat-app-$tag" "nmlat-io-$tag" "nmlat-gen-$tag"; do
    [ ! -e "$d/$p" ] || fail "$d/$p left behind"
  done
done
if pgrep -f -- "-$tag" > /dev/null; then fail "processes left running"; fi
echo "bench latency: ok ($(grep -c '^[a-z0-9_]*: ' "$tmp/out") figures)"
