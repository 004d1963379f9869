"""lbctl agent under hostile clients and bad files, on 127.0.0.1:

- 1,100 slowloris connections (a byte every 200 ms, never a newline,
  reopened when closed) against the default bound of 1,024: a poller asking
  every 100 ms is answered every time, each within 1 s (lbctl(1) states the
  guarantee: at the bound a new connection replaces the oldest one still
  waiting for its line; bytes do not extend a connection's time);
- with RLIMIT_NOFILE at 64 and 300 connections held open, the agent keeps
  answering and writes a few lines, not a log flood (bytes counted);
- requested names are logged escaped (no raw ESC or CR);
- a FIFO at --state does not hang requests; a corrupt state file is read and
  logged once per change of the file, not per request.
"""
import json
import os
import resource
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lbktest  # noqa: E402
from lbctl_common import LBCTL, write_state  # noqa: E402
from haproxy_support import ask_agent  # noqa: E402

ANSWER_BOUND = 1.0  # s, per poll during a flood


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


class Flood:
    """@count connections to @port from one thread; with @trickle each gets
    one byte (never a newline) every 200 ms, and a closed one is reopened."""

    def __init__(self, port, count, trickle=True):
        self.port, self.count, self.trickle = port, count, trickle
        self.socks, self.opened = [], 0
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self.run)
        self.thread.start()

    def connect(self):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", self.port))
        except BlockingIOError:
            pass
        self.opened += 1
        return s

    def run(self):
        self.socks = [self.connect() for _ in range(self.count)]
        deadline = time.monotonic() + 120
        while not self.stop_flag.wait(0.2) and time.monotonic() < deadline:
            if not self.trickle:
                continue
            for i, s in enumerate(self.socks):
                try:
                    s.send(b"x")
                except OSError:  # closed by the agent (or not connected yet)
                    s.close()
                    self.socks[i] = self.connect()

    def stop(self):
        self.stop_flag.set()
        self.thread.join(timeout=30)
        for s in self.socks:
            s.close()


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
            opened = flood.opened
        finally:
            if flood:
                flood.stop()
            rc = agent.stop()
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
