#!/usr/bin/env bash
# Installs every build, test, benchmark and packaging dependency of lbkit on
# Debian 12 with apt-get, and the npm packages only npm has (into the
# repository's .deps/npm, which the tests read).  Idempotent: installs only
# what is missing.
#   install-deps.sh           install what is missing (needs root)
#   install-deps.sh --check   exit 0 if nothing is missing, 1 otherwise
#   install-deps.sh --list    print the package list
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake pkg-config git
  libevent-dev libssl-dev libcurl4-openssl-dev libinih-dev zlib1g-dev
  libc-ares-dev
  nlohmann-json3-dev libcli11-dev
  # tests and benchmarks
  libgtest-dev googletest libbenchmark-dev
  python3 curl openssl jq procps wrk hyperfine
  # the status page in a real browser; promtool checks Prometheus output
  chromium prometheus
  clang libclang-rt-14-dev
  # the real peers the integration tests start; nginx 1.30 is built from
  # ../shared/vendor with pcre2; dnsmasq answers `resolve` tests
  nginx-dev nginx-light haproxy libpcre2-dev dnsmasq-base
  # manuals and packages
  mandoc groff-base man-db debhelper dpkg-dev fakeroot lintian rpm
  # node, for the npm packages below (npm itself: see missing())
  nodejs
)

# npm packages (name@version), installed under $NPM_PREFIX:
#   Anvil (Foundry), a real local Ethereum JSON-RPC node for the lbctl tests.
NPM_PACKAGES=(@foundry-rs/anvil-linux-amd64@1.7.1)
REPO=$(cd "$(dirname "$0")/.." && pwd)
NPM_PREFIX=${LBK_NPM_PREFIX:-$REPO/.deps/npm}

npm_missing() {
  local p name version
  for p in "${NPM_PACKAGES[@]}"; do
    name=${p%@*}
    version=${p##*@}
    if ! grep -qs "\"version\": \"$version\"" "$NPM_PREFIX/node_modules/$name/package.json"; then
      printf '%s\n' "$p"
    fi
  done
}

missing() {
  local p
  for p in "${PACKAGES[@]}"; do
    if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
      printf '%s\n' "$p"
    fi
  done
}

case "${1:-}" in
  --list) printf '%s\n' "${PACKAGES[@]}" "${NPM_PACKAGES[@]}"; exit 0 ;;
  --check) [ -z "$(missing)" ] && [ -z "$(npm_missing)" ]; exit $? ;;
  "") ;;
  *) echo "usage: $0 [--check|--list]" >&2; exit 2 ;;
esac

install_npm() {
  local todo_npm
  mapfile -t todo_npm < <(npm_missing)
  [ ${#todo_npm[@]} -eq 0 ] && return 0
  echo "install-deps: npm installing ${todo_npm[*]} into $NPM_PREFIX" >&2
  mkdir -p "$NPM_PREFIX"
  npm install --prefix "$NPM_PREFIX" --no-audit --no-fund --no-save "${todo_npm[@]}" >&2
}

mapfile -t todo < <(missing)
if [ ${#todo[@]} -eq 0 ]; then
  install_npm
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "install-deps: missing packages: ${todo[*]}; run as root" >&2; exit 1
  fi
else
  SUDO=
fi
echo "install-deps: installing ${todo[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Debian's nginx and haproxy packages try to start their services on
# install; lbkit's tests start their own instances, so forbid that.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  made_policy=1
fi
cleanup() { [ "$made_policy" = 1 ] && $SUDO rm -f "$policy"; true; }
trap cleanup EXIT
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${todo[@]}" >/dev/null
install_npm
