#!/bin/bash
# Checks on the built release artifact (threats.md #1, issue "release gates"): what a packager
# ships must have no RUNPATH/RPATH, no shared Swift runtime, Foundation or ICU, no test hooks,
# and be optimised with runtime checks kept (-O, never -Ounchecked).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
helper=${BK_HELPER:-$root/.build-helper/release/bridgekeeper-helper}
hooks=${BK_HOOKS_HELPER:-$root/.build-testhooks/release/bridgekeeper-helper}
pass=0 fail=0
check() { # name, then a command that must succeed
    local name=$1; shift
    if "$@" >/dev/null 2>&1; then echo "PASS $name"; pass=$((pass + 1)); else echo "FAIL $name"; fail=$((fail + 1)); fi
}
not() { ! "$@"; }
[ -x "$helper" ] || { echo "FAIL precondition: no release helper at $helper (make helper)"; echo "0 passed, 1 failed"; exit 1; }
check "no RPATH/RUNPATH" not bash -c "readelf -d '$helper' | grep -Eq 'RPATH|RUNPATH'"
check "no shared Swift runtime, Foundation or ICU" not bash -c "ldd '$helper' 2>&1 | grep -Eiq 'swift|Foundation|icu'"
check "no dynamic section at all (static executable)" not bash -c "readelf -d '$helper' | grep -q NEEDED"
check "no test-hook marker in the release binary" not grep -q bridgekeeper-test-hooks-build "$helper"
check "the test build does carry the marker (the gate can fail)" grep -q bridgekeeper-test-hooks-build "$hooks"
check "the pre-init hook that empties the environment before the Swift runtime is linked in" bash -c "readelf -S '$helper' | grep -q preinit_array"
check "no -Ounchecked in the build configuration" not grep -rq -- -Ounchecked "$root/Makefile" "$root/Package.swift"
check "release build keeps overflow checks (swift build -c release is -O)" grep -q -- "-c release" "$root/Makefile"
check "no ArgumentParser symbols in the helper" not bash -c "nm '$helper' 2>/dev/null | grep -q ArgumentParser"
check "no Foundation symbols in the helper" not bash -c "nm '$helper' 2>/dev/null | grep -q '10Foundation'"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
