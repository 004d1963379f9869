"""lbctl over TLS: certificate verification is on by default (a self-signed
node is unhealthy with outcome "tls"), -k turns it off, ca_file in the INI
trusts the certificate; forward verifies too unless -k, with the same TLS
settings as the probe (ca_file, tls_verify, --cacert)."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lbktest  # noqa: E402
from lbctl_common import Backend, gen_cert, lbctl, lbctl_json  # noqa: E402


class TlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = lbktest.tempdir()
        cls.cert, key = gen_cert(cls.tmp.name)
        cls.backend = Backend([("tls", ["--tls-cert", cls.cert, "--tls-key", key, "--body", "secure\n"])])
        cls.url = "https://127.0.0.1:%d/" % cls.backend.ports["tls"]

    @classmethod
    def tearDownClass(cls):
        cls.backend.stop()
        cls.tmp.cleanup()

    def test_verification_on_by_default(self):
        r, doc = lbctl_json("probe", "-o", "json", self.url)
        self.assertEqual(r.returncode, 3, r.stderr)
        n = doc["nodes"][0]
        self.assertEqual(n["outcome"], "tls")
        self.assertTrue(n["error"])

    def test_insecure_flag(self):
        r, doc = lbctl_json("probe", "-o", "json", "-k", self.url)
        self.assertEqual(r.returncode, 0, r.stderr)
        n = doc["nodes"][0]
        self.assertTrue(n["healthy"])
        self.assertIsNotNone(n["tls_ms"])
        self.assertGreaterEqual(n["tls_ms"], 0)

    def test_ca_file_in_config(self):
        cfg = os.path.join(self.tmp.name, "tls.ini")
        with open(cfg, "w") as f:
            f.write("[pool secure]\nca_file = %s\nserver = %s\n" % (self.cert, self.url))
        r, doc = lbctl_json("probe", "-o", "json", "-c", cfg)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(doc["nodes"][0]["healthy"])

    def test_forward_verifies(self):
        state = os.path.join(self.tmp.name, "state.json")
        r = lbctl("watch", "--once", "-q", "-k", "--state", state, self.url)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = lbctl("forward", "--state", state)
        self.assertEqual(r.returncode, 4)  # the certificate is not trusted
        r = lbctl("forward", "-k", "--state", state)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "secure\n")
        r = lbctl("forward", "--cacert", self.cert, "--state", state)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "secure\n")

    def test_one_tls_configuration_for_probe_and_forward(self):
        # ca_file of the INI: the probe step and the request both trust it.
        cfg = os.path.join(self.tmp.name, "forward-tls.ini")
        with open(cfg, "w") as f:
            f.write("[pool secure]\nca_file = %s\nserver = %s name=s\n" % (self.cert, self.url))
        r = lbctl("forward", "-c", cfg)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "secure\n")
        # --cacert: the same for node URLs.
        r = lbctl("forward", "--cacert", self.cert, self.url)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "secure\n")
        # tls_verify = off in the INI: off for both.
        with open(cfg, "w") as f:
            f.write("[pool secure]\ntls_verify = off\nserver = %s name=s\n" % self.url)
        r = lbctl("forward", "-c", cfg)
        self.assertEqual(r.returncode, 0, r.stderr)
        # Without either, the probe already finds no trusted node.
        r = lbctl("forward", self.url)
        self.assertEqual(r.returncode, 3, r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
