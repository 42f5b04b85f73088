#!/bin/bash
# run-all.sh - the whole test suite on a fresh Debian 12 machine: installs the
# dependencies with apt-get, builds with warnings as errors, runs every test (unit,
# external suites, integration against a real NSD), then builds again with
# AddressSanitizer + UndefinedBehaviorSanitizer and runs the same tests there, runs the
# integration tests labelled "valgrind" under valgrind memcheck, and runs the fuzzers.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/lib/deps.sh
sa_install_deps

jobs=$(nproc 2>/dev/null || echo 2)
export SA_TESTSUITES="${SA_TESTSUITES:-$(cd .. && pwd)/shared/testsuites}"

total_pass=0
total_fail=0
# run_ctest DIR [ARGS] - ctest in DIR; adds its counts to the totals; stops on failure.
run_ctest() {
    local dir=$1 log rc=0 n f
    shift
    log=$(mktemp)
    (cd "$dir" && ctest --output-on-failure -j"$jobs" "$@") 2>&1 | tee "$log" || rc=$?
    n=$(sed -n 's/.* tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -1)
    f=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of.*/\1/p' "$log" | tail -1)
    rm -f "$log"
    total_pass=$((total_pass + ${n:-0} - ${f:-0}))
    total_fail=$((total_fail + ${f:-0}))
    if [ "$rc" -ne 0 ]; then
        echo "${total_pass} passed, ${total_fail} failed"
        exit "$rc"
    fi
}

echo "== build (-Werror)"
cmake -S . -B build -DWERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
echo "== tests"
run_ctest build

echo "== build (-Werror, ASan + UBSan)"
cmake -S . -B build-asan -DWERROR=ON -DSANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-asan -j"$jobs"
echo "== tests under ASan + UBSan"
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1"
export LSAN_OPTIONS="suppressions=$(pwd)/tests/lib/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
run_ctest build-asan

echo "== integration tests under valgrind memcheck (normal build, SA_VALGRIND=1, ctest -L valgrind)"
SA_VALGRIND=1 run_ctest build -L valgrind

echo "== fuzz targets (clang, libFuzzer + ASan + UBSan, ${SA_FUZZ_SECONDS:-20} s each)"
CC=clang cmake -S . -B build-fuzz -DFUZZ=ON -DFUZZ_SECONDS="${SA_FUZZ_SECONDS:-20}" \
    -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-fuzz -j"$jobs"
run_ctest build-fuzz -L fuzz

echo "== summary"
echo "${total_pass} passed, ${total_fail} failed"
[ "$total_fail" -eq 0 ]
