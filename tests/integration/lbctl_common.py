"""Shared helpers of the lbctl integration tests (test_lbctl_*.py).

Starts lbk-testbackend listeners on 127.0.0.1 (ports picked by the backend),
runs the real lbctl, and validates JSON documents against small schemas.
Every process is stopped by PID; every wait is bounded.
"""
import json
import os
import select
import subprocess
import time
import unittest
import urllib.request

import lbktest

LBCTL = lbktest.build_path("cli", "lbctl")
BACKEND = lbktest.build_path("tests", "support", "lbk-testbackend")


class Backend:
    """One lbk-testbackend process with named listeners.

    listeners: list of (name, [extra args]) ; global_args go before them.
    """

    def __init__(self, listeners, global_args=()):
        argv = [BACKEND] + list(global_args)
        for name, extra in listeners:
            argv += ["--listen", "127.0.0.1:0", "--name", name] + list(extra)
        self.proc = lbktest.Proc(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.ports = {}
        deadline = time.monotonic() + 10
        buf = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.p.stdout], [], [], 0.2)
            if not ready:
                if self.proc.p.poll() is not None:
                    break
                continue
            chunk = os.read(self.proc.p.stdout.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
            if b"ready\n" in buf:
                break
        for line in buf.decode().splitlines():
            parts = line.split()
            if parts and parts[0] == "listening":
                port = int(parts[1].rsplit(":", 1)[1])
                name = [p for p in parts if p.startswith("name=")][0][5:]
                self.ports[name] = port
        if "ready" not in buf.decode():
            self.stop()
            raise RuntimeError("lbk-testbackend did not start: " + buf.decode())

    def url(self, name, path="/"):
        return "http://127.0.0.1:%d%s" % (self.ports[name], path)

    def control(self, name, changes):
        req = urllib.request.Request(self.url(name, "/__control"), data=json.dumps(changes).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read())

    def stats(self, name):
        with urllib.request.urlopen(self.url(name, "/__stats"), timeout=5) as r:
            return json.loads(r.read())

    def stop(self):
        self.proc.stop()
        self.proc.p.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def gen_cert(dirname):
    """A fresh self-signed certificate for 127.0.0.1 in @dirname
    (tests/support/gen-cert.sh): (cert.pem path, key.pem path)."""
    subprocess.run(["sh", os.path.join(lbktest.SOURCE_DIR, "tests", "support", "gen-cert.sh"), dirname],
                   check=True, capture_output=True, timeout=60)
    return os.path.join(dirname, "cert.pem"), os.path.join(dirname, "key.pem")


class BackendCase(unittest.TestCase):
    """A test case with one lbk-testbackend (the class's LISTENERS, head not
    advancing) and a temporary directory (self.dir), both for the class."""
    LISTENERS = []

    @classmethod
    def setUpClass(cls):
        cls.backend = Backend(cls.LISTENERS, global_args=["--head-interval", "0"])
        cls.tmp = lbktest.tempdir()
        cls.dir = cls.tmp.name

    @classmethod
    def tearDownClass(cls):
        cls.backend.stop()
        cls.tmp.cleanup()

    def url(self, name, path="/"):
        return self.backend.url(name, path)


def lbctl(*args, timeout=60, input=None, env=None):
    """Runs lbctl to completion; returns the CompletedProcess (text)."""
    full_env = dict(os.environ)
    full_env.pop("NO_COLOR", None)
    if env:
        full_env.update(env)
    kw = {"input": input, "stdin": None} if input is not None else {}
    return lbktest.run([LBCTL] + [str(a) for a in args], timeout=timeout, env=full_env, **kw)


def lbctl_json(*args, **kw):
    """Runs lbctl with JSON output; returns (CompletedProcess, document)."""
    r = lbctl(*args, **kw)
    try:
        doc = json.loads(r.stdout)
    except ValueError as e:
        raise AssertionError("not JSON (%s): rc=%d stdout=%r stderr=%r" % (e, r.returncode, r.stdout, r.stderr))
    return r, doc


# --- a tiny schema validator: a schema is a type, a tuple of types, a dict
# (required members and their schemas) or a one-element list (array of). ---

NUMBER = (int, float)
OPT_NUMBER = (int, float, type(None))
OPT_STR = (str, type(None))
OPT_INT = (int, type(None))


def validate(value, schema, where="$"):
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            raise AssertionError("%s: expected an object, got %r" % (where, value))
        for key, sub in schema.items():
            if key not in value:
                raise AssertionError("%s: missing member %r" % (where, key))
            validate(value[key], sub, where + "." + key)
    elif isinstance(schema, list):
        if not isinstance(value, list):
            raise AssertionError("%s: expected an array" % where)
        for i, item in enumerate(value):
            validate(item, schema[0], "%s[%d]" % (where, i))
    else:
        types = schema if isinstance(schema, tuple) else (schema,)
        # bool is an int in Python: only accept it where bool is asked for.
        if isinstance(value, bool) and bool not in types:
            raise AssertionError("%s: unexpected boolean" % where)
        if not isinstance(value, types):
            raise AssertionError("%s: %r is not of %r" % (where, value, types))


STATS = {"count": int, "min": OPT_NUMBER, "p50": OPT_NUMBER, "p95": OPT_NUMBER, "max": OPT_NUMBER}
PROBE_NODE = {
    "pool": str, "name": str, "url": str, "address": str, "healthy": bool, "verdict": str,
    "outcome": str, "error": OPT_STR, "http_status": OPT_INT,
    "dns_ms": OPT_NUMBER, "connect_ms": OPT_NUMBER, "tls_ms": OPT_NUMBER,
    "first_byte_ms": OPT_NUMBER, "total_ms": OPT_NUMBER,
    "jsonrpc": (dict, type(None)), "checks": int, "checks_failed": int,
    "stats": {"dns_ms": STATS, "connect_ms": STATS, "tls_ms": STATS, "first_byte_ms": STATS,
              "total_ms": STATS},
}
PROBE_DOC = {"schema": str, "rounds": int, "total": int, "healthy": int, "nodes": [PROBE_NODE]}
JSONRPC_SUMMARY = {"head": OPT_INT, "lag": int, "version": OPT_STR}
RANK_NODE = {
    "rank": int, "name": str, "url": str, "score": NUMBER, "healthy": bool, "backup": bool,
    "disabled": bool, "lag": int, "latency_ms": OPT_NUMBER, "best_latency_ms": OPT_NUMBER, "lag_factor": NUMBER,
    "latency_factor": NUMBER, "head": OPT_INT, "version": str, "outcome": str, "reason": str,
}
RANK_DOC = {"schema": str, "source": str, "pools": [{"name": str, "method": str, "nodes": [RANK_NODE]}]}
STATE_NODE = {
    "name": str, "url": str, "weight": int, "backup": bool, "disabled": bool, "health": str, "healthy": bool,
    "outcome": str, "reason": str, "http_status": int, "head": OPT_INT, "lag": int, "version": str,
    "latency_ms": {"last": NUMBER, "p50": NUMBER, "p95": NUMBER}, "checks": int,
    "checks_failed": int, "consecutive_failures": int, "last_check_unix_ms": int,
    "last_change_unix_ms": int, "score": NUMBER,
}
STATE_DOC = {"format": str, "version": int, "generated_unix_ms": int, "interval_ms": int,
             "round": int, "pools": [{"name": str, "method": str, "nodes": [STATE_NODE]}]}


def write_state(path, nodes, pool="cli"):
    """Writes a canary state file by hand (the documented format)."""
    doc = {"format": "lbctl-state", "version": 1, "generated_unix_ms": int(time.time() * 1000),
           "interval_ms": 1000, "round": 1,
           "pools": [{"name": pool, "method": "round_robin", "nodes": []}]}
    for n in nodes:
        node = {"name": n["name"], "url": n["url"], "weight": 1, "backup": False,
                "health": "up" if n.get("healthy", True) else "down",
                "healthy": n.get("healthy", True), "outcome": "pass", "reason": "",
                "http_status": 200, "head": None, "lag": n.get("lag", 0), "version": "",
                "latency_ms": {"last": n.get("p50", 1.0), "p50": n.get("p50", 1.0),
                               "p95": n.get("p95", 1.0)},
                "checks": 1, "checks_failed": 0, "consecutive_failures": 0,
                "last_check_unix_ms": 0, "last_change_unix_ms": 0, "score": 0}
        doc["pools"][0]["nodes"].append(node)
    with open(path, "w") as f:
        json.dump(doc, f)
