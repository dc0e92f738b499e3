#!/usr/bin/env bash
# scripts/bench.sh migration (its total part): the wall time to migrate a daemon with a large
# state between two appliances, and a check that the state arrived intact.
#
#   netmesh A (127.0.0.1) ─memif─ port 0 ┐
#   netmesh B (127.0.0.3) ─memif─ port 1 ├─ netmesh-wire (L2 switch, no faults)
#   netmesh-gen (127.0.0.2) ─memif─ port 2 ┘
#
# For each size one blob daemon (control/nm_builtin.h, kind blob-SIZE) starts on A. netmesh-gen
# sends it --events events in 1 s (each changes a word of its state), then the daemon migrates
# A -> B, B -> A, ... (--runs migrations, sealed identity, no traffic meanwhile), then
# netmesh-gen sends --events more to wherever it is now.
#
#   migration_total_<SIZE>_ns  median over the runs of the wall time from just before the
#                              /netmesh/migrate command on the source to the moment its
#                              /netmesh/migrations shows the record ended completed (polled
#                              every ~2 ms): snapshot, SnapshotReady chunks through the wire as
#                              IPv4 fragments, the target's reassembly and restore,
#                              RestoreComplete, commit, ActivateTarget, ActivateAck
#   migration_total_<SIZE>_engine_ns  the source engine's elapsed_ms for the same (ms steps)
#
# Checked on every run (a failure is exit status 1): the migration completed; the daemon is on
# the target only; the target's snapshot (console `daemon snapshot ... cds1`) has the source's
# state byte for byte and the same chain head; at the end its event count is the two phases'
# events; netmesh-gen saw every event answered once, one chain that goes on across them.
# Prints `name: value unit` lines; progress to stderr.
set -euo pipefail

usage() {
  cat <<EOF
usage: scripts/bench_migration_total.sh [options]   (part of scripts/bench.sh migration)
  --sizes LIST   comma-separated blob sizes, each 1MiB or 64MiB or a blob SIZE (bytes, KiB, MiB);
                 64MiB is the largest that migrates sealed: 64 MiB - 303 bytes (default 1MiB,64MiB)
  --runs N       migrations per size, alternating A -> B, B -> A (default 3)
  --events N     events netmesh-gen sends in 1 s before and after the migrations (default 200)
  --no-build     use the binaries in \$BUILD as they are (the test suite does)
  --no-huge      never hugepages (the test suite), even when enough are free
  --tag NAME     names memif sockets and EAL file prefixes (default: pid-random)
  --keep-logs DIR  copy every process's log to DIR
EOF
}

sizes=1MiB,64MiB runs=3 events=200 build=1 huge=1 tag=$$-$RANDOM keep=''
while [ $# -gt 0 ]; do
  case $1 in
    --sizes) sizes=${2:?--sizes needs a value}; shift 2 ;;
    --runs) runs=${2:?--runs needs a value}; shift 2 ;;
    --events) events=${2:?--events needs a value}; shift 2 ;;
    --no-build) build=0; shift ;;
    --no-huge) huge=0; shift ;;
    --tag) tag=${2:?--tag needs a value}; shift 2 ;;
    --keep-logs) keep=${2:?--keep-logs needs a directory}; shift 2 ;;
    --help|-h) usage; exit 0 ;;
    *) echo "bench migration-total: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
for n in "$runs" "$events"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "bench migration-total: '$n' is not a positive number" >&2; exit 2; }
done
[[ $tag =~ ^[A-Za-z0-9_-]+$ ]] || { echo "bench migration-total: --tag: letters, digits, - and _ only" >&2; exit 2; }
declare -a names=() kinds=()
IFS=, read -r -a list <<<"$sizes"
for s in "${list[@]}"; do
  case $s in
    64MiB) k=blob-67108561 ;; # NM_BLOB_MAX: 64 MiB - 94 (CDS1) - 209 (identity envelope)
    *) [[ $s =~ ^[1-9][0-9]*(KiB|MiB)?$ ]] || { echo "bench migration-total: size '$s' (see --help)" >&2; exit 2; }
       k=blob-$s ;;
  esac
  names+=("$s") kinds+=("$k")
done
[ "${#names[@]}" -gt 0 ] || { echo "bench migration-total: no size" >&2; exit 2; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC1091 # lib.sh is checked on its own
source "$here/lib.sh"
[ "$build" = 0 ] || nm_build
app_bin=$NM_BUILD/app/netmesh gen_bin=$NM_BUILD/app/netmesh-gen wire_bin=$NM_BUILD/app/netmesh-wire
for b in "$app_bin" "$gen_bin" "$wire_bin"; do
  [ -x "$b" ] || { echo "bench migration-total: $b is missing" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/netmesh-migtotal.XXXXXX")
sock=/netmesh-migtotal-$tag # abstract memif sockets, one per wire port
declare -A pid=()
DEADLINE=90 # seconds a start-up condition may take on a loaded machine
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
  trap - INT TERM
  local k
  for k in gen A B wire; do nm_stop_pid "${pid[$k]:-}" 15; done
  if [ -n "$keep" ] && mkdir -p "$keep"; then cp "$tmp"/*.log "$keep"/ 2>/dev/null || true; fi
  rm -rf "$tmp"
  nm_eal_rundirs_rm "nmmt-wire-$tag" "nmmt-A-$tag" "nmmt-B-$tag" "nmmt-gen-$tag"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() {
  echo "bench migration-total: $*" >&2
  for f in "$tmp"/*.log; do echo "--- $f" >&2; tail -15 "$f" >&2; done
  exit 1
}
wait_for() { # wait_for WHAT CMD...
  local what=$1
  shift
  nm_wait_for "$DEADLINE" "$@" || fail "timed out waiting for $what"
}
in_log() { grep -q -- "$2" "$tmp/$1.log" 2>/dev/null; }

declare -A mb=([wire]=96 [A]=256 [B]=256 [gen]=96)
mem=--no-huge
[ "$huge" = 0 ] || mem=$(nm_eal_mem_args $((mb[wire] + mb[A] + mb[B] + mb[gen])))
mem=${mem%% -m *}
if [ "$(nproc)" -ge 2 ]; then cpu_b=1; else cpu_b=0; fi
quiet=(--no-pci "--log-level=lib.*:error")
eal() { echo "$mem -m ${mb[$1]} --file-prefix nmmt-$1-$tag"; }

head -c 32 /dev/urandom > "$tmp/psk"
chmod 600 "$tmp/psk"
declare -a daemon_opts=() accept_opts=()
for i in "${!kinds[@]}"; do
  head -c 32 /dev/urandom > "$tmp/seed$i"
  chmod 600 "$tmp/seed$i"
  daemon_opts+=(--daemon "${kinds[i]}:$tmp/seed$i:1")
  accept_opts+=(--accept "${kinds[i]}:1")
done
declare -A node=() static=()
gen_node=""
nm_mig_identities "$tmp" "$app_bin" "$gen_bin" A B || fail "identities"

# shellcheck disable=SC2046 # eal's words are separate arguments
nm_mig_wire "$wire_bin" "$tmp" "$sock" "0@$cpu_b" $(eal wire) "${quiet[@]}"
pid[wire]=$NM_WIRE_PID
wait_for "the wire's control socket" "$wire_bin" --control "$tmp/wire.ctl" --cmd stats &> /dev/null

# A and B know each other's statics (sealed identity transport); A initiates their session.
# Both accept every blob kind, so the daemons can come back.
ips=([0]=127.0.0.1 [1]=127.0.0.3)
start_app() { # start_app NAME PORT OTHER CONNECT [options]
  local n=$1 i=$2 o=$3 conn=$4
  shift 4
  # shellcheck disable=SC2046
  "$app_bin" $(eal "$n") "${quiet[@]}" --lcores "0@0,1@$cpu_b" \
    "--vdev=net_memif0,role=client,socket=$sock-$i,$NM_MEMIF_RING" -- \
    --ip "${ips[$i]}" --keys "$tmp/keys-$n" --psk-file "$tmp/psk" --peer "127.0.0.2,node=$gen_node" \
    --peer "${ips[1 - i]},node=${node[$o]},static=${static[$o]}$conn" "${accept_opts[@]}" \
    --idle-sleep-us 200 --stats-period 0 --ctl-socket "$tmp/$n.sock" "$@" > "$tmp/$n.log" 2>&1 &
  pid[$n]=$!
}
start_app A 0 B ,connect "${daemon_opts[@]}"
start_app B 1 A ''
for n in A B; do wait_for "appliance $n" in_log "$n" 'Ctrl-C to stop'; done
declare -a origin=()
for i in "${!kinds[@]}"; do
  o=$(sed -n "s/^netmesh: daemon ${kinds[i]} origin 0x\([0-9a-f]*\) .*/\1/p" "$tmp/A.log")
  [ -n "$o" ] || fail "no origin for ${kinds[i]} in A's log"
  origin+=("$o")
done

# The helper's steps (one Python process each): migrate and time, snapshots, placement.
helper() {
  PYTHONPATH=$here python3 - "$here" "$@" <<'EOF'
import json, struct, subprocess, sys, time
import nm_telemetry
from migrate_driver import hexid, in_progress, newest_done

here, op, args = sys.argv[1], sys.argv[2], sys.argv[3:]

def cds1(path):
    """(through_seq + chain_link, state) of a CDS1 file (docs: control/nm_snapshot.h)."""
    b = open(path, "rb").read()
    if b[:4] != b"CDS1" or len(b) < 94:
        sys.exit("%s: not a CDS1 snapshot" % path)
    (n,) = struct.unpack_from("<I", b, 85)
    return b[37:77], b[89:89 + n]

# The source's running totals shown per run: chunks sent and resent, refused sends.
COUNTERS = ("chunks_sent", "chunks_resent", "chunk_acks_received", "send_failed",
            "transport_send_failed")

def has(prefix, origin):
    with nm_telemetry.Telemetry(prefix, timeout=30) as t:
        return "daemon_%016x" % origin in t.query("/netmesh/daemons")

if op == "snapshot":  # SOCK ORIGIN FILE
    r = subprocess.run([here + "/netmesh-ctl", "--timeout", "300", args[0], "daemon", "snapshot",
                        "0x" + args[1], args[2], "cds1"], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("daemon snapshot on %s: %s%s" % (args[0], r.stdout, r.stderr))
elif op == "same":  # BEFORE AFTER
    a, b = cds1(args[0]), cds1(args[1])
    if a[0] != b[0]:
        sys.exit("the chain head differs after the migration")
    if a[1] != b[1]:
        at = next((i for i, (x, y) in enumerate(zip(a[1], b[1])) if x != y), -1)
        sys.exit("the state differs after the migration (%d vs %d bytes, first difference at %d)"
                 % (len(a[1]), len(b[1]), at))
elif op == "count":  # FILE: the blob's event count (state bytes 0..8)
    print(struct.unpack_from("<Q", cds1(args[0])[1], 0)[0])
elif op == "placed":  # ON OFF ORIGIN
    if not has(args[0], hexid(args[2])) or has(args[1], hexid(args[2])):
        sys.exit("the daemon is not on the target only")
elif op == "migrate":  # SRC_PREFIX ORIGIN TARGET: prints wall_ns engine_ms bytes_sent retries
    origin = hexid(args[1])
    with nm_telemetry.Telemetry(args[0], timeout=30) as t:
        t0 = time.monotonic_ns()
        r = t.query("/netmesh/migrate,%s,%s" % (args[1], args[2]))
        if not r or r.get("started") != 1:
            sys.exit("migrate: %s" % json.dumps(r))
        deadline = time.monotonic() + 300
        while True:
            m = t.query("/netmesh/migrations")
            if not [v for v in in_progress(m, origin) if v.get("role") == "source"]:
                t1 = time.monotonic_ns()
                break
            if time.monotonic() > deadline:
                sys.exit("migrate: still in progress after 300 s: %s" % json.dumps(m))
            time.sleep(0.002)
    last = newest_done(m, origin, "source")
    if last is None or last.get("result") != "completed":
        sys.exit("migrate: %s" % json.dumps(last))
    c = m.get("counters", {})
    print(t1 - t0, last.get("elapsed_ms", 0), last.get("bytes_sent", 0), last.get("retries", 0),
          " ".join("%s=%s" % (k, c.get(k, "?")) for k in COUNTERS))
elif op == "drops":  # PREFIX: the node's non-zero drop counters, and its engine's receive side
    with nm_telemetry.Telemetry(args[0], timeout=30) as t:
        d, m = t.query("/netmesh/drops"), t.query("/netmesh/migrations")
    def flat(v, pre=""):
        if isinstance(v, dict):
            for k, x in v.items():
                yield from flat(x, pre + k + ".")
        elif isinstance(v, int) and v:
            yield pre[:-1], v
    c = m.get("counters", {})
    print(" ".join("%s=%s" % kv for kv in flat(d)) or "none",
          "chunk_acks_sent=%s decode_errors=%s" % (c.get("chunk_acks_sent"), c.get("decode_errors")))
else:
    sys.exit("helper: unknown step " + op)
EOF
}

session_up() {
  PYTHONPATH=$here python3 - "nmmt-A-$tag" "${node[B]}" <<'EOF'
import sys
import nm_telemetry
with nm_telemetry.Telemetry(sys.argv[1]) as t:
    p = t.query("/netmesh/peers")
up = [v for v in p.values() if isinstance(v, dict) and int(v.get("node_id", "0"), 16) ==
      int(sys.argv[2], 16) and int(v.get("session_id", "0"), 16) != 0]
sys.exit(0 if up else 1)
EOF
}
wait_for "A's session with B" session_up

kv() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# gen_phase NAME NODE(A|B) ORIGIN FIRST: --events events in 1 s to the daemon on NODE; every one
# answered once, one chain, and its first output is sequence FIRST (the chain went on from the
# daemon's state: a fresh generator sees the sequences before it as one gap, not as lost).
gen_phase() {
  local name=$1 n=$2 o=$3 first=$4 i=0 rc=0 summary dest k
  [ "$n" = A ] || i=1
  # shellcheck disable=SC2046
  "$gen_bin" $(eal gen) "${quiet[@]}" --no-telemetry --lcores 0@0 \
    "--vdev=net_memif0,role=client,socket=$sock-2,$NM_MEMIF_RING" -- \
    --ip 127.0.0.2 --peer-ip "${ips[$i]}" --keys "$tmp/keys-gen" --psk-file "$tmp/psk" \
    --peer-node "${node[$n]}" --peer-static "${static[$n]}" --daemon "$o" \
    --rate "$events" --duration 1 --idle-sleep-us 100 > "$tmp/gen-$name.log" 2>&1 &
  pid[gen]=$!
  nm_wait_pid "${pid[gen]}" "$DEADLINE" || rc=$?
  if [ "$rc" = 124 ]; then
    nm_stop_pid "${pid[gen]}" 5
    pid[gen]=''
    fail "netmesh-gen ($name) did not end"
  fi
  pid[gen]=''
  summary=$(grep '^gen: sent_events=' "$tmp/gen-$name.log" | tail -1 || true)
  dest=$(grep "^gen: destination $o " "$tmp/gen-$name.log" | tail -1 || true)
  [ "$rc" = 0 ] || fail "netmesh-gen ($name): exit status $rc"
  [ -n "$summary" ] || fail "netmesh-gen ($name): no summary"
  [ -n "$dest" ] || fail "netmesh-gen ($name): no destination line"
  for k in unanswered duplicates; do
    [ "$(kv "$k" "$dest")" = 0 ] || fail "netmesh-gen ($name): $k: $dest"
  done
  [ "$(kv chain_errors "$summary")" = 0 ] || fail "netmesh-gen ($name): $summary"
  grep -q "^gen: daemon $o .* first_seq=$first " "$tmp/gen-$name.log" ||
    fail "netmesh-gen ($name): the chain did not start at $first: $(grep "^gen: daemon" "$tmp/gen-$name.log")"
  gen_sent=$(kv sent "$dest")
  [ "$gen_sent" -gt 0 ] || fail "netmesh-gen ($name) sent nothing"
}

echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for i in "${!kinds[@]}"; do
  k=${kinds[i]} o=${origin[i]} name=${names[i]} at=A
  gen_phase "$name-1" A "$o" 1
  sent=$gen_sent
  : > "$tmp/wall"
  : > "$tmp/engine"
  for ((r = 1; r <= runs; r++)); do
    if [ "$at" = A ]; then to=B; else to=A; fi
    helper snapshot "$tmp/$at.sock" "$o" "$tmp/before.cds1" || fail "$k: snapshot on $at"
    res=$(helper migrate "nmmt-$at-$tag" "$o" "${node[$to]}") || fail "$k: migration $r $at -> $to"
    read -r wall engine bytes retries counters <<<"$res"
    echo "# $name ($k) run $r $at -> $to: $wall ns wall, engine $engine ms, $bytes bytes sent," \
      "$retries retries; $at's totals: $counters" >&2
    echo "$wall" >> "$tmp/wall"
    echo "$engine" >> "$tmp/engine"
    echo "# $to's drops (totals): $(helper drops "nmmt-$to-$tag")" >&2
    helper placed "nmmt-$to-$tag" "nmmt-$at-$tag" "$o" || fail "$k: run $r"
    helper snapshot "$tmp/$to.sock" "$o" "$tmp/after.cds1" || fail "$k: snapshot on $to"
    helper same "$tmp/before.cds1" "$tmp/after.cds1" || fail "$k: run $r $at -> $to"
    at=$to
  done
  gen_phase "$name-2" "$at" "$o" $((sent + 1))
  sent=$((sent + gen_sent))
  helper snapshot "$tmp/$at.sock" "$o" "$tmp/after.cds1" || fail "$k: final snapshot on $at"
  count=$(helper count "$tmp/after.cds1")
  [ "$count" = "$sent" ] || fail "$k: the daemon counted $count events, $sent were answered"
  rm -f "$tmp/before.cds1" "$tmp/after.cds1"
  echo "migration_total_${name}_ns: $(median < "$tmp/wall") ns"
  echo "migration_total_${name}_engine_ns: $(($(median < "$tmp/engine") * 1000000)) ns"
  echo "# $name: state intact after $runs migrations, $count events counted, daemon on $at" >&2
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
