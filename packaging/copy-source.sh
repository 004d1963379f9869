#!/usr/bin/env bash
# copy-source.sh TOP DEST - copies the source tree at TOP into DEST as `make`
# sees it: tracked and untracked files but not what .gitignore excludes (in a
# git checkout), otherwise everything but build directories, package output
# and the npm packages of make deps (.deps).
# Used by build-deb.sh and build-rpm.sh.
set -euo pipefail
top=$1 dest=$2
mkdir -p "$dest"
if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  (cd "$top" && git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
     [ -e "$f" ] && printf '%s\0' "$f"; done | tar --null -T - -cf -) | tar -xf - -C "$dest"
else
  (cd "$top" && tar --exclude='./build*' --exclude='./packaging/out' --exclude='./.deps' -cf - .) | tar -xf - -C "$dest"
fi
