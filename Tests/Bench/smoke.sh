#!/bin/bash
# The bench's smoke test (a `make test` suite): scripts/bench.sh end to end with small counts, so
# a change that breaks a subject, the policy switcher or the report shows up in CI. It checks that
# every part ran and reported, never the numbers: ratios are for `make bench` on a quiet machine,
# and exit status 2 (a speed target missed) counts as a run that worked. Run as root.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
pass=0 failed=0
check() {
    local name=$1; shift
    if "$@"; then echo "PASS bench-smoke/$name"; pass=$((pass + 1)); else echo "FAIL bench-smoke/$name"; failed=$((failed + 1)); fi
}
out=$(mktemp /tmp/bench-smoke.XXXXXX)
trap 'rm -f "$out"' EXIT

started=$SECONDS
INCLUDES=300 "$root/scripts/bench.sh" --calls 200 --rounds 1 --warmup 1 --pause 0.2 --parallel-taps 20 --parallel-rounds 1 \
    --rss-runs 1 --refused-calls 20 --startup-calls 20 --include-calls 5 >"$out" 2>&1
status=$?
echo "# bench.sh exit status $status after $((SECONDS - started)) s"
has() { grep -qE -- "$1" "$out" || { echo "  missing from the report: $1"; return 1; }; }
check exit-status-0-or-2 test "$status" = 0 -o "$status" = 2
check no-failed-call bash -c "! grep -q '^FAIL' '$out'"
check main-table has '^bridgekeeper-helper \(setuid\) +200 '
check stock-row has '^qemu-bridge-helper \(stock, setuid\) +200 '
check floor-row has '^floor: kernel calls only \(setuid\) +200 '
check mandated-floor-row has '^mandated floor \(setuid\) +200 '
check mandated-floor-start-up has '^mandated floor, no arguments \(usage\) +20 '
check ratios-to-floor has '^ratios to the floor \(kernel calls only\): ours/floor p50 [0-9.]+'
check mandated-ratios has '^mandated floor: mandated/floor p50 [0-9.]+ +ours/mandated p50 [0-9.]+'
check mandated-verdict has '^p50 ratio mandated/floor = [0-9.]+: '
check policies-header has '^  includes: 300 .include. lines in /etc/qemu/bridge.conf, of which the caller can read exactly one, /etc/qemu/users/u00150.conf'
check policies-user-rules has '^  user= rules: 300 '
for row in 'bridgekeeper-helper, 300 per-user includes' 'qemu-bridge-helper, 300 per-user includes' \
    'bridgekeeper-helper, 300 user= rules' 'bridgekeeper-helper, one rule' 'qemu-bridge-helper, one rule'; do
    check "row-${row// /-}" has "^$row +5 "
done
check includes-ratio has '^per-user includes, ratio ours/stock: p50 [0-9.]+'
check decision-ratio has '^user= rules, decision time .*: ours -?[0-9.]+ ms with 300 user= rules, stock -?[0-9.]+ ms with 300 includes: ratio -?[0-9.]+'
check round-trip-ratio has '^user= rules, whole round trip against stock.s with the includes: p50 [0-9.]+'
check verdict-includes has '^verdict \(per-user includes\): '
check verdict-user-rules has '^verdict \(user= rules\): target '
check no-taps-left bash -c "! grep -q 'TAPs left behind' '$out'"
if [ "$failed" != 0 ]; then echo "--- the bench's output:"; cat "$out"; fi
echo "$pass passed, $failed failed"
[ "$failed" = 0 ]
