#!/usr/bin/env bash
# Build netmesh and run every test suite. Exit status: non-zero when any test fails.
#   scripts/test.sh              gcc, build/; ends with "tests: N passed, M failed"
#   scripts/test.sh --clang      clang, build-clang/; ends with "clang: N passed, M failed"
#   scripts/test.sh --sanitize   ASan + UBSan with leak detection, build-san/;
#                                ends with "sanitized: N passed, M failed"
# Further arguments go to `meson test` (e.g. a suite name). BUILD overrides the directory.
# A test that fails is run once more on its own: if it passes then, the output names it as
# flaky and it counts as passed; if it fails again, the run fails.
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
log=$BUILD/meson-logs/testlog.json
meson test -C "$BUILD" --print-errorlogs "${test_args[@]}" "$@" || rc=$?
retry=()
if [ "$rc" -ne 0 ]; then
  # The multi-process tests share 2 CPUs with everything else: a test that failed runs once
  # more, alone; one that passes then is named as flaky in the output, one that fails again
  # fails the run. The first run's errors were printed above either way.
  mapfile -t failed < <(python3 scripts/test_summary.py --failed "$log")
  if [ "${#failed[@]}" -gt 0 ]; then
    cp "$log" "$log.first"
    echo "test.sh: running ${failed[*]} once more"
    rm -f "$log"
    meson test -C "$BUILD" --print-errorlogs "${test_args[@]}" "${failed[@]}" || true
    # No log means the second run did not happen: the first run's failures stand.
    [ -f "$log" ] && cp "$log" "$log.retry" || : > "$log.retry"
    cp "$log.first" "$log"
    retry=("$log.retry")
  fi
fi
rc=0
python3 scripts/test_summary.py "$log" "${retry[@]}" | sed "s/^tests:/$label:/" || rc=1
exit $rc
