#!/usr/bin/env bash
# The appliance's own state over DPDK telemetry, and its log types:
#  1. rte_log types: --log-level=netmesh.*:debug shows netmesh debug lines, the default hides them;
#  2. the demo (scripts/run.sh) with traffic: every /netmesh command through dpdk-telemetry.py,
#     checked for real values (rx > 0, a healthy peer, the echo daemon's processed > 0, ...);
#  3. netmesh-prometheus.py --once: valid text format carrying the same figures.
set -euo pipefail
src=$1
build=$2
nm=$build/app/netmesh
tmp=$(mktemp -d)
# shellcheck source=tests/demo_lib.sh
source "$(dirname "$0")/demo_lib.sh"
# shellcheck disable=SC2317 # called from the EXIT trap
finish() { demo_kill; rm -rf "$tmp"; }
trap finish EXIT
fail() { echo "FAIL: $*"; tail -30 "$tmp/run.out" 2>/dev/null || true; exit 1; }

# ---- 1. log types ----
eal=(--no-huge -m 256 --no-pci --no-shconf --no-telemetry --vdev=net_null0 "--lcores=0@0,1@1"
     "--log-level=lib.*:error")
head -c 32 /dev/urandom > "$tmp/psk"
chmod 600 "$tmp/psk"
app=(-- --ip 127.0.0.1 --keys "$tmp/keys" --psk-file "$tmp/psk" --stats-period 0)
# Start, wait until it runs (a loaded machine can take seconds), then one SIGINT to the
# appliance alone (its process group would take a second Ctrl-C and exit at once).
run_once() { # $1 output file, then the appliance's arguments
  local out=$1 pid; shift
  "$nm" "$@" > "$out" 2>&1 &
  pid=$!
  for _ in $(seq 600); do
    grep -q 'Ctrl-C to stop' "$out" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -INT "$pid" 2>/dev/null || true
  wait "$pid" || true
}
run_once "$tmp/default.out" "${eal[@]}" "${app[@]}"
run_once "$tmp/debug.out" "${eal[@]}" "--log-level=netmesh.*:debug" "${app[@]}"
for f in default debug; do
  grep -q '^netmesh: stopping' "$tmp/$f.out" || fail "$f run did not stop gracefully: $(tail -3 "$tmp/$f.out")"
  grep -q '^netmesh.dataplane: port 0 (net_null): started' "$tmp/$f.out" || fail "$f run: no info line"
done
grep -q '^netmesh.dataplane: worker 0: launched on lcore 1' "$tmp/debug.out" ||
  fail "netmesh.*:debug shows no debug line: $(head -5 "$tmp/debug.out")"
! grep -q 'launched on lcore' "$tmp/default.out" || fail "the default level shows debug lines"

# ---- 2. telemetry on the demo ----
demo_start "$src" "$build" "$tmp" "tel-$$-$RANDOM"
demo_wait_traffic
prefix=nmrun-app-$demo_tag
query() { echo "$1" | timeout 20 dpdk-telemetry.py -f "$prefix" | grep '^{' ; }
for c in stats drops peers daemons meshos migrations; do
  query "/netmesh/$c" > "$tmp/$c.json" || fail "dpdk-telemetry.py /netmesh/$c"
done
query /help,/netmesh/peers > "$tmp/help.json" || fail "/help"
python3 - "$tmp" <<'PY' || fail "telemetry values"
import json, sys
d = sys.argv[1]
def load(c):
    return json.load(open("%s/%s.json" % (d, c)))["/netmesh/" + c]
def check(cond, what):
    if not cond:
        sys.exit("telemetry: " + what)
s = load("stats")
check(s["total"]["rx_packets"] > 0 and s["total"]["tx_packets"] > 0, "no traffic in totals: %r" % s["total"])
check(s["total"]["events_delivered"] > 0, "no events delivered")
check(s["port_0"]["name"] == "net_memif0" and s["port_0"]["ipackets"] > 0, "port: %r" % s.get("port_0"))
check(s["lcore_1"]["rx_packets"] > 0, "worker lcore 1: %r" % s.get("lcore_1"))
check(s["workers"] == 1 and s["node_id"].startswith("0x"), "workers/node_id")
import re
started = re.search(r"netmesh: aead (.*)$", open(d + "/run.out").read(), re.M)
check(started and s["aead"] == started.group(1), "aead %r, start line %r" % (s.get("aead"), started and started.group(0)))
check(s["aead_backend"] in ("sodium", "ipsec-mb", "openssl") and s["aead"].startswith(s["aead_backend"] + " ("),
      "aead_backend %r" % s.get("aead_backend"))
dr = load("drops")
check("session_unknown" in dr and "ip_cksum" in dr and dr["total"] == sum(v for k, v in dr.items() if k != "total"),
      "drops by reason: %r" % dr)
p = load("peers")
check(p["count"] == 1, "peer count %r" % p["count"])
check(p["peer_0"]["address"] == "127.0.0.2:7777" and p["peer_0"]["health"] == "healthy", "peer: %r" % p["peer_0"])
check(p["peer_0"]["session_id"] != "0x0000000000000000", "no session")
# A healthy peer was heard within its heartbeat timeout (seconds, not wall time minus a monotonic stamp).
check(p["peer_0"]["last_rx_ms_ago"] < 60000, "last_rx_ms_ago: %r" % p["peer_0"])
check(p["handshakes"]["completed"] >= 1, "handshakes: %r" % p["handshakes"])
dm = load("daemons")
byname = {v["name"]: v for k, v in dm.items() if k.startswith("daemon_")}
check(dm["count"] == 2 and set(byname) == {"echo", "counter"}, "daemons: %r" % dm)
check(byname["echo"]["processed"] > 0 and byname["echo"]["emitted"] > 0 and byname["echo"]["lcore"] == 1,
      "echo: %r" % byname["echo"])
check(byname["counter"]["errors"] == 0, "counter errors")
check(all(v["kind"] == name for name, v in byname.items()), "kinds: %r" % byname)
mg = load("migrations")
# dpdk-telemetry.py re-encodes the reply, so a key sent twice would arrive once: check by name.
check(mg["in_progress"] == 0 and "transport_send_failed" in mg["counters"] and "chunks_sent" in mg["counters"] and "events_skipped" in mg["counters"],
      "migrations: %r" % mg)
m = load("meshos")
check(m["state"] == "active" and m["counters"]["daemons"] == 2 and m["counters"]["ticks"] > 0, "meshos: %r" % m)
h = json.load(open(d + "/help.json"))["/help"]
check("/netmesh/peers" in h, "help: %r" % h)
PY

# ---- 3. Prometheus: the same figures, between two telemetry reads ----
query /netmesh/daemons > "$tmp/before.json" || fail "daemons before"
"$src/scripts/netmesh-prometheus.py" --file-prefix "$prefix" --once > "$tmp/metrics.txt" ||
  fail "netmesh-prometheus.py"
query /netmesh/daemons > "$tmp/after.json" || fail "daemons after"
query /netmesh/peers > "$tmp/peers2.json" || fail "peers again"
python3 - "$tmp" <<'PY' || fail "prometheus output: $(head -20 "$tmp/metrics.txt")"
import json, re, sys
d = sys.argv[1]
sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+|NaN)$')
typed, seen = {}, {}
for n, line in enumerate(open(d + "/metrics.txt"), 1):
    line = line.rstrip("\n")
    if line.startswith("# HELP "):
        continue
    if line.startswith("# TYPE "):
        _, _, name, kind = line.split(" ")
        if name in typed or kind not in ("counter", "gauge"):
            sys.exit("line %d: %s" % (n, line))
        typed[name] = kind
        continue
    m = sample.match(line)
    if not m or m.group(1) not in typed:
        sys.exit("line %d does not parse: %r" % (n, line))
    seen.setdefault(m.group(1), []).append(line)
def value(metric, **labels):
    want = ",".join('%s="%s"' % kv for kv in labels.items())
    for line in seen.get(metric, []):
        if all('%s="%s"' % kv in line for kv in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    sys.exit("no %s{%s}" % (metric, want))
def daemons(f):
    dm = json.load(open("%s/%s.json" % (d, f)))["/netmesh/daemons"]
    return {v["name"]: v for k, v in dm.items() if k.startswith("daemon_")}
before, after = daemons("before"), daemons("after")
for name in ("echo", "counter"):
    got = value("netmesh_daemon_processed_total", name=name, origin=before[name]["origin"])
    if not before[name]["processed"] <= got <= after[name]["processed"]:
        sys.exit("%s processed %s not within telemetry's %s..%s" % (name, got, before[name]["processed"], after[name]["processed"]))
peer = json.load(open(d + "/peers2.json"))["/netmesh/peers"]["peer_0"]
if value("netmesh_peer_health", address="127.0.0.2:7777", node_id=peer["node_id"]) != 1:
    sys.exit("peer not healthy in metrics")
if value("netmesh_drops_total", reason="session_unknown") < 0 or value("netmesh_rx_packets_total") <= 0:
    sys.exit("drops / rx")
if value("netmesh_meshos_state", state="active") != 1 or value("netmesh_daemons") != 2:
    sys.exit("meshos / daemons")
PY

demo_stop
echo "telemetry: ok (log types, 5 /netmesh commands, Prometheus text)"
