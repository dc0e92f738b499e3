#!/usr/bin/env bash
# The three migration faults of issue #8 between real processes (scripts/migrate_faults.py):
# netmesh-wire, the appliances and netmesh-gen on memif, names unique per run.
#
# migrate_faults.sh SRC BUILD kills: A, B, C; the target B SIGKILLed mid-transfer (the daemons
# stay on A), then the source A SIGKILLed after the cutover to C (the daemons live on C).
# migrate_faults.sh SRC BUILD linkdown: A, B; B's port down while the buffered events replay.
# Each: every migration ends, each daemon on exactly one node, every event answered once, one
# chain per daemon (the driver's checks), and nothing left behind (temp dir, EAL dirs, processes).
set -euo pipefail
src=$1
build=$2
case=$3
tag=mf-$$-$RANDOM
tmp=$(mktemp -d "${TMPDIR:-/tmp}/netmesh-migfaults.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

rc=0
PYTHONPATH=$src/scripts timeout 600 python3 "$src/scripts/migrate_faults.py" --build "$build" \
  --case "$case" --tmp "$tmp" --tag "$tag" || rc=$?
[ "$rc" = 0 ] || fail "migrate_faults.py --case $case: exit status $rc"
for d in /var/run/dpdk "${XDG_RUNTIME_DIR:-/tmp}/dpdk"; do
  for p in wire A B C gen; do
    [ ! -e "$d/nmmf-$tag-$p" ] || fail "$d/nmmf-$tag-$p left behind"
  done
done
if pgrep -f -- "$tag" > /dev/null; then fail "processes left running"; fi
echo "migrate faults $case: ok"
