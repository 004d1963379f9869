"""The fallbacks and edge cases of nginx's `hash`, `hash consistent` and
`random`, each compared with nginx's built-in in the same nginx:

- an empty key is balanced by round robin (nginx's smooth weighted order);
- a key whose first 21 candidates (rehashes, ring points, draws) are all
  unusable goes round robin too;
- a `down` server's keys go where nginx sends them;
- a single server, and every server down (502, "no live upstreams");
- `backup`: nginx's hash and random refuse it; lbkit's accept it and use
  the backups only when no primary is usable (documented extension).
"""
import unittest

from nginx_harness import (Backends, Nginx, NginxTestCase, config_test,
                           proxy_server, sequence, upstream)

NAMES = ["a", "b", "c", "d", "e"]
WEIGHTS = {"a": 1, "b": 2, "c": 1, "d": 1, "e": 3}
KEYS = [f"user-{i * 7919 % 100003}" for i in range(200)]
HASHES = ["hash $arg_k", "hash $arg_k consistent"]


def pair(builtin, lbkit, servers, extra=""):
    """Two upstreams with the same servers, proxied at /builtin and /lbk."""
    return "\n".join([upstream("builtin", f"{builtin};", servers, extra),
                      upstream("lbk", f"lbkit {lbkit};", servers, extra),
                      proxy_server({"/builtin": "builtin", "/lbk": "lbk"})])


class HashFallbacks(NginxTestCase):

    def test_empty_key_is_round_robin_in_nginx_order(self):
        with Backends(NAMES) as be:
            servers = [f"127.0.0.1:{be.ports[n]} weight={WEIGHTS[n]}" for n in NAMES]
            for method in HASHES:
                with self.subTest(method=method), \
                        Nginx(pair(method, method, servers), workers=1) as ngx:
                    want = sequence(ngx, "/builtin", 40)
                    got = sequence(ngx, "/lbk", 40)
                    self.assertEqual(got, want)
                    # smooth weighted round robin: 3 e, 2 b, 1 each of the others
                    self.assertEqual(sorted(want[:8]), sorted("abbcdeee"))

    def test_down_servers_and_twenty_one_misses_as_nginx(self):
        # 40 servers, only two up: a third of the keys miss 21 times and go
        # round robin, in an order both keep per upstream
        with Backends(["x", "y"]) as be:
            up = {7: be.ports["x"], 30: be.ports["y"]}
            servers = [f"127.0.0.1:{up[i]}" if i in up else f"127.0.0.2:{20000 + i} down"
                       for i in range(40)]
            for method in HASHES:
                with self.subTest(method=method), \
                        Nginx(pair(method, method, servers), workers=1) as ngx:
                    mismatched = []
                    for key in KEYS:
                        want = ngx.get(f"/builtin?k={key}")
                        got = ngx.get(f"/lbk?k={key}")
                        self.assertEqual(want[0], 200)
                        if want != got:
                            mismatched.append((key, want, got))
                    self.assertEqual(mismatched, [])

    def test_random_with_most_servers_down_always_answers(self):
        with Backends(["x", "y"]) as be:
            up = {7: be.ports["x"], 30: be.ports["y"]}
            servers = [f"127.0.0.1:{up[i]}" if i in up else f"127.0.0.2:{20000 + i} down"
                       for i in range(40)]
            with Nginx(pair("random", "random", servers), workers=1) as ngx:
                for path in ("/builtin", "/lbk"):
                    got = sequence(ngx, path, 60)
                    self.assertEqual(set(got), {"x", "y"}, (path, got))

    def test_single_server(self):
        with Backends(["only"]) as be:
            servers = [f"127.0.0.1:{be.ports['only']} max_fails=1"]
            for method in HASHES + ["random"]:
                with self.subTest(method=method), \
                        Nginx(pair(method, method, servers), workers=1) as ngx:
                    for path in ("/builtin?k=1", "/lbk?k=1", "/builtin", "/lbk"):
                        self.assertEqual(ngx.get(path), (200, "only"))

    def test_every_server_down(self):
        servers = ["127.0.0.2:20001 down", "127.0.0.2:20002 down"]
        for method in HASHES + ["random"]:
            with self.subTest(method=method), \
                    Nginx(pair(method, method, servers), workers=1) as ngx:
                for path in ("/builtin?k=1", "/lbk?k=1", "/builtin", "/lbk"):
                    self.assertEqual(ngx.get(path)[0], 502, path)
                self.assertEqual(ngx.log().count("no live upstreams"), 4, ngx.log())

    def test_backup_is_refused_by_nginx_and_served_by_lbkit(self):
        for method in HASHES + ["random"]:
            with self.subTest(method=method):
                rc, out, _ = config_test(upstream(
                    "u", f"{method};", ["127.0.0.1:9", "127.0.0.1:10 backup"]))
                self.assertNotEqual(rc, 0, out)
                self.assertIn('does not support parameter "backup"', out)
        with Backends(["p", "q"]) as be:
            servers = [f"127.0.0.2:20001 down", f"127.0.0.1:{be.ports['p']}",
                       f"127.0.0.1:{be.ports['q']} backup"]
            body = "\n".join([upstream("lbk", "lbkit hash $arg_k consistent;", servers),
                              proxy_server({"/lbk": "lbk"})])
            with Nginx(body, workers=1) as ngx:
                self.assertEqual({ngx.get(f"/lbk?k={k}")[1] for k in KEYS[:30]}, {"p"})
                self.assertEqual({ngx.get("/lbk")[1] for _ in range(6)}, {"p"})


if __name__ == "__main__":
    unittest.main(verbosity=2)
