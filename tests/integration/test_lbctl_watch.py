"""lbctl watch (the canary) end to end: the state file is valid after every
round and replaced atomically (a reader polling through many writes never
sees a partial file), health changes show up, SIGTERM/SIGINT stop it
cleanly, --once gives the health exit code."""
import json
import os
import select
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lbktest  # noqa: E402
from lbctl_common import Backend, LBCTL, STATE_DOC, lbctl, validate  # noqa: E402


class WatchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.backend = Backend([("a", []), ("b", ["--latency", "5ms"])], global_args=["--head-interval", "0"])

    @classmethod
    def tearDownClass(cls):
        cls.backend.stop()

    def setUp(self):
        for n in ("a", "b"):
            self.backend.control(n, {"status": 200})
        self.tmp = lbktest.tempdir()
        self.state = os.path.join(self.tmp.name, "state.json")

    def tearDown(self):
        self.tmp.cleanup()

    def start_watch(self, *extra, stderr=subprocess.DEVNULL):
        return lbktest.Proc([LBCTL, "watch", "--check", "jsonrpc", "--interval", "20ms", "--state",
                             self.state, self.backend.url("a"), self.backend.url("b")] + list(extra),
                            stdout=subprocess.DEVNULL, stderr=stderr)

    def read_state(self):
        with open(self.state) as f:
            return json.loads(f.read())

    def node(self, doc, name):
        port = self.backend.ports[name]
        return [n for n in doc["pools"][0]["nodes"] if n["url"].endswith(":%d/" % port)][0]

    def test_state_is_always_complete(self):
        w = self.start_watch()
        try:
            lbktest.wait_until(lambda: os.path.exists(self.state), timeout=10, what="first state")
            reads, rounds = 0, set()
            deadline = time.monotonic() + 4
            # Poll as fast as possible through many rewrites; every read must
            # parse and validate (json.loads raises on a partial file).
            while time.monotonic() < deadline and (reads < 2000 or len(rounds) < 20):
                doc = self.read_state()
                validate(doc, STATE_DOC)
                self.assertEqual(doc["format"], "lbctl-state")
                rounds.add(doc["round"])
                reads += 1
            self.assertGreaterEqual(len(rounds), 5, "the canary rewrote the file only %d times" % len(rounds))
            self.assertGreater(reads, 100)
        finally:
            rc = w.stop()
        self.assertEqual(rc, 0)
        # No temporary file is left behind.
        self.assertEqual(os.listdir(self.tmp.name), ["state.json"])
        doc = self.read_state()
        for name in ("a", "b"):
            n = self.node(doc, name)
            self.assertTrue(n["healthy"])
            self.assertEqual(n["health"], "up")
            self.assertEqual(n["version"], "lbk-testbackend/1.0.0")
            self.assertGreater(n["checks"], 1)

    def test_health_changes_are_recorded(self):
        w = self.start_watch(stderr=subprocess.PIPE)
        try:
            lbktest.wait_until(lambda: os.path.exists(self.state), timeout=10, what="first state")
            self.backend.control("b", {"status": 500})
            lbktest.wait_until(lambda: self.node(self.read_state(), "b")["health"] == "down",
                               timeout=10, what="b down")
            down = self.node(self.read_state(), "b")
            self.assertFalse(down["healthy"])
            self.assertIn("500", down["reason"])
            self.assertEqual(down["score"], 0)
            self.assertGreater(down["last_change_unix_ms"], 0)
            self.backend.control("b", {"status": 200})
            # rise = 2 consecutive successes bring it back.
            lbktest.wait_until(lambda: self.node(self.read_state(), "b")["health"] == "up",
                               timeout=10, what="b up again")
        finally:
            w.p.send_signal(signal.SIGINT)
            rc = w.p.wait(timeout=10)
            err = w.p.stderr.read().decode()
            w.p.stderr.close()
            w.stop()
        self.assertEqual(rc, 0, err)
        self.assertIn("up -> down", err)
        self.assertIn("down -> up", err)
        self.assertIn("SIGINT", err)

    def test_sigterm_during_a_round_stops_at_once(self):
        with Backend([("hang", ["--fault", "hang"])]) as b:
            w = lbktest.Proc([LBCTL, "watch", "--timeout", "20s", "--state", self.state, b.url("hang")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            # The banner is printed once the signal handlers are in place,
            # just before the first round starts.
            ready, _, _ = select.select([w.p.stderr], [], [], 10)
            self.assertTrue(ready, "no banner from lbctl watch")
            self.assertIn(b"every", w.p.stderr.readline())
            lbktest.wait_until(lambda: b.stats("hang")["connections"] >= 2, timeout=10,
                               what="the probe connected")
            t0 = time.monotonic()
            w.p.send_signal(signal.SIGTERM)
            rc = w.p.wait(timeout=10)
            self.assertLess(time.monotonic() - t0, 5)  # not the 20 s probe timeout
            w.p.stderr.close()
            w.stop()
        self.assertEqual(rc, 0)
        self.assertFalse(os.path.exists(self.state))  # no round completed: nothing written

    def test_once_exit_codes(self):
        r = lbctl("watch", "--once", "-q", "--state", self.state, self.backend.url("a"))
        self.assertEqual(r.returncode, 0, r.stderr)
        validate(self.read_state(), STATE_DOC)
        self.backend.control("b", {"status": 500})
        r = lbctl("watch", "--once", "-q", "--state", self.state, self.backend.url("a"), self.backend.url("b"))
        self.assertEqual(r.returncode, 1, r.stderr)
        r = lbctl("watch", "--once", "-q", "--state", self.state, self.backend.url("b"))
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertEqual(self.read_state()["pools"][0]["nodes"][0]["outcome"], "status")

    def test_unwritable_state_and_missing_state(self):
        r = lbctl("watch", "--once", "--state", os.path.join(self.tmp.name, "no", "dir", "s.json"),
                  self.backend.url("a"))
        self.assertEqual(r.returncode, 4)
        self.assertIn("s.json", r.stderr)
        r = lbctl("watch", "--once", self.backend.url("a"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("--state", r.stderr)

    def watch_config_for(self, cfg, seconds):
        """Runs `lbctl watch -c cfg` for @seconds after its first state file;
        returns (requests each listener got meanwhile, the last state)."""
        before = {n: self.backend.stats(n)["requests"] for n in ("a", "b")}
        w = lbktest.Proc([LBCTL, "watch", "-q", "-c", cfg, "--state", self.state],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            lbktest.wait_until(lambda: os.path.exists(self.state), timeout=10, what="first state")
            time.sleep(seconds)
            doc = self.read_state()
        finally:
            w.stop()
        return {n: self.backend.stats(n)["requests"] - before[n] for n in ("a", "b")}, doc

    def test_each_pool_is_probed_at_its_own_interval(self):
        cfg = os.path.join(self.tmp.name, "lbctl.ini")
        with open(cfg, "w") as f:
            f.write("[pool often]\ninterval = 100ms\nserver = %s\n"
                    "[pool seldom]\ninterval = 1500ms\nserver = %s\n"
                    % (self.backend.url("a"), self.backend.url("b")))
        probes, doc = self.watch_config_for(cfg, 2.2)
        # 100 ms: about 22 rounds in 2.2 s; 1.5 s: the first round and one
        # more.  Before, every pool went at the smallest interval (both ~22).
        self.assertGreaterEqual(probes["a"], 10, probes)
        self.assertLessEqual(probes["b"], 3, probes)
        self.assertGreaterEqual(probes["b"], 1, probes)
        self.assertEqual(doc["interval_ms"], 100)  # the file is rewritten that often

    def test_a_down_node_is_probed_at_downinter(self):
        self.backend.control("b", {"status": 500})
        cfg = os.path.join(self.tmp.name, "lbctl.ini")
        with open(cfg, "w") as f:
            f.write("[pool p]\ninterval = 100ms\ndowninter = 1s\nfall = 2\nrise = 2\n"
                    "server = %s\nserver = %s\n" % (self.backend.url("a"), self.backend.url("b")))
        probes, doc = self.watch_config_for(cfg, 2.2)
        # b: two failing probes 100 ms apart take it down (fall 2), then one a
        # second; a stays at 100 ms.
        self.assertGreaterEqual(probes["a"], 10, probes)
        self.assertLessEqual(probes["b"], 5, probes)
        self.assertEqual(self.node(doc, "b")["health"], "down")

    def test_state_file_from_config(self):
        cfg = os.path.join(self.tmp.name, "lbctl.ini")
        with open(cfg, "w") as f:
            f.write("[lbctl]\nstate_file = %s\n[pool p]\ninterval = 50ms\nserver = %s\n"
                    % (self.state, self.backend.url("a")))
        r = lbctl("watch", "--once", "-q", "-c", cfg)
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = self.read_state()
        self.assertEqual(doc["pools"][0]["name"], "p")
        self.assertEqual(doc["interval_ms"], 50)


if __name__ == "__main__":
    unittest.main(verbosity=2)
