"""Active health checks of the lbkit nginx module (`lbkit_check`).

Real nginx with the module, lbk-testbackend listeners on 127.0.0.1 (ports
picked at run time), every process stopped by its PID.  Times are asserted
against the configured check settings (fall x interval + timeout to go down,
rise x interval to come back), with the jitter (10%) and a fixed slack for a
loaded machine; these are behaviour bounds, not speed goals.
"""
import http.client
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import threading
import time
import unittest

import lbktest
from nginx_harness import (BACKEND, Backends, Nginx, NginxTestCase,
                           count_bodies, http_request, proxy_server, upstream)

INTERVAL = 0.4   # seconds; interval=400ms in the configurations below
TIMEOUT = 0.3    # timeout=300ms
RISE = 2
FALL = 2
JITTER = 1.1     # lbk default jitter: +/- 10%
SLACK = 1.0      # scheduling slack on a loaded 2-core machine

CHECK = (f"lbkit_check type=http uri=/health interval={int(INTERVAL * 1000)}ms "
         f"timeout={int(TIMEOUT * 1000)}ms rise={RISE} fall={FALL};")


def status(ngx):
    """The status page as parsed JSON."""
    code, body = ngx.get("/lbkit-status?format=json")
    if code != 200:
        raise AssertionError(f"status page answered {code}: {body}")
    return json.loads(body)


def servers(ngx, upstream_name="api"):
    """{server name: server object} of one upstream in the status JSON."""
    for ups in status(ngx)["upstreams"]:
        if ups["name"] == upstream_name:
            return {s["name"]: s for s in ups["servers"]}
    raise AssertionError(f"upstream {upstream_name} not in the status page")


def wait_health(ngx, name, health, timeout, upstream_name="api"):
    """Waits until server @name has @health; returns the seconds it took."""
    start = time.monotonic()
    lbktest.wait_until(
        lambda: servers(ngx, upstream_name)[name]["health"] == health,
        timeout=timeout, step=0.05, what=f"{name} health {health}")
    return time.monotonic() - start


def https_stats(port):
    """GET /__stats of a TLS listener (its certificate is self-signed)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=ctx)
    try:
        conn.request("GET", "/__stats")
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


FAST_CHECK = "lbkit_check type=http uri=/health interval=200ms timeout=300ms;"


def checked_site(be, *backend_names, check=CHECK):
    """({backend name: server address}, nginx http body) of upstream "api"
    (lbkit round_robin + @check) over the listeners @backend_names of @be."""
    names = {n: f"127.0.0.1:{be.ports[n]}" for n in backend_names}
    return names, config(upstream("api", "lbkit round_robin;",
                                  list(names.values()), extra=check))


def status_location():
    return "location /lbkit-status { lbkit_status json; }"


def config(upstream_text, locations=None, server_extra=""):
    locations = locations or {"/": "api"}
    srv = proxy_server(locations)
    # the status location goes into the same server block
    srv = srv[:srv.rindex("}")] + "  " + status_location() + "\n" + \
        ("  " + server_extra + "\n" if server_extra else "") + "}"
    return upstream_text + "\n" + srv


class SingleBackend:
    """One lbk-testbackend process with one listener on a fixed port, so that
    it can be stopped (connections refused) and started again on that port."""

    def __init__(self, port, name, *extra, host="127.0.0.1"):
        self.port = port
        listen = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self.proc = lbktest.Proc([BACKEND, "--head-interval", "0", "--listen",
                                  listen, "--name", name, "--body", name,
                                  *extra],
                                 stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        lbktest.wait_port(port, host=host, timeout=10)

    def stop(self):
        self.proc.stop()


class CertTestCase(NginxTestCase):

    def make_cert(self, certdir):
        """A fresh self-signed certificate (gen-cert.sh): its cert.pem path;
        key.pem is next to it."""
        r = lbktest.run(["sh", os.path.join(lbktest.SOURCE_DIR, "tests",
                                            "support", "gen-cert.sh"), certdir])
        self.assertEqual(r.returncode, 0, r.stderr)
        return os.path.join(certdir, "cert.pem")


class TakenOutAndBack(NginxTestCase):
    """A refused, a hung (SIGSTOP) and a 500-answering backend are taken out
    within fall x interval (+ timeout) and back within rise x interval."""

    DOWN_WITHIN = FALL * INTERVAL * JITTER + TIMEOUT + SLACK
    UP_WITHIN = RISE * INTERVAL * JITTER + SLACK

    def test_refused_hung_and_500(self):
        refused_port = lbktest.free_port()
        refused = SingleBackend(refused_port, "refused")
        try:
            with Backends(["ok", "err"]) as be, Backends(["hung"]) as hung:
                names = {
                    "ok": f"127.0.0.1:{be.ports['ok']}",
                    "err": f"127.0.0.1:{be.ports['err']}",
                    "hung": f"127.0.0.1:{hung.ports['hung']}",
                    "refused": f"127.0.0.1:{refused_port}",
                }
                body = config(upstream("api", "lbkit round_robin;",
                                       list(names.values()), extra=CHECK))
                with Nginx(body, workers=2) as ngx:
                    # every server comes up checked
                    lbktest.wait_until(
                        lambda: all(s["last_check"] and s["last_check"]["ok"]
                                    for s in servers(ngx).values()),
                        timeout=5, what="first passing checks")

                    # the three faults at once
                    refused.stop()
                    be.control("err", status=500)
                    os.kill(hung.proc.pid, signal.SIGSTOP)
                    try:
                        t0 = time.monotonic()
                        for fault in ("refused", "err", "hung"):
                            wait_health(ngx, names[fault], "down",
                                        self.DOWN_WITHIN + 1)
                        took = time.monotonic() - t0
                        self.assertLessEqual(took, self.DOWN_WITHIN)

                        st = servers(ngx)
                        self.assertEqual(st[names["ok"]]["state"], "up")
                        self.assertEqual(st[names["err"]]["last_check"]["result"],
                                         "status")
                        self.assertEqual(st[names["err"]]["last_check"]["http_status"],
                                         500)
                        self.assertEqual(st[names["hung"]]["last_check"]["result"],
                                         "timeout")
                        self.assertEqual(st[names["refused"]]["last_check"]["result"],
                                         "connect")
                        for fault in ("refused", "err", "hung"):
                            self.assertEqual(st[names[fault]]["state"], "unhealthy")

                        # taken out: every request goes to the healthy one
                        self.assertEqual(count_bodies(ngx, "/x", 12), {"ok": 12})
                    finally:
                        os.kill(hung.proc.pid, signal.SIGCONT)

                    log = ngx.log()
                    self.assertRegex(
                        log, r"\[notice\] .*lbkit: upstream api server "
                        + re.escape(names["hung"])
                        + r" down: http check timed out after 300ms \(\d+/\d+\)")
                    self.assertRegex(
                        log, r"lbkit: upstream api server "
                        + re.escape(names["err"])
                        + r" down: http check: status 500 \(\d+/\d+\)")
                    self.assertRegex(
                        log, r"lbkit: upstream api server "
                        + re.escape(names["refused"])
                        + r" down: http check connect failed: .*refused")

                    # the faults end: back within rise x interval
                    refused = SingleBackend(refused_port, "refused")
                    be.control("err", status=200)
                    t0 = time.monotonic()
                    for fault in ("refused", "err", "hung"):
                        wait_health(ngx, names[fault], "up", self.UP_WITHIN + 1)
                    took = time.monotonic() - t0
                    self.assertLessEqual(took, self.UP_WITHIN)
                    self.assertRegex(
                        ngx.log(), r"lbkit: upstream api server "
                        + re.escape(names["hung"]) + r" up: http check")

                    counts = count_bodies(ngx, "/x", 40)
                    self.assertEqual(set(counts), {"ok", "err", "hung", "refused"})
        finally:
            refused.stop()


class JsonRpcLag(NginxTestCase):
    CHECK = ("lbkit_check type=jsonrpc jsonrpc_method=eth_blockNumber "
             "jsonrpc_field= max_lag=10 interval=300ms timeout=300ms "
             "rise=2 fall=2;")

    def test_lagging_node_is_taken_out_and_back(self):
        extra = {"n3": ["--lag", "50"]}
        with Backends(["n1", "n2", "n3"], extra=extra) as be:
            names, body = checked_site(be, "n1", "n2", "n3", check=self.CHECK)
            with Nginx(body, workers=2) as ngx:
                wait_health(ngx, names["n3"], "down", 5)
                lbktest.wait_until(
                    lambda: all(s["checks"] > 0 for s in servers(ngx).values()),
                    timeout=5, what="every node checked")
                st = servers(ngx)
                self.assertEqual(st[names["n3"]]["last_check"]["result"], "lag")
                self.assertEqual(st[names["n3"]]["lag"], 50)
                self.assertEqual(st[names["n1"]]["lag"], 0)
                self.assertEqual(st[names["n1"]]["value"], 1000)
                self.assertEqual(st[names["n1"]]["health"], "up")
                self.assertEqual(st[names["n2"]]["health"], "up")
                counts = count_bodies(ngx, "/x", 10)
                self.assertNotIn("n3", counts)
                self.assertRegex(ngx.log(), r"lbkit: upstream api server "
                                 + re.escape(names["n3"]) + r" down: jsonrpc check")

                be.control("n3", lag=0)
                wait_health(ngx, names["n3"], "up", 5)
                # the checks went to the JSON-RPC method, as POSTs
                stats = be.stats("n1")
                self.assertGreater(stats["by_rpc_method"].get("eth_blockNumber", 0), 0)
                self.assertGreater(stats["by_method"].get("POST", 0), 0)


class OneWorkerChecks(NginxTestCase):
    """With 4 workers a peer is checked by one of them at a time, and another
    takes over when that worker dies."""

    def test_four_workers_do_not_multiply_checks(self):
        with Backends(["a", "b"]) as be:
            names, body = checked_site(be, "a", "b", check=FAST_CHECK)
            with Nginx(body, workers=4) as ngx:
                lbktest.wait_until(lambda: len(ngx.worker_pids()) == 4, timeout=10,
                                   what="4 workers")
                time.sleep(0.5)
                for n in ("a", "b"):
                    be.control(n, reset_stats=True)
                window = 3.0
                time.sleep(window)
                expected = window / 0.2          # one checker: ~15 per peer
                for n in ("a", "b"):
                    got = be.stats(n)["by_path"].get("/health", 0)
                    # 4 checking workers would send ~60
                    self.assertGreaterEqual(got, expected * 0.5, n)
                    self.assertLessEqual(got, expected * 1.4, n)

                # takeover: kill the checking worker of a (the master starts
                # a new one); another worker continues the checks
                owner = servers(ngx)[names["a"]]["checker_pid"]
                self.assertIn(owner, ngx.worker_pids())
                os.kill(owner, signal.SIGKILL)
                before = be.stats("a")["by_path"].get("/health", 0)

                def resumed():
                    pid = servers(ngx)[names["a"]]["checker_pid"]
                    now = be.stats("a")["by_path"].get("/health", 0)
                    return pid not in (None, owner) and now >= before + 3

                lbktest.wait_until(resumed, timeout=5, what="check takeover")
                self.assertEqual(servers(ngx)[names["a"]]["health"], "up")


class DownServerSchedule(NginxTestCase):
    """Checks follow the schedule of the health state the pool shares between
    workers: a down server is checked at downinter, and so it is after
    another worker takes its checks over."""

    CHECK = ("lbkit_check type=http uri=/health interval=200ms "
             "downinter=1500ms timeout=300ms fall=1 jitter=0;")
    WINDOW = 3.2     # seconds: two or three checks at downinter, 16 at interval

    def checks_in_window(self, be):
        for n in ("a", "b"):
            be.control(n, reset_stats=True)
        time.sleep(self.WINDOW)
        return {n: be.stats(n)["by_path"].get("/health", 0) for n in ("a", "b")}

    def test_down_server_is_checked_at_downinter_also_after_takeover(self):
        with Backends(["a", "b"]) as be:
            names, body = checked_site(be, "a", "b", check=self.CHECK)
            with Nginx(body, workers=2) as ngx:
                be.control("b", status=500)
                wait_health(ngx, names["b"], "down", 5)
                got = self.checks_in_window(be)
                self.assertGreaterEqual(got["a"], 8, got)    # up: interval
                self.assertGreaterEqual(got["b"], 1, got)    # down: downinter
                self.assertLessEqual(got["b"], 4, got)

                owner = servers(ngx)[names["b"]]["checker_pid"]
                os.kill(owner, signal.SIGKILL)
                lbktest.wait_until(
                    lambda: servers(ngx)[names["b"]]["checker_pid"]
                    not in (None, owner),
                    timeout=5, what="another worker checks b")
                got = self.checks_in_window(be)
                self.assertGreaterEqual(got["b"], 1, got)
                self.assertLessEqual(got["b"], 4, got)
                self.assertEqual(servers(ngx)[names["b"]]["health"], "down")


class RequestAndExpectations(NginxTestCase):

    def test_uri_method_expect_and_body(self):
        with Backends(["good", "bad", "gone"]) as be:
            be.control("gone", status=404)
            text = "\n".join([
                # the body of listener "good" is "good"
                upstream("body", "lbkit round_robin;",
                         [f"127.0.0.1:{be.ports['good']}",
                          f"127.0.0.1:{be.ports['bad']}"],
                         extra="lbkit_check uri=/ready expect_body=good "
                               "interval=200ms rise=1 fall=1;"),
                upstream("status", "lbkit round_robin;",
                         [f"127.0.0.1:{be.ports['gone']}"],
                         extra="lbkit_check method=HEAD uri=/probe "
                               "expect=200-299,404 interval=200ms rise=1 fall=1;"),
            ])
            body = config(text, locations={"/body": "body", "/status": "status"})
            with Nginx(body, workers=1) as ngx:
                bad = f"127.0.0.1:{be.ports['bad']}"
                good = f"127.0.0.1:{be.ports['good']}"
                lbktest.wait_until(
                    lambda: servers(ngx, "body")[bad]["health"] == "down"
                    and servers(ngx, "body")[good]["checks"] > 0,
                    timeout=5, what="body checks")
                st = servers(ngx, "body")
                self.assertEqual(st[bad]["last_check"]["result"], "body")
                self.assertEqual(st[good]["last_check"]["result"], "pass")
                lbktest.wait_until(
                    lambda: servers(ngx, "status")[f"127.0.0.1:{be.ports['gone']}"]
                    ["checks"] > 0, timeout=5, what="HEAD check")
                gone = servers(ngx, "status")[f"127.0.0.1:{be.ports['gone']}"]
                self.assertEqual(gone["health"], "up", gone["last_check"])
                self.assertEqual(gone["last_check"]["http_status"], 404)
                stats = be.stats("gone")
                self.assertGreater(stats["by_method"].get("HEAD", 0), 0)
                self.assertGreater(stats["by_path"].get("/probe", 0), 0)
                self.assertGreater(be.stats("good")["by_path"].get("/ready", 0), 0)


class RepeatedHeaders(NginxTestCase):
    """Each `headers=` adds its line: a backend that requires both lines
    passes the check."""

    def test_every_headers_line_is_sent(self):
        port = lbktest.free_port()
        keyed = SingleBackend(port, "keyed", "--require-header", "X-A: 1",
                              "--require-header", "X-B: 2")
        try:
            server = f"127.0.0.1:{port}"
            check = ('lbkit_check uri=/health "headers=X-A: 1" '
                     '"headers=X-B: 2" interval=200ms rise=1 fall=1;')
            body = config(upstream("api", "lbkit round_robin;", [server],
                                   extra=check))
            with Nginx(body, workers=1) as ngx:
                lbktest.wait_until(lambda: servers(ngx)[server]["checks"] >= 2,
                                   timeout=5, what="two checks")
                s = servers(ngx)[server]
                self.assertEqual(s["health"], "up", s["last_check"])
                self.assertEqual(s["last_check"]["result"], "pass")
        finally:
            keyed.stop()


class BadReplies(NginxTestCase):
    """Replies that break the rules fail the check with the matching result;
    the worker keeps checking (and serving) the others."""

    def test_huge_headers_garbage_slow_reset(self):
        faults = {"huge": "huge-headers", "garbage": "garbage", "reset": "reset"}
        extra = {n: ["--fault", f] for n, f in faults.items()}
        # answers, but after the check's timeout
        faults["slow"] = None
        extra["slow"] = ["--latency", "800ms"]
        with Backends(["ok", *faults], extra=extra) as be:
            check = ("lbkit_check type=http uri=/health interval=200ms "
                     "timeout=500ms rise=1 fall=1;")
            names, body = checked_site(be, "ok", *faults, check=check)
            with Nginx(body, workers=1) as ngx:
                lbktest.wait_until(
                    lambda: all(servers(ngx)[names[n]]["health"] == "down"
                                for n in faults)
                    and servers(ngx)[names["ok"]]["checks"] > 0,
                    timeout=5, what="bad replies down")
                st = servers(ngx)
                results = {n: st[names[n]]["last_check"]["result"] for n in faults}
                self.assertEqual(results["huge"], "limit", st[names["huge"]])
                self.assertEqual(results["garbage"], "protocol")
                self.assertEqual(results["slow"], "timeout")
                self.assertIn(results["reset"], ("protocol", "connect"))
                self.assertEqual(st[names["ok"]]["health"], "up")
                self.assertEqual(count_bodies(ngx, "/x", 5), {"ok": 5})


class ChecksAcrossReload(NginxTestCase):

    def test_down_peer_stays_down_and_new_workers_check(self):
        with Backends(["a", "b"]) as be:
            names, body = checked_site(be, "a", "b", check=FAST_CHECK)
            with Nginx(body, workers=2) as ngx:
                be.control("b", status=500)
                wait_health(ngx, names["b"], "down", 5)
                old_workers = set(ngx.worker_pids())
                checks_before = servers(ngx)[names["b"]]["checks"]
                ngx.reload()
                # no request reaches b after the reload, and it stays down
                self.assertEqual(count_bodies(ngx, "/x", 10), {"a": 10})

                def checked_by_new_worker():
                    s = servers(ngx)[names["b"]]
                    return (s["checker_pid"] not in old_workers
                            and s["checks"] >= checks_before + 3)

                lbktest.wait_until(checked_by_new_worker, timeout=5,
                                   what="checks by the new generation")
                s = servers(ngx)[names["b"]]
                self.assertEqual(s["health"], "down")
                self.assertIn(s["checker_pid"], ngx.worker_pids())
                self.assertNotRegex(ngx.log(), re.escape(names["b"]) + " up:")
                # and it comes back as usual
                be.control("b", status=200)
                wait_health(ngx, names["b"], "up", 5)


class SteadyLoadWhileOneHangs(NginxTestCase):
    """Under steady load, while one backend hangs (SIGSTOP), no client request
    fails with active checks and the recommended proxy settings."""

    RECOMMENDED = ("proxy_next_upstream error timeout; "
                   "proxy_next_upstream_tries 3; "
                   "proxy_connect_timeout 1s; proxy_read_timeout 1s;")

    def test_no_request_fails(self):
        with Backends(["a", "b"]) as be, Backends(["hung"]) as hung:
            names = [f"127.0.0.1:{be.ports['a']}", f"127.0.0.1:{be.ports['b']}",
                     f"127.0.0.1:{hung.ports['hung']}"]
            check = ("lbkit_check type=http uri=/health interval=300ms "
                     "timeout=300ms rise=2 fall=2;")
            body = config(upstream("api", "lbkit round_robin;", names, extra=check),
                          locations={"/": ("api", self.RECOMMENDED)})
            with Nginx(body, workers=2) as ngx:
                results = []
                lock = threading.Lock()
                stop = threading.Event()

                def client():
                    # bounded: at most 2000 requests per client
                    for _ in range(2000):
                        if stop.is_set():
                            return
                        try:
                            code, text = http_request(ngx.port, "/load", timeout=15)
                        except OSError as e:
                            code, text = 0, repr(e)
                        with lock:
                            results.append((code, text))

                threads = [threading.Thread(target=client) for _ in range(4)]
                for t in threads:
                    t.start()
                try:
                    time.sleep(1.0)
                    os.kill(hung.proc.pid, signal.SIGSTOP)
                    try:
                        wait_health(ngx, names[2], "down", 5)
                        time.sleep(1.0)
                    finally:
                        os.kill(hung.proc.pid, signal.SIGCONT)
                    wait_health(ngx, names[2], "up", 5)
                    time.sleep(0.5)
                finally:
                    stop.set()
                    for t in threads:
                        t.join(timeout=30)

                failed = [r for r in results if r[0] != 200]
                self.assertGreater(len(results), 100)
                self.assertEqual(failed, [], f"{len(failed)} of {len(results)} failed")
                served = {text for _, text in results}
                self.assertEqual(served, {"a", "b", "hung"})


class BusyWorker(CertTestCase):
    """A worker that cannot run for a while (SIGSTOP) must not count its own
    lateness as check timeouts: with fall=1 one false timeout would take a
    peer out."""

    def stop_and_resume(self, backend_extra, check_params):
        extra = {n: ["--latency", "100ms", *backend_extra] for n in ("a", "b", "c")}
        with Backends(["a", "b", "c"], extra=extra) as be:
            names = [f"127.0.0.1:{be.ports[n]}" for n in ("a", "b", "c")]
            check = (f"lbkit_check {check_params} uri=/health interval=200ms "
                     "timeout=400ms rise=1 fall=1;")
            body = config(upstream("api", "lbkit round_robin;", names, extra=check))
            with Nginx(body, workers=1) as ngx:
                lbktest.wait_until(
                    lambda: all(s["checks"] >= 3 for s in servers(ngx).values()),
                    timeout=5, what="checks running")
                worker = ngx.worker_pids()[0]
                # several stops, so that checks are caught in flight
                for _ in range(5):
                    time.sleep(0.13)
                    os.kill(worker, signal.SIGSTOP)
                    time.sleep(1.0)
                    os.kill(worker, signal.SIGCONT)
                time.sleep(0.5)
                st = servers(ngx)
                for name in names:
                    self.assertEqual(st[name]["health"], "up", st[name])
                    self.assertEqual(st[name]["checks_failed"], 0, (st[name], ngx.log()))
                self.assertNotIn(" down: ", ngx.log())

    def test_stopped_worker_marks_nothing_down(self):
        self.stop_and_resume([], "type=http")

    def test_stopped_worker_marks_nothing_down_tls(self):
        with lbktest.tempdir() as certdir:
            cert = self.make_cert(certdir)
            self.stop_and_resume(["--tls-cert", cert, "--tls-key",
                                  os.path.join(certdir, "key.pem")],
                                 "type=https tls_verify=off")


class PlainTextGreeter:
    """A listener on 127.0.0.1 that answers every connection at once with a
    plain-text HTTP 400 and closes it (a TLS handshake with it fails)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve)
        self.thread.start()

    def _serve(self):
        deadline = time.monotonic() + 300   # bounded even if never stopped
        while not self.stopping.is_set() and time.monotonic() < deadline:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\n"
                             b"Content-Length: 0\r\nConnection: close\r\n\r\n")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join(timeout=5)
        self.sock.close()


class TlsChecks(CertTestCase):

    def test_https_verification(self):
        with lbktest.tempdir() as certdir:
            cert = self.make_cert(certdir)
            key = os.path.join(certdir, "key.pem")
            with Backends(["s"], extra={"s": ["--tls-cert", cert,
                                              "--tls-key", key]}) as be, \
                    PlainTextGreeter() as plain:
                server = f"127.0.0.1:{be.ports['s']}"
                plain_server = f"127.0.0.1:{plain.port}"
                base = ("type=https uri=/health interval=200ms timeout=500ms "
                        "rise=1 fall=1")
                ups = {
                    "noverify": f"lbkit_check {base} tls_verify=off;",
                    "ca_name": f"lbkit_check {base} tls_trusted_certificate={cert} "
                               "tls_name=localhost;",
                    "ca_ip": f"lbkit_check {base} tls_trusted_certificate={cert};",
                    "ca_wrong_name": f"lbkit_check {base} "
                                     f"tls_trusted_certificate={cert} "
                                     "tls_name=example.org;",
                    "system_ca": f"lbkit_check {base};",
                    "rpc_tls": "lbkit_check type=jsonrpc tls=on tls_verify=off "
                               "jsonrpc_field= interval=200ms rise=1 fall=1;",
                }
                text = "\n".join(upstream(n, "lbkit round_robin;", [server], extra=c)
                                 for n, c in ups.items())
                # TLS to a server that answers in plain text: no handshake
                text += "\n" + upstream("not_tls", "lbkit round_robin;",
                                        [plain_server],
                                        extra=f"lbkit_check {base} tls_verify=off;")
                body = config(text, locations={f"/{n}": n for n in ups})
                with Nginx(body, workers=1) as ngx:
                    def checked():
                        return all(servers(ngx, n)[server]["last_check"]
                                   for n in ups)
                    lbktest.wait_until(checked, timeout=5, what="TLS checks")
                    lbktest.wait_until(
                        lambda: servers(ngx, "system_ca")[server]["health"] == "down",
                        timeout=5, what="self-signed rejected")
                    for n in ("noverify", "ca_name", "ca_ip"):
                        s = servers(ngx, n)[server]
                        self.assertEqual(s["health"], "up", (n, s["last_check"]))
                        self.assertEqual(s["last_check"]["http_status"], 200)
                    lbktest.wait_until(
                        lambda: servers(ngx, "not_tls")[plain_server]["health"]
                        == "down", timeout=5, what="handshake failure")
                    s = servers(ngx, "not_tls")[plain_server]
                    self.assertEqual(s["last_check"]["result"], "tls")
                    self.assertIn("handshake failed", s["last_check"]["reason"])
                    rpc = servers(ngx, "rpc_tls")[server]
                    self.assertEqual(rpc["health"], "up", rpc["last_check"])
                    self.assertEqual(rpc["value"], 1000)
                    for n, why in (("system_ca", "certificate verify failed"),
                                   ("ca_wrong_name", "does not match")):
                        s = servers(ngx, n)[server]
                        self.assertEqual(s["health"], "down", n)
                        self.assertEqual(s["last_check"]["result"], "tls")
                        self.assertIn(why, s["last_check"]["reason"])
                    self.assertGreater(https_stats(be.ports["s"])["by_path"]
                                       .get("/health", 0), 0)


class Ipv6Checks(CertTestCase):

    def test_http_and_https_checks_on_ipv6_loopback(self):
        with lbktest.tempdir() as certdir:
            cert = self.make_cert(certdir)
            plain_port, tls_port = lbktest.free_ports(2, host="::1")
            plain = SingleBackend(plain_port, "v6", host="::1")
            tls = SingleBackend(tls_port, "v6tls", "--tls-cert", cert,
                                "--tls-key", os.path.join(certdir, "key.pem"),
                                host="::1")
            try:
                plain_name = f"[::1]:{plain_port}"
                tls_name = f"[::1]:{tls_port}"
                text = "\n".join([
                    upstream("v6", "lbkit round_robin;", [plain_name],
                             extra="lbkit_check uri=/health interval=200ms "
                                   "rise=1 fall=1;"),
                    # the certificate's IP SAN ::1 is verified
                    upstream("v6tls", "lbkit round_robin;", [tls_name],
                             extra="lbkit_check type=https interval=200ms "
                                   f"rise=1 fall=1 tls_trusted_certificate={cert};"),
                ])
                body = config(text, locations={"/v6": "v6", "/v6tls": "v6tls"})
                with Nginx(body, workers=1) as ngx:
                    lbktest.wait_until(
                        lambda: servers(ngx, "v6")[plain_name]["checks"] > 0
                        and servers(ngx, "v6tls")[tls_name]["checks"] > 0,
                        timeout=5, what="IPv6 checks")
                    for ups, name in (("v6", plain_name), ("v6tls", tls_name)):
                        s = servers(ngx, ups)[name]
                        self.assertEqual(s["health"], "up", s["last_check"])
                    self.assertEqual(ngx.get("/v6"), (200, "v6"))
            finally:
                plain.stop()
                tls.stop()


class TcpCheck(NginxTestCase):

    def test_tcp_check_with_port(self):
        # port=: the check connects to another port of the same host
        refused_port = lbktest.free_port()
        with Backends(["a", "probe"]) as be:
            servers_text = [f"127.0.0.1:{be.ports['a']}"]
            good = upstream("good", "lbkit round_robin;", servers_text,
                            extra=f"lbkit_check type=tcp port={be.ports['probe']} "
                                  "interval=200ms rise=1 fall=1;")
            bad = upstream("bad", "lbkit round_robin;", servers_text,
                           extra=f"lbkit_check type=tcp port={refused_port} "
                                 "interval=200ms rise=1 fall=1;")
            body = config(good + "\n" + bad,
                          locations={"/good": "good", "/bad": "bad"})
            with Nginx(body, workers=1) as ngx:
                lbktest.wait_until(
                    lambda: servers(ngx, "bad")[servers_text[0]]["health"] == "down"
                    and servers(ngx, "good")[servers_text[0]]["checks"] > 0,
                    timeout=5, what="tcp checks")
                s = servers(ngx, "good")[servers_text[0]]
                self.assertEqual(s["health"], "up", (s, ngx.log()))
                self.assertEqual(s["last_check"]["result"], "pass")
                self.assertGreater(be.stats("probe")["connections"], 0)
                self.assertEqual(ngx.get("/good")[0], 200)
                self.assertEqual(ngx.get("/bad")[0], 502)


class SlowStart(NginxTestCase):

    def test_recovered_server_ramps_its_weight(self):
        with Backends(["a", "b"]) as be:
            names = {n: f"127.0.0.1:{be.ports[n]}" for n in ("a", "b")}
            check = ("lbkit_check type=http uri=/health interval=200ms "
                     "rise=1 fall=1 slow_start=3s;")
            body = config(upstream("api", "lbkit round_robin;",
                                   [f"{names['a']} weight=10",
                                    f"{names['b']} weight=10"], extra=check))
            with Nginx(body, workers=1) as ngx:
                be.control("b", status=500)
                wait_health(ngx, names["b"], "down", 5)
                be.control("b", status=200)
                wait_health(ngx, names["b"], "up", 5)
                ramp = servers(ngx)[names["b"]]["effective_weight"]
                self.assertLess(ramp, 10)
                lbktest.wait_until(
                    lambda: servers(ngx)[names["b"]]["effective_weight"] == 10,
                    timeout=3 + SLACK + 1, what="full weight after slow start")
                self.assertEqual(servers(ngx)[names["a"]]["effective_weight"], 10)


class InitialDown(NginxTestCase):

    def test_initial_down_needs_rise_successes(self):
        # initial=down: a passing first check does not make the server up;
        # it takes `rise` of them (with initial=up one would do)
        with Backends(["a"]) as be:
            name = f"127.0.0.1:{be.ports['a']}"
            check = ("lbkit_check type=http uri=/health interval=500ms "
                     "rise=3 fall=2 initial=down;")
            body = config(upstream("api", "lbkit round_robin;", [name], extra=check))
            with Nginx(body, workers=1) as ngx:
                first = lbktest.wait_until(
                    lambda: (lambda s: s if s["checks"] >= 1 else None)(
                        servers(ngx)[name]), timeout=5, step=0.02,
                    what="first check")
                if first["checks"] < 3:
                    self.assertEqual(first["health"], "down", first)
                    self.assertTrue(first["last_check"]["ok"], first)
                wait_health(ngx, name, "up", 5)
                self.assertGreaterEqual(servers(ngx)[name]["checks"], 3)
                self.assertRegex(ngx.log(), r"server " + re.escape(name)
                                 + r" up: http check: status 200")


def nginx_t(check_directive):
    """`nginx -t` of an lbkit upstream with @check_directive: (rc, output)."""
    body = config(upstream("api", "lbkit round_robin;", ["127.0.0.1:9"],
                           extra=check_directive))
    ngx = Nginx(body, check=False)
    try:
        return ngx.test_config()
    finally:
        ngx.cleanup()


class BadCheckDirectives(NginxTestCase):

    CASES = [
        ("lbkit_check intervall=1s;", r'invalid parameter "intervall=1s"'),
        ("lbkit_check interval=abc;", r'invalid parameter "interval=abc"'),
        ("lbkit_check interval;", r'invalid parameter "interval"'),
        ("lbkit_check rise=0;", r'invalid parameter "rise=0"'),
        ("lbkit_check type=udp;", r'invalid parameter "type=udp"'),
        ("lbkit_check initial=maybe;", r'invalid parameter "initial=maybe"'),
        ("lbkit_check port=70000;", r'invalid parameter "port=70000"'),
        ("lbkit_check tls_verify=yes;", r'invalid parameter "tls_verify=yes"'),
        ("lbkit_check jitter=80;", r'invalid parameter "jitter=80"'),
        ("lbkit_check expect=abc;", r'invalid check: .*abc'),
        ("lbkit_check uri=;", r'invalid parameter "uri=": empty value'),
        ("lbkit_check type=tcp tls=on;", r'"tls=on" needs type=http'),
        ("lbkit_check; lbkit_check;", r'"lbkit_check" directive is duplicate'),
    ]

    def test_nginx_t_names_the_parameter(self):
        for directive, pattern in self.CASES:
            with self.subTest(directive=directive):
                rc, out = nginx_t(directive)
                self.assertNotEqual(rc, 0, out)
                self.assertRegex(out, pattern)
                self.assertRegex(out, r"nginx\.conf:\d+")

    def test_good_directive_passes(self):
        rc, out = nginx_t(
            'lbkit_check type=http interval=1s timeout=500ms rise=3 '
            'fall=2 fastinter=300ms downinter=5s jitter=20% uri=/health '
            'method=HEAD "headers=X-Check: 1" "headers=X-Other: 2" '
            'expect=200-399,404 initial=down slow_start=10s;')
        self.assertEqual(rc, 0, out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
