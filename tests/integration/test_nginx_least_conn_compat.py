"""`lbkit least_conn` against nginx's `least_conn` in the same nginx: the
shares of idle servers that tie (weighted, as nginx's round robin among
equals), the server with fewer requests in flight first, backups only when
every primary is down, a single server, every server down."""
import threading
import time
import unittest

from nginx_harness import (Backends, Nginx, NginxTestCase, count_bodies,
                           proxy_server, sequence, upstream)


def pair(servers):
    return "\n".join([upstream("builtin", "least_conn;", servers),
                      upstream("lbk", "lbkit least_conn;", servers),
                      proxy_server({"/builtin": "builtin", "/lbk": "lbk"})])


class LeastConnCompat(NginxTestCase):

    def test_ties_follow_the_weights_as_nginx(self):
        with Backends(["a", "b", "c"]) as be:
            two = [f"127.0.0.1:{be.ports['a']}", f"127.0.0.1:{be.ports['b']} weight=2"]
            with Nginx(pair(two), workers=1) as ngx:
                self.assertEqual(sequence(ngx, "/lbk", 12), sequence(ngx, "/builtin", 12))
            three = [f"127.0.0.1:{be.ports['a']} weight=5", f"127.0.0.1:{be.ports['b']}",
                     f"127.0.0.1:{be.ports['c']}"]
            with Nginx(pair(three), workers=1) as ngx:
                want = count_bodies(ngx, "/builtin", 70)
                got = count_bodies(ngx, "/lbk", 70)
            self.assertEqual(got, want)
            self.assertEqual(got, {"a": 50, "b": 10, "c": 10})

    def test_the_server_with_fewer_in_flight_first(self):
        with Backends(["slow", "fast"], extra={"slow": ["--latency", "1500ms"]}) as be:
            servers = [f"127.0.0.1:{be.ports[n]}" for n in ("slow", "fast")]
            with Nginx(pair(servers), workers=1) as ngx:
                for path in ("/builtin", "/lbk"):
                    # two requests at once: one of them holds the slow server
                    held = [threading.Thread(target=ngx.get, args=(path,)) for _ in range(2)]
                    for t in held:
                        t.start()
                    time.sleep(0.3)
                    got = sequence(ngx, path, 6)
                    for t in held:
                        t.join(timeout=10)
                    self.assertEqual(got, ["fast"] * 6, path)

    def test_backup_single_and_every_server_down(self):
        with Backends(["p", "q"]) as be:
            backup = [f"127.0.0.2:20001 down", f"127.0.0.1:{be.ports['p']} backup"]
            single = [f"127.0.0.1:{be.ports['q']}"]
            down = ["127.0.0.2:20001 down", "127.0.0.2:20002 down"]
            for servers, want in ((backup, (200, "p")), (single, (200, "q")), (down, None)):
                with self.subTest(servers=servers), Nginx(pair(servers), workers=1) as ngx:
                    for path in ("/builtin", "/lbk"):
                        got = ngx.get(path)
                        if want is None:
                            self.assertEqual(got[0], 502, path)
                        else:
                            self.assertEqual(got, want, path)


if __name__ == "__main__":
    unittest.main(verbosity=2)
