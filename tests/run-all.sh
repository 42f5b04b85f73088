#!/bin/bash
# run-all.sh - the whole test suite on a fresh Debian 12 machine: installs the
# dependencies with apt-get, builds with warnings as errors, runs every test (unit,
# external suites, integration against a real NSD), then builds again with
# AddressSanitizer + UndefinedBehaviorSanitizer and runs the same tests there.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib/deps.sh
sa_install_deps

jobs=$(nproc 2>/dev/null || echo 2)
export SA_TESTSUITES="${SA_TESTSUITES:-$(cd .. && pwd)/shared/testsuites}"

echo "== build (-Werror)"
cmake -S . -B build -DWERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
echo "== tests"
(cd build && ctest --output-on-failure -j"$jobs")

echo "== build (-Werror, ASan + UBSan)"
cmake -S . -B build-asan -DWERROR=ON -DSANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-asan -j"$jobs"
echo "== tests under ASan + UBSan"
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1"
export LSAN_OPTIONS="suppressions=$(pwd)/tests/lib/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
(cd build-asan && ctest --output-on-failure -j"$jobs")

echo "== fuzz targets (clang, libFuzzer + ASan + UBSan, ${SA_FUZZ_SECONDS:-20} s each)"
CC=clang cmake -S . -B build-fuzz -DFUZZ=ON -DFUZZ_SECONDS="${SA_FUZZ_SECONDS:-20}" \
    -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-fuzz -j"$jobs"
(cd build-fuzz && ctest --output-on-failure -j"$jobs" -L fuzz)
