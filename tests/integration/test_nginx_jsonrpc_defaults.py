"""The module's JSON-RPC check takes its defaults from liblbkit's chain
profiles, as lbctl does: `type=jsonrpc max_lag=5` works alone (method
eth_blockNumber, head read from `result`), `chain=` picks a profile, an
unknown chain is a configuration error.  Real nginx with the module and
lbk-testbackend listeners on 127.0.0.1, stopped by their PIDs."""
import unittest

# The module, not its classes: their tests run in their own file.
import test_nginx_checks as checks
from nginx_harness import NginxTestCase, config_test, upstream


class MaxLagAlone(checks.JsonRpcLag):
    """The lagging-node scenario with no method and no field given."""
    CHECK = "lbkit_check type=jsonrpc max_lag=5 interval=300ms timeout=300ms rise=2 fall=2;"


class ChainProfile(checks.JsonRpcLag):
    """The same with the ethereum profile's defaults (its max_lag is 5)."""
    CHECK = "lbkit_check chain=ethereum interval=300ms timeout=300ms rise=2 fall=2;"


class BadChain(NginxTestCase):

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
