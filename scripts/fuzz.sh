#!/usr/bin/env bash
# Run the libFuzzer targets of tests/fuzz/ (docs/fuzzing.md).
#   scripts/fuzz.sh [TARGET|all] [SECONDS] [RUNS]   default: all, 60 s per target
# RUNS stops a target after that many executions (a long run: 10000000) if
# SECONDS have not passed first.
# Builds build-fuzz/ (clang, -Dfuzz=true, ASan+UBSan) when needed, writes each
# target's seeds (made by its own fuzz_seeds(), from the project's encoders),
# fuzzes with the corpus kept in build-fuzz/corpus/TARGET, and prints per target
#   fuzz_TARGET_execs: N execs
#   fuzz_TARGET_seconds: N s (wall clock of the libFuzzer run)
#   fuzz_TARGET_rate: N execs/s
#   fuzz_TARGET_cpu: N s (user + system time of the fuzzer: its rate per CPU second is
#                    the harness's own speed, whatever else the machine ran)
#   fuzz_TARGET_corpus: N files (build-fuzz/corpus/TARGET after the run)
#   fuzz_TARGET_load: A -> B (1-minute load average before and after)
#   fuzz_TARGET_crashes: N crashes
# For a long run on a shared machine: chrt --idle 0 nice -n 19 scripts/fuzz.sh ...
# Crash inputs go to build-fuzz/artifacts/. Exit status 1 when any target crashed.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${FUZZ_BUILD:-build-fuzz}
which=${1:-all}
secs=${2:-60}

runs=${3:-}

case "$which" in -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
[[ "$secs" =~ ^[0-9]+$ && "$secs" -gt 0 ]] || { echo "fuzz.sh: SECONDS must be a positive integer" >&2; exit 2; }
[[ -z "$runs" || ( "$runs" =~ ^[0-9]+$ && "$runs" -gt 0 ) ]] || { echo "fuzz.sh: RUNS must be a positive integer" >&2; exit 2; }

# The one list of targets is tests/fuzz/meson.build.
mapfile -t all < <(sed -n "s/^ *\['\([a-z0-9_]*\)',.*/\1/p" tests/fuzz/meson.build)
if [ "$which" = all ]; then
  targets=("${all[@]}")
elif printf '%s\n' "${all[@]}" | grep -qx -- "$which"; then
  targets=("$which")
else
  echo "fuzz.sh: no target '$which' (have: ${all[*]})" >&2; exit 2
fi

command -v clang >/dev/null || { echo "fuzz.sh: clang is missing (scripts/setup.sh installs it)" >&2; exit 2; }
if [ ! -f "$BUILD/build.ninja" ]; then
  CC=clang meson setup "$BUILD" -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
fi
# ninja regenerates the build first when tests/fuzz/meson.build changed.
if ! log=$(ninja -C "$BUILD" "${targets[@]/#/tests/fuzz/fuzz_}" 2>&1); then
  echo "$log" | tail -30 >&2; exit 1
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
mkdir -p "$BUILD/artifacts"
# CPU seconds (user + system) of every child that ended so far: the shell's own `times`
# (not in a $(...) subshell, which would count its own children only), into the variable $1.
child_cpu() {
  times > "$BUILD/.times"
  printf -v "$1" '%s' "$(sed -n 2p "$BUILD/.times" |
    awk '{ s = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); s += a[1] * 60 + a[2] } printf "%.1f", s }')"
}
# Target $1's artifacts that are findings (libFuzzer's slow-unit-* ones are not).
found() {
  find "$BUILD/artifacts" \( -name "$1-crash-*" -o -name "$1-leak-*" -o -name "$1-timeout-*" \
    -o -name "$1-oom-*" \) | wc -l
}
failed=0
for t in "${targets[@]}"; do
  bin=$BUILD/tests/fuzz/fuzz_$t
  seeds=$BUILD/seeds/$t corpus=$BUILD/corpus/$t log=$BUILD/fuzz-$t.log
  rm -rf "$seeds"; mkdir -p "$seeds" "$corpus"
  NM_FUZZ_SEEDS=$seeds "$bin" >/dev/null
  before=$(found "$t")
  rc=0
  load0=$(cut -d' ' -f1 /proc/loadavg) t0=$(date +%s); child_cpu cpu0
  "$bin" -max_total_time="$secs" ${runs:+-runs="$runs"} -timeout=25 -print_final_stats=1 \
    -artifact_prefix="$BUILD/artifacts/$t-" "$corpus" "$seeds" >"$log" 2>&1 || rc=$?
  t1=$(date +%s) load1=$(cut -d' ' -f1 /proc/loadavg); child_cpu cpu1
  after=$(found "$t")
  execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -1)
  crashes=$((after - before))
  if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then crashes=1; fi  # died without an artifact
  echo "fuzz_${t}_execs: ${execs:-0} execs"
  secs_run=$((t1 > t0 ? t1 - t0 : 1))
  echo "fuzz_${t}_seconds: $secs_run s"
  echo "fuzz_${t}_rate: $(( ${execs:-0} / secs_run )) execs/s"
  echo "fuzz_${t}_cpu: $(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.1f", b - a }') s"
  echo "fuzz_${t}_corpus: $(find "$corpus" -type f | wc -l) files"
  echo "fuzz_${t}_load: $load0 -> $load1"
  echo "fuzz_${t}_crashes: $crashes crashes"
  if [ "$crashes" -ne 0 ]; then
    failed=1
    grep -E 'ERROR|property failed|runtime error|Test unit written' "$log" | head -5 | sed 's/^/  /' >&2
  fi
done
exit $failed
