"""Shared pieces of the nginx module's integration tests (test_nginx_*.py).

Starts the system's nginx (/usr/sbin/nginx, or LBK_NGINX) in its own
temporary prefix with `load_module` of the module built in LBK_BUILD_DIR (or
LBK_NGINX_MODULE, the module built for LBK_NGINX's source), and lbk-testbackend
listeners on 127.0.0.1 with ports picked at run time.  Everything started is
stopped by its PID.
"""
import contextlib
import functools
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import time
import unittest

import lbktest

NGINX = os.environ.get("LBK_NGINX", "/usr/sbin/nginx")
MODULE = os.environ.get("LBK_NGINX_MODULE") or lbktest.build_path(
    "nginx-module", "ngx_http_upstream_lbkit_module.so")
BACKEND = lbktest.build_path("tests", "support", "lbk-testbackend")


def require_artifacts():
    """Fails (never skips) when what the tests need was not built."""
    missing = [p for p in (NGINX, MODULE, BACKEND) if not os.path.exists(p)]
    if missing:
        raise RuntimeError("missing: " + ", ".join(missing) +
                           " (run `make nginx-module nginx-1.30` and build"
                           " lbk-testbackend)")


class Backends:
    """One lbk-testbackend process serving several named listeners.

    Each listener answers with its own name as the body, so a response tells
    which backend served it.  `ports[name]` is the port of a listener.
    """

    def __init__(self, names, extra=None, timeout=10.0, host="127.0.0.1"):
        argv = [BACKEND, "--head-interval", "0"]
        extra = extra or {}
        self.host = host
        listen = f"[{host}]:0" if ":" in host else f"{host}:0"
        for name in names:
            argv += ["--listen", listen, "--name", name, "--body", name]
            argv += extra.get(name, [])
        self.proc = lbktest.Proc(argv, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        self.ports = {}
        deadline = time.monotonic() + timeout
        for _ in range(len(names) + 10):
            if time.monotonic() > deadline:
                break
            line = self.proc.p.stdout.readline()
            if not line:
                break
            m = re.match(r"listening \[?[\d.:a-f]+\]?:(\d+) name=(\S+)", line)
            if m:
                self.ports[m.group(2)] = int(m.group(1))
            if line.strip() == "ready":
                break
        if len(self.ports) != len(names):
            self.stop()
            raise RuntimeError(f"lbk-testbackend did not start: {self.proc.p.stderr.read()}")

    def control(self, name, **settings):
        """POST /__control to listener @name (status, latency_ms, hang, ...)."""
        return http_request(self.ports[name], "/__control", method="POST",
                            body=json.dumps(settings), host=self.host)

    def stats(self, name):
        status, body = http_request(self.ports[name], "/__stats",
                                    host=self.host)
        return json.loads(body)

    def stop(self):
        self.proc.stop()
        for stream in (self.proc.p.stdout, self.proc.p.stderr):
            if stream:
                stream.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def http_request(port, path, method="GET", body=None, timeout=10.0,
                 headers=None, host="127.0.0.1"):
    """One request on a new connection; returns (status, body text)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


class Nginx:
    """nginx with the lbkit module in a temporary prefix.

    @http_body is the text inside `http { }`; `{port}` in it is the port
    nginx listens on (also self.port).  Runs in the foreground (daemon off)
    so that the test holds the master's PID, which it also reads from the
    pid file.
    """

    def __init__(self, http_body, workers=1, port=None, load_module=True,
                 check=True):
        self.dir = lbktest.tempdir(prefix="lbk-nginx-")
        self.prefix = self.dir.name
        os.makedirs(os.path.join(self.prefix, "logs"))
        self.port = port or lbktest.free_port()
        self.conf = os.path.join(self.prefix, "nginx.conf")
        self.pidfile = os.path.join(self.prefix, "nginx.pid")
        self.error_log = os.path.join(self.prefix, "logs", "error.log")
        self.workers = workers
        self.load_module = load_module
        self.proc = None
        self.write_conf(http_body)
        if check:
            self.start()

    def write_conf(self, http_body):
        text = ""
        if self.load_module:
            text += f"load_module {MODULE};\n"
        text += (f"worker_processes {self.workers};\n"
                 "events { worker_connections 1024; }\n"
                 "http {\n  access_log off;\n"
                 + http_body.replace("{port}", str(self.port)) + "\n}\n")
        with open(self.conf + ".tmp", "w") as f:
            f.write(text)
        os.replace(self.conf + ".tmp", self.conf)

    def argv(self, *extra):
        return [NGINX, "-p", self.prefix, "-c", self.conf, "-g",
                f"pid {self.pidfile}; error_log {self.error_log} notice;"
                " daemon off;", *extra]

    def test_config(self):
        """`nginx -t`: returns (exit code, output)."""
        r = lbktest.run(self.argv("-t"), timeout=30)
        return r.returncode, r.stdout + r.stderr

    def start(self):
        rc, out = self.test_config()
        if rc != 0:
            raise RuntimeError(f"nginx -t failed:\n{out}")
        self.stderr = open(os.path.join(self.prefix, "logs", "stderr.log"), "w")
        self.proc = lbktest.Proc(self.argv(), stdout=subprocess.DEVNULL,
                                 stderr=self.stderr)
        lbktest.wait_port(self.port, timeout=10)
        lbktest.wait_until(lambda: os.path.exists(self.pidfile), timeout=10,
                           what="nginx pid file")

    def master_pid(self):
        with open(self.pidfile) as f:
            return int(f.read().strip())

    def worker_pids(self):
        """PIDs of the master's children (workers), from /proc."""
        master = self.master_pid()
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            with contextlib.suppress(OSError):
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == master:
                    pids.append(int(entry))
        return sorted(pids)

    def reload(self, http_body=None, timeout=15.0, wait_old=True):
        """Rewrites the configuration (if given) and sends SIGHUP to the
        master; waits until a new generation of workers runs and (with
        @wait_old) the previous one has exited."""
        before = set(self.worker_pids())
        if http_body is not None:
            self.write_conf(http_body)
            rc, out = self.test_config()
            if rc != 0:
                raise RuntimeError(f"nginx -t failed:\n{out}")
        os.kill(self.master_pid(), signal.SIGHUP)
        lbktest.wait_until(
            lambda: len(set(self.worker_pids()) - before) >= self.workers,
            timeout=timeout, what="new nginx workers after reload")
        if wait_old:
            # old workers stop accepting, finish their requests and exit
            lbktest.wait_until(lambda: not (set(self.worker_pids()) & before),
                               timeout=timeout, what="old nginx workers to exit")

    def get(self, path, **kw):
        return http_request(self.port, path, **kw)

    def log(self):
        with open(self.error_log, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc is not None:
            self.proc.stop(timeout=10)
            self.proc = None
            self.stderr.close()
        lbktest.stop_pidfile(self.pidfile)

    def cleanup(self):
        self.stop()
        if os.environ.get("LBK_KEEP_TMP"):
            lbktest.log(f"kept {self.prefix}")
            shutil.copytree(self.prefix, self.prefix + "-kept")
        self.dir.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()


def config_test(http_body):
    """`nginx -t` of a configuration with @http_body in http{}: returns
    (exit code, output, configuration file path)."""
    ngx = Nginx(http_body, check=False)
    try:
        rc, out = ngx.test_config()
    finally:
        ngx.cleanup()
    return rc, out, ngx.conf


def upstream(name, directive, servers, extra=""):
    """Text of an upstream block; @servers are `server` line bodies."""
    lines = [f"upstream {name} {{"]
    if directive:
        lines.append(f"  {directive}")
    lines += [f"  server {s};" for s in servers]
    if extra:
        lines.append(f"  {extra}")
    lines.append("}")
    return "\n".join(lines)


def proxy_server(locations):
    """A server on {port} whose locations proxy to upstreams:
    @locations maps a location prefix to an upstream name, or to a
    (upstream name, extra directives) pair."""
    lines = ["server {", "  listen 127.0.0.1:{port};"]
    for loc, target in locations.items():
        extra = ""
        if isinstance(target, tuple):
            target, extra = target
        lines.append(f"  location {loc} {{ proxy_pass http://{target}; {extra} }}")
    lines.append("}")
    return "\n".join(lines)


def count_bodies(nginx, path, n):
    """Sends @n requests to @path; returns {body: count} (non-200 under
    'status:N')."""
    counts = {}
    for _ in range(n):
        status, body = nginx.get(path)
        key = body if status == 200 else f"status:{status}"
        counts[key] = counts.get(key, 0) + 1
    return counts


def sequence(nginx, path, n):
    """The bodies of @n sequential requests, in order."""
    out = []
    for _ in range(n):
        status, body = nginx.get(path)
        out.append(body if status == 200 else f"status:{status}")
    return out


@functools.lru_cache(maxsize=None)
def nginx_version():
    """(major, minor, patch) of NGINX, from `nginx -v`."""
    r = lbktest.run([NGINX, "-v"], timeout=10)
    m = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", r.stdout + r.stderr)
    if not m:
        raise RuntimeError(f"cannot read the version of {NGINX}")
    return tuple(int(x) for x in m.groups())


def keepalive_by_default():
    """nginx >= 1.29.7 keeps idle upstream connections without `keepalive`
    (32 per worker, HTTP/1.1 to upstreams by default) and hooks `keepalive`
    in after the whole configuration is read, so its place relative to
    `lbkit` no longer matters; `keepalive 0;` turns caching off."""
    return nginx_version() >= (1, 29, 7)


class NginxTestCase(unittest.TestCase):
    """Base class: checks the artifacts once."""

    @classmethod
    def setUpClass(cls):
        require_artifacts()
