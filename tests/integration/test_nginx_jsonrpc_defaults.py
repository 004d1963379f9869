"""The module's JSON-RPC check takes its defaults from liblbkit's chain
profiles, as lbctl does: `type=jsonrpc max_lag=5` works alone (method
eth_blockNumber, head read from `result`), `chain=` picks a profile, an
unknown chain is a configuration error.  Real nginx with the module and
lbk-testbackend listeners on 127.0.0.1, stopped by their PIDs."""
import re
import unittest

import lbktest
from nginx_harness import Backends, Nginx, NginxTestCase, config_test, count_bodies, upstream
from test_nginx_checks import checked_site, servers, wait_health


class JsonRpcDefaults(NginxTestCase):

    def lagging_node_goes_down(self, check):
        with Backends(["n1", "n2", "n3"], extra={"n3": ["--lag", "50"]}) as be:
            names, body = checked_site(be, "n1", "n2", "n3", check=check)
            with Nginx(body, workers=1) as ngx:
                wait_health(ngx, names["n3"], "down", 5)
                lbktest.wait_until(
                    lambda: all(s["checks"] > 0 for s in servers(ngx).values()),
                    timeout=5, what="every node checked")
                st = servers(ngx)
                self.assertEqual(st[names["n3"]]["last_check"]["result"], "lag")
                self.assertEqual(st[names["n3"]]["lag"], 50)
                self.assertEqual(st[names["n1"]]["value"], 1000)
                self.assertEqual(st[names["n1"]]["health"], "up")
                self.assertNotIn("n3", count_bodies(ngx, "/x", 10))
                stats = be.stats("n1")
                self.assertGreater(stats["by_rpc_method"].get("eth_blockNumber", 0), 0)
                self.assertRegex(ngx.log(), r"lbkit: upstream api server "
                                 + re.escape(names["n3"]) + r" down: jsonrpc check")

    def test_max_lag_alone(self):
        self.lagging_node_goes_down(
            "lbkit_check type=jsonrpc max_lag=5 interval=300ms timeout=300ms rise=2 fall=2;")

    def test_chain_profile_gives_method_field_and_lag(self):
        self.lagging_node_goes_down(
            "lbkit_check chain=ethereum interval=300ms timeout=300ms rise=2 fall=2;")

    def test_unknown_chain_and_wrong_type_are_refused(self):
        for check, message in (
                ("lbkit_check chain=dogecoin;", "one of ethereum, bitcoin, steem, hive, solana"),
                ("lbkit_check type=http chain=ethereum;", "\"chain=\" needs type=jsonrpc")):
            body = upstream("api", "lbkit round_robin;", ["127.0.0.1:9"], extra=check) + \
                "\nserver { listen 127.0.0.1:{port}; location / { proxy_pass http://api; } }"
            rc, out, conf = config_test(body)
            self.assertNotEqual(rc, 0, out)
            self.assertIn(message, out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
