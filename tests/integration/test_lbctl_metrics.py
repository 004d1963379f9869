"""lbctl as a Prometheus exporter: `watch` and `agent` with
--metrics-listen serve /metrics that promtool accepts, with the nodes'
health, last probe (blackbox_exporter's names), HTTP status, JSON-RPC head
and lag, checks by result, build info, and for an https node the expiry of
the certificate the test made (compared with `openssl x509 -enddate`).
watch's log lines start with an RFC 3339 time; -v adds a line per round.
"""
import calendar
import os
import re
import select
import socket
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lbktest  # noqa: E402
import promtool  # noqa: E402
from lbctl_common import LBCTL, Backend, gen_cert  # noqa: E402

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ")
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} (\S+)$')


def parse(text):
    """{(name, labels text): value} of every labelled sample."""
    out = {}
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if m:
            out[(m.group(1), m.group(2))] = float(m.group(3))
    return out


def scrape(address, path="/metrics"):
    with urllib.request.urlopen(f"http://{address}{path}", timeout=10) as r:
        return r.status, r.headers.get("Content-Type"), r.read().decode()


def read_line(proc, prefix, timeout=10):
    """The first stdout line of @proc starting with @prefix."""
    deadline = time.monotonic() + timeout
    buf = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.p.stdout], [], [], 0.2)
        if ready:
            chunk = os.read(proc.p.stdout.fileno(), 4096)
            if not chunk:
                break
            buf += chunk
            for line in buf.decode().splitlines():
                if line.startswith(prefix):
                    return line[len(prefix):].strip()
        elif proc.p.poll() is not None:
            break
    raise AssertionError(f"no '{prefix}' line on stdout: {buf!r}")


class MetricsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = lbktest.tempdir()
        cls.cert, key = gen_cert(cls.tmp.name)
        cls.backend = Backend([
            ("a", ["--head", "500"]), ("b", ["--head", "480"]), ("bad", ["--status", "500"]),
            ("tls", ["--tls-cert", cls.cert, "--tls-key", key])], global_args=["--head-interval", "0"])
        port = cls.backend.ports
        cls.config = os.path.join(cls.tmp.name, "nodes.ini")
        with open(cls.config, "w") as f:
            f.write("[pool rpc]\ncheck = jsonrpc\ninterval = 100ms\nrise = 1\nfall = 1\n"
                    "max_lag = 50\n"  # b lags by 20 and stays up: its lag is what is shown
                    f"server = http://127.0.0.1:{port['a']}/ name=a\n"
                    f"server = http://127.0.0.1:{port['b']}/ name=b\n"
                    f"server = http://127.0.0.1:{port['bad']}/ name=bad\n"
                    "[pool secure]\ninterval = 100ms\nrise = 1\n"
                    f"ca_file = {cls.cert}\n"
                    f"server = https://127.0.0.1:{port['tls']}/ name=tls\n")
        r = subprocess.run(["openssl", "x509", "-enddate", "-noout", "-in", cls.cert],
                           capture_output=True, text=True, timeout=30, check=True)
        # notAfter=Dec  4 05:50:00 2026 GMT
        cls.not_after = calendar.timegm(time.strptime(r.stdout.strip().split("=", 1)[1],
                                                      "%b %d %H:%M:%S %Y %Z"))

    @classmethod
    def tearDownClass(cls):
        cls.backend.stop()
        cls.tmp.cleanup()

    def start(self, *argv):
        proc = lbktest.Proc([LBCTL, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(proc.p.stderr.close)
        self.addCleanup(proc.p.stdout.close)
        self.addCleanup(proc.stop)
        return proc

    def wait_rounds(self, address, rounds):
        def enough():
            _, _, text = scrape(address)
            m = re.search(r"^lbctl_rounds_total (\d+)", text, re.M)
            return m and int(m.group(1)) >= rounds and text
        return lbktest.wait_until(enough, timeout=15, what=f"{rounds} rounds in /metrics")

    def check_node_metrics(self, text, command):
        promtool.check_metrics(self, text)
        # lbctl(1) documents every metric
        with open(os.path.join(lbktest.SOURCE_DIR, "man", "lbctl.1")) as f:
            page = f.read()
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                self.assertIn(".B " + line.split()[2] + "\n", page)
        s = parse(text)
        lbl = {n: f'pool="{p}",node="{n}",url="{u}"' for p, n, u in (
            ("rpc", "a", f"http://127.0.0.1:{self.backend.ports['a']}/"),
            ("rpc", "b", f"http://127.0.0.1:{self.backend.ports['b']}/"),
            ("rpc", "bad", f"http://127.0.0.1:{self.backend.ports['bad']}/"),
            ("secure", "tls", f"https://127.0.0.1:{self.backend.ports['tls']}/"))}
        self.assertEqual(s[("lbctl_build_info", self.build_labels(text, command))], 1)
        self.assertEqual(s[("probe_success", lbl["a"])], 1)
        self.assertEqual(s[("probe_success", lbl["bad"])], 0)
        self.assertEqual(s[("probe_success", lbl["tls"])], 1)
        self.assertEqual(s[("lbctl_node_up", lbl["a"])], 1)
        self.assertEqual(s[("lbctl_node_up", lbl["bad"])], 0)
        self.assertEqual(s[("probe_http_status_code", lbl["bad"])], 500)
        self.assertEqual(s[("probe_http_status_code", lbl["tls"])], 200)
        self.assertEqual(s[("lbctl_node_jsonrpc_head", lbl["a"])], 500)
        self.assertEqual(s[("lbctl_node_jsonrpc_lag", lbl["b"])], 20)
        self.assertGreater(s[("lbctl_node_checks_total", lbl["bad"] + ',result="failure"')], 0)
        self.assertGreater(s[("lbctl_node_checks_total", lbl["a"] + ',result="success"')], 0)
        self.assertGreater(s[("probe_duration_seconds", lbl["a"])], 0)
        return s, lbl

    def build_labels(self, text, command):
        m = re.search(r'^lbctl_build_info\{(version="[^"]+",command="' + command + r'")\} 1$', text, re.M)
        self.assertTrue(m, text[:300])
        return m.group(1)

    def test_watch_exports_probes_and_certificate_expiry(self):
        w = self.start("watch", "-v", "-c", self.config, "--state",
                       os.path.join(self.tmp.name, "state.json"), "--metrics-listen", "127.0.0.1:0")
        address = read_line(w, "metrics listening ")
        self.assertRegex(address, r"^127\.0\.0\.1:\d+$")
        text = self.wait_rounds(address, 3)
        status, ctype, _ = scrape(address)
        self.assertEqual((status, ctype), (200, "text/plain; version=0.0.4; charset=utf-8"))
        s, lbl = self.check_node_metrics(text, "watch")
        # the phases of an https probe, blackbox_exporter's phase names
        for phase in ("connect", "tls", "processing"):
            self.assertGreater(s[("probe_http_duration_seconds", lbl["tls"] + f',phase="{phase}"')], 0,
                               phase)
        self.assertEqual(s[("probe_http_duration_seconds", lbl["a"] + ',phase="tls"')], 0)
        self.assertEqual(s[("probe_tls_version_info", lbl["tls"] + ',version="TLSv1.3"')], 1)
        # the certificate's notAfter, as openssl prints it
        self.assertEqual(s[("probe_ssl_earliest_cert_expiry", lbl["tls"])], self.not_after)
        left = s[("lbctl_node_cert_expiry_seconds", lbl["tls"])]
        self.assertLess(abs(left - (self.not_after - time.time())), 60)
        self.assertNotIn(("probe_ssl_earliest_cert_expiry", lbl["a"]), s)
        with self.assertRaises(urllib.error.HTTPError) as e:
            scrape(address, "/other")
        self.assertEqual(e.exception.code, 404)

        w.p.terminate()
        self.assertEqual(w.p.wait(timeout=10), 0)
        lines = w.p.stderr.read().decode().splitlines()
        self.assertTrue(lines)
        for line in lines:
            self.assertRegex(line, RFC3339.pattern + "lbctl watch: ")
        rounds = [line for line in lines if " lbctl watch: round " in line]
        self.assertGreaterEqual(len(rounds), 3, lines)
        self.assertRegex(rounds[-1], r"round \d+: probed \d+ in [\d.]+ ms; 3 up, 1 down, 0 other; "
                                     r"\d+ changed; next in \d+ ms$")
        self.assertTrue(any("node bad: down" in line for line in lines), lines)

    def test_port_alone_listens_on_loopback(self):
        port = lbktest.free_port()
        w = self.start("watch", "-q", "-c", self.config, "--state",
                       os.path.join(self.tmp.name, "state2.json"), "--metrics-listen", str(port))
        self.assertEqual(read_line(w, "metrics listening "), f"127.0.0.1:{port}")
        promtool.check_metrics(self, self.wait_rounds(f"127.0.0.1:{port}", 1))

    def test_bad_or_busy_address(self):
        r = subprocess.run([LBCTL, "watch", "-c", self.config, "--state",
                            os.path.join(self.tmp.name, "s.json"), "--metrics-listen", "localhost:x"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn("--metrics-listen: expected ADDR:PORT", r.stderr)
        with lbktest.Proc([LBCTL, "watch", "-q", "-c", self.config, "--state",
                           os.path.join(self.tmp.name, "s3.json"), "--metrics-listen", "127.0.0.1:0"],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as first:
            address = read_line(first, "metrics listening ")
            first.p.stdout.close()
            r = subprocess.run([LBCTL, "watch", "-c", self.config, "--state",
                                os.path.join(self.tmp.name, "s4.json"), "--metrics-listen", address],
                               capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn("cannot listen on " + address, r.stderr)

    def test_hostile_requests_are_bounded(self):
        w = self.start("watch", "-q", "-c", self.config, "--state",
                       os.path.join(self.tmp.name, "state6.json"), "--metrics-listen", "127.0.0.1:0")
        address = read_line(w, "metrics listening ")
        host, port = address.rsplit(":", 1)
        for request, want in ((b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx", b" 405 "),
                              (b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n",
                               b""),
                              (b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n", b" 200 ")):
            with socket.create_connection((host, int(port)), timeout=10) as conn:
                conn.sendall(request)
                reply = b""
                for _ in range(100):
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    reply += chunk
                    if b"\r\n\r\n" in reply and request.startswith(b"HEAD"):
                        break
            if want:
                self.assertIn(want, reply.split(b"\r\n", 1)[0], request[:20])
            else:  # headers over the bound: refused, never served
                self.assertNotIn(b" 200 ", reply.split(b"\r\n", 1)[0])
        self.assertIsNone(w.p.poll())
        promtool.check_metrics(self, scrape(address)[2])

    def test_agent_exports_its_own_probes(self):
        a = self.start("agent", "-c", self.config, "--listen", "127.0.0.1:0",
                       "--metrics-listen", "127.0.0.1:0")
        address = read_line(a, "metrics listening ")
        text = self.wait_rounds(address, 3)
        s, lbl = self.check_node_metrics(text, "agent")
        self.assertEqual(s[("probe_ssl_earliest_cert_expiry", lbl["tls"])], self.not_after)

    def test_agent_from_state_file(self):
        state = os.path.join(self.tmp.name, "state5.json")
        r = subprocess.run([LBCTL, "watch", "--once", "-q", "-c", self.config, "--state", state],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1, r.stderr)  # bad is down
        a = self.start("agent", "-c", self.config, "--listen", "127.0.0.1:0", "--state", state,
                       "--metrics-listen", "127.0.0.1:0")
        address = read_line(a, "metrics listening ")
        _, _, text = scrape(address)
        promtool.check_metrics(self, text)
        s = parse(text)
        self.assertIn(("lbctl_build_info", self.build_labels(text, "agent")), s)
        bad = [v for (name, labels), v in s.items()
               if name == "probe_http_status_code" and 'node="bad"' in labels]
        self.assertEqual(bad, [500])


if __name__ == "__main__":
    unittest.main(verbosity=2)
