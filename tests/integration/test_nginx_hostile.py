"""The nginx module against hostile backends and reloads (Debian's nginx, or
LBK_NGINX):

- a backend whose JSON-RPC error message has multi-byte UTF-8 characters at
  the point where liblbkit shortens it: the status page's JSON and HTML are
  valid UTF-8 and the reason keeps whole characters;
- checks in flight when a worker exits (20 reloads, then quit, while every
  check waits 2 s for a slow backend): nginx logs no
  "[alert] open socket ... left in connection".
"""
import http.client
import json
import os
import signal
import time
import unittest

import lbktest
from nginx_harness import Backends, Nginx, NginxTestCase, proxy_server, upstream

# The reason shows the message's first 60 bytes: 'a' then two-byte
# characters, so that byte 60 is inside one.
MESSAGE = "a" + "é" * 100


def raw_get(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def site(be, names, check):
    servers = [f"127.0.0.1:{be.ports[n]}" for n in names]
    return "\n".join([
        upstream("api", "lbkit round_robin;", servers, extra=check),
        proxy_server({"/": "api"}).rstrip("}") +
        "  location = /status { lbkit_status json; }\n"
        "  location = /status.html { lbkit_status html; }\n}",
    ])


class StatusUtf8(NginxTestCase):

    def test_status_page_is_valid_utf8(self):
        extra = {"bad": ["--rpc-error", "eth_blockNumber=-32000:" + MESSAGE]}
        with Backends(["good", "bad"], extra=extra) as be:
            check = ("lbkit_check type=jsonrpc jsonrpc_method=eth_blockNumber "
                     "interval=100ms timeout=1s rise=1 fall=1;")
            with Nginx(site(be, ["good", "bad"], check), workers=1) as ngx:
                bad = f"127.0.0.1:{be.ports['bad']}"

                def reason():
                    status, data = raw_get(ngx.port, "/status")
                    self.assertEqual(status, 200)
                    doc = json.loads(data.decode("utf-8", errors="strict"))
                    (api,) = [u for u in doc["upstreams"] if u["name"] == "api"]
                    for s in api["servers"]:
                        if s["name"] == bad and s.get("last_check"):
                            return s["last_check"]["reason"]
                    return None
                text = lbktest.wait_until(reason, timeout=10, what="a check of the bad node")
                self.assertIn("jsonrpc error -32000: aé", text)
                status, html = raw_get(ngx.port, "/status.html")
                self.assertEqual(status, 200)
                self.assertIn("jsonrpc error -32000: aé", html.decode("utf-8", errors="strict"))


class ChecksInFlightAtExit(NginxTestCase):

    def test_no_open_socket_alerts_on_reload_and_quit(self):
        with Backends(["slow1", "slow2", "slow3"],
                      extra={n: ["--latency", "2s"] for n in ("slow1", "slow2", "slow3")}) as be:
            check = "lbkit_check type=http uri=/ interval=100ms timeout=5s rise=1 fall=3;"
            ngx = Nginx(site(be, ["slow1", "slow2", "slow3"], check), workers=2)
            try:
                time.sleep(0.5)  # every check is waiting for its reply
                for _ in range(20):
                    ngx.reload(timeout=20)
                    time.sleep(0.2)  # the new workers start their checks
                os.kill(ngx.master_pid(), signal.SIGQUIT)
                ngx.proc.p.wait(timeout=20)
                log = ngx.log()
            finally:
                ngx.cleanup()
        alerts = [line for line in log.splitlines() if "open socket" in line]
        self.assertEqual(alerts, [], "%d alerts, first: %s" % (len(alerts), alerts[:1]))
        self.assertIn("exit", log)  # the log was written (workers exited)


if __name__ == "__main__":
    unittest.main()
