#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""netmesh-prometheus: the appliance's /netmesh telemetry in Prometheus text format.

Reads the running appliance's telemetry socket (as dpdk-telemetry.py does) on each
scrape, so the figures are exactly those of /netmesh/stats, drops, peers, daemons and
meshos. Stdlib only.

  netmesh-prometheus.py --file-prefix PREFIX --once          print one exposition and exit
  netmesh-prometheus.py --file-prefix PREFIX --listen :9777  serve GET /metrics
"""
import argparse
import http.server
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nm_telemetry  # noqa: E402

HEALTH = {"unknown": 0, "healthy": 1, "degraded": 2, "unreachable": 3}


class Exposition:
    """Families in first-seen order; each gets one HELP and one TYPE line."""

    def __init__(self):
        self.families = {}

    def add(self, name, kind, help_text, value, labels=None):
        fam = self.families.setdefault(name, (kind, help_text, []))
        fam[2].append((labels or {}, value))

    def text(self):
        out = []
        for name, (kind, help_text, samples) in self.families.items():
            out.append("# HELP %s %s" % (name, help_text))
            out.append("# TYPE %s %s" % (name, kind))
            for labels, value in samples:
                lab = ",".join('%s="%s"' % (k, str(v).replace("\\", "\\\\").replace('"', '\\"'))
                               for k, v in labels.items())
                out.append("%s%s %s" % (name, "{%s}" % lab if lab else "", value))
        return "\n".join(out) + "\n"


def stats_families(e, stats):
    e.add("netmesh_workers", "gauge", "Worker lcores.", stats["workers"])
    e.add("netmesh_mbufs_in_use", "gauge", "Mbufs taken from the port's pools.",
          stats["mbufs_in_use"])
    for field, value in stats["total"].items():
        if field == "drops":
            continue  # netmesh_drops_total{reason} has them, by reason
        e.add("netmesh_%s_total" % field, "counter", "All workers: %s." % field, value)
    for key, w in nm_telemetry.entries(stats, "lcore_"):
        lcore = key.split("_", 1)[1]
        for field, value in w.items():
            if field != "queue":
                e.add("netmesh_lcore_%s_total" % field, "counter", "Per worker lcore: %s." % field,
                      value, {"lcore": lcore})
    for _, p in nm_telemetry.entries(stats, "port_"):
        for field, value in p.items():
            if field not in ("name", "port_id", "queues", "mtu"):
                e.add("netmesh_port_%s_total" % field, "counter", "Per port (ethdev): %s." % field,
                      value, {"port": p["name"]})


def drop_families(e, drops):
    for reason, value in drops.items():
        if reason != "total":
            e.add("netmesh_drops_total", "counter", "Dropped packets by reason.", value,
                  {"reason": reason})


def peer_families(e, peers):
    for field, value in peers.get("handshakes", {}).items():
        e.add("netmesh_handshakes_%s_total" % field, "counter", "Sessions: %s." % field, value)
    for _, p in nm_telemetry.entries(peers, "peer_"):
        lab = {"address": p["address"], "node_id": p["node_id"]}
        e.add("netmesh_peer_health", "gauge",
              "Peer health: 0 unknown, 1 healthy, 2 degraded, 3 unreachable.",
              HEALTH.get(p["health"], 0), lab)
        e.add("netmesh_peer_rtt_seconds", "gauge", "Last handshake round trip.",
              p["rtt_us"] / 1e6, lab)
        e.add("netmesh_peer_last_rx_seconds", "gauge", "Time since the peer was last heard.",
              p["last_rx_ms_ago"] / 1e3, lab)


def daemon_families(e, daemons):
    e.add("netmesh_daemons", "gauge", "Live daemons.", daemons["count"])
    for _, d in nm_telemetry.entries(daemons, "daemon_"):
        lab = {"origin": d["origin"], "name": d["name"], "lcore": d["lcore"]}
        for field in ("processed", "emitted", "errors", "snapshots"):
            e.add("netmesh_daemon_%s_total" % field, "counter", "Per daemon: events %s." % field
                  if field != "snapshots" else "Per daemon: snapshots taken.", d[field], lab)


def meshos_families(e, m):
    if m.get("state") == "off":
        return
    e.add("netmesh_meshos_state", "gauge", "This node's maintenance state (1 for the current one).",
          1, {"state": m["state"]})
    e.add("netmesh_meshos_state_seconds", "gauge", "Time in the current state.",
          m["state_for_ms"] / 1e3)
    e.add("netmesh_meshos_backpressure", "gauge", "Backpressure asserted (0/1).", m["backpressure"])
    e.add("netmesh_meshos_load_ratio", "gauge", "Last sampled queue load, 0..1.",
          m["load_permille"] / 1e3)
    for field, value in m["counters"].items():
        if field == "daemons":
            e.add("netmesh_meshos_daemons", "gauge", "Daemons with a control channel.", value)
        else:
            e.add("netmesh_meshos_%s_total" % field, "counter", "MeshOS: %s." % field, value)


def exposition(tel):
    snap = nm_telemetry.snapshot(tel)
    e = Exposition()
    e.add("netmesh_up", "gauge", "The appliance answered its telemetry.", 1,
          {"node_id": snap["stats"]["node_id"]})
    stats_families(e, snap["stats"])
    drop_families(e, snap["drops"])
    peer_families(e, snap["peers"])
    daemon_families(e, snap["daemons"])
    meshos_families(e, snap["meshos"])
    return e.text()


def serve(args):
    host, _, port = args.listen.rpartition(":")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            if self.path != "/metrics":
                self.send_error(404)
                return
            try:
                with nm_telemetry.Telemetry(args.file_prefix, args.instance) as tel:
                    body, code = exposition(tel).encode(), 200
            except nm_telemetry.TelemetryError as err:
                body = ("# %s\n# TYPE netmesh_up gauge\nnetmesh_up 0\n" % err).encode()
                code = 200
            self.send_response(code)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    http.server.ThreadingHTTPServer((host or "127.0.0.1", int(port)), Handler).serve_forever()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-f", "--file-prefix", default="rte", help="the appliance's EAL --file-prefix")
    ap.add_argument("-i", "--instance", type=int, default=0, help="telemetry socket instance")
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--once", action="store_true", help="print one exposition and exit")
    mode.add_argument("--listen", metavar="[HOST]:PORT", help="serve /metrics (HOST 127.0.0.1)")
    args = ap.parse_args()
    if args.once:
        try:
            with nm_telemetry.Telemetry(args.file_prefix, args.instance) as tel:
                sys.stdout.write(exposition(tel))
        except nm_telemetry.TelemetryError as err:
            sys.exit("netmesh-prometheus: %s" % err)
        return
    try:
        serve(args)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
