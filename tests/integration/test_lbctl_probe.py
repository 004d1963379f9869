"""lbctl probe end to end: verdicts, exit codes, JSON schema, rounds and
statistics, JSON-RPC head/lag/version, Prometheus and table output."""
import os
import pty
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lbktest  # noqa: E402
import promtool  # noqa: E402
from lbctl_common import (Backend, LBCTL, JSONRPC_SUMMARY, PROBE_DOC, lbctl,  # noqa: E402
                          lbctl_json, validate)


class ProbeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.backend = Backend([
            ("fast", []),
            ("slow", ["--latency", "40ms"]),
            ("lagging", ["--lag", "20"]),
            ("broken", ["--status", "500"]),
        ], global_args=["--head-interval", "0"])

    @classmethod
    def tearDownClass(cls):
        cls.backend.stop()

    def url(self, name):
        return self.backend.url(name)

    def by_name(self, doc):
        return {n["url"]: n for n in doc["nodes"]}

    def test_all_healthy_exit_0(self):
        r, doc = lbctl_json("probe", "-o", "json", self.url("fast"), self.url("slow"))
        self.assertEqual(r.returncode, 0, r.stderr)
        validate(doc, PROBE_DOC)
        self.assertEqual(doc["schema"], "lbctl-probe/1")
        self.assertEqual((doc["total"], doc["healthy"]), (2, 2))
        for n in doc["nodes"]:
            self.assertEqual(n["verdict"], "healthy")
            self.assertEqual(n["outcome"], "pass")
            self.assertEqual(n["http_status"], 200)
            self.assertIsNone(n["error"])
            self.assertIsNone(n["jsonrpc"])
            self.assertIsNone(n["tls_ms"])  # plain HTTP: no TLS phase
            self.assertGreaterEqual(n["connect_ms"], 0)
            self.assertGreaterEqual(n["total_ms"], n["first_byte_ms"])
        slow = self.by_name(doc)[self.url("slow")]
        # The backend's delay timer starts from its loop's cached time, so
        # it may fire a few ms early under load: allow a quarter.
        self.assertGreaterEqual(slow["total_ms"], 30.0)

    def test_some_unhealthy_exit_1(self):
        r, doc = lbctl_json("probe", "-o", "json", self.url("fast"), self.url("broken"))
        self.assertEqual(r.returncode, 1, r.stderr)
        validate(doc, PROBE_DOC)
        broken = self.by_name(doc)[self.url("broken")]
        self.assertFalse(broken["healthy"])
        self.assertEqual(broken["outcome"], "status")
        self.assertEqual(broken["http_status"], 500)
        self.assertIn("500", broken["error"])

    def test_none_healthy_exit_3(self):
        r, doc = lbctl_json("probe", "-o", "json", self.url("broken"))
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertEqual(doc["healthy"], 0)

    def test_jsonrpc_head_lag_version(self):
        urls = [self.url(n) for n in ("fast", "slow", "lagging")]
        r, doc = lbctl_json("probe", "-o", "json", "--check", "jsonrpc", "--max-lag", "5", *urls)
        self.assertEqual(r.returncode, 1, r.stderr)
        validate(doc, PROBE_DOC)
        nodes = self.by_name(doc)
        for n in nodes.values():
            validate(n["jsonrpc"], JSONRPC_SUMMARY)
            self.assertEqual(n["jsonrpc"]["version"], "lbk-testbackend/1.0.0")
        fast, lagging = nodes[self.url("fast")], nodes[self.url("lagging")]
        self.assertEqual(fast["jsonrpc"]["lag"], 0)
        self.assertTrue(fast["healthy"])
        self.assertEqual(lagging["jsonrpc"]["head"], fast["jsonrpc"]["head"] - 20)
        self.assertEqual(lagging["jsonrpc"]["lag"], 20)
        self.assertFalse(lagging["healthy"])
        self.assertEqual(lagging["outcome"], "lag")
        # Without --max-lag the chain's default (ethereum: 5) judges it.
        r, doc = lbctl_json("probe", "-o", "json", "--check", "jsonrpc", *urls)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(self.by_name(doc)[self.url("lagging")]["outcome"], "lag")
        # --max-lag 0 turns the judgement off; the lag is still reported.
        r, doc = lbctl_json("probe", "-o", "json", "--check", "jsonrpc", "--max-lag", "0", *urls)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.by_name(doc)[self.url("lagging")]["jsonrpc"]["lag"], 20)

    def test_each_node_is_probed_at_its_own_path(self):
        self.backend.control("fast", {"reset_stats": True})
        urls = [self.backend.url("fast", "/rpc/a"), self.backend.url("fast", "/rpc/b")]
        r, doc = lbctl_json("probe", "-o", "json", "--check", "jsonrpc", *urls)
        self.assertEqual(r.returncode, 0, r.stderr)
        by_path = self.backend.stats("fast")["by_path"]
        # One health check per node, and in this first (identity) round one
        # web3_clientVersion and one eth_chainId request.
        self.assertEqual((by_path.get("/rpc/a"), by_path.get("/rpc/b")), (3, 3))
        for n in doc["nodes"]:
            self.assertEqual(n["jsonrpc"]["version"], "lbk-testbackend/1.0.0")

    def test_rounds_statistics(self):
        r, doc = lbctl_json("probe", "-o", "json", "-n", "4", "-i", "10ms", self.url("fast"),
                            self.url("slow"), self.url("broken"))
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(doc["rounds"], 4)
        nodes = self.by_name(doc)
        for name in ("fast", "slow"):
            s = nodes[self.url(name)]["stats"]["total_ms"]
            self.assertEqual(s["count"], 4)
            self.assertLessEqual(s["min"], s["p50"])
            self.assertLessEqual(s["p50"], s["p95"])
            self.assertLessEqual(s["p95"], s["max"])
            self.assertEqual(nodes[self.url(name)]["checks"], 4)
        self.assertGreaterEqual(nodes[self.url("slow")]["stats"]["total_ms"]["min"], 30.0)
        self.assertGreater(nodes[self.url("slow")]["stats"]["total_ms"]["min"],
                           nodes[self.url("fast")]["stats"]["total_ms"]["p50"])
        broken = nodes[self.url("broken")]
        self.assertEqual((broken["checks"], broken["checks_failed"]), (4, 4))
        self.assertEqual(broken["stats"]["total_ms"]["count"], 0)
        self.assertIsNone(broken["stats"]["total_ms"]["p50"])

    def test_tcp_check(self):
        r, doc = lbctl_json("probe", "-o", "json", "tcp://127.0.0.1:%d" % self.backend.ports["fast"])
        self.assertEqual(r.returncode, 0, r.stderr)
        n = doc["nodes"][0]
        self.assertTrue(n["healthy"])
        self.assertIsNone(n["http_status"])

    def test_prometheus(self):
        r = lbctl("probe", "-o", "prometheus", self.url("fast"), self.url("broken"))
        self.assertEqual(r.returncode, 1, r.stderr)
        promtool.check_metrics(self, r.stdout)
        samples = {}
        for line in r.stdout.splitlines():
            if line.startswith("#"):
                self.assertRegex(line, r"^# (HELP|TYPE) (lbctl|probe)_\w+ ")
                continue
            m = re.match(r'^(\w+)(?:\{([^}]*)\})? (\S+)$', line)
            self.assertIsNotNone(m, line)
            float(m.group(3))
            samples.setdefault(m.group(1), []).append((m.group(2), float(m.group(3))))
        success = {labels: v for labels, v in samples["probe_success"]}
        self.assertEqual(sorted(success.values()), [0.0, 1.0])
        self.assertTrue(any('phase="connect"' in l for l, _ in samples["probe_http_duration_seconds"]))
        self.assertIn(500.0, [v for _, v in samples["probe_http_status_code"]])
        self.assertEqual(len(samples["lbctl_build_info"]), 1)

    def test_table_not_coloured_when_piped(self):
        r = lbctl("probe", "-o", "table", self.url("fast"), self.url("broken"))
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertNotIn("\033[", r.stdout)
        lines = r.stdout.splitlines()
        self.assertTrue(lines[0].startswith("NODE"))
        self.assertEqual(len(lines), 3)
        self.assertIn("unhealthy", lines[2])

    def run_on_tty(self, args, env_extra, stderr_too=False):
        """Runs lbctl with stdout (and stderr) on a pseudo-terminal; returns (rc, output)."""
        master, slave = pty.openpty()
        env = dict(os.environ)
        env.pop("NO_COLOR", None)
        env["TERM"] = "xterm"
        env.update(env_extra)
        p = lbktest.Proc([LBCTL] + args, stdout=slave, stderr=slave if stderr_too else subprocess.DEVNULL,
                         env=env)
        os.close(slave)
        out = b""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        os.close(master)
        return p.p.wait(timeout=10), out.decode()

    def test_tty_default_table_colour_and_no_color(self):
        rc, out = self.run_on_tty(["probe", self.url("fast")], {})
        self.assertEqual(rc, 0)
        self.assertIn("NODE", out)  # a table, not JSON
        self.assertIn("\033[32m", out)  # green verdict
        rc, out = self.run_on_tty(["probe", self.url("fast")], {"NO_COLOR": "1"})
        self.assertEqual(rc, 0)
        self.assertIn("NODE", out)
        self.assertNotIn("\033[", out)

    def test_progress_line_on_tty_after_a_second(self):
        with Backend([("hang", ["--fault", "hang"])]) as b:
            rc, out = self.run_on_tty(["probe", "--timeout", "1800ms", self.url("fast"), b.url("hang")],
                                      {"NO_COLOR": "1"}, stderr_too=True)
        self.assertEqual(rc, 1)
        self.assertIn("probing: 1/2 done", out)
        # Piped, there is no progress line.
        with Backend([("hang", ["--fault", "hang"])]) as b:
            r = lbctl("probe", "--timeout", "1200ms", self.url("fast"), b.url("hang"))
        self.assertEqual(r.returncode, 1)
        self.assertNotIn("probing", r.stderr)

    def test_default_format_is_json_when_piped(self):
        r, doc = lbctl_json("probe", self.url("fast"))
        self.assertEqual(r.returncode, 0)
        validate(doc, PROBE_DOC)

    def test_config_file_pools(self):
        with lbktest.tempdir() as d:
            path = os.path.join(d, "lbctl.ini")
            with open(path, "w") as f:
                f.write("[pool a]\ncheck = jsonrpc\nserver = %s name=fast\n"
                        "server = %s name=lagging\nmax_lag = 3\n"
                        "[pool b]\nserver = %s name=broken\n"
                        % (self.url("fast"), self.url("lagging"), self.url("broken")))
            r, doc = lbctl_json("probe", "-o", "json", "-c", path)
            self.assertEqual(r.returncode, 1, r.stderr)
            got = {(n["pool"], n["name"]): n["healthy"] for n in doc["nodes"]}
            self.assertEqual(got, {("a", "fast"): True, ("a", "lagging"): False, ("b", "broken"): False})
            r, doc = lbctl_json("probe", "-o", "json", "-c", path, "--pool", "a")
            self.assertEqual([n["name"] for n in doc["nodes"]], ["fast", "lagging"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
