"""`server NAME resolve` in lbkit upstreams.  On nginx >= 1.27.3 every lbkit
method accepts it and follows what a real DNS server (dnsmasq on 127.0.0.1,
port picked at run time) answers, while wrk keeps the upstream busy: new
addresses get traffic, vanished ones leave, no request fails.  Older nginx
has no `resolve` in open source and refuses it itself."""
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import unittest

import lbktest

from nginx_harness import (BACKEND, Nginx, NginxTestCase, config_test,
                           count_bodies, nginx_version)

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
WRK = shutil.which("wrk")
METHODS = ["round_robin", "least_conn", "random", "p2c", "peak_ewma",
           "fastest", "first", "hash $arg_k consistent", "hash $arg_k maglev",
           "hash $arg_k"]


class Dnsmasq:
    """dnsmasq answering from a hosts file on 127.0.0.1:PORT."""

    def __init__(self, directory, hosts):
        self.hosts = os.path.join(directory, "hosts")
        self.set_hosts(hosts, reload=False)
        self.port = lbktest.free_port()
        user = pwd.getpwuid(os.getuid()).pw_name
        self.proc = lbktest.Proc(
            [DNSMASQ, "--keep-in-foreground", "--conf-file=/dev/null",
             "--no-resolv", "--no-hosts", "--no-poll",
             "--listen-address=127.0.0.1", "--bind-interfaces",
             f"--port={self.port}", f"--addn-hosts={self.hosts}",
             "--pid-file=", f"--user={user}", "--local-ttl=0",
             "--log-facility=-"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        lbktest.wait_until(self.answers, timeout=10, what="dnsmasq to answer")

    def answers(self):
        if self.proc.p.poll() is not None:
            raise RuntimeError(f"dnsmasq exited: {self.proc.p.stderr.read()}")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.5)
            # a minimal query for be.test A
            q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x02be\x04test\x00\x00\x01\x00\x01"
            try:
                s.sendto(q, ("127.0.0.1", self.port))
                data, _ = s.recvfrom(512)
                return data[:2] == b"\x12\x34"
            except OSError:
                return False

    def set_hosts(self, addresses, reload=True):
        with open(self.hosts + ".tmp", "w") as f:
            f.writelines(f"{a} be.test\n" for a in addresses)
        os.replace(self.hosts + ".tmp", self.hosts)
        if reload:
            os.kill(self.proc.pid, signal.SIGHUP)

    def stop(self):
        self.proc.stop()
        self.proc.p.stderr.close()


class SamePortBackends:
    """lbk-testbackend listening on 127.0.0.1..N at one port, each answering
    its own name."""

    def __init__(self, names):
        self.port = lbktest.free_port()
        argv = [BACKEND, "--head-interval", "0"]
        for i, name in enumerate(names, start=1):
            argv += ["--listen", f"127.0.0.{i}:{self.port}", "--name", name,
                     "--body", name]
        self.proc = lbktest.Proc(argv, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 10
        for _ in range(len(names) + 10):
            line = self.proc.p.stdout.readline()
            if not line or line.strip() == "ready" or time.monotonic() > deadline:
                break
        if line.strip() != "ready":
            self.stop()
            raise RuntimeError("lbk-testbackend did not start")

    def stop(self):
        self.proc.stop()
        self.proc.p.stdout.close()
        self.proc.p.stderr.close()


def resolving_body(dns_port, be_port, directive="lbkit round_robin;"):
    return (f"resolver 127.0.0.1:{dns_port} valid=1s ipv6=off;\n"
            "upstream api { zone api 256k; " + directive +
            f" server be.test:{be_port} resolve; }}\n"
            "server { listen 127.0.0.1:{port};"
            "  location / { proxy_pass http://api; proxy_next_upstream error timeout; }"
            "  location /api { lbkit_api; } }")


class Resolve(NginxTestCase):

    def setUp(self):
        self.modern = nginx_version() >= (1, 27, 3)

    def assert_refused_by_older_nginx(self, body):
        # nginx before 1.27.3 has no `resolve` in open source
        rc, out, _ = config_test(body)
        self.assertNotEqual(rc, 0)
        self.assertIn('invalid parameter "resolve"', out)

    def test_every_method_accepts_resolve(self):
        for method in METHODS:
            with self.subTest(method=method):
                body = resolving_body(53, 80, f"lbkit {method};")
                if not self.modern:
                    self.assert_refused_by_older_nginx(body)
                    continue
                rc, out, _ = config_test(body)
                self.assertEqual(rc, 0, out)

    def test_traffic_follows_dns_under_load(self):
        if not self.modern:
            return self.assert_refused_by_older_nginx(resolving_body(53, 80))
        if WRK is None:
            raise RuntimeError("wrk is missing (make deps)")
        be = SamePortBackends(["a", "b", "c"])
        with lbktest.tempdir() as d:
            os.chmod(d, 0o755)
            dns = Dnsmasq(d, ["127.0.0.1"])
            try:
                with Nginx(resolving_body(dns.port, be.port), workers=2) as ngx:
                    lbktest.wait_until(lambda: count_bodies(ngx, "/", 4) == {"a": 4},
                                       timeout=15, what="be.test to resolve to a")
                    out = []
                    t = threading.Thread(target=lambda: out.append(lbktest.run(
                        [WRK, "-t2", "-c8", "-d6s", f"http://127.0.0.1:{ngx.port}/"],
                        timeout=60)))
                    t.start()
                    time.sleep(1)
                    dns.set_hosts(["127.0.0.2", "127.0.0.3"])
                    lbktest.wait_until(
                        lambda: set(count_bodies(ngx, "/", 6)) == {"b", "c"},
                        timeout=15, what="traffic to follow the new addresses")
                    t.join(timeout=60)
                    text = out[0].stdout + out[0].stderr
                    self.assertRegex(text, r"\d+ requests in")
                    self.assertNotIn("Non-2xx", text, text)
                    self.assertNotIn("Socket errors", text, text)
                    status, body = ngx.get("/api/9/http/upstreams/api/servers")
                    self.assertEqual(status, 200)
                    self.assertEqual(sorted(re.findall(r'"server":"([^"]+)"', body)),
                                     [f"be.test:{be.port}"] * 2, body)
                    log = ngx.log()
                    self.assertIn("resolved to 127.0.0.2", log)
                    self.assertIn("no longer resolves to 127.0.0.1", log)
            finally:
                dns.stop()
                be.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
