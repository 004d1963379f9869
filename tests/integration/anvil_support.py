"""Anvil (Foundry's local Ethereum node), installed by `make deps` from npm
into the repository's .deps/npm (LBK_NPM_PREFIX overrides): a real
Ethereum JSON-RPC node for the lbctl tests.  Started on 127.0.0.1 with a
port it picks, stopped by its PID."""
import json
import os
import subprocess
import time
import urllib.request

import lbktest

NPM_PREFIX = os.environ.get("LBK_NPM_PREFIX", os.path.join(lbktest.SOURCE_DIR, ".deps", "npm"))
ANVIL = os.path.join(NPM_PREFIX, "node_modules", "@foundry-rs", "anvil-linux-amd64", "bin", "anvil")


class Anvil:
    def __init__(self, chain_id, extra=()):
        if not os.access(ANVIL, os.X_OK):
            raise RuntimeError("anvil is not installed at %s: run `make deps`" % ANVIL)
        # --silent: nothing is read from it; the port is picked here (anvil
        # prints the one it picks only when not silent).
        self.port = lbktest.free_port()
        self.proc = lbktest.Proc([ANVIL, "--silent", "--host", "127.0.0.1", "--port", str(self.port),
                                  "--chain-id", str(chain_id)] + list(extra),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.rpc("eth_chainId")
                break
            except OSError:
                if self.proc.p.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("anvil did not answer on port %d" % self.port)
                time.sleep(0.1)

    @property
    def url(self):
        return "http://127.0.0.1:%d/" % self.port

    def rpc(self, method, params=()):
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
        req = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def stop(self):
        self.proc.stop()
