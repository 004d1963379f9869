"""A probe timeout never fires before its configured time, measured from
outside the process: `lbctl probe --timeout 60ms` of a node that never
answers, 15 times; each run, from before the process starts to its exit,
lasts at least 60 ms and reports a timeout of at least 60 ms."""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lbctl_common import Backend, lbctl_json  # noqa: E402

TIMEOUT_MS = 60


class TimeoutLowerBound(unittest.TestCase):
    def test_probe_timeout_never_early(self):
        with Backend([("hang", ["--fault", "hang"])]) as b:
            for attempt in range(15):
                t0 = time.monotonic()
                r, doc = lbctl_json("probe", "-o", "json", "--timeout", f"{TIMEOUT_MS}ms",
                                    b.url("hang"))
                elapsed_ms = (time.monotonic() - t0) * 1000
                self.assertEqual(r.returncode, 3, r.stderr)
                node = doc["nodes"][0]
                self.assertEqual(node["outcome"], "timeout", node)
                self.assertGreaterEqual(elapsed_ms, TIMEOUT_MS, attempt)
                self.assertGreaterEqual(node["total_ms"], TIMEOUT_MS, (attempt, node))


if __name__ == "__main__":
    unittest.main(verbosity=2)
