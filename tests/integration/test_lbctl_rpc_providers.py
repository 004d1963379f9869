"""lbctl against real JSON-RPC nodes (Anvil, a local Ethereum node from npm)
and the test backend for faults: chain id, lag on by default, idempotency
from the JSON-RPC method, failover that understands JSON-RPC, --fail, API
keys and Basic auth that reach the node, secrets that never leave lbctl, one
HTTP request per check."""
import json
import os
import unittest

import lbktest
from anvil_support import Anvil
from lbctl_common import BackendCase, lbctl, lbctl_json, write_state


def rpc(method, params=()):
    return json.dumps({"jsonrpc": "2.0", "id": 9, "method": method, "params": list(params)})


class AnvilTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.nodes = []
        try:
            cls.a = Anvil(31337)
            cls.nodes.append(cls.a)
            cls.b = Anvil(31337)
            cls.nodes.append(cls.b)
            cls.other = Anvil(5)
            cls.nodes.append(cls.other)
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for n in cls.nodes:
            n.stop()

    def test_wrong_chain_id_is_unhealthy_with_its_reason(self):
        r, doc = lbctl_json("probe", "-o", "json", "--chain-id", "31337", self.a.url, self.other.url)
        self.assertEqual(r.returncode, 1, r.stderr)
        nodes = {n["url"]: n for n in doc["nodes"]}
        self.assertTrue(nodes[self.a.url]["healthy"])
        self.assertEqual(nodes[self.a.url]["chain_id"], "0x7a69")
        bad = nodes[self.other.url]
        self.assertFalse(bad["healthy"])
        self.assertEqual(bad["outcome"], "chain")
        self.assertEqual(bad["error"], "chain id 0x5, expected 31337")
        # Without --chain-id the disagreement is still reported.
        r, doc = lbctl_json("probe", "-o", "json", "--check", "jsonrpc", self.a.url, self.other.url)
        self.assertIn("nodes disagree on the chain id", r.stderr)
        self.assertIn("reports 0x5", r.stderr)
        # forward never picks the node of the other chain.
        r = lbctl("forward", "-v", "--chain-id", "0x7a69", "-d", rpc("eth_chainId"), self.other.url, self.a.url)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["result"], "0x7a69")

    def test_lagging_node_is_unhealthy_by_default(self):
        mined = self.a.rpc("anvil_mine", ["0x20"])
        self.assertNotIn("error", mined)
        r, doc = lbctl_json("probe", "-o", "json", "--check", "jsonrpc", self.a.url, self.b.url)
        self.assertEqual(r.returncode, 1, r.stderr)
        nodes = {n["url"]: n for n in doc["nodes"]}
        behind = nodes[self.b.url]
        self.assertGreaterEqual(behind["jsonrpc"]["lag"], 32)
        self.assertEqual(behind["outcome"], "lag")
        self.assertFalse(behind["healthy"])
        r, doc = lbctl_json("probe", "-o", "json", "--check", "jsonrpc", "--max-lag", "0", self.a.url, self.b.url)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.b.rpc("anvil_mine", [hex(int(self.a.rpc("eth_blockNumber")["result"], 16) -
                                      int(self.b.rpc("eth_blockNumber")["result"], 16))])

    def test_hedge_of_a_read_needs_no_force_and_race_refuses_a_write(self):
        call = rpc("eth_call", [{"to": "0x0000000000000000000000000000000000000001", "data": "0x"}, "latest"])
        r = lbctl("forward", "-s", "hedge", "--max-lag", "0", "-d", call, self.a.url, self.b.url)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("result", json.loads(r.stdout))
        r = lbctl("forward", "-s", "race", "--force", "-d", rpc("eth_sendRawTransaction", ["0x00"]),
                  self.a.url, self.b.url)
        self.assertEqual(r.returncode, 2)
        self.assertIn("eth_sendRawTransaction is a write method", r.stderr)
        # A batch is a read only when every call is.
        batch = "[%s,%s]" % (rpc("eth_blockNumber"), rpc("eth_sendRawTransaction", ["0x00"]))
        r = lbctl("forward", "-s", "race", "-d", batch, self.a.url, self.b.url)
        self.assertEqual(r.returncode, 2)

    def test_application_error_is_returned_not_failed_over_and_fail_exits_22(self):
        bad = rpc("eth_getBalance", ["not-an-address", "latest"])
        r = lbctl("forward", "-v", "--max-lag", "0", "-d", bad, self.a.url, self.b.url)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("error", json.loads(r.stdout))
        self.assertEqual(r.stderr.count("lbctl: sending"), 1, r.stderr)
        r = lbctl("forward", "--fail", "--max-lag", "0", "-d", bad, self.a.url, self.b.url)
        self.assertEqual(r.returncode, 22, r.stderr)
        self.assertIn("error", json.loads(r.stdout))
        r = lbctl("forward", "--fail", "--max-lag", "0", "-d", rpc("eth_blockNumber"), self.a.url)
        self.assertEqual(r.returncode, 0, r.stderr)


SECRETS = ("k-secret-1", "pw-secret-2", "path-secret-3", "q-secret-4", "s-secret-5")


class ProviderFaultsTest(BackendCase):
    LISTENERS = [
        ("keyed", ["--require-header", "X-Api-Key: k-secret-1"]),
        ("keyed2", ["--require-header", "X-Api-Key: s-secret-5"]),
        ("basic", ["--require-header", "Authorization: Basic dXNlcjpwdy1zZWNyZXQtMg=="]),
        ("good", []),
        ("busy", ["--status", "503"]),
        ("limited", ["--rpc-error", "eth_blockNumber=-32005:limit exceeded"]),
        ("reverts", ["--rpc-error", "eth_call=3:execution reverted"]),
    ]

    def config(self):
        path = os.path.join(self.dir, "providers.ini")
        with open(path, "w") as f:
            f.write("[pool eth]\nchain = ethereum\ninterval = 100ms\nheader = X-Api-Key: k-secret-1\n"
                    "server = %s name=keyed\n" % self.url("keyed") +
                    "server = %s name=keyed2 header=\"X-Api-Key: s-secret-5\"\n" % self.url("keyed2") +
                    "server = http://user:pw-secret-2@127.0.0.1:%d/ name=basic\n" % self.backend.ports["basic"] +
                    "server = %s name=pathkey\n" % self.url("good", "/path-secret-3") +
                    "server = %s\n" % self.url("good", "/?apikey=q-secret-4"))
        return path

    def test_keys_reach_the_node_and_secrets_never_appear(self):
        cfg = self.config()
        state = os.path.join(self.dir, "state.json")
        outputs = []
        r = lbctl("probe", "-c", cfg, "-o", "json")
        outputs.append(r)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual({n["name"] for n in doc["nodes"] if n["healthy"]},
                         {"keyed", "keyed2", "basic", "pathkey", self.url("good", "/?apikey=***")})
        for name in ("keyed", "keyed2", "basic"):
            self.assertEqual(self.backend.stats(name)["unauthorized"], 0, name)
        for args in (["probe", "-c", cfg, "-o", "table"], ["rank", "-c", cfg, "-o", "json"],
                     ["watch", "-c", cfg, "--once", "--state", state]):
            r = lbctl(*args)
            outputs.append(r)
            self.assertIn(r.returncode, (0, 1), r.stderr)
        for pool_node in ("keyed", "keyed2", "basic"):
            self.backend.control(pool_node, {"reset_stats": True})
        for name in ("keyed", "keyed2", "basic"):
            r = lbctl("forward", "-v", "-c", cfg, "--state", state, "--retries", "0", "-d", rpc("eth_blockNumber"))
            outputs.append(r)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("result", json.loads(r.stdout))
        # Forward to each keyed node in turn: drop the others from the state.
        with open(state) as f:
            full = json.load(f)
        for name in ("keyed", "keyed2", "basic"):
            only = dict(full)
            only["pools"] = [dict(full["pools"][0], nodes=[n for n in full["pools"][0]["nodes"] if n["name"] == name])]
            one = os.path.join(self.dir, "one.json")
            with open(one, "w") as f:
                json.dump(only, f)
            r = lbctl("forward", "-v", "-c", cfg, "--state", one, "-d", rpc("eth_blockNumber"))
            outputs.append(r)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(self.backend.stats(name)["unauthorized"], 0, name)
            self.assertGreaterEqual(self.backend.stats(name)["by_rpc_method"].get("eth_blockNumber", 0), 1)
            # Without the configuration the state's masked URL cannot be used.
            if name == "basic":
                r = lbctl("forward", "--state", one, "-d", rpc("eth_blockNumber"))
                outputs.append(r)
                self.assertEqual(r.returncode, 2)
                self.assertIn("masked in the state file", r.stderr)
        with open(state) as f:
            state_text = f.read()
        self.assertIn("user:***@", state_text)
        self.assertIn("apikey=***", state_text)
        for secret in SECRETS:
            self.assertNotIn(secret, state_text, "state file")
            for r in outputs:
                self.assertNotIn(secret, r.stdout, r.args)
                self.assertNotIn(secret, r.stderr, r.args)
        # A bad URL in the file is a config error, its secret not quoted.
        bad = os.path.join(self.dir, "bad.ini")
        with open(bad, "w") as f:
            f.write("[pool p]\nserver = http://u:pw-secret-2@127.0.0.1:99999/\n")
        r = lbctl("check-config", "-c", bad)
        self.assertEqual(r.returncode, 2)
        self.assertIn("bad.ini:2: server: bad URL", r.stderr)
        self.assertNotIn("pw-secret-2", r.stderr)

    def forward_via(self, first, *args, body=None):
        state = os.path.join(self.dir, "order-%s.json" % first)
        write_state(state, [{"name": first, "url": self.url(first), "p50": 0.1},
                            {"name": "good", "url": self.url("good"), "p50": 5.0}])
        return lbctl("forward", "-v", "--state", state, "-d", body or rpc("eth_blockNumber"), *args)

    def test_503_429_and_rate_limit_fail_over(self):
        self.backend.control("busy", {"status": 503})
        r = self.forward_via("busy")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("HTTP 503: the node failed", r.stderr)
        self.assertIn("result", json.loads(r.stdout))
        self.backend.control("busy", {"status": 429})
        r = self.forward_via("busy")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("HTTP 429: the node failed", r.stderr)
        self.backend.control("busy", {"status": 503})
        r = self.forward_via("limited")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("jsonrpc error -32005: limit exceeded: the node failed", r.stderr)
        self.assertIn("result", json.loads(r.stdout))
        # The list is the user's: without -32005 and its text, no failover.
        r = self.forward_via("limited", "--failover-errors", "header not found")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["error"]["code"], -32005)

    def test_application_errors_do_not_fail_over(self):
        self.backend.control("good", {"reset_stats": True})
        call = rpc("eth_call", [{"to": "0x0000000000000000000000000000000000000001"}, "latest"])
        r = self.forward_via("reverts", body=call)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["error"]["message"], "execution reverted")
        self.assertEqual(self.backend.stats("good")["by_rpc_method"].get("eth_call", 0), 0)
        r = self.forward_via("reverts", "--fail", body=call)
        self.assertEqual(r.returncode, 22)

    def test_a_write_that_reached_a_node_is_never_resent(self):
        self.backend.control("good", {"reset_stats": True})
        send = rpc("eth_sendRawTransaction", ["0x00"])
        r = self.forward_via("busy", "--fail", body=send)
        self.assertEqual(r.returncode, 22, r.stderr)
        self.assertIn("not resent elsewhere", r.stderr)
        self.assertEqual(self.backend.stats("good")["by_rpc_method"].get("eth_sendRawTransaction", 0), 0)

    def test_each_check_is_one_http_request(self):
        self.backend.control("good", {"reset_stats": True})
        r = lbctl("probe", "-o", "json", "-n", "6", "-i", "10ms", "--check", "jsonrpc", self.url("good", "/one"))
        self.assertEqual(r.returncode, 0, r.stderr)
        stats = self.backend.stats("good")
        # Six checks of one request each; the chain id and client version
        # are asked once, in the first round.
        self.assertEqual(stats["by_rpc_method"].get("eth_blockNumber"), 6)
        self.assertEqual(stats["by_rpc_method"].get("eth_chainId"), 1)
        self.assertEqual(stats["by_rpc_method"].get("web3_clientVersion"), 1)
        self.assertEqual(stats["by_path"].get("/one"), 8)

    def test_durations_need_a_unit(self):
        r = lbctl("probe", "--timeout", "5", self.url("good"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("'5' has no unit: 5s or 5ms?", r.stderr)
        r = lbctl("forward", "--max-time", "30", self.url("good"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("--max-time: '30' has no unit: 30s or 30ms?", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
