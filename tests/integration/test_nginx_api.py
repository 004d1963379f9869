"""`lbkit_api`: the NGINX Plus–compatible REST API of lbkit upstreams, with
real nginx workers, real backends and wrk: reads, writes, every error,
changes under load seen by every worker at once, persistence across reload
and restart (`lbkit_state`), concurrent writers, and a client that speaks only
the Plus API driving a scale-out/scale-in cycle."""
import json
import os
import pwd
import re
import shutil
import stat
import subprocess
import threading
import time
import unittest

import lbktest

from nginx_harness import (Backends, Nginx, NginxTestCase, config_test,
                           count_bodies, upstream)
from plus_api_client import PlusApiClient, PlusApiError

WRK = shutil.which("wrk")


def body_of(servers, api_extra="", upstream_extra="", directive="lbkit round_robin;"):
    return "\n".join([
        upstream("api", directive, servers, upstream_extra),
        "server { listen 127.0.0.1:{port};"
        "  location / { proxy_pass http://api; proxy_next_upstream error timeout; }"
        "  location /api { lbkit_api write=on; " + api_extra + " }"
        "  location /ro { lbkit_api; }"
        "}",
    ])


def call(ngx, method, path, payload=None, raw=None):
    body = raw if raw is not None else (None if payload is None else json.dumps(payload))
    status, text = ngx.get(path, method=method, body=body)
    return status, (json.loads(text) if text else None)


def worker_uid():
    """The user nginx's workers run as: without a `user` directive, nobody
    when the master runs as root, else the master's own user."""
    return pwd.getpwnam("nobody").pw_uid if os.geteuid() == 0 else os.geteuid()


class ApiTestCase(NginxTestCase):

    def assertPlusError(self, result, status, code):
        got_status, doc = result
        self.assertEqual(got_status, status, doc)
        self.assertEqual(doc["error"]["code"], code, doc)
        self.assertEqual(doc["error"]["status"], status)
        self.assertIn("text", doc["error"])
        self.assertIn("request_id", doc)
        self.assertIn("href", doc)


class Reads(ApiTestCase):

    def test_endpoints_plus_clients_read(self):
        with Backends(["a", "b"]) as be, \
                Nginx(body_of([f"127.0.0.1:{be.ports[x]}" for x in "ab"]),
                      workers=2) as ngx:
            self.assertEqual(call(ngx, "GET", "/api/"), (200, list(range(1, 10))))
            for v in range(1, 10):
                status, doc = call(ngx, "GET", f"/api/{v}")
                self.assertEqual(status, 200)
                self.assertIn("http", doc)
            status, doc = call(ngx, "GET", "/api/9/nginx")
            self.assertEqual(status, 200)
            self.assertRegex(doc["version"], r"^\d+\.\d+\.\d+$")
            self.assertIn(doc["pid"], ngx.worker_pids())
            for path, kind in [("/api/9/connections", dict), ("/api/9/http/requests", dict),
                               ("/api/9/http/server_zones", dict), ("/api/9/http/location_zones", dict),
                               ("/api/9/http/caches", dict), ("/api/9/http/keyvals", dict),
                               ("/api/9/http/limit_reqs", dict), ("/api/9/slabs", dict),
                               ("/api/9/processes", dict), ("/api/9/ssl", dict),
                               ("/api/9/resolvers", dict), ("/api/9/stream/upstreams", dict),
                               ("/api/9/workers", list), ("/api/9/http", list),
                               ("/api/8/http/upstreams", dict)]:
                status, doc = call(ngx, "GET", path)
                self.assertEqual(status, 200, path)
                self.assertIsInstance(doc, kind, path)
            self.assertGreater(call(ngx, "GET", "/api/9/http/requests")[1]["total"], 0)
            self.assertGreater(call(ngx, "GET", "/api/9/connections")[1]["accepted"], 0)

            count_bodies(ngx, "/", 10)
            status, ups = call(ngx, "GET", "/api/9/http/upstreams")
            peers = ups["api"]["peers"]
            self.assertEqual([p["server"] for p in peers],
                             [f"127.0.0.1:{be.ports[x]}" for x in "ab"])
            for p in peers:
                self.assertEqual(p["state"], "up")
                self.assertEqual(p["requests"], 5)
                self.assertEqual(p["responses"]["2xx"], 5)
                self.assertEqual(p["responses"]["total"], 5)
                self.assertGreater(p["sent"], 0)
                self.assertGreater(p["received"], 0)
                self.assertIn("selected", p)
                for key in ("id", "name", "backup", "weight", "active", "fails",
                            "unavail", "health_checks", "downtime", "header_time",
                            "response_time"):
                    self.assertIn(key, p)
            # DELETE of an upstream resets its counters
            self.assertEqual(ngx.get("/api/9/http/upstreams/api", method="DELETE")[0], 204)
            peers = call(ngx, "GET", "/api/9/http/upstreams/api")[1]["peers"]
            self.assertEqual([p["requests"] for p in peers], [0, 0])


class Errors(ApiTestCase):

    def test_every_bad_request(self):
        with Backends(["a", "b"]) as be, \
                Nginx(body_of([f"127.0.0.1:{be.ports[x]}" for x in "ab"],
                              upstream_extra="lbkit_capacity 3;")
                      + "\nupstream plain { server 127.0.0.1:9; }", workers=2) as ngx:
            s = "/api/9/http/upstreams/api/servers"
            before = call(ngx, "GET", s)[1]
            E = self.assertPlusError
            E(call(ngx, "POST", s, raw="{bad"), 415, "JsonError")
            E(call(ngx, "POST", s, raw=""), 415, "JsonError")
            E(call(ngx, "POST", s, raw='{"server":"127.0.0.1:1"} x'), 415, "JsonError")
            E(call(ngx, "POST", s, raw='{"server":"\xff"}'.encode("latin-1")), 415, "JsonError")
            E(call(ngx, "POST", s, {"server": "127.0.0.1:1", "bogus": 1}), 400, "UpstreamConfFormatError")
            E(call(ngx, "POST", s, {"server": "127.0.0.1:1", "down": "yes"}), 400, "UpstreamConfFormatError")
            E(call(ngx, "POST", s, {"server": "127.0.0.1:1", "x": {"y": 1}}), 400, "UpstreamConfFormatError")
            E(call(ngx, "POST", s, {"weight": 2}), 400, "UpstreamConfFormatError")
            E(call(ngx, "POST", s, {"server": "127.0.0.1:1", "weight": 0}), 400, "UpstreamBadWeight")
            E(call(ngx, "POST", s, {"server": "127.0.0.1:1", "weight": "2"}), 400, "UpstreamBadWeight")
            E(call(ngx, "POST", s, {"server": "127.0.0.1:1", "max_conns": -1}), 400, "UpstreamBadMaxConns")
            E(call(ngx, "POST", s, {"server": "127.0.0.1:1", "max_fails": 1.5}), 400, "UpstreamBadMaxFails")
            E(call(ngx, "POST", s, {"server": "127.0.0.1:1", "fail_timeout": "soon"}), 400, "UpstreamBadFailTimeout")
            E(call(ngx, "POST", s, {"server": "127.0.0.1:1", "slow_start": "x"}), 400, "UpstreamBadSlowStart")
            E(call(ngx, "POST", s, {"server": "127.0.0.1:1", "route": "r" * 40}), 400, "UpstreamBadRoute")
            E(call(ngx, "POST", s, {"server": "127.0.0.1:99999"}), 400, "UpstreamBadAddress")
            E(call(ngx, "POST", s, {"server": before[0]["server"]}), 409, "EntryExists")
            E(call(ngx, "POST", "/api/9/http/upstreams/nope/servers", {"server": "127.0.0.1:1"}), 404, "UpstreamNotFound")
            E(call(ngx, "GET", "/api/9/http/upstreams/plain"), 400, "UpstreamStatic")
            E(call(ngx, "GET", s + "/7"), 404, "UpstreamServerNotFound")
            E(call(ngx, "PATCH", s + "/7", {"weight": 2}), 404, "UpstreamServerNotFound")
            E(call(ngx, "DELETE", s + "/7"), 404, "UpstreamServerNotFound")
            E(call(ngx, "GET", s + "/abc"), 400, "UpstreamBadServerId")
            E(call(ngx, "GET", "/api/10/nginx"), 404, "UnknownVersion")
            E(call(ngx, "GET", "/api/9/nope"), 404, "PathNotFound")
            E(call(ngx, "GET", "/api/9/http/server_zones/z"), 404, "ServerZoneNotFound")
            E(call(ngx, "PUT", s, {"server": "127.0.0.1:1"}), 405, "MethodNotSupported")
            E(call(ngx, "PATCH", s + "/0", {"server": "127.0.0.1:2"}), 400, "UpstreamServerImmutable")
            E(call(ngx, "PATCH", s + "/0", {"backup": True}), 400, "UpstreamConfFormatError")
            # read-only location: every write is 405 MethodDisabled
            ro = "/ro/9/http/upstreams/api/servers"
            E(call(ngx, "POST", ro, {"server": "127.0.0.1:1"}), 405, "MethodDisabled")
            E(call(ngx, "PATCH", ro + "/0", {"weight": 2}), 405, "MethodDisabled")
            E(call(ngx, "DELETE", ro + "/0"), 405, "MethodDisabled")
            E(call(ngx, "DELETE", "/ro/9/http/upstreams/api"), 405, "MethodDisabled")
            self.assertEqual(call(ngx, "GET", ro)[0], 200)
            # nothing half applied: a valid weight beside a bad field
            E(call(ngx, "PATCH", s + "/0", {"weight": 9, "max_fails": "x"}), 400, "UpstreamBadMaxFails")
            self.assertEqual(call(ngx, "GET", s)[1], before)
            # capacity 3: one more fits, the next is refused with a clear text
            self.assertEqual(call(ngx, "POST", s, {"server": "127.0.0.1:1"})[0], 201)
            r = call(ngx, "POST", s, {"server": "127.0.0.1:2"})
            E(r, 400, "UpstreamOutOfMemory")
            self.assertIn("lbkit_capacity", r[1]["error"]["text"])
            self.assertEqual(len(call(ngx, "GET", s)[1]), 3)
            self.assertNotIn("[alert]", ngx.log())
            self.assertNotIn("[crit]", ngx.log())

    def test_directive_errors(self):
        for directive, pattern in [
            ("lbkit_capacity 0;", r'invalid "lbkit_capacity" "0"'),
            ("lbkit_capacity 1;", r'has 2 addresses, more than its "lbkit_capacity" 1'),
        ]:
            rc, out, _ = config_test("\n".join([
                upstream("u", "lbkit round_robin; " + directive,
                         ["127.0.0.1:1", "127.0.0.1:2"]),
                "server { listen 127.0.0.1:{port}; location / { proxy_pass http://u; } }"]))
            self.assertNotEqual(rc, 0, out)
            self.assertRegex(out, pattern)
        rc, out, _ = config_test("server { listen 127.0.0.1:{port}; location /a { lbkit_api write=maybe; } }")
        self.assertNotEqual(rc, 0)
        self.assertIn('invalid parameter "write=maybe"', out)


class Writes(ApiTestCase):

    def test_add_patch_delete_seen_by_every_worker(self):
        with Backends(["a", "b", "c"]) as be, \
                Nginx(body_of([f"127.0.0.1:{be.ports[x]}" for x in "ab"]),
                      workers=4) as ngx:
            s = "/api/9/http/upstreams/api/servers"
            c = f"127.0.0.1:{be.ports['c']}"
            status, doc = call(ngx, "POST", s, {"server": c, "weight": 2, "max_fails": 3,
                                                "fail_timeout": "20s"})
            self.assertEqual(status, 201, doc)
            self.assertEqual(doc["server"], c)
            self.assertEqual((doc["weight"], doc["max_fails"], doc["fail_timeout"]), (2, 3, "20s"))
            cid = doc["id"]
            # every request after the answer, in any of the 4 workers, may go there
            self.assertEqual(count_bodies(ngx, "/", 40), {"a": 10, "b": 10, "c": 20})
            status, doc = call(ngx, "PATCH", f"{s}/{cid}", {"drain": True})
            self.assertEqual((status, doc["drain"]), (200, True))
            self.assertEqual(set(count_bodies(ngx, "/", 30)), {"a", "b"})
            self.assertEqual(call(ngx, "GET", "/api/9/http/upstreams/api")[1]["peers"][2]["state"],
                             "draining")
            status, doc = call(ngx, "PATCH", f"{s}/{cid}", {"drain": False, "weight": 1})
            self.assertEqual(count_bodies(ngx, "/", 30), {"a": 10, "b": 10, "c": 10})
            status, doc = call(ngx, "PATCH", f"{s}/0", {"down": True})
            self.assertEqual(doc["down"], True)
            self.assertEqual(set(count_bodies(ngx, "/", 20)), {"b", "c"})
            status, doc = call(ngx, "DELETE", f"{s}/{cid}")
            self.assertEqual(status, 200)
            self.assertEqual([x["server"] for x in doc],
                             [f"127.0.0.1:{be.ports[x]}" for x in "ab"])
            self.assertEqual(set(count_bodies(ngx, "/", 20)), {"b"})
            self.assertIn("added through the API", ngx.log())

    def test_added_server_takes_part_in_hash_and_passive_health(self):
        with Backends(["a", "b", "c"]) as be, \
                Nginx(body_of([f"127.0.0.1:{be.ports[x]}" for x in "ab"],
                              directive="lbkit hash $arg_k consistent;"), workers=2) as ngx:
            before = {k: ngx.get(f"/?k={k}")[1] for k in range(60)}
            c = f"127.0.0.1:{be.ports['c']}"
            self.assertEqual(call(ngx, "POST", "/api/9/http/upstreams/api/servers",
                                  {"server": c})[0], 201)
            after = {k: ngx.get(f"/?k={k}")[1] for k in range(60)}
            moved = [k for k in before if before[k] != after[k]]
            # consistent hashing: only keys that now map to the new server move
            self.assertTrue(moved)
            self.assertTrue(all(after[k] == "c" for k in moved), moved)
        with Backends(["a"]) as be, \
                Nginx(body_of([f"127.0.0.1:{be.ports['a']}"]), workers=2) as ngx:
            dead = f"127.0.0.1:{lbktest.free_port()}"
            self.assertEqual(call(ngx, "POST", "/api/9/http/upstreams/api/servers",
                                  {"server": dead, "max_fails": 1, "fail_timeout": "30s"})[0], 201)
            counts = count_bodies(ngx, "/", 20)
            self.assertEqual(counts, {"a": 20})   # proxy_next_upstream retried on a
            peer = call(ngx, "GET", "/api/9/http/upstreams/api")[1]["peers"][1]
            self.assertEqual(peer["state"], "unavail")
            self.assertEqual(peer["unavail"], 1)
            self.assertGreaterEqual(peer["fails"], 1)

    def test_peer_state_is_the_status_page_state(self):
        # rise=10 checks 1 s apart keep a passing server that starts down
        # "checking" (down, no check failed) for about 9 s after its first
        # check; a failing one is "unhealthy".  Both pages say the same.
        check = "lbkit_check type=http uri=/ interval=1s rise=10 fall=1 initial=down;"
        with Backends(["a", "b"], extra={"b": ["--status", "500"]}) as be:
            servers = [f"127.0.0.1:{be.ports[x]}" for x in "ab"]
            body = body_of(servers, upstream_extra=check).replace(
                "  location /ro {", "  location = /status { lbkit_status json; }  location /ro {")
            with Nginx(body, workers=2) as ngx:
                def checked_both():
                    peers = call(ngx, "GET", "/api/9/http/upstreams/api")[1]["peers"]
                    return all(p["health_checks"]["checks"] > 0 for p in peers) and peers

                peers = lbktest.wait_until(checked_both, timeout=8,
                                           what="first checks of both servers")
                api = {p["server"]: p["state"] for p in peers}
                self.assertEqual(api, {servers[0]: "checking", servers[1]: "unhealthy"})
                status = call(ngx, "GET", "/status")[1]
                page = {s["address"]: s["state"] for s in status["upstreams"][0]["servers"]}
                self.assertEqual(page, api)

    def test_added_server_is_actively_checked(self):
        check = "lbkit_check type=http uri=/ interval=200ms timeout=500ms rise=1 fall=1;"
        with Backends(["a", "b", "c"], extra={"c": ["--status", "500"]}) as be, \
                Nginx(body_of([f"127.0.0.1:{be.ports['a']}"], upstream_extra=check),
                      workers=2) as ngx:
            s = "/api/9/http/upstreams/api/servers"
            for name in "bc":
                self.assertEqual(call(ngx, "POST", s, {"server": f"127.0.0.1:{be.ports[name]}"})[0], 201)

            def states():
                peers = call(ngx, "GET", "/api/9/http/upstreams/api")[1]["peers"]
                return {p["server"]: p["state"] for p in peers}

            b, c = (f"127.0.0.1:{be.ports[x]}" for x in "bc")

            def checked_both():
                peers = call(ngx, "GET", "/api/9/http/upstreams/api")[1]["peers"]
                checks = {p["server"]: p["health_checks"]["checks"] for p in peers}
                return checks[b] > 0 and checks[c] > 0 and peers

            peers = lbktest.wait_until(checked_both, timeout=10,
                                       what="checks of both added servers")
            self.assertEqual(states()[c], "unhealthy")
            checked = {p["server"]: p["health_checks"] for p in peers}
            self.assertTrue(checked[b]["last_passed"])
            self.assertEqual(checked[c]["last_passed"], False)
            self.assertEqual(set(count_bodies(ngx, "/", 20)), {"a", "b"})
            # deleted: its checks (every 200 ms until then) stop in every worker
            lbktest.wait_until(lambda: be.stats("c")["requests"] >= 3, timeout=10,
                               what="repeated checks of the added server")
            cid = [p["id"] for p in peers if p["server"] == c][0]
            self.assertEqual(call(ngx, "DELETE", f"{s}/{cid}")[0], 200)
            time.sleep(0.5)
            before = be.stats("c")["requests"]
            time.sleep(1.0)
            self.assertEqual(be.stats("c")["requests"], before)

    def test_concurrent_writers(self):
        with Backends(["a"]) as be, \
                Nginx(body_of([f"127.0.0.1:{be.ports['a']}"]), workers=4) as ngx:
            ports = lbktest.free_ports(24)
            results, lock = [], threading.Lock()

            def writer(chunk):
                for p in chunk:
                    r = call(ngx, "POST", "/api/9/http/upstreams/api/servers",
                             {"server": f"127.0.0.2:{p}", "down": True})
                    with lock:
                        results.append(r[0])

            threads = [threading.Thread(target=writer, args=(ports[i::4],)) for i in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=60)
            self.assertEqual(results, [201] * 24)
            servers = call(ngx, "GET", "/api/9/http/upstreams/api/servers")[1]
            self.assertEqual(len(servers), 25)
            self.assertEqual(len({s["id"] for s in servers}), 25)
            self.assertEqual({s["server"] for s in servers[1:]},
                             {f"127.0.0.2:{p}" for p in ports})
            ids = [s["id"] for s in servers[1:]]
            results.clear()

            def deleter(chunk):
                for i in chunk:
                    r = call(ngx, "DELETE", f"/api/9/http/upstreams/api/servers/{i}")
                    with lock:
                        results.append(r[0])

            threads = [threading.Thread(target=deleter, args=(ids[i::4],)) for i in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=60)
            self.assertEqual(results, [200] * 24)
            self.assertEqual(len(call(ngx, "GET", "/api/9/http/upstreams/api/servers")[1]), 1)
            self.assertEqual(count_bodies(ngx, "/", 8), {"a": 8})


class Persistence(ApiTestCase):

    def changes(self, ngx, be):
        s = "/api/9/http/upstreams/api/servers"
        self.assertEqual(call(ngx, "POST", s, {"server": f"127.0.0.1:{be.ports['c']}",
                                               "weight": 2})[0], 201)
        self.assertEqual(call(ngx, "PATCH", f"{s}/0", {"weight": 3, "drain": True})[0], 200)
        self.assertEqual(call(ngx, "DELETE", f"{s}/1")[0], 200)

    def expect(self, ngx, be):
        servers = {x["server"]: x for x in call(ngx, "GET", "/api/9/http/upstreams/api/servers")[1]}
        a, c = (f"127.0.0.1:{be.ports[x]}" for x in "ac")
        self.assertEqual(set(servers), {a, c})
        self.assertEqual((servers[a]["weight"], servers[a]["drain"]), (3, True))
        self.assertEqual(servers[c]["weight"], 2)
        self.assertEqual(count_bodies(ngx, "/", 10), {"c": 10})

    def test_reload_keeps_api_changes(self):
        with Backends(["a", "b", "c", "d"]) as be:
            body = body_of([f"127.0.0.1:{be.ports[x]}" for x in "ab"])
            with Nginx(body, workers=2) as ngx:
                self.changes(ngx, be)
                ngx.reload()
                self.expect(ngx, be)
                # the configuration adds d: it joins, API changes stay
                ngx.reload(body_of([f"127.0.0.1:{be.ports[x]}" for x in "abd"]))
                servers = [x["server"] for x in call(ngx, "GET", "/api/9/http/upstreams/api/servers")[1]]
                self.assertEqual(sorted(servers), sorted(f"127.0.0.1:{be.ports[x]}" for x in "acd"))

    def test_restart_with_state_file(self):
        with Backends(["a", "b", "c"]) as be, lbktest.tempdir() as d:
            state = os.path.join(d, "api.state")
            body = body_of([f"127.0.0.1:{be.ports[x]}" for x in "ab"],
                           upstream_extra=f"lbkit_state {state};")
            # the workers write the file: its directory must be theirs
            os.chown(d, worker_uid(), -1)
            with Nginx(body, workers=2) as ngx:
                self.changes(ngx, be)
            st = os.stat(state)
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
            self.assertEqual([f for f in os.listdir(d) if f != "api.state"], [])
            with Nginx(body, workers=2) as ngx:
                self.expect(ngx, be)
            # a corrupt file: nginx refuses to start and names file and line
            with open(state) as f:
                lines = f.read().splitlines()
            lines[1] = lines[1][:10]
            with open(state, "w") as f:
                f.write("\n".join(lines) + "\n")
            rc, out, _ = config_test(body)
            self.assertNotEqual(rc, 0)
            self.assertIn(f"{state}:2: corrupt lbkit_state file", out)
            with open(state, "w") as f:
                f.write('{"server":"127.0.0.1:1","weight":[1]}\n')
            rc, out, _ = config_test(body)
            self.assertIn(f"{state}:1: corrupt lbkit_state file", out)


class UnderLoad(ApiTestCase):

    def wrk(self, ngx, seconds, result):
        r = lbktest.run([WRK, "-t2", "-c16", f"-d{seconds}s", "--latency",
                         f"http://127.0.0.1:{ngx.port}/"], timeout=seconds + 30)
        result.append(r.stdout + r.stderr)

    def test_changes_under_load_lose_no_request(self):
        if WRK is None:
            raise RuntimeError("wrk is missing (make deps)")
        with Backends(["a", "b", "c", "d"]) as be, \
                Nginx(body_of([f"127.0.0.1:{be.ports[x]}" for x in "ab"]), workers=4) as ngx:
            client = PlusApiClient(ngx.port)
            out = []
            t = threading.Thread(target=self.wrk, args=(ngx, 6, out))
            t.start()
            time.sleep(1)
            c = client.add_server("api", f"127.0.0.1:{be.ports['c']}")
            time.sleep(0.5)
            client.update_server("api", c["id"], weight=3)
            time.sleep(0.5)
            client.update_server("api", 0, drain=True)
            d = client.add_server("api", f"127.0.0.1:{be.ports['d']}")
            time.sleep(0.5)
            client.delete_server("api", 0)
            time.sleep(0.5)
            client.delete_server("api", c["id"])
            t.join(timeout=60)
            text = out[0]
            self.assertNotIn("Non-2xx", text, text)
            self.assertNotIn("Socket errors", text, text)
            self.assertRegex(text, r"\d+ requests in")
            served = {x: be.stats(x)["requests"] for x in "abcd"}
            self.assertTrue(all(v > 0 for v in served.values()), served)
            self.assertEqual([s["server"] for s in client.servers("api")],
                             [f"127.0.0.1:{be.ports[x]}" for x in "bd"])


class PlusClientCycle(ApiTestCase):

    def test_scale_out_and_in(self):
        with Backends(["a", "b", "c", "d"]) as be, \
                Nginx(body_of([f"127.0.0.1:{be.ports['a']}"]), workers=2) as ngx:
            client = PlusApiClient(ngx.port)
            self.assertEqual(client.version, 9)
            fleet = [f"127.0.0.1:{be.ports[x]}" for x in "abcd"]
            added, deleted = client.sync_servers("api", fleet)
            self.assertEqual((len(added), deleted), (3, []))
            self.assertEqual(count_bodies(ngx, "/", 40), {x: 10 for x in "abcd"})
            # scale in: drain first, then remove
            for s in client.servers("api"):
                if s["server"] in fleet[2:]:
                    client.update_server("api", s["id"], drain=True)
            self.assertEqual(set(count_bodies(ngx, "/", 20)), {"a", "b"})
            added, deleted = client.sync_servers("api", fleet[:2])
            self.assertEqual((added, sorted(deleted)), ([], sorted(fleet[2:])))
            self.assertEqual(count_bodies(ngx, "/", 20), {"a": 10, "b": 10})
            with self.assertRaises(PlusApiError) as e:
                client.delete_server("api", 99)
            self.assertEqual((e.exception.status, e.exception.code),
                             (404, "UpstreamServerNotFound"))
            peers = client.upstream("api")["peers"]
            self.assertEqual([p["state"] for p in peers], ["up", "up"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
