#!/bin/bash
# The round-trip benchmark: bridgekeeper-helper against the stock qemu-bridge-helper, both
# installed setuid root and called the way QEMU calls them (socketpair, spawn as an unprivileged
# user, receive the TAP descriptor, reap), from one run of bridgekeeper-bench.
#
# Usage (root):  make build && scripts/bench.sh [bridgekeeper-bench options]
#   e.g. scripts/bench.sh --calls 300 --rounds 5 --parallel-rounds 2
#   OURS=PATH / STOCK=PATH override the two helpers (defaults: the release build in
#   .build-helper/release and /usr/lib/qemu/qemu-bridge-helper from qemu-system-x86).
#
# Everything runs inside Tests/lib/sandbox.sh's throwaway world: a private network namespace
# (br0 and every TAP live and die with it), a private mount namespace with /etc as an overlay
# (our own /etc/qemu/bridge.conf: "allow br0") and a private /dev/net/tun node, mode 0666 here
# because the stock helper opens it after dropping privileges. The host's network, /etc/qemu and
# /dev/net/tun are never touched.
#
# Steps: (1) as root, bridgekeeper-bench --baseline times the bare kernel work in-process
# (TUNSETIFF, MTU, MAC, SIOCBRADDIF, IFF_UP) for the "bare kernel work" row; (2) as nobody
# (uid 65534, no groups), bridgekeeper-bench times both helpers: interleaved sequential series
# with the TAPs held, 1000 TAPs with 16 round trips in parallel, peak RSS. Exit status is the
# bench's: 0 ok, 1 a call or check failed, 2 ours slower than stock at p50.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
# shellcheck source=Tests/lib/sandbox.sh
source "$REPO/Tests/lib/sandbox.sh"

OURS_SRC=${OURS:-$REPO/.build-helper/release/bridgekeeper-helper}
STOCK_SRC=${STOCK:-/usr/lib/qemu/qemu-bridge-helper}
BENCH_SRC=$REPO/.build/release/bridgekeeper-bench
BRIDGE=br0

[ -x "$OURS_SRC" ] || bk_die "$OURS_SRC is missing: run 'make build' first"
[ -x "$BENCH_SRC" ] || bk_die "$BENCH_SRC is missing: run 'make build' first"
[ -x "$STOCK_SRC" ] || bk_die "$STOCK_SRC is missing: apt-get install qemu-system-x86 (or 'make deps-test')"
command -v setpriv >/dev/null || bk_die "setpriv is missing (util-linux)"

bk_enter_sandbox "$@"

bk_tun_mode 0666
bk_bridge "$BRIDGE"
printf 'allow %s\n' "$BRIDGE" | bk_acl /etc/qemu/bridge.conf
ours=$(bk_install "$OURS_SRC" bridgekeeper-helper setuid)
stock=$(bk_install "$STOCK_SRC" qemu-bridge-helper setuid)
bench=$BK_SCRATCH/bin/bridgekeeper-bench
install -o root -g root -m 0755 "$BENCH_SRC" "$bench"
baseline=$BK_SCRATCH/baseline.txt

linkage() { if ldd "$1" >/dev/null 2>&1; then echo "dynamic, $(ldd "$1" | grep -c '=>') shared libraries"; else echo "static"; fi; }
echo "bench.sh: commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$REPO" diff --quiet HEAD 2>/dev/null || echo ' (+ local changes)'), $(swift --version 2>/dev/null | head -1 || echo 'swift ?')"
echo "bench.sh: ours $(linkage "$ours"); stock $(linkage "$stock") ($(dpkg-query -W -f='qemu-system-x86 ${Version}' qemu-system-x86 2>/dev/null || echo 'version ?'))"
echo "bench.sh: sandbox: private netns + mount ns, /dev/net/tun 0666 (private node), /etc/qemu/bridge.conf 'allow $BRIDGE'"

cd /
echo "# bare kernel work, as root in-process" >&2
"$bench" --baseline --out "$baseline" --bridge "$BRIDGE" "$@" ||
    bk_die "the in-process kernel-work baseline failed"
chmod 0644 "$baseline"

echo "# round trips, as nobody" >&2
status=0
bk_as_nobody "$bench" --ours "$ours" --stock "$stock" --bridge "$BRIDGE" \
    --baseline-samples "$baseline" --floor /bin/true "$@" || status=$?
[ -z "$(bk_taps)" ] || { echo "FAIL: TAPs left behind: $(bk_taps | tr '\n' ' ')"; status=1; }
exit "$status"
