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
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
# shellcheck source=tests/demo_lib.sh
source "$src/tests/demo_lib.sh"

rc=0
TMPDIR=$tmp PYTHONPATH=$src/scripts timeout 600 python3 "$src/scripts/migrate_faults.py" \
  --build "$build" --case "$case" --tag "$tag" || rc=$?
[ "$rc" = 0 ] || fail "migrate_faults.py --case $case: exit status $rc"
demo_left_behind "$tmp" "$tag" wire A B C gen
echo "migrate faults $case: ok"
