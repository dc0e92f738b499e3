#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""migrate_faults - the three migration faults of issue #8, between real processes.

Starts netmesh-wire, two or three appliances and netmesh-gen on memif (names unique per run),
an echo and a counter daemon on A, the generator sending to both on A, then runs one scenario:

  kills     1. target killed mid-transfer: frames to B are delayed 4 s, both daemons start
               migrating A -> B, B is SIGKILLed while the SnapshotReady are on their way; the
               migrations must fail on A ("timed out in phase Transfer"), the daemons stay on A
               and every event sent meanwhile is answered there.
            2. source killed after cutover: both daemons migrate A -> C; once A's history says
               completed (C activated), the generator followed both Moved and A has handed C
               every event it forwarded, A is SIGKILLed; the daemons run on C and the generator
               keeps getting answers from C.
  linkdown  3. link down during replay: frames from B are delayed 2 s, both daemons migrate
               A -> B; once B has restored them (held), B's port goes down both ways; its
               RestoreComplete, in flight, still reaches A, which commits during the outage
               and retransmits ActivateTarget and the BufferedEvents across it (3 s); afterwards
               every migration has ended (completed or failed), each daemon lives on exactly one
               node, and every event sent to it is answered.

Then the generator stops and drains; its summary must show lost_events=0, duplicate_events=0,
chain_errors=0, chain_gaps=0: one unbroken chain per daemon. What a kill could have destroyed is
checked before the kill (see case 2), so no loss is excused. Prints `# ...` progress lines,
`check: ...` lines for what was verified, the generator's summary, and `faults: ok (...)`
(exit 0) or `FAIL: ...` (exit 1).

  migrate_faults.py --build DIR --case kills|linkdown [--tmp DIR] [--tag NAME] [--rate PPS]
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import nm_telemetry
from migrate_driver import Node, in_progress, newest_done, report, wait

DEADLINE = 90.0   # seconds any one condition may take on a loaded machine
QUIET = ["--no-pci", "--log-level=lib.*:error"]
IPS = {"A": "127.0.0.1", "B": "127.0.0.3", "C": "127.0.0.4"}
GEN_IP = "127.0.0.2"


class Failure(Exception):
    pass


def note(msg):
    print("# %s %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def check(msg):
    print("check: %s" % msg, flush=True)


def field(text, key):
    m = re.search(r"^%s\s+(\S+)" % re.escape(key), text, re.M)
    return m.group(1) if m else None


def kv(line):
    """The key=value pairs of one line, integers where they are."""
    out = {}
    for k, v in re.findall(r"(\w+)=(\S+)", line):
        out[k] = int(v) if v.isdigit() else v
    return out


class World:
    """The processes of one run: wire, appliances, generator; their logs in tmp."""

    def __init__(self, build, tmp, tag, names, rate):
        self.build, self.tmp, self.tag, self.names, self.rate = build, tmp, tag, names, rate
        self.procs = {}
        self.ctl = os.path.join(tmp, "wire.ctl")
        self.sock = "/netmesh-mf-%s" % tag
        self.cpu_b = 1 if (os.cpu_count() or 1) >= 2 else 0
        self.node, self.static, self.nodes, self.origins = {}, {}, {}, {}
        self.dead = set()

    def bin(self, name):
        return os.path.join(self.build, "app", name)

    def prefix(self, name):
        return "%s-%s" % (name, self.tag)  # tests/demo_lib.sh demo_left_behind's pattern

    def log(self, name):
        return os.path.join(self.tmp, name + ".log")

    def spawn(self, name, argv):
        with open(self.log(name), "w") as out:
            self.procs[name] = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)

    def alive(self, name):
        p = self.procs.get(name)
        return p is not None and p.poll() is None

    def until(self, what, cond, deadline=DEADLINE):
        """Poll cond (a falsy result: not yet) until it holds; Failure after the deadline.
        A process that died on its own fails at once."""
        def probe():
            for n, p in self.procs.items():
                if n not in self.dead and p.poll() is not None:
                    raise Failure("%s exited (status %s) while waiting for %s" %
                                  (n, p.returncode, what))
            return cond()
        try:
            return wait(what, probe, deadline)
        except TimeoutError:
            raise Failure("timed out (%.0f s) waiting for %s" % (deadline, what)) from None

    def in_log(self, name, pattern):
        try:
            with open(self.log(name)) as f:
                return re.search(pattern, f.read(), re.M) is not None
        except OSError:
            return False

    # ---- start

    def identities(self):
        for f in ("psk", "echo.seed", "counter.seed"):
            path = os.path.join(self.tmp, f)
            with open(path, "wb") as out:
                out.write(os.urandom(32))
            os.chmod(path, 0o600)
        for n in self.names:
            r = subprocess.run([self.bin("netmesh"), "--no-huge", "-m", "64", "--no-shconf",
                                "--no-telemetry", "-l", "0"] + QUIET +
                               ["--", "--keys", os.path.join(self.tmp, "keys-" + n),
                                "--show-identity"], capture_output=True, text=True, check=True)
            self.node[n] = field(r.stdout, "node_id")
            self.static[n] = field(r.stdout, "noise_static_pub")
        r = subprocess.run([self.bin("netmesh-gen"), "--keys", os.path.join(self.tmp, "keys-gen"),
                            "--show-identity"], capture_output=True, text=True, check=True)
        self.gen_node, self.gen_static = field(r.stdout, "node_id"), field(r.stdout,
                                                                         "noise_static_pub")
        if not all(self.node.values()) or not all(self.static.values()) or not self.gen_node:
            raise Failure("could not read the identities")

    def start_wire(self):
        ports = len(self.names) + 1
        vdevs = ["--vdev=net_memif%d,role=server,socket=%s-%d" % (i, self.sock, i)
                 for i in range(ports)]
        self.spawn("wire", [self.bin("netmesh-wire"), "--no-huge", "-m", "128"] + QUIET +
                   ["--no-telemetry", "--file-prefix", self.prefix("wire"),
                    "--lcores", "0@%d" % self.cpu_b] + vdevs +
                   ["--", "--control", self.ctl, "--seed", "7"])
        self.until("the wire's control socket", lambda: subprocess.run(
            [self.bin("netmesh-wire"), "--control", self.ctl, "--cmd", "stats"],
            capture_output=True).returncode == 0)

    def start_apps(self):
        gen_peer = "%s,node=%s,static=%s" % (GEN_IP, self.gen_node, self.gen_static)
        for i, n in enumerate(self.names):
            peers = ["--peer", gen_peer]
            for j, m in enumerate(self.names):
                if j != i:
                    spec = "%s,node=%s,static=%s" % (IPS[m], self.node[m], self.static[m])
                    peers += ["--peer", spec + (",connect" if j > i else "")]
            daemons = []
            if n == "A":
                daemons = ["--daemon", "echo:%s/echo.seed:1" % self.tmp,
                           "--daemon", "counter:%s/counter.seed:1" % self.tmp]
            self.spawn(n, [self.bin("netmesh"), "--no-huge", "-m", "256"] + QUIET +
                       ["--file-prefix", self.prefix(n), "--lcores", "0@0,1@%d" % self.cpu_b,
                        "--vdev=net_memif0,role=client,socket=%s-%d" % (self.sock, i), "--",
                        "--ip", IPS[n], "--keys", os.path.join(self.tmp, "keys-" + n),
                        "--psk-file", os.path.join(self.tmp, "psk")] + peers + daemons +
                       ["--accept", "echo:1", "--accept", "counter:1", "--idle-sleep-us", "200",
                        "--stats-period", "5", "--mbufs", "32767"])
            self.nodes[n] = Node(n, self.prefix(n), int(self.node[n], 16), i)
        for n in self.names:
            self.until("appliance %s" % n, lambda n=n: self.in_log(n, "Ctrl-C to stop"))
        with open(self.log("A")) as f:
            for kind, origin in re.findall(r"^netmesh: daemon (\w+) origin 0x([0-9a-f]+)",
                                           f.read(), re.M):
                self.origins[kind] = int(origin, 16)
        if set(self.origins) != {"echo", "counter"}:
            raise Failure("no daemon origins in A's log")
        for n in self.names:
            self.until("%s's sessions with the other appliances" % n,
                       lambda n=n: self.sessions_up(n) >= len(self.names) - 1)

    def sessions_up(self, name):
        p = self.nodes[name].query("/netmesh/peers")
        apps = {int(self.node[m], 16) for m in self.names if m != name}
        return sum(1 for k, v in p.items() if k.startswith("peer_") and isinstance(v, dict) and
                   int(v.get("node_id", "0"), 16) in apps and int(v["session_id"], 16) != 0)

    def start_gen(self):
        also = []
        for n in self.names[1:]:
            also += ["--also-peer", "%s,node=%s,static=%s" % (IPS[n], self.node[n],
                                                             self.static[n])]
        self.spawn("gen", [self.bin("netmesh-gen"), "--no-huge", "-m", "128"] + QUIET +
                   ["--no-telemetry", "--file-prefix", self.prefix("gen"), "--lcores", "0@0",
                    "--vdev=net_memif0,role=client,socket=%s-%d" % (self.sock, len(self.names)),
                    "--", "--ip", GEN_IP, "--peer-ip", IPS["A"],
                    "--keys", os.path.join(self.tmp, "keys-gen"),
                    "--psk-file", os.path.join(self.tmp, "psk"),
                    "--peer-node", self.node["A"], "--peer-static", self.static["A"]] + also +
                   ["--daemon", "%016x" % self.origins["echo"],
                    "--daemon", "%016x" % self.origins["counter"],
                    "--rate", str(self.rate), "--idle-sleep-us", "100"])
        self.until("the generator's traffic", lambda: self.gen().get("recv_events", 0) > 0)

    def start(self):
        self.identities()
        self.start_wire()
        self.start_apps()
        self.start_gen()
        note("A %s, %s; echo %016x, counter %016x" % (
            self.node["A"], ", ".join("%s %s" % (n, self.node[n]) for n in self.names[1:]),
            self.origins["echo"], self.origins["counter"]))

    # ---- run

    def gen(self):
        """The generator's last period line (sent_events, recv_events, redirects, ...)."""
        try:
            with open(self.log("gen")) as f:
                lines = [ln for ln in f if ln.startswith("gen: t=")]
        except OSError:
            return {}
        return kv(lines[-1]) if lines else {}

    def wire(self, cmd):
        r = subprocess.run([self.bin("netmesh-wire"), "--control", self.ctl, "--cmd", cmd],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise Failure("netmesh-wire refused %r: %s" % (cmd, r.stdout.strip()))
        return r.stdout

    def port(self, name):
        return self.nodes[name].port

    def sigkill(self, name):
        self.dead.add(name)
        self.procs[name].kill()
        self.procs[name].wait()

    def live_nodes(self):
        return [self.nodes[n] for n in self.names if n not in self.dead]

    def counters(self, name):
        return self.nodes[name].migrations().get("counters") or {}

    def migrate(self, src, origin, dst):
        r = self.nodes[src].query("/netmesh/migrate,%x,%s" % (origin, self.node[dst]))
        if "error" in r:
            raise Failure("migrate %016x %s -> %s refused: %s" % (origin, src, dst, r["error"]))

    def records(self, name, origins):
        """name's in-progress records of these origins, or [] when it has none."""
        mig = self.nodes[name].migrations()
        return [r for o in origins for r in in_progress(mig, o)]

    def ended(self, name, origins):
        """Every migration of these origins has ended on name: their newest source entries."""
        mig = self.nodes[name].migrations()
        if any(in_progress(mig, o) for o in origins):
            return None
        return {o: newest_done(mig, o, "source") or {} for o in origins}

    def home(self, origin):
        """The one live node that runs origin, with no record of it in progress anywhere."""
        live = self.live_nodes()
        hosts = [n for n in live if n.has_daemon(origin)]
        busy = [n for n in live if in_progress(n.migrations(), origin)]
        return hosts[0].name if len(hosts) == 1 and not busy else None

    def caught_up(self, since):
        """A period line after `since` (seconds of the generator's clock) with at most a second
        of traffic unanswered: nothing is stuck anywhere (what is lost never comes back)."""
        g = self.gen()
        t = float(str(g.get("t", "0s")).rstrip("s") or 0)
        return t > since and g["sent_events"] - g["recv_events"] <= self.rate

    def all_home(self, origins, name, when):
        homes = {o: self.until("one home for %016x" % o, lambda o=o: self.home(o))
                 for o in origins}
        if any(h != name for h in homes.values()):
            raise Failure("%s the daemons live on %s, not on %s" % (when, homes, name))
        check("both daemons live on %s only %s" % (name, when))

    def answered(self, what):
        since = float(str(self.gen().get("t", "0s")).rstrip("s") or 0)
        self.until("answers for every event sent %s" % what, lambda: self.caught_up(since), 30)
        g = self.gen()
        check("the generator's events are answered %s (at t=%s sent_events=%d recv_events=%d)"
              % (what, g["t"], g["sent_events"], g["recv_events"]))

    def stop_gen(self):
        p = self.procs["gen"]
        p.send_signal(signal.SIGINT)
        try:
            p.wait(timeout=60)  # the drain ends by itself within 15 s
        except subprocess.TimeoutExpired:
            raise Failure("the generator did not stop within 60 s of SIGINT") from None
        with open(self.log("gen")) as f:
            text = f.read()
        summary = [ln for ln in text.splitlines() if ln.startswith("gen: sent_events=")]
        if not summary:
            raise Failure("no generator summary (exit status %s)" % p.returncode)
        for ln in text.splitlines():
            if ln.startswith(("gen: daemon ", "gen: destination ", "gen: drop ",
                              "gen: last chain error")):
                print(ln, flush=True)
        print(summary[-1], flush=True)
        return p.returncode, kv(summary[-1]), text

    def stop(self):
        """SIGINT every process still running (SIGKILL after 15 s)."""
        for n in ["gen"] + list(reversed(self.names)) + ["wire"]:
            p = self.procs.get(n)
            if p is None or p.poll() is not None:
                continue
            p.send_signal(signal.SIGINT)
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for n in ["wire", "gen"] + self.names:
            shutil.rmtree(nm_telemetry.runtime_dir(self.prefix(n)), ignore_errors=True)

    def dump(self):
        for n in ["wire"] + self.names + ["gen"]:
            try:
                with open(self.log(n)) as f:
                    lines = f.read().splitlines()
            except OSError:
                continue
            print("--- %s.log (tail)" % n)
            print("\n".join(lines[-15:]))
        if self.alive("wire"):
            print("--- wire stats\n%s" % self.wire("stats"))


# ---- the scenarios

def target_killed_mid_transfer(w, origins):
    note("case 1: target B killed mid-transfer")
    w.wire("delay %d 4000000 out" % w.port("B"))  # SnapshotReady takes 4 s to reach B
    for o in origins:
        w.migrate("A", o, "B")
    t0 = time.monotonic()
    w.until("both migrations in Transfer on A", lambda: len(
        [r for r in w.records("A", origins) if r["phase"] == "Transfer" and
         r["role"] == "source"]) == len(origins))
    w.sigkill("B")
    note("B killed %.1f s after the start, the SnapshotReady in flight (4 s)" %
         (time.monotonic() - t0))
    done = w.until("A to abort", lambda: w.ended("A", origins))
    for o, h in done.items():
        if h.get("result") != "failed" or "timed out in phase Transfer" not in h.get("reason", ""):
            raise Failure("%016x: A's history says %r, not a Transfer timeout" % (o, h))
        check("%016x A -> B failed on A: %s (retries=%s, held events=%s)" %
              (o, h["reason"], h.get("retries"), h.get("events")))
    w.all_home(origins, "A", "after the abort (B is dead, C never had them)")
    w.answered("through the abort, by A")


def source_killed_after_cutover(w, origins):
    note("case 2: source A killed after the cutover")
    before = w.gen().get("redirects", 0)
    for o in origins:
        w.migrate("A", o, "C")
    done = w.until("both migrations to complete on A", lambda: w.ended("A", origins))
    for o, h in done.items():
        if h.get("result") != "completed":
            raise Failure("%016x A -> C: %r" % (o, h))
        check("%016x A -> C completed (C activated; retries=%s, events=%s)" %
              (o, h.get("retries"), h.get("events")))
    w.until("the generator to follow both Moved",
            lambda: w.gen().get("redirects", 0) >= before + len(origins))
    # What A's kill could destroy: events A forwarded that C has not replayed yet. The generator
    # sends A nothing more for these daemons, so once the two counters agree and stay, none.
    def handed_over():
        a, c = w.counters("A")["events_forwarded"], w.counters("C")["events_replayed"]
        if a != c:
            return None
        time.sleep(0.5)
        return (a, c) if (w.counters("A")["events_forwarded"], w.counters("C")[
            "events_replayed"]) == (a, c) else None
    fwd, rep = w.until("C to have replayed every event A forwarded", handed_over)
    check("before the kill: A events_forwarded=%d, C events_replayed=%d: the kill can destroy "
          "no event" % (fwd, rep))
    w.sigkill("A")
    note("A killed")
    w.all_home(origins, "C", "after A's kill (A and B are dead)")
    w.answered("after A's kill, by C")


def link_down_during_replay(w, origins):
    """B's port goes down while its RestoreComplete is on the way to A (frames from B take 2 s):
    A commits during the outage, so ActivateTarget and the BufferedEvents meet a dead link and are
    retransmitted until it returns. B never activates during the outage, so none of its outputs
    meet it (the wire would drop them, and Net outputs are never resent)."""
    note("case 3: B's link down during the replay")
    b = w.port("B")
    w.wire("delay %d 2000000 in" % b)
    for o in origins:
        w.migrate("A", o, "B")
    w.until("B to restore both daemons (held)", lambda: len(
        [r for r in w.records("B", origins) if r["role"] == "target"]) == len(origins))
    w.wire("down %d" % b)
    note("B's port down, both ways (its RestoreComplete in flight)")
    def committed():
        recs = [r for r in w.records("A", origins) if r["role"] == "source"]
        if len(recs) == len(origins) and all(r["committed"] for r in recs):
            return recs
        if w.ended("A", origins):
            raise Failure("the migrations ended before the outage: %r" % w.ended("A", origins))
        return None
    w.until("A to commit both (phase Replay) during the outage", committed)
    time.sleep(3.0)  # the outage itself, not a wait for a condition
    replaying = [r for r in w.records("A", origins) if r["role"] == "source"]
    w.wire("clear %d" % b)
    note("B's port up (and no delay)")
    if len(replaying) != len(origins) or any(r["phase"] != "Replay" for r in replaying):
        raise Failure("the outage did not span the replay: A's records at its end %r" % replaying)
    check("A committed during the outage and was still in phase Replay at its end "
          "(retries %s, events %s)" % ([r["retries"] for r in replaying],
                                       [r["events"] for r in replaying]))
    done = w.until("the migrations to end on A", lambda: w.ended("A", origins))
    for o, h in done.items():
        want = "B" if h.get("result") == "completed" else "A"
        home = w.until("one home for %016x" % o, lambda o=o: w.home(o))
        if home != want:
            raise Failure("%016x: %s on A, but it lives on %s" % (o, h.get("result"), home))
        check("%016x A -> B %s after the outage; lives on %s only" % (o, h.get("result"), home))
    w.answered("through the outage")


CASES = {
    "kills": (["A", "B", "C"], [target_killed_mid_transfer, source_killed_after_cutover], 2),
    "linkdown": (["A", "B"], [link_down_during_replay], None),
}


def verdict(rc, s, want_redirects):
    bad = ["%s=%s" % (k, s.get(k)) for k in ("lost_events", "duplicate_events", "chain_errors",
                                              "chain_gaps") if s.get(k) != 0]
    if rc != 0:
        bad.append("exit status %s" % rc)
    if not s.get("recv_events"):
        bad.append("no events came back")
    if want_redirects is not None and s.get("redirects") != want_redirects:
        bad.append("redirects=%s, want %d" % (s.get("redirects"), want_redirects))
    if bad:
        raise Failure("generator: " + ", ".join(bad))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", required=True, help="the meson build dir (app/netmesh...)")
    p.add_argument("--case", required=True, choices=sorted(CASES))
    p.add_argument("--tmp", help="working dir (default: a new temp dir, removed at the end)")
    p.add_argument("--tag", default="%d-%d" % (os.getpid(), int(time.time()) % 100000),
                   help="names memif sockets and EAL file prefixes")
    p.add_argument("--rate", type=int, default=200, help="generator packets per second")
    args = p.parse_args()
    names, scenarios, redirects = CASES[args.case]
    own_tmp = args.tmp is None
    tmp = args.tmp or tempfile.mkdtemp(prefix="netmesh-migfaults.")
    w = World(args.build, tmp, args.tag, names, args.rate)
    ok = False
    try:
        w.start()
        for s in scenarios:
            s(w, [w.origins["echo"], w.origins["counter"]])
        report(w.live_nodes())
        rc, summary, _ = w.stop_gen()
        verdict(rc, summary, redirects)
        ok = True
        print("faults: ok (%s: %d events sent, every one answered once, one chain per daemon)"
              % (args.case, summary["sent_events"]), flush=True)
    except (Failure, nm_telemetry.TelemetryError, subprocess.CalledProcessError) as e:
        print("FAIL: %s" % e, flush=True)
        try:
            report(w.live_nodes())
        except (nm_telemetry.TelemetryError, KeyError):
            pass
        w.dump()
    finally:
        w.stop()
        if own_tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
