"""`lbkit hash KEY [consistent]` sends every key to the same server as
nginx's built-in `hash KEY [consistent]` for the same server list."""
import unittest

from nginx_harness import (Backends, Nginx, NginxTestCase, count_bodies,
                           proxy_server, upstream)

NAMES = ["a", "b", "c", "d", "e"]
WEIGHTS = {"a": 1, "b": 2, "c": 1, "d": 1, "e": 3}
KEYS = [f"user-{i * 7919 % 100003}" for i in range(200)]


class HashCompat(NginxTestCase):

    def compare(self, builtin, lbkit, empty_key_too=False):
        with Backends(NAMES) as be:
            servers = [f"127.0.0.1:{be.ports[n]} weight={WEIGHTS[n]}" for n in NAMES]
            body = "\n".join([
                upstream("builtin", builtin, servers),
                upstream("lbk", lbkit, servers),
                proxy_server({"/builtin": "builtin", "/lbk": "lbk"}),
            ])
            with Nginx(body, workers=2) as ngx:
                served = {}
                mismatched = []
                for key in KEYS:
                    want = ngx.get(f"/builtin?k={key}")
                    got = ngx.get(f"/lbk?k={key}")
                    self.assertEqual(want[0], 200)
                    self.assertEqual(got[0], 200)
                    if want[1] != got[1]:
                        mismatched.append((key, want[1], got[1]))
                    served[got[1]] = served.get(got[1], 0) + 1
                self.assertEqual(mismatched, [])
                # the keys really spread: every server owns some
                self.assertEqual(set(served), set(NAMES), served)
                if empty_key_too:
                    # nginx does not hash an empty key: it balances those
                    # requests by round robin; lbkit spreads them too
                    spread = count_bodies(ngx, "/lbk", 60)
                    self.assertEqual(sum(spread.get(n, 0) for n in NAMES), 60, spread)
                    self.assertGreaterEqual(len(spread), 3, spread)
                # and a key keeps its server
                for key in KEYS[:20]:
                    self.assertEqual(ngx.get(f"/lbk?k={key}"),
                                     ngx.get(f"/builtin?k={key}"))

    def test_consistent_matches_builtin_consistent(self):
        self.compare("hash $arg_k consistent;", "lbkit hash $arg_k consistent;",
                     empty_key_too=True)

    def test_modulo_matches_builtin_hash(self):
        self.compare("hash $arg_k;", "lbkit hash $arg_k;")

    def test_consistent_keys_stay_when_a_server_is_removed(self):
        with Backends(NAMES) as be:
            def body(names):
                servers = [f"127.0.0.1:{be.ports[n]}" for n in names]
                return "\n".join([upstream("lbk", "lbkit hash $arg_k consistent;",
                                           servers),
                                  proxy_server({"/": "lbk"})])
            with Nginx(body(NAMES), workers=1) as ngx:
                before = {k: ngx.get(f"/?k={k}")[1] for k in KEYS}
                ngx.reload(body([n for n in NAMES if n != "c"]))
                after = {k: ngx.get(f"/?k={k}")[1] for k in KEYS}
            moved = [k for k in KEYS if before[k] != "c" and before[k] != after[k]]
            self.assertEqual(moved, [])
            self.assertNotIn("c", after.values())

    def test_maglev_is_stable_and_spreads(self):
        with Backends(NAMES) as be:
            servers = [f"127.0.0.1:{be.ports[n]}" for n in NAMES]
            body = "\n".join([upstream("lbk", "lbkit hash $arg_k maglev;", servers),
                              proxy_server({"/": "lbk"})])
            with Nginx(body, workers=2) as ngx:
                first = {k: ngx.get(f"/?k={k}")[1] for k in KEYS}
                second = {k: ngx.get(f"/?k={k}")[1] for k in KEYS}
        self.assertEqual(first, second)
        counts = {n: list(first.values()).count(n) for n in NAMES}
        for n in NAMES:
            self.assertTrue(15 <= counts[n] <= 70, counts)


if __name__ == "__main__":
    unittest.main(verbosity=2)
