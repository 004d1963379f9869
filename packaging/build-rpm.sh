#!/usr/bin/env bash
# Builds lbkit's RPM packages with rpmbuild from packaging/rpm/lbkit.spec.
#
#   packaging/build-rpm.sh [OUTDIR]      default OUTDIR: packaging/out/rpm
#
# Builds what this machine can build and says what it skipped and why:
#  - nginx-mod-http-upstream-lbkit needs the nginx module SDK of an RPM
#    distribution (nginx-mod-devel: nginx source + %nginx_* macros); when the
#    macros are absent (always on Debian) the spec is built --without nginx.
#  - when the RPM database does not know this system's packages (Debian:
#    build dependencies are installed with dpkg), BuildRequires cannot be
#    checked and rpmbuild runs with --nodeps; the build itself still needs
#    them (make deps installs their Debian equivalents).
# The .rpm files end up in OUTDIR/RPMS/<arch>; the last line printed is OUTDIR.
#
# Exit codes: 0 built; 1 rpmbuild failed; 2 usage error or rpmbuild missing.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
case "${1:-}" in -h|--help) sed -n '2,/^set /{/^#/p}' "$0"; exit 0 ;; esac
command -v rpmbuild >/dev/null || { echo "build-rpm: rpmbuild not found (make deps)" >&2; exit 2; }

out=${1:-$top/packaging/out/rpm}
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -rf "$out"/{BUILD,BUILDROOT,RPMS,SOURCES,SPECS,SRPMS}
mkdir -p "$out"/{BUILD,RPMS,SOURCES,SPECS,SRPMS}

spec=$here/rpm/lbkit.spec
version=$(rpmspec -q --srpm --qf '%{version}\n' "$spec" 2>/dev/null || sed -n 's/^Version:[[:space:]]*//p' "$spec")

# Source tarball lbkit-VERSION.tar.gz: the tree as `make` sees it (tracked
# and untracked files but not what .gitignore excludes; everything but build
# output when this is not a git checkout).
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/lbkit-$version"
"$here/copy-source.sh" "$top" "$stage/lbkit-$version"
tar -czf "$out/SOURCES/lbkit-$version.tar.gz" -C "$stage" "lbkit-$version"
cp "$spec" "$out/SPECS/"

args=()
if [ -z "$(rpm --eval '%{?nginx_modconfigure}')" ]; then
  args+=(--without nginx)
  echo "build-rpm: skipped nginx-mod-http-upstream-lbkit: the nginx module SDK" \
       "(nginx-mod-devel and its %nginx_* rpm macros) is not installed here;" \
       "on Debian the module is packaged by make deb" >&2
fi
if ! rpm -q rpm >/dev/null 2>&1; then
  args+=(--nodeps)
  echo "build-rpm: the RPM database does not know this system's packages;" \
       "BuildRequires not checked (--nodeps)" >&2
fi

jobs=$(nproc 2>/dev/null || echo 2)
if ! rpmbuild -bb "${args[@]}" --define "_topdir $out" --define "_smp_mflags -j$jobs" \
     "$out/SPECS/lbkit.spec" > "$out/build.log" 2>&1; then
  tail -n 60 "$out/build.log" >&2
  echo "build-rpm: rpmbuild failed; full log: $out/build.log" >&2
  exit 1
fi
find "$out/RPMS" -name '*.rpm' | sort >&2
echo "$out"
