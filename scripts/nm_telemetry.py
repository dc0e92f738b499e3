# SPDX-License-Identifier: MIT
"""nm_telemetry - a small client for DPDK's telemetry v2 socket (stdlib only).

The protocol is the one dpdk-telemetry.py speaks: a SOCK_SEQPACKET unix socket
at <runtime dir>/dpdk_telemetry.v2 (":N" for the N-th process on the same
runtime dir); the server greets with a JSON dict carrying max_output_len, then
answers each command ("/netmesh/stats") with one JSON message {cmd: value}.
netmesh-top and netmesh-prometheus.py share it.
"""
import json
import os
import socket


def runtime_dir(prefix):
    """EAL's runtime dir for a file prefix: /var/run/dpdk for root, else XDG_RUNTIME_DIR."""
    if os.getuid() == 0:
        base = "/var/run/dpdk"
    else:
        base = os.path.join(os.environ.get("XDG_RUNTIME_DIR", "/tmp"), "dpdk")
    return os.path.join(base, prefix)


def socket_path(prefix="rte", instance=0):
    path = os.path.join(runtime_dir(prefix), "dpdk_telemetry.v2")
    return path if instance == 0 else "%s:%d" % (path, instance)


class TelemetryError(Exception):
    pass


class Telemetry:
    """One connection; query() returns the command's value (a dict for /netmesh/...)."""

    def __init__(self, prefix="rte", instance=0, path=None, timeout=5.0):
        self.path = path or socket_path(prefix, instance)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(self.path)
            hello = json.loads(self.sock.recv(1024).decode())
        except (OSError, ValueError) as e:
            self.sock.close()
            raise TelemetryError("%s: %s" % (self.path, e)) from e
        self.max_len = int(hello.get("max_output_len", 16384))

    def query(self, cmd):
        try:
            self.sock.send(cmd.encode())
            reply = json.loads(self.sock.recv(self.max_len).decode())
        except (OSError, ValueError) as e:
            raise TelemetryError("%s: %s" % (cmd, e)) from e
        if not isinstance(reply, dict) or cmd.split(",")[0] not in reply:
            raise TelemetryError("%s: unexpected reply %r" % (cmd, reply))
        value = reply[cmd.split(",")[0]]
        if value is None:
            raise TelemetryError("%s: the command failed (is the appliance stopping?)" % cmd)
        return value

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


COMMANDS = ("/netmesh/stats", "/netmesh/drops", "/netmesh/peers", "/netmesh/daemons",
            "/netmesh/meshos")


def snapshot(tel):
    """Every /netmesh command's value, keyed by the command's last part ("stats", ...)."""
    return {c.rsplit("/", 1)[1]: tel.query(c) for c in COMMANDS}


def entries(d, prefix):
    """The sub-dicts of d whose keys start with prefix ("peer_", "daemon_", "lcore_", "port_")."""
    return [(k, v) for k, v in sorted(d.items()) if k.startswith(prefix) and isinstance(v, dict)]
