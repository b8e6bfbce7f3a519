#!/bin/bash
# Every refusal: exit 1, the exact one-line message on stderr, nothing on stdout, no TAP left.
# The table runs in lib.sh's three modes (IT_MODES, it_mode); cases that depend on who reads the
# ACL run where they make sense. Everything runs under `timeout 10` (a FIFO must not hang us).
set -u
# shellcheck source=Tests/Integration/lib.sh
source "$(dirname "$0")/lib.sh"
bk_enter_sandbox "$@"
it_setup

it_install_helpers
H_PLAIN=$(bk_install "$BK_HELPER" bk-plain plain)
bk_bridge br0 1400
bk_bridge br1
ip link add veth0 type veth peer name veth1
ip link set veth0 up
# A bridge whose MTU no TAP can take (tun's maximum is 65521): the failure comes after the TAP
# was created, so this exercises the clean-up path.
ip link add brbig type bridge
ip link set brbig mtu 65535
ip link set brbig up

CONF=/etc/qemu/bridge.conf
LONG16=abcdefghijklmnop  # 16 bytes: one too many
LONG15=abcdefghijklmno   # 15 bytes: the longest name, accepted (and then not found)

# ACL scenarios: each function leaves /etc/qemu in a known state.
acl_allow_br0() { it_reset_etc_qemu; it_acl_text 'allow br0\n'; }
acl_allow_all() { it_reset_etc_qemu; it_acl_text 'allow all\n'; }
acl_deny_br0() { it_reset_etc_qemu; it_acl_text 'allow br0\ndeny br0\n'; }
acl_deny_all() { it_reset_etc_qemu; it_acl_text 'deny all\nallow br0\n'; }
acl_deny_in_include() {
    it_reset_etc_qemu
    it_acl_text 'allow all\ninclude /etc/qemu/deny.conf\n'
    it_acl_text '# per-site\n\ndeny br0\n' /etc/qemu/deny.conf
}
acl_only_br1() { it_reset_etc_qemu; it_acl_text 'allow br1\n'; }
acl_empty() { it_reset_etc_qemu; it_acl_text ''; }
acl_syntax_top() { it_reset_etc_qemu; it_acl_text 'allow br0\nAllow br0\n'; }
acl_syntax_include() {
    it_reset_etc_qemu
    it_acl_text 'allow br0\ninclude /etc/qemu/inc.conf\n'
    it_acl_text 'allow br1\nallow br0 br1\ndeny br0\n' /etc/qemu/inc.conf
}
acl_qualifier() { it_reset_etc_qemu; it_acl_text 'allow br0 user=alice owner=bob\n'; }
acl_nul() { it_reset_etc_qemu; it_acl_text 'allow br0\0 junk\n'; }
acl_long_name() { it_reset_etc_qemu; it_acl_text "allow $LONG16\n"; }
acl_cycle() {
    it_reset_etc_qemu
    it_acl_text 'allow br0\ninclude /etc/qemu/a.conf\n'
    it_acl_text 'include /etc/qemu/b.conf\n' /etc/qemu/a.conf
    it_acl_text 'include /etc/qemu/a.conf\n' /etc/qemu/b.conf
}
acl_self_include() { it_reset_etc_qemu; it_acl_text 'allow br0\ninclude /etc/qemu/bridge.conf\n'; }
acl_relative() { it_reset_etc_qemu; it_acl_text 'include users.conf\nallow br0\n'; }
acl_dotdot() { it_reset_etc_qemu; it_acl_text 'allow br0\ninclude /etc/qemu/../qemu/x.conf\n'; }
acl_user_owned_top() { it_reset_etc_qemu; it_acl_text 'allow br0\n'; chown 65534 "$CONF"; }
acl_user_owned_include() {
    it_reset_etc_qemu
    it_acl_text 'include /etc/qemu/user.conf\n'
    it_acl_text 'allow br0\n' /etc/qemu/user.conf
    chown 65534:65534 /etc/qemu/user.conf
}
acl_group_writable_include() {
    it_reset_etc_qemu
    it_acl_text 'allow br0\ninclude /etc/qemu/gw.conf\n'
    it_acl_text 'deny br0\n' /etc/qemu/gw.conf
    chmod 0664 /etc/qemu/gw.conf
}
acl_world_writable_dir() { it_reset_etc_qemu; it_acl_text 'allow br0\n'; chmod 0777 /etc/qemu; }
acl_user_owned_subdir() {
    it_reset_etc_qemu
    it_acl_text 'allow all\ninclude /etc/qemu/d/deny.conf\n'
    mkdir -m 0755 /etc/qemu/d
    it_acl_text 'deny br0\n' /etc/qemu/d/deny.conf
    chown 65534 /etc/qemu/d
}
acl_symlink_top() {
    it_reset_etc_qemu
    it_acl_text 'allow br0\n' /etc/qemu/real.conf
    ln -s /etc/qemu/real.conf "$CONF"
}
acl_symlink_include() {
    it_reset_etc_qemu
    it_acl_text 'allow br0\ninclude /etc/qemu/link.conf\n'
    it_acl_text 'deny br0\n' /etc/qemu/real.conf
    ln -s /etc/qemu/real.conf /etc/qemu/link.conf
}
acl_fifo_include() {
    it_reset_etc_qemu
    it_acl_text 'allow br0\ninclude /etc/qemu/fifo\n'
    mkfifo -m 0644 /etc/qemu/fifo
}
acl_fifo_top() { it_reset_etc_qemu; mkfifo -m 0644 "$CONF"; }
acl_dir_include() {
    it_reset_etc_qemu
    it_acl_text 'allow br0\ninclude /etc/qemu/dir\n'
    mkdir -m 0755 /etc/qemu/dir
}
acl_devnull_include() { it_reset_etc_qemu; it_acl_text 'allow br0\ninclude /dev/null\n'; }
acl_missing_top() { it_reset_etc_qemu; }
acl_unreadable_top() { it_reset_etc_qemu; it_acl_text 'allow br0\n'; chmod 0600 "$CONF"; }
acl_huge() {
    it_reset_etc_qemu
    { printf 'allow br0\n'; head -c $((1024 * 1024)) /dev/zero | tr '\0' '#'; printf '\n'; } | bk_acl
}
acl_too_deep() {
    it_reset_etc_qemu
    it_acl_text 'allow br0\ninclude /etc/qemu/d1.conf\n'
    local i
    for ((i = 1; i <= 17; i++)); do it_acl_text "include /etc/qemu/d$((i + 1)).conf\n" "/etc/qemu/d$i.conf"; done
    it_acl_text 'allow br1\n' /etc/qemu/d18.conf
}
acl_missing_include() { it_reset_etc_qemu; it_acl_text 'include /etc/qemu/absent.conf\nallow br0\ninclude /etc/qemu/nodir/x.conf\n'; }
acl_unreadable_include() {
    it_reset_etc_qemu
    it_acl_text 'allow br0\ninclude /etc/qemu/private.conf\n'
    it_acl_text 'deny br0\n' /etc/qemu/private.conf
    chmod 0600 /etc/qemu/private.conf
}

# The table: SCENARIO|MODES|BRIDGE-OR-ARGS|EXPECTED-STDERR. MODES is a subset of "s c r"
# (setuid/nobody, caps/nobody, root). BRIDGE-OR-ARGS is a bridge name, or "-- ARGS..." for an
# explicit helper command line ({fd} is the socket).
CASES=(
"acl_deny_br0|s c r|br0|$(msg_denied /etc/qemu/bridge.conf:2 'deny br0' br0)"
"acl_deny_all|s c r|br0|$(msg_denied /etc/qemu/bridge.conf:1 'deny all' br0)"
"acl_deny_in_include|s c r|br0|$(msg_denied /etc/qemu/deny.conf:3 'deny br0' br0)"
"acl_only_br1|s c r|br0|$(msg_not_allowed br0)"
"acl_empty|s c r|br0|$(msg_not_allowed br0)"
"acl_allow_all|s c r|br9|$(msg_missing_bridge br9)"
"acl_allow_all|s c r|$LONG15|$(msg_missing_bridge "$LONG15")"
"acl_allow_all|s c r|lo|$(msg_not_bridge lo unknown)"
"acl_allow_all|s c r|veth0|$(msg_not_bridge veth0 veth)"
"acl_allow_all|s c r|brbig|setting the MTU of tap0 to 65535: Invalid argument; no TAP was left"
"acl_allow_br0|s c r|-- --bogus --br=br0 --fd={fd}|$MSG_USAGE"
"acl_allow_br0|s c r|-- --use-vnet --fd={fd}|$MSG_USAGE"
"acl_allow_br0|s c r|-- --use-vnet --br=br0|$MSG_USAGE"
"acl_allow_br0|s c r|-- --use-vnet --br=br0 --fd={fd} extra|$MSG_USAGE"
"acl_allow_br0|s c r|-- --use-vnet --br=br0 --fd=abc|$(msg_bad_fd abc)"
"acl_allow_br0|s c r|-- --use-vnet --br=br0 --fd=3junk|$(msg_bad_fd 3junk)"
"acl_allow_br0|s c r|-- --use-vnet --br=br0 --fd=-1|$(msg_bad_fd -1)"
"acl_allow_br0|s c r|-- --use-vnet --br=br0 --fd=+3|$(msg_bad_fd +3)"
"acl_allow_br0|s c r|-- --use-vnet --br=br0 --fd=|$(msg_bad_fd '')"
"acl_allow_br0|s c r|-- --use-vnet --br=br0 --fd=99999999999|$(msg_bad_fd 99999999999)"
"acl_allow_br0|s c r|-- --use-vnet --br=br0 --fd=0|--fd=0 is not a socket (expected the AF_UNIX socket QEMU passes)"
"acl_allow_br0|s c r|-- --use-vnet --br=br0 --fd=1000|--fd=1000 is not an open file descriptor"
"acl_allow_br0|s c r|$LONG16|bridge name '$LONG16' is too long: 16 bytes (at most 15)"
"acl_long_name|s c r|$LONG16|bridge name '$LONG16' is too long: 16 bytes (at most 15)"
"acl_allow_all|s c r|a/b|bridge name 'a/b' is not a valid interface name: it contains '/'"
"acl_allow_all|s c r|-- --use-vnet --br= --fd={fd}|bridge name '' is empty"
"acl_allow_all|s c r|..|bridge name '..' is not a valid interface name: '.' and '..' are reserved"
"acl_allow_all|s c r|br0:1|bridge name 'br0:1' is not a valid interface name: it contains ':'"
"acl_syntax_top|s c r|br0|access denied by acl file: /etc/qemu/bridge.conf:2: unknown keyword 'Allow' (expected allow, deny, include or a # comment)"
"acl_syntax_include|s c r|br0|access denied by acl file: /etc/qemu/inc.conf:2: unexpected 'br1' after the bridge name (one bridge per rule)"
"acl_qualifier|s c r|br0|access denied by acl file: /etc/qemu/bridge.conf:1: unknown qualifier 'owner' (expected user=, uid=, group=, gid=, max=, vlan= or isolated)"
"acl_nul|s c r|br0|access denied by acl file: /etc/qemu/bridge.conf:1: the line contains a NUL byte"
"acl_long_name|s c r|br0|access denied by acl file: /etc/qemu/bridge.conf:1: bridge name '$LONG16' is too long: 16 bytes (at most 15)"
"acl_cycle|s c r|br0|access denied by acl file: /etc/qemu/b.conf:1: include cycle: /etc/qemu/a.conf is already being read"
"acl_self_include|s c r|br0|access denied by acl file: /etc/qemu/bridge.conf:2: include cycle: /etc/qemu/bridge.conf is already being read"
"acl_relative|s c r|br0|access denied by acl file: /etc/qemu/bridge.conf:1: include path 'users.conf' is relative; write an absolute path"
"acl_dotdot|s c r|br0|access denied by acl file: /etc/qemu/bridge.conf:2: include refused: /etc/qemu/../qemu/x.conf: '.' and '..' are not allowed in ACL paths"
"acl_user_owned_top|s c r|br0|access denied by acl file: /etc/qemu/bridge.conf is owned by uid 65534, not root; ACL files and their directories must be root's"
"acl_user_owned_include|s c r|br0|access denied by acl file: /etc/qemu/bridge.conf:1: include refused: /etc/qemu/user.conf is owned by uid 65534, not root; ACL files and their directories must be root's"
"acl_group_writable_include|s c r|br0|access denied by acl file: /etc/qemu/bridge.conf:2: include refused: /etc/qemu/gw.conf is writable by group or others (mode 0664); run chmod go-w on it"
"acl_world_writable_dir|s c r|br0|access denied by acl file: /etc/qemu is writable by group or others (mode 0777); run chmod go-w on it"
"acl_user_owned_subdir|s c r|br0|access denied by acl file: /etc/qemu/bridge.conf:2: include refused: /etc/qemu/d is owned by uid 65534, not root; ACL files and their directories must be root's"
"acl_symlink_top|s c r|br0|access denied by acl file: /etc/qemu/bridge.conf is a symbolic link; ACL paths must name the real file"
"acl_symlink_include|s c r|br0|access denied by acl file: /etc/qemu/bridge.conf:2: include refused: /etc/qemu/link.conf is a symbolic link; ACL paths must name the real file"
"acl_fifo_include|s c r|br0|access denied by acl file: /etc/qemu/bridge.conf:2: include refused: /etc/qemu/fifo is not a regular file"
"acl_fifo_top|s c r|br0|access denied by acl file: /etc/qemu/bridge.conf is not a regular file"
"acl_dir_include|s c r|br0|access denied by acl file: /etc/qemu/bridge.conf:2: include refused: /etc/qemu/dir is not a regular file"
"acl_devnull_include|s c r|br0|access denied by acl file: /etc/qemu/bridge.conf:2: include refused: /dev/null is not a regular file"
"acl_huge|s c r|br0|access denied by acl file: /etc/qemu/bridge.conf is larger than 1048576 bytes"
"acl_too_deep|s c r|br0|access denied by acl file: /etc/qemu/d16.conf:1: includes are nested more than 16 levels deep"
"acl_missing_top|s c r|br0|access denied by acl file: /etc/qemu/bridge.conf does not exist or is not readable by this user"
"acl_unreadable_top|s c|br0|access denied by acl file: /etc/qemu/bridge.conf does not exist or is not readable by this user"
"acl_unreadable_include|r|br0|$(msg_denied /etc/qemu/private.conf:1 'deny br0' br0)"
)

# run_case SCENARIO MODE BRIDGE-OR-ARGS EXPECT STDERR [FIELDS...]
run_case() {
    local scenario=$1 mode=$2 target=$3 expect=$4 stderr=$5
    shift 5
    local args
    it_mode "$mode"
    "$scenario"
    if [[ $target == "-- "* ]]; then
        read -r -a args <<<"${target#-- }"
        [ "$target" != "-- --use-vnet --br= --fd={fd}" ] || args=(--use-vnet --br= '--fd={fd}')
        args=(-- "${args[@]}")
    else
        args=(--br "$target")
    fi
    local shown=$target
    [[ $shown != "-- "* ]] || shown="argv=${shown#-- }"
    shown=${shown// /_}
    shown=${shown//\//%2f}
    shown=${shown//:/%3a}
    it_check "t-refusals/$LABEL/${scenario#acl_}/$shown" "$expect" "$stderr" "$@" -- \
        "${AS[@]}" "$CLI" try --helper "$HELPER" "${args[@]}"
}

for row in "${CASES[@]}"; do
    IFS='|' read -r scenario modes target stderr <<<"$row"
    for mode in $modes; do run_case "$scenario" "$mode" "$target" refused "$stderr"; done
done

# Skipped includes: a missing one (file or directory) and one the caller cannot read are
# skipped silently, exactly alike; the request is then decided by the rest (attached).
for mode in $IT_MODES; do
    run_case acl_missing_include "$mode" br0 attached "" bridge=br0
done
for mode in s c; do
    run_case acl_unreadable_include "$mode" br0 attached "" bridge=br0 owner=65534
done

# Without privilege: a plain copy, and the file-capability copy with the 0600 node.
bk_tun_mode 0600
acl_allow_br0
it_check t-refusals/plain-copy-nobody/no-privilege refused "$MSG_NO_PRIVILEGE" -- \
    "${NOBODY[@]}" "$CLI" try --helper "$H_PLAIN" --br br0
it_check t-refusals/caps-nobody-0600/tun-permission-denied refused "$MSG_TUN_CAPS" -- \
    "${NOBODY[@]}" "$CLI" try --helper "$H_CAPS" --br br0
# The node is not the tun device (a bind mount of something else over /dev/net/tun). The
# helper refuses (right), but LinuxPlatform.openTun's default branch prints only the errno
# ("cannot open /dev/net/tun: No such device"), dropping the reason TunControl.open gave; the
# expected text below is that reason (SystemError.description) after the prefix.
mknod -m 0666 "$BK_SCRATCH/null" c 1 3
it_mount /dev/net/tun --bind "$BK_SCRATCH/null"
it_check t-refusals/setuid-nobody/tun-node-is-not-10-200 refused \
    "cannot open /dev/net/tun: /dev/net/tun is not the tun character device (10:200): No such device" -- \
    "${NOBODY[@]}" "$CLI" try --helper "$H_SETUID" --br br0
umount /dev/net/tun

# A refusal for one user does not affect the next request (nothing left behind): attach now.
acl_allow_br0
it_check t-refusals/setuid-nobody/attach-after-refusals attached "" bridge=br0 owner=65534 -- \
    "${NOBODY[@]}" "$CLI" try --helper "$H_SETUID" --br br0

it_summary
