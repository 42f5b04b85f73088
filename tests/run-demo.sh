#!/bin/bash
# run-demo.sh - the main job: installs the dependencies, builds senderauthd and
# senderauthctl, starts on loopback a real DNS server (NSD) with the sample zones,
# senderauthd pointed at it and a private Postfix whose smtpd_milters is senderauthd,
# sends the sample messages over SMTP and prints each delivered message's verdict
# headers and each rejected one's SMTP reply. --milter: no Postfix, talk the milter
# protocol to senderauthd directly. -v: also senderauthd's log lines.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib/deps.sh
sa_install_deps
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" --target senderauthd senderauthctl >/dev/null
SA_SRC=$(pwd) SA_BUILD=$(pwd)/build /usr/bin/python3 tests/demo/demo.py "$@"
