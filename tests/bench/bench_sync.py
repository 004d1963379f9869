"""Benchmark: `lbctl sync` of 1,000 discovered servers into a real HAProxy and
into real nginx through the lbkit module's NGINX Plus API (lbkit_api),
against a naive full rewrite measured in the same run.

A real dnsmasq serves N A records (127.1.x.y) for one name; one
lbk-testbackend listens on each address at the same port (tcp check).  Three
rounds of `lbctl sync --once` (wall time, runtime-API requests as lbctl
counts them):
  initial   empty backend -> N servers (add + ready each)
  churn     DNS loses 10 addresses and gains 10 (add, drain, delete)
  steady    nothing changed
The naive peer rewrites the whole desired state of a second backend in the
same HAProxy (a second upstream of the same nginx) for each round, one
command per fact, whether or not it changed: HAProxy `set server weight` and
`set server state ready` for every desired server (add first if missing),
maint + del for every other server; nginx one PATCH {weight, down, drain} per
desired server (POST if missing), DELETE for every other.
Prints one line per round; a benchmark, never a pass/fail test.
"""
import os
import re
import socket
import subprocess
import sys
import time

build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
here = os.path.dirname(os.path.abspath(__file__))
os.environ.setdefault("LBK_BUILD_DIR", build)
sys.path.insert(0, os.path.join(here, "..", "support"))
sys.path.insert(0, os.path.join(here, "..", "integration"))
import lbktest  # noqa: E402
from lbktest import Proc, free_port  # noqa: E402
from lbctl_common import BACKEND, LBCTL  # noqa: E402
from haproxy_support import HAProxy  # noqa: E402
from dns_support import Dnsmasq  # noqa: E402
from nginx_harness import Nginx, http_request  # noqa: E402
import json  # noqa: E402

N = int(os.environ.get("BENCH_SYNC_SERVERS", "1000"))
CHURN = 10


def address(i):
    return f"127.1.{i // 250}.{i % 250 + 1}"


def naive_rewrite(haproxy, backend, desired, port):
    """Rewrites @backend to @desired (addresses) command by command; returns
    (seconds, commands)."""
    start = time.monotonic()
    count = 0
    existing = set(haproxy.servers(backend))
    count += 1
    wanted = {f"n-{a}": a for a in desired}
    for name, a in wanted.items():
        if name not in existing:
            haproxy.command(f"add server {backend}/{name} {a}:{port} weight 1")
            count += 1
        haproxy.command(f"set server {backend}/{name} weight 1")
        haproxy.command(f"set server {backend}/{name} state ready")
        count += 2
    for name in existing - set(wanted):
        haproxy.command(f"set server {backend}/{name} state maint")
        haproxy.command(f"del server {backend}/{name}")
        count += 2
    return time.monotonic() - start, count


def naive_nginx(nginx, upstream, desired, port):
    """The naive rewrite of an nginx upstream through the API."""
    base = f"/api/9/http/upstreams/{upstream}/servers"
    start = time.monotonic()
    status, text = http_request(nginx.port, base)
    existing = {s["server"]: s["id"] for s in json.loads(text)}
    count = 1
    wanted = {f"{a}:{port}" for a in desired}
    for server in wanted:
        if server in existing:
            http_request(nginx.port, f"{base}/{existing[server]}", method="PATCH",
                         body=json.dumps({"weight": 1, "down": False, "drain": False}))
        else:
            http_request(nginx.port, base, method="POST",
                         body=json.dumps({"server": server, "weight": 1}))
        count += 1
    for server, sid in existing.items():
        if server not in wanted:
            http_request(nginx.port, f"{base}/{sid}", method="DELETE")
            count += 1
    return time.monotonic() - start, count


def main():
    tmp = lbktest.tempdir()
    procs = []
    try:
        port = free_port(address(0))
        argv = [BACKEND]
        for i in range(N + CHURN):
            argv += ["--listen", f"{address(i)}:{port}", "--name", f"s{i}"]
        backend = Proc(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(backend)
        lbktest.wait_port(port, address(N + CHURN - 1), timeout=30)
        dns = Dnsmasq(tmp.name, hosts=[("web.svc.test", address(i)) for i in range(N)])
        procs.append(dns)
        haproxy = HAProxy(tmp.name, "backend api\n    balance roundrobin\n"
                                    "backend naive\n    balance roundrobin\n")
        procs.append(haproxy)
        capacity = N + 2 * CHURN
        nginx = Nginx("".join(f"upstream {u} {{\n  zone {u} 1m;\n  lbkit round_robin;\n"
                              f"  lbkit_capacity {capacity};\n  server 127.0.0.1:9 down;\n}}\n"
                              for u in ("api", "naive")) +
                      "server {\n  listen 127.0.0.1:{port};\n"
                      "  location /api/ { lbkit_api write=on; }\n}\n")
        procs.append(nginx)
        ini = os.path.join(tmp.name, "bench.ini")
        with open(ini, "w") as f:
            f.write(f"[lbctl]\nconcurrency = 2000\n[pool api]\ndiscover = dns:web.svc.test:{port}\n"
                    f"resolver = {dns.resolver}\ncheck = tcp\ntimeout = 5s\n"
                    f"[sync edge]\npool = api\nhaproxy = {haproxy.socket}\nbackend = api\n"
                    f"[sync edge-nginx]\npool = api\n"
                    f"nginx_api = http://127.0.0.1:{nginx.port}/api\nupstream = api\n")
        rounds = [("initial", list(range(N))),
                  ("churn", list(range(CHURN, N + CHURN))),
                  ("steady", list(range(CHURN, N + CHURN)))]
        print(f"lbctl sync of {N} discovered servers into HAProxy {haproxy_version()} "
              f"(runtime API over a unix socket, one connection per command) and into nginx "
              f"(lbkit_api, one keep-alive connection for lbctl, one per request for the naive)")
        for name, indexes in rounds:
            dns.set_hosts([("web.svc.test", address(i)) for i in indexes])
            for target in ("edge", "edge-nginx"):
                start = time.monotonic()
                r = lbktest.run([LBCTL, "sync", "-c", ini, "--once", "--sync", target],
                                timeout=600)
                took = time.monotonic() - start
                m = re.search(rf"{target}: (\d+) request\(s\)", r.stderr)
                if r.returncode != 0 or not m:
                    raise RuntimeError(f"lbctl sync failed ({r.returncode}): {r.stderr[-2000:]}")
                requests = int(m.group(1))
                wanted = [address(i) for i in indexes]
                if target == "edge":
                    naive_s, naive_n = naive_rewrite(haproxy, "naive", wanted, port)
                else:
                    naive_s, naive_n = naive_nginx(nginx, "naive", wanted, port)
                changes = len(r.stdout.splitlines())
                print(f"  {name:8s} {'HAProxy' if target == 'edge' else 'nginx':7s} lbctl sync: "
                      f"{took * 1000:6.0f} ms (DNS + probe of {len(indexes)} + sync), "
                      f"{requests:5d} requests ({changes} changes) | naive rewrite: "
                      f"{naive_s * 1000:6.0f} ms, {naive_n:5d} requests | "
                      f"{naive_n / max(requests, 1):5.1f}x fewer")
        servers = haproxy.servers("api")
        status, text = http_request(nginx.port, "/api/9/http/upstreams/api/servers")
        print(f"  HAProxy backend api ends with {len(servers)} servers, nginx upstream api with "
              f"{len(json.loads(text)) - 1} discovered (expected {N}: the churn's drained "
              f"servers are deleted in the steady round)")
    finally:
        for p in reversed(procs):
            p.cleanup() if isinstance(p, Nginx) else p.stop()
        tmp.cleanup()


def haproxy_version():
    out = subprocess.run(["haproxy", "-v"], capture_output=True, text=True).stdout
    m = re.search(r"version (\S+)", out)
    return m.group(1) if m else "?"


if __name__ == "__main__":
    main()
