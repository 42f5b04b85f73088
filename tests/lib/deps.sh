#!/bin/bash
# deps.sh - install (with apt-get) every Debian package the build, the tests and the
# demo need. Sourced by tests/run-all.sh and tests/run-demo.sh. Skips apt-get when
# everything is already installed.
SA_PACKAGES="build-essential cmake pkg-config clang libclang-rt-14-dev valgrind
 libmilter-dev libopendkim-dev libspf2-dev libpsl-dev libconfig-dev libssl-dev libcmocka-dev
 libsqlite3-dev publicsuffix nsd python3 python3-yaml python3-dkim python3-nacl
 python3-dnslib opendkim-tools dnsutils libpq-dev postgresql sqlite3 chromium fonts-noto-cjk
 postfix swaks libcurl4-openssl-dev libxml2-dev python3-cryptography
 python3-spf libmail-dmarc-perl"

sa_install_deps() {
    local missing=""
    for p in $SA_PACKAGES; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' ||
            missing="$missing $p"
    done
    # The webmail module's tests need Node.js with npm; a machine that ships its own
    # Node.js keeps it, otherwise Debian's packages bring both.
    command -v node >/dev/null && command -v npm >/dev/null || missing="$missing nodejs npm"
    [ -z "$missing" ] && return 0
    echo "installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q || return 1
    # Postfix without a system configuration: no /etc/postfix/main.cf, nothing to start.
    # The end-to-end tests run a private instance (tests/lib/satest/postfix.py).
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    apt-get install -y -q --no-install-recommends $missing || return 1
    # NSD's, PostgreSQL's and Postfix's packages start system instances; the tests
    # run their own.
    for s in nsd postgresql postfix; do
        systemctl disable --now "$s" >/dev/null 2>&1 || service "$s" stop >/dev/null 2>&1 || true
    done
}
