#!/usr/bin/env bash
# End-to-end benchmarks of lbctl (make bench; not a test: prints figures).
#
# 1. Probe scale: one `lbctl probe` of 1,000 and of 10,000 local endpoints
#    (one lbk-testbackend serving that many ports) against
#    `curl --parallel --parallel-max 1000` over the same URLs, in the same
#    run: wall time ratio and peak RSS of each.  Wall times are the median of
#    BENCH_RUNS (default 7) runs of each command, timed in pairs whose order
#    alternates (drifting load on a shared machine weighs on both alike);
#    the speedup is the median of the pairs' ratios.  Peak RSS comes from
#    one /usr/bin/time run of each.
# 2. Forward overhead: `lbctl forward --state FILE` (fresh canary state, no
#    probing) against `curl` to the same node, with hyperfine.
#
# usage: tests/bench/bench_lbctl.sh BUILD_DIR   (env: BENCH_SIZES="1000 10000",
#        BENCH_RUNS=7)
set -euo pipefail

BUILD_DIR=$(cd "${1:-build}" && pwd)
LBCTL="$BUILD_DIR/cli/lbctl"
BACKEND="$BUILD_DIR/tests/support/lbk-testbackend"
SIZES=${BENCH_SIZES:-"1000 10000"}
RUNS=${BENCH_RUNS:-7}
for tool in /usr/bin/time curl hyperfine python3; do
  command -v "$tool" >/dev/null || { echo "bench_lbctl: $tool is missing (make deps)" >&2; exit 2; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-lbctl.XXXXXX")
BACKEND_PID=""
stop_backend() {
  if [[ -n $BACKEND_PID ]] && kill -0 "$BACKEND_PID" 2>/dev/null; then
    kill -TERM "$BACKEND_PID" 2>/dev/null || true
    wait "$BACKEND_PID" 2>/dev/null || true
  fi
  BACKEND_PID=""
}
trap 'stop_backend; rm -rf "$WORK"' EXIT INT TERM

# Starts a backend with $1 ports; fills $WORK/urls (one URL a line).
start_backend() {
  local count=$1
  "$BACKEND" --head-interval 0 --listen 127.0.0.1:0 --ports "$count" >"$WORK/backend.out" &
  BACKEND_PID=$!
  local i
  for i in $(seq 1 2400); do  # up to 120 s: binding 10,000 ports takes a while
    grep -q '^ready' "$WORK/backend.out" 2>/dev/null && break
    sleep 0.05
  done
  grep -q '^ready' "$WORK/backend.out" || { echo "bench_lbctl: backend did not start" >&2; exit 4; }
  awk '$1 == "listening" { print "http://" $2 "/" }' "$WORK/backend.out" >"$WORK/urls"
}

# Runs a command under /usr/bin/time; prints "WALL_S MAXRSS_KB".
measure() {
  /usr/bin/time -f "%e %M" -o "$WORK/time.out" "$@" >/dev/null 2>"$WORK/cmd.err" || true
  tail -n 1 "$WORK/time.out"
}

echo "probe scale: lbctl probe vs curl --parallel --parallel-max 1000 (same URLs, same run;"
echo "  seconds: median of $RUNS runs each; speedup: median of the paired curl/lbctl ratios)"
printf '%-8s %10s %10s %8s %12s %12s %8s\n' nodes lbctl_s curl_s speedup lbctl_rss_MB curl_rss_MB rss_x
for n in $SIZES; do
  start_backend "$n"
  # curl: one config file with a url/output pair per node.
  awk '{ print "url = \"" $0 "\"\noutput = \"/dev/null\"" }' "$WORK/urls" >"$WORK/curl.cfg"
  # lbctl: the same URLs on the command line.
  mapfile -t urls <"$WORK/urls"
  # Warm-up (page cache, backend accept queues), then the measured runs.
  "$LBCTL" probe -o json --timeout 10s "${urls[@]:0:100}" >/dev/null || true
  read -r _ lbctl_kb < <(measure "$LBCTL" probe -o json --timeout 10s "${urls[@]}")
  read -r _ curl_kb < <(measure curl --parallel --parallel-max 1000 -s -K "$WORK/curl.cfg")
  healthy=$("$LBCTL" probe -o json --timeout 10s "${urls[@]}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["healthy"])' || true)
  python3 - "$n" "$RUNS" "$WORK/urls" "$WORK/curl.cfg" "$LBCTL" "$lbctl_kb" "$curl_kb" <<'PY'
import statistics, subprocess, sys, time
n, runs, urls_file, curl_cfg, lbctl = sys.argv[1], int(sys.argv[2]), *sys.argv[3:6]
lk, ck = map(float, sys.argv[6:8])
urls = open(urls_file).read().split()
commands = {"lbctl": [lbctl, "probe", "-o", "json", "--timeout", "10s", *urls],
            "curl": ["curl", "--parallel", "--parallel-max", "1000", "-s", "-K", curl_cfg]}
def wall(name):
    start = time.perf_counter()
    subprocess.run(commands[name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start
times = {"lbctl": [], "curl": []}
ratios = []
for i in range(runs):
    order = ("lbctl", "curl") if i % 2 == 0 else ("curl", "lbctl")
    pair = {name: wall(name) for name in order}
    for name in order:
        times[name].append(pair[name])
    ratios.append(pair["curl"] / pair["lbctl"])
ls, cs = statistics.median(times["lbctl"]), statistics.median(times["curl"])
print("%-8s %10.3f %10.3f %7.2fx %12.1f %12.1f %7.2fx" % (n, ls, cs, statistics.median(ratios),
      lk / 1024, ck / 1024, ck / lk if lk else 0))
print("         (speedup per run: %s)" % " ".join("%.2f" % r for r in ratios))
PY
  echo "         (lbctl saw $healthy of $n healthy)"
  stop_backend
done

echo
echo "forward overhead: lbctl forward --state (fresh canary state) vs curl, same node"
start_backend 1
url=$(head -n 1 "$WORK/urls")
"$LBCTL" watch --once -q --state "$WORK/state.json" "$url"
# Two passes in opposite order, so load that drifts during the run (a shared
# machine) weighs on both commands alike.
hyperfine -N --warmup 10 --runs 100 --export-json "$WORK/fwd1.json" \
  "$LBCTL forward --state $WORK/state.json" "curl -s $url" >/dev/null
hyperfine -N --warmup 10 --runs 100 --export-json "$WORK/fwd2.json" \
  "curl -s $url" "$LBCTL forward --state $WORK/state.json" >/dev/null
python3 - "$WORK/fwd1.json" "$WORK/fwd2.json" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))["results"]
b = json.load(open(sys.argv[2]))["results"]
lb = (a[0]["mean"] + b[1]["mean"]) / 2
cu = (a[1]["mean"] + b[0]["mean"]) / 2
print("lbctl forward: mean %.2f ms (passes %.2f, %.2f)" % (lb * 1e3, a[0]["mean"] * 1e3, b[1]["mean"] * 1e3))
print("curl:          mean %.2f ms (passes %.2f, %.2f)" % (cu * 1e3, a[1]["mean"] * 1e3, b[0]["mean"] * 1e3))
print("ratio lbctl/curl: %.2fx (goal <= 1.2x)" % (lb / cu))
PY
