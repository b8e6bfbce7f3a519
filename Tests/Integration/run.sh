#!/bin/bash
# Privileged integration tests: runs every Tests/Integration/t-*.sh (or the ones named on the
# command line, e.g. `run.sh t-attach t-qemu`), each in its own sandbox (Tests/lib/sandbox.sh:
# private mount and network namespaces, private /etc/qemu and /dev/net/tun). Must run as root.
#
# Prints each test's `PASS name` / `FAIL name: ...` lines (and any other output, such as the
# differential table, prefixed with '#'), `# time t-NAME: S.S s` after each script and
# `# time total: S.S s`, then exactly one line `N passed, N failed`. Exits 1 if anything failed.
# A missing precondition (not root, a missing binary or tool) is a FAIL.
#
# Binaries (paths relative to the repository root, or absolute):
#   BK_HELPER        .build-helper/release/bridgekeeper-helper     (make build)
#   BK_HOOKS_HELPER  .build-testhooks/release/bridgekeeper-helper  (make testhooks-helper)
#   BK_CLI           .build/release/bridgekeeper                   (make build)
#   BK_STOCK         /usr/lib/qemu/qemu-bridge-helper              (apt-get install qemu-system-x86)
set -u
here=$(cd "$(dirname "$0")" && pwd)
passed=0
failed=0

# now_ms: a monotonic-enough wall clock in milliseconds; seconds MS: MS as "S.S".
now_ms() { local ns; ns=$(date +%s%N); echo $((ns / 1000000)); }
seconds() { printf '%d.%d' $(($1 / 1000)) $(($1 % 1000 / 100)); }
suite_start=$(now_ms)

if [ "$(id -u)" != 0 ]; then
    echo "FAIL run.sh/precondition/root: expected to run as uid 0, got uid $(id -u)"
    echo "0 passed, 1 failed"
    exit 1
fi

tests=()
if [ $# -eq 0 ]; then
    for t in "$here"/t-*.sh; do tests+=("$t"); done
else
    for name in "$@"; do tests+=("$here/${name%.sh}.sh"); done
fi

for t in "${tests[@]}"; do
    name=$(basename "$t" .sh)
    if [ ! -f "$t" ]; then
        echo "FAIL $name: expected a test script at $t, got nothing"
        failed=$((failed + 1))
        continue
    fi
    own_failures=0
    status=""
    started=$(now_ms)
    while IFS= read -r line; do
        case $line in
            "PASS "*) passed=$((passed + 1)); printf '%s\n' "$line" ;;
            "FAIL "*) failed=$((failed + 1)); own_failures=$((own_failures + 1)); printf '%s\n' "$line" ;;
            "__status="*) status=${line#__status=} ;;
            "#"*) printf '%s\n' "$line" ;;
            *) printf '# %s: %s\n' "$name" "$line" ;;
        esac
    done < <(BK_IT_RUNNER=1 timeout -k 10 240 bash "$t" 2>&1 </dev/null; echo "__status=$?")
    if [ "$status" != 0 ] && [ "$own_failures" = 0 ]; then
        echo "FAIL $name: expected exit status 0 from the test script, got ${status:-none}"
        failed=$((failed + 1))
    fi
    echo "# time $name: $(seconds $(($(now_ms) - started))) s"
done

echo "# time total: $(seconds $(($(now_ms) - suite_start))) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
