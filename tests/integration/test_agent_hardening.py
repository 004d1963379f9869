"""lbctl agent under hostile clients and bad files, on 127.0.0.1:

- 1,100 slowloris connections (a byte every 200 ms, never a newline,
  reopened when closed) against the default bound of 1,024: a poller asking
  every 100 ms is answered every time, each within the agent's connection
  timeout (2 s) (lbctl(1) states the
  guarantee: at the bound a new connection replaces the oldest one still
  waiting for its line; bytes do not extend a connection's time);
- with RLIMIT_NOFILE at 64 and 300 connections held open, the agent keeps
  answering and writes a few lines, not a log flood (bytes counted);
- when accept() itself fails (the limit lowered under the running agent so
  that no descriptor is free), the agent pauses its listener instead of
  spinning (CPU time counted), says so once, and answers again once
  descriptors are free;
- requested names are logged escaped (no raw ESC or CR);
- a FIFO at --state does not hang requests; a corrupt state file is read and
  logged once per change of the file, a stale one once a minute, not per
  request.
"""
import json
import os
import resource
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lbktest  # noqa: E402
from lbctl_common import LBCTL, write_state  # noqa: E402
from haproxy_support import ask_agent  # noqa: E402

# Each poll must be answered within the agent's --connection-timeout (the
# time it gives any connection; the default, 2s): answered by the agent's
# normal path, not refused, and never left to a deadline.
ANSWER_BOUND = 2.0  # s


class Agent:
    """lbctl agent --state FILE with its stderr in a file."""

    def __init__(self, tmp, state, *extra, nofile=None):
        self.ini = os.path.join(tmp, "lbctl.ini")
        with open(self.ini, "w") as f:
            f.write("[pool api]\nserver = http://127.0.0.1:9/ name=a\n")
        self.err_path = os.path.join(tmp, "agent.err")
        self.err = open(self.err_path, "wb")

        def limit():
            if nofile:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        self.proc = lbktest.Proc([LBCTL, "agent", "-c", self.ini, "--listen", "127.0.0.1:0",
                                  "--state", state, *extra],
                                 stdout=subprocess.PIPE, stderr=self.err, preexec_fn=limit)
        line = self.proc.p.stdout.readline().decode()
        if not line.startswith("listening 127.0.0.1:"):
            self.stop()
            raise AssertionError("agent did not start: %r" % line)
        self.port = int(line.rsplit(":", 1)[1])

    def log(self):
        with open(self.err_path, "rb") as f:
            return f.read()

    def stop(self):
        rc = self.proc.stop()
        self.proc.p.stdout.close()
        self.err.close()
        return rc


def fresh_state(path, name="a"):
    write_state(path, [{"name": name, "url": "http://127.0.0.1:9/"}], pool="api")


FLOOD_SCRIPT = r"""
import signal, socket, sys, time
port, count, trickle = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
opened = 0
def connect():
    global opened
    s = socket.socket()
    s.setblocking(False)
    try:
        s.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    opened += 1
    return s
stop = []
signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
socks = [connect() for _ in range(count)]
print("flooding", flush=True)
deadline = time.monotonic() + 120
while not stop and time.monotonic() < deadline:
    time.sleep(0.2)
    if not trickle:
        continue
    for i, s in enumerate(socks):
        try:
            s.send(b"x")
        except OSError:  # closed by the agent (or not connected yet)
            s.close()
            socks[i] = connect()
print("opened %d" % opened, flush=True)
"""


class Flood:
    """@count connections to @port from their own process (so that the
    test's poller does not share a Python interpreter with them); with
    @trickle each gets one byte (never a newline) every 200 ms, and a closed
    one is reopened."""

    def __init__(self, port, count, trickle=True):
        self.proc = lbktest.Proc([sys.executable, "-c", FLOOD_SCRIPT, str(port), str(count),
                                  "1" if trickle else "0"], stdout=subprocess.PIPE)
        line = self.proc.p.stdout.readline()
        if line != b"flooding\n":
            self.proc.stop()
            raise AssertionError("the flood did not start: %r" % line)
        self.opened = 0

    def stop(self):
        self.proc.stop(timeout=30)
        out = self.proc.p.stdout.read().decode()
        self.proc.p.stdout.close()
        for line in out.splitlines():
            if line.startswith("opened "):
                self.opened = int(line.split()[1])


def poll_during(port, seconds, request="api/a\n"):
    """Asks every 100 ms for @seconds; returns [(answer, elapsed)]."""
    out = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        t = time.monotonic()
        try:
            answer = ask_agent(port, request)
        except OSError as e:
            answer = "error: %s" % e
        out.append((answer, time.monotonic() - t))
        time.sleep(0.1)
    return out


def cpu_seconds(pid):
    """User plus system CPU time of process @pid so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class AgentHardeningTest(unittest.TestCase):
    def setUp(self):
        self.tmp = lbktest.tempdir()
        self.state = os.path.join(self.tmp.name, "state.json")

    def tearDown(self):
        self.tmp.cleanup()

    def check_polls(self, polls):
        self.assertGreater(len(polls), 20)
        bad = [(a, round(t, 3)) for a, t in polls
               if not a.startswith("ready up 100%") or t > ANSWER_BOUND]
        self.assertEqual(bad, [], "%d of %d polls unanswered or slower than %.1f s"
                         % (len(bad), len(polls), ANSWER_BOUND))

    def test_slowloris_flood_does_not_starve_pollers(self):
        fresh_state(self.state)
        agent = Agent(self.tmp.name, self.state)
        flood = None
        try:
            flood = Flood(agent.port, 1100)
            time.sleep(3)  # the flood holds every slot (and more)
            polls = []
            deadline = time.monotonic() + 8
            while time.monotonic() < deadline:
                fresh_state(self.state)  # keep the state fresh (not stale)
                polls += poll_during(agent.port, 1)
        finally:
            if flood:
                flood.stop()
            rc = agent.stop()
        opened = flood.opened
        self.assertEqual(rc, 0)
        self.check_polls(polls)
        # Bytes did not keep the slow connections: they were closed and reopened.
        self.assertGreater(opened, 1100)

    def test_descriptor_limit_no_log_flood(self):
        fresh_state(self.state)
        agent = Agent(self.tmp.name, self.state, nofile=64)
        flood = None
        try:
            flood = Flood(agent.port, 300, trickle=False)
            time.sleep(1)
            polls = poll_during(agent.port, 4)
        finally:
            if flood:
                flood.stop()
            rc = agent.stop()
        log = agent.log()
        self.assertEqual(rc, 0, log[-2000:])
        self.check_polls(polls)
        self.assertIn(b"at most 32 connections (descriptor limit 64", log)
        self.assertLess(len(log), 4096, log[:2000])

    def test_accept_errors_pause_instead_of_spinning(self):
        fresh_state(self.state)
        agent = Agent(self.tmp.name, self.state)
        pid = agent.proc.p.pid
        clients = []
        try:
            self.assertTrue(ask_agent(agent.port, "api/a\n").startswith("ready"))
            # No free descriptor below the new limit: every accept fails
            # (EMFILE) while the connections wait in the listen queue.
            soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
            used = {int(fd) for fd in os.listdir(f"/proc/{pid}/fd")}
            lowest_free = next(fd for fd in range(len(used) + 1) if fd not in used)
            resource.prlimit(pid, resource.RLIMIT_NOFILE, (lowest_free, hard))
            cpu_before = cpu_seconds(pid)
            for _ in range(5):
                c = socket.create_connection(("127.0.0.1", agent.port), timeout=5)
                c.sendall(b"api/a\n")
                clients.append(c)
            time.sleep(3)
            spent = cpu_seconds(pid) - cpu_before
            # paused 50 ms doubling to 1 s: a handful of wake-ups, not a loop
            self.assertLess(spent, 0.25, "the agent spun on accept errors")
            resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
            # the waiting connections are answered after the current pause
            for c in clients:
                c.settimeout(5)
                self.assertTrue(c.recv(4096).startswith(b"ready"))
            self.assertTrue(ask_agent(agent.port, "api/a\n").startswith("ready"))
        finally:
            for c in clients:
                c.close()
            rc = agent.stop()
        log = agent.log()
        self.assertEqual(rc, 0, log[-2000:])
        self.assertEqual(log.count(b"cannot accept a connection: Too many open files"), 1, log)
        self.assertLess(len(log), 1024, log[:1000])

    def test_names_are_logged_escaped(self):
        fresh_state(self.state)
        agent = Agent(self.tmp.name, self.state)
        try:
            answer = ask_agent(agent.port, "api/\x1b[2J\rforged line\n")
        finally:
            rc = agent.stop()
        log = agent.log()
        self.assertEqual(rc, 0)
        self.assertIn(b"unknown server 'api/\\x1b[2J\\x0dforged line'", log)
        self.assertNotIn(b"\x1b", log)
        self.assertNotIn(b"\r", log)
        self.assertNotIn("\x1b", answer)
        self.assertNotIn("\r", answer)

    def test_fifo_state_does_not_hang_requests(self):
        os.mkfifo(self.state)
        agent = Agent(self.tmp.name, self.state)
        try:
            answers = [ask_agent(agent.port, "api/a\n") for _ in range(20)]
        finally:
            rc = agent.stop()
        log = agent.log()
        self.assertEqual(rc, 0)
        for a in answers:
            self.assertRegex(a, r"^#lbkit: no verdict yet")
        self.assertEqual(log.count(b"not a regular file"), 1, log)

    def test_corrupt_state_logged_once_per_change(self):
        fresh_state(self.state)
        agent = Agent(self.tmp.name, self.state)
        try:
            self.assertRegex(ask_agent(agent.port, "api/a\n"), r"^ready up 100% ")
            with open(self.state + ".new", "w") as f:
                f.write("{ not json")
            os.replace(self.state + ".new", self.state)
            for _ in range(30):
                # The previous state is kept.
                self.assertRegex(ask_agent(agent.port, "api/a\n"), r"^ready up 100% ")
            first = agent.log().count(b"bad state file")
            with open(self.state + ".new", "w") as f:
                f.write("[]")
            os.replace(self.state + ".new", self.state)
            for _ in range(30):
                ask_agent(agent.port, "api/a\n")
            second = agent.log().count(b"bad state file")
        finally:
            rc = agent.stop()
        self.assertEqual(rc, 0)
        self.assertEqual((first, second), (1, 2), agent.log())

    def test_stale_state_logged_once_not_per_request(self):
        write_state(self.state, [{"name": "a", "url": "http://127.0.0.1:9/"}], pool="api")
        with open(self.state) as f:
            doc = json.load(f)
        doc["generated_unix_ms"] -= 600000
        with open(self.state, "w") as f:
            json.dump(doc, f)
        agent = Agent(self.tmp.name, self.state)
        try:
            answers = [ask_agent(agent.port, "api/a\n") for _ in range(30)]
        finally:
            rc = agent.stop()
        self.assertEqual(rc, 0)
        for a in answers:
            self.assertRegex(a, r"^#lbkit: state file .* is stale")
        self.assertEqual(agent.log().count(b"is stale"), 1, agent.log())

    def test_oversized_state_file_is_refused(self):
        fresh_state(self.state)
        with open(self.state, "r+b") as f:
            f.truncate(65 << 20)  # sparse: larger than the 64 MiB bound
        agent = Agent(self.tmp.name, self.state)
        try:
            answer = ask_agent(agent.port, "api/a\n")
        finally:
            rc = agent.stop()
        self.assertEqual(rc, 0)
        self.assertRegex(answer, r"^#lbkit: no verdict yet")
        self.assertIn(b"larger than 67108864 bytes", agent.log())


if __name__ == "__main__":
    unittest.main()
