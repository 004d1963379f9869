#!/usr/bin/env bash
# End-to-end benchmark of the lbkit nginx module (not a test: it prints
# figures and ratios against peers measured in the same run, never pass/fail).
#
#   tests/bench/bench_nginx.sh BUILD_DIR
#
# 1. Throughput: wrk through nginx to the same backends, runs alternating
#    between nginx's built-in round robin, `lbkit round_robin` and
#    `lbkit peak_ewma`, with 4 and with 1000 servers; requests/s and the
#    ratio to built-in (median of the per-round ratios, with their range).
# 2. Tail latency: four backends, one of them 10x slower; p50/p99 of nginx's
#    round robin, least_conn, `random two least_conn` and lbkit's least_conn,
#    p2c, peak_ewma, fastest, against a pool without the slow backend, and
#    the share of requests the slow backend answered (from its /__stats; it
#    includes the 2 checks a second of the `fastest` upstream, about 0.1 %).
#    The backends answer in 20 and 200 ms: with 1 and 10 ms, 32 connections
#    drive ~7,000 requests/s through wrk, nginx and the backend on the same
#    2 cores, the CPUs saturate, and queueing (a no-slow p50 of 4 ms for a
#    1 ms backend) leaves the "10x slower" backend only ~3x slower as nginx
#    sees it.  The line above the table shows the no-slow pool's p50 against
#    the configured latency.  Every variant gets a discarded warm-up run
#    first (a method meets its backends' latencies there).
#    wrk's percentiles include its correction for coordinated omission
#    (wrk 4: a reply slower than the mean interval between requests on a
#    connection also counts the replies that connection would have had), so
#    one 200 ms reply weighs as about eight slow samples; stricter than
#    counting each reply once.
# 3. Hung backend: four backends (one process each), one stopped with
#    SIGSTOP under load; counted at the proxy from the access log
#    ($request_time): requests that waited for proxy_read_timeout (1 s),
#    split into those in flight when it stopped and those sent after, for
#    nginx's round robin and least_conn and lbkit's methods with and without
#    suspect avoidance; client errors; throughput of the same upstream
#    without a hang, against nginx's round robin.
#
# Environment: BENCH_SECONDS (per wrk run of part 1, default 2),
# BENCH_LATENCY_SECONDS (per run of part 2, default 4), BENCH_ROUNDS
# (alternations, default 5), BENCH_CONNECTIONS (default 32),
# FAST_MS / SLOW_MS backend latencies of part 2 (default 20 / 200),
# BENCH_PARTS (which parts to run, default "throughput latency hung"),
# HUNG_MS / HUNG_CONNECTIONS / HUNG_SECONDS / HUNG_AFTER (part 3: backend
# latency, default 5; wrk connections, 16; run length, 6; stop after, 2),
# BENCH_DEBUG=1 (part 2 also prints every round's figures), BENCH_KEEP=1
# (keep the work directory: configurations, logs, access logs).
# Exit status: 0 when every run completed, 1 otherwise.
set -euo pipefail

build=$(cd "${1:-build}" && pwd)
seconds=${BENCH_SECONDS:-2}
rounds=${BENCH_ROUNDS:-5}
conns=${BENCH_CONNECTIONS:-32}
fast_ms=${FAST_MS:-20}
slow_ms=${SLOW_MS:-200}
lat_seconds=${BENCH_LATENCY_SECONDS:-4}
parts=" ${BENCH_PARTS:-throughput latency hung} "
hung_ms=${HUNG_MS:-5}
hung_conns=${HUNG_CONNECTIONS:-16}
hung_seconds=${HUNG_SECONDS:-6}
hung_after=${HUNG_AFTER:-2}
nginx=${LBK_NGINX:-/usr/sbin/nginx}
module=$build/nginx-module/ngx_http_upstream_lbkit_module.so
backend=$build/tests/support/lbk-testbackend

for need in "$nginx" "$module" "$backend" "$(command -v wrk || true)"; do
  if [ -z "$need" ] || [ ! -e "$need" ]; then
    echo "bench_nginx: missing ${need:-wrk} (make nginx-module; apt-get install wrk)" >&2
    exit 1
  fi
done

work=$(mktemp -d /tmp/lbk-bench-nginx.XXXXXX)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill -CONT "$pid" 2>/dev/null || true
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [ -n "${BENCH_KEEP:-}" ]; then echo "bench_nginx: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

# A free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_backends NAME ARGS...: runs lbk-testbackend, waits for "ready" and
# leaves the listener ports, one per line, in $work/NAME.ports.
start_backends() {
  local name=$1; shift
  "$backend" --head-interval 0 "$@" >"$work/$name.out" 2>"$work/$name.err" &
  pids+=($!)
  for _ in $(seq 1 200); do
    grep -qx ready "$work/$name.out" 2>/dev/null && break
    sleep 0.05
  done
  grep -qx ready "$work/$name.out" || { echo "bench_nginx: backend $name did not start" >&2; cat "$work/$name.err" >&2; exit 1; }
  sed -n 's/^listening 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/$name.out" >"$work/$name.ports"
}

# server_lines PORTFILE [LIMIT]: `server` lines for the ports in PORTFILE.
server_lines() {
  head -n "${2:-100000}" "$1" | sed 's/.*/    server 127.0.0.1:& max_fails=0;/'
}

# start_nginx NAME: runs nginx with $work/NAME.conf in the foreground.
start_nginx() {
  local name=$1
  mkdir -p "$work/$name/logs"
  "$nginx" -t -q -p "$work/$name" -c "$work/$name.conf" \
    -g "pid $work/$name/nginx.pid; error_log $work/$name/logs/error.log warn;" \
    || { echo "bench_nginx: nginx -t failed for $name" >&2; exit 1; }
  "$nginx" -p "$work/$name" -c "$work/$name.conf" \
    -g "pid $work/$name/nginx.pid; error_log $work/$name/logs/error.log warn; daemon off;" &
  pids+=($!)
}

wait_port() {
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "bench_nginx: nothing listens on $1" >&2
  exit 1
}

# run_wrk PORT [SECONDS]: prints "RPS P50_MS P99_MS ERRORS" for one wrk run.
run_wrk() {
  wrk -t1 -c"$conns" -d"${2:-$seconds}s" --latency "http://127.0.0.1:$1/" 2>&1 |
    awk '
      function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0;
                       if (v ~ /s$/) return v * 1000; return v + 0 }
      /Requests\/sec:/ { rps = $2 }
      $1 == "50%" { p50 = ms($2) }
      $1 == "99%" { p99 = ms($2) }
      /Non-2xx or 3xx responses:/ { err += $NF }
      /Socket errors:/ { err += 1 }
      END { printf "%.0f %.3f %.3f %d\n", rps, p50, p99, err + 0 }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

common_head() {
  cat <<EOF
load_module $module;
worker_processes 1;
worker_rlimit_nofile 20000;
events { worker_connections 8192; }
http {
  access_log off;
  proxy_http_version 1.1;
  proxy_set_header Connection "";
EOF
}

status=0

# ---------------------------------------------------------------- part 1
if [[ $parts == *" throughput "* ]]; then
echo "== throughput: requests/s (median of $rounds alternating ${seconds}s runs, $conns connections)"
start_backends small --listen 127.0.0.1:0 --ports 4
start_backends large --listen 127.0.0.1:0 --ports 1000
variants=(builtin lbkit_rr lbkit_ewma)
declare -A directive=([builtin]="" [lbkit_rr]="lbkit round_robin;" [lbkit_ewma]="lbkit peak_ewma;")
declare -A port
{
  common_head
  for size in small large; do
    for v in "${variants[@]}"; do
      port[$size.$v]=$(free_port)
      echo "  upstream ${size}_$v {"
      [ -n "${directive[$v]}" ] && echo "    ${directive[$v]}"
      server_lines "$work/$size.ports"
      echo "    keepalive 64;"
      echo "  }"
      echo "  server { listen 127.0.0.1:${port[$size.$v]}; location / { proxy_pass http://${size}_$v; } }"
    done
  done
  echo "}"
} >"$work/tp.conf"
start_nginx tp
for key in "${!port[@]}"; do wait_port "${port[$key]}"; done

# Each round runs every variant once, in an order rotated from round to
# round (no variant always goes first); a variant's ratio is the median of
# its per-round ratios to the built-in of the same round, which cancels
# drift in the machine's speed between rounds.
for size in small large; do
  for v in "${variants[@]}"; do : >"$work/rps.$size.$v"; : >"$work/ratio.$size.$v"; done
  for round in $(seq 1 "$rounds"); do
    declare -A this_round=()
    for k in "${!variants[@]}"; do
      v=${variants[$(( (k + round) % ${#variants[@]} ))]}
      read -r rps p50 p99 err < <(run_wrk "${port[$size.$v]}")
      echo "$rps" >>"$work/rps.$size.$v"
      this_round[$v]=$rps
      [ "$err" -eq 0 ] || { echo "  $size $v round $round: $err errors" >&2; status=1; }
    done
    for v in "${variants[@]}"; do
      awk -v a="${this_round[$v]}" -v b="${this_round[builtin]}" 'BEGIN { printf "%.4f\n", (b > 0) ? a / b : 0 }' \
        >>"$work/ratio.$size.$v"
    done
  done
done

printf '%-8s %-12s %12s %10s %16s\n' servers variant "requests/s" "vs builtin" "rounds min-max"
for size in small large; do
  n=$([ "$size" = small ] && echo 4 || echo 1000)
  for v in "${variants[@]}"; do
    m=$(median <"$work/rps.$size.$v")
    r=$(median <"$work/ratio.$size.$v")
    printf '%-8s %-12s %12.0f %10.3f %16s\n' "$n" "$v" "$m" "$r" \
      "$(sort -n "$work/ratio.$size.$v" | sed -n '1p;$p' | tr '\n' ' ' | awk '{ printf "%.3f-%.3f", $1, $2 }')"
  done
done
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
fi

# ---------------------------------------------------------------- part 2
if [[ $parts == *" latency "* ]]; then
echo
echo "== tail latency: 4 backends, one ${slow_ms}ms, three ${fast_ms}ms (median of $rounds ${lat_seconds}s runs, $conns connections)"
start_backends lat --latency "${fast_ms}ms" --listen 127.0.0.1:0 --ports 3 \
  --listen 127.0.0.1:0 --latency "${slow_ms}ms"
lat_variants=(baseline_no_slow nginx_round_robin nginx_least_conn nginx_random2_lc
              lbkit_least_conn lbkit_p2c lbkit_peak_ewma lbkit_fastest)
declare -A lat_directive=(
  [baseline_no_slow]="" [nginx_round_robin]="" [nginx_least_conn]="least_conn;"
  [nginx_random2_lc]="random two least_conn;" [lbkit_least_conn]="lbkit least_conn;"
  [lbkit_p2c]="lbkit p2c;" [lbkit_peak_ewma]="lbkit peak_ewma;"
  [lbkit_fastest]="lbkit fastest; lbkit_check type=http interval=500ms;")
declare -A lat_port
{
  common_head
  for v in "${lat_variants[@]}"; do
    lat_port[$v]=$(free_port)
    echo "  upstream $v {"
    [ -n "${lat_directive[$v]}" ] && echo "    ${lat_directive[$v]}"
    if [ "$v" = baseline_no_slow ]; then
      server_lines "$work/lat.ports" 3
    else
      server_lines "$work/lat.ports"
    fi
    echo "    keepalive 64;"
    echo "  }"
    echo "  server { listen 127.0.0.1:${lat_port[$v]}; location / { proxy_pass http://$v; } }"
  done
  echo "}"
} >"$work/lat.conf"
start_nginx lat
for v in "${lat_variants[@]}"; do wait_port "${lat_port[$v]}"; done
sleep 1.5  # lbkit_fastest: a few checks measure the backends first

# backend_requests PORT: requests the test backend's listener on PORT has
# answered since its last reset (GET /__stats; its own requests excluded).
backend_requests() {
  curl -s "http://127.0.0.1:$1/__stats" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["requests"])'
}
slow_port=$(tail -n 1 "$work/lat.ports")
first_port=$(head -n 1 "$work/lat.ports")
for v in "${lat_variants[@]}"; do : >"$work/p50.$v"; : >"$work/p99.$v"; : >"$work/slow.$v"; done
for v in "${lat_variants[@]}"; do run_wrk "${lat_port[$v]}" 1 >/dev/null; done  # warm-up
for round in $(seq 1 "$rounds"); do
  for v in "${lat_variants[@]}"; do
    curl -s -o /dev/null -d '{"reset_stats": true, "all": true}' "http://127.0.0.1:$first_port/__control"
    read -r rps p50 p99 err < <(run_wrk "${lat_port[$v]}" "$lat_seconds")
    slow=$(backend_requests "$slow_port")
    echo "$p50" >>"$work/p50.$v"
    echo "$p99" >>"$work/p99.$v"
    awk -v s="$slow" -v r="$rps" -v t="$lat_seconds" 'BEGIN { printf "%.3f\n", (r > 0) ? 100 * s / (r * t) : 0 }' >>"$work/slow.$v"
    [ "$err" -eq 0 ] || { echo "  $v round $round: $err errors" >&2; status=1; }
  done
done

[ -n "${BENCH_DEBUG:-}" ] && for v in "${lat_variants[@]}"; do echo "$v: slow% $(tr "\n" " " <"$work/slow.$v") p99 $(tr "\n" " " <"$work/p99.$v")"; done
base99=$(median <"$work/p99.baseline_no_slow")
base50=$(median <"$work/p50.baseline_no_slow")
echo "(no-slow pool p50 ${base50} ms for ${fast_ms} ms backends: $(awk -v a="$base50" -v b="$fast_ms" 'BEGIN { printf "%.0f", 100 * (a - b) / b }')% queueing and proxying)"
printf '%-20s %9s %9s %12s %16s\n' variant "p50 ms" "p99 ms" "slow share" "p99/no-slow"
for v in "${lat_variants[@]}"; do
  p50=$(median <"$work/p50.$v"); p99=$(median <"$work/p99.$v"); slow=$(median <"$work/slow.$v")
  printf '%-20s %9.2f %9.2f %11.2f%% %16.2f\n' "$v" "$p50" "$p99" "$slow" "$(awk -v a="$p99" -v b="$base99" 'BEGIN { print (b > 0) ? a / b : 0 }')"
done
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
fi

# ---------------------------------------------------------------- part 3
[[ $parts == *" hung "* ]] || exit $status
echo
echo "== hung backend: 4 backends of ${hung_ms} ms, one stopped (SIGSTOP) ${hung_after}s into a ${hung_seconds}s run,"
echo "   $hung_conns connections, proxy_read_timeout 1s, retried elsewhere (proxy_next_upstream error timeout)"
# One backend process per listener, so that one can be stopped alone.
for k in 1 2 3 4; do
  start_backends "hung$k" --latency "${hung_ms}ms" --listen 127.0.0.1:0
  cat "$work/hung$k.ports" >>"$work/hung.ports"
done
stopped_pid=${pids[-1]}
stopped_port=$(tail -n 1 "$work/hung.ports")
hung_variants=(nginx_round_robin nginx_least_conn lbkit_least_conn lbkit_least_conn_suspect
               lbkit_peak_ewma lbkit_peak_ewma_no_suspect lbkit_fastest lbkit_round_robin_suspect)
declare -A hung_directive=(
  [nginx_round_robin]="" [nginx_least_conn]="least_conn;"
  [lbkit_least_conn]="lbkit least_conn;" [lbkit_least_conn_suspect]="lbkit least_conn suspect=20ms;"
  [lbkit_peak_ewma]="lbkit peak_ewma;" [lbkit_peak_ewma_no_suspect]="lbkit peak_ewma suspect=off;"
  [lbkit_fastest]="lbkit fastest;" [lbkit_round_robin_suspect]="lbkit round_robin suspect=20ms;")
declare -A hung_port
{
  common_head | sed 's/^worker_processes 1;/worker_processes 2;/'
  echo '  log_format timing "$msec $request_time $status $upstream_addr";'
  for v in "${hung_variants[@]}"; do
    hung_port[$v]=$(free_port)
    echo "  upstream $v {"
    [ -n "${hung_directive[$v]}" ] && echo "    ${hung_directive[$v]}"
    server_lines "$work/hung.ports"
    echo "    keepalive 64;"
    echo "  }"
    echo "  server { listen 127.0.0.1:${hung_port[$v]};"
    echo "    access_log $work/hung.$v.log timing;"
    echo "    proxy_read_timeout 1s; proxy_connect_timeout 1s; proxy_next_upstream error timeout;"
    echo "    location / { proxy_pass http://$v; } }"
  done
  echo "}"
} >"$work/hung.conf"
start_nginx hung
for v in "${hung_variants[@]}"; do wait_port "${hung_port[$v]}"; done

# hung_counts LOG STOP_TIME: "WAITED IN_FLIGHT AFTER ERRORS REQUESTS" from an
# access log: requests that waited for the read timeout (request_time >= 1 s),
# of those the ones that started before the backend was stopped (in flight to
# it, or sent in the same instant) and after, and 5xx answers (wrk closes its
# connections at the end of a run: those requests are logged as 499, not
# counted).
hung_counts() {
  awk -v stop="$2" '
    { n++; start = $1 - $2 }
    $2 >= 1.0 { waited++; if (start <= stop) before++; else after++ }
    $3 >= 500 { err++ }
    END { printf "%d %d %d %d %d\n", waited, before, after, err, n }' "$1"
}

printf '%-28s %9s %9s %9s %9s %8s %11s %9s\n' variant "req/s" waited "in flight" after errors "no-hang r/s" "r/s ratio"
for v in "${hung_variants[@]}"; do
  # without a hang: throughput
  read -r base_rps _ _ base_err < <(run_wrk "${hung_port[$v]}" "$hung_after")
  : >"$work/hung.$v.log"
  wrk -t1 -c"$hung_conns" -d"${hung_seconds}s" "http://127.0.0.1:${hung_port[$v]}/" >"$work/hung.$v.wrk" 2>&1 &
  wrk_pid=$!
  sleep "$hung_after"
  stop_time=$(date +%s.%N)
  kill -STOP "$stopped_pid"
  wait "$wrk_pid" || true
  kill -CONT "$stopped_pid"
  sleep 1.5  # the stopped backend answers what it queued; the log is complete
  rps=$(awk '/Requests\/sec:/ { print $2 }' "$work/hung.$v.wrk")
  wrk_err=$(awk '/Non-2xx or 3xx responses:/ { e += $NF } /Socket errors:/ { e += 1 } END { print e + 0 }' "$work/hung.$v.wrk")
  read -r waited before after err n < <(hung_counts "$work/hung.$v.log" "$stop_time")
  printf '%-28s %9.0f %9d %9d %9d %8d %11.0f %9.3f\n' "$v" "$rps" "$waited" "$before" "$after" \
    "$((err + wrk_err + base_err))" "$base_rps" "$(awk -v a="$base_rps" -v b="${hung_base:-$base_rps}" 'BEGIN { print (b > 0) ? a / b : 0 }')"
  [ -n "${hung_base:-}" ] || hung_base=$base_rps
done
echo "(waited: requests that waited for the 1 s read timeout; in flight: of those, started before the stop;"
echo " after: started after it, the ones a balancer could have sent elsewhere; r/s ratio: no-hang"
echo " throughput against nginx's round robin in the same run)"
exit $status
