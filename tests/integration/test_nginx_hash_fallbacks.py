"""The fallbacks and edge cases of nginx's `hash`, `hash consistent` and
`random`, each compared with nginx's built-in in the same nginx:

- an empty key is balanced by round robin (nginx's smooth weighted order);
- a key whose first 21 candidates (rehashes, ring points, draws) are all
  unusable goes round robin too;
- a `down` server's keys go where nginx sends them;
- nginx counts a request's 21 misses over all its attempts (a retry after
  a refused connection resumes the count): lbkit's picks do the same;
- a single server, and every server down (502, "no live upstreams");
- `backup`: nginx's hash and random refuse it; lbkit's accept it and use
  the backups only when no primary is usable (documented extension).
"""
import socket
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

    def test_misses_are_counted_over_the_retries_of_a_request(self):
        # nginx's rehashes of "key-1" over 40 servers of weight 1 land on
        # 20, 6, 4, 38, 21, 8, 23, 34, 23, 24, 28, 12, 24, 16, 37, 38, 11,
        # 28, 3, 38, 34, then 26 (crc32 as nginx computes it).  Server 20
        # refuses connections (bound, not listening; max_fails=0), 26 and 0
        # answer, the others are down.  The first attempt takes 20 and is
        # refused; the retry resumes after it and misses 20 times: 20 misses
        # in the request, not more than 20, so nginx's hash still decides,
        # and sends the key to 26.  (Counted per attempt from the first
        # rehash, the refused server would make a 21st miss, and round robin
        # would send it to server 0.)
        self.assert_both_answer({20: None, 0: "zero", 26: "twenty-six"}, "twenty-six")
        # Server 0 refuses, 1 and 26 answer: 21 misses, round robin takes
        # 0, the first in order, and is refused.  The retry goes round
        # robin at once (the request has missed 21 times), to 1; a replay
        # that allowed one more rehash for the refused server would reach
        # 26 by hash.
        self.assert_both_answer({0: None, 1: "one", 26: "twenty-six"}, "one")

    def assert_both_answer(self, layout, want):
        """40 servers of weight 1: layout maps an index to a backend's name,
        or to None for one that refuses connections (max_fails=0); the
        others are down.  Both upstreams send "key-1" to @want, after one
        refused attempt each."""
        names = [n for n in layout.values() if n]
        with Backends(names) as be, socket.socket() as refusing:
            refusing.bind(("127.0.0.1", 0))
            servers = []
            for i in range(40):
                if i not in layout:
                    servers.append(f"127.0.0.2:{20000 + i} down")
                elif layout[i] is None:
                    servers.append(f"127.0.0.1:{refusing.getsockname()[1]} max_fails=0")
                else:
                    servers.append(f"127.0.0.1:{be.ports[layout[i]]}")
            method = "hash $arg_k"
            with Nginx(pair(method, method, servers), workers=1) as ngx:
                self.assertEqual(ngx.get("/builtin?k=key-1"), (200, want))
                self.assertEqual(ngx.get("/lbk?k=key-1"), (200, want))
                self.assertEqual(ngx.log().count("Connection refused"), 2, ngx.log())

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
