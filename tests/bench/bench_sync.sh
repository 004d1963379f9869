#!/usr/bin/env bash
# lbctl sync of 1,000 DNS-discovered servers into HAProxy's runtime API,
# against a naive full rewrite of the same backend state in the same run
# (tests/bench/bench_sync.py says how).  Usage: bench_sync.sh BUILD_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# HAProxy logs each of the thousands of runtime-API changes on stderr: dropped.
python3 "$here/bench_sync.py" "${1:-build}" 2> >(grep -v '^\[\(NOTICE\|WARNING\)\]' >&2)
