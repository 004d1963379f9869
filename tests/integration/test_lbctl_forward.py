"""lbctl forward end to end: best picks the best node; bodies from an
argument, a file and stdin; -i and -v; --annotate; retry on a refused node;
race refused for POST without --force and sent to K nodes with it; hedge
cuts the tail when the best node turns slow."""
import json
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lbktest  # noqa: E402
from lbctl_common import BackendCase, lbctl, write_state  # noqa: E402

RPC = '{"jsonrpc":"2.0","id":7,"method":"eth_blockNumber","params":[]}'


class ForwardTest(BackendCase):
    LISTENERS = [
        ("fast", ["--body", "from-fast\n"]),
        ("slow", ["--body", "from-slow\n", "--latency", "40ms"]),
        ("broken", ["--status", "500"]),
    ]

    def setUp(self):
        for name in ("fast", "slow", "broken"):
            self.backend.control(name, {"latency_ms": 40 if name == "slow" else 0, "reset_stats": True})

    def requests(self, name, path):
        return self.backend.stats(name)["by_path"].get(path, 0)

    def fresh_state(self, *names):
        """A canary state of @names from `lbctl watch --once`."""
        path = os.path.join(self.dir, "state-%s.json" % "-".join(names))
        r = lbctl("watch", "--once", "-q", "--state", path, *[self.url(n) for n in names])
        self.assertIn(r.returncode, (0, 1), r.stderr)
        return path

    def test_best_picks_fastest_healthy(self):
        r = lbctl("forward", "-v", self.url("broken"), self.url("slow"), self.url("fast"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "from-fast\n")
        self.assertIn("rank 1", r.stderr)
        self.assertIn(self.url("fast"), r.stderr)

    def loaded_libraries(self, *args):
        """The shared objects ld.so loads while lbctl runs @args (LD_DEBUG=files)."""
        r = lbctl(*args, env={"LD_DEBUG": "files"})
        return r, set(re.findall(r"\bfile=(\S+) \[", r.stderr))

    def test_state_forward_loads_neither_libevent_nor_inih(self):
        # lbctl loads libraries on first use (README, "lbctl forward" start-up):
        # forward --state never probes and reads no configuration file.
        path = self.fresh_state("fast")
        r, loaded = self.loaded_libraries("forward", "--state", path)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        self.assertEqual(r.stdout, "from-fast\n")
        self.assertIn("libcurl.so.4", loaded)
        self.assertEqual([f for f in loaded if "libevent" in f or "libinih" in f], [])
        # The prober does load libevent (and no libcurl); a config file, inih.
        r, loaded = self.loaded_libraries("probe", self.url("fast"))
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        self.assertTrue(any(f.startswith("libevent_core") for f in loaded), loaded)
        self.assertNotIn("libcurl.so.4", loaded)
        ini = os.path.join(self.dir, "lazy.ini")
        with open(ini, "w") as f:
            f.write("[pool api]\nserver = %s\n" % self.url("fast"))
        r, loaded = self.loaded_libraries("check-config", "-c", ini)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        self.assertTrue(any(f.startswith("libinih") for f in loaded), loaded)

    def test_include_headers_and_path(self):
        r = lbctl("forward", "-i", "-p", "/some/path?x=1", self.url("fast"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("HTTP/1.1 200"), r.stdout)
        # (text mode turns the reply's CRLFs into newlines)
        self.assertIn("Content-Length: 10\n\nfrom-fast\n", r.stdout)
        self.assertEqual(self.requests("fast", "/some/path"), 1)

    def test_body_argument_file_stdin(self):
        body_file = os.path.join(self.dir, "body.json")
        with open(body_file, "w") as f:
            f.write(RPC)
        for data, stdin in ((RPC, None), ("@" + body_file, None), ("-", RPC)):
            r = lbctl("forward", "-d", data, self.url("fast"), input=stdin)
            self.assertEqual(r.returncode, 0, r.stderr)
            reply = json.loads(r.stdout)
            self.assertEqual(reply["id"], 7, data)  # the body reached the node
            self.assertEqual(reply["result"], "0x3e8")
        r = lbctl("forward", "-d", "@" + os.path.join(self.dir, "nope.json"), self.url("fast"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("nope.json", r.stderr)

    def test_annotate(self):
        r = lbctl("forward", "--check", "jsonrpc", "--annotate", "-d", RPC, self.url("fast"))
        self.assertEqual(r.returncode, 0, r.stderr)
        reply = json.loads(r.stdout)
        self.assertEqual(reply["__server__"], self.url("fast"))
        self.assertEqual(reply["__version__"], "lbk-testbackend/1.0.0")
        self.assertEqual(reply["id"], 7)

    def test_retry_on_refused_node(self):
        refused = "http://127.0.0.1:%d/" % lbktest.free_port()
        state = os.path.join(self.dir, "refused.json")
        write_state(state, [{"name": "gone", "url": refused, "p50": 0.1},
                            {"name": "fast", "url": self.url("fast"), "p50": 1.0}])
        r = lbctl("forward", "-v", "--state", state)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "from-fast\n")
        self.assertIn("gone", r.stderr)
        self.assertIn("failover after a failure of gone", r.stderr)
        # Without retries the refused node is the only attempt.
        r = lbctl("forward", "--retries", "0", "--state", state)
        self.assertEqual(r.returncode, 4)
        self.assertEqual(r.stdout, "")

    def test_no_healthy_node(self):
        r = lbctl("forward", self.url("broken"))
        self.assertEqual(r.returncode, 3)
        self.assertIn("no healthy", r.stderr)

    def test_race_refused_for_post_without_force(self):
        r = lbctl("forward", "-s", "race", "-d", "plain text", self.url("fast"), self.url("slow"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("--force", r.stderr)
        self.assertEqual(self.requests("fast", "/"), 0)
        r = lbctl("forward", "-s", "hedge", "-X", "PATCH", self.url("fast"), self.url("slow"))
        self.assertEqual(r.returncode, 2)
        r = lbctl("forward", "-s", "race", "--force", "-d", "plain text", self.url("fast"), self.url("slow"))
        self.assertEqual(r.returncode, 0, r.stderr)
        # A JSON-RPC read is idempotent whatever its POST: no --force needed.
        r = lbctl("forward", "-s", "race", "-d", RPC, self.url("fast"), self.url("slow"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["id"], 7)

    def test_race_sends_to_k_nodes_first_wins(self):
        state = self.fresh_state("fast", "slow")
        r = lbctl("forward", "-s", "race", "--race-count", "2", "-p", "/race", "--state", state)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "from-fast\n")
        # Both nodes received the request: race multiplies the load.
        lbktest.wait_until(lambda: self.requests("slow", "/race") == 1, timeout=5, what="slow got the race")
        self.assertEqual(self.requests("fast", "/race"), 1)

    def test_best_sends_once(self):
        state = self.fresh_state("fast", "slow")
        r = lbctl("forward", "-p", "/once", "--state", state)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.requests("fast", "/once"), 1)
        self.assertEqual(self.requests("slow", "/once"), 0)

    def test_hedge_cuts_the_tail(self):
        # The canary saw "fast" as the best; now it turns slow for the next
        # request.  best waits for it; hedge also asks "slow" (40 ms) after
        # the hedge delay and takes the first reply.
        state = self.fresh_state("fast", "slow")
        self.backend.control("fast", {"latency_ms": 1500})
        t0 = time.monotonic()
        r = lbctl("forward", "-p", "/tail", "--state", state)
        best_s = time.monotonic() - t0
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "from-fast\n")
        t0 = time.monotonic()
        r = lbctl("forward", "-v", "-s", "hedge", "--hedge-delay", "50ms", "-p", "/tail", "--state", state)
        hedge_s = time.monotonic() - t0
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "from-slow\n")
        self.assertIn("hedge", r.stderr)
        self.assertIn("cancelled", r.stderr)
        self.assertGreaterEqual(best_s, 1.2)  # the 1.5 s delay, less timer slack
        self.assertLess(hedge_s, best_s / 2, "hedge %.3fs vs best %.3fs" % (hedge_s, best_s))

    def test_hedge_delay_defaults_to_best_p95(self):
        state = os.path.join(self.dir, "p95.json")
        write_state(state, [{"name": "fast", "url": self.url("fast"), "p50": 3.0, "p95": 25.0},
                            {"name": "slow", "url": self.url("slow"), "p50": 40.0, "p95": 45.0}])
        r = lbctl("forward", "-v", "-s", "hedge", "--state", state)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("hedge delay 25 ms", r.stderr)
        write_state(state, [{"name": "fast", "url": self.url("fast"), "p50": -1, "p95": -1}])
        r = lbctl("forward", "-v", "-s", "hedge", "--state", state)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("hedge delay 50 ms", r.stderr)

    def test_hedge_not_sent_when_best_answers_in_time(self):
        state = self.fresh_state("fast", "slow")
        r = lbctl("forward", "-s", "hedge", "--hedge-delay", "2s", "-p", "/quick", "--state", state)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "from-fast\n")
        self.assertEqual(self.requests("slow", "/quick"), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
