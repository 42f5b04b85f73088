#!/bin/bash
# run-demo.sh - the main job: installs the dependencies, builds senderauthd, starts a
# real DNS server (NSD) with sample zones on loopback and senderauthd pointed at it,
# sends sample messages through the milter protocol and prints each verdict.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib/deps.sh
sa_install_deps
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" --target senderauthd >/dev/null
SA_SRC=$(pwd) SA_BUILD=$(pwd)/build /usr/bin/python3 tests/demo/demo.py "$@"
