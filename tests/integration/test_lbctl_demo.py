"""make demo (tests/support/demo.sh BUILD_DIR) runs to the end, shows probe,
rank and forward against the four local nodes, and leaves nothing behind."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lbktest  # noqa: E402

DEMO = os.path.join(lbktest.SOURCE_DIR, "tests", "support", "demo.sh")


class DemoTest(unittest.TestCase):
    def test_demo(self):
        with lbktest.tempdir() as tmp:
            r = lbktest.run(["bash", DEMO, lbktest.BUILD_DIR], timeout=120,
                            env=dict(os.environ, TMPDIR=tmp, NO_COLOR="1"))
            self.assertEqual(r.returncode, 0, r.stderr)
            out = r.stdout
            for cmd in ("$ lbctl probe", "$ lbctl rank", "$ lbctl forward"):
                self.assertIn(cmd, out)
            # Each section: the rest of the command line, the header, the rows.
            probe = out.split("$ lbctl probe", 1)[1].split("$ lbctl", 1)[0]
            verdicts = {line.split()[0]: line.split()[1] for line in probe.strip().splitlines()[2:]}
            self.assertEqual(verdicts, {"fast": "healthy", "slow": "healthy",
                                        "lagging": "unhealthy", "broken": "unhealthy"})
            rank = out.split("$ lbctl rank", 1)[1].split("$ lbctl", 1)[0].strip().splitlines()
            self.assertEqual([l.split()[1] for l in rank[2:4]], ["fast", "slow"])
            self.assertIn('"__server__"', out)
            self.assertIn("lbctl demo: done", out)
            # Its temporary directory (config, state, backend output) is gone.
            self.assertEqual(os.listdir(tmp), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
