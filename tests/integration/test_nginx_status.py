"""The lbkit status page (`lbkit_status [json|prometheus|html];`).

Real nginx with the module and lbk-testbackend on 127.0.0.1; the test parses
the JSON and the Prometheus text exposition and checks them against each
other and against the traffic it sent.
"""
import html.parser
import http.client
import json
import math
import re
import time
import unittest

import lbktest
import promtool
from nginx_harness import (Backends, Nginx, NginxTestCase, count_bodies,
                           http_request, upstream)

CHECK = ("lbkit_check type=http uri=/health interval=200ms timeout=300ms "
         "rise=1 fall=1;")


def http_full(port, path, method="GET"):
    """(status, content type, body) of one request."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type"), resp.read().decode()
    finally:
        conn.close()


def site(be):
    """Two upstreams (one checked, one not) and status locations."""
    api = upstream("api", "lbkit round_robin;",
                   [f"127.0.0.1:{be.ports['a']}", f"127.0.0.1:{be.ports['b']}"],
                   extra=CHECK)
    plain = upstream("plain", "lbkit least_conn;",
                     [f"127.0.0.1:{be.ports['c']}", f"127.0.0.1:{be.ports['d']} backup"])
    server = """
server {
  listen 127.0.0.1:{port};
  location /api { proxy_pass http://api; }
  location /plain { proxy_pass http://plain; }
  location = /status { lbkit_status; }
  location = /metrics { lbkit_status prometheus; }
  location = /status.html { lbkit_status html; }
  location = /status-local { allow 127.0.0.1; deny all; lbkit_status; }
  location = /status-private { allow 127.0.0.2; deny all; lbkit_status; }
}"""
    return api + "\n" + plain + "\n" + server


# --- Prometheus text exposition (version 0.0.4) parser ------------------

SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


def parse_prometheus(text):
    """Returns {name: {"type", "help", "samples": {labels tuple: value}}};
    raises AssertionError on any line that breaks the format."""
    families = {}
    current = None
    for lineno, line in enumerate(text.split("\n"), 1):
        if line == "":
            continue
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            assert name not in families, f"line {lineno}: {name} declared twice"
            families[name] = {"help": help_text, "type": None, "samples": {}}
            current = name
            continue
        if line.startswith("# TYPE "):
            name, _, typ = line[7:].partition(" ")
            assert name == current, f"line {lineno}: TYPE {name} after HELP {current}"
            assert typ in ("counter", "gauge", "untyped"), f"line {lineno}: {typ}"
            families[name]["type"] = typ
            continue
        assert not line.startswith("#"), f"line {lineno}: stray comment {line!r}"
        m = SAMPLE_RE.match(line)
        assert m, f"line {lineno}: not a sample: {line!r}"
        name, labels_text, value = m.group(1), m.group(3) or "", m.group(4)
        assert name == current, f"line {lineno}: sample of {name} in {current}"
        labels = []
        pos = 0
        while pos < len(labels_text):
            lm = LABEL_RE.match(labels_text, pos)
            assert lm, f"line {lineno}: bad labels {labels_text!r}"
            labels.append((lm.group(1), lm.group(2)))
            pos = lm.end()
        key = tuple(labels)
        assert key not in families[name]["samples"], f"line {lineno}: duplicate"
        v = float(value)
        assert not math.isnan(v)
        families[name]["samples"][key] = v
    return families


class TableRows(html.parser.HTMLParser):
    """Collects the text of every table cell, row by row."""

    def __init__(self):
        super().__init__()
        self.rows = []
        self.cell = None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(self.cell)
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


class StatusPage(NginxTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.be = Backends(["a", "b", "c", "d"])
        try:
            cls.be.control("b", status=500)
            cls.ngx = Nginx(site(cls.be), workers=2)
        except Exception:
            cls.be.stop()
            raise
        cls.names = {n: f"127.0.0.1:{cls.be.ports[n]}" for n in "abcd"}

        def b_down_a_checked():
            st = cls.json()
            api = {s["name"]: s for u in st["upstreams"] if u["name"] == "api"
                   for s in u["servers"]}
            return (api[cls.names["b"]]["health"] == "down"
                    and api[cls.names["a"]]["health"] == "up")

        try:
            lbktest.wait_until(b_down_a_checked, timeout=5,
                               what="b down and a checked")
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.ngx.cleanup()
        cls.be.stop()

    @classmethod
    def json(cls, path="/status"):
        code, body = http_request(cls.ngx.port, path)
        assert code == 200, (code, body)
        return json.loads(body)

    def servers(self, doc, name):
        ups = {u["name"]: u for u in doc["upstreams"]}
        return {s["name"]: s for s in ups[name]["servers"]}

    def test_json_schema_and_counters(self):
        # requests through both workers land in the shared pool
        self.assertEqual(count_bodies(self.ngx, "/plain", 20), {"c": 20})
        counts = count_bodies(self.ngx, "/api", 10)
        self.assertEqual(counts, {"a": 10})

        code, ctype, body = http_full(self.ngx.port, "/status")
        self.assertEqual(code, 200)
        self.assertEqual(ctype, "application/json")
        doc = json.loads(body)
        self.assertEqual(doc["version"], "1.0.0")
        self.assertEqual(doc["schema_version"], 2)
        self.assertIsInstance(doc["pid"], int)
        self.assertLess(abs(doc["time_ms"] / 1000 - time.time()), 60)
        ups = {u["name"]: u for u in doc["upstreams"]}
        self.assertEqual(set(ups), {"api", "plain"})

        api = ups["api"]
        self.assertEqual(api["method"], "round_robin")
        self.assertEqual(api["servers_total"], 2)
        self.assertEqual(api["servers_up"], 1)
        self.assertEqual(api["check"], {"type": "http", "interval_ms": 200,
                                        "timeout_ms": 300, "rise": 1, "fall": 1})
        a = self.servers(doc, "api")[self.names["a"]]
        b = self.servers(doc, "api")[self.names["b"]]
        self.assertEqual((a["state"], a["health"], a["usable"]), ("up", "up", True))
        self.assertEqual((b["state"], b["health"], b["usable"]),
                         ("unhealthy", "down", False))
        self.assertGreaterEqual(a["requests"], 10)
        self.assertEqual(b["requests"], 0)
        self.assertGreater(a["ewma_latency_us"], 0)
        self.assertGreater(b["checks_failed"], 0)
        self.assertIn(b["checker_pid"], self.ngx.worker_pids())
        lc = b["last_check"]
        self.assertEqual((lc["ok"], lc["result"], lc["http_status"]),
                         (False, "status", 500))
        self.assertIn("status 500", lc["reason"])
        self.assertGreaterEqual(lc["age_ms"], 0)
        self.assertLess(lc["age_ms"], 5000)
        self.assertGreater(lc["duration_us"], 0)
        self.assertTrue(a["last_check"]["ok"])
        for key, typ in (("id", int), ("name", str), ("address", str),
                         ("backup", bool), ("weight", int),
                         ("effective_weight", int), ("max_conns", int),
                         ("active", int), ("successes", int),
                         ("failures", int), ("fails_in_window", int),
                         ("probe_latency_us", int), ("checks", int),
                         ("ejections", int)):
            self.assertIsInstance(a[key], typ, key)

        plain = ups["plain"]
        self.assertEqual(plain["method"], "least_conn")
        self.assertIsNone(plain["check"])
        c = self.servers(doc, "plain")[self.names["c"]]
        d = self.servers(doc, "plain")[self.names["d"]]
        self.assertEqual(c["requests"], 20)
        self.assertEqual(c["successes"], 20)
        self.assertTrue(d["backup"])
        self.assertEqual(d["requests"], 0)
        self.assertIsNone(c["last_check"])
        self.assertIsNone(c["checker_pid"])
        self.assertEqual(c["health"], "unknown")
        self.assertIsNone(c["value"])

    def test_prometheus_text(self):
        code, ctype, text = http_full(self.ngx.port, "/metrics")
        self.assertEqual(code, 200)
        self.assertTrue(ctype.startswith("text/plain; version=0.0.4"), ctype)
        promtool.check_metrics(self, text)
        fams = parse_prometheus(text)
        doc = self.json()
        for name, fam in fams.items():
            self.assertRegex(name, r"^lbkit_[a-z_]+$")
            self.assertIsNotNone(fam["type"], name)
            self.assertTrue(fam["help"], name)
            if fam["type"] == "counter":
                self.assertTrue(name.endswith("_total"), name)
        for must in ("lbkit_server_up", "lbkit_server_healthy",
                     "lbkit_server_state", "lbkit_server_weight",
                     "lbkit_server_effective_weight", "lbkit_server_active",
                     "lbkit_server_requests_total", "lbkit_server_failures_total",
                     "lbkit_server_ewma_latency_seconds",
                     "lbkit_server_checks_total",
                     "lbkit_server_last_check_timestamp_seconds",
                     "lbkit_server_last_check_success"):
            self.assertIn(must, fams)

        up = fams["lbkit_server_up"]["samples"]
        for ups in doc["upstreams"]:
            for s in ups["servers"]:
                key = (("upstream", ups["name"]), ("server", s["name"]))
                self.assertEqual(up[key], 1.0 if s["usable"] else 0.0, key)
                self.assertEqual(fams["lbkit_server_weight"]["samples"][key],
                                 s["weight"])
                for state in ("up", "draining", "down", "unavail",
                              "checking", "unhealthy", "maint"):
                    state_key = key + (("state", state),)
                    self.assertEqual(
                        fams["lbkit_server_state"]["samples"][state_key],
                        1 if state == s["state"] else 0, state_key)
        b_key = (("upstream", "api"), ("server", self.names["b"]))
        self.assertEqual(fams["lbkit_server_healthy"]["samples"][b_key], 0)
        self.assertEqual(fams["lbkit_server_last_check_success"]["samples"][b_key], 0)
        ts = fams["lbkit_server_last_check_timestamp_seconds"]["samples"][b_key]
        self.assertLess(abs(ts - time.time()), 60)
        # never checked: no last-check sample for the plain upstream
        c_key = (("upstream", "plain"), ("server", self.names["c"]))
        self.assertNotIn(c_key, fams["lbkit_server_last_check_success"]["samples"])
        self.assertIn(c_key, fams["lbkit_server_requests_total"]["samples"])

    def test_html_table(self):
        code, ctype, text = http_full(self.ngx.port, "/status.html")
        self.assertEqual(code, 200)
        self.assertTrue(ctype.startswith("text/html"), ctype)
        parser = TableRows()
        parser.feed(text)
        # the summary table, then one table of servers per upstream
        summary = parser.rows[0]
        self.assertEqual(summary[:3], ["upstream", "method", "check"])
        by_upstream = {r[0]: dict(zip(summary, r)) for r in parser.rows[1:3]}
        self.assertEqual(by_upstream["api"]["servers up"], "1/2")
        self.assertEqual(by_upstream["plain"]["method"], "least_conn")
        header = parser.rows[3]
        self.assertEqual(header[:3], ["server", "state", "since"])
        rows = [r for r in parser.rows[4:] if r != header]
        self.assertEqual(len(rows), 4)
        by_server = {r[0].replace(" backup", ""): dict(zip(header, r))
                     for r in rows}
        self.assertEqual(by_server[self.names["b"]]["state"], "unhealthy")
        self.assertTrue(by_server[self.names["b"]]["last check"].startswith(
            "status: "), by_server[self.names["b"]])
        self.assertEqual(by_server[self.names["a"]]["state"], "up")
        self.assertEqual(by_server[self.names["c"]]["last check"], "\u2013")
        self.assertTrue(by_server[self.names["d"]]["server"].endswith(
            " backup"))

    def test_format_argument_overrides(self):
        code, ctype, body = http_full(self.ngx.port, "/metrics?format=json")
        self.assertEqual((code, ctype), (200, "application/json"))
        json.loads(body)
        code, ctype, body = http_full(self.ngx.port, "/status?format=prometheus")
        self.assertEqual(code, 200)
        parse_prometheus(body)
        code, ctype, _ = http_full(self.ngx.port, "/status?format=html")
        self.assertTrue(ctype.startswith("text/html"))
        code, _, _ = http_full(self.ngx.port, "/status?format=xml")
        self.assertEqual(code, 400)
        code, _, _ = http_full(self.ngx.port, "/status", method="POST")
        self.assertEqual(code, 405)
        code, _, body = http_full(self.ngx.port, "/status", method="HEAD")
        self.assertEqual((code, body), (200, ""))

    def test_allow_deny_restricts_the_page(self):
        code, _, body = http_full(self.ngx.port, "/status-local")
        self.assertEqual(code, 200)
        json.loads(body)
        code, _, _ = http_full(self.ngx.port, "/status-private")
        self.assertEqual(code, 403)


class BadStatusDirective(NginxTestCase):

    def test_unknown_format_fails_nginx_t(self):
        body = ("server { listen 127.0.0.1:{port}; "
                "location /s { lbkit_status yaml; } }")
        ngx = Nginx(body, check=False)
        try:
            rc, out = ngx.test_config()
        finally:
            ngx.cleanup()
        self.assertNotEqual(rc, 0, out)
        self.assertRegex(out, r'invalid format "yaml".*nginx\.conf:\d+')


if __name__ == "__main__":
    unittest.main(verbosity=2)
