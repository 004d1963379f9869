"""lbctl haproxy-sync against real HAProxy 2.6 (runtime API) and lbk-testbackend.

Weight and state changes are applied (slow -> weight N%, lagging -> drain,
dead -> maint, recovered -> ready), only differences are sent (a second
run sends nothing), --dry-run changes nothing, the runtime API is reached over
a unix socket and over TCP, --state reads the canary's file, --interval keeps
syncing until stopped, and errors have their documented exit codes.
"""
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lbktest  # noqa: E402
from lbctl_common import LBCTL, Backend, lbctl, write_state  # noqa: E402
from haproxy_support import HAProxy, write_jsonrpc_pool  # noqa: E402

NODES = ["a", "b"]
MAINT_BIT, DRAIN_BIT = 0x01, 0x08


class SyncTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = lbktest.tempdir()
        cls.backend = Backend([(n, []) for n in NODES])
        cls.ini = os.path.join(cls.tmp.name, "lbctl.ini")
        write_jsonrpc_pool(cls.ini, cls.backend, NODES, 300)
        cls.haproxy = HAProxy(cls.tmp.name, cls.haproxy_body())

    @classmethod
    def haproxy_body(cls):
        body = "backend api\n    balance roundrobin\n"
        for n in NODES:
            body += f"    server {n} 127.0.0.1:{cls.backend.ports[n]} weight 100\n"
        return body

    @classmethod
    def tearDownClass(cls):
        for stop in (cls.haproxy.stop, cls.backend.stop, cls.tmp.cleanup):
            stop()

    def setUp(self):
        for n in NODES:
            self.backend.control(n, {"status": 200, "latency_ms": 0, "lag": 0})
            self.haproxy.command(f"set server api/{n} state ready")
            self.haproxy.command(f"set server api/{n} weight 100")

    def sync(self, *extra, socket_path=None):
        return lbctl("haproxy-sync", "-c", self.ini, "--socket",
                     socket_path or self.haproxy.socket, "--backend", "api", *extra)

    def server(self, name):
        return self.haproxy.server("api", name)

    def assert_nothing_to_send(self):
        r = self.sync()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "")
        self.assertIn("0 change(s) sent", r.stderr)

    def test_dry_run_changes_nothing(self):
        self.backend.control("b", {"latency_ms": 200})
        r = self.sync("--dry-run")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^set server api/b weight \d+%\n$")
        self.assertIn("dry run", r.stderr)
        self.assertEqual(self.server("b")["weight"], 100)
        self.assertEqual(self.server("a")["weight"], 100)

    def test_weight_applied_once(self):
        self.backend.control("b", {"latency_ms": 200})
        r = self.sync()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^set server api/b weight 5[0-9]%\n$")
        pct = int(r.stdout.split()[-1].rstrip("%"))
        self.assertEqual(self.server("b")["weight"], pct)  # initial weight 100
        self.assertEqual(self.server("a")["weight"], 100)
        self.assert_nothing_to_send()
        self.backend.control("b", {"latency_ms": 0})
        r = self.sync()
        self.assertEqual(r.stdout, "set server api/b weight 100%\n")
        self.assertEqual(self.server("b")["weight"], 100)
        self.assert_nothing_to_send()

    def test_lagging_node_drained_then_ready(self):
        self.backend.control("b", {"lag": 10})
        r = self.sync()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "set server api/b state drain\n")
        self.assertTrue(self.server("b")["admin"] & DRAIN_BIT)
        self.assertEqual(self.server("a")["admin"], 0)
        self.assert_nothing_to_send()
        self.backend.control("b", {"lag": 0})
        r = self.sync()
        self.assertEqual(r.stdout, "set server api/b state ready\n")
        self.assertEqual(self.server("b")["admin"], 0)

    def test_dead_node_maint_then_ready(self):
        self.backend.control("a", {"status": 500})
        r = self.sync()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "set server api/a state maint\n")
        self.assertIn("api/a: down: status 500", r.stderr)
        self.assertTrue(self.server("a")["admin"] & MAINT_BIT)
        self.assert_nothing_to_send()
        self.backend.control("a", {"status": 200})
        r = self.sync()
        self.assertEqual(r.stdout, "set server api/a state ready\n")
        self.assertEqual(self.server("a")["admin"], 0)

    def test_disabled_server_maint_then_ready(self):
        # `disabled` in the INI: maintenance without a probe; removing it readies the server.
        disabled_ini = os.path.join(self.tmp.name, "disabled.ini")
        with open(self.ini) as f:
            text = f.read()
        with open(disabled_ini, "w") as f:
            f.write(text.replace("name=b\n", "name=b disabled\n"))
        r = lbctl("haproxy-sync", "-c", disabled_ini, "--socket", self.haproxy.socket,
                  "--backend", "api")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "set server api/b state maint\n")
        self.assertIn("api/b: maint: b is disabled in the configuration", r.stderr)
        self.assertTrue(self.server("b")["admin"] & MAINT_BIT)
        self.assertEqual(self.server("a")["admin"], 0)
        r = self.sync()
        self.assertEqual(r.stdout, "set server api/b state ready\n")
        self.assertEqual(self.server("b")["admin"], 0)

    def test_state_file_source(self):
        state = os.path.join(self.tmp.name, "state.json")
        write_state(state, [{"name": "a", "url": self.backend.url("a"), "p50": 1.0},
                            {"name": "b", "url": self.backend.url("b"), "p50": 100.0}],
                    pool="api")
        r = self.sync("--state", state)
        self.assertEqual(r.returncode, 0, r.stderr)
        # 100 ms against the 20 ms floor of the best: 50 + 50 * 20/100 = 60%.
        self.assertEqual(r.stdout, "set server api/b weight 60%\n")
        self.assertEqual(self.server("b")["weight"], 60)
        write_state(state, [{"name": "a", "url": self.backend.url("a"), "healthy": False},
                            {"name": "b", "url": self.backend.url("b"), "p50": 1.0}],
                    pool="api")
        r = self.sync("--state", state)
        self.assertEqual(r.stdout.splitlines(),
                         ["set server api/a state maint", "set server api/b weight 100%"])

    def test_tcp_runtime_api(self):
        # Another HAProxy whose runtime API listens on loopback TCP.
        port = lbktest.free_port()
        tcp = HAProxy(self.tmp.name, self.haproxy_body(), name="tcp",
                      extra_global=f"    stats socket ipv4@127.0.0.1:{port} level admin\n")
        try:
            self.backend.control("b", {"latency_ms": 200})
            r = self.sync(socket_path=f"127.0.0.1:{port}")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertRegex(r.stdout, r"^set server api/b weight 5[0-9]%\n$")
            self.assertLess(tcp.server("api", "b")["weight"], 60)
            self.assertEqual(self.server("b")["weight"], 100)  # the other instance
        finally:
            tcp.stop()

    def test_interval_mode_until_stopped(self):
        proc = lbktest.Proc([LBCTL, "haproxy-sync", "-c", self.ini, "--socket",
                             self.haproxy.socket, "--backend", "api", "--interval", "300ms"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.5)
            self.backend.control("b", {"latency_ms": 200})
            lbktest.wait_until(lambda: self.server("b")["weight"] < 60, timeout=15,
                               what="interval sync lowers b's weight")
            self.backend.control("b", {"latency_ms": 0})
            lbktest.wait_until(lambda: self.server("b")["weight"] == 100, timeout=15,
                               what="interval sync restores b's weight")
        finally:
            rc = proc.stop()
        self.assertEqual(rc, 0)

    def test_errors(self):
        r = lbctl("haproxy-sync", "-c", self.ini, "--socket", self.haproxy.socket,
                  "--backend", "nope")
        self.assertEqual(r.returncode, 4)
        self.assertIn("backend 'nope'", r.stderr)
        self.assertIn("Can't find backend", r.stderr)
        r = self.sync("--pool", "nope")
        self.assertEqual(r.returncode, 2)
        self.assertIn("no pool 'nope'", r.stderr)
        r = self.sync(socket_path=os.path.join(self.tmp.name, "missing.sock"))
        self.assertEqual(r.returncode, 4)
        self.assertIn("missing.sock", r.stderr)
        r = self.sync(socket_path="127.0.0.1:notaport")
        self.assertEqual(r.returncode, 2)
        r = lbctl("haproxy-sync", "--socket", self.haproxy.socket, "--backend", "api")
        self.assertEqual(r.returncode, 2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
