"""What a hostile backend on 127.0.0.1 must never do to lbctl:

- text (version, error message) with multi-byte UTF-8 characters where
  liblbkit cuts it must not stop `lbctl watch` (it keeps writing its state
  file), `rank -o json` or `forward --annotate`; every string written is
  valid UTF-8;
- an endless reply body must not grow `lbctl forward` without bound
  (--max-size, exit 4);
- a reply nesting JSON 100,000 levels deep must not crash `forward
  --annotate` (printed unchanged, said on stderr).
"""
import json
import os
import resource
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lbktest  # noqa: E402
from lbctl_common import Backend, LBCTL, STATE_DOC, lbctl, validate  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def sanitized_build():
    """Whether LBK_BUILD_DIR was configured with -DLBK_SANITIZE=ON."""
    with open(lbktest.build_path("CMakeCache.txt")) as f:
        return "LBK_SANITIZE:BOOL=ON" in f.read()
# 62 ASCII bytes then two-byte characters: liblbkit's 63-byte version cut
# falls inside the first of them.
VERSION = "a" * 62 + "é" * 3
ERROR_MESSAGE = "é" * 150 + "€" * 40  # longer than a reason


class HostileBackend:
    """tests/integration/hostile_backend.py in its own process."""

    def __init__(self):
        self.proc = lbktest.Proc([sys.executable, os.path.join(HERE, "hostile_backend.py")],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        line = self.proc.p.stdout.readline().decode()
        if not line.startswith("listening "):
            self.proc.stop()
            raise RuntimeError("hostile backend did not start: %r" % line)
        self.port = int(line.split()[1])

    def url(self, path="/"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def stop(self):
        self.proc.stop()
        self.proc.p.stdout.close()


def strict_json(data):
    """Parses bytes that must be valid UTF-8 JSON."""
    return json.loads(data.decode("utf-8", errors="strict"))


class MultiByteTextTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.backend = Backend([("a", ["--client-version", VERSION]),
                               ("b", ["--rpc-error", "eth_blockNumber=-32000:" + ERROR_MESSAGE])],
                              global_args=["--head-interval", "0"])

    @classmethod
    def tearDownClass(cls):
        cls.backend.stop()

    def test_watch_keeps_running_and_writing(self):
        with lbktest.tempdir() as tmp:
            state = os.path.join(tmp, "state.json")
            w = lbktest.Proc([LBCTL, "watch", "--check", "jsonrpc", "--interval", "50ms", "--state", state,
                              self.backend.url("a"), self.backend.url("b")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            try:
                def rounds():
                    if w.p.poll() is not None:
                        raise AssertionError("lbctl watch exited with %d: %s"
                                             % (w.p.returncode, w.p.stderr.read().decode("utf-8", "replace")))
                    if not os.path.exists(state):
                        return 0
                    with open(state, "rb") as f:
                        return strict_json(f.read())["round"]
                lbktest.wait_until(lambda: rounds() >= 5, timeout=20, what="five rounds written")
                with open(state, "rb") as f:
                    doc = strict_json(f.read())
                validate(doc, STATE_DOC)
                nodes = {n["url"]: n for n in doc["pools"][0]["nodes"]}
                a = nodes[self.backend.url("a")]
                b = nodes[self.backend.url("b")]
                self.assertTrue(a["healthy"])
                self.assertTrue(a["version"].startswith("a" * 60), a["version"])
                self.assertFalse(b["healthy"])
                self.assertIn("é", b["reason"])
                self.assertIsNone(w.p.poll(), "lbctl watch stopped")
            finally:
                rc = w.stop()
                w.p.stderr.close()
            self.assertEqual(rc, 0)

    def test_rank_json(self):
        r = lbktest.run([LBCTL, "rank", "--check", "jsonrpc", "-o", "json",
                         self.backend.url("a"), self.backend.url("b")], text=False)
        self.assertIn(r.returncode, (0, 1), r.stderr)
        doc = strict_json(r.stdout)
        versions = [n["version"] for n in doc["pools"][0]["nodes"]]
        self.assertTrue(any(v.startswith("a" * 60) for v in versions), versions)

    def test_forward_annotate(self):
        r = lbktest.run([LBCTL, "forward", "--check", "jsonrpc", "--annotate", "-d",
                         '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}',
                         self.backend.url("a")], text=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = strict_json(r.stdout)
        self.assertEqual(doc["__server__"], self.backend.url("a"))
        self.assertTrue(doc["__version__"].startswith("a" * 60), doc["__version__"])


class HostileReplyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.backend = HostileBackend()

    @classmethod
    def tearDownClass(cls):
        cls.backend.stop()

    def test_endless_body_is_cut_at_max_size(self):
        started = time.monotonic()
        r = lbctl("forward", "--max-time", "60s", "--max-size", "1MiB", "-p", "/endless",
                  self.backend.url(), timeout=90)
        elapsed = time.monotonic() - started
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn("larger than --max-size (1048576 bytes)", r.stderr)
        self.assertEqual(r.stdout, "")
        # Cut by the size bound, long before the time bound.
        self.assertLess(elapsed, 30)

    def test_endless_body_default_bound(self):
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        r = lbctl("forward", "--max-time", "60s", "-p", "/endless", self.backend.url(), timeout=90)
        after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn("larger than --max-size (67108864 bytes)", r.stderr)
        # ru_maxrss (KiB) of the largest child so far: only grows when lbctl
        # is the largest; 64 MiB of reply plus lbctl itself stays under 200 MiB.
        # Under AddressSanitizer (make asan) the allocator reuses no block a
        # growing string left behind and adds its shadow: up to about twice
        # the reply, 400 MiB.  Unbounded, the reply grew by gigabytes a minute.
        if after > before:
            self.assertLess(after, (400 if sanitized_build() else 200) * 1024)

    def test_annotate_deep_nesting(self):
        r = lbktest.run([LBCTL, "forward", "--annotate", "-p", "/deep?n=100000", self.backend.url()],
                        timeout=60, text=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b'{"result":' + b"[" * 100000 + b"]" * 100000 + b"}")
        self.assertIn(b"deeper than 256 levels", r.stderr)

    def test_annotate_shallow_reply_still_annotated(self):
        r = lbktest.run([LBCTL, "forward", "--annotate", "-p", "/deep?n=200", self.backend.url()],
                        timeout=60, text=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = strict_json(r.stdout)
        self.assertEqual(doc["__server__"], self.backend.url())


if __name__ == "__main__":
    unittest.main()
