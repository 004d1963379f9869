"""`nginx -s reload` (SIGHUP to the master) keeps the state of servers that
still exist, starts new ones in the initial state, and loses no request
while it happens."""
import json
import threading
import time
import unittest

import lbktest
from nginx_harness import (Backends, Nginx, NginxTestCase, count_bodies,
                           proxy_server, upstream)


def body_for(be, names, directive="lbkit round_robin;", dead=None,
             check=""):
    servers = []
    if dead is not None:
        servers.append(f"127.0.0.1:{dead} max_fails=1 fail_timeout=60s")
    servers += [f"127.0.0.1:{be.ports[n]}" for n in names]
    return "\n".join([
        upstream("api", directive + (" " + check if check else ""), servers),
        proxy_server({"/": "api", "= /status": ("api", "lbkit_status json;")}),
    ])


def servers_by_port(ngx, be):
    """The status page's servers of upstream `api`, keyed by backend name."""
    status, text = ngx.get("/status")
    assert status == 200, text
    names = {f"127.0.0.1:{port}": name for name, port in be.ports.items()}
    (api,) = [u for u in json.loads(text)["upstreams"] if u["name"] == "api"]
    return {names.get(s["name"], s["name"]): s for s in api["servers"]}


class Reload(NginxTestCase):

    def test_failed_server_stays_out_after_reload(self):
        dead = lbktest.free_port()  # refuses connections
        with Backends(["a", "b"]) as be:
            body = body_for(be, ["a", "b"], dead=dead)
            with Nginx(body, workers=2) as ngx:
                counts = count_bodies(ngx, "/", 9)
                self.assertEqual(sum(counts.get(n, 0) for n in "ab"), 9, counts)
                self.assertEqual(ngx.log().count("Connection refused"), 1)
                for _ in range(2):
                    ngx.reload()
                    counts = count_bodies(ngx, "/", 12)
                    self.assertEqual(sum(counts.get(n, 0) for n in "ab"), 12, counts)
                log = ngx.log()
        # the failure window came along: the dead server was not retried
        self.assertEqual(log.count("Connection refused"), 1, log)
        self.assertEqual(log.count("lbkit: kept the state of 3 of 3 servers"), 2, log)

    def test_new_server_starts_fresh_and_others_keep_state(self):
        dead = lbktest.free_port()
        with Backends(["a", "b", "c"]) as be:
            with Nginx(body_for(be, ["a", "b"], dead=dead), workers=1) as ngx:
                count_bodies(ngx, "/", 6)
                ngx.reload(body_for(be, ["a", "b", "c"], dead=dead))
                counts = count_bodies(ngx, "/", 30)
                log = ngx.log()
        self.assertEqual(counts, {"a": 10, "b": 10, "c": 10})
        self.assertIn("lbkit: kept the state of 3 of 4 servers", log)
        self.assertEqual(log.count("Connection refused"), 1, log)

    def test_down_server_stays_down_across_reload(self):
        # c answers 500: active checks take it down; right after a reload it
        # must not receive a single client request
        check = "lbkit_check type=http uri=/health interval=200ms fall=2 rise=2;"
        with Backends(["a", "b", "c"], extra={"c": ["--status", "500"]}) as be:
            body = body_for(be, ["a", "b", "c"], check=check)
            with Nginx(body, workers=2) as ngx:
                lbktest.wait_until(
                    lambda: be.stats("c")["by_path"].get("/health", 0) >= 3,
                    timeout=10, what="checks of c")
                time.sleep(0.3)
                before = be.stats("c")["by_path"].get("/", 0)
                count_bodies(ngx, "/", 20)
                self.assertEqual(be.stats("c")["by_path"].get("/", 0), before)
                old = servers_by_port(ngx, be)
                self.assertEqual(old["c"]["health"], "down")
                ngx.reload()
                new = servers_by_port(ngx, be)
                # health and counters came along: not re-checked from zero
                self.assertEqual(new["c"]["health"], "down")
                self.assertGreaterEqual(new["c"]["checks"], old["c"]["checks"])
                self.assertEqual(new["a"]["health"], "up")
                self.assertGreaterEqual(new["a"]["requests"], old["a"]["requests"])
                self.assertGreaterEqual(old["a"]["requests"], 10)
                counts = count_bodies(ngx, "/", 30)
                self.assertEqual(be.stats("c")["by_path"].get("/", 0), before)
                self.assertEqual(sum(counts.get(n, 0) for n in "ab"), 30, counts)

    def test_reload_under_load_loses_no_request(self):
        with Backends(["a", "b", "c"], extra={n: ["--latency", "2ms"]
                                              for n in "abc"}) as be:
            with Nginx(body_for(be, ["a", "b", "c"], "lbkit peak_ewma;"),
                       workers=2) as ngx:
                results = []
                lock = threading.Lock()
                stop = threading.Event()

                def load():
                    # bounded: at most 2000 requests or until told to stop
                    for _ in range(2000):
                        if stop.is_set():
                            return
                        try:
                            status, body = ngx.get("/", timeout=10)
                        except OSError as e:
                            status, body = 0, repr(e)
                        with lock:
                            results.append((status, body))

                threads = [threading.Thread(target=load) for _ in range(3)]
                for t in threads:
                    t.start()
                time.sleep(0.3)
                for i in range(3):
                    ngx.reload(wait_old=False)
                    time.sleep(0.4)
                stop.set()
                for t in threads:
                    t.join(timeout=30)
                log = ngx.log()
        failed = [r for r in results if r[0] != 200]
        self.assertGreater(len(results), 100)
        self.assertEqual(failed, [])
        self.assertEqual(log.count("lbkit: kept the state of 3 of 3 servers"), 3)
        self.assertNotIn("[alert]", log)


if __name__ == "__main__":
    unittest.main(verbosity=2)
