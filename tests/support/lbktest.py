"""Helpers shared by lbkit's integration tests (tests/integration/test_*.py).

Every process a test starts is stopped by its PID (never by name); every wait
is bounded in count and time; ports are picked at run time on 127.0.0.1.
"""
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

SOURCE_DIR = os.environ.get("LBK_SOURCE_DIR",
                            os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD_DIR = os.environ.get("LBK_BUILD_DIR", os.path.join(SOURCE_DIR, "build"))


def build_path(*parts):
    """A path inside the build directory."""
    return os.path.join(BUILD_DIR, *parts)


def free_port(host="127.0.0.1"):
    """A TCP port that was free on @host a moment ago."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def free_ports(n, host="127.0.0.1"):
    """@n distinct free ports (sockets held open together, then released)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.bind((host, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def wait_port(port, host="127.0.0.1", timeout=10.0):
    """Waits until something accepts on host:port; raises after @timeout s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


def wait_until(pred, timeout=10.0, step=0.05, what="condition"):
    """Polls @pred until it is true; raises after @timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise TimeoutError(f"{what} not reached after {timeout}s")


class Proc:
    """A started process that is always stopped by its PID."""

    def __init__(self, argv, **kw):
        kw.setdefault("stdin", subprocess.DEVNULL)
        self.argv = argv
        self.p = subprocess.Popen(argv, start_new_session=True, **kw)
        self.pid = self.p.pid

    def stop(self, timeout=5.0):
        if self.p.poll() is not None:
            return self.p.returncode
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGCONT)
            os.kill(self.pid, signal.SIGTERM)
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            return self.p.wait(timeout=timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def stop_pidfile(path, timeout=10.0):
    """Stops the daemon whose PID is in @path (nginx, haproxy) by that PID."""
    try:
        with open(path) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def tempdir(prefix="lbktest-"):
    return tempfile.TemporaryDirectory(prefix=prefix)


def run(argv, timeout=60, **kw):
    """Runs a command to completion with a time bound; returns CompletedProcess."""
    kw.setdefault("stdin", subprocess.DEVNULL)
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    return subprocess.run(argv, timeout=timeout, **kw)


def log(*a):
    print(*a, file=sys.stderr, flush=True)
