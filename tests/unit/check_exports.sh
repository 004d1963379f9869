#!/bin/sh
# Run by CTest (test library_exports_only_lbk): the shared library exports
# only lbk_* symbols.  Usage: check_exports.sh path/to/liblbkit.so
set -eu
lib=$1
[ -f "$lib" ] || { echo "check_exports: no library at $lib" >&2; exit 2; }
exported=$(nm -D --defined-only "$lib" | awk 'NF >= 3 { print $3 }' | sed 's/@.*//')
[ -n "$exported" ] || { echo "check_exports: $lib exports nothing" >&2; exit 1; }
bad=$(printf '%s\n' "$exported" | grep -v '^lbk_' | grep -v '^LBKIT_1$' || true)
if [ -n "$bad" ]; then
  echo "check_exports: $lib exports symbols without the lbk_ prefix:" >&2
  printf '%s\n' "$bad" >&2
  exit 1
fi
count=$(printf '%s\n' "$exported" | grep -c '^lbk_')
echo "check_exports: $count symbols, all lbk_*"
