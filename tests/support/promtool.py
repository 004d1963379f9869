"""`promtool check metrics` (Debian's prometheus package) on a Prometheus
text exposition; a missing promtool fails the test."""
import os
import subprocess

PROMTOOL = os.environ.get("LBK_PROMTOOL", "/usr/bin/promtool")


def check_metrics(test, text):
    """Asserts that promtool accepts @text with no complaint (lint
    included: names, units, HELP, counters ending in _total)."""
    if not os.path.exists(PROMTOOL):
        raise RuntimeError(f"{PROMTOOL} not found (apt-get install prometheus)")
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=text,
                       capture_output=True, text=True, timeout=60)
    test.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""))
