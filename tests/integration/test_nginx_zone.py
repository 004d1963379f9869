"""nginx's `zone` directive in an lbkit upstream: the zone module copies
nginx's own peer list into its shared memory; lbkit keeps its state apart,
so both work together, with several workers and across reloads."""
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


if __name__ == "__main__":
    unittest.main(verbosity=2)
