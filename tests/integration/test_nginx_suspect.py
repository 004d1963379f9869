"""Suspect servers through real nginx: a server that stops answering (it
reads requests and never replies) with one request in flight gets no new
request from `lbkit round_robin suspect=30ms` once the floor has passed,
where plain `lbkit round_robin` in the same nginx sends it its turn, which
waits for proxy_read_timeout; `suspect=` is checked by `nginx -t`."""
import threading
import time
import unittest

from nginx_harness import (Backends, Nginx, NginxTestCase, config_test,
                           proxy_server, upstream)

NAMES = ["a", "b", "c", "d"]
TIMEOUT = "proxy_read_timeout 2s; proxy_next_upstream error timeout;"


class Suspect(NginxTestCase):

    def test_a_hung_server_gets_no_new_request(self):
        with Backends(NAMES) as be:
            servers = [f"127.0.0.1:{be.ports[n]} max_fails=0" for n in NAMES]
            body = "\n".join([
                upstream("sus", "lbkit round_robin suspect=30ms;", servers),
                upstream("plain", "lbkit round_robin;", servers),
                proxy_server({"/sus": ("sus", TIMEOUT), "/plain": ("plain", TIMEOUT)})])
            with Nginx(body, workers=1) as ngx:
                for path in ("/sus", "/plain"):  # measured: about 1 ms each
                    for _ in range(8):
                        self.assertEqual(ngx.get(path)[0], 200)
                be.control("d", hang=True)
                # round robin: a b c, then d takes one request and hangs
                stuck = threading.Thread(target=lambda: [ngx.get("/sus") for _ in range(4)])
                stuck.start()
                time.sleep(0.3)  # past the 30 ms floor, before the 2 s timeout
                started = time.monotonic()
                bodies = [ngx.get("/sus")[1] for _ in range(20)]
                took = time.monotonic() - started
                self.assertNotIn("d", bodies)
                self.assertEqual(set(bodies), {"a", "b", "c"})
                self.assertLess(took, 1.5, "a request waited for the hung server")
                stuck.join(timeout=10)
                # without suspect, d gets its turn and it waits for the timeout
                waited = 0.0
                for _ in range(4):
                    t0 = time.monotonic()
                    self.assertEqual(ngx.get("/plain")[0], 200)
                    waited = max(waited, time.monotonic() - t0)
                self.assertGreaterEqual(waited, 1.9)

    def test_suspect_parameter_is_checked(self):
        rc, out, _ = config_test("\n".join([
            upstream("api", "lbkit peak_ewma suspect=off;", ["127.0.0.1:9"]),
            upstream("b", "lbkit hash $arg_k consistent suspect=50ms;", ["127.0.0.1:9"]),
            proxy_server({"/": "api"})]))
        self.assertEqual(rc, 0, out)
        rc, out, conf = config_test("\n".join([
            upstream("api", "lbkit least_conn suspect=soon;", ["127.0.0.1:9"]),
            proxy_server({"/": "api"})]))
        self.assertNotEqual(rc, 0, out)
        self.assertIn('invalid parameter "suspect=soon" of "lbkit least_conn"', out)
        self.assertIn(conf + ":", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
