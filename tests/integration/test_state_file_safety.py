"""The canary's state file is written safely and read defensively:

- a symlink planted at the temporary name the writer used to pick
  ("STATE.tmp.PID") is not followed: its target is untouched and the state
  file is a regular file of mode 0600 (node URLs may carry credentials);
- readers (`rank --state`) refuse a FIFO at once instead of blocking, and a
  file larger than the bound.
"""
import os
import stat
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lbktest  # noqa: E402
from lbctl_common import Backend, LBCTL, lbctl, write_state  # noqa: E402


class StateFileSafetyTest(unittest.TestCase):
    def test_planted_symlink_is_not_followed_and_mode_is_0600(self):
        with Backend([("slow", ["--latency", "1500ms"])]) as b, lbktest.tempdir() as tmp:
            state = os.path.join(tmp, "state.json")
            victim = os.path.join(tmp, "victim")
            with open(victim, "w") as f:
                f.write("precious\n")
            os.chmod(victim, 0o644)
            old_umask = os.umask(0o022)
            try:
                w = lbktest.Proc([LBCTL, "watch", "--interval", "100ms", "--timeout", "5s",
                                  "--state", state, b.url("slow")],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            finally:
                os.umask(old_umask)
            try:
                # The first round takes 1.5 s: plant the link before it ends.
                os.symlink(victim, "%s.tmp.%d" % (state, w.pid))
                lbktest.wait_until(lambda: os.path.exists(state), timeout=20, what="state file")
                time.sleep(0.5)
            finally:
                rc = w.stop()
            self.assertEqual(rc, 0)
            with open(victim) as f:
                self.assertEqual(f.read(), "precious\n")
            st = os.lstat(state)
            self.assertTrue(stat.S_ISREG(st.st_mode), "the state file is not a regular file")
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
            # Only the state file, the victim and the planted link remain.
            self.assertEqual(sorted(os.listdir(tmp)),
                             sorted(["state.json", "victim", "state.json.tmp.%d" % w.pid]))

    def test_readers_refuse_fifo_and_oversized_files(self):
        with lbktest.tempdir() as tmp:
            fifo = os.path.join(tmp, "fifo.json")
            os.mkfifo(fifo)
            r = lbctl("rank", "--state", fifo, timeout=10)
            self.assertEqual(r.returncode, 4, r.stderr)
            self.assertIn("not a regular file", r.stderr)
            big = os.path.join(tmp, "big.json")
            write_state(big, [{"name": "a", "url": "http://127.0.0.1:9/"}])
            with open(big, "r+b") as f:
                f.truncate(65 << 20)
            r = lbctl("rank", "--state", big, timeout=30)
            self.assertEqual(r.returncode, 4, r.stderr)
            self.assertIn("larger than 67108864 bytes", r.stderr)


if __name__ == "__main__":
    unittest.main()
