#!/usr/bin/env bash
# Installs lbkit's Debian packages, uses them as a user would, then purges
# them and checks that the system is as it was.
#
#   packaging/test-packages.sh [DEBDIR]
#
# DEBDIR holds the four .deb files (default: build them with build-deb.sh).
# Steps, each printed as "test-packages: ok: ..." when it passes:
#  1. dpkg -i liblbkit1, liblbkit-dev, lbctl, libnginx-mod-http-upstream-lbkit;
#  2. the module's load snippet is enabled through /etc/nginx/modules-enabled;
#  3. nginx -t, then a private nginx (own config, pid, logs and temp paths,
#     ports picked at run time, 127.0.0.1 only) that loads the module only
#     through modules-enabled, proxies one request through an
#     `lbkit round_robin` upstream and reports it on its `lbkit_status` page;
#  4. /usr/bin/lbctl --version, version (libcurl, libevent) and check-config
#     (inih), the libraries it loads on first use;
#  5. a C program built with `pkg-config --cflags --libs lbkit` links the
#     installed liblbkit.so.1 and runs; the same through find_package(lbkit)
#     in a small CMake project;
#  6. the manuals and the bash completion are installed;
#  7. dpkg --purge, then: no package left, no file left, modules-enabled as
#     before.
# Needs root (dpkg); refuses to run when any of the packages is installed
# already, so that the purge cannot remove something the user had.
#
# Exit codes: 0 every step passed; 1 a step failed; 2 usage error, not root,
# or the packages are already installed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
PACKAGES=(liblbkit1 liblbkit-dev lbctl libnginx-mod-http-upstream-lbkit)
ENABLED_DIR=/etc/nginx/modules-enabled
MODULE_LINK=$ENABLED_DIR/50-mod-http-upstream-lbkit.conf
MODULE_CONF=/usr/share/nginx/modules-available/mod-http-upstream-lbkit.conf
MODULE_SO=/usr/lib/nginx/modules/ngx_http_upstream_lbkit_module.so
STOP_WAIT_TENTHS=100   # nginx gets 10 s to stop after SIGQUIT

case "${1:-}" in -h|--help) sed -n '2,/^set /{/^#/p}' "$0"; exit 0 ;; esac
say() { echo "test-packages: $*" >&2; }
fail() { say "FAIL: $*"; exit 1; }
ok() { say "ok: $*"; }

[ "$(id -u)" -eq 0 ] || { say "must run as root (dpkg -i / --purge)"; exit 2; }
installed() {
  local status
  status=$(dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null) || return 1
  [ "$status" != "unknown ok not-installed" ]
}
for p in "${PACKAGES[@]}"; do
  if installed "$p"; then
    say "$p is already installed (or not purged); purge it first so that this test" \
        "leaves the system as it found it"
    exit 2
  fi
done

started=$(date +%s)
if [ $# -ge 1 ]; then
  debdir=$(cd "$1" && pwd)
else
  debdir=$("$here/build-deb.sh" | tail -n 1)
fi
debs=()
for p in "${PACKAGES[@]}"; do
  f=
  for candidate in "$debdir/${p}_"*.deb; do [ -e "$candidate" ] && f=$candidate; done
  [ -n "$f" ] || fail "no ${p}_*.deb in $debdir"
  debs+=("$f")
done

tmp=$(mktemp -d)
chmod 755 "$tmp"   # nginx workers (user nobody) use temp paths below it
nginx_pid=
made_policy=0
before_enabled=$tmp/enabled.before
ls -l --time-style=+ "$ENABLED_DIR" > "$before_enabled" 2>&1 || true

stop_nginx() {
  [ -n "$nginx_pid" ] || return 0
  if kill -0 "$nginx_pid" 2>/dev/null; then
    kill -QUIT "$nginx_pid" 2>/dev/null || true
    local i
    for ((i = 0; i < STOP_WAIT_TENTHS; i++)); do
      kill -0 "$nginx_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$nginx_pid" 2>/dev/null && kill -KILL "$nginx_pid" 2>/dev/null
  fi
  nginx_pid=
}

purge_packages() {
  local present=() p
  for p in "${PACKAGES[@]}"; do installed "$p" && present+=("$p"); done
  [ ${#present[@]} -eq 0 ] || dpkg --purge "${present[@]}" > "$tmp/purge.log" 2>&1
}

cleanup() {
  local rc=$?
  stop_nginx
  purge_packages || { cat "$tmp/purge.log" >&2; rc=1; }
  [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  rm -rf "$tmp"
  exit $rc
}
trap cleanup EXIT

# Installing the module triggers nginx-reload; never touch a system nginx.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  made_policy=1
fi

# 1. install
dpkg -i "${debs[@]}" > "$tmp/install.log" 2>&1 || { cat "$tmp/install.log" >&2; fail "dpkg -i"; }
ok "installed ${PACKAGES[*]}"

# 2. the module is enabled the Debian way
[ -L "$MODULE_LINK" ] || fail "$MODULE_LINK is not a symlink"
[ "$(readlink "$MODULE_LINK")" = "$MODULE_CONF" ] || fail "$MODULE_LINK does not point to $MODULE_CONF"
grep -qx 'load_module modules/ngx_http_upstream_lbkit_module.so;' "$MODULE_CONF" \
  || fail "$MODULE_CONF does not load the module"
[ -f "$MODULE_SO" ] || fail "$MODULE_SO missing"
ok "module enabled: $MODULE_LINK -> $MODULE_CONF"

# 3. nginx with the module from modules-enabled proxies a request.  The
# prefix stays nginx's own (/usr/share/nginx), against which the snippets'
# "modules/..." paths resolve; every other path is in $tmp.
ports=$(python3 -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))')
read -r backend_port front_port <<<"$ports"
mkdir -p "$tmp/nginx/logs"
cat > "$tmp/nginx/nginx.conf" <<EOF
include $ENABLED_DIR/*.conf;
worker_processes 1;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log notice;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    upstream lbkit_package_test {
        lbkit round_robin;
        server 127.0.0.1:$backend_port;
    }
    server {
        listen 127.0.0.1:$backend_port;
        location / { return 200 "lbkit package test backend\n"; }
    }
    server {
        listen 127.0.0.1:$front_port;
        location / { proxy_pass http://lbkit_package_test; }
        location = /lbkit-status { lbkit_status json; }
    }
}
EOF
nginx -t -q -c "$tmp/nginx/nginx.conf" 2> "$tmp/nginx-t.log" \
  || { cat "$tmp/nginx-t.log" >&2; fail "nginx -t with the module from $ENABLED_DIR"; }
ok "nginx -t accepts 'lbkit round_robin' with the module loaded from $ENABLED_DIR"
nginx -c "$tmp/nginx/nginx.conf" || fail "nginx did not start"
for ((i = 0; i < 50; i++)); do
  [ -s "$tmp/nginx/nginx.pid" ] && break
  sleep 0.1
done
nginx_pid=$(cat "$tmp/nginx/nginx.pid" 2>/dev/null) || fail "nginx wrote no pid file"
body=$(curl -sS --max-time 10 "http://127.0.0.1:$front_port/") || {
  cat "$tmp/nginx/logs/error.log" >&2; fail "request through the lbkit upstream"; }
[ "$body" = "lbkit package test backend" ] || fail "unexpected reply through the lbkit upstream: $body"
requests=$(curl -sS --max-time 10 "http://127.0.0.1:$front_port/lbkit-status" | python3 -c '
import json, sys
status = json.load(sys.stdin)
print(sum(s["requests"] for u in status["upstreams"] if u["name"] == "lbkit_package_test"
          for s in u["servers"]))') || fail "lbkit_status did not answer JSON"
[ "$requests" = 1 ] || fail "lbkit_status counts $requests requests, expected 1"
stop_nginx
ok "proxied one request through the lbkit upstream; lbkit_status counted it"

# 4. lbctl from /usr/bin
expected_version=$(dpkg-query -W -f='${Version}' lbctl)
out=$(/usr/bin/lbctl --version) || fail "/usr/bin/lbctl --version exited $?"
[ "$out" = "lbctl $expected_version" ] || fail "/usr/bin/lbctl --version printed '$out', expected 'lbctl $expected_version'"
ok "/usr/bin/lbctl --version: $out"
# The libraries lbctl loads on first use (dlopen; the package depends on
# them explicitly): libcurl and libevent for `version`, inih for a config.
out=$(/usr/bin/lbctl version) || fail "/usr/bin/lbctl version exited $?"
for lib in libcurl libevent; do
  grep -Eq "^$lib [0-9]" <<< "$out" || fail "/usr/bin/lbctl version did not load $lib: $out"
done
printf '[pool api]\nserver = http://127.0.0.1:8545/\n' > "$tmp/lbctl.ini"
/usr/bin/lbctl check-config -c "$tmp/lbctl.ini" >/dev/null || fail "/usr/bin/lbctl check-config exited $?"
ok "/usr/bin/lbctl loads libcurl, libevent and inih when needed"

# 5. building against the installed library
mkdir -p "$tmp/c"
cat > "$tmp/c/use_lbkit.c" <<'EOF'
/* Uses the installed liblbkit: a two-peer pool, weights 3 and 1. */
#include <lbkit.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    lbk_pool_options opts = LBK_POOL_OPTIONS_INIT;
    lbk_peer_config peer = LBK_PEER_CONFIG_INIT;
    lbk_outcome outcome = LBK_OUTCOME_INIT;
    lbk_pool *pool = NULL;
    uint32_t a, b, id;
    int picks_of_a = 0, i;

    if (strcmp(lbk_version(), LBK_VERSION_STRING) != 0) {
        fprintf(stderr, "header %s, library %s\n", LBK_VERSION_STRING, lbk_version());
        return 1;
    }
    if (lbk_pool_create(&pool, &opts) != 0)
        return 1;
    peer.name = "a";
    peer.weight = 3;
    if (lbk_pool_add(&a, pool, &peer) != 0)
        return 1;
    peer.name = "b";
    peer.weight = 1;
    if (lbk_pool_add(&b, pool, &peer) != 0)
        return 1;
    for (i = 0; i < 8; i++) {
        if (lbk_pool_pick(&id, pool, NULL, 0, NULL, 0) != 0)
            return 1;
        picks_of_a += id == a;
        lbk_pool_release(pool, id, &outcome);
    }
    lbk_pool_free(pool);
    printf("liblbkit %s: a picked %d of 8\n", lbk_version(), picks_of_a);
    return picks_of_a == 6 ? 0 : 1;
}
EOF
# shellcheck disable=SC2046  # pkg-config's output is meant to be split
cc -std=c99 -Wall -Werror -o "$tmp/c/use_lbkit" "$tmp/c/use_lbkit.c" $(pkg-config --cflags --libs lbkit) \
  || fail "cc with pkg-config --cflags --libs lbkit"
# ldd's output is kept whole before it is matched: with pipefail, `ldd | grep -q`
# fails at random when grep exits on the first match and ldd gets SIGPIPE.
linked=$(ldd "$tmp/c/use_lbkit") || fail "ldd $tmp/c/use_lbkit exited $?"
grep -Eq '=> (/usr)?/lib/[^ ]*/liblbkit\.so\.1 ' <<< "$linked" \
  || { printf '%s\n' "$linked" >&2; fail "the program does not use the installed liblbkit.so.1"; }
out=$("$tmp/c/use_lbkit") || fail "the pkg-config program failed: $out"
ok "pkg-config build links the installed liblbkit.so.1 and runs: $out"

mkdir -p "$tmp/cmake"
cat > "$tmp/cmake/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.18)
project(use_lbkit C)
find_package(lbkit 1.0 REQUIRED)
add_executable(use_lbkit $tmp/c/use_lbkit.c)
target_link_libraries(use_lbkit PRIVATE lbkit::lbkit)
EOF
if ! { cmake -S "$tmp/cmake" -B "$tmp/cmake/build" && cmake --build "$tmp/cmake/build"; } \
     > "$tmp/cmake.log" 2>&1; then
  cat "$tmp/cmake.log" >&2
  fail "find_package(lbkit) project"
fi
out=$("$tmp/cmake/build/use_lbkit") || fail "the CMake-built program failed: $out"
ok "find_package(lbkit) build runs: $out"

# 6. manuals and completion
for page in lbctl.1 lbctl.ini.5 liblbkit.3 ngx_http_upstream_lbkit_module.8; do
  section=${page##*.}
  ls /usr/share/man/man"$section"/"$page"* >/dev/null 2>&1 || fail "manual $page not installed"
done
[ -f /usr/share/bash-completion/completions/lbctl ] || fail "bash completion not installed"
ok "manuals and bash completion installed"

# 7. purge and compare
files=$(dpkg-query -L "${PACKAGES[@]}" 2>/dev/null | while read -r f; do
  [ -f "$f" ] || [ -L "$f" ] && echo "$f"; done)
purge_packages || { cat "$tmp/purge.log" >&2; fail "dpkg --purge"; }
for p in "${PACKAGES[@]}"; do installed "$p" && fail "$p still installed after purge"; done
for f in $files; do
  [ -e "$f" ] || [ -L "$f" ] && fail "$f left behind after purge"
done
ls -l --time-style=+ "$ENABLED_DIR" > "$tmp/enabled.after" 2>&1 || true
diff -u "$before_enabled" "$tmp/enabled.after" >&2 || fail "$ENABLED_DIR differs after purge"
ok "purged; no file left; $ENABLED_DIR as before"
say "passed in $(( $(date +%s) - started )) s"
