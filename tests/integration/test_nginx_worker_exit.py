"""A worker that dies with requests in flight (SIGKILL, a crash) leaves their
`active` counts in the shared pool; the worker the master starts in its place
releases them, so `max_conns` and the load-aware methods are not skewed for
good."""
import json
import os
import signal
import threading
import unittest

import lbktest
from nginx_harness import Backends, Nginx, NginxTestCase, http_request, upstream


def body_for(be):
    return "\n".join([
        upstream("api", "lbkit least_conn;",
                 [f"127.0.0.1:{be.ports['hung']} max_conns=2"]),
        "server {",
        "  listen 127.0.0.1:{port};",
        "  location / { proxy_pass http://api; proxy_read_timeout 60s; }",
        "  location = /status { lbkit_status json; }",
        "}",
    ])


def active_of(ngx):
    status, text = ngx.get("/status")
    assert status == 200, text
    (api,) = [u for u in json.loads(text)["upstreams"] if u["name"] == "api"]
    (server,) = api["servers"]
    return server["active"]


def send_in_background(port, n):
    """Starts @n requests that the hung backend will never answer; their
    client side ends with an error when nginx's worker dies."""
    def one():
        try:
            http_request(port, "/", timeout=30)
        except OSError:
            pass
    threads = [threading.Thread(target=one, daemon=True) for _ in range(n)]
    for t in threads:
        t.start()
    return threads


class WorkerExit(NginxTestCase):

    def test_killed_workers_requests_are_released(self):
        with Backends(["hung"]) as be:
            be.control("hung", hang=True)
            with Nginx(body_for(be), workers=1) as ngx:
                threads = send_in_background(ngx.port, 2)
                lbktest.wait_until(lambda: active_of(ngx) == 2, timeout=10,
                                   what="two requests in flight")
                (worker,) = ngx.worker_pids()
                os.kill(worker, signal.SIGKILL)
                lbktest.wait_until(
                    lambda: len(ngx.worker_pids()) == 1 and
                    ngx.worker_pids() != [worker],
                    timeout=10, what="the master to start a new worker")
                for t in threads:
                    t.join(timeout=10)
                # The new worker answers the status page: nothing in flight.
                self.assertEqual(active_of(ngx), 0)
                # max_conns=2 is not used up: two new requests reach the
                # backend (they hang there, as the first two did).
                before = be.stats("hung")["requests"]
                threads = send_in_background(ngx.port, 2)
                lbktest.wait_until(
                    lambda: be.stats("hung")["requests"] == before + 2,
                    timeout=10, what="two new requests at the backend")
                self.assertEqual(active_of(ngx), 2)
                log = ngx.log()
                self.assertIn(f"lbkit: upstream \"api\": released 2 requests in "
                              f"flight in exited worker {worker}", log)
            be.control("hung", hang=False)
            for t in threads:
                t.join(timeout=10)

    def test_a_graceful_reload_releases_nothing(self):
        with Backends(["hung"]) as be:
            with Nginx(body_for(be), workers=2) as ngx:
                for _ in range(4):
                    self.assertEqual(ngx.get("/")[0], 200)
                ngx.reload()
                for _ in range(4):
                    self.assertEqual(ngx.get("/")[0], 200)
                self.assertEqual(active_of(ngx), 0)
                self.assertNotIn("released", ngx.log())


if __name__ == "__main__":
    unittest.main()
