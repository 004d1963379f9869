#!/usr/bin/env bash
# Builds ngx_http_upstream_lbkit_module.so against an nginx source tree:
# by default the system's nginx (Debian 12: nginx 1.22.1, headers and
# configure from nginx-dev in /usr/share/nginx/src), or any nginx source tree
# given in NGINX_SRC (a release tarball or a repository export, which has
# auto/configure instead of ./configure).
#
#   nginx-module/build.sh [BUILD_DIR]      (default: build)
#
# Output: OUT/ngx_http_upstream_lbkit_module.so, linked with
# BUILD_DIR/lib/liblbkit_pic.a (built here if missing).  OUT is
# BUILD_DIR/nginx-module for the default tree, BUILD_DIR/nginx-module-VERSION
# for another one (NGINX_MODULE_OUT overrides).
# With Debian's tree, configure runs with Debian's own flags (conf_flags);
# with another tree, with --with-compat and NGINX_CONFIGURE_ARGS.  A module
# built --with-compat loads into any nginx of the same version that was built
# --with-compat (nginx.org's packages are).  configure is re-run only when the
# flags, the nginx tree or nginx-module/config change.
#
# Environment: NGINX_SRC (default /usr/share/nginx/src), NGINX_MODULE_OUT,
# NGINX_CONFIGURE_ARGS (another tree only; default: the modules nginx.org's
# packages are built with that matter to an upstream module).
# Exit codes: 0 built; 1 build failed; 2 nginx source tree missing.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
source_dir=$(cd "$here/.." && pwd)
# The module's sources (LBKIT_MODULE_DIR overrides, for trying a copy).
module_dir=${LBKIT_MODULE_DIR:-$here}
build=${1:-build}
mkdir -p "$build"
build=$(cd "$build" && pwd)
debian_src=/usr/share/nginx/src
nginx_src=${NGINX_SRC:-$debian_src}
module=ngx_http_upstream_lbkit_module

if [ -x "$nginx_src/configure" ]; then
  configure=./configure
elif [ -f "$nginx_src/auto/configure" ]; then
  configure="sh auto/configure"
elif [ "$nginx_src" = "$debian_src" ]; then
  echo "nginx-module: $nginx_src/configure not found: install nginx-dev (make deps)" >&2
  exit 2
else
  echo "nginx-module: NGINX_SRC=$nginx_src is not an nginx source tree" \
       "(neither configure nor auto/configure)" >&2
  exit 2
fi
nginx_src=$(cd "$nginx_src" && pwd)
version=$(sed -n 's/^#define NGINX_VERSION *"\(.*\)"/\1/p' "$nginx_src/src/core/nginx.h")
if [ -z "$version" ]; then
  echo "nginx-module: no NGINX_VERSION in $nginx_src/src/core/nginx.h" >&2
  exit 2
fi
if [ -f "$nginx_src/conf_flags" ]; then
  default_out=$build/nginx-module
else
  default_out=$build/nginx-module-$version
fi
out_dir=${NGINX_MODULE_OUT:-$default_out}
mkdir -p "$out_dir"
out_dir=$(cd "$out_dir" && pwd)
work=$out_dir/nginx-tree

# liblbkit's static PIC archive, from the CMake build of this tree.
archive=$build/lib/liblbkit_pic.a
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$source_dir" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" --target lbkit_static -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
[ -f "$archive" ] || { echo "nginx-module: $archive was not built" >&2; exit 1; }

# Debian's configure arguments (NGX_CONF_FLAGS=( ... )), and the compiler
# flags /usr/sbin/nginx was built with; for another tree, --with-compat and
# the modules an upstream module may meet.
if [ -f "$nginx_src/conf_flags" ]; then
  # shellcheck disable=SC1091
  . "$nginx_src/conf_flags"
else
  # shellcheck disable=SC2206
  NGX_CONF_FLAGS=(--with-compat ${NGINX_CONFIGURE_ARGS:---with-threads --with-http_ssl_module --with-http_stub_status_module --with-http_realip_module --with-http_v2_module})
fi
cc_opt='-g -O2 -fstack-protector-strong -Wformat -Werror=format-security -fPIC -Wdate-time -D_FORTIFY_SOURCE=2'
ld_opt='-Wl,-z,relro -Wl,-z,now -fPIC'

# Everything that decides the configure result; configure again only when
# it changes (or the tree is missing).
stamp_text=$(
  printf '%s\n' "${NGX_CONF_FLAGS[@]}" "$cc_opt" "$ld_opt" "$module_dir" "$archive"
  cat "$module_dir/config"
  ls -l --time-style=+%s "$nginx_src/src/core/nginx.h"
  ls -l --time-style=+%s "$nginx_src/configure" "$nginx_src/conf_flags" 2>/dev/null || true
)
stamp=$(printf '%s' "$stamp_text" | sha256sum | cut -d' ' -f1)

if [ ! -f "$work/objs/Makefile" ] || [ "$(cat "$work/.lbkit-stamp" 2>/dev/null)" != "$stamp" ]; then
  rm -rf "$work"
  mkdir -p "$work"
  cp -a "$nginx_src/." "$work/"
  # configure reads the module's `config` with LBKIT_BUILD_DIR and
  # LBKIT_SOURCE_DIR in its environment.
  if ! (cd "$work" && LBKIT_BUILD_DIR=$build LBKIT_SOURCE_DIR=$source_dir $configure "${NGX_CONF_FLAGS[@]}" \
          --with-cc-opt="$cc_opt" --with-ld-opt="$ld_opt" \
          --add-dynamic-module="$module_dir" >"$out_dir/configure.log" 2>&1); then
    echo "nginx-module: nginx configure failed; see $out_dir/configure.log" >&2
    tail -n 20 "$out_dir/configure.log" >&2
    exit 1
  fi
  echo "$stamp" >"$work/.lbkit-stamp"
fi

# objs/Makefile knows the module's sources and headers but not the archive:
# relink every time (cheap), recompile only what changed.
rm -f "$work/objs/$module.so"
if ! make -C "$work" -f objs/Makefile modules >"$out_dir/make.log" 2>&1; then
  echo "nginx-module: build failed; see $out_dir/make.log" >&2
  grep -E 'error|warning' "$out_dir/make.log" | head -n 40 >&2 || tail -n 40 "$out_dir/make.log" >&2
  exit 1
fi
cp "$work/objs/$module.so" "$out_dir/$module.so.tmp"
mv -f "$out_dir/$module.so.tmp" "$out_dir/$module.so"
echo "nginx-module: built $out_dir/$module.so"
