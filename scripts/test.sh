#!/bin/bash
# `make test`: every suite, one summary line each, then the total. Run as root (the privileged
# suites build namespaces and setuid copies); a missing precondition is a failure, never a skip.
# After each suite `=== NAME: S s`; at the end one `=== time NAME: S s` line per suite and
# `=== time total: S s`, then the closing `N passed, N failed` (CI parses that last line).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
total_pass=0 total_fail=0
times=()
log_dir=$root/.build/test-logs
mkdir -p "$log_dir"

# run_suite NAME CMD...: runs a suite, shows its output, adds its "N passed, N failed" line.
run_suite() {
    local name=$1; shift
    local log=$log_dir/$name.log
    echo "=== $name"
    local started=$SECONDS
    "$@" 2>&1 | tee "$log"
    local status=${PIPESTATUS[0]}
    local took=$((SECONDS - started))
    echo "=== $name: $took s"
    times+=("$name: $took s")
    local summary
    summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
    if [ -z "$summary" ]; then
        echo "FAIL $name: no summary line (exit status $status)"
        total_fail=$((total_fail + 1))
        return
    fi
    local p f
    p=${summary%% passed*}; f=${summary#*, }; f=${f%% failed*}
    if [ "$status" != 0 ] && [ "$f" = 0 ]; then f=1; echo "FAIL $name: exit status $status"; fi
    total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
}

# Swift unit tests: Swift Testing's own summary is turned into the common line.
unit_tests() {
    local out status
    out=$(swift test 2>&1); status=$?
    printf '%s\n' "$out" | grep -E '✘|Test run with|error:' | tail -40
    local tests failed
    tests=$(printf '%s\n' "$out" | sed -n 's/.*Test run with \([0-9]*\) tests\{0,1\}.*/\1/p' | tail -1)
    failed=$(printf '%s\n' "$out" | grep -cE '✘ Test [^r].* (failed|recorded)')
    [ -n "$tests" ] || { echo "0 passed, 1 failed"; return 1; }
    [ "$status" = 0 ] || [ "$failed" -gt 0 ] || failed=1
    echo "$((tests - failed)) passed, $failed failed"
    return "$status"
}

run_suite unit unit_tests
run_suite release-gates Tests/release-gates.sh
run_suite docs Tests/Docs/t-man.sh
run_suite fuzz Tests/Fuzz/run.sh
run_suite integration Tests/Integration/run.sh
run_suite bench-smoke Tests/Bench/smoke.sh
run_suite package Tests/Package/t-deb.sh
run_suite guest Tests/Guest/scenarios.sh
run_suite guest-kernel-devices Tests/Guest/kernel-devices.sh

echo "=== total"
for t in "${times[@]}"; do echo "=== time $t"; done
echo "=== time total: $SECONDS s"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" = 0 ]
