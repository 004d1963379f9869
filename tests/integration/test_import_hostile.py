"""lbctl import with hostile or broken input:

- a quoted haproxy.cfg value holding a newline, ';' or '#' is written as an
  escaped INI value: it does not open a new section, and read back it is the
  same text (a real probe with the imported configuration finds the body);
- an empty address is rejected with FILE:LINE (both importers);
- an nginx.conf nesting 20,000 blocks is refused with a clear error, quickly,
  instead of overflowing the stack.
"""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lbktest  # noqa: E402
from lbctl_common import Backend, lbctl, lbctl_json  # noqa: E402

BODY = "ok ; #1\n[pool evil]\nserver = http://127.0.0.1:9/"


def write(directory, name, text):
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(text)
    return path


class ImportHostileTest(unittest.TestCase):
    def test_values_with_newlines_round_trip(self):
        with Backend([("a", ["--body", BODY])]) as b, lbktest.tempdir() as tmp:
            cfg = write(tmp, "haproxy.cfg",
                        "backend api\n"
                        "    option httpchk GET /\n"
                        "    http-check expect string \"%s\"\n"
                        "    server a 127.0.0.1:%d check\n"
                        % (BODY.replace("\n", "\\n"), b.ports["a"]))
            r = lbctl("import", cfg)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertNotIn("[pool evil]\n", r.stdout)
            ini = write(tmp, "lbctl.ini", r.stdout)
            r = lbctl("check-config", "-c", ini)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("OK (1 pool, 1 server)", r.stdout)
            # The expected body, read back from the INI, matches the real one.
            r, doc = lbctl_json("probe", "-c", ini, "-o", "json")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(doc["nodes"][0]["healthy"], doc["nodes"][0])
            # And a body that lacks it fails: the value was not cut short.
            b.control("a", {"body": "ok "})
            r, doc = lbctl_json("probe", "-c", ini, "-o", "json")
            self.assertFalse(doc["nodes"][0]["healthy"])

    def test_empty_addresses_are_rejected_with_file_and_line(self):
        cases = [("haproxy.cfg", "backend api\n    server a 10.0.0.1:80\n    server b :8080 check\n",
                  ":3: server b ':8080': the address has no host"),
                 ("nginx.conf", "http {\n  upstream u {\n    server 10.0.0.1:80;\n    server :80;\n  }\n}\n",
                  ":4: server ':80': the address has no host")]
        with lbktest.tempdir() as tmp:
            for name, text, error in cases:
                path = write(tmp, name, text)
                r = lbctl("import", path)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(path + error, r.stderr)
                self.assertEqual(r.stdout, "")

    def test_deep_nginx_nesting_is_refused(self):
        with lbktest.tempdir() as tmp:
            depth = 20000
            conf = write(tmp, "nginx.conf", "http {\n" + "a {\n" * depth + "}\n" * (depth + 1))
            started = time.monotonic()
            r = lbctl("import", "--from", "nginx", conf, timeout=60)
            elapsed = time.monotonic() - started
            self.assertEqual(r.returncode, 2, r.stderr[-500:])
            self.assertIn("line 65: blocks nested deeper than 64 levels", r.stderr)
            self.assertLess(elapsed, 10)


if __name__ == "__main__":
    unittest.main()
