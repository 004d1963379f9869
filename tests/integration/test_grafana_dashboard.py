"""contrib/grafana-lbkit.json queries only metrics lbkit exports.

A real Prometheus (Debian's prometheus package) scrapes a real nginx with the
module's `lbkit_status prometheus` and a real `lbctl watch
--metrics-listen`, both on 127.0.0.1 with ports picked at run time.  Every
query of the dashboard (panels and template variables, with Grafana's
variables filled in) is then run through Prometheus's HTTP API: it must
parse, and every metric name in it must be one that Prometheus scraped from
lbkit.  Queries of metrics that have samples in this setup must also return
data.
"""
import json
import os
import re
import subprocess
import sys
import time
import unittest
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lbktest  # noqa: E402
from lbctl_common import LBCTL, gen_cert  # noqa: E402
from nginx_harness import Backends, Nginx, NginxTestCase, upstream  # noqa: E402

PROMETHEUS = os.environ.get("LBK_PROMETHEUS", "/usr/bin/prometheus")
DASHBOARD = os.path.join(lbktest.SOURCE_DIR, "contrib", "grafana-lbkit.json")
# Grafana's variables, as the dashboard would fill them in
VARIABLES = {"$__rate_interval": "1m", "$upstream": ".*", "$pool": ".*"}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
                "unless", "bool", "offset", "inf", "nan"}


def queries(dashboard):
    """(where, expression) of every query: panel targets and query
    variables (label_values(METRIC, LABEL) becomes METRIC)."""
    out = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            out.append((f"panel {panel['title']!r} {target['refId']}", target["expr"]))
    for var in dashboard["templating"]["list"]:
        if var["type"] == "query":
            m = re.fullmatch(r"label_values\((\w+), *(\w+)\)", var["query"]["query"])
            assert m, var
            out.append((f"variable {var['name']}", m.group(1)))
    return out


def fill(expr):
    for name, value in VARIABLES.items():
        expr = expr.replace(name, value)
    assert "$" not in expr, expr
    return expr


def metric_names(expr):
    """Metric names in a PromQL expression: identifiers that are not
    functions, keywords, label names in {...} or grouping lists, strings or
    durations."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)          # strings
    text = re.sub(r"\{[^}]*\}", "", text)                    # label matchers
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)",
                  "", text)                                  # label lists
    text = re.sub(r"\[[^\]]*\]", "", text)                   # ranges
    names = set()
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", text):
        word = m.group(0)
        rest = text[m.end():].lstrip()
        if rest.startswith("(") or word.lower() in PROMQL_WORDS:
            continue
        names.add(word)
    return names


class Prometheus:
    """prometheus scraping @targets (job name -> (address, path, params))
    every second, in its own temporary directory."""

    def __init__(self, targets):
        if not os.path.exists(PROMETHEUS):
            raise RuntimeError(f"{PROMETHEUS} not found (apt-get install prometheus)")
        self.dir = lbktest.tempdir(prefix="lbk-prom-")
        self.port = lbktest.free_port()
        conf = os.path.join(self.dir.name, "prometheus.yml")
        jobs = []
        for job, (address, path, params) in targets.items():
            jobs.append({"job_name": job, "scrape_interval": "1s", "metrics_path": path,
                         "params": params, "static_configs": [{"targets": [address]}]})
        with open(conf, "w") as f:
            json.dump({"global": {"scrape_interval": "1s"}, "scrape_configs": jobs}, f)
        self.log = open(os.path.join(self.dir.name, "prometheus.log"), "w")
        self.proc = lbktest.Proc(
            [PROMETHEUS, f"--config.file={conf}", f"--storage.tsdb.path={self.dir.name}/data",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=self.log, stderr=self.log)
        lbktest.wait_port(self.port, timeout=30)
        # the port opens before the storage is ready; until then every API
        # call answers 503 with a plain-text body
        lbktest.wait_until(self.ready, timeout=30, what="prometheus /-/ready")

    def ready(self):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=5) as r:
                return r.status == 200
        except (urllib.error.URLError, ConnectionError):
            return False

    def api(self, path, **params):
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:  # a bad query: 400 with an error
            return json.loads(e.read())

    def query(self, expr):
        return self.api("query", query=expr)

    def stop(self):
        self.proc.stop(timeout=10)
        self.log.close()
        self.dir.cleanup()


class DashboardQueries(NginxTestCase):

    def test_every_query_parses_and_uses_exported_metrics(self):
        with open(DASHBOARD) as f:
            dashboard = json.load(f)
        exprs = queries(dashboard)
        self.assertGreater(len(exprs), 20)

        tmp = lbktest.tempdir()
        self.addCleanup(tmp.cleanup)
        cert, key = gen_cert(tmp.name)
        be = Backends(["a", "b", "rpc", "tls"],
                      extra={"tls": ["--tls-cert", cert, "--tls-key", key]})
        self.addCleanup(be.stop)
        be.control("b", status=500)
        body = "\n".join([
            upstream("api", "lbkit round_robin;",
                     [f"127.0.0.1:{be.ports['a']}", f"127.0.0.1:{be.ports['b']}"],
                     extra="lbkit_check type=http uri=/ interval=200ms rise=1 fall=1;"),
            upstream("chain", "lbkit peak_ewma;", [f"127.0.0.1:{be.ports['rpc']}"],
                     extra="lbkit_check type=jsonrpc uri=/ interval=200ms "
                           "jsonrpc_field=;"),
            """server { listen 127.0.0.1:{port};
  location /api { proxy_pass http://api; }
  location = /metrics { lbkit_status prometheus; } }"""])
        ngx = Nginx(body)
        self.addCleanup(ngx.cleanup)
        # -k: the https node's certificate is self-signed
        watch = lbktest.Proc([LBCTL, "watch", "-q", "-k", "--check", "jsonrpc", "-i", "200ms",
                              "--state", os.path.join(tmp.name, "state.json"),
                              "--metrics-listen", "127.0.0.1:0",
                              f"http://127.0.0.1:{be.ports['rpc']}/",
                              f"https://127.0.0.1:{be.ports['tls']}/"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.addCleanup(watch.stop)
        line = watch.p.stdout.readline().decode()
        watch.p.stdout.close()
        self.assertTrue(line.startswith("metrics listening "), line)
        lbctl_address = line.split()[-1]

        prom = Prometheus({"nginx": (f"127.0.0.1:{ngx.port}", "/metrics", {}),
                           "lbctl": (lbctl_address, "/metrics", {})})
        self.addCleanup(prom.stop)
        # traffic, and scrapes enough for rate() over the filled-in 1m
        deadline = time.monotonic() + 30
        for _ in range(300):
            ngx.get("/api")
            up = prom.query('count(up{job=~"nginx|lbctl"} == 1)')
            rates = prom.query("sum(rate(lbkit_server_requests_total[1m]))")
            if (up["data"]["result"] and up["data"]["result"][0]["value"][1] == "2"
                    and rates["data"]["result"]
                    and float(rates["data"]["result"][0]["value"][1]) > 0):
                break
            self.assertLess(time.monotonic(), deadline, "Prometheus did not scrape both")
            time.sleep(0.2)

        scraped = set(prom.api("label/__name__/values")["data"])
        exported = {n for n in scraped if n.startswith(("lbkit_", "lbctl_", "probe_"))}
        for must in ("lbkit_server_state", "lbctl_node_up", "probe_success"):
            self.assertIn(must, exported)
        for where, expr in exprs:
            names = metric_names(expr)
            self.assertTrue(names, f"{where}: no metric in {expr}")
            self.assertLessEqual(names, exported, f"{where}: {expr}")
            result = prom.query(fill(expr))
            self.assertEqual(result.get("status"), "success", f"{where}: {expr}: {result}")
        # queries whose metrics have samples here return data
        for expr in ("sum(lbkit_server_up{upstream=~\".*\"})",
                     "max by (upstream, server, state) (lbkit_server_state == 1)",
                     "lbkit_server_lag", "probe_http_duration_seconds", "lbctl_node_jsonrpc_head",
                     "lbctl_node_cert_expiry_seconds", "probe_tls_version_info"):
            self.assertTrue(prom.query(expr)["data"]["result"], expr)

    def test_dashboard_shape(self):
        """What Grafana needs to import it: unique panel ids, panels that do
        not overlap on the 24-column grid, every query on the data source
        variable."""
        with open(DASHBOARD) as f:
            dashboard = json.load(f)
        ids = [p["id"] for p in dashboard["panels"]]
        self.assertEqual(len(ids), len(set(ids)))
        cells = {}
        for p in dashboard["panels"]:
            g = p["gridPos"]
            self.assertLessEqual(g["x"] + g["w"], 24, p["title"])
            for x in range(g["x"], g["x"] + g["w"]):
                for y in range(g["y"], g["y"] + g["h"]):
                    self.assertNotIn((x, y), cells, f"{p['title']} overlaps {cells.get((x, y))}")
                    cells[(x, y)] = p["title"]
            for t in p.get("targets", []):
                self.assertEqual(t["datasource"]["uid"], "${datasource}", p["title"])
        names = [v["name"] for v in dashboard["templating"]["list"]]
        self.assertEqual(names, ["datasource", "upstream", "pool"])

    def test_metric_names_of_an_expression(self):
        self.assertEqual(metric_names(
            'sum by (upstream, server) (rate(lbkit_server_checks_total{upstream=~"$upstream",'
            'result="failure"}[$__rate_interval])) / on (server) lbkit_server_weight'),
            {"lbkit_server_checks_total", "lbkit_server_weight"})
        self.assertEqual(metric_names("count(x{a=\"b\"} == 1) or vector(0)"), {"x"})


if __name__ == "__main__":
    unittest.main(verbosity=2)
