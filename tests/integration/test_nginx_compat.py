"""The lbkit nginx module next to nginx's own balancers: `lbkit round_robin`
behaves as nginx's round robin, and bad directives fail `nginx -t` with a
message naming the parameter and the file:line."""
import re
import unittest

from nginx_harness import (Backends, Nginx, NginxTestCase, config_test,
                           keepalive_by_default, proxy_server, sequence,
                           upstream)


class RoundRobinCompat(NginxTestCase):

    def test_same_sequence_as_builtin_round_robin(self):
        names = ["a", "b", "c"]
        with Backends(names) as be:
            servers = [f"127.0.0.1:{be.ports['a']} weight=5",
                       f"127.0.0.1:{be.ports['b']}",
                       f"127.0.0.1:{be.ports['c']} weight=2"]
            body = "\n".join([
                upstream("builtin", "", servers),
                upstream("lbk", "lbkit round_robin;", servers),
                proxy_server({"/builtin": "builtin", "/lbk": "lbk"}),
            ])
            with Nginx(body, workers=1) as ngx:
                want = sequence(ngx, "/builtin", 40)
                got = sequence(ngx, "/lbk", 40)
                self.assertEqual(got, want)
                # smooth weighted: 5,1,2 -> a appears 5 of every 8
                self.assertEqual(want[:8].count("a"), 5)

    def test_down_server_gets_nothing(self):
        with Backends(["a", "b", "c"]) as be:
            servers = [f"127.0.0.1:{be.ports['a']} weight=2",
                       f"127.0.0.1:{be.ports['b']} down",
                       f"127.0.0.1:{be.ports['c']}"]
            body = "\n".join([upstream("lbk", "lbkit round_robin;", servers),
                              proxy_server({"/": "lbk"})])
            with Nginx(body, workers=1) as ngx:
                got = sequence(ngx, "/", 30)
                self.assertEqual(got.count("a"), 20)
                self.assertEqual(got.count("c"), 10)
                self.assertEqual(be.stats("b")["requests"], 0)

    def test_server_listed_several_times(self):
        # nginx accepts duplicates (each copy is one more peer); so does lbkit
        with Backends(["a", "b"]) as be:
            a, b = (f"127.0.0.1:{be.ports[n]}" for n in "ab")
            servers = [a, b, a, a]
            body = "\n".join([upstream("builtin", "", servers),
                              upstream("lbk", "lbkit round_robin;", servers),
                              proxy_server({"/builtin": "builtin", "/lbk": "lbk"})])
            with Nginx(body, workers=1) as ngx:
                self.assertEqual(sequence(ngx, "/lbk", 16), sequence(ngx, "/builtin", 16))
                self.assertEqual(sequence(ngx, "/lbk", 8).count("a"), 6)

    def test_ipv6_servers(self):
        with Backends(["a", "b"], host="::1") as be:
            servers = [f"[::1]:{be.ports[n]}" for n in "ab"]
            body = "\n".join([
                upstream("lbk", "lbkit hash $arg_k consistent;", servers),
                upstream("builtin", "hash $arg_k consistent;", servers),
                proxy_server({"/lbk": "lbk", "/builtin": "builtin"})])
            with Nginx(body, workers=1) as ngx:
                for key in range(30):
                    got = ngx.get(f"/lbk?k={key}")
                    self.assertEqual(got[0], 200)
                    self.assertEqual(got, ngx.get(f"/builtin?k={key}"))
                self.assertEqual(be.stats("a")["requests"] + be.stats("b")["requests"], 60)

    def test_single_server_is_not_taken_out_by_failures(self):
        # nginx ignores max_fails for the only server of an upstream; a
        # failure must not turn the next request into "no live upstreams".
        with Backends(["a"]) as be:
            body = "\n".join([
                upstream("one", "lbkit round_robin;",
                         [f"127.0.0.1:{be.ports['a']} max_fails=1 fail_timeout=60s"]),
                proxy_server({"/": "one"}),
            ])
            with Nginx(body, workers=1) as ngx:
                be.control("a", fault="close")  # answers nothing: a failure
                status, _ = ngx.get("/x")
                self.assertEqual(status, 502)
                be.control("a", fault="none")
                status, text = ngx.get("/x")
                self.assertEqual((status, text), (200, "a"))


class BadDirectives(NginxTestCase):

    CASES = [
        ("lbkit bogus;", r'invalid balancing method "bogus"'),
        ("lbkit peak_ewma decay=abc;", r'invalid parameter "decay=abc"'),
        ("lbkit peak_ewma decay=0s;", r'invalid parameter "decay=0s"'),
        ("lbkit round_robin x=1;", r'invalid parameter "x=1" of "lbkit round_robin"'),
        ("lbkit hash;", r'"lbkit hash" needs a KEY'),
        ("lbkit hash $arg_k ketama2;", r'invalid parameter "ketama2"'),
        ("lbkit hash $arg_k balance_factor=50;",
         r'invalid parameter "balance_factor=50".*above 100'),
        ("lbkit round_robin; lbkit least_conn;", r'"lbkit" directive is duplicate'),
        ("hash $arg_k; lbkit round_robin;", r'"lbkit" must come before "keepalive"'),
    ]

    def test_nginx_t_names_the_parameter_and_line(self):
        cases = list(self.CASES)
        if not keepalive_by_default():
            # (nginx >= 1.29.7 hooks keepalive in later: order is free there)
            cases.append(("keepalive 4; lbkit round_robin;",
                          r'"lbkit" must come before "keepalive"'))
        for directive, pattern in cases:
            with self.subTest(directive=directive):
                body = "\n".join([
                    upstream("api", directive, ["127.0.0.1:9"]),
                    proxy_server({"/": "api"}),
                ])
                rc, out, conf = config_test(body)
                self.assertNotEqual(rc, 0, out)
                self.assertRegex(out, pattern)
                self.assertRegex(out, re.escape(conf) + r":\d+")

    def test_lbkit_check_without_lbkit_is_refused(self):
        body = "\n".join([
            upstream("api", "lbkit_check type=tcp;", ["127.0.0.1:9"]),
            proxy_server({"/": "api"}),
        ])
        rc, out, _ = config_test(body)
        self.assertNotEqual(rc, 0, out)
        self.assertIn('"lbkit_check" needs "lbkit METHOD;" in upstream "api"', out)

    def test_every_method_loads(self):
        methods = ["round_robin", "least_conn", "random", "p2c",
                   "peak_ewma decay=5s", "fastest", "first",
                   "hash $arg_k", "hash $arg_k consistent",
                   "hash $arg_k maglev", "hash $arg_k consistent balance_factor=150"]
        blocks = [upstream(f"u{i}", f"lbkit {m};", ["127.0.0.1:9", "127.0.0.1:10"])
                  for i, m in enumerate(methods)]
        rc, out, _ = config_test("\n".join(blocks + [proxy_server({"/": "u0"})]))
        self.assertEqual(rc, 0, out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
