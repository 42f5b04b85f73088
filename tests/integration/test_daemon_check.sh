#!/bin/bash
# test_daemon_check.sh - `senderauthd -t`: the shipped config passes (exit 0); broken
# configs fail (non-zero) and every error is printed as FILE:LINE: key: what.
set -u
bin="${SA_BUILD:?}/senderauthd"
src="${SA_SRC:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

# check NAME WANT_RC CONFIG_TEXT WANT_LINE... - each WANT_LINE must appear in the output
check() {
    local name=$1 want_rc=$2 text=$3 out rc
    shift 3
    printf '%s' "$text" > "$tmp/$name.conf"
    out=$("$bin" -t -c "$tmp/$name.conf" 2>&1)
    rc=$?
    if { [ "$want_rc" = 0 ] && [ "$rc" != 0 ]; } || { [ "$want_rc" != 0 ] && [ "$rc" = 0 ]; }; then
        echo "FAIL $name: exit $rc, want $want_rc; output: $out"
        fail=$((fail + 1))
        return
    fi
    for want in "$@"; do
        want=${want//@F@/$tmp/$name.conf}
        if ! grep -qxF -- "$want" <<< "$out"; then
            echo "FAIL $name: missing line: $want"
            echo "  got: $out"
            fail=$((fail + 1))
            return
        fi
    done
    pass=$((pass + 1))
}

out=$("$bin" -t -c "$src/conf/senderauth.conf" 2>&1)
if [ $? -eq 0 ]; then pass=$((pass + 1)); else echo "FAIL shipped config: $out"; fail=$((fail + 1)); fi

check empty 0 ''
check range 1 $'dns:\n{\n  timeout = 99;\n};\n' '@F@:3: dns.timeout: must be 1..60'
check unknown 1 $'authserv_id = "mx.example";\nbogus = 1;\n' '@F@:2: bogus: unknown key'
check two_errors 1 $'dns:\n{\n  retries = 0;\n};\non_error = "drop";\n' \
    '@F@:3: dns.retries: must be 1..10'
check syntax 1 $'dns:\n{\n  timeout = ;\n};\n'
check socket 1 $'milter:\n{\n  socket = "tcp:25";\n};\n'
check cidr 1 $'trusted_networks = ["192.0.2.0/33"];\n'

# a test that cannot fail is a defect: a good value must not be flagged
check good_values 0 $'dns:\n{\n  timeout = 5;\n  nameservers = ["127.0.0.1:5353"];\n};\ntrusted_networks = ["192.0.2.0/24", "2001:db8::/32"];\n'

# the two_errors case must report the second error too, with its own line
out=$("$bin" -t -c "$tmp/two_errors.conf" 2>&1)
if grep -q "^$tmp/two_errors.conf:5: on_error: " <<< "$out"; then pass=$((pass + 1)); else
    echo "FAIL two_errors: on_error error not reported: $out"; fail=$((fail + 1)); fi
# the syntax error names the file and line
out=$("$bin" -t -c "$tmp/syntax.conf" 2>&1)
if grep -q "^$tmp/syntax.conf:3: " <<< "$out"; then pass=$((pass + 1)); else
    echo "FAIL syntax: no FILE:LINE in: $out"; fail=$((fail + 1)); fi

echo "config check: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
