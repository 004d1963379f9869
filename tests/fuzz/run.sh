#!/bin/sh
# tests/fuzz/run.sh [BUILD_DIR] - build every libFuzzer target with clang and
# run each for FUZZ_SECONDS (default 30) seconds (FUZZ_TARGETS="a b": only
# those), then list the executions per target.  Exits 1 if any target
# crashes, leaks or times out on an input (the input is kept in
# BUILD_DIR/fuzz-artifacts/<target>/), 2 if the build fails.
#
# The library itself is compiled with -fsanitize=fuzzer-no-link (coverage
# feedback) plus ASan and UBSan; the targets link libFuzzer's main.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${1:-build-fuzz}
seconds=${FUZZ_SECONDS:-30}
jobs=${JOBS:-2}

case $seconds in
  ''|*[!0-9]*) echo "run.sh: FUZZ_SECONDS must be a whole number of seconds, not '$seconds'" >&2; exit 2 ;;
esac
if ! command -v clang++ >/dev/null 2>&1; then
  echo "run.sh: clang++ not found (make deps installs clang and libclang-rt-14-dev)" >&2
  exit 2
fi
if [ -f "$build/CMakeCache.txt" ] && ! grep -q '^CMAKE_CXX_COMPILER:.*clang++' "$build/CMakeCache.txt"; then
  echo "run.sh: $build was configured with another compiler; remove it or pass another directory" >&2
  exit 2
fi

flags="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer"
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
  -DLBK_BUILD_FUZZ=ON -DLBK_BUILD_BENCH=OFF >/dev/null || exit 2

targets=${FUZZ_TARGETS:-}
if [ -z "$targets" ]; then
  for f in "$here"/fuzz_*.cc; do
    targets="$targets $(basename "$f" .cc)"
  done
fi
# shellcheck disable=SC2086
cmake --build "$build" -j"$jobs" --target $targets || exit 2

failed=""
for t in $targets; do
  corpus="$build/fuzz-corpus/$t"
  artifacts="$build/fuzz-artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  # Seeds: committed examples first; what the runs find accumulates in $corpus.
  if [ -d "$here/corpus/$t" ]; then cp "$here/corpus/$t"/* "$corpus"/ 2>/dev/null || true; fi
  # Parsers of nested input get inputs long enough to nest past their depth
  # limits many times over (a limit missed would overflow the stack).
  case $t in
    fuzz_annotate|fuzz_import|fuzz_jsonrpc|fuzz_state_file) max_len=262144 ;;
    *) max_len=8192 ;;
  esac
  echo "== $t: ${seconds}s, -max_len=$max_len"
  if "$build/tests/fuzz/$t" "$corpus" -max_total_time="$seconds" -timeout=10 \
       -rss_limit_mb=2048 -max_len="$max_len" -print_final_stats=1 \
       -artifact_prefix="$artifacts/" >"$build/fuzz-$t.log" 2>&1; then
    grep -E '^stat::number_of_executed_units|^stat::new_units_added' "$build/fuzz-$t.log" || true
    echo "== $t: ok"
  else
    tail -n 40 "$build/fuzz-$t.log"
    echo "== $t: FAILED (inputs in $artifacts, log $build/fuzz-$t.log)"
    failed="$failed $t"
  fi
done

echo "fuzz: executions per target (${seconds}s each):"
for t in $targets; do
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/fuzz-$t.log" 2>/dev/null | tail -n 1)
  printf '  %-24s %s\n' "$t" "${runs:-none (see $build/fuzz-$t.log)}"
done

if [ -n "$failed" ]; then
  echo "fuzz: failures in:$failed" >&2
  exit 1
fi
echo "fuzz: every target ran ${seconds}s without a crash"
