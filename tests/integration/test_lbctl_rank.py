"""lbctl rank end to end: best-first order with deterministic fast, slow,
lagging and broken nodes; the documented score formula; --state."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lbktest  # noqa: E402
from lbctl_common import Backend, RANK_DOC, lbctl, lbctl_json, validate, write_state  # noqa: E402


def expected_score(node):
    """score.h: 100 * 2^-min(lag,30) * (0.5 + 0.5 * best/latency); 0 if unhealthy."""
    if not node["healthy"]:
        return 0.0
    ratio = 1.0
    if node["latency_ms"] and node["best_latency_ms"] and node["latency_ms"] > 0:
        ratio = min(1.0, node["best_latency_ms"] / node["latency_ms"])
    return 100.0 * 2.0 ** -min(node["lag"], 30) * (0.5 + 0.5 * ratio)


class RankTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.backend = Backend([
            ("fast", []),
            ("slow", ["--latency", "60ms"]),
            ("lagging", ["--lag", "3"]),
            ("broken", ["--status", "503"]),
        ], global_args=["--head-interval", "0"])
        cls.urls = [cls.backend.url(n) for n in ("broken", "lagging", "slow", "fast")]

    @classmethod
    def tearDownClass(cls):
        cls.backend.stop()

    def names(self, doc):
        port_to_name = {p: n for n, p in self.backend.ports.items()}
        return [port_to_name[int(n["url"].rsplit(":", 1)[1].strip("/"))] for n in doc["pools"][0]["nodes"]]

    def check_doc(self, doc):
        validate(doc, RANK_DOC)
        nodes = doc["pools"][0]["nodes"]
        self.assertEqual([n["rank"] for n in nodes], list(range(1, len(nodes) + 1)))
        for n in nodes:
            self.assertAlmostEqual(n["score"], expected_score(n), places=6)
            self.assertAlmostEqual(n["lag_factor"], 2.0 ** -min(n["lag"], 30), places=9)
        scores = [n["score"] for n in nodes]
        self.assertEqual(scores, sorted(scores, reverse=True))

    def test_order_health_then_lag_then_latency(self):
        r, doc = lbctl_json("rank", "-o", "json", "--check", "jsonrpc", "-n", "3", "-i", "10ms", *self.urls)
        self.assertEqual(r.returncode, 1, r.stderr)  # broken is unhealthy
        self.check_doc(doc)
        self.assertEqual(doc["source"], "probe")
        # fast beats slow on latency; lagging (3 blocks) is after both even
        # though it is fast; broken is last.
        self.assertEqual(self.names(doc), ["fast", "slow", "lagging", "broken"])
        nodes = doc["pools"][0]["nodes"]
        self.assertAlmostEqual(nodes[0]["score"], 100.0)
        self.assertEqual(nodes[2]["lag"], 3)
        self.assertEqual(nodes[3]["score"], 0.0)
        self.assertFalse(nodes[3]["healthy"])
        self.assertIn("503", nodes[3]["reason"])

    def test_http_only_order_by_latency(self):
        r, doc = lbctl_json("rank", "-o", "json", self.backend.url("slow"), self.backend.url("fast"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.check_doc(doc)
        self.assertEqual(self.names(doc), ["fast", "slow"])

    def test_from_state_file(self):
        with lbktest.tempdir() as d:
            state = os.path.join(d, "state.json")
            r = lbctl("watch", "--once", "-q", "--check", "jsonrpc", "--state", state, *self.urls)
            self.assertEqual(r.returncode, 1, r.stderr)
            r, doc = lbctl_json("rank", "-o", "json", "--state", state)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.check_doc(doc)
            self.assertEqual(doc["source"], "state")
            self.assertEqual(self.names(doc), ["fast", "slow", "lagging", "broken"])
            # A stopped backend does not matter: nothing is probed.
            r = lbctl("rank", "-o", "table", "--state", state)
            self.assertEqual(r.returncode, 1)
            self.assertTrue(r.stdout.startswith("#"))
            self.assertEqual(len(r.stdout.splitlines()), 5)

    def test_stale_state_warns(self):
        with lbktest.tempdir() as d:
            state = os.path.join(d, "state.json")
            write_state(state, [{"name": "fast", "url": self.backend.url("fast")}])
            r = lbctl("rank", "-o", "json", "--state", state)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertNotIn("old", r.stderr)
            with open(state) as f:
                doc = json.load(f)
            doc["generated_unix_ms"] -= 3600 * 1000
            with open(state, "w") as f:
                json.dump(doc, f)
            r = lbctl("rank", "-o", "json", "--state", state)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("warning", r.stderr)
            self.assertIn("old", r.stderr)

    def test_bad_state_file(self):
        with lbktest.tempdir() as d:
            state = os.path.join(d, "state.json")
            with open(state, "w") as f:
                f.write('{"format": "lbctl-state", "version": 1')
            r = lbctl("rank", "--state", state)
            self.assertEqual(r.returncode, 4)
            self.assertIn(state, r.stderr)
            r = lbctl("rank", "--state", os.path.join(d, "missing.json"))
            self.assertEqual(r.returncode, 4)
            self.assertIn("missing.json", r.stderr)

    def test_disabled_server_is_never_probed_nor_used(self):
        # `disabled` in the INI: probe skips it (and says so), rank lists it last as disabled,
        # forward and watch never touch it.  fast would otherwise win every ranking.
        with lbktest.tempdir() as tmp:
            ini = os.path.join(tmp, "lbctl.ini")
            with open(ini, "w") as f:
                f.write("[pool p]\n"
                        f"server = {self.backend.url('fast')} name=fast disabled\n"
                        f"server = {self.backend.url('slow')} name=slow\n")
            requests_before = self.backend.stats("fast")["by_path"].get("/", 0)
            r, doc = lbctl_json("probe", "-o", "json", "-c", ini)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual([n["name"] for n in doc["nodes"]], ["slow"])
            self.assertIn("not probed (disabled): p/fast", r.stderr)
            r, doc = lbctl_json("rank", "-o", "json", "-c", ini)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.check_doc(doc)
            nodes = doc["pools"][0]["nodes"]
            self.assertEqual([(n["name"], n["disabled"], n["healthy"]) for n in nodes],
                             [("slow", False, True), ("fast", True, False)])
            r = lbctl("rank", "-o", "table", "-c", ini)
            self.assertRegex(r.stdout, r"(?m)^\s*2\s+fast\s+0\.0\s+disabled\b")
            r = lbctl("forward", "-i", "-c", ini)
            self.assertEqual(r.returncode, 0, r.stderr)
            state = os.path.join(tmp, "state.json")
            r = lbctl("watch", "--once", "-q", "-c", ini, "--state", state)
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(state) as f:
                held = [n for n in json.load(f)["pools"][0]["nodes"] if n["name"] == "fast"]
            self.assertEqual([(n["disabled"], n["health"], n["checks"]) for n in held],
                             [(True, "unknown", 0)])
            self.assertEqual(self.backend.stats("fast")["by_path"].get("/", 0), requests_before)
            # Nothing left to probe: as an empty pool, none healthy.
            with open(ini, "w") as f:
                f.write(f"[pool p]\nserver = {self.backend.url('fast')} disabled\n")
            r = lbctl("probe", "-c", ini)
            self.assertEqual(r.returncode, 3)
            self.assertIn("not probed (disabled)", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
