"""lbctl sync into nginx through the module's NGINX Plus-compatible API
(`lbkit_api write=on`), with a real dnsmasq for discovery and real nginx.

Scale-out and scale-in under load (wrk: no errors), servers from nginx.conf
left alone, the DNS server stopped (nothing removed) and back, and an
unknown upstream (exit 4, nothing applied).
"""
import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lbktest  # noqa: E402
from lbktest import Proc, wait_until  # noqa: E402
from lbctl_common import LBCTL, lbctl  # noqa: E402
from nginx_harness import Backends, Nginx, http_request, require_artifacts  # noqa: E402
from dns_support import Dnsmasq  # noqa: E402
from haproxy_support import HAProxy  # noqa: E402

SERVICE = "_api._tcp.svc.test"
INTERVAL_MS = 300


class SyncNginxTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_artifacts()
        cls.tmp = lbktest.tempdir()
        cls.backends = Backends(["a", "b", "c", "static"])
        cls.dns = Dnsmasq(cls.tmp.name, hosts=[("node.svc.test", "127.0.0.1")])
        static = cls.backends.ports["static"]
        cls.nginx = Nginx(
            "upstream api {\n  zone api 256k;\n  lbkit round_robin;\n"
            f"  server 127.0.0.1:{static} weight=5;\n}}\n"
            "server {\n  listen 127.0.0.1:{port};\n"
            "  location / { proxy_pass http://api; }\n"
            "  location /api/ { lbkit_api write=on; }\n}\n", workers=2)

    @classmethod
    def tearDownClass(cls):
        cls.nginx.cleanup()
        cls.dns.stop()
        cls.backends.stop()
        cls.tmp.cleanup()

    def api(self, method, path, body=None):
        status, text = http_request(self.nginx.port, "/api/9/http/upstreams/api" + path,
                                    method=method,
                                    body=json.dumps(body) if body is not None else None)
        return status, json.loads(text) if text else None

    def servers(self):
        status, doc = self.api("GET", "/servers")
        self.assertEqual(status, 200, doc)
        return {s["server"]: s for s in doc}

    def setUp(self):
        static = f"127.0.0.1:{self.backends.ports['static']}"
        for address, s in self.servers().items():
            if address != static:
                status, doc = self.api("DELETE", f"/servers/{s['id']}")
                self.assertEqual(status, 200, doc)
        if self.dns.proc is None:
            self.dns.start()

    def srv(self, *names):
        return [(SERVICE, "node.svc.test", self.backends.ports[n], 0, 10 * (i + 1))
                for i, n in enumerate(names)]

    def write_ini(self, upstream="api"):
        path = os.path.join(self.tmp.name, "sync.ini")
        with open(path, "w") as f:
            f.write(f"[pool api]\ndiscover = dns-srv:{SERVICE}\nresolver = {self.dns.resolver}\n"
                    f"check = http\npath = /\ninterval = {INTERVAL_MS}ms\ntimeout = 1s\n"
                    "rise = 1\nfall = 1\n\n"
                    f"[sync edge-nginx]\npool = api\n"
                    f"nginx_api = http://127.0.0.1:{self.nginx.port}/api\n"
                    f"upstream = {upstream}\ndrain_timeout = 10s\n")
        return path

    def start_sync(self):
        out = open(os.path.join(self.tmp.name, "sync.out"), "w+")
        err = open(os.path.join(self.tmp.name, "sync.err"), "w+")
        proc = Proc([LBCTL, "sync", "-c", self.write_ini()], stdout=out, stderr=err)
        self.addCleanup(out.close)
        self.addCleanup(err.close)
        self.addCleanup(proc.stop)
        return out, err

    @staticmethod
    def text(f):
        f.flush()
        with open(f.name) as r:
            return r.read()

    def up(self, name):
        s = self.servers().get(f"127.0.0.1:{self.backends.ports[name]}")
        return s is not None and not s.get("down") and not s.get("drain")

    def test_scale_out_and_in_under_load(self):
        self.dns.set_srv(self.srv("a", "b"))
        out, err = self.start_sync()
        wait_until(lambda: self.up("a") and self.up("b"), timeout=20, what="a and b added")
        s = self.servers()
        self.assertEqual(s[f"127.0.0.1:{self.backends.ports['a']}"]["weight"], 10)
        self.assertEqual(s[f"127.0.0.1:{self.backends.ports['b']}"]["weight"], 20)
        wrk_out = os.path.join(self.tmp.name, "wrk.out")
        with open(wrk_out, "w") as w:
            wrk = Proc(["wrk", "-t1", "-c8", "-d10s", f"http://127.0.0.1:{self.nginx.port}/"],
                       stdout=w, stderr=subprocess.STDOUT)
        self.addCleanup(wrk.stop)
        time.sleep(1)
        self.dns.set_srv(self.srv("a", "b", "c"))
        wait_until(lambda: self.up("c"), timeout=15, what="c added")
        self.dns.set_srv(self.srv("b", "c"))
        pa = f"127.0.0.1:{self.backends.ports['a']}"
        wait_until(lambda: pa not in self.servers(), timeout=30, what="a removed")
        self.assertEqual(wrk.p.wait(timeout=30), 0)
        report = open(wrk_out).read()
        self.assertNotIn("Non-2xx", report, report)
        self.assertNotIn("Socket errors", report, report)
        self.assertIn(f"127.0.0.1:{self.backends.ports['static']}", self.servers())
        log = self.text(out)
        self.assertIn(f"sync edge-nginx: add 127.0.0.1:{self.backends.ports['c']} weight 30 "
                      f"(dns-srv:{SERVICE})", log)
        self.assertIn(f"sync edge-nginx: {pa}: drain", log)
        self.assertIn(f"sync edge-nginx: remove {pa}", log)

    def test_dns_down_keeps_servers(self):
        self.dns.set_srv(self.srv("a"))
        out, err = self.start_sync()
        wait_until(lambda: self.up("a"), timeout=20, what="a added")
        self.dns.stop()
        wait_until(lambda: "keeping the last good set" in self.text(err), timeout=15,
                   what="a warning")
        time.sleep(1)
        self.assertTrue(self.up("a"))
        self.dns.srv = self.srv("a", "b")
        self.dns.start()
        wait_until(lambda: self.up("b"), timeout=20, what="b added after DNS is back")

    def test_once_runs_know_their_servers_by_route(self):
        self.dns.set_srv(self.srv("a", "b"))
        ini = self.write_ini()
        r = lbctl("sync", "-c", ini, "--once")
        self.assertEqual(r.returncode, 0, r.stderr)
        pa = f"127.0.0.1:{self.backends.ports['a']}"
        self.assertEqual(self.servers()[pa]["route"], "lbctl")
        # another process: a left DNS; it is drained, then deleted
        self.dns.set_srv(self.srv("b"))
        r = lbctl("sync", "-c", ini, "--once")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"{pa}: drain (no longer discovered)", r.stdout)
        self.assertTrue(self.servers()[pa]["drain"])
        r = lbctl("sync", "-c", ini, "--once")
        self.assertIn(f"remove {pa} (drained)", r.stdout)
        self.assertNotIn(pa, self.servers())
        static = f"127.0.0.1:{self.backends.ports['static']}"
        self.assertIn(static, self.servers())  # from nginx.conf: left alone

    def test_one_answer_into_haproxy_and_nginx(self):
        haproxy = HAProxy(self.tmp.name, "backend be_api\n    balance roundrobin\n")
        self.addCleanup(haproxy.stop)
        self.dns.set_srv(self.srv("a", "b"))
        ini = self.write_ini()
        with open(ini, "a") as f:
            f.write(f"\n[sync edge-haproxy]\npool = api\nhaproxy = {haproxy.socket}\n"
                    "backend = be_api\n")
        r = lbctl("sync", "-c", ini, "--once")
        self.assertEqual(r.returncode, 0, r.stderr)
        ports = self.backends.ports
        in_nginx = self.servers()
        in_haproxy = haproxy.servers("be_api")
        for name, weight in (("a", 10), ("b", 20)):
            self.assertEqual(in_nginx[f"127.0.0.1:{ports[name]}"]["weight"], weight)
            row = in_haproxy[f"lbk-127.0.0.1-{ports[name]}"]
            self.assertEqual((int(row["srv_iweight"]), int(row["srv_admin_state"])), (weight, 0))

    def test_unknown_upstream(self):
        self.dns.set_srv(self.srv("a"))
        r = lbctl("sync", "-c", self.write_ini(upstream="nope"), "--once")
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn("upstream 'nope'", r.stderr)
        self.assertEqual(len(self.servers()), 1)


if __name__ == "__main__":
    unittest.main()
