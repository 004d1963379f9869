"""nginx's `zone` directive in an lbkit upstream: the zone module copies
nginx's own peer list into its shared memory; lbkit keeps its state apart,
so both work together, with several workers and across reloads."""
import json
import threading
import time
import unittest

from nginx_harness import (Backends, Nginx, NginxTestCase, count_bodies,
                           proxy_server, upstream)


class Zone(NginxTestCase):

    def body(self, be, method, names):
        servers = [f"127.0.0.1:{be.ports[n]}" for n in names]
        return "\n".join([
            upstream("api", f"lbkit {method};", servers,
                     extra="zone api_peers 64k; keepalive 4;"),
            upstream("plain", "", servers, extra="zone plain_peers 64k;"),
            proxy_server({"/": ("api", 'proxy_http_version 1.1; '
                                'proxy_set_header Connection "";'),
                          "/plain": "plain"}),
        ])

    def test_zone_with_each_method(self):
        for method in ("round_robin", "least_conn", "peak_ewma", "hash $arg_k consistent"):
            with self.subTest(method=method):
                with Backends(["a", "b", "c"]) as be:
                    with Nginx(self.body(be, method, ["a", "b", "c"]), workers=2) as ngx:
                        counts = count_bodies(ngx, "/?k=1", 30)
                        self.assertEqual(sum(counts.values()), 30, counts)
                        self.assertTrue(set(counts) <= {"a", "b", "c"}, counts)
                        plain = count_bodies(ngx, "/plain", 30)
                        self.assertEqual(sum(plain.values()), 30, plain)
                        self.assertNotIn("alert", ngx.log())

    def test_round_robin_is_shared_by_workers(self):
        # the pick sequence lives in lbkit's shared zone: with 4 workers,
        # sequential requests still alternate exactly
        with Backends(["a", "b"]) as be:
            with Nginx(self.body(be, "round_robin", ["a", "b"]), workers=4) as ngx:
                counts = count_bodies(ngx, "/", 40)
        self.assertEqual(counts, {"a": 20, "b": 20})

    def test_zone_survives_reload_with_changed_servers(self):
        with Backends(["a", "b", "c"]) as be:
            with Nginx(self.body(be, "round_robin", ["a", "b"]), workers=2) as ngx:
                self.assertEqual(count_bodies(ngx, "/", 10), {"a": 5, "b": 5})
                ngx.reload(self.body(be, "round_robin", ["a", "b", "c"]))
                self.assertEqual(count_bodies(ngx, "/", 30), {"a": 10, "b": 10, "c": 10})
                ngx.reload(self.body(be, "least_conn", ["c"]))
                self.assertEqual(count_bodies(ngx, "/", 5), {"c": 5})
                log = ngx.log()
        self.assertNotIn("[alert]", log)
        self.assertNotIn("[emerg]", log)


class SharedStateUnderLoad(NginxTestCase):

    def test_every_pick_is_released(self):
        # 4 workers, 6 clients, one backend failing on and off: every request
        # is answered (retried on another server), no worker dies, and once
        # the load is over no server has an active request left in the
        # shared pool.
        with Backends(["a", "b", "c"]) as be:
            servers = [f"127.0.0.1:{be.ports[n]} max_fails=1 fail_timeout=1s"
                       for n in "abc"]
            body = "\n".join([
                upstream("api", "lbkit p2c;", servers, extra="keepalive 8;"),
                proxy_server({"/": ("api", 'proxy_http_version 1.1; '
                                    'proxy_set_header Connection "";'),
                              "= /status": ("api", "lbkit_status json;")}),
            ])
            with Nginx(body, workers=4) as ngx:
                results = []
                lock = threading.Lock()

                def client():
                    for _ in range(150):
                        try:
                            r = ngx.get("/", timeout=10)
                        except OSError as e:
                            r = (0, repr(e))
                        with lock:
                            results.append(r)

                threads = [threading.Thread(target=client) for _ in range(6)]
                for t in threads:
                    t.start()
                for i in range(12):  # bounded flapping while clients run
                    be.control("c", fault="close" if i % 2 == 0 else "none")
                    time.sleep(0.15)
                be.control("c", fault="none")
                for t in threads:
                    t.join(timeout=60)
                status, text = ngx.get("/status")
                log = ngx.log()
        self.assertEqual(len(results), 900)
        self.assertEqual([r for r in results if r[0] != 200], [])
        self.assertNotIn("exited on signal", log)
        # c did fail (and was taken out) while the clients ran
        self.assertIn(f"lbkit: upstream api server 127.0.0.1:{be.ports['c']} "
                      "temporarily down", log)
        (api,) = json.loads(text)["upstreams"]
        self.assertEqual([s["active"] for s in api["servers"]], [0, 0, 0])
        self.assertGreaterEqual(sum(s["requests"] for s in api["servers"]), 900)


if __name__ == "__main__":
    unittest.main(verbosity=2)
