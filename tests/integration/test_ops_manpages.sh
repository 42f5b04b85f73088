#!/bin/bash
# test_ops_manpages.sh - the manual pages in docs/man:
#  - senderauth.conf.5 is exactly what `conf-gen man` writes from the key table (one
#    source of truth: after adding a key, regenerate it with
#    "$SA_BUILD/conf-gen man > docs/man/senderauth.conf.5");
#  - every page formats without a groff/man warning;
#  - every option in senderauthd's and senderauthctl's usage text is in its page;
#  - every option and command of senderauth-report's usage text is in its page.
set -u
SA_SRC=${SA_SRC:-.}
SA_BUILD=${SA_BUILD:-$SA_SRC/build}
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; [ -n "${2:-}" ] && printf '%s\n' "$2" | head -30 | sed 's/^/  /'; fail=$((fail + 1)); }

for tool in conf-gen senderauthd senderauthctl senderauth-report; do
    [ -x "$SA_BUILD/$tool" ] || { echo "FAIL no $SA_BUILD/$tool (build it first)"; exit 1; }
done
command -v man >/dev/null || { echo "skip: no man (apt-get install man-db)"; exit 0; }

d=$(diff -u "$SA_SRC/docs/man/senderauth.conf.5" <("$SA_BUILD/conf-gen" man) 2>&1)
if [ -z "$d" ]; then ok "senderauth.conf.5 matches conf-gen man"; else
    bad "senderauth.conf.5 differs from conf-gen man (regenerate it)" "$d"; fi

for page in "$SA_SRC"/docs/man/*.[58]; do
    w=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l -Tutf8 "$page" 2>&1 >/dev/null)
    if [ -z "$w" ]; then ok "$(basename "$page") formats without warnings"; else
        bad "$(basename "$page") warnings" "$w"; fi
done

# Options from the usage texts ("  -c FILE", "  --actor A") must appear in the page
# (roff writes a minus as \-).
check_opts() { # page, usage text
    local page=$1 usage=$2 missing=""
    for o in $(printf '%s\n' "$usage" | grep -oE '^ +-{1,2}[a-z][a-z-]*' | tr -d ' '); do
        grep -qF -- "$(printf '%s' "$o" | sed 's/-/\\-/g')" "$page" || missing="$missing $o"
    done
    if [ -z "$missing" ]; then ok "$(basename "$page") documents every option"; else
        bad "$(basename "$page") misses:$missing"; fi
}
check_opts "$SA_SRC/docs/man/senderauthd.8" "$("$SA_BUILD/senderauthd" 2>&1)"
check_opts "$SA_SRC/docs/man/senderauthctl.8" "$("$SA_BUILD/senderauthctl" -h 2>&1)"

# The commands of senderauthctl's usage must have an entry.
missing=""
for c in $("$SA_BUILD/senderauthctl" -h 2>&1 | sed -n '/^Commands:/,/^$/p' | awk 'NF && !/Commands:/ {print $1}'); do
    grep -q "^\.B.*$c" "$SA_SRC/docs/man/senderauthctl.8" || missing="$missing $c"
done
if [ -z "$missing" ]; then ok "senderauthctl.8 documents every command"; else
    bad "senderauthctl.8 misses commands:$missing"; fi

# senderauth-report's usage names its options inside the synopsis lines.
page="$SA_SRC/docs/man/senderauth-report.8"
missing=""
for o in $("$SA_BUILD/senderauth-report" 2>&1 | grep -oE '[[ ]-{1,2}[a-z][a-z-]*' | tr -d '[ ' | sort -u); do
    grep -qF -- "$(printf '%s' "$o" | sed 's/-/\\-/g')" "$page" || missing="$missing $o"
done
for c in run stats; do grep -q "^\.B $c\$" "$page" || missing="$missing $c"; done
if [ -z "$missing" ]; then ok "senderauth-report.8 documents every option and command"; else
    bad "senderauth-report.8 misses:$missing"; fi

echo "manpages: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
