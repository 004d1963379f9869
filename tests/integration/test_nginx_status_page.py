"""The `lbkit_status` dashboard in a real browser, its state set in JSON and
Prometheus, and promtool on its metrics.

Real nginx with several upstreams whose servers are in different states
(up, unhealthy, down, draining through the NGINX Plus-compatible API,
checking, unavail), lbk-testbackend on 127.0.0.1,
headless Chromium (Debian's chromium) driven over the DevTools protocol with
JavaScript on and off, and promtool from Debian's prometheus package.
"""
import json
import os
import tempfile
import time
import unittest

import headless
import lbktest
import promtool
from nginx_harness import (Backends, Nginx, NginxTestCase, http_request,
                           upstream)
from plus_api_client import PlusApiClient

STATES = ("up", "draining", "down", "unavail", "checking", "unhealthy",
          "maint")
# the badge colours of the page's style sheet
COLOURS = {"up": (46, 125, 50), "draining": (21, 101, 192),
           "down": (97, 97, 97), "unavail": (239, 108, 0),
           "checking": (249, 168, 37), "unhealthy": (198, 40, 40),
           "maint": (106, 27, 154)}


def site(be, dead_port):
    """api: up, unhealthy (answers 500), down, and d to drain through the
    API; rpc: checking (1000 passes
    needed, 1 a second, none failed); web: up and unavail (max_fails on a closed
    port)."""
    check = ("lbkit_check type=http uri=/health interval={every} timeout=1s "
             "rise={rise} fall=1{extra};")
    return "\n".join([
        upstream("api", "lbkit round_robin;",
                 [f"127.0.0.1:{be.ports['a']}", f"127.0.0.1:{be.ports['b']}",
                  f"127.0.0.1:{be.ports['c']} down", f"127.0.0.1:{be.ports['d']}"],
                 extra=check.format(every="200ms", rise=1, extra="")),
        upstream("rpc", "lbkit peak_ewma;", [f"127.0.0.1:{be.ports['e']}"],
                 extra=check.format(every="1s", rise=1000,
                                    extra=" initial=down")),
        upstream("web", "lbkit least_conn;",
                 [f"127.0.0.1:{be.ports['g']}",
                  f"127.0.0.1:{dead_port} max_fails=1 fail_timeout=300s"]),
        """server {
  listen 127.0.0.1:{port};
  location /api { proxy_pass http://api; }
  location /web { proxy_pass http://web; }
  location = /status { lbkit_status html; }
  location = /status.json { lbkit_status; }
  location = /metrics { lbkit_status prometheus; }
  location /plus { lbkit_api write=on; }
}"""])


class DashboardStates(NginxTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.be = Backends(["a", "b", "c", "d", "e", "g"])
        cls.dead = lbktest.free_port()
        try:
            cls.be.control("b", status=500)
            cls.ngx = Nginx(site(cls.be, cls.dead), workers=2)
            cls.n = {k: f"127.0.0.1:{p}" for k, p in cls.be.ports.items()}
            cls.n["h"] = f"127.0.0.1:{cls.dead}"
            api = PlusApiClient(cls.ngx.port, prefix="/plus")
            d = [s for s in api.servers("api") if s["server"] == cls.n["d"]][0]
            api.update_server("api", d["id"], drain=True)
            # one failed attempt makes h unavail; the request goes on to g
            for _ in range(4):
                code, _ = cls.ngx.get("/web")
                assert code == 200, code
            lbktest.wait_until(lambda: cls.states() == cls.expected(),
                               timeout=10, what="every server in its state")
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "ngx", None):
            cls.ngx.cleanup()
        cls.be.stop()

    @classmethod
    def expected(cls):
        n = cls.n
        return {("api", n["a"]): "up", ("api", n["b"]): "unhealthy",
                ("api", n["c"]): "down", ("api", n["d"]): "draining",
                ("rpc", n["e"]): "checking",
                ("web", n["g"]): "up", ("web", n["h"]): "unavail"}

    @classmethod
    def json(cls, path="/status.json"):
        code, body = http_request(cls.ngx.port, path)
        assert code == 200, (code, body)
        return json.loads(body)

    @classmethod
    def states(cls):
        return {(u["name"], s["name"]): s["state"]
                for u in cls.json()["upstreams"] for s in u["servers"]}

    def url(self, query=""):
        return f"http://127.0.0.1:{self.ngx.port}/status{query}"

    # --- JSON and Prometheus ---------------------------------------------

    def test_json_states_and_sums(self):
        doc = self.json()
        self.assertEqual(doc["schema_version"], 2)
        self.assertRegex(doc["nginx_version"], r"^1\.\d+\.\d+$")
        ups = {u["name"]: u for u in doc["upstreams"]}
        self.assertEqual(ups["api"]["states"],
                         {"up": 1, "draining": 1, "down": 1, "unavail": 0,
                          "checking": 0, "unhealthy": 1, "maint": 0})
        self.assertEqual(ups["rpc"]["states"]["checking"], 1)
        self.assertEqual(ups["web"]["states"]["unavail"], 1)
        for u in doc["upstreams"]:
            self.assertEqual(sum(u["states"].values()), u["servers_total"])
            for key in ("requests", "failures", "active"):
                self.assertEqual(u[key], sum(s[key] for s in u["servers"]))
            for s in u["servers"]:
                self.assertIn(s["state"], STATES)
                # the last change happened since nginx started
                self.assertLessEqual(s["last_state_change_ms"], doc["time_ms"])
                self.assertGreater(s["last_state_change_ms"],
                                   doc["time_ms"] - 120000)
        e = ups["rpc"]["servers"][0]
        self.assertEqual((e["health"], e["checks_failed"]), ("down", 0))
        self.assertGreater(e["checks"], 0)
        # traffic counters: g answered the /web requests, h refused one
        web = {s["name"]: s for s in ups["web"]["servers"]}
        g, h = web[self.n["g"]], web[self.n["h"]]
        self.assertGreaterEqual(g["responses"]["2xx"], 4)
        self.assertEqual(g["responses"]["total"], sum(
            g["responses"][c] for c in ("1xx", "2xx", "3xx", "4xx", "5xx")))
        self.assertGreater(g["bytes_sent"], 0)
        self.assertGreater(g["bytes_received"], 0)
        self.assertGreater(g["response_time_us"], 0)
        self.assertLessEqual(g["last_selected_ms"], doc["time_ms"])
        self.assertEqual(ups["web"]["bytes_received"],
                         g["bytes_received"] + h["bytes_received"])
        self.assertEqual((h["unavail"], h["responses"]["total"]), (1, 0))
        self.assertGreater(h["downtime_ms"], 0)
        self.assertLessEqual(h["down_since_ms"], doc["time_ms"])
        self.assertIsNone(g["down_since_ms"])
        b = {s["name"]: s for s in ups["api"]["servers"]}[self.n["b"]]
        self.assertEqual(b["unhealthy"], 1)
        self.assertGreater(b["downtime_ms"], 0)

    def test_upstream_filter(self):
        doc = self.json("/status.json?upstream=rpc")
        self.assertEqual([u["name"] for u in doc["upstreams"]], ["rpc"])
        code, _ = http_request(self.ngx.port, "/status.json?upstream=nope")
        self.assertEqual(code, 404)

    def test_prometheus_state_set_and_promtool(self):
        code, text = http_request(self.ngx.port, "/metrics")
        self.assertEqual(code, 200)
        promtool.check_metrics(self, text)
        series = {}
        for line in text.splitlines():
            if line.startswith("lbkit_server_state{"):
                labels, value = line[len("lbkit_server_state{"):].rsplit("} ", 1)
                series[labels] = float(value)
        want = self.expected()
        self.assertEqual(len(series), len(want) * len(STATES))
        for (ups, server), state in want.items():
            for st in STATES:
                key = f'upstream="{ups}",server="{server}",state="{st}"'
                self.assertEqual(series[key], 1.0 if st == state else 0.0, key)
        self.assertIn('lbkit_build_info{version="', text)
        # the man page documents every metric
        with open(os.path.join(lbktest.SOURCE_DIR, "man",
                               "ngx_http_upstream_lbkit_module.8")) as f:
            page = f.read().replace("\\-", "-")
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                self.assertIn(".B " + line.split()[2] + "\n", page)
        self.assertRegex(
            text, r'lbkit_server_checks_total\{upstream="api",server="'
            + self.n["b"] + r'",result="failure"\} [1-9]')
        self.assertRegex(
            text, r'lbkit_server_last_state_change_timestamp_seconds\{'
            r'upstream="rpc",server="[^"]+"\} 1\d{9}\.\d{3}\n')
        g = f'upstream="web",server="{self.n["g"]}"'
        self.assertRegex(text, r'lbkit_server_responses_total\{' + g + r',code="2xx"\} [1-9]')
        self.assertRegex(text, r'lbkit_server_received_bytes_total\{' + g + r'\} [1-9]')
        self.assertRegex(text, r'lbkit_server_response_time_seconds\{' + g + r'\} 0\.\d{6}')
        self.assertRegex(text, r'lbkit_server_downtime_seconds_total\{upstream="web",'
                               r'server="' + self.n["h"] + r'"\} \d+\.\d{6}')
        self.assertRegex(text, r'lbkit_server_unavail_total\{upstream="web",'
                               r'server="' + self.n["h"] + r'"\} 1\n')

    # --- the page in a browser -------------------------------------------

    def check_page(self, browser, png_name):
        """What both modes must show: every server's state badge in its
        colour, the summary rows, and a PNG with each state's colour."""
        rows = browser.evaluate("""
          Array.from(document.querySelectorAll('tbody[data-u] tr')).map(
            r => [r.closest('tbody').dataset.u, r.cells[0].textContent,
                  r.cells[1].textContent, r.className,
                  getComputedStyle(r.querySelector('.st')).backgroundColor])
        """)
        # the style sheet colours every state, those no server is in too
        colours = browser.evaluate("""
          Object.fromEntries(%s.map(st => {
            const b = document.body.appendChild(document.createElement('span'));
            b.className = 'st st-' + st;
            const c = getComputedStyle(b).backgroundColor;
            b.remove();
            return [st, c]; }))""" % json.dumps(list(STATES)))
        self.assertEqual(colours, {st: "rgb(%d, %d, %d)" % COLOURS[st] for st in STATES})
        got = {(u, name): state for u, name, state, _, _ in rows}
        self.assertEqual(got, self.expected())
        for _, _, state, cls, colour in rows:
            self.assertEqual(cls, "s-" + state)
            self.assertEqual(colour, "rgb(%d, %d, %d)" % COLOURS[state])
        summary = browser.evaluate("""
          Array.from(document.querySelectorAll('#summary tbody tr')).map(
            r => Array.from(r.cells).map(c => c.textContent))
        """)
        by_name = {r[0]: r for r in summary}
        self.assertEqual(list(by_name), ["api", "rpc", "web"])
        self.assertEqual(by_name["api"][3], "1/4")
        self.assertEqual(by_name["api"][4], "1 up1 draining1 down1 unhealthy")
        self.assertEqual(by_name["rpc"][4], "1 checking")
        self.assertEqual(by_name["web"][3], "1/2")
        self.assertEqual(by_name["web"][4], "1 up1 unavail")
        # the reason is cut on screen, whole on hover
        cell = browser.evaluate("""
          (() => { const keys = Array.from(document.querySelector(
                     'table.servers thead tr').cells).map(c => c.dataset.c);
                   const td = Array.from(document.querySelectorAll(
                     'tbody[data-u="api"] tr')).find(r =>
                     r.cells[1].textContent == 'unhealthy')
                     .cells[keys.indexOf('check')];
                   return [td.textContent, td.title,
                           getComputedStyle(td).textOverflow]; })()
        """)
        self.assertTrue(cell[0].startswith("status: "), cell)
        self.assertIn("500", cell[1])
        self.assertEqual(cell[2], "ellipsis")
        # g's traffic: 2xx responses and bytes in their columns
        g = browser.evaluate("""
          (() => { const keys = Array.from(document.querySelector(
                     'table.servers thead tr').cells).map(c => c.dataset.c);
                   const row = Array.from(document.querySelectorAll(
                     'tbody[data-u="web"] tr')).find(r =>
                     r.cells[1].textContent == 'up');
                   const v = {};
                   keys.forEach((k, i) => { if (k) v[k] = row.cells[i].textContent; });
                   return v; })()
        """)
        self.assertGreaterEqual(int(g["r2"]), 4, g)
        self.assertEqual(g["r5"], "0")
        self.assertRegex(g["received"], r"^\d+ B$|^\d+\.\d [KM]iB$")
        self.assertRegex(g["resp"], r"^\d+\.\d$")
        with tempfile.TemporaryDirectory(prefix="lbk-png-") as d:
            png = browser.screenshot(os.path.join(d, png_name))
        self.assertGreater(png.height, 300)
        for state in set(self.expected().values()):
            # a badge is at least 40 x 14 pixels of its colour
            self.assertGreater(png.count(COLOURS[state]), 400, state)
        return by_name

    def test_page_without_javascript(self):
        with headless.Chromium() as browser:
            browser.open(self.url(), javascript=False)
            self.assertEqual(browser.evaluate(
                "document.getElementById('mode').textContent"),
                "reloads every 5 s")
            self.check_page(browser, "nojs.png")
            # the <noscript> meta refresh reloads the page by itself
            self.assertEqual(browser.evaluate(
                "document.querySelector('meta[http-equiv=refresh]').content"),
                "5")
            browser.wait_event("Page.loadEventFired", timeout=15)
            self.assertEqual(browser.evaluate("document.title"),
                             "lbkit status")

    def test_page_with_javascript_refreshes_from_json(self):
        with headless.Chromium() as browser:
            browser.open(self.url(), javascript=True)
            browser.wait_for("document.getElementById('mode').textContent"
                             ".startsWith('live')")
            self.check_page(browser, "js.png")
            browser.evaluate("window.lbkMarker = 1")
            # traffic shows as a rate after the next fetch, in place
            deadline = time.monotonic() + 12
            rate = "\u2013"
            for _ in range(200):
                if time.monotonic() > deadline:
                    break
                self.ngx.get("/web")
                rate = browser.evaluate(
                    "document.querySelector('#summary tr[data-u=\"web\"]')"
                    ".cells[7].textContent")
                if rate not in ("\u2013", "0.0"):
                    break
                time.sleep(0.1)
            self.assertGreater(float(rate), 0)
            self.assertEqual(browser.evaluate("window.lbkMarker"), 1,
                             "the page reloaded instead of updating")

    def test_filter_by_upstream_in_the_browser(self):
        with headless.Chromium() as browser:
            browser.open(self.url("?format=html&upstream=web"),
                         javascript=False)
            shown = browser.evaluate(
                "Array.from(document.querySelectorAll('tbody[data-u]'))"
                ".map(b => b.dataset.u)")
            self.assertEqual(shown, ["web"])
            self.assertEqual(browser.evaluate(
                "document.querySelector('select[name=upstream]').value"),
                "web")
            # choosing "all" in the form (what onchange submits) shows all
            browser.open(self.url(), javascript=True)
            browser.evaluate("""
              (() => { const s = document.querySelector('select');
                       s.value = 'rpc'; s.form.submit(); })()""")
            browser.wait_event("Page.loadEventFired")
            browser.wait_for("location.search.includes('upstream=rpc')")
            shown = browser.evaluate(
                "Array.from(document.querySelectorAll('tbody[data-u]'))"
                ".map(b => b.dataset.u)")
            self.assertEqual(shown, ["rpc"])


class ThousandServers(NginxTestCase):
    """1,000 servers: the page stays one line per server, and the browser
    renders it with JavaScript updating every row."""

    def test_one_line_per_server(self):
        base = 20000
        servers = [f"127.0.0.1:{base + i}" for i in range(1000)]
        body = (upstream("big", "lbkit round_robin;", servers) + """
server { listen 127.0.0.1:{port}; location = /status { lbkit_status html; } }""")
        with Nginx(body) as ngx, headless.Chromium() as browser:
            browser.open(f"http://127.0.0.1:{ngx.port}/status",
                         javascript=True)
            browser.wait_for("document.getElementById('mode').textContent"
                             ".startsWith('live')", timeout=20)
            heights = browser.evaluate("""
              Array.from(document.querySelectorAll('tbody[data-u] tr'))
                .map(r => r.getBoundingClientRect().height)""")
            self.assertEqual(len(heights), 1000)
            line = browser.evaluate(
                "document.querySelector('tbody[data-u] tr')"
                ".getBoundingClientRect().height")
            self.assertLess(line, 30)
            self.assertEqual(set(heights), {line})
            self.assertEqual(browser.evaluate(
                "document.querySelector('#summary tbody tr').cells[3]"
                ".textContent"), "1000/1000")


if __name__ == "__main__":
    unittest.main(verbosity=2)
