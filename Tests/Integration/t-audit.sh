#!/bin/bash
# The helper's audit trail (issue 9, item 6): every request sends exactly one record to the
# system log, `<85>` (authpriv.notice) when attached and `<84>` (authpriv.warning) when refused,
# with the exact key=value fields of BridgeHelper/AuditRecord.swift; hostile bridge names arrive
# escaped; usage errors, --help and --version send none; and with no /dev/log, a /dev/log that is
# a regular file, a FIFO or a stream socket, or a log that never reads (its queue full), every
# call finishes at normal speed with the same result and stderr.
# The log is a private /dev in this mount namespace: a tmpfs with bind mounts of null, zero,
# urandom, tty and the sandbox's net/tun, /dev/fd, and a python3 datagram listener at /dev/log.
set -u
# shellcheck source=Tests/Integration/lib.sh
source "$(dirname "$0")/lib.sh"
bk_enter_sandbox "$@"
it_setup
it_install_helpers
it_precondition tool-python3 command -v python3 || it_abort
it_precondition tool-unshare command -v unshare || it_abort
it_build_tools bkrun b-client
H_PLAIN=$(bk_install "$BK_HELPER" bk-plain plain)
BKRUN=$BK_SCRATCH/bin/bkrun
BCLIENT=$BK_SCRATCH/bin/b-client
LISTENER=(python3 "$IT_DIR/tools/syslog-listener.py")

bk_bridge br0
ip link property add dev br0 altname brzero
bk_bridge br1
ip link add veth0 type veth peer name veth1
ip link set veth0 up
# tun's largest MTU is 65521: the TAP is made, then setting its MTU fails (a kernel refusal).
ip link add brbig type bridge
ip link set brbig mtu 65535
ip link set brbig up
CONF=/etc/qemu/bridge.conf
# The network namespace every record must name: the sandbox's.
NETNS=$(stat -L -c %i /proc/self/ns/net)

# ---------------------------------------------------------------------------------------------
# The private /dev.

DEVDIR=$BK_SCRATCH/dev
mkdir -m 0755 "$DEVDIR"
it_mount "$DEVDIR" -t tmpfs -o mode=0755 tmpfs || { it_fail "$IT_NAME/precondition/dev-tmpfs" "expected a tmpfs at $DEVDIR, got a mount failure"; it_abort; }
mkdir -m 0755 "$DEVDIR/net"
for node in null zero urandom tty; do
    touch "$DEVDIR/$node"
    mount --bind "/dev/$node" "$DEVDIR/$node"
done
touch "$DEVDIR/net/tun"
mount --bind "$BK_SCRATCH/tun" "$DEVDIR/net/tun"
# bash's process substitution needs /dev/fd.
ln -s /proc/self/fd "$DEVDIR/fd"
it_mount /dev --rbind "$DEVDIR" || { it_fail "$IT_NAME/precondition/dev-rbind" "expected mount --rbind $DEVDIR /dev to work, got a failure"; it_abort; }
it_precondition private-dev-null test -c /dev/null || it_abort
it_precondition private-dev-tun test -c /dev/net/tun || it_abort
it_precondition private-dev-has-no-log test ! -e /dev/log || it_abort

LOG_OUT=$BK_SCRATCH/log.out
LISTENER_PID=
MARK=0

# listener_start read|stuck|stream: a listener at /dev/log, ready (else a loud FAIL).
listener_start() {
    rm -f "$LOG_OUT" "$LOG_OUT.ready"
    "${LISTENER[@]}" /dev/log "$LOG_OUT" "$1" &
    LISTENER_PID=$!
    local i
    for ((i = 0; i < 100; i++)); do [ -e "$LOG_OUT.ready" ] && break; sleep 0.05; done
    [ -e "$LOG_OUT.ready" ] || { it_fail "$IT_NAME/precondition/listener-$1" "expected the listener to bind /dev/log, got nothing"; it_abort; }
    [ "$1" != read ] || mark_send
}

# listener_stop: ends our listener (by its pid) and removes whatever is at /dev/log.
listener_stop() {
    [ -z "$LISTENER_PID" ] || { kill "$LISTENER_PID"; wait "$LISTENER_PID" 2>/dev/null; }
    LISTENER_PID=
    rm -f /dev/log
}
trap 'listener_stop; it_cleanup; bk_leave_sandbox' EXIT

# mark_send: a marker datagram, and a wait (5 s) until the listener has written it. Datagrams are
# queued in order, so when the marker is in the file, everything a finished helper sent is too.
mark_send() {
    MARK=$((MARK + 1))
    "${LISTENER[@]}" --send /dev/log "bk-audit-mark-$MARK"
    local i
    for ((i = 0; i < 100; i++)); do grep -qxF "bk-audit-mark-$MARK" "$LOG_OUT" 2>/dev/null && return; sleep 0.05; done
    it_problem "expected the listener to receive marker $MARK within 5 s, got nothing"
}

# audit_collect: AUDIT_LINES = the lines the listener wrote since the previous marker.
audit_collect() {
    mark_send
    mapfile -t AUDIT_LINES < <(awk -v prev="bk-audit-mark-$((MARK - 1))" -v cur="bk-audit-mark-$MARK" \
        '$0 == cur { exit } started { print } $0 == prev { started = 1 }' "$LOG_OUT")
}

# audit_shown: AUDIT_LINES for a FAIL line, separated by '|'.
audit_shown() {
    local joined="" line
    for line in "${AUDIT_LINES[@]}"; do joined+="${joined:+|}$line"; done
    it_show "$joined"
}

# audit_expect PRI FIELDS: exactly one record since the last marker, `<PRI>bridgekeeper-helper[PID]: FIELDS`.
audit_expect() {
    audit_collect
    if [ ${#AUDIT_LINES[@]} -ne 1 ]; then
        it_problem "expected exactly one record, got ${#AUDIT_LINES[@]}: '$(audit_shown)'"
        return
    fi
    local record=${AUDIT_LINES[0]} pattern='^<([0-9]+)>bridgekeeper-helper\[([1-9][0-9]*)\]: (.*)$'
    if [[ $record =~ $pattern ]]; then
        it_expect priority "$1" "${BASH_REMATCH[1]}"
        it_expect fields "$2" "${BASH_REMATCH[3]}"
    else
        it_problem "expected '<$1>bridgekeeper-helper[PID]: $2', got '$(it_show "$record")'"
    fi
}

# audit_expect_none: no record since the last marker.
audit_expect_none() {
    audit_collect
    [ ${#AUDIT_LINES[@]} -eq 0 ] || it_problem "expected no record, got '$(audit_shown)'"
}

# audit_mode s|c|r: it_mode plus the record's caller fields (IDS) and mode token (TOKEN).
audit_mode() {
    it_mode "$1"
    case $1 in
        s) IDS="uid=65534 gid=65534" TOKEN=setuid ;;
        c) IDS="uid=65534 gid=65534" TOKEN=caps ;;
        r) IDS="uid=0 gid=0" TOKEN=root ;;
    esac
}

acl() { it_reset_etc_qemu; it_acl_text "$1"; }

# refused_check NAME STDERR FIELDS -- COMMAND...: a refusal with exact stderr, and its one record
# `<84>... result=refused IDS FIELDS mode=TOKEN netns=NETNS`.
refused_check() {
    local name=$1 stderr=$2 fields=$3
    shift 4
    it_begin
    it_run "$@"
    it_expect_finished
    it_assert_try refused "$stderr"
    audit_expect 84 "result=refused $IDS $fields mode=$TOKEN netns=$NETNS"
    it_end "$name"
}

# attached_check NAME BRIDGE FIELDS-AFTER-BRIDGE RULE: an attach held open (so the TAP's ifindex
# can be read), and its one record `<85>... result=attached IDS bridge=BRIDGE [FIELDS] tap=T
# ifindex=N rule=RULE mode=TOKEN netns=NETNS`.
attached_check() {
    local name=$1 bridge=$2 extra=$3 rule=$4 tap index
    it_begin
    it_hold_start "${AS[@]}" "$CLI" try --helper "$HELPER" --br "$bridge" --hold-until-eof
    tap=$(it_field tap)
    index=$(cat "/sys/class/net/$tap/ifindex" 2>/dev/null || echo '<no such TAP>')
    it_expect result attached "$(it_field result)"
    audit_expect 85 "result=attached $IDS bridge=$bridge ${extra:+$extra }tap=$tap ifindex=$index rule=$rule mode=$TOKEN netns=$NETNS"
    it_hold_stop
    it_expect "exit status" 0 "$IT_RC"
    it_expect stderr "" "$IT_ERR"
    it_expect_no_taps
    it_end "$name"
}

# =============================================================================================
# 1. One record per request, in the three modes.

LONG200=$(printf 'a%.0s' {1..200})
listener_start read
for m in $IT_MODES; do
    audit_mode "$m"
    p=t-audit/$LABEL
    TRY=("${AS[@]}" "$CLI" try --helper "$HELPER")

    acl 'allow br0\n'
    attached_check "$p/attached" br0 "" /etc/qemu/bridge.conf:1
    attached_check "$p/attached-through-altname" brzero device=br0 /etc/qemu/bridge.conf:1
    # A peer that closed its end before the descriptor came: the hand-off fails (EPIPE).
    it_begin
    it_run "${AS[@]}" "$BCLIENT" early "$HELPER" --br=br0 '--fd={fd}'
    it_expect_finished
    fd=$(printf '%s' "$IT_OUT" | sed -n 's/.*helper_fd=\([0-9]*\).*/\1/p')
    it_expect stderr "could not send the TAP descriptor over --fd=$fd: Broken pipe; the TAP was removed"$'\n' "$IT_ERR"
    it_expect_no_taps
    audit_expect 84 "result=refused $IDS bridge=br0 reason=handoff mode=$TOKEN netns=$NETNS"
    it_end "$p/handoff"
    acl '# site policy\nallow all\ninclude /etc/qemu/deny.conf\n'
    it_acl_text 'deny br1\n' /etc/qemu/deny.conf
    attached_check "$p/attached-allow-all" br0 "" /etc/qemu/bridge.conf:2

    refused_check "$p/denied-in-include" "$(msg_denied /etc/qemu/deny.conf:1 'deny br1' br1)" \
        "bridge=br1 reason=denied rule=/etc/qemu/deny.conf:1" -- "${TRY[@]}" --br br1
    acl 'allow br0\ndeny br0\n'
    refused_check "$p/denied" "$(msg_denied /etc/qemu/bridge.conf:2 'deny br0' br0)" \
        "bridge=br0 reason=denied rule=/etc/qemu/bridge.conf:2" -- "${TRY[@]}" --br br0
    refused_check "$p/denied-through-altname" \
        "$(msg_denied /etc/qemu/bridge.conf:2 'deny br0' brzero) ('brzero' is an alternative name of 'br0')" \
        "bridge=brzero device=br0 reason=denied rule=/etc/qemu/bridge.conf:2" -- "${TRY[@]}" --br brzero
    acl 'allow br1\n'
    refused_check "$p/not-allowed" "$(msg_not_allowed br0)" \
        "bridge=br0 reason=not-allowed" -- "${TRY[@]}" --br br0
    acl 'allow br0\nAllow br0\n'
    refused_check "$p/acl-error" \
        "access denied by acl file: /etc/qemu/bridge.conf:2: unknown keyword 'Allow' (expected allow, deny, include or a # comment)" \
        "bridge=br0 reason=acl-error" -- "${TRY[@]}" --br br0
    it_reset_etc_qemu
    refused_check "$p/acl-missing" \
        "access denied by acl file: /etc/qemu/bridge.conf does not exist or is not readable by this user" \
        "bridge=br0 reason=acl-error" -- "${TRY[@]}" --br br0

    acl 'allow all\n'
    refused_check "$p/no-such-bridge" "$(msg_missing_bridge br9)" \
        "bridge=br9 reason=no-such-bridge" -- "${TRY[@]}" --br br9
    refused_check "$p/not-a-bridge" "$(msg_not_bridge veth0 veth)" \
        "bridge=veth0 reason=not-a-bridge" -- "${TRY[@]}" --br veth0
    refused_check "$p/kernel" "setting the MTU of tap0 to 65535: Invalid argument; no TAP was left" \
        "bridge=brbig reason=kernel" -- "${TRY[@]}" --br brbig
    refused_check "$p/invalid-name" "bridge name 'a/b' is not a valid interface name: it contains '/'" \
        "bridge=a/b reason=invalid-name" -- "${TRY[@]}" --br a/b
    refused_check "$p/socket-not-open" "--fd=1000 is not an open file descriptor" \
        "bridge=br0 reason=socket" -- "${TRY[@]}" -- --br=br0 --fd=1000
    refused_check "$p/socket-not-a-socket" "--fd=0 is not a socket (expected the AF_UNIX socket QEMU passes)" \
        "bridge=br0 reason=socket" -- "${TRY[@]}" -- --br=br0 --fd=0

    # Hostile names: control bytes, a C1 CSI, a fake field, quotes, backslash, spaces, newline.
    refused_check "$p/hostile/esc" "$(msg_missing_bridge "$(it_escape $'\e[31mred')")" \
        'bridge=\x1b[31mred reason=no-such-bridge' -- "${TRY[@]}" --br $'\e[31mred'
    refused_check "$p/hostile/c1-csi" "$(msg_missing_bridge "$(it_escape $'\xc2\x9b31m')")" \
        'bridge=\xc2\x9b31m reason=no-such-bridge' -- "${TRY[@]}" --br $'\xc2\x9b31m'
    refused_check "$p/hostile/fake-field" "$(msg_missing_bridge 'result=allow')" \
        'bridge=result\x3dallow reason=no-such-bridge' -- "${TRY[@]}" --br 'result=allow'
    refused_check "$p/hostile/quotes-backslash" "$(msg_missing_bridge "$(it_escape "a\"b'c\\d")")" \
        'bridge=a\x22b\x27c\x5cd reason=no-such-bridge' -- "${TRY[@]}" --br "a\"b'c\\d"
    refused_check "$p/hostile/newline-fake-record" \
        "bridge name 'br\\x0aresult=ok' is not a valid interface name: it contains whitespace (\\x0a)" \
        'bridge=br\x0aresult\x3dok reason=invalid-name' -- "${TRY[@]}" --br $'br\nresult=ok'
    refused_check "$p/hostile/spaces" "bridge name 'x y' is not a valid interface name: it contains whitespace (\\x20)" \
        'bridge=x\x20y reason=invalid-name' -- "${TRY[@]}" --br 'x y'
    refused_check "$p/hostile/empty" "bridge name '' is empty" \
        'bridge="" reason=invalid-name' -- "${TRY[@]}" -- --br= '--fd={fd}'
    refused_check "$p/hostile/200-bytes" "bridge name '${LONG200:0:64}...' is too long: 200 bytes (at most 15)" \
        "bridge=${LONG200:0:64} bridge_bytes=200 reason=invalid-name" -- "${TRY[@]}" --br "$LONG200"

    # Not requests: a usage error, --help and --version send nothing.
    it_begin
    it_run "${TRY[@]}" -- --bogus --br=br0 '--fd={fd}'
    it_assert_try refused "$MSG_USAGE"
    audit_expect_none
    it_end "$p/usage-error-no-record"
    it_begin
    it_run "${TRY[@]}" -- --br=br0 --fd=abc
    it_assert_try refused "$(msg_bad_fd abc)"
    audit_expect_none
    it_end "$p/bad-fd-no-record"
    for flag in --help --version; do
        it_begin
        it_run "${AS[@]}" "$HELPER" "$flag"
        it_expect "exit status" 0 "$IT_RC"
        it_expect stderr "" "$IT_ERR"
        audit_expect_none
        it_end "$p/${flag#--}-no-record"
    done
done

# Refusals that belong to one mode.
acl 'allow br0\n'
audit_mode c
bk_tun_mode 0600
refused_check t-audit/caps-nobody-0600/tun "$MSG_TUN_CAPS" "bridge=br0 reason=tun" -- \
    "${AS[@]}" "$CLI" try --helper "$HELPER" --br br0
audit_mode s
TOKEN=none
refused_check t-audit/plain-copy-nobody/no-privilege "$MSG_NO_PRIVILEGE" "bridge=br0 reason=no-privilege" -- \
    "${AS[@]}" "$CLI" try --helper "$H_PLAIN" --br br0
TOKEN=setuid
refused_check t-audit/setuid-nobody-no-net-admin/capability-missing "$(msg_setuid_missing_cap cap_net_admin)" \
    "bridge=br0 reason=capability-missing" -- \
    setpriv --reuid=65534 --regid=65534 --clear-groups --bounding-set=-net_admin -- "$CLI" try --helper "$H_SETUID" --br br0
# Root of a child user namespace runs the setuid copy: privilege there is none over this network.
IDS="uid=0 gid=0" TOKEN=userns
refused_check t-audit/user-namespace-root/user-namespace \
    "bridgekeeper-helper was started inside a user namespace, where its privilege does not reach the host's network; run QEMU outside the user namespace" \
    "bridge=br0 reason=user-namespace" -- unshare --user --map-root-user -- "$CLI" try --helper "$H_SETUID" --br br0

# bkrun sets limits on the helper alone. The caps copy cannot raise a hard limit (no
# CAP_SYS_RESOURCE): an address-space limit below the floor refuses at once, and with
# RLIMIT_NOFILE 3 the socket on fd 2 can be neither moved nor covered (it is closed, nothing is
# printed) - both still audited. In the second, no descriptor is left for SIOCGSKNS's answer, so
# the helper cannot tell whether it is in a user namespace: it fails closed as if it were, and the
# record says mode=userns (netns then comes from /proc/self/ns/net).
audit_mode c
it_begin
it_run "${AS[@]}" "$BKRUN" -M $((48 << 20)) "$HELPER" --br=br0 '--fd={fd}'
it_expect stderr "the address-space (ulimit -v) limit of 49152 KiB is below the 65536 KiB bridgekeeper-helper needs; raise it"$'\n' "$IT_ERR"
it_expect_match stdout 'result=refused helper_exit=1 .*'$'\n' "$IT_OUT"
audit_expect 84 "result=refused $IDS bridge=br0 reason=memory-limit mode=$TOKEN netns=$NETNS"
it_end t-audit/caps-nobody/memory-limit
it_begin
it_run "${AS[@]}" "$BKRUN" -N 3 -F 2 "$HELPER" --br=br0 '--fd={fd}'
it_expect stderr "" "$IT_ERR"
if it_helper_is_dynamic "$BK_HELPER"; then
    # The dynamic loader cannot open libc.so.6 and exits 127 before the helper runs: no record.
    it_expect_match stdout 'result=refused helper_exit=127 .*'$'\n' "$IT_OUT"
    audit_expect_none
else
    it_expect_match stdout 'result=refused helper_exit=1 .*'$'\n' "$IT_OUT"
    audit_expect 84 "result=refused $IDS bridge=br0 reason=socket mode=userns netns=$NETNS"
fi
it_end t-audit/caps-nobody/socket-on-fd2-not-movable
listener_stop

# =============================================================================================
# 2. A log that is missing, not a socket, refusing, or full changes nothing: the same result and
#    stderr, at normal speed. A call that blocked would hit it_run's 10 s timeout; 2 s allows
#    for the shared CI machine while staying far below it.

BOUND_MS=2000
# timed_check NAME EXPECT STDERR -- COMMAND...: it_check plus the time bound.
timed_check() {
    local name=$1 expect=$2 stderr=$3 start end elapsed
    shift 4
    it_begin
    start=${EPOCHREALTIME/./}
    it_run "$@"
    end=${EPOCHREALTIME/./}
    elapsed=$(((end - start) / 1000))
    it_expect_finished
    it_assert_try "$expect" "$stderr"
    [ "$elapsed" -lt "$BOUND_MS" ] || it_problem "expected the call to take less than $BOUND_MS ms, got $elapsed ms"
    it_end "$name"
}

for variant in missing regular-file fifo stream-socket full-queue; do
    case $variant in
        missing) ;;
        regular-file) touch /dev/log; chmod 0666 /dev/log ;;
        fifo) mkfifo -m 0666 /dev/log ;;
        stream-socket) listener_start stream ;;
        full-queue)
            listener_start stuck
            it_begin
            queued=$(cat "$LOG_OUT")
            [ "$queued" -gt 0 ] 2>/dev/null || it_problem "expected the listener to queue datagrams until EAGAIN, got '$queued'"
            it_end t-audit/log-$variant/queue-filled
            ;;
    esac
    for m in $IT_MODES; do
        audit_mode "$m"
        p=t-audit/log-$variant/$LABEL
        TRY=("${AS[@]}" "$CLI" try --helper "$HELPER")
        acl 'allow br0\ndeny br1\n'
        timed_check "$p/attached" attached "" -- "${TRY[@]}" --br br0
        timed_check "$p/denied" refused "$(msg_denied /etc/qemu/bridge.conf:2 'deny br1' br1)" -- "${TRY[@]}" --br br1
        timed_check "$p/invalid-name" refused "bridge name 'x y' is not a valid interface name: it contains whitespace (\\x20)" \
            -- "${TRY[@]}" --br 'x y'
    done
    listener_stop
done

it_summary
