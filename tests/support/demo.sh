#!/usr/bin/env bash
# make demo: four local JSON-RPC nodes (fast, slow, lagging, broken) served
# by lbk-testbackend on 127.0.0.1, then lbctl probe, rank and forward against
# them.  Every command is printed before it runs; everything started here is
# stopped by its PID on exit.
#
# usage: tests/support/demo.sh BUILD_DIR
set -euo pipefail

BUILD_DIR=$(cd "${1:-build}" 2>/dev/null && pwd) || { echo "demo: no build directory ${1:-build}; run 'make' first" >&2; exit 2; }
LBCTL="$BUILD_DIR/cli/lbctl"
BACKEND="$BUILD_DIR/tests/support/lbk-testbackend"
for bin in "$LBCTL" "$BACKEND"; do
  if [[ ! -x $bin ]]; then
    echo "demo: $bin is missing; run 'make' first" >&2
    exit 2
  fi
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/lbctl-demo.XXXXXX")
BACKEND_PID=""
cleanup() {
  if [[ -n $BACKEND_PID ]] && kill -0 "$BACKEND_PID" 2>/dev/null; then
    kill -TERM "$BACKEND_PID" 2>/dev/null || true
    wait "$BACKEND_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# Four nodes on free ports: the head advances every second; "lagging"
# reports 20 blocks behind, "slow" answers after 80 ms, "broken" says 500.
"$BACKEND" --head-interval 1s \
  --listen 127.0.0.1:0 --name fast \
  --listen 127.0.0.1:0 --name slow --latency 80ms \
  --listen 127.0.0.1:0 --name lagging --lag 20 \
  --listen 127.0.0.1:0 --name broken --status 500 >"$WORK/backend.out" &
BACKEND_PID=$!
for _ in $(seq 1 100); do
  grep -q '^ready' "$WORK/backend.out" 2>/dev/null && break
  sleep 0.05
done
grep -q '^ready' "$WORK/backend.out" || { echo "demo: the test backend did not start" >&2; exit 4; }

declare -A PORT
while read -r word addr name _; do
  [[ $word == listening ]] || continue
  PORT[${name#name=}]=${addr##*:}
done <"$WORK/backend.out"

cat >"$WORK/lbctl.ini" <<INI
[lbctl]
timeout = 1s

[pool demo]
check = jsonrpc
max_lag = 5
server = http://127.0.0.1:${PORT[fast]}/ name=fast
server = http://127.0.0.1:${PORT[slow]}/ name=slow
server = http://127.0.0.1:${PORT[lagging]}/ name=lagging
server = http://127.0.0.1:${PORT[broken]}/ name=broken
INI

# Prints "$ lbctl ARGS" (shell-quoted), then runs it.  Exit code 1 (some
# nodes unhealthy) is part of the demo, so it does not stop the script.
show() {
  echo
  local line='$ lbctl' arg
  for arg in "$@"; do
    if [[ $arg =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then line+=" $arg"; else line+=" '$arg'"; fi
  done
  echo "$line"
  "$LBCTL" "$@" || true
}

echo "lbctl demo: four JSON-RPC nodes on 127.0.0.1 (config: $WORK/lbctl.ini)"
cd "$WORK"
show probe -c lbctl.ini -o table
show probe -c lbctl.ini -o table --count 5 --interval 100ms
show rank -c lbctl.ini -o table --count 3 --interval 100ms
show watch -c lbctl.ini --once --state state.json
show forward --state state.json -v --annotate \
  -d '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}'
show forward --state state.json -v --strategy hedge --force --hedge-delay 20ms \
  -d '{"jsonrpc":"2.0","id":2,"method":"web3_clientVersion","params":[]}'
echo
echo "lbctl demo: done"
