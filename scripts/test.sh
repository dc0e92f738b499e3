#!/usr/bin/env bash
# Build netmesh and run every test suite. Extra arguments go to `meson test`
# (e.g. a suite name). Exit status: non-zero when any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}

if [ ! -f "$BUILD/build.ninja" ]; then
  meson setup "$BUILD"
fi
meson compile -C "$BUILD"

rc=0
meson test -C "$BUILD" --print-errorlogs "$@" || rc=$?
python3 scripts/test_summary.py "$BUILD/meson-logs/testlog.json" || rc=1
exit $rc
