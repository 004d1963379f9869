"""`keepalive` after `lbkit` keeps upstream connections open and reuses them;
placed before `lbkit` it is refused where nginx binds keepalive to the
balancer it finds when the directive is parsed (before 1.29.7), and works
where nginx binds it after the configuration is read."""
import os
import unittest

import lbktest

from nginx_harness import (Backends, Nginx, NginxTestCase, config_test,
                           count_bodies, keepalive_by_default, proxy_server,
                           upstream)

KEEPALIVE_LOCATION = 'proxy_http_version 1.1; proxy_set_header Connection "";'


class Keepalive(NginxTestCase):

    def run_requests(self, directives, n=60, workers=1):
        with Backends(["a", "b"]) as be:
            servers = [f"127.0.0.1:{be.ports[x]}" for x in ("a", "b")]
            body = "\n".join([
                upstream("api", directives, servers),
                proxy_server({"/": ("api", KEEPALIVE_LOCATION)}),
            ])
            with Nginx(body, workers=workers) as ngx:
                counts = count_bodies(ngx, "/?k=7", n)
            stats = {x: be.stats(x) for x in ("a", "b")}
        return counts, stats

    def test_connections_are_reused(self):
        for method in ("round_robin", "least_conn", "p2c", "hash $arg_k consistent"):
            with self.subTest(method=method):
                counts, stats = self.run_requests(f"lbkit {method}; keepalive 8;")
                self.assertEqual(sum(v for k, v in counts.items()
                                     if not k.startswith("status:")), 60, counts)
                requests = sum(s["requests"] for s in stats.values())
                connections = sum(s["connections"] for s in stats.values())
                self.assertEqual(requests, 60)
                # sequential requests: one cached connection per backend
                # (plus the one each /__stats request came on)
                self.assertLessEqual(connections - 2, 2, stats)

    def test_without_keepalive_every_request_connects(self):
        # the peer of the test above: the same load opens a connection per
        # request when `keepalive` is absent
        # (nginx >= 1.29.7 caches connections unless told `keepalive 0`)
        off = " keepalive 0;" if keepalive_by_default() else ""
        counts, stats = self.run_requests("lbkit round_robin;" + off, n=20)
        self.assertEqual(counts, {"a": 10, "b": 10})
        # each backend also counted the connection of its /__stats request
        self.assertEqual(sum(s["connections"] - 1 for s in stats.values()), 20)

    def test_balancing_unchanged_by_keepalive(self):
        counts, _ = self.run_requests("lbkit round_robin; keepalive 8;", n=40)
        self.assertEqual(counts, {"a": 20, "b": 20})

    def test_tls_upstream_with_session_reuse(self):
        # proxy_pass https:// calls the balancer's TLS session hooks
        with lbktest.tempdir() as certdir:
            lbktest.run([os.path.join(lbktest.SOURCE_DIR, "tests", "support",
                                      "gen-cert.sh"), certdir], timeout=30,
                        check=True)
            tls = ["--tls-cert", os.path.join(certdir, "cert.pem"),
                   "--tls-key", os.path.join(certdir, "key.pem")]
            with Backends(["a", "b"], extra={"a": tls, "b": tls}) as be:
                servers = [f"127.0.0.1:{be.ports[x]}" for x in ("a", "b")]
                body = "\n".join([
                    upstream("api", "lbkit round_robin;", servers),
                    "server { listen 127.0.0.1:{port}; location / {"
                    " proxy_pass https://api; proxy_ssl_session_reuse on;"
                    " proxy_ssl_verify off; } }",
                ])
                with Nginx(body, workers=1) as ngx:
                    counts = count_bodies(ngx, "/", 20)
                    log = ngx.log()
        self.assertEqual(counts, {"a": 10, "b": 10})
        self.assertNotIn("[alert]", log)

    def test_keepalive_before_lbkit(self):
        body = "\n".join([upstream("api", "keepalive 8; lbkit round_robin;",
                                   ["127.0.0.1:9"]),
                          proxy_server({"/": "api"})])
        rc, out, _ = config_test(body)
        if keepalive_by_default():
            self.assertEqual(rc, 0, out)
            counts, stats = self.run_requests("keepalive 8; lbkit round_robin;")
            self.assertEqual(counts, {"a": 30, "b": 30})
            self.assertLessEqual(sum(s["connections"] for s in stats.values()) - 2,
                                 2, stats)
            return
        self.assertNotEqual(rc, 0)
        self.assertIn('"lbkit" must come before "keepalive"', out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
