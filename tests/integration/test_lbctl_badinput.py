"""lbctl with bad input: unknown subcommand or flag, bad INI (every error
with file:line and key), unreachable, unresolvable and never-answering
nodes (bounded by the timeout), an empty pool; --help and version."""
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lbktest  # noqa: E402
from lbctl_common import Backend, PROBE_DOC, lbctl, lbctl_json, validate  # noqa: E402

SUBCOMMANDS = ["probe", "rank", "forward", "watch", "check-config", "version"]


class UsageTest(unittest.TestCase):
    def test_unknown_subcommand_and_flag(self):
        r = lbctl("frobnicate")
        self.assertEqual(r.returncode, 2)
        self.assertIn("frobnicate", r.stderr)
        r = lbctl("probe", "--no-such-flag", "http://127.0.0.1:1/")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--no-such-flag", r.stderr)
        r = lbctl()
        self.assertEqual(r.returncode, 2)
        r = lbctl("probe", "-o", "xml", "http://127.0.0.1:1/")
        self.assertEqual(r.returncode, 2)

    def test_help_everywhere(self):
        r = lbctl("--help")
        self.assertEqual(r.returncode, 0)
        for cmd in SUBCOMMANDS:
            self.assertIn(cmd, r.stdout)
            h = lbctl(cmd, "--help")
            self.assertEqual(h.returncode, 0, cmd)
            self.assertIn("Usage", h.stdout, cmd)

    def test_version(self):
        r = lbctl("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^lbctl \d+\.\d+\.\d+")
        r = lbctl("version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"(?m)^liblbkit \d+\.\d+\.\d+$")
        self.assertRegex(r.stdout, r"(?m)^libcurl \d")
        self.assertRegex(r.stdout, r"(?m)^libevent \d")

    def test_no_nodes_and_bad_urls(self):
        r = lbctl("probe")
        self.assertEqual(r.returncode, 2)
        self.assertIn("no nodes", r.stderr)
        r = lbctl("probe", "ftp://127.0.0.1/")
        self.assertEqual(r.returncode, 2)
        self.assertIn("ftp", r.stderr)
        r = lbctl("probe", "tcp://127.0.0.1")
        self.assertEqual(r.returncode, 2)
        self.assertIn("port", r.stderr)
        r = lbctl("probe", "--timeout", "soon", "http://127.0.0.1:1/")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--timeout", r.stderr)


class ConfigTest(unittest.TestCase):
    def setUp(self):
        self.tmp = lbktest.tempdir()

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, text, name="lbctl.ini"):
        path = os.path.join(self.tmp.name, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_every_error_has_file_line_and_key(self):
        path = self.write(
            "[lbctl]\n"                          # 1
            "timeout = 2 seconds\n"              # 2
            "[pool eth]\n"                       # 3
            "method = nonsense\n"                # 4
            "server = ftp://x/\n"                # 5
            "server = http://a/ weight=0\n"      # 6
            "this line is not ini\n"             # 7
            "rise = many\n"                      # 8
            "color = blue\n"                     # 9
            "[mystery]\n"                        # 10
            "[pool empty]\n")                    # 11
        r = lbctl("check-config", "-c", path)
        self.assertEqual(r.returncode, 2)
        lines = [l for l in r.stderr.splitlines() if l.startswith(path + ":")]
        expected = [(2, "timeout"), (4, "method"), (5, "server"), (6, "server"), (7, None),
                    (8, "rise"), (9, "color"), (10, None), (11, "server")]
        got = []
        for l in lines:
            rest = l[len(path) + 1:]
            num, _, msg = rest.partition(": ")
            if num.isdigit():
                got.append((int(num), msg))
        self.assertEqual([n for n, _ in got], [n for n, _ in expected], r.stderr)
        for (num, key), (_, msg) in zip(expected, got):
            if key:
                self.assertTrue(msg.startswith(key + ":"), "line %d: %r" % (num, msg))
        self.assertIn("9 errors", r.stderr)
        # The same errors stop probe, with the same exit code.
        r = lbctl("probe", "-c", path)
        self.assertEqual(r.returncode, 2)
        self.assertIn(path + ":4: method:", r.stderr)

    def test_valid_config(self):
        path = self.write("; comment\n[lbctl]\ntimeout = 500ms\n[pool a]\ncheck = jsonrpc\nmax_lag = 3\n"
                          "server = http://127.0.0.1:8545/ name=one weight=2\n"
                          "server = https://example.invalid/rpc backup\n")
        r = lbctl("check-config", "-c", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("OK (1 pool, 2 servers)", r.stdout)

    def test_missing_file(self):
        r = lbctl("check-config", "-c", os.path.join(self.tmp.name, "absent.ini"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("absent.ini", r.stderr)

    def test_empty_pool(self):
        path = self.write("[pool lonely]\nmethod = rr\n")
        r = lbctl("probe", "-c", path)
        self.assertEqual(r.returncode, 2)
        self.assertIn(path + ":1:", r.stderr)
        self.assertIn("no server", r.stderr)
        path = self.write("[lbctl]\ntimeout = 1s\n", "nopools.ini")
        r = lbctl("probe", "-c", path)
        self.assertEqual(r.returncode, 3)  # nothing to probe: none healthy

    def test_duplicate_names(self):
        path = self.write("[pool a]\nserver = http://127.0.0.1:1/ name=x\nserver = http://127.0.0.1:2/ name=x\n"
                          "[pool a]\nserver = http://127.0.0.1:3/\n")
        r = lbctl("check-config", "-c", path)
        self.assertEqual(r.returncode, 2)
        self.assertIn(path + ":3: server: server name 'x' already used at line 2", r.stderr)
        self.assertIn(path + ":4:", r.stderr)


class UnreachableTest(unittest.TestCase):
    def test_refused(self):
        url = "http://127.0.0.1:%d/" % lbktest.free_port()
        r, doc = lbctl_json("probe", "-o", "json", url)
        self.assertEqual(r.returncode, 3)
        validate(doc, PROBE_DOC)
        self.assertEqual(doc["nodes"][0]["outcome"], "connect")
        self.assertIn("refused", doc["nodes"][0]["error"].lower())

    def test_unresolvable(self):
        t0 = time.monotonic()
        r, doc = lbctl_json("probe", "-o", "json", "--timeout", "3s", "http://no-such-node.invalid/")
        self.assertLess(time.monotonic() - t0, 30)
        self.assertEqual(r.returncode, 3)
        n = doc["nodes"][0]
        self.assertIn(n["outcome"], ("dns", "timeout"))
        self.assertTrue(n["error"])

    def test_never_answering_is_bounded_by_timeout(self):
        with Backend([("hang", ["--fault", "hang"]), ("ok", [])]) as b:
            t0 = time.monotonic()
            r, doc = lbctl_json("probe", "-o", "json", "--timeout", "300ms", b.url("hang"), b.url("ok"))
            elapsed = time.monotonic() - t0
            self.assertEqual(r.returncode, 1, r.stderr)
            nodes = {n["url"]: n for n in doc["nodes"]}
            self.assertEqual(nodes[b.url("hang")]["outcome"], "timeout")
            self.assertTrue(nodes[b.url("ok")]["healthy"])
            self.assertGreaterEqual(elapsed, 0.3)
            self.assertLess(elapsed, 10)  # bounded, with wide margin for a loaded machine
            # forward: the only healthy node answers; a hanging node given by
            # state is abandoned after --max-time.
            r = lbctl("forward", "--timeout", "300ms", b.url("hang"), b.url("ok"))
            self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
