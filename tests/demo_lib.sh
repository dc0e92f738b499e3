#!/usr/bin/env bash
# Sourced by the tests that talk to a running demo (pdump, telemetry, top): scripts/run.sh in the
# background, its appliance reachable as --file-prefix nmrun-app-$demo_tag. The caller defines
# fail() and calls demo_kill from its EXIT trap.
#
# Background jobs of a script ignore SIGINT, so run.sh is stopped with SIGTERM (it traps both).
demo_pid=''

# demo_start SRC BUILD TMP TAG [run.sh options]: output in TMP/run.out.
demo_start() {
  local src=$1 build=$2 tmp=$3
  demo_tag=$4
  demo_out=$tmp/run.out
  shift 4
  BUILD=$build TMPDIR=$tmp "$src/scripts/run.sh" --no-build --tag "$demo_tag" "$@" \
    > "$demo_out" 2>&1 &
  demo_pid=$!
}

# Until the generator reports events back; generous, the machine may be loaded.
demo_wait_traffic() {
  local deadline=$((SECONDS + 90))
  until grep -q '^gen | gen: t=.* recv_events=[1-9]' "$demo_out"; do
    kill -0 "$demo_pid" 2>/dev/null || fail "the demo ended before traffic flowed"
    [ "$SECONDS" -lt "$deadline" ] || fail "no traffic within 90 s"
    sleep 0.2
  done
}

# Stop it as Ctrl-C would and check its verdict.
demo_stop() {
  local rc=0
  kill -TERM "$demo_pid"
  wait "$demo_pid" || rc=$?
  demo_pid=''
  [ "$rc" = 0 ] || fail "run.sh exit status $rc"
  grep -q '^run: ok' "$demo_out" || fail "the demo gave no ok verdict"
}

# demo_left_behind TMP TAG PREFIX...: fails unless the script under test removed all it made: what
# it put in TMP (but TMP/out), EAL's runtime dirs of PREFIX-TAG, processes named with TAG.
demo_left_behind() {
  local tmp=$1 tag=$2 left d p
  shift 2
  left=$(find "$tmp" -mindepth 1 -maxdepth 1 ! -name out)
  [ -z "$left" ] || fail "left in TMPDIR: $left"
  for d in /var/run/dpdk "${XDG_RUNTIME_DIR:-/tmp}/dpdk"; do
    for p in "$@"; do
      [ ! -e "$d/$p-$tag" ] || fail "$d/$p-$tag left behind"
    done
  done
  if pgrep -f -- "-$tag" > /dev/null; then fail "processes left running"; fi
}

demo_kill() {
  if [ -n "$demo_pid" ] && kill -0 "$demo_pid" 2>/dev/null; then
    kill -TERM "$demo_pid" 2>/dev/null || true
    wait "$demo_pid" 2>/dev/null || true
  fi
  demo_pid=''
}
