#!/bin/bash
# The bench in CI (a `make test` suite): scripts/bench.sh end to end, the main comparison with
# small counts and the policies at scale at full size (10,000 includes, 10,000 user= rules), so a
# change that breaks a subject, the policy switcher or the report shows up in CI. It checks that
# every part ran and reported, and the two policy targets, which hold with room on this
# project's machines: issue 7's per-user includes at most 0.50 of stock (0.35-0.36 in 40-call
# runs since the include probe's threads were pinned to their own CPUs) and issue 10's user=
# decision time at most 0.10 of stock's with the includes (0.042-0.057). Every other ratio is for
# `make bench`; its exit status 2 counts as a run that worked here when only one of those other
# targets was missed (the two above are checked from the report).
# Run as root.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
pass=0 failed=0
check() {
    local name=$1; shift
    if "$@"; then echo "PASS bench-smoke/$name"; pass=$((pass + 1)); else echo "FAIL bench-smoke/$name"; failed=$((failed + 1)); fi
}
out=$(mktemp /tmp/bench-smoke.XXXXXX)
err=$(mktemp /tmp/bench-smoke.XXXXXX)
trap 'rm -f "$out" "$err"' EXIT

# The bench's own texts: --help against its golden file, and bad input as one line on stderr,
# nothing on stdout, exit status 1.
bench=$root/.build/release/bridgekeeper-bench
check help-text-golden bash -c "'$bench' --help | diff -u '$root/Tests/Bench/bench-help.golden' -"
# bad_input NAME EXPECTED-STDERR-LINE ARG...
bad_input() {
    local name=$1 expected=$2; shift 2
    "$bench" "$@" >"$out" 2>"$err"
    local status=$?
    check "$name" test "$status" = 1 -a ! -s "$out" -a "$(cat "$err")" = "$expected"
}
bad_input bad-input-unknown-argument "bridgekeeper-bench: unknown argument '--bogus'; --help lists the options" --bogus
bad_input bad-input-missing-value "bridgekeeper-bench: --calls needs a value; --help lists the options" --calls
bad_input bad-input-no-helpers "bridgekeeper-bench: --ours and --stock are required; --help lists the options"
bad_input bad-input-policy-switch "bridgekeeper-bench: --policy-switch: expected REQ,ACK (two FIFO paths)" --policies-at-scale --policy-switch onlyone

started=$SECONDS
INCLUDES=10000 "$root/scripts/bench.sh" --calls 200 --rounds 1 --warmup 2 --pause 0.2 --parallel-taps 20 --parallel-rounds 1 \
    --rss-runs 1 --refused-calls 20 --startup-calls 20 --include-calls 40 >"$out" 2>&1
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
check policies-header has '^  includes: 10000 .include. lines in /etc/qemu/bridge.conf, of which the caller can read exactly one, /etc/qemu/users/u05000.conf'
check policies-user-rules has '^  user= rules: 10000 '
for row in 'bridgekeeper-helper, 10000 per-user includes' 'qemu-bridge-helper, 10000 per-user includes' \
    'bridgekeeper-helper, 10000 user= rules' 'bridgekeeper-helper, one rule' 'qemu-bridge-helper, one rule'; do
    check "row-${row// /-}" has "^$row +40 "
done
check includes-ratio has '^per-user includes, ratio ours/stock: p50 [0-9.]+'
check decision-ratio has '^user= rules, decision time .*: ours -?[0-9.]+ ms with 10000 user= rules, stock -?[0-9.]+ ms with 10000 includes: ratio -?[0-9.]+'
check round-trip-ratio has '^user= rules, whole round trip against stock.s with the includes: p50 [0-9.]+'
check verdict-includes has '^verdict \(per-user includes\): '
check verdict-user-rules has '^verdict \(user= rules\): target '
check no-taps-left bash -c "! grep -q 'TAPs left behind' '$out'"

# The two targets, from the lines checked above (the bench's own verdict lines say the same).
includes=$(sed -n 's/^per-user includes, ratio ours\/stock: p50 \([0-9.]*\) .*/\1/p' "$out")
decision=$(sed -n 's/^user= rules, decision time .*: ratio \(-\{0,1\}[0-9.]*\) .*/\1/p' "$out")
echo "# per-user includes ours/stock ${includes:-?} (target <= 0.50); user= decision time ours/stock ${decision:-?} (target <= 0.10)"
at_most() { [ -n "$1" ] && awk -v v="$1" -v limit="$2" 'BEGIN { exit !(v + 0 <= limit + 0) }'; }
check issue7-per-user-includes-at-most-half-of-stock at_most "$includes" 0.50
check issue10-user-rules-decision-at-most-tenth-of-stock at_most "$decision" 0.10
check verdicts-agree bash -c "grep -q '^verdict (per-user includes): target met' '$out' && grep -q '^verdict (user= rules): target met' '$out'"
if [ "$failed" != 0 ]; then echo "--- the bench's output:"; cat "$out"; fi
echo "$pass passed, $failed failed"
[ "$failed" = 0 ]
