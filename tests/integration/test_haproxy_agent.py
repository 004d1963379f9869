"""lbctl agent against real HAProxy 2.6 (agent-check) and lbk-testbackend.

HAProxy polls `lbctl agent` with agent-send "api/NODE\\n" every AGENT_INTER.
When a node slows down, lags behind (JSON-RPC head) or dies, HAProxy's
`show servers state` shows the new weight / drain / down state within two
agent intervals of the agent noticing (one probe interval), and it returns
when the node recovers.  Several HAProxy instances polling the same agent
cause no extra probes: each node is probed once per interval.
"""
import json
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lbktest  # noqa: E402
from lbctl_common import Backend, write_state  # noqa: E402
from haproxy_support import (HAProxy, ask_agent, start_agent, stop_agent,  # noqa: E402
                             write_jsonrpc_pool)

NODES = ["n1", "n2", "n3"]
AGENT_INTER = 0.5      # s, HAProxy agent-inter
PROBE_INTERVAL = 0.3   # s, lbctl pool interval
# A change must show within two agent intervals once the agent's next probe
# saw it; SLACK absorbs scheduling on a loaded 2-core CI machine.
SLACK = 1.5
BOUND = 2 * AGENT_INTER + PROBE_INTERVAL + SLACK
DRAIN_BIT = 0x08
MAINT_BIT = 0x01  # SRV_ADMF_FMAINT: forced maintenance (what an agent's "maint" sets)


def haproxy_backend(ports, agent_port, agent_inter_ms):
    lines = ["backend api", "    balance roundrobin"]
    for name in NODES:
        lines.append(f"    server {name} 127.0.0.1:{ports[name]} weight 100 agent-check "
                     f"agent-addr 127.0.0.1 agent-port {agent_port} "
                     f"agent-inter {agent_inter_ms}ms agent-send \"api/{name}\\n\"")
    return "\n".join(lines) + "\n"


class AgentTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = lbktest.tempdir()
        cls.backend = Backend([(n, []) for n in NODES])
        cls.ini = os.path.join(cls.tmp.name, "lbctl.ini")
        write_jsonrpc_pool(cls.ini, cls.backend, NODES, int(PROBE_INTERVAL * 1000))
        cls.agent, cls.agent_port = start_agent(cls.ini)
        cls.haproxy = HAProxy(cls.tmp.name,
                              haproxy_backend(cls.backend.ports, cls.agent_port,
                                              int(AGENT_INTER * 1000)))

    @classmethod
    def tearDownClass(cls):
        cls.haproxy.stop()
        stop_agent(cls.agent)
        cls.backend.stop()
        cls.tmp.cleanup()

    def setUp(self):
        for n in NODES:
            self.backend.control(n, {"status": 200, "latency_ms": 0, "lag": 0, "hang": False})
        self.wait_for(lambda: all(self.healthy_full(n) for n in NODES), 15, "baseline")

    def healthy_full(self, name):
        s = self.haproxy.server("api", name)
        return s["op"] == 2 and s["admin"] == 0 and s["weight"] == 100

    def wait_for(self, pred, timeout, what):
        """Waits until @pred; returns the seconds it took (fails after @timeout)."""
        t0 = time.monotonic()
        lbktest.wait_until(pred, timeout=timeout, step=0.05, what=what)
        took = time.monotonic() - t0
        lbktest.log(f"{what}: {took:.2f} s")
        return took

    def test_answers_and_unknown_names(self):
        line = ask_agent(self.agent_port, "api/n1\n")
        self.assertRegex(line, r"^ready up 100% #lbkit: .*\n$")
        line = ask_agent(self.agent_port, "n2\r\n")  # bare server name, CRLF
        self.assertRegex(line, r"^ready up \d+% #")
        # Unknown names: a comment alone (HAProxy 2.6: "No status change").
        line = ask_agent(self.agent_port, "api/nope\n")
        self.assertEqual(line, "#lbkit: unknown server 'api/nope'\n")
        self.assertNotIn("weight:", line)
        # HAProxy kept every server as it was while we asked about nonsense.
        self.assertTrue(all(self.healthy_full(n) for n in NODES))

    def test_slow_node_loses_weight_and_regains_it(self):
        self.backend.control("n2", {"latency_ms": 200})
        took = self.wait_for(lambda: self.haproxy.server("api", "n2")["weight"] < 60,
                             BOUND + 5, "slow n2 weight < 60")
        self.assertLess(took, BOUND)
        s = self.haproxy.server("api", "n2")
        # 200 ms against the 20 ms floor: 50 + 50 * 20/200 = 55%.
        self.assertGreaterEqual(s["weight"], 45)
        self.assertEqual(s["op"], 2)
        self.assertEqual(self.haproxy.server("api", "n1")["weight"], 100)
        self.backend.control("n2", {"latency_ms": 0})
        took = self.wait_for(lambda: self.healthy_full("n2"), BOUND + 5, "n2 recovered")
        self.assertLess(took, BOUND)

    def test_lagging_node_is_drained_then_readied(self):
        self.backend.control("n3", {"lag": 10})
        took = self.wait_for(lambda: self.haproxy.server("api", "n3")["admin"] & DRAIN_BIT,
                             BOUND + 5, "lagging n3 drained")
        self.assertLess(took, BOUND)
        self.assertEqual(self.haproxy.server("api", "n3")["op"], 2)
        self.backend.control("n3", {"lag": 0})
        took = self.wait_for(lambda: self.healthy_full("n3"), BOUND + 5, "n3 ready again")
        self.assertLess(took, BOUND)

    def test_dead_node_goes_down_and_comes_back(self):
        self.backend.control("n1", {"status": 500})
        took = self.wait_for(lambda: self.haproxy.server("api", "n1")["op"] == 0,
                             BOUND + 5, "dead n1 down")
        self.assertLess(took, BOUND)
        self.assertTrue(self.healthy_full("n2"))
        self.backend.control("n1", {"status": 200})
        took = self.wait_for(lambda: self.healthy_full("n1"), BOUND + 5, "n1 up again")
        self.assertLess(took, BOUND)

    def test_disabled_server_is_held_in_maintenance(self):
        # n3 marked `disabled` in the INI: the agent answers maint, HAProxy puts it in
        # maintenance, and the other servers are unaffected.
        with lbktest.tempdir() as tmp:
            ini = os.path.join(tmp, "lbctl.ini")
            write_jsonrpc_pool(ini, self.backend, NODES, int(PROBE_INTERVAL * 1000))
            with open(ini) as f:
                text = f.read()
            with open(ini, "w") as f:
                f.write(text.replace("name=n3\n", "name=n3 disabled\n"))
            agent, port = start_agent(ini)
            haproxy = None
            try:
                self.assertEqual(ask_agent(port, "api/n3\n"),
                                 "maint #lbkit: n3 is disabled in the configuration\n")
                haproxy = HAProxy(tmp, haproxy_backend(self.backend.ports, port,
                                                       int(AGENT_INTER * 1000)))
                took = self.wait_for(lambda: haproxy.server("api", "n3")["admin"] & MAINT_BIT,
                                     BOUND + 5, "disabled n3 in maintenance")
                self.assertLess(took, BOUND)
                self.wait_for(lambda: haproxy.server("api", "n1")["weight"] == 100, BOUND + 5,
                              "n1 ready alongside")
                self.assertEqual(haproxy.server("api", "n1")["admin"], 0)
            finally:
                if haproxy:
                    haproxy.stop()
                self.assertEqual(stop_agent(agent), 0)

    def test_many_pollers_one_probe_per_interval(self):
        # Two more HAProxy instances poll the same agent five times as often.
        fast_inter_ms = 100
        others = [HAProxy(self.tmp.name, haproxy_backend(self.backend.ports, self.agent_port,
                                                         fast_inter_ms), name=f"poller{i}")
                  for i in range(2)]
        try:
            self.backend.control("n2", {"latency_ms": 200})
            for h in [self.haproxy] + others:  # every instance hears the agent
                self.wait_for(lambda: h.server("api", "n2")["weight"] < 60, BOUND + 5,
                              "poller sees slow n2")
            self.backend.control("n2", {"latency_ms": 0})
            window = 3.0
            for n in NODES:
                self.backend.control(n, {"reset_stats": True})
            time.sleep(window)
            polls_per_node = len(others) * window / (fast_inter_ms / 1000.0) + window / AGENT_INTER
            for n in NODES:
                probes = self.backend.stats(n)["requests"]
                lbktest.log(f"{n}: {probes} probes in {window} s "
                            f"(about {polls_per_node:.0f} agent polls for it)")
                # One round per PROBE_INTERVAL (+1 in flight at each edge).
                self.assertLessEqual(probes, window / PROBE_INTERVAL + 2)
                self.assertGreaterEqual(probes, 2)
                self.assertLess(probes, polls_per_node / 3)
        finally:
            for h in others:
                h.stop()


class StateFileAgentTest(unittest.TestCase):
    """lbctl agent --state: answers from the canary's file, re-read on change."""

    def write(self, nodes, age_ms=0):
        # write_state makes healthy/unhealthy nodes; then set the outcomes.
        tmp = self.state + ".new"
        write_state(tmp, nodes, pool="api")
        with open(tmp) as f:
            doc = json.load(f)
        doc["generated_unix_ms"] -= age_ms
        for node, spec in zip(doc["pools"][0]["nodes"], nodes):
            node["outcome"] = spec.get("outcome", "pass")
            node["reason"] = spec.get("reason", "")
            if node["outcome"] == "lag":
                node["health"], node["healthy"] = "down", False
        with open(tmp, "w") as f:
            json.dump(doc, f)
        os.replace(tmp, self.state)

    def test_answers_follow_the_state_file(self):
        with lbktest.tempdir() as tmp:
            self.state = os.path.join(tmp, "state.json")
            ini = os.path.join(tmp, "lbctl.ini")
            with open(ini, "w") as f:
                f.write("[pool api]\ninterval = 1s\n" + "".join(
                    f"server = http://127.0.0.1:{9 + i}/ name={n}\n"
                    for i, n in enumerate("abcd")))
            url = "http://127.0.0.1:9/"
            self.write([{"name": "a", "url": url, "p50": 1.0},
                        {"name": "b", "url": url, "p50": 100.0},
                        {"name": "c", "url": url, "healthy": False, "outcome": "status",
                         "reason": "status 500"},
                        {"name": "d", "url": url, "lag": 9, "outcome": "lag",
                         "reason": "head lags by 9"}])
            agent, port = start_agent(ini, "--state", self.state)
            try:
                self.assertRegex(ask_agent(port, "api/a\n"), r"^ready up 100% #lbkit: ")
                # 100 ms against the 20 ms floor of the best: 50 + 50 * 20/100.
                self.assertRegex(ask_agent(port, "api/b\n"), r"^ready up 60% #lbkit: ")
                self.assertEqual(ask_agent(port, "api/c\n"), "down #lbkit: status 500\n")
                self.assertEqual(ask_agent(port, "api/d\n"), "drain #lbkit: head lags by 9\n")
                # The canary rewrote the file: the agent re-reads it.
                self.write([{"name": "a", "url": url, "p50": 1.0},
                            {"name": "b", "url": url, "p50": 1.0}])
                self.assertRegex(ask_agent(port, "api/b\n"), r"^ready up 100% ")
                self.assertRegex(ask_agent(port, "api/c\n"), r"^#lbkit: unknown server")
                # A canary that stopped writing: stale state changes nothing.
                self.write([{"name": "a", "url": url, "p50": 1.0}], age_ms=60000)
                self.assertRegex(ask_agent(port, "api/a\n"), r"^#lbkit: state file .* is stale")
            finally:
                self.assertEqual(stop_agent(agent), 0)

    def test_connection_bound_and_timeout(self):
        with lbktest.tempdir() as tmp:
            ini = os.path.join(tmp, "lbctl.ini")
            with open(ini, "w") as f:
                f.write("[pool api]\nserver = http://127.0.0.1:9/ name=a\n")
            self.state = os.path.join(tmp, "state.json")
            self.write([{"name": "a", "url": "http://127.0.0.1:9/"}])
            agent, port = start_agent(ini, "--state", self.state, "--max-connections", "2",
                                      "--connection-timeout", "300ms")
            idle = []
            try:
                for _ in range(2):  # connections that never send a line
                    idle.append(socket.create_connection(("127.0.0.1", port), timeout=5))
                    time.sleep(0.05)
                time.sleep(0.05)
                # Over the bound: the new connection is answered; the oldest
                # one still waiting for its line is closed without an answer.
                self.assertRegex(ask_agent(port, "api/a\n"), r"^ready up 100% ")
                try:
                    evicted = idle[0].recv(4096)
                except ConnectionResetError:
                    evicted = b""
                self.assertEqual(evicted, b"")
                # The other one times out with a comment that changes nothing.
                self.assertEqual(idle[1].recv(4096).decode(),
                                 '#lbkit: no server name received: set agent-send '
                                 '"POOL/SERVER\\n"\n')
                for s in idle:
                    s.close()
                idle.clear()
                self.assertRegex(ask_agent(port, "api/a\n"), r"^ready up 100% ")
            finally:
                for s in idle:
                    s.close()
                self.assertEqual(stop_agent(agent), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
