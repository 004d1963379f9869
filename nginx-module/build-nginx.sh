#!/usr/bin/env bash
# Builds nginx itself from a source tarball (default: nginx 1.30.4 from
# ../shared/vendor beside the repository), and the lbkit module against that
# tree, for testing the module on current nginx beside Debian's 1.22.
#
#   nginx-module/build-nginx.sh [BUILD_DIR [TARBALL]]
#
# Output, in BUILD_DIR/nginx-VERSION (VERSION = major.minor, e.g. nginx-1.30):
#   sbin/nginx                                 the nginx binary
#   modules/ngx_http_upstream_lbkit_module.so  the module, built by build.sh
#   src/                                       the unpacked source tree
# nginx is configured --with-compat and the modules below, and is rebuilt only
# when the tarball or the flags change; the module is relinked every time
# (build.sh recompiles only what changed).
#
# The tarball may be a release tarball or a repository export (auto/configure).
# Environment: LBK_VENDOR_DIR (where nginx-1.30.4.tar.gz is), JOBS.
# Exit codes: 0 built; 1 build failed; 2 tarball missing.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
source_dir=$(cd "$here/.." && pwd)
build=${1:-build}
# shared/vendor sits beside the repository (a git worktree one level deeper
# finds it beside its main checkout); LBK_VENDOR_DIR overrides.
vendor=${LBK_VENDOR_DIR:-$source_dir/../shared/vendor}
if [ -z "${LBK_VENDOR_DIR:-}" ] && [ ! -d "$vendor" ] && [ -d "$source_dir/../../shared/vendor" ]; then
  vendor=$source_dir/../../shared/vendor
fi
tarball=${2:-$vendor/nginx-1.30.4.tar.gz}
if [ ! -f "$tarball" ]; then
  echo "build-nginx: $tarball not found (the vendored nginx source: shared/vendor" \
       "beside the repository)" >&2
  exit 2
fi
mkdir -p "$build"
build=$(cd "$build" && pwd)
tarball=$(cd "$(dirname "$tarball")" && pwd)/$(basename "$tarball")
version=$(basename "$tarball" | sed -n 's/^nginx-\([0-9][0-9]*\.[0-9][0-9]*\)\..*/\1/p')
if [ -z "$version" ]; then
  echo "build-nginx: cannot read a version from $(basename "$tarball") (nginx-X.Y.Z.tar.gz)" >&2
  exit 2
fi
dest=$build/nginx-$version
# The modules an upstream module meets in tests; the module is configured
# with the same list (NGINX_CONFIGURE_ARGS), so their signatures match.
conf_args="--with-threads --with-http_ssl_module --with-http_stub_status_module
--with-http_realip_module --with-http_v2_module --with-http_auth_request_module"
cc_opt='-g -O2 -fstack-protector-strong -Wformat -Werror=format-security -fPIC'

stamp=$(printf '%s\n' "$conf_args" "$cc_opt" "$(ls -l --time-style=+%s "$tarball")" | sha256sum | cut -d' ' -f1)
if [ ! -x "$dest/sbin/nginx" ] || [ "$(cat "$dest/.lbkit-stamp" 2>/dev/null)" != "$stamp" ]; then
  echo "build-nginx: building nginx from $tarball into $dest" >&2
  rm -rf "$dest"
  mkdir -p "$dest/src" "$dest/sbin" "$dest/logs"
  tar -xzf "$tarball" -C "$dest/src" --strip-components=1
  if [ -x "$dest/src/configure" ]; then configure=./configure; else configure="sh auto/configure"; fi
  # shellcheck disable=SC2086
  if ! (cd "$dest/src" && $configure --prefix="$dest" --with-compat $conf_args \
          --with-cc-opt="$cc_opt" >"$dest/configure.log" 2>&1); then
    echo "build-nginx: configure failed; see $dest/configure.log" >&2
    tail -n 20 "$dest/configure.log" >&2
    exit 1
  fi
  if ! make -C "$dest/src" -f objs/Makefile -j"${JOBS:-$(nproc 2>/dev/null || echo 2)}" \
         >"$dest/make.log" 2>&1; then
    echo "build-nginx: build failed; see $dest/make.log" >&2
    grep -E 'error' "$dest/make.log" | head -n 40 >&2 || tail -n 40 "$dest/make.log" >&2
    exit 1
  fi
  cp "$dest/src/objs/nginx" "$dest/sbin/nginx"
  echo "$stamp" >"$dest/.lbkit-stamp"
fi

NGINX_SRC=$dest/src NGINX_MODULE_OUT=$dest/modules \
  NGINX_CONFIGURE_ARGS="$(echo $conf_args)" "$here/build.sh" "$build"
