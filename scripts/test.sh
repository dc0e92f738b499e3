#!/usr/bin/env bash
# Build netmesh and run every test suite. Exit status: non-zero when any test fails.
#   scripts/test.sh              gcc, build/; ends with "tests: N passed, M failed"
#   scripts/test.sh --clang      clang, build-clang/; ends with "clang: N passed, M failed"
#   scripts/test.sh --sanitize   ASan + UBSan with leak detection, build-san/;
#                                ends with "sanitized: N passed, M failed"
# Further arguments go to `meson test` (e.g. a suite name). BUILD overrides the directory.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=default
case "${1:-}" in
  --clang|--sanitize) mode=${1#--}; shift ;;
esac

setup_args=()
test_args=()
label=tests
case "$mode" in
  default)
    BUILD=${BUILD:-build} ;;
  clang)
    BUILD=${BUILD:-build-clang} label=clang
    export CC=clang ;;
  sanitize)
    # Sanitized libraries leave their runtime symbols to the executable (b_lundef=false).
    BUILD=${BUILD:-build-san} label=sanitized
    setup_args=(-Db_sanitize=address,undefined -Db_lundef=false)
    test_args=(--timeout-multiplier 3)   # ASan runs code 2-3x slower
    export ASAN_OPTIONS=detect_leaks=1
    export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ;;
esac

if [ ! -f "$BUILD/build.ninja" ]; then
  meson setup "$BUILD" "${setup_args[@]}"
fi
meson compile -C "$BUILD"

rc=0
meson test -C "$BUILD" --print-errorlogs "${test_args[@]}" "$@" || rc=$?
python3 scripts/test_summary.py "$BUILD/meson-logs/testlog.json" | sed "s/^tests:/$label:/" || rc=1
exit $rc
