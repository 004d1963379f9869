"""lbctl sync: DNS service discovery (SRV and A records served by a real
dnsmasq) into a real HAProxy 2.6 through its runtime API.

Scale-out and scale-in under load (wrk: no errors), the last good set kept
while DNS is down and sync resuming when it is back, min_servers, malformed
SRV answers rejected whole, servers lbctl did not add left alone, --dry-run,
and bad input with its documented exit codes.
"""
import os
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lbktest  # noqa: E402
from lbktest import Proc, free_port, wait_until  # noqa: E402
from lbctl_common import BACKEND, LBCTL, Backend, lbctl  # noqa: E402
from haproxy_support import HAProxy  # noqa: E402
from dns_support import Dnsmasq  # noqa: E402

SERVICE = "_api._tcp.svc.test"
MAINT_BIT, DRAIN_BIT = 0x01, 0x08
INTERVAL_MS = 300


def owned(port, address="127.0.0.1"):
    return f"lbk-{address}-{port}"


class SyncHaproxyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = lbktest.tempdir()
        cls.backend = Backend([(n, []) for n in ("a", "b", "c", "static")])
        cls.dns = Dnsmasq(cls.tmp.name, hosts=[("node.svc.test", "127.0.0.1")])
        cls.front = free_port()
        body = (f"frontend fe\n    bind 127.0.0.1:{cls.front}\n    default_backend api\n"
                "backend api\n    balance roundrobin\n"
                f"    server static 127.0.0.1:{cls.backend.ports['static']} weight 5\n")
        cls.haproxy = HAProxy(cls.tmp.name, body)

    @classmethod
    def tearDownClass(cls):
        for stop in (cls.haproxy.stop, cls.dns.stop, cls.backend.stop, cls.tmp.cleanup):
            stop()

    def setUp(self):
        # Every test starts from the hand-configured server alone.
        for name, row in self.haproxy.servers("api").items():
            if name.startswith("lbk-"):
                self.haproxy.command(f"set server api/{name} state maint")
                answer = self.haproxy.command(f"del server api/{name}")
                self.assertIn("Server deleted", answer)
        if self.dns.proc is None:
            self.dns.start()

    def srv(self, *names, priority=None, weights=None):
        """SRV records for listeners @names (weights 10, 20, 30 ...)."""
        out = []
        for i, n in enumerate(names):
            weight = (weights or {}).get(n, 10 * (i + 1))
            out.append((SERVICE, "node.svc.test", self.backend.ports[n],
                        (priority or {}).get(n, 0), weight))
        return out

    def write_ini(self, pool_extra="", sync_extra="", discover=f"dns-srv:{SERVICE}"):
        path = os.path.join(self.tmp.name, "sync.ini")
        with open(path, "w") as f:
            f.write(f"[pool api]\ndiscover = {discover}\nresolver = {self.dns.resolver}\n"
                    f"check = http\npath = /\ninterval = {INTERVAL_MS}ms\ntimeout = 1s\n"
                    f"rise = 1\nfall = 1\n{pool_extra}\n"
                    f"[sync edge]\npool = api\nhaproxy = {self.haproxy.socket}\nbackend = api\n"
                    f"drain_timeout = 10s\n{sync_extra}")
        return path

    def start_sync(self, ini):
        out = open(os.path.join(self.tmp.name, "sync.out"), "w+")
        err = open(os.path.join(self.tmp.name, "sync.err"), "w+")
        proc = Proc([LBCTL, "sync", "-c", ini], stdout=out, stderr=err)
        self.addCleanup(out.close)
        self.addCleanup(err.close)
        self.addCleanup(proc.stop)
        return proc, out, err

    @staticmethod
    def text(f):
        f.flush()
        with open(f.name) as r:
            return r.read()

    def servers(self):
        return {name: {"op": int(r["srv_op_state"]), "admin": int(r["srv_admin_state"]),
                       "weight": int(r["srv_uweight"]), "initial": int(r["srv_iweight"]),
                       "port": int(r["srv_port"])}
                for name, r in self.haproxy.servers("api").items()}

    def ready(self, name):
        s = self.servers().get(name)
        return s is not None and s["admin"] == 0

    # ---- scale out and in ----------------------------------------------

    def test_scale_out_and_in_under_load(self):
        self.dns.set_srv(self.srv("a", "b"))
        ini = self.write_ini()
        proc, out, err = self.start_sync(ini)
        pa, pb, pc = (self.backend.ports[n] for n in "abc")
        wait_until(lambda: self.ready(owned(pa)) and self.ready(owned(pb)), timeout=20,
                   what="a and b added and ready")
        s = self.servers()
        self.assertEqual(s[owned(pa)]["initial"], 10)
        self.assertEqual(s[owned(pb)]["initial"], 20)
        self.assertIn("static", s)

        wrk_out = os.path.join(self.tmp.name, "wrk.out")
        with open(wrk_out, "w") as w:
            wrk = Proc(["wrk", "-t1", "-c8", "-d10s", "--latency",
                        f"http://127.0.0.1:{self.front}/"], stdout=w, stderr=subprocess.STDOUT)
        self.addCleanup(wrk.stop)
        time.sleep(1)
        # Scale out: c appears in DNS.
        self.dns.set_srv(self.srv("a", "b", "c"))
        wait_until(lambda: self.ready(owned(pc)), timeout=15, what="c added")
        self.assertEqual(self.servers()[owned(pc)]["initial"], 30)
        # Scale in: a leaves DNS; it is drained, then deleted.
        self.dns.set_srv(self.srv("b", "c"))
        wait_until(lambda: owned(pa) not in self.servers(), timeout=30, what="a removed")
        self.assertEqual(wrk.p.wait(timeout=30), 0)
        report = open(wrk_out).read()
        self.assertNotIn("Non-2xx", report, report)
        self.assertNotIn("Socket errors", report, report)
        self.assertRegex(report, r"\d+ requests in")
        s = self.servers()
        self.assertIn("static", s)  # not added by lbctl: left alone
        self.assertTrue(self.ready(owned(pb)) and self.ready(owned(pc)))
        log = self.text(out)
        self.assertRegex(log, rf"sync edge: add server api/{owned(pc)} 127.0.0.1:{pc} weight 30 "
                              rf"\(dns-srv:{re.escape(SERVICE)}\)")
        self.assertIn(f"sync edge: set server api/{owned(pa)} state drain", log)
        self.assertIn(f"sync edge: del server api/{owned(pa)}", log)
        # Every change is one line starting with the sync's name.
        for line in log.splitlines():
            self.assertTrue(line.startswith("sync edge: "), line)

    # ---- DNS down ----------------------------------------------------------

    def test_dns_down_keeps_servers_and_resumes(self):
        self.dns.set_srv(self.srv("a", "b"))
        proc, out, err = self.start_sync(self.write_ini())
        pa, pb, pc = (self.backend.ports[n] for n in "abc")
        wait_until(lambda: self.ready(owned(pa)) and self.ready(owned(pb)), timeout=20,
                   what="a and b added")
        self.dns.stop()
        wait_until(lambda: "keeping the last good set (2 servers)" in self.text(err), timeout=15,
                   what="a warning while DNS is down")
        time.sleep(3 * INTERVAL_MS / 1000)
        self.assertTrue(self.ready(owned(pa)) and self.ready(owned(pb)), self.servers())
        self.assertNotIn("drain", self.text(out))
        # said once, not at every round
        self.assertEqual(self.text(err).count("keeping the last good set"), 1, self.text(err))
        # Back, with one more record: sync resumes.
        self.dns.srv = self.srv("a", "b", "c")
        self.dns.start()
        wait_until(lambda: self.ready(owned(pc)), timeout=20, what="c added after DNS is back")
        self.assertTrue(self.ready(owned(pa)))
        self.assertIn("pool 'api': DNS answers again", self.text(err))

    # ---- A records, --once, --dry-run, backup ---------------------------

    def test_a_records_once_and_dry_run(self):
        port = free_port("127.0.0.2")
        extra = Proc([BACKEND, "--listen", f"127.0.0.2:{port}", "--name", "x",
                      "--listen", f"127.0.0.3:{port}", "--name", "y"],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(extra.stop)
        lbktest.wait_port(port, "127.0.0.2")
        lbktest.wait_port(port, "127.0.0.3")
        self.dns.set_hosts([("node.svc.test", "127.0.0.1"), ("web.svc.test", "127.0.0.2"),
                            ("web.svc.test", "127.0.0.3")])
        ini = self.write_ini(discover=f"dns:web.svc.test:{port}")
        r = lbctl("sync", "-c", ini, "--once", "--dry-run")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"add server api/{owned(port, '127.0.0.2')} 127.0.0.2:{port} weight 1",
                      r.stdout)
        self.assertIn("dry run: nothing sent", r.stderr)
        self.assertEqual(set(self.servers()), {"static"})
        r = lbctl("sync", "-c", ini, "--once")
        self.assertEqual(r.returncode, 0, r.stderr)
        for address in ("127.0.0.2", "127.0.0.3"):
            self.assertTrue(self.ready(owned(port, address)), self.servers())
        r = lbctl("sync", "-c", ini, "--once")
        self.assertEqual((r.returncode, r.stdout), (0, ""), r.stderr)  # nothing to change
        self.dns.set_hosts([("node.svc.test", "127.0.0.1"), ("web.svc.test", "127.0.0.2")])
        r = lbctl("sync", "-c", ini, "--once")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"set server api/{owned(port, '127.0.0.3')} state drain", r.stdout)
        self.assertEqual(self.servers()[owned(port, "127.0.0.3")]["admin"] & DRAIN_BIT, DRAIN_BIT)
        r = lbctl("sync", "-c", ini, "--once")  # idle: deleted
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"del server api/{owned(port, '127.0.0.3')}", r.stdout)
        self.assertEqual(set(self.servers()), {"static", owned(port, "127.0.0.2")})

    def test_srv_priority_is_backup(self):
        self.dns.set_srv(self.srv("a", "b", priority={"b": 5}))
        r = lbctl("sync", "-c", self.write_ini(), "--once")
        self.assertEqual(r.returncode, 0, r.stderr)
        pb = self.backend.ports["b"]
        self.assertIn(f"add server api/{owned(pb)} 127.0.0.1:{pb} weight 20 backup", r.stdout)
        row = self.haproxy.command("show servers state api")
        self.assertIn(owned(pb), row)

    def test_failing_server_added_held_out(self):
        self.backend.control("c", {"status": 500})
        self.addCleanup(self.backend.control, "c", {"status": 200})
        self.dns.set_srv(self.srv("a", "c"))
        r = lbctl("sync", "-c", self.write_ini(), "--once")
        self.assertEqual(r.returncode, 0, r.stderr)
        s = self.servers()
        self.assertEqual(s[owned(self.backend.ports["a"])]["admin"], 0)
        self.assertEqual(s[owned(self.backend.ports["c"])]["admin"] & MAINT_BIT, MAINT_BIT)

    # ---- safety ------------------------------------------------------------

    def test_min_servers_keeps_everything(self):
        self.dns.set_srv(self.srv("a", "b"))
        r = lbctl("sync", "-c", self.write_ini(pool_extra="min_servers = 3"), "--once")
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn("fewer than min_servers = 3", r.stderr)
        self.assertEqual(r.stdout, "")
        self.assertEqual(set(self.servers()), {"static"})

    def test_malformed_srv_answer_applies_nothing(self):
        pa = self.backend.ports["a"]
        cases = [
            # a good record and one with port 0: the whole answer is refused
            ([(SERVICE, "node.svc.test", pa, 0, 10), (SERVICE, "node.svc.test", 0, 0, 10)],
             "malformed record"),
            # a target without an address
            ([(SERVICE, "node.svc.test", pa, 0, 10), (SERVICE, "gone.svc.test", 8080, 0, 10)],
             "gone.svc.test: no A or AAAA record"),
            # no record at all
            ([], "empty answer"),
        ]
        for records, message in cases:
            with self.subTest(message=message):
                self.dns.set_srv(records)
                r = lbctl("sync", "-c", self.write_ini(), "--once")
                self.assertEqual(r.returncode, 4, r.stderr)
                self.assertIn(message, r.stderr)
                self.assertIn("left unchanged", r.stderr)
                self.assertEqual(r.stdout, "")
                self.assertEqual(set(self.servers()), {"static"})

    def test_own_all_removes_hand_configured(self):
        self.dns.set_srv(self.srv("a"))
        ini = self.write_ini(sync_extra="own_all = yes\n")
        r = lbctl("sync", "-c", ini, "--once", "--dry-run")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("set server api/static state drain", r.stdout)
        self.assertEqual(self.servers()["static"]["admin"], 0)  # dry run: untouched
        r = lbctl("sync", "-c", self.write_ini(), "--once")
        self.assertNotIn("api/static", r.stdout)  # default: left alone

    # ---- bad input -----------------------------------------------------

    def test_bad_input(self):
        ini = self.write_ini(sync_extra="colour = blue\n")
        r = lbctl("sync", "-c", ini, "--once")
        self.assertEqual(r.returncode, 2)
        line = open(ini).read().splitlines().index("colour = blue") + 1
        self.assertIn(f"{ini}:{line}: colour: unknown key in [sync edge]", r.stderr)

        path = os.path.join(self.tmp.name, "bad.ini")
        with open(path, "w") as f:
            f.write("[pool api]\ndiscover = dns-srv:bad name\n\n[sync edge]\npool = nope\n"
                    "haproxy = /tmp/x.sock\n")
        r = lbctl("sync", "-c", path, "--once")
        self.assertEqual(r.returncode, 2)
        self.assertIn(f"{path}:2: discover: expected dns-srv:NAME", r.stderr)
        self.assertIn(f"{path}:4: pool: no [pool nope] for [sync edge]", r.stderr)
        self.assertIn(f"{path}:4: backend: [sync edge]: haproxy = needs backend = NAME",
                      r.stderr)

        self.dns.set_srv(self.srv("a"))
        good = open(self.write_ini()).read()
        ini = os.path.join(self.tmp.name, "target.ini")
        missing = os.path.join(self.tmp.name, "missing.sock")
        with open(ini, "w") as f:
            f.write(good.replace(self.haproxy.socket, missing))
        r = lbctl("sync", "-c", ini, "--once")
        self.assertEqual(r.returncode, 4)
        self.assertIn(f"sync: edge: haproxy {missing} backend 'api'", r.stderr)
        self.assertIn("No such file or directory", r.stderr)

        with open(ini, "w") as f:
            f.write(good.replace("backend = api", "backend = nope"))
        r = lbctl("sync", "-c", ini, "--once")
        self.assertEqual(r.returncode, 4)
        self.assertIn("backend 'nope'", r.stderr)
        self.assertEqual(set(self.servers()), {"static"})

        # an NGINX Plus-compatible API nobody listens on
        closed = free_port()
        with open(ini, "w") as f:
            f.write(good.replace(f"haproxy = {self.haproxy.socket}\nbackend = api",
                                 f"nginx_api = http://127.0.0.1:{closed}/api\nupstream = api"))
        r = lbctl("sync", "-c", ini, "--once")
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn(f"sync: edge: nginx API http://127.0.0.1:{closed}/api:", r.stderr)
        self.assertIn("Couldn't connect", r.stderr)

    def test_c_ares_loaded_by_sync_only(self):
        self.dns.set_srv(self.srv("a"))
        ini = self.write_ini()

        def loaded(*args):
            r = lbctl(*args, env={"LD_DEBUG": "files"})
            return r, set(re.findall(r"\bfile=(\S+) \[", r.stderr))
        r, libraries = loaded("sync", "-c", ini, "--once", "--dry-run")
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        self.assertTrue(any(f.startswith("libcares") for f in libraries), libraries)
        r, libraries = loaded("check-config", "-c", ini)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        self.assertEqual([f for f in libraries if f.startswith("libcares")], [])
        r = lbctl("version")
        self.assertRegex(r.stdout, r"\nc-ares \d+\.\d+")

    def test_haproxy_sync_still_works(self):
        ini = os.path.join(self.tmp.name, "static.ini")
        with open(ini, "w") as f:
            f.write(f"[pool api]\ncheck = http\ntimeout = 1s\n"
                    f"server = {self.backend.url('static')} name=static\n")
        r = lbctl("haproxy-sync", "-c", ini, "--socket", self.haproxy.socket, "--backend", "api")
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    unittest.main()
