#!/usr/bin/env bash
# make bench: every micro-benchmark binary, then every end-to-end benchmark
# script (tests/bench/bench_*.sh BUILD_DIR).  Benchmarks report ratios against
# a peer measured in the same run; they are never pass/fail tests.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build}" && pwd)
status=0
for b in "$build"/tests/bench/*_bench; do
  [ -x "$b" ] || continue
  echo "== $(basename "$b")"
  "$b" || status=1
done
for s in "$here"/bench_*.sh; do
  [ -f "$s" ] || continue
  echo "== $(basename "$s")"
  bash "$s" "$build" || status=1
done
exit $status
