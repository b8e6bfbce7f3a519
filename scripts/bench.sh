#!/bin/bash
# The round-trip benchmark: bridgekeeper-helper against the stock qemu-bridge-helper, both
# installed setuid root and called the way QEMU calls them (socketpair, spawn as an unprivileged
# user, receive the TAP descriptor, reap), from one run of bridgekeeper-bench.
#
# Usage (root):  make build && scripts/bench.sh [bridgekeeper-bench options]
#   e.g. scripts/bench.sh --calls 300 --rounds 5 --parallel-rounds 2
#   OURS=PATH / STOCK=PATH override the two helpers (defaults: the release build in
#   .build-helper/release and /usr/lib/qemu/qemu-bridge-helper from qemu-system-x86).
#   INCLUDES=N sets the number of per-user includes and user= rules of step (3) (default 10000;
#   0 skips it). MAIN=0 skips steps (1) and (2).
#
# Everything runs inside Tests/lib/sandbox.sh's throwaway world: a private network namespace
# (br0 and every TAP live and die with it), a private mount namespace with /etc as an overlay
# (our own /etc/qemu/bridge.conf: "allow br0") and a private /dev/net/tun node, mode 0666 here
# because the stock helper opens it after dropping privileges. The host's network, /etc/qemu and
# /dev/net/tun are never touched.
#
# The floor: Tests/Bench/bench-floor.c, built here with gcc as a static PIE (like our default
# build) and installed setuid root next to the two helpers, does only the kernel calls of the
# round trip (open /dev/net/tun, TUNSETIFF, TUNSETOWNER, attach, up, SCM_RIGHTS); it is the third
# subject of the interleaved series, so ours/stock and ours/floor come from the same run.
# The mandated floor: Tests/Bench/bench-floor-mandated.c, built as a dynamic PIE (NSS needs a
# dynamic glibc), adds to those kernel calls only what every helper meeting our requirements
# must do (the process hygiene and privilege drop, the ACL read, the device resolved by any name
# and the attachment read back, the stock helper's MTU and MAC, the send timeout, one audit
# record); a fourth subject of the same series.
#
# Steps: (1) as root, bridgekeeper-bench --baseline times the bare kernel work in-process
# (TUNSETIFF, MTU, MAC, SIOCBRADDIF, IFF_UP) for the "bare kernel work" row; (2) as nobody
# (uid 65534, no groups), bridgekeeper-bench times both helpers: interleaved sequential series
# with the TAPs held, refused requests, start-up (no arguments, --version), 1000 TAPs with 16
# round trips in parallel, peak RSS; (3) policies at scale, in a tmpfs over /etc/qemu (still
# inside the private mount namespace): the per-user include pattern ('include
# /etc/qemu/users/u00000.conf' ... u09999.conf, each file root:(200000 + n) 0640 with
# 'allow br-u0NNNN'), the same site as one policy of 10,000 'allow br-u0NNNN user=u0NNNN' lines
# (with a private /etc/passwd of 10,000 users, bind-mounted; u05000 is uid 65534, the caller),
# and 'allow br-u05000'. bridgekeeper-bench --policies-at-scale runs as nobody with the one
# supplementary group that reads u05000.conf, asking for br-u05000: both helpers with the
# includes, ours with the user= rules, both with the one rule, interleaved call by call, with a
# root process here putting each call's policy in place as bridge.conf (untimed).
# Exit status: 0 ok, 1 a call or check failed in either run, 2 ours slower than stock at p50
# in either run, ours above 0.50 of stock's time with the per-user includes, or the user= rules'
# decision time above 0.10 of stock's with the includes.
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
command -v gcc >/dev/null || bk_die "gcc is missing (make deps-test): it builds the floor, Tests/Bench/bench-floor.c"

bk_enter_sandbox "$@"

bk_tun_mode 0666
bk_bridge "$BRIDGE"
printf 'allow %s\n' "$BRIDGE" | bk_acl /etc/qemu/bridge.conf
ours=$(bk_install "$OURS_SRC" bridgekeeper-helper setuid)
stock=$(bk_install "$STOCK_SRC" qemu-bridge-helper setuid)
gcc -O2 -Wall -Werror -static-pie -o "$BK_SCRATCH/bench-floor" "$REPO/Tests/Bench/bench-floor.c" ||
    bk_die "cannot build the floor (Tests/Bench/bench-floor.c) with gcc -static-pie"
floor=$(bk_install "$BK_SCRATCH/bench-floor" bench-floor setuid)
# The mandated floor links glibc dynamically, as NSS requires, with our helper's hardening flags.
gcc -O2 -Wall -Werror -pie -fPIE -Wl,-z,now,-z,relro -o "$BK_SCRATCH/bench-floor-mandated" "$REPO/Tests/Bench/bench-floor-mandated.c" ||
    bk_die "cannot build the mandated floor (Tests/Bench/bench-floor-mandated.c) with gcc -pie"
mandated=$(bk_install "$BK_SCRATCH/bench-floor-mandated" bench-floor-mandated setuid)
bench=$BK_SCRATCH/bin/bridgekeeper-bench
install -o root -g root -m 0755 "$BENCH_SRC" "$bench"
baseline=$BK_SCRATCH/baseline.txt

INCLUDES=${INCLUDES:-10000}
MAIN=${MAIN:-1}
[ "$MAIN" = 0 ] || [ "$MAIN" = 1 ] || bk_die "MAIN must be 0 or 1, got '$MAIN'"
[ "$MAIN" = 1 ] || [ "$INCLUDES" -gt 0 ] || bk_die "MAIN=0 with INCLUDES=0 measures nothing"
[[ $INCLUDES =~ ^[0-9]+$ ]] && [ "$INCLUDES" -le 100000 ] || bk_die "INCLUDES must be a number from 0 to 100000, got '$INCLUDES'"
INCLUDE_GID0=200000
INCLUDE_USER=$((INCLUDES / 2))
INCLUDE_BRIDGE=$(printf 'br-u%05d' "$INCLUDE_USER")

# A static PIE is ELF type DYN too, and ldd says "statically linked" for it (exit 0 or 1 by version).
linkage() {
    local libs
    libs=$(ldd "$1" 2>/dev/null | grep -c '=>' || true)
    if [ "${libs:-0}" -gt 0 ]; then echo "dynamic, $libs shared libraries"; else echo "static"; fi
}
echo "bench.sh: commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$REPO" diff --quiet HEAD 2>/dev/null || echo ' (+ local changes)'), $(swift --version 2>/dev/null | head -1 || echo 'swift ?')"
echo "bench.sh: ours $(linkage "$ours"); stock $(linkage "$stock") ($(dpkg-query -W -f='qemu-system-x86 ${Version}' qemu-system-x86 2>/dev/null || echo 'version ?'))"
echo "bench.sh: sandbox: private netns + mount ns, /dev/net/tun 0666 (private node), /etc/qemu/bridge.conf 'allow $BRIDGE'"

cd /
status=0
if [ "$MAIN" = 1 ]; then
    echo "# bare kernel work, as root in-process" >&2
    "$bench" --baseline --out "$baseline" --bridge "$BRIDGE" "$@" ||
        bk_die "the in-process kernel-work baseline failed"
    chmod 0644 "$baseline"

    echo "# round trips, as nobody" >&2
    bk_as_nobody "$bench" --ours "$ours" --stock "$stock" --bridge "$BRIDGE" \
        --baseline-samples "$baseline" --floor /bin/true --kernel-floor "$floor" \
        --mandated-floor "$mandated" "$@" || status=$?
    [ -z "$(bk_taps)" ] || { echo "FAIL: TAPs left behind: $(bk_taps | tr '\n' ' ')"; status=1; }
fi

if [ "$INCLUDES" -gt 0 ]; then
    echo "# policies at scale: writing $INCLUDES per-user include files and $INCLUDES user= rules under /etc/qemu" >&2
    mount -t tmpfs -o mode=0755,size=256m bk-per-user /etc/qemu || bk_die "cannot mount a tmpfs over /etc/qemu"
    mkdir -m 0755 /etc/qemu/users /etc/qemu/policies
    # One process for all files (a chown/chmod per file from the shell would take minutes). The
    # three policies: includes.conf (one include per user; each file root:(gid0 + n) 0640 with
    # 'allow br-uNNNNN'), users.conf (one 'allow br-uNNNNN user=uNNNNN' per user, names from a
    # private passwd of as many users, where u$INCLUDE_USER is nobody's uid), one.conf.
    perl -e '
        my ($count, $gid0, $me) = @ARGV;
        open(my $top, ">", "/etc/qemu/policies/includes.conf") or die "includes.conf: $!\n";
        open(my $rules, ">", "/etc/qemu/policies/users.conf") or die "users.conf: $!\n";
        open(my $pw, ">", "/etc/qemu/passwd") or die "passwd: $!\n";
        print $pw "root:x:0:0:root:/root:/bin/sh\n";
        for my $n (0 .. $count - 1) {
            my $user = sprintf("u%05d", $n);
            my $path = "/etc/qemu/users/$user.conf";
            print $top "include $path\n";
            print $rules "allow br-$user user=$user\n";
            printf $pw "%s:x:%d:%d::/nonexistent:/usr/sbin/nologin\n", $user, $n == $me ? 65534 : $gid0 + $n, $n == $me ? 65534 : $gid0 + $n;
            open(my $file, ">", $path) or die "$path: $!\n";
            print $file "allow br-$user\n";
            close($file) or die "$path: $!\n";
            chown(0, $gid0 + $n, $path) == 1 && chmod(0640, $path) == 1 or die "$path: $!\n";
        }
        close($top) && close($rules) && close($pw) or die "write: $!\n";
    ' "$INCLUDES" "$INCLUDE_GID0" "$INCLUDE_USER" || bk_die "cannot write the policies at scale"
    printf 'allow %s\n' "$INCLUDE_BRIDGE" > /etc/qemu/policies/one.conf
    chmod 0644 /etc/qemu/policies/*.conf /etc/qemu/passwd
    cp /etc/qemu/policies/one.conf /etc/qemu/bridge.conf
    mount --bind /etc/qemu/passwd /etc/passwd || bk_die "cannot bind-mount the private passwd"
    bk_bridge "$INCLUDE_BRIDGE"
    # The policy switcher: root, so bridge.conf stays root's; the bench (nobody) writes a policy's
    # name on one FIFO and reads "ok" on the other once that policy is bridge.conf (a copy renamed
    # over it, so a helper reads the old file or the new one, never a mix). Both sides open the
    # request FIFO first.
    request=$BK_SCRATCH/policy-request ack=$BK_SCRATCH/policy-ack
    mkfifo -m 0600 "$request" "$ack" && chown 65534:65534 "$request" "$ack" || bk_die "cannot make the policy switch FIFOs"
    (
        exec <"$request" >"$ack"
        while IFS= read -r name; do
            case $name in
                includes | users | one)
                    if cp "/etc/qemu/policies/$name.conf" /etc/qemu/.bridge.conf.next &&
                        mv -f /etc/qemu/.bridge.conf.next /etc/qemu/bridge.conf; then echo ok; else echo failed; fi ;;
                *) echo "unknown policy" ;;
            esac
        done
    ) &
    switcher=$!
    echo "# round trips with the policies at scale, as nobody with group $((INCLUDE_GID0 + INCLUDE_USER))" >&2
    echo
    scaled=0
    setpriv --reuid=65534 --regid=65534 --groups=$((INCLUDE_GID0 + INCLUDE_USER)) -- \
        "$bench" --policies-at-scale --ours "$ours" --stock "$stock" --policy-switch "$request,$ack" \
        "$@" --bridge "$INCLUDE_BRIDGE" || scaled=$?
    # It ends when the bench closes its FIFO; if the bench never opened it, it is still waiting.
    kill "$switcher" 2>/dev/null || true
    wait "$switcher" 2>/dev/null || true
    [ -z "$(bk_taps)" ] || { echo "FAIL: TAPs left behind: $(bk_taps | tr '\n' ' ')"; scaled=1; }
    umount /etc/passwd
    umount /etc/qemu
    # A failed call or check (1) outranks a slower-than-stock or missed-target verdict (2).
    if [ "$status" != 1 ] && [ "$scaled" != 0 ]; then status=$scaled; fi
fi
exit "$status"
