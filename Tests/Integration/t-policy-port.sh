#!/bin/bash
# Port options of the granting rule on this machine's kernel, in the three modes (issue 10):
# - `vlan=N` on a bridge without VLAN filtering (this kernel cannot turn it on; on one that can,
#   the bridge is simply left at 0) is refused with the exact line and no TAP is left;
# - `isolated`: the held TAP's port reads back `isolated on` from the kernel (bridge -d link
#   show), a rule without it leaves the flag off; on a kernel without port isolation the
#   request is refused loudly, never attached silently.
# When this kernel can filter VLANs, a `vlan=20` TAP is also checked here (PVID 20 untagged, no
# default VID); the frame-level VLAN checks run in the guest kernel (Tests/Guest/kernel-devices.sh).
set -u
# shellcheck source=Tests/Integration/lib.sh
source "$(dirname "$0")/lib.sh"
bk_enter_sandbox "$@"
it_setup
it_install_helpers

bk_bridge br0
bk_bridge br1

# vlan_filtering of BRIDGE as `ip -d link` reports it (0 when the kernel does not say).
filtering() { ip -d link show dev "$1" | grep -o 'vlan_filtering [01]' | cut -d' ' -f2 | grep . || echo 0; }
# isolated of PORT as `bridge -d link show` reports it: on, off, or absent.
isolated_flag() { bridge -d link show dev "$1" | grep -o 'isolated o[nf]*' | cut -d' ' -f2 | grep . || echo absent; }

# What this kernel can do, probed on a scratch bridge and veth inside the sandbox.
ip link add brprobe type bridge
ip link add vprobe0 type veth peer name vprobe1
ip link set vprobe0 master brprobe
HAS_FILTERING=0 HAS_ISOLATED=0
ip link set brprobe type bridge vlan_filtering 1 2>/dev/null && [ "$(filtering brprobe)" = 1 ] && HAS_FILTERING=1
bridge link set dev vprobe0 isolated on 2>/dev/null && [ "$(isolated_flag vprobe0)" = on ] && HAS_ISOLATED=1
ip link del vprobe0
ip link del brprobe
echo "# kernel $(uname -r): VLAN filtering $([ $HAS_FILTERING = 1 ] && echo available || echo unavailable), port isolation $([ $HAS_ISOLATED = 1 ] && echo available || echo unavailable)"

it_begin
it_expect "br0 vlan_filtering" 0 "$(filtering br0)"
it_end t-policy-port/precondition/br0-does-not-filter

MSG_FILTERING_OFF="bridge 'br0' does not filter VLANs (vlan_filtering is 0), so the rule's vlan=20 would not be enforced; no TAP was created (an administrator can turn filtering on: ip link set br0 type bridge vlan_filtering 1)"
MSG_NO_ISOLATION="the kernel does not report port isolation for tap0 on bridge 'br1' (it needs Linux 4.18 or later), so the rule's isolated cannot be enforced; no TAP was left"

for mode in $IT_MODES; do
    it_mode "$mode"
    it_reset_etc_qemu
    it_acl_text '# VLAN 20 for everyone on br0\nallow br0 vlan=20\n'
    it_check "t-policy-port/$LABEL/vlan-on-a-non-filtering-bridge" refused "$MSG_FILTERING_OFF" -- \
        "${AS[@]}" "$CLI" try --helper "$HELPER" --br br0
    it_reset_etc_qemu
    it_acl_text 'allow br0 vlan=20 isolated\n'
    it_check "t-policy-port/$LABEL/vlan-and-isolated-on-a-non-filtering-bridge" refused "$MSG_FILTERING_OFF" -- \
        "${AS[@]}" "$CLI" try --helper "$HELPER" --br br0

    # isolated: held, then the flag as the kernel reports it; a rule without it leaves it off.
    it_reset_etc_qemu
    it_acl_text 'allow br1 isolated\nallow br0\n'
    if [ "$HAS_ISOLATED" = 1 ]; then
        it_hold_start "${AS[@]}" "$CLI" try --helper "$HELPER" --br br1 --hold-until-eof
        it_begin
        it_expect result attached "$(it_field result)"
        it_expect tap tap0 "$(it_field tap)"
        it_expect "tap0 master" br1 "$(basename "$(readlink /sys/class/net/tap0/master 2>/dev/null)")"
        it_expect "tap0 isolated (bridge -d link show)" on "$(isolated_flag tap0)"
        it_expect "tap0 isolated (ip -d link show)" "isolated on" "$(ip -d link show dev tap0 | grep -o 'isolated o[nf]*')"
        it_hold_stop
        it_expect "client exit status" 0 "$IT_RC"
        it_expect stderr "" "$IT_ERR"
        it_expect_no_taps
        it_end "t-policy-port/$LABEL/isolated-is-set-and-read-back"

        it_hold_start "${AS[@]}" "$CLI" try --helper "$HELPER" --br br0 --hold-until-eof
        it_begin
        it_expect result attached "$(it_field result)"
        it_expect "tap0 isolated without the option" off "$(isolated_flag tap0)"
        it_hold_stop
        it_expect "client exit status" 0 "$IT_RC"
        it_expect_no_taps
        it_end "t-policy-port/$LABEL/no-isolated-option-leaves-the-flag-off"
    else
        it_check "t-policy-port/$LABEL/isolated-without-kernel-support-is-refused" refused "$MSG_NO_ISOLATION" -- \
            "${AS[@]}" "$CLI" try --helper "$HELPER" --br br1
    fi

    if [ "$HAS_FILTERING" = 1 ]; then
        ip link add brv type bridge vlan_filtering 1
        ip link set brv up
        it_reset_etc_qemu
        it_acl_text 'allow brv vlan=20\n'
        it_hold_start "${AS[@]}" "$CLI" try --helper "$HELPER" --br brv --hold-until-eof
        it_begin
        it_expect result attached "$(it_field result)"
        it_expect "tap0 VLANs (bridge -j vlan show)" '[{"ifname":"tap0","vlans":[{"vlan":20,"flags":["PVID","Egress Untagged"]}]}]' \
            "$(bridge -j vlan show dev tap0)"
        it_hold_stop
        it_expect "client exit status" 0 "$IT_RC"
        it_expect_no_taps
        it_end "t-policy-port/$LABEL/vlan-pvid-untagged-and-no-default"
        ip link del brv
    fi
done

it_summary
