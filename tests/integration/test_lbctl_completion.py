"""The bash completion file completes subcommands and option values, and
every option it offers exists in the subcommand's --help (kept in step)."""
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lbktest  # noqa: E402
from lbctl_common import lbctl  # noqa: E402

COMPLETION = os.path.join(lbktest.SOURCE_DIR, "cli", "lbctl.bash-completion")


def complete(*words):
    """COMPREPLY for the command line `words` (the last word is completed)."""
    words_q = " ".join("'%s'" % w for w in words)
    script = ('source "%s"; COMP_WORDS=(%s); COMP_CWORD=%d; _lbctl; printf "%%s\\n" "${COMPREPLY[@]}"'
              % (COMPLETION, words_q, len(words) - 1))
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return [l for l in r.stdout.splitlines() if l]


class CompletionTest(unittest.TestCase):
    def test_subcommands_and_values(self):
        self.assertEqual(complete("lbctl", "pro"), ["probe"])
        self.assertEqual(complete("lbctl", "forward", "-s", "h"), ["hedge"])
        self.assertEqual(complete("lbctl", "probe", "-o", ""), ["table", "json", "prometheus"])
        self.assertEqual(complete("lbctl", "rank", "--check", "j"), ["jsonrpc"])

    def test_offered_options_exist(self):
        for sub in ("probe", "rank", "forward", "watch", "check-config", "sync"):
            offered = complete("lbctl", sub, "-")
            self.assertTrue(offered, sub)
            help_text = lbctl(sub, "--help").stdout
            known = set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", help_text))
            for opt in offered:
                self.assertIn(opt, known, "%s %s is offered but not in --help" % (sub, opt))


if __name__ == "__main__":
    unittest.main(verbosity=2)
