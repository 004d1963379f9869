#!/usr/bin/env bash
# Builds lbkit's Debian binary packages (unsigned) and checks them with lintian.
#
#   packaging/build-deb.sh [OUTDIR]      default OUTDIR: packaging/out/deb
#
# The source tree as `make` sees it (in a git checkout: tracked and untracked
# files, without what .gitignore excludes such as build directories) is
# copied to OUTDIR/src/lbkit-VERSION with packaging/debian as its debian/,
# then built with `dpkg-buildpackage -us -uc -b`.  The .deb files end up in
# OUTDIR; the last line printed is OUTDIR.
#
# Exit codes: 0 packages built and lintian found no error; 1 the build or
# lintian failed; 2 usage error or a missing tool.
#
# lintian (with --info) reports no error and no warning.  Kept, with reason:
#   I: spare-manual-page ngx_http_upstream_lbkit_module.8  the page documents
#      an nginx module, which has no command of its own; man(1) is where
#      Debian users look for it, as for nginx(8).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
out=${1:-$top/packaging/out/deb}

case "${1:-}" in -h|--help) sed -n '2,/^set /{/^#/p}' "$0"; exit 0 ;; esac
for tool in dpkg-buildpackage dh lintian dpkg-parsechangelog; do
  command -v "$tool" >/dev/null || { echo "build-deb: $tool not found (make deps)" >&2; exit 2; }
done

version=$(dpkg-parsechangelog -l "$here/debian/changelog" -S Version)
mkdir -p "$out"
out=$(cd "$out" && pwd)
src=$out/src/lbkit-$version
rm -rf "$out/src" "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo
mkdir -p "$src"

# Copy the sources: never build directories or earlier package output.
"$here/copy-source.sh" "$top" "$src"
rm -rf "$src/debian"
cp -a "$here/debian" "$src/debian"

echo "build-deb: building in $src" >&2
jobs=$(nproc 2>/dev/null || echo 2)
(cd "$src" && DEB_BUILD_OPTIONS="parallel=$jobs ${DEB_BUILD_OPTIONS:-}" \
   dpkg-buildpackage -us -uc -b) > "$out/build.log" 2>&1 || {
  tail -n 60 "$out/build.log" >&2
  echo "build-deb: dpkg-buildpackage failed; full log: $out/build.log" >&2
  exit 1
}
mv "$out"/src/*.deb "$out"/src/*.changes "$out"/src/*.buildinfo "$out"/

echo "build-deb: lintian" >&2
changes=$(ls "$out"/*.changes)
if ! lintian --fail-on error --info "$changes" > "$out/lintian.log" 2>&1; then
  cat "$out/lintian.log" >&2
  echo "build-deb: lintian reported errors" >&2
  exit 1
fi
grep -E '^(W|E):' "$out/lintian.log" >&2 || echo "build-deb: lintian: no warnings" >&2
ls -1 "$out"/*.deb >&2
echo "$out"
