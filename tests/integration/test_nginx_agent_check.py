"""`lbkit_check type=agent` against agents that give fixed replies
(lbk-testbackend --agent-reply): each word HAProxy 2.6 understands is applied
to the servers of an upstream, and `port=` asks an agent on each server's host.
"""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lbktest  # noqa: E402
from nginx_harness import Backends, Nginx, NginxTestCase  # noqa: E402

REPLIES = {"ready": "ready up", "drain": "drain", "maint": "maint", "half": "ready 50%",
           "down": "down #failing"}


class AgentCheckTest(NginxTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.servers = Backends(["x", "y"])
        cls.agents = Backends([f"agent-{k}" for k in REPLIES],
                              extra={f"agent-{k}": ["--agent-reply", v]
                                     for k, v in REPLIES.items()})
        sx, sy = cls.servers.ports["x"], cls.servers.ports["y"]
        body = ""
        for k in REPLIES:
            body += (f"upstream u_{k} {{\n  zone u_{k} 64k;\n  lbkit round_robin;\n"
                     f"  server 127.0.0.1:{sx} weight=10;\n  server 127.0.0.1:{sy} weight=10;\n"
                     f"  lbkit_check type=agent agent=127.0.0.1:{cls.agents.ports['agent-' + k]}"
                     f" interval=200ms timeout=500ms rise=1 fall=1;\n}}\n")
        # port=: the agent on each server's own host (127.0.0.1) at that port
        body += (f"upstream u_port {{\n  zone u_port 64k;\n  lbkit round_robin;\n"
                 f"  server 127.0.0.1:{sx};\n"
                 f"  lbkit_check type=agent port={cls.agents.ports['agent-down']} "
                 f"agent_pool=api interval=200ms timeout=500ms rise=1 fall=1;\n}}\n")
        body += ("server {\n  listen 127.0.0.1:{port};\n"
                 "  location = /status { lbkit_status; }\n"
                 "  location /api { lbkit_api; }\n}\n")
        cls.nginx = Nginx(body, workers=2)

    @classmethod
    def tearDownClass(cls):
        cls.nginx.cleanup()
        cls.agents.stop()
        cls.servers.stop()

    def upstream(self, name):
        status, body = self.nginx.get("/status")
        self.assertEqual(status, 200, body)
        return [u for u in json.loads(body)["upstreams"] if u["name"] == name][0]

    def settled(self, name, predicate):
        """Waits until every server of @name was checked and @predicate holds."""
        def ok():
            servers = self.upstream(name)["servers"]
            return all(s["last_check"] for s in servers) and all(predicate(s) for s in servers)
        lbktest.wait_until(ok, timeout=10, what=f"upstream {name}")
        return self.upstream(name)

    def test_type_is_agent(self):
        self.assertEqual(self.upstream("u_ready")["check"]["type"], "agent")

    def test_up(self):
        for s in self.settled("u_ready", lambda s: s["health"] == "up")["servers"]:
            self.assertEqual((s["state"], s["effective_weight"]), ("up", 10), s)

    def test_drain(self):
        for s in self.settled("u_drain", lambda s: s["state"] == "draining")["servers"]:
            self.assertFalse(s["usable"], s)

    def test_maint(self):
        for s in self.settled("u_maint", lambda s: s["state"] == "maint")["servers"]:
            self.assertFalse(s["usable"], s)
        # the Plus API has no maintenance state: it shows Plus's closest, down
        status, body = self.nginx.get("/api/9/http/upstreams/u_maint")
        self.assertEqual(status, 200, body)
        self.assertEqual([p["state"] for p in json.loads(body)["peers"]], ["down", "down"])

    def test_percentage(self):
        for s in self.settled("u_half", lambda s: s["effective_weight"] == 5)["servers"]:
            self.assertEqual((s["weight"], s["state"]), (10, "up"), s)

    def test_down(self):
        for s in self.settled("u_down", lambda s: s["health"] == "down")["servers"]:
            self.assertEqual(s["last_check"]["result"], "agent", s)
            self.assertFalse(s["usable"], s)

    def test_port_asks_the_servers_host(self):
        up = self.settled("u_port", lambda s: s["health"] == "down")
        self.assertEqual(up["servers"][0]["last_check"]["result"], "agent")


if __name__ == "__main__":
    unittest.main()
