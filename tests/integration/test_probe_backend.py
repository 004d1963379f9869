#!/usr/bin/env python3
"""lbk-testbackend itself: command line, keep-alive, JSON-RPC answers, faults,
the /__control and /__stats endpoints, TLS, many ports and the DNS responder.

The backend is started on 127.0.0.1 / ::1 with ports it picks (port 0) and
stopped by its PID.
"""
import http.client
import json
import os
import socket
import ssl
import struct
import subprocess
import sys
import time
import unittest

import lbktest

BACKEND = lbktest.build_path("tests", "support", "lbk-testbackend")
GEN_CERT = os.path.join(lbktest.SOURCE_DIR, "tests", "support", "gen-cert.sh")


class Backend:
    """A running lbk-testbackend; parses its "listening" lines."""

    def __init__(self, *args):
        self.proc = lbktest.Proc([BACKEND, *args], stdout=subprocess.PIPE, text=True)
        self.addresses, self.dns = {}, None
        deadline = time.monotonic() + 20
        for _ in range(100000):
            if time.monotonic() > deadline:
                raise TimeoutError("lbk-testbackend not ready after 20 s")
            line = self.proc.p.stdout.readline()
            if not line:
                raise RuntimeError("lbk-testbackend exited before ready")
            words = line.split()
            if words[0] == "listening":
                name = [w for w in words if w.startswith("name=")][0][5:]
                self.addresses[name] = words[1]
            elif words[0] == "dns":
                self.dns = words[1]
            elif words[0] == "ready":
                break

    def hostport(self, name):
        addr = self.addresses[name]
        host, port = addr.rsplit(":", 1)
        return host.strip("[]"), int(port)

    def conn(self, name, timeout=5):
        host, port = self.hostport(name)
        return http.client.HTTPConnection(host, port, timeout=timeout)

    def request(self, name, method="GET", path="/", body=None, headers=None):
        c = self.conn(name)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, r.read().decode()
        finally:
            c.close()

    def rpc(self, name, payload):
        status, body = self.request(name, "POST", "/", json.dumps(payload),
                                    {"Content-Type": "application/json"})
        return status, json.loads(body)

    def control(self, name, **settings):
        return self.request(name, "POST", "/__control", json.dumps(settings))

    def stats(self, name):
        return json.loads(self.request(name, "GET", "/__stats")[1])

    def stop(self):
        rc = self.proc.stop()
        self.proc.p.stdout.close()
        return rc


def raw_exchange(host, port, request, timeout=3.0):
    """Sends @request, reads until close/reset; returns (bytes, error or None)."""
    data, error = b"", None
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(request)
        for _ in range(100000):
            try:
                chunk = s.recv(65536)
            except OSError as e:
                error = e
                break
            if not chunk:
                break
            data += chunk
    return data, error


GET = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


class CommandLine(unittest.TestCase):
    def run_backend(self, *args):
        return lbktest.run([BACKEND, *args], timeout=10)

    def test_help_exits_0(self):
        r = self.run_backend("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("--listen", r.stdout)
        self.assertIn("/__control", r.stdout)

    def test_bad_usage_exits_2_naming_the_problem(self):
        cases = [
            (["--listen", "localhost:0"], "not a numeric ADDR:PORT"),
            (["--listen", "127.0.0.1:0", "--latency", "fast"], "--latency: bad spec 'fast'"),
            (["--listen", "127.0.0.1:0", "--fault", "explode"], "unknown fault 'explode'"),
            (["--listen", "127.0.0.1:0", "--status", "42"], "--status: '42'"),
            (["--bogus", "1"], "unknown option '--bogus'"),
            ([], "give at least one --listen"),
        ]
        for args, message in cases:
            r = self.run_backend(*args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn(message, r.stderr, args)


class Behaviours(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = lbktest.tempdir()
        lbktest.run(["/bin/sh", GEN_CERT, cls.tmp.name], timeout=30).check_returncode()
        cert, key = (os.path.join(cls.tmp.name, f) for f in ("cert.pem", "key.pem"))
        cls.b = Backend(
            "--head-interval", "0",
            "--listen", "127.0.0.1:0", "--name", "plain", "--body", "hello\n",
            "--header", "X-Test: yes",
            "--listen", "[::1]:0", "--name", "v6", "--status", "204",
            "--listen", "127.0.0.1:0", "--name", "rpc", "--head", "100",
            "--head-interval", "100ms", "--lag", "3", "--client-version", "geth/1.2.3",
            "--rpc", "eth_chainId=\"0x5\"", "--rpc-error", "debug_x=-32000:nope",
            "--listen", "127.0.0.1:0", "--name", "slow", "--latency", "uniform:100ms-150ms",
            "--listen", "127.0.0.1:0", "--name", "refuse", "--fault", "refuse",
            "--listen", "127.0.0.1:0", "--name", "reset", "--fault", "reset",
            "--listen", "127.0.0.1:0", "--name", "garbage", "--fault", "garbage",
            "--listen", "127.0.0.1:0", "--name", "huge", "--fault", "huge-headers",
            "--huge-header-bytes", "20000",
            "--listen", "127.0.0.1:0", "--name", "trickle", "--fault", "trickle",
            "--trickle-interval", "20ms",
            "--listen", "127.0.0.1:0", "--name", "tls", "--tls-cert", cert, "--tls-key", key,
            "--listen", "127.0.0.1:0", "--name", "ctl",
            "--listen", "127.0.0.1:0", "--name", "ctl2",
            "--listen", "127.0.0.1:0", "--ports", "50", "--name", "many",
            "--dns", "127.0.0.1:0", "--dns-record", "node.test=127.0.0.1",
            "--dns-record", "node.test=::1")

    @classmethod
    def tearDownClass(cls):
        cls.b.stop()
        cls.tmp.cleanup()

    def test_status_body_headers_and_ipv6(self):
        c = self.b.conn("plain")
        c.request("GET", "/x")
        r = c.getresponse()
        self.assertEqual((r.status, r.read(), r.getheader("X-Test")), (200, b"hello\n", "yes"))
        c.close()
        self.assertTrue(self.b.addresses["v6"].startswith("[::1]:"))
        self.assertEqual(self.b.request("v6")[0], 204)

    def test_keep_alive_serves_many_requests_on_one_connection(self):
        before = self.b.stats("plain")["connections"]
        c = self.b.conn("plain")
        for i in range(20):
            c.request("GET", f"/ka{i}")
            r = c.getresponse()
            self.assertEqual(r.read(), b"hello\n")
        c.close()
        # 20 requests used one connection (the stats call is another one)
        self.assertEqual(self.b.stats("plain")["connections"] - before, 2)

    def test_head_has_no_body_and_keeps_the_connection_usable(self):
        c = self.b.conn("plain")
        c.request("HEAD", "/")
        r = c.getresponse()
        self.assertEqual((r.status, r.getheader("Content-Length"), r.read()), (200, "6", b""))
        c.request("GET", "/")
        self.assertEqual(c.getresponse().read(), b"hello\n")
        c.close()

    def test_pipelined_requests_answer_in_order(self):
        host, port = self.b.hostport("plain")
        reqs = b"".join(f"GET /p{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for i in range(5))
        data, _ = raw_exchange(host, port, reqs + GET)
        self.assertEqual(data.count(b"HTTP/1.1 200 OK"), 6)

    def test_jsonrpc_head_lag_version_batch_and_errors(self):
        _, a = self.b.rpc("rpc", {"jsonrpc": "2.0", "id": 7, "method": "eth_blockNumber"})
        self.assertEqual(a["id"], 7)
        first = int(a["result"], 16)
        self.assertGreaterEqual(first, 100 - 3)
        time.sleep(0.35)
        _, batch = self.b.rpc("rpc", [
            {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber"},
            {"jsonrpc": "2.0", "id": 2, "method": "web3_clientVersion"},
            {"jsonrpc": "2.0", "id": 3, "method": "eth_chainId"},
            {"jsonrpc": "2.0", "id": 4, "method": "debug_x"},
            {"jsonrpc": "2.0", "id": 5, "method": "no_such_method"},
        ])
        self.assertGreaterEqual(int(batch[0]["result"], 16), first + 3)  # advances every 100 ms
        self.assertEqual(batch[1]["result"], "geth/1.2.3")
        self.assertEqual(batch[2]["result"], "0x5")
        self.assertEqual(batch[3]["error"], {"code": -32000, "message": "nope"})
        self.assertEqual(batch[4]["error"]["code"], -32601)
        status, body = self.b.request("rpc", "POST", "/", "{not json")
        self.assertEqual(json.loads(body)["error"]["code"], -32700)
        self.assertEqual(self.b.stats("rpc")["by_rpc_method"]["eth_blockNumber"], 2)

    def test_latency_delays_the_reply(self):
        start = time.monotonic()
        self.assertEqual(self.b.request("slow")[0], 200)
        self.assertGreaterEqual(time.monotonic() - start, 0.095)

    def test_refuse_fault_refuses(self):
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(self.b.hostport("refuse"), timeout=3)

    def test_reset_fault_sends_part_then_resets(self):
        data, error = raw_exchange(*self.b.hostport("reset"), GET)
        self.assertTrue(data.startswith(b"HTTP/1.1 "), data)
        self.assertNotIn(b"\r\n\r\n", data)
        self.assertIsInstance(error, ConnectionResetError)

    def test_garbage_fault_is_not_http(self):
        data, _ = raw_exchange(*self.b.hostport("garbage"), GET)
        self.assertEqual(len(data), 512)
        self.assertFalse(data.startswith(b"HTTP/"))

    def test_huge_headers_fault(self):
        data, _ = raw_exchange(*self.b.hostport("huge"), GET)
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertGreaterEqual(len(head), 20000)
        self.assertEqual(body, b"ok\n")

    def test_trickle_fault_sends_one_byte_at_a_time(self):
        with socket.create_connection(self.b.hostport("trickle"), timeout=3) as s:
            s.sendall(GET)
            sizes = [len(s.recv(100)) for _ in range(5)]
        self.assertEqual(sizes, [1] * 5)

    def test_tls_with_generated_certificate(self):
        ctx = ssl.create_default_context(cafile=os.path.join(self.tmp.name, "cert.pem"))
        host, port = self.b.hostport("tls")
        c = http.client.HTTPSConnection("localhost", port, timeout=5, context=ctx)
        c.request("GET", "/")
        self.assertEqual(c.getresponse().status, 200)
        c.close()
        c = http.client.HTTPSConnection(host, port, timeout=5,
                                        context=ssl.create_default_context())
        with self.assertRaises(ssl.SSLCertVerificationError):
            c.request("GET", "/")
        c.close()

    def test_tls_handshake_on_plain_port_gets_400(self):
        data, _ = raw_exchange(*self.b.hostport("plain"), b"\x16\x03\x01\x00\x05hello")
        self.assertTrue(data.startswith(b"HTTP/1.1 400"), data)

    def test_control_and_stats(self):
        self.assertEqual(self.b.control("ctl", reset_stats=True)[0], 200)
        self.assertEqual(self.b.request("ctl", path="/hc")[0], 200)
        status, body = self.b.control("ctl", status=503, latency="20ms")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["status"], 503)
        self.assertEqual(self.b.request("ctl", path="/hc")[0], 503)
        self.b.control("ctl", hang=True)
        c = self.b.conn("ctl", timeout=0.3)
        with self.assertRaises(socket.timeout):
            c.request("GET", "/hc")
            c.getresponse()
        c.close()
        self.b.control("ctl", hang=False, status=200, latency_ms=0)
        self.assertEqual(self.b.request("ctl", "POST", path="/hc", body="x")[0], 200)
        stats = self.b.stats("ctl")
        self.assertEqual(stats["requests"], 4)
        self.assertEqual(stats["by_path"], {"/hc": 4})
        self.assertEqual(stats["by_method"], {"GET": 3, "POST": 1})
        # "all" applies to every listener
        self.b.control("ctl", all=True, lag=5)
        self.assertEqual(json.loads(self.b.request("ctl2", path="/__control")[1])["lag"], 5)
        self.b.control("ctl", all=True, lag=0)
        status, body = self.b.control("ctl", fault="explode")
        self.assertEqual(status, 400)
        self.assertIn("fault", json.loads(body)["error"])

    def test_many_ports(self):
        many = [n for n in self.b.addresses if n.startswith("many")]
        self.assertEqual(len(many), 50)
        ports = {self.b.hostport(n)[1] for n in many}
        self.assertEqual(len(ports), 50)
        for n in many[:: 10]:
            self.assertEqual(self.b.request(n)[0], 200)

    def dns_query(self, name, qtype):
        host, port = self.b.dns.rsplit(":", 1)
        question = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
        query = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + question + \
            struct.pack(">HH", qtype, 1)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(3)
            s.sendto(query, (host, int(port)))
            reply = s.recv(512)
        ident, flags, _, ancount = struct.unpack(">HHHH", reply[:8])
        self.assertEqual(ident, 0x1234)
        return flags & 0xF, ancount, reply

    def test_dns_responder(self):
        rcode, count, reply = self.dns_query("node.test", 1)
        self.assertEqual((rcode, count), (0, 1))
        self.assertEqual(reply[-4:], socket.inet_aton("127.0.0.1"))
        rcode, count, reply = self.dns_query("NODE.test", 28)
        self.assertEqual((rcode, count), (0, 1))
        self.assertEqual(reply[-16:], socket.inet_pton(socket.AF_INET6, "::1"))
        rcode, count, _ = self.dns_query("other.test", 1)
        self.assertEqual((rcode, count), (3, 0))


if __name__ == "__main__":
    unittest.main(verbosity=2)
