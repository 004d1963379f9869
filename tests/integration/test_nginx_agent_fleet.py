"""One prober for a fleet: 3 real HAProxy 2.6 and 2 real nginx (the lbkit
module's `lbkit_check type=agent`) share one `lbctl agent`.

Each backend sees one probe per interval (counted at the backend), not one
per balancer; a failing backend is taken out of all five within two
intervals and comes back when it recovers; nginx asks with the server's
host:port as written in nginx.conf; when the agent is unreachable nginx keeps
the servers as they were and its status page says so.
"""
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lbktest  # noqa: E402
import subprocess  # noqa: E402
from haproxy_support import HAProxy, ask_agent, read_line, start_agent, stop_agent  # noqa: E402
from lbctl_common import LBCTL  # noqa: E402
from nginx_harness import Backends, Nginx, config_test, require_artifacts  # noqa: E402

NAMES = ["a", "b", "c"]
INTERVAL_MS = 1000


class FleetTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_artifacts()
        cls.tmp = lbktest.tempdir()
        cls.backends = Backends(NAMES)
        ports = cls.backends.ports
        cls.ini = os.path.join(cls.tmp.name, "lbctl.ini")
        with open(cls.ini, "w") as f:
            f.write(f"[pool api]\ncheck = http\npath = /health\ninterval = {INTERVAL_MS}ms\n"
                    "timeout = 500ms\nrise = 1\nfall = 1\n")
            for n in NAMES:
                f.write(f"server = http://127.0.0.1:{ports[n]}/ name={n}\n")
        cls.agent, cls.agent_port = start_agent(cls.ini)
        cls.haproxies = []
        for i in range(3):
            body = "backend api\n    balance roundrobin\n"
            for n in NAMES:
                body += (f"    server {n} 127.0.0.1:{ports[n]} weight 100 agent-check "
                         f"agent-addr 127.0.0.1 agent-port {cls.agent_port} "
                         f"agent-inter {INTERVAL_MS}ms agent-send \"api/{n}\\n\"\n")
            cls.haproxies.append(HAProxy(cls.tmp.name, body, name=f"haproxy{i}"))
        servers = "".join(f"  server 127.0.0.1:{ports[n]};\n" for n in NAMES)
        http_body = ("upstream api {\n  zone api 64k;\n  lbkit round_robin;\n" + servers +
                     f"  lbkit_check type=agent agent=127.0.0.1:{cls.agent_port} agent_pool=api "
                     f"interval={INTERVAL_MS}ms timeout=500ms rise=1 fall=1;\n}}\n"
                     "server {\n  listen 127.0.0.1:{port};\n"
                     "  location / { proxy_pass http://api; }\n"
                     "  location = /status { lbkit_status; }\n}\n")
        cls.nginxes = [Nginx(http_body, workers=w) for w in (1, 2)]

    @classmethod
    def tearDownClass(cls):
        for n in cls.nginxes:
            n.cleanup()
        for h in cls.haproxies:
            h.stop()
        stop_agent(cls.agent)
        cls.backends.stop()
        cls.tmp.cleanup()

    def setUp(self):
        for n in NAMES:
            self.backends.control(n, status=200)
        self.wait_all(lambda view: all(view[n] == "up" for n in NAMES), "every server up")
        # nginx has asked the agent about every server at least once
        lbktest.wait_until(lambda: all(s["last_check"] for ngx in self.nginxes
                                       for s in self.nginx_view(ngx).values()),
                           timeout=10, what="a first agent check everywhere")

    # ---- what each balancer thinks ----------------------------------------

    def nginx_view(self, nginx):
        status, body = nginx.get("/status")
        self.assertEqual(status, 200, body)
        doc = json.loads(body)
        up = [u for u in doc["upstreams"] if u["name"] == "api"][0]
        by_port = {s["name"].rsplit(":", 1)[1]: s for s in up["servers"]}
        return {n: by_port[str(p)] for n, p in self.backends.ports.items()}

    def views(self):
        """{balancer: {server: "up" | "down"}} over all five."""
        out = {}
        for i, h in enumerate(self.haproxies):
            out[f"haproxy{i}"] = {n: "up" if h.server("api", n)["op"] == 2 else "down"
                                  for n in NAMES}
        for i, ngx in enumerate(self.nginxes):
            out[f"nginx{i}"] = {n: "up" if s["usable"] else "down"
                                for n, s in self.nginx_view(ngx).items()}
        return out

    def wait_all(self, predicate, what, timeout=15.0):
        start = time.monotonic()
        lbktest.wait_until(lambda: all(predicate(v) for v in self.views().values()),
                           timeout=timeout, step=0.05, what=what)
        return time.monotonic() - start

    # ---- tests ---------------------------------------------------------------

    def test_one_probe_per_interval_per_backend(self):
        window = 6.0
        for n in NAMES:
            self.backends.control(n, reset_stats=True)
        time.sleep(window)
        expected = window * 1000 / INTERVAL_MS
        for n in NAMES:
            probes = self.backends.stats(n)["by_path"].get("/health", 0)
            # one prober at INTERVAL: window/interval probes, give or take
            # the round in flight at each end; five checkers would be 5x.
            self.assertGreaterEqual(probes, expected - 2, (n, probes))
            self.assertLessEqual(probes, expected + 2, (n, probes))
        # nginx asked the agent (its checks are agent replies, not probes)
        for ngx in self.nginxes:
            for n, s in self.nginx_view(ngx).items():
                self.assertEqual(s["last_check"]["result"], "pass", s)

    def test_failing_backend_out_of_all_five_within_two_intervals(self):
        self.backends.control("b", status=500)
        elapsed = self.wait_all(lambda v: v["b"] == "down", "b down everywhere")
        # the agent notices within one interval, each balancer asks within the
        # next; the rest is the test's own polling of five status sources
        self.assertLess(elapsed, 2 * INTERVAL_MS / 1000 + 1.0, elapsed)
        for view in self.views().values():
            self.assertEqual((view["a"], view["c"]), ("up", "up"))
        for ngx in self.nginxes:
            for _ in range(6):
                status, body = ngx.get("/")
                self.assertEqual(status, 200)
                self.assertIn(body, ("a", "c"))
        self.backends.control("b", status=200)
        self.wait_all(lambda v: v["b"] == "up", "b back everywhere")

    def test_agent_answers_nginx_server_names(self):
        port = self.backends.ports["a"]
        self.assertTrue(ask_agent(self.agent_port, f"api/127.0.0.1:{port}\n")
                        .startswith("ready up"))
        self.assertTrue(ask_agent(self.agent_port, "api/a\n").startswith("ready up"))

    def test_agent_unreachable_keeps_state(self):
        cls = type(self)
        stop_agent(cls.agent)
        try:
            def says_unreachable():
                return all(s["last_check"] and "unreachable" in s["last_check"]["reason"]
                           for ngx in self.nginxes for s in self.nginx_view(ngx).values())
            lbktest.wait_until(says_unreachable, timeout=10, what="status: agent unreachable")
            for ngx in self.nginxes:
                for s in self.nginx_view(ngx).values():
                    self.assertTrue(s["usable"], s)
                    self.assertIn(f"agent 127.0.0.1:{cls.agent_port} unreachable",
                                  s["last_check"]["reason"])
                status, _ = ngx.get("/")
                self.assertEqual(status, 200)
        finally:
            # the same port again: the balancers' configuration names it
            cls.agent = lbktest.Proc([LBCTL, "agent", "-c", cls.ini, "--listen",
                                      f"127.0.0.1:{cls.agent_port}"], stdout=subprocess.PIPE)
            self.assertEqual(read_line(cls.agent, timeout=15),
                             f"listening 127.0.0.1:{cls.agent_port}")

    def test_bad_configuration(self):
        base = "upstream api {{ zone api 64k; lbkit round_robin; server 127.0.0.1:9; {} }}\n"
        cases = [
            ("lbkit_check type=agent;", "type=agent needs agent=ADDRESS:PORT"),
            ("lbkit_check type=agent agent=localhost;", "a numeric ADDRESS:PORT is expected"),
            ("lbkit_check type=agent port=5555 agent_pool=a/b;", "without '/' is expected"),
            ("lbkit_check type=http agent=127.0.0.1:5555;", "need type=agent"),
        ]
        for check, message in cases:
            with self.subTest(check=check):
                rc, out, conf = config_test(base.format(check))
                self.assertNotEqual(rc, 0, out)
                self.assertIn(message, out)
                self.assertIn(f"{conf}:", out)  # nginx names the file and line


if __name__ == "__main__":
    unittest.main()
