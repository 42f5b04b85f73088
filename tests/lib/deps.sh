#!/bin/bash
# deps.sh - install (with apt-get) every Debian package the build, the tests and the
# demo need. Sourced by tests/run-all.sh and tests/run-demo.sh. Skips apt-get when
# everything is already installed.
SA_PACKAGES="build-essential cmake pkg-config clang libclang-rt-14-dev
 libmilter-dev libopendkim-dev libspf2-dev libpsl-dev libconfig-dev libssl-dev libcmocka-dev
 libsqlite3-dev publicsuffix nsd python3 python3-yaml python3-dkim python3-nacl
 python3-dnslib opendkim-tools dnsutils"

sa_install_deps() {
    local missing=""
    for p in $SA_PACKAGES; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' ||
            missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    echo "installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q || return 1
    apt-get install -y -q --no-install-recommends $missing || return 1
    # NSD's package starts a system instance; the tests run their own.
    systemctl disable --now nsd >/dev/null 2>&1 || service nsd stop >/dev/null 2>&1 || true
}
