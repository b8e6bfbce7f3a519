#!/bin/bash
# Allowed attach in every install mode: the TAP's properties through the received descriptor
# (bridgekeeper try) and through sysfs/ip while the client holds it; closing the descriptor
# removes the TAP.
#   setuid-nobody-0600  setuid-root copy run by nobody, /dev/net/tun mode 0600 (these machines)
#   setuid-nobody-0666  the same with the usual 0666 node
#   caps-nobody-0666    file-capability copy (cap_net_admin+ep) run by nobody, node 0666
#   setuid-root-0600    root running the setuid copy
set -u
# shellcheck source=Tests/Integration/lib.sh
source "$(dirname "$0")/lib.sh"
bk_enter_sandbox "$@"
it_setup

it_install_helpers
bk_bridge br0 1400
bk_bridge br1 1280
it_acl_text 'allow br0\nallow br1\n'

# held_checks MODE UID USERNAME VNET: while a client holds the TAP, look at it from outside.
held_checks() {
    local mode=$1 uid=$2 user=$3 vnet=$4 dev=/sys/class/net/tap0
    it_begin
    it_expect result attached "$(it_field result)"
    it_expect tap tap0 "$(it_field tap)"
    it_expect helper_exit 0 "$(it_field helper_exit)"
    it_expect helper_stdout_bytes 0 "$(it_field helper_stdout_bytes)"
    it_expect "TUN/TAP devices" tap0 "$(bk_taps)"
    it_expect "sysfs master" br0 "$(basename "$(readlink "$dev/master" 2>/dev/null)")"
    it_expect "sysfs br0/brif" tap0 "$(ls /sys/class/net/br0/brif 2>/dev/null)"
    it_expect "sysfs owner" "$uid" "$(cat "$dev/owner" 2>/dev/null)"
    it_expect "sysfs group" -1 "$(cat "$dev/group" 2>/dev/null)"
    it_expect "sysfs mtu" 1400 "$(cat "$dev/mtu" 2>/dev/null)"
    it_expect "bridge mtu" 1400 "$(cat /sys/class/net/br0/mtu)"
    it_expect_match "sysfs address" 'fe(:[0-9a-f]{2}){5}' "$(cat "$dev/address" 2>/dev/null)"
    local flags tun_flags
    flags=$(cat "$dev/flags" 2>/dev/null || echo 0)
    it_expect "IFF_UP in sysfs flags ($flags)" 1 $((flags & 1))
    # IFF_TAP 0x0002 | IFF_NO_PI 0x1000 (| IFF_VNET_HDR 0x4000); no IFF_PERSIST 0x0800.
    tun_flags=$([ "$vnet" = 1 ] && echo 0x5002 || echo 0x1002)
    it_expect "sysfs tun_flags" "$tun_flags" "$(cat "$dev/tun_flags" 2>/dev/null)"
    local link first tun_line
    link=$(ip -d link show tap0 2>&1)
    first=$(printf '%s\n' "$link" | head -n 1)
    [[ $first == *" master br0 "* ]] || it_problem "expected 'ip -d link show tap0' to say 'master br0', got '$(it_show "$first")'"
    printf '%s\n' "$link" | grep -q '^    bridge_slave ' ||
        it_problem "expected 'ip -d link show tap0' to show a bridge_slave line, got '$(it_show "$link")'"
    tun_line=$(printf '%s\n' "$link" | sed -n 's/^    \(tun .*\)/\1/p' | sed 's/ *$//')
    it_expect "ip -d tun line" "tun type tap pi off vnet_hdr $([ "$vnet" = 1 ] && echo on || echo off) persist off user $user" "$tun_line"
    it_expect "ip link show master br0" tap0 "$(ip -o link show master br0 | awk -F': ' '{print $2}' | sed 's/@.*//')"
    it_end "t-attach/$mode/held-$([ "$vnet" = 1 ] && echo vnet || echo no-vnet)/visible-from-outside"
}

run_mode() {
    local mode=$1 helper=$2 tun=$3 uid=$4 user=$5
    shift 5
    local as=("$@")
    bk_tun_mode "$tun"
    it_check "t-attach/$mode/vnet" attached "" tap=tap0 bridge=br0 vnet_hdr=1 mtu=1400 owner="$uid" -- \
        "${as[@]}" "$CLI" try --helper "$helper" --br br0
    it_check "t-attach/$mode/no-vnet" attached "" tap=tap0 bridge=br0 vnet_hdr=0 mtu=1400 owner="$uid" -- \
        "${as[@]}" "$CLI" try --helper "$helper" --br br0 --no-vnet
    it_check "t-attach/$mode/mtu-copied-from-br1" attached "" tap=tap0 bridge=br1 vnet_hdr=1 mtu=1280 owner="$uid" -- \
        "${as[@]}" "$CLI" try --helper "$helper" --br br1
    # QEMU's own argument order and form (execv of PATH --use-vnet --fd=N --br=BR).
    it_check "t-attach/$mode/qemu-argv-order" attached "" tap=tap0 bridge=br0 vnet_hdr=1 mtu=1400 owner="$uid" -- \
        "${as[@]}" "$CLI" try --helper "$helper" -- --use-vnet '--fd={fd}' --br=br0

    local vnet
    for vnet in 1 0; do
        local extra=()
        [ "$vnet" = 1 ] || extra=(--no-vnet)
        it_hold_start "${as[@]}" "$CLI" try --helper "$helper" --br br0 --hold-until-eof "${extra[@]}"
        held_checks "$mode" "$uid" "$user" "$vnet"
        it_hold_stop
        it_begin
        it_expect "client exit status" 0 "$IT_RC"
        it_expect "stderr" "" "$IT_ERR"
        it_expect_no_taps
        [ ! -e /sys/class/net/tap0 ] || it_problem "expected /sys/class/net/tap0 gone, got it present"
        it_expect "br0 ports" "" "$(ls /sys/class/net/br0/brif)"
        it_end "t-attach/$mode/held-$([ "$vnet" = 1 ] && echo vnet || echo no-vnet)/closing-the-fd-removes-the-tap"
    done
}

run_mode setuid-nobody-0600 "$H_SETUID" 0600 65534 nobody "${NOBODY[@]}"
run_mode setuid-nobody-0666 "$H_SETUID" 0666 65534 nobody "${NOBODY[@]}"
run_mode caps-nobody-0666 "$H_CAPS" 0666 65534 nobody "${NOBODY[@]}"
run_mode setuid-root-0600 "$H_SETUID" 0600 0 root "${AS_ROOT[@]}"

# Two TAPs at once: each is its own port, and closing one removes only that one.
bk_tun_mode 0600
it_hold_start "${NOBODY[@]}" "$CLI" try --helper "$H_SETUID" --br br0 --hold-until-eof
first_pid=$IT_HOLD_PID first_fd=$IT_HOLD_FD first_out=$IT_OUT
mv "$BK_SCRATCH/hold.err" "$BK_SCRATCH/hold1.err"
it_hold_start "${NOBODY[@]}" "$CLI" try --helper "$H_SETUID" --br br0 --hold-until-eof
it_begin
it_expect "first tap" tap0 "$(IT_OUT=$first_out it_field tap)"
it_expect "second tap" tap1 "$(it_field tap)"
ports=(/sys/class/net/br0/brif/*)
it_expect "br0 ports" "tap0 tap1" "$(basename -a "${ports[@]}" | paste -sd ' ')"
it_end "t-attach/two-taps/both-attached"
it_hold_close "$first_fd"
wait "$first_pid"
first_rc=$?
it_begin
it_expect "first client exit status" 0 "$first_rc"
it_expect "TUN/TAP devices" tap1 "$(bk_taps)"
it_expect "br0 ports" tap1 "$(ls /sys/class/net/br0/brif)"
it_end "t-attach/two-taps/closing-one-removes-only-that-one"
it_hold_stop
it_begin
it_expect "second client exit status" 0 "$IT_RC"
it_expect "stderr" "" "$IT_ERR$(cat "$BK_SCRATCH/hold1.err")"
it_expect_no_taps
it_end "t-attach/two-taps/closing-the-other-removes-it-too"

# The client prints its result line before holding the TAP; a script (or this suite) reading it
# through a pipe or file must see it while the TAP is held, not only after the client exits.
# Sources/bridgekeeper/Bridgekeeper.swift calls FileHandle.standardOutput.synchronizeFile()
# (fsync) after print() instead of fflush(stdout), so this fails until the client flushes.
IT_HOLD_WAIT=3 it_hold_start --no-stdbuf "${NOBODY[@]}" "$CLI" try --helper "$H_SETUID" --br br0 --hold-until-eof
it_begin
it_expect "TUN/TAP devices while held" tap0 "$(bk_taps)"
it_expect_match "result line while held (3 s after start, stdout a file)" 'result=attached .*' "$IT_OUT"
it_hold_stop
it_expect "client exit status" 0 "$IT_RC"
it_expect_no_taps
it_end "t-attach/client-prints-result-line-before-holding"

it_summary
