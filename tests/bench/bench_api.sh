#!/usr/bin/env bash
# End-to-end benchmark of the nginx module's API (not a test: it prints
# figures, never pass/fail): the time from an API call to the first request
# routed accordingly, with 4 nginx workers, next to one plain proxied request
# measured in the same run (the floor: an API call plus one request).
#
#   tests/bench/bench_api.sh BUILD_DIR
#
# For each of BENCH_ROUNDS rounds (default 50): POST a server of weight 100
# beside one of weight 1, then send requests (each on a new connection, so
# any worker may take it) until one is answered by the new server; then
# PATCH it to drain and send requests until one is answered by another.
# Reported: median and p95 of each, in ms, and of one proxied request.
# Environment: LBK_NGINX, LBK_NGINX_MODULE (see nginx_harness.py).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build}" && pwd)
export LBK_BUILD_DIR=$build LBK_SOURCE_DIR=$(cd "$here/../.." && pwd)
export PYTHONPATH=$here/../support:$here/../integration PYTHONDONTWRITEBYTECODE=1
exec python3 - "${BENCH_ROUNDS:-50}" <<'PY'
import json, statistics, sys, time
from nginx_harness import Backends, Nginx, require_artifacts, upstream

require_artifacts()
rounds = int(sys.argv[1])


def ms(samples):
    samples = sorted(samples)
    return (statistics.median(samples) * 1000,
            samples[max(0, int(len(samples) * 0.95) - 1)] * 1000)


with Backends(["old"] + [f"n{i}" for i in range(rounds)]) as be:
    body = "\n".join([
        upstream("api", "lbkit round_robin; lbkit_capacity %d;" % (rounds + 8),
                 [f"127.0.0.1:{be.ports['old']}"]),
        "server { listen 127.0.0.1:{port}; location / { proxy_pass http://api; }"
        " location /api { lbkit_api write=on; } }"])
    with Nginx(body, workers=4) as ngx:
        s = "/api/9/http/upstreams/api/servers"
        plain, add, drain, tries = [], [], [], []
        for i in range(rounds):
            t0 = time.perf_counter()
            ngx.get("/")
            plain.append(time.perf_counter() - t0)
            name = f"n{i}"
            t0 = time.perf_counter()
            st, doc = ngx.get(s, method="POST", body=json.dumps(
                {"server": f"127.0.0.1:{be.ports[name]}", "weight": 100}))
            assert st == 201, doc
            sid = json.loads(doc)["id"]
            for n in range(1, 1000):
                if ngx.get("/")[1] == name:
                    break
            add.append(time.perf_counter() - t0)
            tries.append(n)
            t0 = time.perf_counter()
            ngx.get(f"{s}/{sid}", method="PATCH", body='{"drain":true}')
            for _ in range(1000):
                if ngx.get("/")[1] != name:
                    break
            drain.append(time.perf_counter() - t0)
            ngx.get(f"{s}/{sid}", method="DELETE")
        p, a, d = ms(plain), ms(add), ms(drain)
        print(f"rounds {rounds}, 4 workers")
        print(f"one proxied request       median {p[0]:.2f} ms  p95 {p[1]:.2f} ms")
        print(f"POST to first routed      median {a[0]:.2f} ms  p95 {a[1]:.2f} ms"
              f"  ({a[0] / p[0]:.1f}x one request; requests needed: max {max(tries)})")
        print(f"PATCH drain to rerouted   median {d[0]:.2f} ms  p95 {d[1]:.2f} ms"
              f"  ({d[0] / p[0]:.1f}x one request)")
PY
