"""A real DNS server for the discovery tests: dnsmasq (Debian dnsmasq-base)
on 127.0.0.1 with a port picked at run time, answering only from records the
test gives it (names under .test are local: unknown ones get NXDOMAIN or an
empty answer, never a forward).

A and AAAA records live in an addn-hosts file that dnsmasq re-reads on
SIGHUP; SRV records are command-line options, so changing them restarts
dnsmasq on the same port.  Every record has TTL 0 (--local-ttl) so that
lbctl re-resolves at its lower bound.  dnsmasq is stopped by its PID.
"""
import os
import shutil
import signal
import socket
import subprocess
import time

from lbktest import Proc, free_port, wait_until

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"


def dns_query(port, name, qtype):
    """Sends one query to 127.0.0.1:@port over UDP; returns the rcode, or
    None when no answer came within a second (used to wait for start-up)."""
    qid = 0x4c42
    header = qid.to_bytes(2, "big") + b"\x01\x00" + b"\x00\x01" + b"\x00\x00" * 3
    question = b"".join(len(p).to_bytes(1, "big") + p.encode() for p in name.split(".")) + b"\x00"
    question += qtype.to_bytes(2, "big") + b"\x00\x01"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(1.0)
        try:
            s.sendto(header + question, ("127.0.0.1", port))
            data, _ = s.recvfrom(65535)
        except OSError:
            return None
    return data[3] & 0x0F if len(data) >= 12 and data[:2] == qid.to_bytes(2, "big") else None


class Dnsmasq:
    """dnsmasq serving @hosts ([(name, address)]) and @srv
    ([(service, target, port, priority, weight)])."""

    def __init__(self, tmp, hosts=(), srv=(), name="dnsmasq"):
        self.tmp = tmp
        self.hosts_file = os.path.join(tmp, f"{name}.hosts")
        self.log = os.path.join(tmp, f"{name}.log")
        self.port = free_port()
        self.proc = None
        self.srv = list(srv)
        self.write_hosts(hosts)
        self.start()

    def write_hosts(self, hosts):
        tmp = self.hosts_file + ".tmp"
        with open(tmp, "w") as f:
            for name, address in hosts:
                f.write(f"{address} {name}\n")
        os.replace(tmp, self.hosts_file)

    def argv(self):
        argv = [DNSMASQ, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
                "--no-hosts", "--no-poll", "--bind-interfaces", "--listen-address=127.0.0.1",
                "--except-interface=nonexistent0", f"--port={self.port}", "--local-ttl=0", "--local=/test/",
                f"--addn-hosts={self.hosts_file}", "--pid-file=", "--user=root",
                f"--log-facility={self.log}", "--log-queries"]
        for service, target, port, priority, weight in self.srv:
            argv.append(f"--srv-host={service},{target},{port},{priority},{weight}")
        return argv

    def start(self):
        self.proc = Proc(self.argv(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: self.proc.p.poll() is not None or
                   dns_query(self.port, "ready.invalid", 1) is not None,
                   timeout=10, what=f"dnsmasq on 127.0.0.1:{self.port}")
        assert self.proc.p.poll() is None, f"dnsmasq exited: {open(self.log).read()[-2000:]}"

    def set_hosts(self, hosts):
        """New A/AAAA records, applied by SIGHUP (dnsmasq re-reads addn-hosts)."""
        self.write_hosts(hosts)
        os.kill(self.proc.pid, signal.SIGHUP)
        time.sleep(0.2)

    def set_srv(self, srv):
        """New SRV records: dnsmasq restarted on the same port."""
        self.srv = list(srv)
        self.stop()
        self.start()

    def stop(self):
        if self.proc:
            self.proc.stop()
            self.proc = None

    @property
    def resolver(self):
        return f"127.0.0.1:{self.port}"
