#!/bin/bash
# test_webmail.sh - the webmail reference parser and badge demo (src/webmail): Node's test
# runner over src/webmail/test/ (parser tables, the example blocks senderauthd produced in
# tests/webmail-examples, and the demo page in headless Chromium). Installs the one dev
# dependency (playwright-core, pinned by package-lock.json) when node_modules is missing.
# Screenshots go to $SA_BUILD/webmail-screenshots.
set -u
src="${SA_SRC:?}"
build="${SA_BUILD:?}"
dir="$src/src/webmail"

for tool in node npm; do
    if ! command -v "$tool" >/dev/null; then
        echo "FAIL: $tool not found (Debian packages nodejs and npm)"
        echo "webmail: 0 passed, 1 failed"
        exit 1
    fi
done
if [ ! -d "$dir/node_modules/playwright-core" ]; then
    if ! (cd "$dir" && npm install --no-audit --no-fund); then
        echo "FAIL: npm install in $dir"
        echo "webmail: 0 passed, 1 failed"
        exit 1
    fi
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
export SA_SRC="$src" SA_BUILD="$build"
node --test --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$log" "$dir/test/"
rc=$?
pass=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$log" | tail -1)
fail=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$log" | tail -1)
cancelled=$(sed -n 's/^# cancelled \([0-9]*\)$/\1/p' "$log" | tail -1)
fail=$((${fail:-0} + ${cancelled:-0}))
if [ -z "$pass" ] || [ "$pass" -eq 0 ]; then
    echo "FAIL: no test ran"
    rc=1
fi
[ "$rc" -ne 0 ] && [ "$fail" -eq 0 ] && fail=1
echo "webmail: ${pass:-0} passed, ${fail} failed"
exit "$rc"
