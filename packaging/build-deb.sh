#!/bin/bash
# build-deb.sh - build the senderauth .deb with dpkg-buildpackage -us -uc -b.
#   packaging/build-deb.sh [OUTDIR]      (default OUTDIR: ./dist)
# Copies the committed source (HEAD; SA_DEB_TREE=worktree: the tracked files as they
# are) and packaging/debian (as debian/) to a temporary build tree, installs missing build dependencies with apt-get (when run as root),
# builds, and leaves senderauth_*.deb (and the .buildinfo/.changes) in OUTDIR.
# The temporary tree is removed afterwards unless SA_KEEP is set.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$src/dist}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d /tmp/senderauth-deb.XXXXXX)
cleanup() { [ -n "${SA_KEEP:-}" ] && echo "build tree kept in $work" || rm -rf "$work"; }
trap cleanup EXIT

tree=$work/senderauth-$(sed -n '1s/.*(\([^)-]*\).*/\1/p' "$src/packaging/debian/changelog")
mkdir -p "$tree"
# The source: the committed tree (HEAD), so that edits in progress in the work tree do
# not end up in a package; SA_DEB_TREE=worktree takes the tracked files as they are now.
if [ "${SA_DEB_TREE:-head}" = worktree ]; then
    (cd "$src" && git ls-files -z -- . ':!:dist' |
        while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
        xargs -0 cp --parents -t "$tree")
else
    (cd "$src" && git archive --format=tar HEAD) | tar -x -C "$tree"
fi
# packaging/debian always comes from the work tree (to try a change before committing).
rm -rf "$tree/debian"
cp -r "$src/packaging/debian" "$tree/debian"

cd "$tree"
if ! dpkg-checkbuilddeps >/dev/null 2>&1; then
    missing=$(dpkg-checkbuilddeps 2>&1 | sed -n 's/.*Unmet build dependencies: //p' |
        sed -e 's/([^)]*)//g' -e 's/|[^ ]*//g')
    if [ "$(id -u)" -ne 0 ]; then
        echo "build-deb: missing build dependencies (run as root to install): $missing" >&2
        exit 1
    fi
    echo "build-deb: installing build dependencies: $missing"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
fi
dpkg-buildpackage -us -uc -b
cp "$work"/senderauth_*.deb "$work"/senderauth_*.changes "$work"/senderauth_*.buildinfo "$out"/ \
    2>/dev/null || true
ls "$out"/senderauth_*.deb
