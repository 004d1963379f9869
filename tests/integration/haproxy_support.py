"""Helpers of the HAProxy interoperability tests (test_haproxy_*.py).

Starts real HAProxy (foreground, stats socket in a temp dir) and lbctl agent;
the test backend and lbctl runner come from lbctl_common.  Every process is
stopped by its PID; every wait is bounded.
"""
import os
import select
import shutil
import socket
import subprocess
import time

from lbktest import Proc, wait_until
from lbctl_common import LBCTL

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


def read_line(proc, timeout=10.0):
    """One line of @proc's stdout (a pipe), waiting at most @timeout s."""
    deadline = time.monotonic() + timeout
    buf = b""
    fd = proc.p.stdout.fileno()
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        ch = os.read(fd, 1)
        if not ch:
            break
        if ch == b"\n":
            return buf.decode()
        buf += ch
    raise TimeoutError(f"no line from {proc.argv[0]} after {timeout}s (got {buf!r})")


class HAProxy:
    """A foreground HAProxy whose admin stats socket lives in @tmp."""

    def __init__(self, tmp, body, name="haproxy", extra_global=""):
        self.socket = os.path.join(tmp, f"{name}.sock")
        self.cfg = os.path.join(tmp, f"{name}.cfg")
        with open(self.cfg, "w") as f:
            f.write("global\n"
                    f"    stats socket {self.socket} mode 600 level admin\n"
                    "    nbthread 1\n"
                    + extra_global +
                    "defaults\n"
                    "    mode http\n"
                    "    timeout connect 1s\n"
                    "    timeout client 5s\n"
                    "    timeout server 5s\n"
                    + body)
        self.proc = Proc([HAPROXY, "-db", "-f", self.cfg], stdout=subprocess.DEVNULL)
        wait_until(lambda: os.path.exists(self.socket) and self._answers(), timeout=15,
                   what=f"HAProxy stats socket {self.socket}")

    def _answers(self):
        try:
            return self.command("show info").startswith("Name:")
        except OSError:
            return False

    def command(self, line):
        """One runtime API command; returns HAProxy's whole answer."""
        return exchange(socket.AF_UNIX, self.socket, line + "\n")

    def servers(self, backend):
        """`show servers state BACKEND` as {server: {column: value}}."""
        lines = self.command(f"show servers state {backend}").splitlines()
        assert lines and lines[0] == "1", f"unexpected answer: {lines[:3]}"
        header = lines[1].lstrip("# ").split()
        out = {}
        for line in lines[2:]:
            if not line.strip() or line.startswith("#"):
                continue
            row = dict(zip(header, line.split()))
            out[row["srv_name"]] = row
        return out

    def server(self, backend, name):
        row = self.servers(backend)[name]
        return {"op": int(row["srv_op_state"]), "admin": int(row["srv_admin_state"]),
                "weight": int(row["srv_uweight"]), "initial": int(row["srv_iweight"])}

    def stop(self):
        self.proc.stop()


def start_agent(ini, *extra):
    """lbctl agent on 127.0.0.1 (free port); returns (Proc, port)."""
    proc = Proc([LBCTL, "agent", "-c", ini, "--listen", "127.0.0.1:0", *extra],
                stdout=subprocess.PIPE)
    line = read_line(proc, timeout=15)
    assert line.startswith("listening 127.0.0.1:"), line
    return proc, int(line.rsplit(":", 1)[1])


def stop_agent(proc):
    """Stops an agent from start_agent() by PID; returns its exit status."""
    rc = proc.stop()
    proc.p.stdout.close()
    return rc


def ask_agent(port, request):
    """Sends one agent-send line and returns the agent's one-line answer."""
    return exchange(socket.AF_INET, ("127.0.0.1", port), request)


def exchange(family, address, payload):
    """Connects, sends @payload, reads until the peer closes (5 s bound)."""
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(address)
        s.sendall(payload.encode())
        chunks = []
        while True:
            data = s.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode()


def write_jsonrpc_pool(path, backend, nodes, interval_ms):
    """An lbctl.ini with pool "api": JSON-RPC checks (max_lag 3, rise/fall 1)
    of @nodes of @backend, named like the listeners."""
    with open(path, "w") as f:
        f.write("[pool api]\nmethod = round_robin\ncheck = jsonrpc\nmax_lag = 3\n"
                f"interval = {interval_ms}ms\ntimeout = 1s\nrise = 1\nfall = 1\n")
        for n in nodes:
            f.write(f"server = {backend.url(n)} name={n}\n")
