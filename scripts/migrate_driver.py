#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""migrate_driver - moves daemons between running appliances through their telemetry.

Every --period seconds each daemon migrates from the node it lives on to the next node of its
tour (A -> B -> A -> C -> A ... for the first daemon, A -> C -> A -> B ... for the second), for
--duration seconds. After each migration it reads the source's history entry (completed or
failed, with the reason) and waits until the daemon is registered on exactly one node with no
migration of it in progress anywhere: a daemon on no node or on two is a placement error.

  migrate_driver.py --node NAME=PREFIX=NODEHEX (x N) --daemon ORIGINHEX (x M)
                    [--duration S] [--period S] [--deadline S] [--unsealed]
                    [--flap-ms MS --wire-bin BIN --wire-ctl PATH] [--windows FILE]

--flap-ms: take each target's netmesh-wire port down, start the round's migrations, and bring
the ports up MS milliseconds later (nodes are on wire ports 0, 1, ... in --node order): every
migration is in flight during the outage and must ride it out with retransmissions. No round
starts later than MS + 5 s before the end (a round across the outage takes up to that long), so
the last one ends while the generator still listens. (Taking the
link down after the start raced a 50 ms migration: the outage then hit the generator's events to
the daemon's new home instead.)

Telemetry answers get 30 s: on a loaded machine an appliance's telemetry thread can wait seconds
for the control thread's lock. A start is sent once (it is not idempotent); reads are retried
once on a fresh connection. The ports a round took down always come back up, on time, even when
a start fails (flap-ms after they went down, or as soon as the starts returned).

Prints one line per migration, then `migrations: completed=N failed=N placement_errors=N`.
Exit status 0 when every migration ended and every placement was right (failures are
reported, the caller judges them), 1 otherwise.

--windows FILE: one line per migration, `ORIGIN SRC DST START_NS END_NS RESULT HOLD_NS`, on
CLOCK_MONOTONIC: from just before the start command to the moment the driver saw the source's
record end (read every 5 ms for its first 200 ms, then every 50 ms) (scripts/bench_migration_pause.sh lines the generator's round trips up with them), and
the migration's hold (below; `-` when unknown).

After each migration it prints the phases both nodes stamped (`phases:` lines, us after the
source's snapshot request; docs/migration.md "Where the time goes") and the hold: from the
source's snapshot request (the hold starts there at the earliest) to the target handing the first
held event to its worker, `hold_us`. A prepared start (--migrate-prepare-ms) adds prep_sent and
prepared_rx at the end of the source's list, negative (before the snapshot request). The two
nodes' stamps are compared, which is meaningful because the appliances share the host's
CLOCK_MONOTONIC; across hosts only each node's own differences are.
"""
import argparse
import subprocess
import sys
import time

import nm_telemetry

TELEMETRY_TIMEOUT_S = 30.0
RTO_MAX_S = 2.0  # the engine's default retransmission cap (rto_max_ms)
# How often the source's record is read while a migration runs. It was the 50 ms of every other
# wait: every migration then "completed in 52-60 ms" (a 4 ms migration plus one poll period), and
# its window (--windows) was as long.
END_POLL_S = 0.005
END_FAST_S = 0.2
PHASES_WAIT_S = 5.0  # how long the target's replay stamp is waited for after a migration


def hexid(s):
    return int(s, 16)


class Node:
    def __init__(self, name, prefix, node_id, port):
        self.name, self.prefix, self.node_id, self.port = name, prefix, node_id, port
        self.tel = None

    def query(self, cmd, retry=True):
        """One command; a read reconnects once (the appliance may have been busy or restarted)."""
        for attempt in (0, 1):
            try:
                if self.tel is None:
                    self.tel = nm_telemetry.Telemetry(self.prefix, timeout=TELEMETRY_TIMEOUT_S)
                return self.tel.query(cmd)
            except nm_telemetry.TelemetryError:
                if self.tel is not None:
                    self.tel.close()
                self.tel = None
                if attempt or not retry:
                    raise
        return None

    def has_daemon(self, origin):
        d = self.query("/netmesh/daemons")
        return "daemon_%016x" % origin in d

    def migrations(self):
        return self.query("/netmesh/migrations")


def in_progress(mig, origin):
    """This node's in-progress records of the origin (any role)."""
    return [v for k, v in mig.items()
            if k.startswith("now_") and isinstance(v, dict) and hexid(v["origin"]) == origin]


def newest_done(mig, origin, role):
    """The newest history entry of the origin in that role (history is newest first)."""
    done = [(int(k[5:]), v) for k, v in mig.items()
            if k.startswith("done_") and isinstance(v, dict)]
    for _, v in sorted(done, key=lambda kv: kv[0]):
        if hexid(v["origin"]) == origin and v["role"] == role:
            return v
    return None


# prep_sent / prepared_rx (a prepared start, --migrate-prepare-ms) come before the snapshot
# request: negative, printed last so that the line still starts at snap_req=0.
SOURCE_PHASES = ("snap_req", "snap_taken", "snap_sent", "restored_rx", "commit", "activate_sent",
                 "events_sent", "activated_rx", "fwd_end", "prep_sent", "prepared_rx")
TARGET_PHASES = ("snap_rx", "reassembled", "opened", "restored", "restored_sent", "activate_rx",
                 "first_replay", "last_replay")


def entry_of(mig, mid, role):
    """The history entry of attempt `mid` in `role`, or None."""
    for k, v in mig.items():
        if k.startswith("done_") and isinstance(v, dict) and v.get("mid") == mid and \
                v.get("role") == role:
            return v
    return None


def stamps_ns(entry):
    """An entry's phases as absolute CLOCK_MONOTONIC ns (t0_ns + t_NAME_us)."""
    if entry is None or "t0_ns" not in entry:
        return {}
    t0 = int(entry["t0_ns"])
    return dict((k[2:-3], t0 + int(v) * 1000) for k, v in entry.items()
                if k.startswith("t_") and k.endswith("_us"))


def phases_line(stamps, names, base):
    return " ".join("%s=%d" % (n, (stamps[n] - base) // 1000) for n in names if n in stamps)


def wait(what, cond, deadline, fast_s=0.0):
    """Poll cond every 50 ms; every END_POLL_S for the first fast_s seconds."""
    start = time.monotonic()
    end = start + deadline
    while True:
        r = cond()
        if r:
            return r
        now = time.monotonic()
        if now > end:
            raise TimeoutError(what)
        time.sleep(END_POLL_S if now - start < fast_s else 0.05)


def report(nodes):
    """Each node's migration counters, records in progress and drops: where a lost event went."""
    for n in nodes:
        mig = n.migrations()
        flat = dict((k, v) for k, v in mig.items() if not isinstance(v, (dict, list)))
        flat.update(mig.get("counters") or {})
        counters = " ".join("%s=%s" % (k, v) for k, v in sorted(flat.items()) if v)
        print("state: %s migrations %s" % (n.name, counters), flush=True)
        for k, v in sorted(mig.items()):
            if k.startswith("now_") and isinstance(v, dict):
                print("state: %s in progress %s" % (n.name, v), flush=True)
        drops = n.query("/netmesh/drops")
        print("state: %s drops %s" % (n.name, " ".join(
            "%s=%s" % (k, v) for k, v in sorted(drops.items()) if v)), flush=True)


class Driver:
    def __init__(self, nodes, origins, args):
        self.nodes, self.args = nodes, args
        self.where = {o: nodes[0] for o in origins}
        # Tours: daemon i visits the other nodes in turn, coming home between visits.
        others = nodes[1:]
        self.tours = {}
        for i, o in enumerate(origins):
            tour = []
            for j in range(len(others)):
                tour += [others[(i + j) % len(others)], nodes[0]]
            self.tours[o] = tour
        self.step = {o: 0 for o in origins}
        self.completed = self.failed = self.placement_errors = 0
        self.windows = open(args.windows, "w") if args.windows else None
        self.pending_window, self.hold_ns = None, None

    def log(self, msg):
        print("migrate: %s" % msg, flush=True)

    def target(self, origin):
        return self.tours[origin][self.step[origin] % len(self.tours[origin])]

    def start(self, origin):
        t_ns = time.monotonic_ns()
        src = self.where[origin]
        dst = self.target(origin)
        cmd = "/netmesh/migrate,%x,%x%s" % (origin, dst.node_id,
                                            ",unsealed" if self.args.unsealed else "")
        r = src.query(cmd, retry=False)  # sent twice, it could start twice
        if "error" in r:
            self.log("%016x %s -> %s refused: %s" % (origin, src.name, dst.name, r["error"]))
            self.failed += 1
            return None
        return (origin, src, dst, time.monotonic(), t_ns)

    def finish(self, m):
        origin, src, dst, t0, t0_ns = m
        try:
            # Polled every END_POLL_S at first: the window (--windows) ends that soon after the
            # record. A migration still running after END_FAST_S (an outage) is read every 50 ms:
            # each read takes the appliance's telemetry lock, which its control thread needs.
            wait("the migration's end on %s" % src.name,
                 lambda: not in_progress(src.migrations(), origin), self.args.deadline,
                 END_FAST_S)
            self.window(origin, src, dst, t0_ns, None)
        except TimeoutError as e:
            self.window(origin, src, dst, t0_ns, "did_not_end")
            self.log("%016x %s -> %s did not end: %s" % (origin, src.name, dst.name, e))
            self.failed += 1
            self.placement_errors += 1
            return
        h = newest_done(src.migrations(), origin, "source") or {}
        ok = h.get("result") == "completed"
        ms = (time.monotonic() - t0) * 1e3
        if ok:
            self.completed += 1
            st = stamps_ns(h)
            own = ("; %.1f ms on the source from snapshot to ActivateAck" %
                   ((st["activated_rx"] - st["snap_req"]) / 1e6)
                   if "activated_rx" in st and "snap_req" in st else "")
            # The driver's own span includes up to END_POLL_S of its poll and the telemetry reads.
            self.log("%016x %s -> %s completed in %.0f ms (bytes_sent=%s retries=%s events=%s%s)" %
                     (origin, src.name, dst.name, ms, h.get("bytes_sent"), h.get("retries"),
                      h.get("events"), own))
        else:
            self.failed += 1
            self.log("%016x %s -> %s failed: %s" % (origin, src.name, dst.name,
                                                    h.get("reason", "no history entry")))
        self.place(origin, dst if ok else src)
        self.step[origin] += 1 if ok else 0
        if ok:
            self.phases(origin, src, dst, h)
        if self.pending_window is not None:
            self.windows.write(self.pending_window + " %s\n" % (self.hold_ns or "-"))
            self.windows.flush()
            self.pending_window = None

    def phases(self, origin, src, dst, h):
        """Both nodes' phase stamps of this attempt, and its hold (the first held event's wait)."""
        self.hold_ns = None
        s = stamps_ns(h)
        if "snap_req" not in s:
            return
        def target_entry():
            e = entry_of(dst.migrations(), h.get("mid"), "target")
            # The replay follows ActivateAck: give it time when the commit shipped events.
            if e is not None and (int(h.get("held_at_commit", 0)) == 0 or
                                  "first_replay" in stamps_ns(e)):
                return e
            return None
        try:
            # Bounded: phases are a report, never a reason to hold the tour up.
            t = stamps_ns(wait("the target's replay", target_entry, min(PHASES_WAIT_S,
                                                                        self.args.deadline)))
        except TimeoutError:
            t = {}
        base = s["snap_req"]
        self.log("%016x phases: %s: %s; %s: %s (us after the snapshot request)" %
                 (origin, src.name, phases_line(s, SOURCE_PHASES, base), dst.name,
                  phases_line(t, TARGET_PHASES, base)))
        if "first_replay" in t and int(h.get("held_at_commit", 0)) > 0:
            self.hold_ns = t["first_replay"] - base
            self.log("%016x hold_us=%d held_at_commit=%s" % (origin, self.hold_ns // 1000,
                                                             h.get("held_at_commit")))

    def window(self, origin, src, dst, t0_ns, result):
        """--windows: the migration's span; its result from the source's history entry. The
        line is completed with the hold once the phases are known (finish)."""
        if self.windows is None:
            return
        t1_ns = time.monotonic_ns()
        self.hold_ns = None
        if result is None:
            h = newest_done(src.migrations(), origin, "source") or {}
            result = h.get("result", "unknown")
        self.pending_window = "%016x %s %s %d %d %s" % (origin, src.name, dst.name, t0_ns, t1_ns,
                                                        result)
        if result == "did_not_end":
            self.windows.write(self.pending_window + " -\n")
            self.windows.flush()
            self.pending_window = None

    def place(self, origin, expect):
        """Exactly one node runs it, and no node has a record of it in progress."""
        def settled():
            hosts = [n for n in self.nodes if n.has_daemon(origin)]
            busy = [n for n in self.nodes if in_progress(n.migrations(), origin)]
            return hosts if len(hosts) == 1 and not busy else None
        try:
            hosts = wait("one home", settled, self.args.deadline)
        except TimeoutError:
            hosts = [n.name for n in self.nodes if n.has_daemon(origin)]
            self.log("%016x PLACEMENT ERROR: registered on %s" % (origin, hosts or "no node"))
            self.placement_errors += 1
            return
        if hosts[0] is not expect:
            self.log("%016x PLACEMENT ERROR: on %s, expected %s" %
                     (origin, hosts[0].name, expect.name))
            self.placement_errors += 1
        self.where[origin] = hosts[0]

    def wire(self, cmd):
        r = subprocess.run([self.args.wire_bin, "--control", self.args.wire_ctl, "--cmd", cmd],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        if r.returncode != 0:
            raise RuntimeError("netmesh-wire refused %r (exit %d)" % (cmd, r.returncode))

    def start_round(self):
        """Start every daemon's next migration; with --flap-ms, across its target's outage."""
        ports = sorted({self.target(o).port for o in self.where}) if self.args.flap_ms else []
        t_down = time.monotonic()
        for p in ports:
            self.wire("down %d" % p)
        try:
            started = [m for m in (self.start(o) for o in self.where) if m is not None]
        finally:
            if ports:  # whatever the starts did: flap-ms after it began, or once they returned
                self.log("link down on port(s) %s for %d ms" % (ports, self.args.flap_ms))
                time.sleep(max(0.0, t_down + self.args.flap_ms / 1e3 - time.monotonic()))
                for p in ports:
                    self.wire("up %d" % p)
        return started

    def report(self):
        report(self.nodes)

    def last_start(self, end):
        """The latest a round may start: its migrations must end while the generator still sends
        and listens (it stops at the same duration). Across a flap of F s a round takes up to F s
        plus two retransmission caps (the one that meets the link back may be lost) plus 1 s."""
        tail = self.args.period / 2
        if self.args.flap_ms:
            tail = max(tail, self.args.flap_ms / 1e3 + 2 * RTO_MAX_S + 1.0)
        return end - tail

    def run(self):
        end = time.monotonic() + self.args.duration
        while time.monotonic() < self.last_start(end):
            t = time.monotonic()
            started = self.start_round()
            for m in started:
                self.finish(m)
            time.sleep(max(0.0, self.args.period - (time.monotonic() - t)))
        self.report()
        print("migrations: completed=%d failed=%d placement_errors=%d" %
              (self.completed, self.failed, self.placement_errors), flush=True)
        return 0 if self.placement_errors == 0 else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--node", action="append", required=True, metavar="NAME=PREFIX=NODEHEX",
                   help="an appliance: its name, EAL file prefix and node_id; the first is home")
    p.add_argument("--daemon", action="append", required=True, type=hexid, metavar="ORIGIN")
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--period", type=float, default=2.0, help="seconds between rounds")
    p.add_argument("--deadline", type=float, default=60.0,
                   help="seconds a migration or a placement may take (a loaded machine)")
    p.add_argument("--unsealed", action="store_true", help="no identity envelope")
    p.add_argument("--flap-ms", type=int, default=0,
                   help="take each round's targets' wire ports down this long, from before its start")
    p.add_argument("--wire-bin", help="netmesh-wire, for --flap-ms")
    p.add_argument("--wire-ctl", help="netmesh-wire's control socket, for --flap-ms")
    p.add_argument("--windows", metavar="FILE",
                   help="write each migration's START_NS END_NS (CLOCK_MONOTONIC) to FILE")
    args = p.parse_args()
    if args.flap_ms and not (args.wire_bin and args.wire_ctl):
        p.error("--flap-ms needs --wire-bin and --wire-ctl")
    nodes = []
    for spec in args.node:
        try:
            name, prefix, node = spec.split("=")
            nodes.append(Node(name, prefix, hexid(node), len(nodes)))
        except ValueError:
            p.error("--node %r: want NAME=PREFIX=NODEHEX" % spec)
    if len(nodes) < 2:
        p.error("at least two --node")
    try:
        return Driver(nodes, args.daemon, args).run()
    except RuntimeError as e:
        print("migrate: %s" % e, flush=True)
        print("migrations: wire failed", flush=True)
        return 1
    except nm_telemetry.TelemetryError as e:
        print("migrate: telemetry failed: %s" % e, file=sys.stderr)
        print("migrations: telemetry failed", flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
