"""lbctl import: the sample haproxy.cfg and nginx.conf (tests/integration/samples)
convert into lbctl INI that `lbctl check-config` accepts, with the expected
pools, methods, checks and servers; every keyword that is not carried over is
listed on stderr with file:line (the exact list is asserted); bad input has
the documented exit codes."""
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lbktest  # noqa: E402
from lbctl_common import lbctl  # noqa: E402

SAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "samples")
HAPROXY_CFG = os.path.join(SAMPLES, "haproxy.cfg")
NGINX_CONF = os.path.join(SAMPLES, "nginx.conf")

# (line, keyword) of every note for the samples, in order.
HAPROXY_NOTES = [
    (2, "global"), (9, "timeout connect"), (10, "timeout client"), (11, "timeout server"),
    (15, "frontend api_in"), (27, "server d maxconn 50"), (30, "balance uri"),
    (31, "hash-type"), (32, "cookie"), (34, "server c2"), (37, "balance random(4)"),
    (42, "server t2"), (45, "bind 127.0.0.1:6379"),
    (50, "server r2 on-marked-down shutdown-sessions"), (56, "http-check expect rstatus ^2"),
    (57, "server s1 weight 0"), (58, "server s2 10.0.3.2"),
    (59, "server s3 unix@/run/app.sock"), (63, "hash-type map-based"), (64, "server l1"),
]
NGINX_NOTES = [
    (2, "worker_processes auto"), (4, "events { }"), (9, "upstream eth"),
    (11, "server 10.0.0.1:8545 max_fails=2"), (11, "server 10.0.0.1:8545 fail_timeout=5s"),
    (14, "keepalive 16"), (20, "server [2001:db8::2]:8443 max_conns=100"),
    (21, "server unix:/run/api.sock"), (27, "upstream sticky"), (28, "ip_hash"),
    (33, "server { }"), (45, "upstream dns"),
    (46, "hash $remote_addr consistent"),
]


def parse_ini(text):
    """{pool: {key: [values]}} of lbctl INI text (keys may repeat)."""
    pools, cur = {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(";"):
            continue
        m = re.match(r"^\[pool (.+)\]$", line)
        if m:
            cur = pools.setdefault(m.group(1), {})
            continue
        key, _, value = line.partition(" = ")
        assert cur is not None, f"key outside a pool: {line}"
        cur.setdefault(key, []).append(value)
    return pools


def write(directory, name, text):
    """Writes @text to @directory/@name; returns the path."""
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def notes(stderr, path):
    """(line, keyword) of every 'FILE:LINE: KEYWORD: why' note on stderr."""
    out = []
    for line in stderr.splitlines():
        if line.startswith(path + ":"):
            m = re.match(re.escape(path) + r":(\d+): (.+?): ", line)
            assert m, line
            out.append((int(m.group(1)), m.group(2)))
    return out


class ImportTest(unittest.TestCase):
    def convert(self, path, *extra):
        r = lbctl("import", *extra, path)
        self.assertEqual(r.returncode, 0, r.stderr)
        # The output is a configuration lbctl accepts as it is.
        with lbktest.tempdir() as tmp:
            check = lbctl("check-config", "-c", write(tmp, "imported.ini", r.stdout))
            self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        return r, parse_ini(r.stdout)

    def test_haproxy_sample(self):
        r, pools = self.convert(HAPROXY_CFG)
        self.assertEqual(list(pools), ["eth", "cache", "tls_api", "redis", "sticky", "legacy"])
        eth = pools["eth"]
        self.assertEqual(eth["method"], ["least_conn"])
        self.assertEqual(eth["check"], ["http"])
        self.assertEqual(eth["check_method"], ["GET"])
        self.assertEqual(eth["path"], ["/health"])
        self.assertEqual(eth["header"], ["Host: rpc.internal", "X-Probe: lbkit"])
        self.assertEqual(eth["expect_status"], ["200-299"])
        # default-server inter 3s fall 2 rise 4, server fastinter/downinter,
        # defaults' timeout check.
        self.assertEqual((eth["interval"], eth["fastinter"], eth["downinter"], eth["timeout"],
                          eth["rise"], eth["fall"]),
                         (["3s"], ["500ms"], ["10s"], ["1500ms"], ["4"], ["2"]))
        self.assertEqual(eth["server"], [
            "http://10.0.0.1:8545/ weight=20 name=a", "http://10.0.0.2:8545/ weight=10 name=b",
            "http://10.0.0.3:8545/ name=c backup", "http://10.0.0.4:8545/ name=d"])
        self.assertEqual(pools["cache"]["method"], ["round_robin"])  # balance uri not carried
        self.assertEqual(pools["cache"]["check"], ["tcp"])  # no httpchk: a connect check
        tls = pools["tls_api"]
        self.assertEqual((tls["method"], tls["check"], tls["check_method"], tls["path"]),
                         (["p2c"], ["https"], ["HEAD"], ["/ready"]))
        self.assertEqual(tls["expect_body"], ["ok"])
        self.assertEqual((tls["ca_file"], tls["sni"], tls["interval"]),
                         (["/etc/ssl/api-ca.pem"], ["api.example.net"], ["1s"]))
        self.assertNotIn("tls_verify", tls)  # verify required = lbctl's default
        self.assertEqual(tls["server"], ["https://[2001:db8::1]:443/ name=t1",
                                         "https://api2.example.net:443/ name=t2"])
        redis = pools["redis"]
        self.assertEqual((redis["method"], redis["check"], redis["rise"], redis["fall"]),
                         (["first"], ["tcp"], ["1"], ["1"]))
        self.assertEqual(redis["server"], ["tcp://10.0.2.1:6379 name=r1",
                                           "tcp://10.0.2.2:6379 name=r2"])
        sticky = pools["sticky"]
        self.assertEqual(sticky["method"], ["source"])
        self.assertEqual(sticky["header"], ["Host: www"])  # from the httpchk version string
        self.assertEqual(sticky["server"], ["http://10.0.3.1:80/ name=s1",
                                            "http://10.0.3.2/ name=s2 disabled"])
        self.assertEqual(notes(r.stderr, HAPROXY_CFG), HAPROXY_NOTES)
        self.assertIn(f"{len(HAPROXY_NOTES)} item(s) not carried over", r.stderr)

    def test_nginx_sample(self):
        r, pools = self.convert(NGINX_CONF)
        self.assertEqual(list(pools), ["eth", "secure", "sticky", "dns"])
        eth = pools["eth"]
        self.assertEqual((eth["method"], eth["check"]), (["least_conn"], ["tcp"]))
        self.assertEqual(eth["server"], [
            "http://10.0.0.1:8545/ weight=3 name=10.0.0.1:8545",
            "http://10.0.0.2:8545/ name=10.0.0.2:8545",
            "http://10.0.0.3:8545/ name=10.0.0.3:8545 backup"])
        secure = pools["secure"]  # proxy_pass https://secure, upstream check module
        self.assertEqual((secure["method"], secure["check"], secure["path"], secure["header"]),
                         (["p2c"], ["https"], ["/status"], ["Host: api.example.net"]))
        self.assertEqual((secure["interval"], secure["timeout"], secure["rise"], secure["fall"]),
                         (["3s"], ["1s"], ["2"], ["5"]))
        self.assertEqual(secure["expect_status"], ["200-299,300-399"])
        self.assertEqual(secure["server"], [
            "https://api1.example.net:443/ weight=2 name=api1.example.net:443",
            "https://[2001:db8::2]:8443/ name=[2001:db8::2]:8443"])
        self.assertEqual(pools["sticky"]["method"], ["source"])
        self.assertEqual(pools["sticky"]["server"], ["http://10.0.3.1:80/ name=10.0.3.1",
                                                     "http://10.0.3.2:80/ name=10.0.3.2 disabled"])
        dns = pools["dns"]  # stream {} upstream: TCP
        self.assertEqual(dns["server"], ["tcp://10.0.4.1:53 name=10.0.4.1:53",
                                         "tcp://10.0.4.2:53 name=10.0.4.2:53"])
        self.assertEqual(notes(r.stderr, NGINX_CONF), NGINX_NOTES)

    def test_format_detection_and_override(self):
        with lbktest.tempdir() as tmp:
            # A file name that says nothing: the content decides.
            for src in (HAPROXY_CFG, NGINX_CONF):
                with open(src) as f:
                    r = lbctl("import", write(tmp, "config", f.read()))
                self.assertEqual(r.returncode, 0, r.stderr)
                kind = "HAProxy" if src == HAPROXY_CFG else "nginx"
                self.assertIn(f"({kind})", r.stdout.splitlines()[0])
            # Forced the wrong way: nothing to import.
            r = lbctl("import", "--from", "nginx", HAPROXY_CFG)
            self.assertEqual(r.returncode, 2)
            r = lbctl("import", "--from", "apache", HAPROXY_CFG)
            self.assertEqual(r.returncode, 2)

    def test_bad_input(self):
        with lbktest.tempdir() as tmp:
            r = lbctl("import", os.path.join(tmp, "missing.cfg"))
            self.assertEqual(r.returncode, 2)
            self.assertIn("missing.cfg: cannot open", r.stderr)
            r = lbctl("import", write(tmp, "notes.txt", "just some text\nwithout config\n"))
            self.assertEqual(r.returncode, 2)
            self.assertIn("--from haproxy|nginx", r.stderr)
            r = lbctl("import", write(tmp, "nginx.conf",
                                      "http {\n  upstream u {\n    server 10.0.0.1:80\n  }\n}\n"))
            self.assertEqual(r.returncode, 2)
            self.assertIn("line 3: directive 'server' is not terminated by ';'", r.stderr)
            self.assertEqual(r.stdout, "")
            r = lbctl("import", "--strict", HAPROXY_CFG)
            self.assertEqual(r.returncode, 2)
            self.assertIn("haproxy.cfg:2: global", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
