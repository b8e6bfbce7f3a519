#!/bin/bash
# Differential: one table of ACL files and requests, run through the stock
# /usr/lib/qemu/qemu-bridge-helper and through ours, both installed setuid root and run by
# nobody with /dev/net/tun 0666 (stock opens it after dropping privileges). The outcome compared
# is: attached (bridge, vnet_hdr, MTU, up) or refused. Ordinary files give identical outcomes;
# the contract's intentional divergences (contract.md §3, §5) are rows of their own, each
# asserting stock's outcome and ours. Every run also asserts the exact stderr, nothing on
# stdout, no TAP left afterwards. A table of all rows is printed at the end.
set -u
# shellcheck source=Tests/Integration/lib.sh
source "$(dirname "$0")/lib.sh"
bk_enter_sandbox "$@"
it_setup
it_require_exe stock-helper "$BK_STOCK" || it_abort

OURS=$(bk_install "$BK_HELPER" ours setuid)
STOCK=$(bk_install "$BK_STOCK" stock setuid)
bk_bridge br0 1400
bk_bridge br1 1280
LONG15=b23456789012345
LONG16=abcdefghijklmnop
bk_bridge "$LONG15"
ip link add brdown type bridge  # left down
ip link add brbig type bridge   # an MTU no TAP can take (tun's maximum is 65521)
ip link set brbig mtu 65535
ip link set brbig up
ip link add veth0 type veth peer name veth1
ip link set veth0 up

# A caller-owned working directory holding a file the caller wrote (for the relative include).
CWD=$BK_SCRATCH/cwd
mkdir -m 0755 "$CWD"
printf 'allow br0\n' >"$CWD/users.conf"
chown 65534:65534 "$CWD/users.conf"

# ACL set-ups.
acl() { it_reset_etc_qemu; it_acl_text "$1"; }
inc() { it_acl_text "$1" "/etc/qemu/$2"; }
s_allow_br0() { acl 'allow br0\n'; }
s_allow_all() { acl 'allow all\n'; }
s_allow_br1() { acl 'allow br1\n'; }
s_empty() { acl ''; }
s_comments() { acl '# bridges for the lab\n\n   # indented comment\n\t\nallow br0\n# end\n'; }
s_deny_after() { acl 'allow all\ndeny br0\n'; }
s_deny_before() { acl 'deny br0\nallow all\n'; }
s_deny_all() { acl 'deny all\nallow br0\n'; }
s_crlf() { acl 'allow br1\r\nallow br0\r\n'; }
s_spaces() { acl '   allow br0   \n\tallow br1\n'; }
s_ALL() { acl 'allow ALL\n'; }
s_BR0() { acl 'allow BR0\n'; }
s_include_allow() { acl 'include /etc/qemu/inc.conf\n'; inc 'allow br0\n' inc.conf; }
s_include_deny() { acl 'allow all\ninclude /etc/qemu/inc.conf\n'; inc 'deny br0\n' inc.conf; }
s_missing_include() { acl 'include /etc/qemu/none.conf\nallow br0\n'; }
s_unreadable_include() {
    acl 'allow br0\ninclude /etc/qemu/private.conf\n'
    inc 'deny br0\n' private.conf
    chmod 0600 /etc/qemu/private.conf
}
s_group_include() {
    acl 'include /etc/qemu/lab.conf\n'
    inc 'allow br0\n' lab.conf
    chgrp 100 /etc/qemu/lab.conf
    chmod 0640 /etc/qemu/lab.conf
}
s_nested() {
    acl 'include /etc/qemu/a.conf\n'
    inc 'include /etc/qemu/b.conf\n' a.conf
    inc '# deepest\nallow br0\n' b.conf
}
s_syntax_top() { acl 'allow br1\nAllow br0\n'; }
s_missing_top() { it_reset_etc_qemu; }
s_long15() { acl "allow $LONG15\n"; }
s_qualifier() { acl 'allow br0 user=nobody\n'; }
# Divergences.
s_include_syntax_then_deny() { acl 'allow br0\ninclude /etc/qemu/inc.conf\n'; inc 'bogus line\ndeny br0\n' inc.conf; }
s_trailing_comment() { acl 'allow br0 # lab\n'; }
s_tab_after_keyword() { acl 'allow\t br0\n'; }
s_user_owned_include() {
    acl 'include /etc/qemu/user.conf\n'
    inc 'allow br0\n' user.conf
    chown 65534:65534 /etc/qemu/user.conf
}
s_relative_include() { acl 'include users.conf\n'; }
s_long_line() {
    it_reset_etc_qemu
    # 4095 bytes of comment, then `allow br0` on the same line: stock's fgets(4096) ends the
    # first read there and parses the tail as a line of its own.
    { printf '#'; head -c 4094 /dev/zero | tr '\0' x; printf 'allow br0\n'; } | bk_acl
}
s_cycle() { acl 'include /etc/qemu/a.conf\nallow br0\n'; inc 'include /etc/qemu/bridge.conf\n' a.conf; }
s_nul() { acl 'allow br0\0 junk\n'; }

A0="attached bridge=br0 vnet_hdr=1 mtu=1400 up=1"
A0NV="attached bridge=br0 vnet_hdr=0 mtu=1400 up=1"
A1="attached bridge=br1 vnet_hdr=1 mtu=1280 up=1"
R=refused
STOCK_DENIED="access denied by acl file"
STOCK_PARSE="failed to parse default acl file \`/etc/qemu/bridge.conf'"
OURS_RELATIVE="access denied by acl file: /etc/qemu/bridge.conf:1: include path 'users.conf' is relative; write an absolute path"

# NAME | KIND | SETUP | REQUEST | OURS OUTCOME | OURS STDERR | STOCK OUTCOME | STOCK STDERR
# KIND: same (outcomes must be identical) or diverge. REQUEST: a bridge, "novnet BRIDGE",
# "tun0600 BRIDGE", "cwd BRIDGE" (run from a caller-owned directory) or "-- ARGV" ({fd} = the
# socket). Stderr: lines separated by \n; "re:" makes it an anchored regular expression.
ROWS=(
"allow-br0|same|s_allow_br0|br0|$A0||$A0|"
"allow-br0-no-vnet|same|s_allow_br0|novnet br0|$A0NV||$A0NV|"
"allow-all-br1-mtu-1280|same|s_allow_all|br1|$A1||$A1|"
"only-br1-ask-br0|same|s_allow_br1|br0|$R|$(msg_not_allowed br0)|$R|$STOCK_DENIED"
"empty-file|same|s_empty|br0|$R|$(msg_not_allowed br0)|$R|$STOCK_DENIED"
"comments-and-blank-lines|same|s_comments|br0|$A0||$A0|"
"deny-after-allow-all|same|s_deny_after|br0|$R|$(msg_denied /etc/qemu/bridge.conf:2 'deny br0' br0)|$R|$STOCK_DENIED"
"deny-before-allow-all|same|s_deny_before|br0|$R|$(msg_denied /etc/qemu/bridge.conf:1 'deny br0' br0)|$R|$STOCK_DENIED"
"deny-br0-ask-br1|same|s_deny_after|br1|$A1||$A1|"
"deny-all|same|s_deny_all|br0|$R|$(msg_denied /etc/qemu/bridge.conf:1 'deny all' br0)|$R|$STOCK_DENIED"
"crlf-line-ends|same|s_crlf|br0|$A0||$A0|"
"surrounding-whitespace|same|s_spaces|br0|$A0||$A0|"
"leading-tab|same|s_spaces|br1|$A1||$A1|"
"ALL-is-a-bridge-name|same|s_ALL|br0|$R|$(msg_not_allowed br0)|$R|$STOCK_DENIED"
"names-are-case-sensitive|same|s_BR0|br0|$R|$(msg_not_allowed br0)|$R|$STOCK_DENIED"
"include-allows|same|s_include_allow|br0|$A0||$A0|"
"include-denies|same|s_include_deny|br0|$R|$(msg_denied /etc/qemu/inc.conf:1 'deny br0' br0)|$R|$STOCK_DENIED"
"missing-include-skipped|same|s_missing_include|br0|$A0||$A0|"
"unreadable-include-skipped|same|s_unreadable_include|br0|$A0||$A0|"
"group-include-not-a-member|same|s_group_include|br0|$R|$(msg_not_allowed br0)|$R|$STOCK_DENIED"
"nested-includes|same|s_nested|br0|$A0||$A0|"
"syntax-error-top-level|same|s_syntax_top|br1|$R|access denied by acl file: /etc/qemu/bridge.conf:2: unknown keyword 'Allow' (expected allow, deny, include or a # comment)|$R|Unknown command \`Allow'\n$STOCK_PARSE"
"missing-top-level|same|s_missing_top|br0|$R|access denied by acl file: /etc/qemu/bridge.conf does not exist or is not readable by this user|$R|$STOCK_PARSE"
"name-16-bytes|same|s_allow_all|$LONG16|$R|bridge name '$LONG16' is too long: 16 bytes (at most 15)|$R|name \`$LONG16' too long: 16"
"name-15-bytes|same|s_long15|$LONG15|attached bridge=$LONG15 vnet_hdr=1 mtu=1500 up=1||attached bridge=$LONG15 vnet_hdr=1 mtu=1500 up=1|"
"name-with-slash|same|s_allow_all|a/b|$R|bridge name 'a/b' is not a valid interface name: it contains '/'|$R|failed to get mtu of bridge \`a/b': No such device"
"missing-bridge|same|s_allow_all|br9|$R|$(msg_missing_bridge br9)|$R|failed to get mtu of bridge \`br9': No such device"
"bridge-mtu-too-big-for-a-tap|same|s_allow_all|brbig|$R|setting the MTU of tap0 to 65535: Invalid argument; no TAP was left|$R|failed to set mtu of device \`tap0' to 65535: Invalid argument"
"bridge-down|same|s_allow_all|brdown|attached bridge=brdown vnet_hdr=1 mtu=1500 up=1||attached bridge=brdown vnet_hdr=1 mtu=1500 up=1|"
"repeated-options-last-wins|same|s_allow_br0|-- --use-vnet --use-vnet --br=br1 --br=br0 --fd={fd}|$A0||$A0|"
"unknown-option|same|s_allow_br0|-- --bogus --br=br0 --fd={fd}|$R|$MSG_USAGE|$R|Usage: qemu-bridge-helper [--use-vnet] --br=bridge --fd=unixfd"
"extension-qualifier-fails-closed|same|s_qualifier|br0|$R|access denied by acl file: /etc/qemu/bridge.conf:1: qualifier 'user=nobody' is not supported yet (only 'allow BRIDGE' and 'deny BRIDGE')|$R|$STOCK_DENIED"
"include-syntax-error-then-deny|diverge|s_include_syntax_then_deny|br0|$R|access denied by acl file: /etc/qemu/inc.conf:1: unknown keyword 'bogus' (expected allow, deny, include or a # comment)|$A0|Unknown command \`bogus'"
"trailing-comment|diverge|s_trailing_comment|br0|$A0||$R|$STOCK_DENIED"
"tab-after-keyword|diverge|s_tab_after_keyword|br0|$A0||$R|Unknown command \`allow\t'\n$STOCK_PARSE"
"user-owned-include|diverge|s_user_owned_include|br0|$R|access denied by acl file: /etc/qemu/bridge.conf:1: include refused: /etc/qemu/user.conf is owned by uid 65534, not root; ACL files and their directories must be root's|$A0|"
"relative-include-from-cwd|diverge|s_relative_include|cwd br0|$R|$OURS_RELATIVE|$A0|"
"long-line-smuggling|diverge|s_long_line|br0|$R|$(msg_not_allowed br0)|$A0|"
"nul-byte-truncation|diverge|s_nul|br0|$R|access denied by acl file: /etc/qemu/bridge.conf:1: the line contains a NUL byte|$A0|"
"include-cycle|diverge|s_cycle|br0|$R|access denied by acl file: /etc/qemu/a.conf:1: include cycle: /etc/qemu/bridge.conf is already being read|crashed helper_exit=139|"
"target-is-a-veth|diverge|s_allow_all|veth0|$R|$(msg_not_bridge veth0 veth)|$R|failed to add interface \`tap0' to bridge \`veth0': Operation not supported"
"target-is-lo|diverge|s_allow_all|lo|$R|$(msg_not_bridge lo unknown)|$R|failed to set mtu of device \`tap0' to 65536: Invalid argument"
"tun-node-0600|diverge|s_allow_br0|tun0600 br0|$A0||$R|failed to open /dev/net/tun: Permission denied"
"fd-with-junk|diverge|s_allow_br0|-- --use-vnet --br=br0 --fd={fd}junk|$R|re:$(msg_bad_fd '[0-9]+junk' | sed 's/[.]/[.]/g')|$A0|"
)

# outcome: the compared outcome of the last run (it_run of `bridgekeeper try`).
outcome() {
    case "$(it_field result)|$(it_field helper_exit)" in
        attached\|0) printf 'attached bridge=%s vnet_hdr=%s mtu=%s up=%s' "$(it_field bridge)" "$(it_field vnet_hdr)" "$(it_field mtu)" "$(it_field up)" ;;
        refused\|1) printf refused ;;
        *\|1[3-9][0-9]) printf 'crashed helper_exit=%s' "$(it_field helper_exit)" ;;
        *) printf 'unexpected result=%s helper_exit=%s rc=%s' "$(it_field result)" "$(it_field helper_exit)" "$IT_RC" ;;
    esac
}

# run_one WHO HELPER REQUEST WANT-OUTCOME WANT-STDERR: one run and its assertions (no report).
run_one() {
    local helper=$1 request=$2 want=$3 want_err=$4 args dir=/
    bk_tun_mode 0666
    case $request in
        "-- "*) read -r -a args <<<"${request#-- }"; args=(-- "${args[@]}") ;;
        "novnet "*) args=(--br "${request#novnet }" --no-vnet) ;;
        "tun0600 "*) bk_tun_mode 0600; args=(--br "${request#tun0600 }") ;;
        "cwd "*) dir=$CWD; args=(--br "${request#cwd }") ;;
        *) args=(--br "$request") ;;
    esac
    pushd "$dir" >/dev/null || return
    it_run "${NOBODY[@]}" "$CLI" try --helper "$helper" "${args[@]}"
    popd >/dev/null || return
    LAST_OUTCOME=$(outcome)
    it_expect outcome "$want" "$LAST_OUTCOME"
    want_err=$(printf '%b' "$want_err")
    if [[ $want_err == re:* ]]; then
        it_expect_match stderr "${want_err#re:}"$'\n' "$IT_ERR"
    else
        [ -z "$want_err" ] || want_err+=$'\n'
        it_expect stderr "$want_err" "$IT_ERR"
    fi
    it_expect helper_stdout_bytes 0 "$(it_field helper_stdout_bytes)"
    case $want in
        attached*) it_expect "client exit status" 0 "$IT_RC" ;;
        *) it_expect "client exit status" 1 "$IT_RC" ;;
    esac
    it_expect_no_taps
}

TABLE=()
for row in "${ROWS[@]}"; do
    IFS='|' read -r name kind setup request ours ours_err stock stock_err <<<"$row"
    "$setup"
    it_begin
    run_one "$OURS" "$request" "$ours" "$ours_err"
    got_ours=$LAST_OUTCOME
    it_end "t-differential/$name/ours"
    "$setup"
    it_begin
    run_one "$STOCK" "$request" "$stock" "$stock_err"
    got_stock=$LAST_OUTCOME
    it_end "t-differential/$name/stock"
    it_begin
    if [ "$kind" = same ]; then
        it_expect "stock's outcome = ours" "$got_ours" "$got_stock"
    else
        # A divergence: the outcome differs, or (not-a-bridge rows) both refuse for different
        # reasons; either way the two rows above pinned both sides exactly.
        [ "$got_ours" != "$got_stock" ] || [ "$ours_err" != "$stock_err" ] ||
            it_problem "expected a divergence, got the same outcome and stderr"
    fi
    it_end "t-differential/$name/$kind"
    TABLE+=("$name|$kind|$got_stock|$got_ours")
done

printf '# %-34s %-8s %-52s %s\n' case kind stock ours
for line in "${TABLE[@]}"; do
    IFS='|' read -r name kind s o <<<"$line"
    printf '# %-34s %-8s %-52s %s\n' "$name" "$kind" "$s" "$o"
done

it_summary
