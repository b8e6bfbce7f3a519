#!/bin/bash
# Real QEMU smoke: qemu-system-x86_64 run by nobody in the sandbox, with our setuid copy as its
# bridge helper (/dev/net/tun 0600). -netdev bridge (QEMU execs the helper directly) and
# -netdev tap,helper="PATH --br=BR" (QEMU runs it through /bin/sh -c): the TAP is on the bridge,
# owned by nobody, while QEMU runs, and gone once QEMU exits; a refused bridge makes QEMU print
# our message, then `bridge helper failed`, and exit 1.
set -u
# shellcheck source=Tests/Integration/lib.sh
source "$(dirname "$0")/lib.sh"
if [ "${BK_SANDBOX:-}" != 1 ] && [ "$(id -u)" = 0 ] && ! command -v qemu-system-x86_64 >/dev/null; then
    # Before entering the sandbox: it has no network and a throwaway /etc.
    "$IT_ROOT/scripts/ensure-packages.sh" qemu-system-x86 >&2
fi
bk_enter_sandbox "$@"
it_setup
it_precondition qemu-system-x86_64 command -v qemu-system-x86_64 || it_abort

H=$(bk_install "$BK_HELPER" bk-setuid setuid)
bk_tun_mode 0600
bk_bridge br0 1400
bk_bridge br1
it_acl_text 'allow br0\n'
QEMU=(qemu-system-x86_64 -machine none -nodefaults -display none -monitor none -serial none)
cd / || exit 1

# attached_run NAME NETDEV: QEMU in the background until its TAP shows up, then SIGTERM.
attached_run() {
    local name=$1 netdev=$2 out=$BK_SCRATCH/qemu.out err=$BK_SCRATCH/qemu.err tap="" i
    "${NOBODY[@]}" "${QEMU[@]}" -netdev "$netdev" </dev/null >"$out" 2>"$err" &
    local qemu=$!
    for ((i = 0; i < 100; i++)); do
        tap=$(ip -o link show master br0 | awk -F': ' '{print $2}' | sed 's/@.*//')
        [ -n "$tap" ] && [ "$(cat "/sys/class/net/$tap/owner" 2>/dev/null)" = 65534 ] && break
        kill -0 "$qemu" 2>/dev/null || break
        sleep 0.1
    done
    it_begin
    it_expect "TAP on br0 while QEMU runs (10 s)" tap0 "$tap"
    it_expect "TUN/TAP devices" tap0 "$(bk_taps)"
    it_expect "tap0 owner" 65534 "$(cat /sys/class/net/tap0/owner 2>/dev/null)"
    it_expect "tap0 mtu" 1400 "$(cat /sys/class/net/tap0/mtu 2>/dev/null)"
    it_expect "tap0 tun_flags (TAP, NO_PI, VNET_HDR)" 0x5002 "$(cat /sys/class/net/tap0/tun_flags 2>/dev/null)"
    it_expect "QEMU running" yes "$(kill -0 "$qemu" 2>/dev/null && echo yes || echo no)"
    it_expect "QEMU's uid" 65534 "$(it_status_field "$qemu" Uid | cut -f1 -d' ')"
    local fds
    fds=$(for fd in /proc/"$qemu"/fd/*; do readlink "$fd"; done 2>/dev/null | grep -c '^/dev/net/tun$')
    it_expect "QEMU's descriptors on /dev/net/tun" 1 "$fds"
    it_end "t-qemu/$name/tap-on-br0-while-qemu-runs"

    kill -TERM "$qemu" 2>/dev/null
    wait "$qemu"
    local rc=$?
    it_begin
    it_expect "QEMU exit status after SIGTERM" 0 "$rc"
    it_expect_no_taps
    it_expect "br0 ports" "" "$(ls /sys/class/net/br0/brif)"
    it_expect "QEMU stdout" "" "$(cat "$out")"
    local stderr
    stderr=$(cat "$err")
    it_expect_match "QEMU stderr (nothing from the helper)" \
        'qemu-system-x86_64: warning: netdev n0 has no peer
qemu-system-x86_64: terminating on signal 15 from pid [0-9]+ \([^)]*\)' "$stderr"
    it_end "t-qemu/$name/tap-gone-after-qemu-exits"
}

# refused_run NAME NETDEV: QEMU must fail at start-up with our message then its own.
refused_run() {
    local name=$1 netdev=$2
    it_begin
    it_run "${NOBODY[@]}" "${QEMU[@]}" -netdev "$netdev"
    it_expect "QEMU exit status" 1 "$IT_RC"
    it_expect "QEMU stdout" "" "$IT_OUT"
    it_expect "QEMU stderr" "$(msg_not_allowed br1)
qemu-system-x86_64: -netdev $netdev: bridge helper failed
" "$IT_ERR"
    [[ $(sed -n 2p <<<"$IT_ERR") == *"bridge helper failed"* ]] ||
        it_problem "expected QEMU's second stderr line to contain 'bridge helper failed', got '$(sed -n 2p <<<"$IT_ERR")'"
    it_expect_no_taps
    it_end "t-qemu/$name/refused"
}

attached_run netdev-bridge "bridge,id=n0,br=br0,helper=$H"
refused_run netdev-bridge "bridge,id=n0,br=br1,helper=$H"
attached_run netdev-tap-helper "tap,id=n0,helper=$H --br=br0"
refused_run netdev-tap-helper "tap,id=n0,helper=$H --br=br1"

# The file-capability copy (needs the 0666 node).
H=$(bk_install "$BK_HELPER" bk-caps caps)
bk_tun_mode 0666
attached_run netdev-bridge-caps-copy "bridge,id=n0,br=br0,helper=$H"
refused_run netdev-bridge-caps-copy "bridge,id=n0,br=br1,helper=$H"

it_summary
