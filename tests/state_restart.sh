#!/usr/bin/env bash
# State that survives restarts, end to end: the appliance with a counter daemon and
# --state-dir on a memif pair with netmesh-gen. Run 1 sends events and stops gracefully;
# run 2 restores the counter: its first reply follows run 1's last one (sequence + 1 and
# the parent hash over run 1's last link and payload). Run 3 is killed with SIGKILL in
# the middle of its traffic; run 4 still restores from the last periodic snapshot.
# The appliance always stops while the generator still sends: a memif *server* whose
# client leaves can crash in DPDK 22.11's rx burst (its disconnect frees the rings under
# the polling worker), which is not what this test is about.
set -euo pipefail
# DPDK 22.11's memif PMD can crash a side that polls while its peer leaves (the disconnect
# unmaps the rings under the burst; more likely under ASan). A run whose generator died that way
# (exit status 3 below) is not this test's verdict: the whole test goes again, up to 3 times.
if [ -z "${NM_SR_INNER:-}" ]; then
  for attempt in 1 2 3; do
    rc=0
    NM_SR_INNER=1 "$0" "$@" || rc=$?
    [ "$rc" = 3 ] || exit "$rc"
    echo "state restart: attempt $attempt: netmesh-gen crashed in the memif PMD; again"
  done
  exit 1
fi
build=$2
app_bin=$build/app/netmesh
gen_bin=$build/app/netmesh-gen
tag=sr-$$-$RANDOM
tmp=$(mktemp -d)
state=$tmp/state
sock=/netmesh-$tag.sock # abstract namespace: no file appears
app_pid='' gen_pid=''
fail() { echo "FAIL: $*"; for f in "$tmp"/*.log; do echo "== $f"; tail -15 "$f"; done; exit 1; }

stop_pid() { # $1 pid, $2 signal: waits up to 30 s, then SIGKILL
  local pid=$1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill "-$2" "$pid" 2>/dev/null || true
  for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}
cleanup() {
  stop_pid "$gen_pid" INT
  stop_pid "$app_pid" INT
  rm -rf "$tmp"
  local d
  for d in /var/run/dpdk "${XDG_RUNTIME_DIR:-/tmp}/dpdk"; do rm -rf "${d:?}"/nm"$tag"-*; done
}
trap cleanup EXIT

quiet=(--no-pci --no-telemetry "--log-level=lib.*:error")
if [ "$(nproc)" -ge 2 ]; then app_lcores=0@0,1@1; else app_lcores=0@0,1@0; fi
head -c 32 /dev/urandom > "$tmp/psk"
head -c 32 /dev/urandom > "$tmp/counter.seed"
chmod 600 "$tmp/psk" "$tmp/counter.seed"
"$app_bin" --no-huge -m 64 --no-shconf -l 0 "${quiet[@]}" -- --keys "$tmp/app-keys" \
  --show-identity > "$tmp/app.id"
"$gen_bin" --keys "$tmp/gen-keys" --show-identity > "$tmp/gen.id"
field() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }
app_node=$(field node_id "$tmp/app.id")
app_static=$(field noise_static_pub "$tmp/app.id")
gen_node=$(field node_id "$tmp/gen.id")

start_app() { # $1 run number
  "$app_bin" --no-huge -m 256 "${quiet[@]}" --file-prefix "nm$tag-app$1" --lcores "$app_lcores" \
    "--vdev=net_memif0,role=server,socket=$sock" -- \
    --ip 127.0.0.1 --keys "$tmp/app-keys" --psk-file "$tmp/psk" \
    --daemon "counter:$tmp/counter.seed:1" --peer "127.0.0.2,node=$gen_node" \
    --stats-period 0 --state-dir "$state" --snapshot-interval 1 > "$tmp/app$1.log" 2>&1 &
  app_pid=$!
  for _ in $(seq 600); do
    grep -q 'Ctrl-C to stop' "$tmp/app$1.log" 2>/dev/null && return 0
    kill -0 "$app_pid" 2>/dev/null || break
    sleep 0.1
  done
  fail "run $1: the appliance did not start"
}
start_gen() { # $1 run number, $2 duration
  local origin
  origin=$(sed -n 's/^netmesh: daemon counter origin 0x\([0-9a-f]*\) .*/\1/p' "$tmp/app$1.log")
  "$gen_bin" --no-huge -m 256 "${quiet[@]}" --file-prefix "nm$tag-gen$1" --lcores 0@0 \
    "--vdev=net_memif0,role=client,socket=$sock" -- \
    --ip 127.0.0.2 --peer-ip 127.0.0.1 --keys "$tmp/gen-keys" --peer-node "$app_node" \
    --peer-static "$app_static" --psk-file "$tmp/psk" --daemon "$origin" --rate 200 \
    --duration "$2" --stats-period 1 > "$tmp/gen$1.log" 2>&1 &
  gen_pid=$!
}
wait_traffic() { # $1 run number, $2 duration: until the generator has had replies for 2 s
  local try
  for try in 1 2 3; do
    for _ in $(seq 600); do
      # A stats line from t=2s on that counts replies (a loaded machine can be slow to answer).
      grep -Eq '^gen: t=([2-9]|[1-9][0-9]+)s .* recv_events=[1-9]' "$tmp/gen$1.log" 2>/dev/null &&
        return 0
      kill -0 "$gen_pid" 2>/dev/null || break
      sleep 0.1
    done
    # The generator gives the memif link 5 s; on a loaded machine it may need another go.
    grep -q 'link still down' "$tmp/gen$1.log" || break
    wait "$gen_pid" 2>/dev/null || true
    start_gen "$1" "$2"
  done
  fail "run $1: no traffic"
}
gen_crashed() { # $1 exit status, $2 run: killed by a signal, or ASan's report of a SEGV in memif
  [ "$1" -ge 128 ] || grep -q 'SEGV.*memif\|librte_net_memif' "$tmp/gen$2.log"
}
wait_gen() { # $1 run number: its per-daemon summary line into $line
  local rc=0
  wait "$gen_pid" || rc=$?
  gen_pid=''
  if [ "$rc" != 0 ] && gen_crashed "$rc" "$1"; then
    tail -20 "$tmp/gen$1.log"
    exit 3
  fi
  [ "$rc" = 0 ] || fail "run $1: netmesh-gen exit status $rc"
  line=$(grep '^gen: daemon ' "$tmp/gen$1.log" | tail -1) || fail "run $1: no daemon summary"
}
stop_app() { # $1 run number: graceful, exit 0, state saved
  local rc=0
  kill -INT "$app_pid"
  wait "$app_pid" || rc=$?
  app_pid=''
  [ "$rc" = 0 ] || fail "run $1: the appliance exit status $rc"
  grep -q '^netmesh: state saved' "$tmp/app$1.log" || fail "run $1: no save on stop"
}
val() { sed -n "s/.* $1=\([0-9a-f]*\).*/\1/p" <<<"$2"; }
# From the state file (docs/architecture.md): next_parent at 80, CDS1's through_seq at 112 + 37.
file_u64() { printf '%d' "0x$(od -An -tx8 -j "$1" -N 8 "$file" | tr -d ' ')"; }
file_x64() { od -An -tx8 -j "$1" -N 8 "$file" | tr -d ' '; }

# Run 1: a fresh counter.
start_app 1
grep -q '^netmesh: daemon counter origin .* on lcore 1$' "$tmp/app1.log" || fail "run 1 restored"
start_gen 1 6
wait_traffic 1 6
stop_app 1
wait_gen 1
r1=$line
[ "$(val chain_errors "$r1")" = 0 ] && [ "$(val events "$r1")" -gt 0 ] || fail "run 1: $r1"
# One reply per event, the counter's sequence is its count (loss only makes it larger).
[ "$(val last_seq "$r1")" -ge "$(val events "$r1")" ] || fail "run 1: sequence < replies: $r1"
origin=$(sed -n 's/^netmesh: daemon counter origin 0x\([0-9a-f]*\) .*/\1/p' "$tmp/app1.log")
file=$state/$origin.nmstate
saved_seq=$(file_u64 149)
saved_next=$(file_x64 80)
# The graceful stop saved everything the counter answered (more only if a reply was lost).
[ "$saved_seq" -ge "$(val last_seq "$r1")" ] || fail "saved $saved_seq < answered: $r1"
[ "$(stat -c %a "$file")" = 600 ] || fail "state file mode $(stat -c %a "$file")"
[ "$(stat -c %a "$state")" = 700 ] || fail "state dir mode"

# Run 2: restored; the chain continues from run 1's last reply.
start_app 2
grep -q '^netmesh: daemon counter origin .* (restored)$' "$tmp/app2.log" || fail "run 2 not restored"
start_gen 2 6
wait_traffic 2 6
stop_app 2
wait_gen 2
r2=$line
[ "$(val first_seq "$r2")" = $(( saved_seq + 1 )) ] && [ "$(val first_parent "$r2")" = "$saved_next" ] ||
  fail "counter or chain did not continue from the file ($saved_seq, $saved_next): $r2"
# As the generator saw it: run 2's first reply follows run 1's last one, link by link
# (unless run 1's last reply was lost on the way, which the generator cannot know).
if [ "$saved_seq" = "$(val last_seq "$r1")" ]; then
  [ "$(val first_parent "$r2")" = "$(val next_parent "$r1")" ] ||
    fail "chain broken across the restart: run 1 $r1 / run 2 $r2"
else
  echo "note: run 1's last reply(s) were lost in transit; checked against the file only"
fi
[ "$(val chain_errors "$r2")" = 0 ] || fail "run 2: $r2"

# Run 3: SIGKILL while events flow and periodic snapshots are written.
# netmesh-gen polls its memif port only while the link is up, but DPDK 22.11's memif client
# can still crash when its server vanishes mid-burst (the rings unmapped under the poll): then
# run 3 goes again (it restores from the same file; the checks below hold for either).
for attempt in 1 2 3; do
  start_app 3
  start_gen 3 6
  wait_traffic 3 6
  kill -KILL "$app_pid"
  wait "$app_pid" 2>/dev/null || true
  app_pid=''
  gen_rc=0
  wait "$gen_pid" 2>/dev/null || gen_rc=$?
  gen_pid=''
  r3=$(grep '^gen: daemon ' "$tmp/gen3.log" | tail -1) && break
  echo "run 3, attempt $attempt: netmesh-gen exit status $gen_rc, no summary"
  if [ "$gen_rc" != 0 ] && gen_crashed "$gen_rc" 3; then
    [ "$attempt" -lt 3 ] || exit 3
    continue
  fi
  cat "$tmp/gen3.log"
  fail "run 3: no daemon summary"
done

# Run 4: the file the kill left is readable and holds run 3's progress (at most one
# interval behind what run 3 answered).
start_app 4
grep -q '^netmesh: daemon counter origin .* (restored)$' "$tmp/app4.log" || fail "run 4 not restored"
start_gen 4 6
wait_traffic 4 6
stop_app 4
wait_gen 4
r4=$line
first4=$(val first_seq "$r4")
[ "$first4" -gt $(( $(val last_seq "$r2") + 1 )) ] && [ "$first4" -le $(( $(val last_seq "$r3") + 1 )) ] ||
  fail "after SIGKILL: run 2 $r2 / run 3 $r3 / run 4 $r4"
[ "$(val chain_errors "$r4")" = 0 ] || fail "run 4: $r4"
left=$(find "$state" -name '*.tmp' -o -name '*.bad-*')
[ -z "$left" ] || fail "left in the state dir: $left"
# A corrupt file: the start fails naming it, the file is set aside, and the next start
# refuses to run the counter empty.
printf 'X' | dd of="$file" bs=1 seek=130 conv=notrunc status=none
for n in 5 6; do
  rc=0
  "$app_bin" --no-huge -m 256 "${quiet[@]}" --file-prefix "nm$tag-app$n" --lcores "$app_lcores" \
    "--vdev=net_memif0,role=server,socket=$sock" -- \
    --ip 127.0.0.1 --keys "$tmp/app-keys" --psk-file "$tmp/psk" \
    --daemon "counter:$tmp/counter.seed:1" --stats-period 0 --state-dir "$state" \
    > "$tmp/app$n.log" 2>&1 || rc=$?
  [ "$rc" != 0 ] || fail "run $n started with a corrupt state file"
done
grep -q "state file $file: checksum mismatch (corrupt) (set aside as $origin.nmstate.bad-" \
  "$tmp/app5.log" || fail "run 5: no clear error"
grep -q "refusing to start the daemon empty" "$tmp/app6.log" || fail "run 6: started empty"
[ ! -e "$file" ] && [ "$(find "$state" -name '*.bad-*' | wc -l)" = 1 ] || fail "not set aside once"

out=$("$app_bin" --no-huge -m 64 --no-shconf -l 0 "${quiet[@]}" -- --ip 127.0.0.1 \
  --keys "$tmp/app-keys" --psk-file "$tmp/psk" --snapshot-interval 5 2>&1) && fail "accepted"
grep -Eq -- "snapshot-interval.*needs -*state-dir" <<<"$out" || fail "no clear error: $out"

echo "state restart: ok (run 1 last $(val last_seq "$r1"), run 2 first $(val first_seq "$r2"), run 3 last $(val last_seq "$r3") killed, run 4 first $first4)"
