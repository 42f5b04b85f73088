#!/bin/bash
# test_ops_rpmspec.sh - packaging/rpm/senderauth.spec parses with rpmspec -P, its
# Version is the project version (CMakeLists.txt) and the Debian changelog's, and every
# repository file it installs exists. Skips (naming rpmspec) when rpm is not installed.
set -u
SA_SRC=${SA_SRC:-.}
spec=$SA_SRC/packaging/rpm/senderauth.spec
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; [ -n "${2:-}" ] && printf '%s\n' "$2" | head -20 | sed 's/^/  /'; fail=$((fail + 1)); }
command -v rpmspec >/dev/null || { echo "skip: no rpmspec (apt-get install rpm)"; exit 0; }

out=$(rpmspec -P "$spec" 2>&1)
rc=$?
errs=$(printf '%s\n' "$out" | grep -i '^error' || true)
[ $rc -eq 0 ] && [ -z "$errs" ] && ok "rpmspec -P parses the spec" || bad "rpmspec -P: exit $rc" "$errs"
v=$(rpmspec -q --qf '%{VERSION}\n' "$spec" 2>/dev/null | head -1)
want=$(sed -n 's/^project(senderauth VERSION \([0-9.]*\).*/\1/p' "$SA_SRC/CMakeLists.txt")
deb=$(sed -n '1s/.*(\([^)-]*\).*/\1/p' "$SA_SRC/packaging/debian/changelog")
[ "$v" = "$want" ] && [ "$deb" = "$want" ] && ok "version $v = CMakeLists.txt $want = debian/changelog $deb" ||
    bad "versions: spec '$v', CMakeLists.txt '$want', debian/changelog '$deb'"
missing=""
for f in $(printf '%s\n' "$out" | grep -oE '(conf|docs|packaging)/[A-Za-z0-9_./-]+' | sort -u) LICENSE README.md; do
    [ -e "$SA_SRC/$f" ] || missing="$missing $f"
done
[ -z "$missing" ] && ok "every repository file the spec installs exists" || bad "missing:$missing"
echo "rpmspec: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
