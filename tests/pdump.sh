#!/usr/bin/env bash
# Capture from the running demo: scripts/run.sh --huge-dir runs the appliance with its memory in
# hugepage files (what a secondary process needs), dpdk-dumpcap attaches to it by --file-prefix,
# writes at least 10 packets to pcapng, and tcpdump reads them back: Net datagrams on UDP 7777,
# both directions.
#
# The test mounts its own hugetlbfs in a private mount namespace (nothing stays mounted) and,
# when fewer than PAGES 2 MiB pages are free and it runs as root, reserves the missing ones for
# its duration (fewer than scripts/lib.sh's 256 MiB, so parallel demos keep using --no-huge) and
# gives them back at the end. Without root and free hugepages it is skipped (exit 77).
set -euo pipefail
src=$1
build=$2
PAGES=64

free_pages() { awk '/^HugePages_Free:/ { print $2 }' /proc/meminfo; }
nr=/proc/sys/vm/nr_hugepages

if [ -z "${NM_PDUMP_INNER:-}" ]; then
  added=0
  # shellcheck disable=SC2317 # called from the EXIT trap
  restore() {
    [ "$added" -gt 0 ] || return 0
    # The namespace is gone, so its mount and files are; give back what we added.
    echo $(($(cat "$nr") - added)) > "$nr" || echo "pdump: could not release $added hugepages" >&2
  }
  trap restore EXIT
  have=$(free_pages)
  if [ "${have:-0}" -lt "$PAGES" ]; then
    if [ "$(id -u)" != 0 ] || [ ! -w "$nr" ]; then
      echo "pdump: SKIP: needs $PAGES free 2 MiB hugepages (scripts/hugepages.sh) or root"
      exit 77
    fi
    want=$((PAGES - have))
    echo $(($(cat "$nr") + want)) > "$nr"
    added=$want
    if [ "$(free_pages)" -lt "$PAGES" ]; then
      echo "pdump: SKIP: the kernel gave only $(free_pages) free hugepages"
      exit 77
    fi
  fi
  rc=0
  NM_PDUMP_INNER=1 unshare --mount --propagation private "$0" "$@" || rc=$?
  exit $rc
fi

# ---- inside the private mount namespace ----
# shellcheck source=tests/demo_lib.sh
source "$(dirname "$0")/demo_lib.sh"
tmp=$(mktemp -d)
# shellcheck disable=SC2317 # called from the EXIT trap
finish() {
  demo_kill
  umount "$tmp/huge" 2>/dev/null || true
  rm -rf "$tmp"
}
trap finish EXIT
mkdir "$tmp/huge"
mount -t hugetlbfs -o pagesize=2M nodev "$tmp/huge"
fail() { echo "FAIL: $*"; tail -30 "$tmp/run.out" 2>/dev/null || true; exit 1; }

demo_start "$src" "$build" "$tmp" "pdump-$$-$RANDOM" --huge-dir "$tmp/huge"
demo_wait_traffic

# 200 packets: RX and TX copies arrive a burst at a time, so a few bursts hold both directions.
# dumpcap's progress counter is \r-separated and may pass -c by a burst: the file is what counts.
prefix=nmrun-app-$demo_tag
timeout 90 dpdk-dumpcap --file-prefix "$prefix" -i net_memif0 -c 200 -w "$tmp/cap.pcapng" \
  > "$tmp/dumpcap.out" 2>&1 || fail "dpdk-dumpcap: $(tail -5 "$tmp/dumpcap.out")"
tcpdump -nr "$tmp/cap.pcapng" > "$tmp/cap.txt" 2> "$tmp/tcpdump.err" ||
  fail "tcpdump: $(cat "$tmp/tcpdump.err")"
n=$(wc -l < "$tmp/cap.txt")
[ "$n" -ge 10 ] || fail "read back $n packets"
grep -q 'pcapng\|EN10MB' "$tmp/tcpdump.err" || fail "not an Ethernet capture: $(cat "$tmp/tcpdump.err")"
to_app=$(grep -c 'IP 127.0.0.2.7777 > 127.0.0.1.7777: UDP' "$tmp/cap.txt" || true)
from_app=$(grep -c 'IP 127.0.0.1.7777 > 127.0.0.2.7777: UDP' "$tmp/cap.txt" || true)
if [ "$to_app" = 0 ] || [ "$from_app" = 0 ]; then
  fail "expected UDP 7777 both ways, got $to_app in / $from_app out: $(head -5 "$tmp/cap.txt")"
fi

demo_stop
left=$(find "$tmp/huge" -mindepth 1)
[ -z "$left" ] || fail "hugepage files left: $left"
echo "pdump: ok ($n packets read back, UDP 7777: $to_app to the appliance, $from_app from it)"
