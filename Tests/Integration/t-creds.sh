#!/bin/bash
# The credential end state, observed from outside the helper:
# - the test-hooks build stops itself (SIGSTOP) right after the privilege drop ("dropped") and
#   right before sending the descriptor ("before-send"); we read /proc/PID/status there;
# - strace -f -u nobody (strace is root, so the setuid exec keeps its privilege) shows the
#   order of the credential system calls;
# - callers that withhold what the drop needs (capsh --drop, no_new_privs, a nosuid mount) are
#   refused with the exact message, leave no TAP and never continue as euid 0.
set -u
# shellcheck source=Tests/Integration/lib.sh
source "$(dirname "$0")/lib.sh"
bk_enter_sandbox "$@"
it_setup
ok=0
for tool in strace capsh; do it_precondition "tool-$tool" command -v "$tool" || ok=1; done
[ $ok = 0 ] || it_abort

it_install_helpers hooks
bk_bridge br0 1400
it_acl_text 'allow br0\n'

ZERO=0000000000000000
NET_ADMIN=0000000000001000
MY_BND=$(awk '$1 == "CapBnd:" {print $2}' /proc/$$/status)
MY_GROUPS=$(awk '$1 == "Groups:" {$1 = ""; sub(/^ +/, ""); sub(/ +$/, ""); print}' /proc/$$/status)


# status_checks PID UIDS GROUPS CAPPRM CAPBND: the common /proc/PID/status expectations.
status_checks() {
    local pid=$1 uids=$2 groups=$3 prm=$4 bnd=$5
    it_expect "State" T "$(it_state "$pid")"
    it_expect "Uid (real effective saved fs)" "$uids $uids $uids $uids" "$(it_status_field "$pid" Uid)"
    it_expect "Gid (real effective saved fs)" "$uids $uids $uids $uids" "$(it_status_field "$pid" Gid)"
    it_expect "Groups" "$groups" "$(it_status_field "$pid" Groups)"
    it_expect "CapInh" $ZERO "$(it_status_field "$pid" CapInh)"
    it_expect "CapPrm" "$prm" "$(it_status_field "$pid" CapPrm)"
    it_expect "CapEff" $ZERO "$(it_status_field "$pid" CapEff)"
    it_expect "CapBnd" "$bnd" "$(it_status_field "$pid" CapBnd)"
    it_expect "CapAmb" $ZERO "$(it_status_field "$pid" CapAmb)"
    it_expect "NoNewPrivs" 1 "$(it_status_field "$pid" NoNewPrivs)"
    # Not dumpable: the kernel shows /proc/PID/* as root's (else as the task's euid).
    it_expect "owner of /proc/PID/status (0:0 = not dumpable)" 0:0 "$(stat -c %u:%g "/proc/$pid/status")"
}

# fd_targets PID: the targets of fds 3 and up, socket/pipe inode numbers removed.
fd_targets() {
    local fd
    for fd in /proc/"$1"/fd/*; do
        [ "${fd##*/}" -ge 3 ] && readlink "$fd" | sed 's/:\[[0-9]*\]$//'
    done | sort | tr '\n' ' ' | sed 's/ $//'
}

# paused_run MODE HELPER TUN UIDS GROUPS CAPBND AS...: one attach through both pause points.
paused_run() {
    local mode=$1 helper=$2 tun=$3 uids=$4 groups=$5 bnd=$6
    shift 6
    local out=$BK_SCRATCH/paused.out err=$BK_SCRATCH/paused.err pid="" i
    bk_tun_mode "$tun"
    timeout -k 2 30 "$@" "$CLI" try --helper "$helper" --br br0 </dev/null >"$out" 2>"$err" &
    local client=$!
    for ((i = 0; i < 100; i++)); do
        pid=$(it_pid_of "$helper")
        [ -n "$pid" ] && break
        sleep 0.1
    done
    it_begin
    if [ -z "$pid" ] || ! wait_stopped "$pid" -1; then
        it_problem "expected the helper to stop itself at 'dropped' within 10 s, got pid '${pid}' state '$( [ -n "$pid" ] && it_state "$pid")'"
        it_end "t-creds/$mode/pause-dropped/status"
        [ -z "$pid" ] || kill -KILL "$pid"
        wait "$client"
        return
    fi
    status_checks "$pid" "$uids" "$groups" $NET_ADMIN "$bnd"
    # /dev/net/tun was opened before the drop and is still open; the socket is the only other fd.
    it_expect "fds 3 and up" "/dev/net/tun socket" "$(fd_targets "$pid")"
    it_expect "TUN/TAP devices (ACL not read yet)" "" "$(bk_taps)"
    it_end "t-creds/$mode/pause-dropped/status"

    local switches
    switches=$(it_switches "$pid")
    kill -CONT "$pid"
    it_begin
    if ! wait_stopped "$pid" "$switches"; then
        it_problem "expected the helper to stop again at 'before-send' within 10 s, got state '$(it_state "$pid")'"
    else
        status_checks "$pid" "$uids" "$groups" $ZERO "$bnd"
        it_expect "TUN/TAP devices (made, not yet sent)" tap0 "$(bk_taps)"
        it_expect "tap0 master" br0 "$(basename "$(readlink /sys/class/net/tap0/master 2>/dev/null)")"
        it_expect "tap0 owner" "${uids}" "$(cat /sys/class/net/tap0/owner 2>/dev/null)"
    fi
    it_end "t-creds/$mode/pause-before-send/status"
    kill -CONT "$pid"
    wait "$client"
    IT_RC=$?
    IT_OUT=$(cat "$out")
    IT_ERR=$(cat "$err"; printf x)
    IT_ERR=${IT_ERR%x}
    it_begin
    it_assert_try attached "" tap=tap0 bridge=br0 vnet_hdr=1 mtu=1400 owner="$uids"
    it_end "t-creds/$mode/pause-points/attach-completes"
}

paused_run setuid-nobody-groups "$HK_SETUID" 0600 65534 "100 1000" $ZERO "${NOBODY_GROUPS[@]}"
paused_run setuid-nobody "$HK_SETUID" 0600 65534 "" $ZERO "${NOBODY[@]}"
paused_run caps-nobody-groups "$HK_CAPS" 0666 65534 "100 1000" "$MY_BND" "${NOBODY_GROUPS[@]}"
paused_run setuid-root "$HK_SETUID" 0600 0 "$MY_GROUPS" $ZERO "${AS_ROOT[@]}"
# A root caller can pass an ambient capability through execve (running a setuid-root file as
# uid 0 is no set-id exec, so the kernel keeps the ambient set). The helper clears it (one
# PR_CAP_AMBIENT_CLEAR_ALL) and empties the inheritable set, which the kernel's invariant
# (ambient within permitted and inheritable) also enforces; CapAmb must read 0 at both pauses.
paused_run setuid-root-with-ambient-net_admin "$HK_SETUID" 0600 0 "$MY_GROUPS" $ZERO \
    setpriv --inh-caps=+net_admin --ambient-caps=+net_admin --

# SIGKILL while paused (after the drop, and with the TAP made and attached but not yet sent):
# the kernel removes the non-persistent TAP with its last descriptor; the client sees a helper
# killed by signal 9 and no descriptor.
killed_run() {
    local point=$1 out=$BK_SCRATCH/killed.out err=$BK_SCRATCH/killed.err pid="" i
    bk_tun_mode 0600
    timeout -k 2 30 "${NOBODY[@]}" "$CLI" try --helper "$HK_SETUID" --br br0 </dev/null >"$out" 2>"$err" &
    local client=$!
    for ((i = 0; i < 100; i++)); do
        pid=$(it_pid_of "$HK_SETUID")
        [ -n "$pid" ] && break
        sleep 0.1
    done
    it_begin
    if [ -n "$pid" ] && wait_stopped "$pid" -1; then
        if [ "$point" = before-send ]; then
            local switches
            switches=$(it_switches "$pid")
            kill -CONT "$pid"
            wait_stopped "$pid" "$switches" || it_problem "expected a stop at before-send, got state '$(it_state "$pid")'"
            it_expect "TUN/TAP devices before the kill" tap0 "$(bk_taps)"
        fi
        kill -KILL "$pid"
    else
        it_problem "expected the helper to stop itself at 'dropped' within 10 s, got pid '$pid'"
        [ -z "$pid" ] || kill -KILL "$pid"
    fi
    wait "$client"
    it_expect "client exit status" 1 "$?"
    it_expect "client stdout" "result=refused helper_exit=137 helper_stdout_bytes=0" "$(cat "$out")"
    it_expect "stderr" "" "$(cat "$err")"
    it_expect_no_taps
    it_end "t-creds/sigkill-at-$point/no-tap-left"
}
killed_run dropped
killed_run before-send

# Supplementary groups are kept for reading the ACL: a group-readable include (root:users 0640).
bk_tun_mode 0600
it_acl_text 'include /etc/qemu/users.conf\n'
it_acl_text 'allow br0\n' /etc/qemu/users.conf
chgrp 100 /etc/qemu/users.conf
chmod 0640 /etc/qemu/users.conf
it_check t-creds/group-readable-include/member-of-group-100 attached "" bridge=br0 owner=65534 -- \
    "${NOBODY_GROUPS[@]}" "$CLI" try --helper "$H_SETUID" --br br0
it_check t-creds/group-readable-include/not-a-member refused "$(msg_not_allowed br0)" -- \
    "${NOBODY[@]}" "$CLI" try --helper "$H_SETUID" --br br0
it_acl_text 'allow br0\n'

# ---------------------------------------------------------------------------------------------
# strace: the order of the credential calls in the helper (setuid and caps modes).

# trace_tokens FILE HELPER: the helper's traced calls as one token per line.
trace_tokens() {
    local pid
    pid=$(awk -v h="execve(\"$2\"," 'index($0, h) && / = 0$/ {print $1; exit}' "$1")
    [ -n "$pid" ] || return
    awk -v p="$pid" '$1 == p' "$1" | sed -E '
        s/^[0-9]+ +//
        /PR_CAPBSET_READ|PR_CAP_AMBIENT_IS_SET|PR_GET_/d
        s/^prctl\(PR_CAPBSET_DROP, ([A-Z_]+)\) += 0$/bset-drop \1/
        s/^prctl\(PR_SET_NO_NEW_PRIVS, 1.*\) += 0$/no_new_privs/
        s/^prctl\(PR_SET_DUMPABLE, SUID_DUMP_DISABLE\) += 0$/not-dumpable/
        s/^prctl\(PR_SET_KEEPCAPS, ([01])\) += 0$/keepcaps \1/
        s/^capset\(.*\{effective=([^,]*), permitted=([^,]*), inheritable=([^}]*)\}\) += (.*)$/capset e=\1 p=\2 i=\3 = \4/
        s/^sendmsg\(.*\) += (.*)$/sendmsg = \1/
        s/^execve\(.*\) += 0$/execve/
        s/1<<CAP_NET_ADMIN/NET_ADMIN/g
        s/(1<<CAP_[A-Z_]+\|)+1<<CAP_[A-Z_]+/MANY/g
        s/ += /=/
        s/ = /=/
        s/ +$//'
}

# in_order TOKENS PATTERN...: each ERE pattern matches a line, in this order.
in_order() {
    local tokens=$1 line pattern
    shift
    local patterns=("$@") i=0
    while IFS= read -r line; do
        [ $i -lt ${#patterns[@]} ] || break
        pattern=${patterns[$i]}
        [[ $line =~ ^$pattern$ ]] && i=$((i + 1))
    done <<<"$tokens"
    [ $i -eq ${#patterns[@]} ] || { printf '%s' "${patterns[$i]}"; return 1; }
}


strace_run() {
    local mode=$1 helper=$2 tun=$3
    local trace=$BK_SCRATCH/strace-$mode.txt
    bk_tun_mode "$tun"
    it_begin
    it_run strace -f -qq -u nobody -o "$trace" \
        -e trace=execve,capset,setresuid,setresgid,setuid,setgid,setreuid,setregid,prctl,sendmsg \
        "$CLI" try --helper "$helper" --br br0
    it_assert_try attached "" tap=tap0 bridge=br0 vnet_hdr=1 mtu=1400 owner=65534
    local tokens missing
    tokens=$(trace_tokens "$trace" "$helper")
    [ -n "$tokens" ] || it_problem "expected the helper's execve in the strace output, got none"
    if [ "$mode" = setuid ]; then
        missing=$(in_order "$tokens" execve 'bset-drop CAP_.*' 'setresgid\(65534, 65534, 65534\)=0' \
            '(setuid\(65534\)|setresuid\(65534, 65534, 65534\))=0' 'capset e=0 p=NET_ADMIN i=0=0' \
            no_new_privs not-dumpable 'setuid\(0\)=-1 EPERM.*' 'capset e=0 p=0 i=0=0' 'sendmsg=1') ||
            it_problem "expected the call order bounding drop, setresgid, setuid, capset(NET_ADMIN), no_new_privs, not-dumpable, setuid(0) failing, empty capset, sendmsg; missing '$missing' in: $(it_show "$tokens")"
        local drops
        drops=$(grep -c '^bset-drop ' <<<"$tokens")
        # Every capability the kernel knows is dropped, without reading it first (a drop of one
        # that is already gone succeeds), so the count is cap_last_cap + 1.
        it_expect "number of PR_CAPBSET_DROP calls (= every capability the kernel knows)" "$(( $(cat /proc/sys/kernel/cap_last_cap) + 1 ))" "$drops"
        grep -qx 'bset-drop CAP_NET_ADMIN' <<<"$tokens" || it_problem "expected CAP_NET_ADMIN dropped from the bounding set, got no such call"
        # The bounding set is emptied before the uid changes.
        local last_drop first_id
        last_drop=$(grep -n '^bset-drop ' <<<"$tokens" | tail -n 1 | cut -d: -f1)
        first_id=$(grep -nE '^set(res)?[ug]id\(' <<<"$tokens" | head -n 1 | cut -d: -f1)
        [ "${last_drop:-0}" -lt "${first_id:-0}" ] || it_problem "expected every PR_CAPBSET_DROP before the first set*id call, got drop at $last_drop, set*id at $first_id"
    else
        missing=$(in_order "$tokens" execve 'capset e=0 p=NET_ADMIN i=0=0' no_new_privs not-dumpable \
            'setuid\(0\)=-1 EPERM.*' 'capset e=0 p=0 i=0=0' 'sendmsg=1') ||
            it_problem "expected capset(NET_ADMIN), no_new_privs, not-dumpable, setuid(0) failing, empty capset, sendmsg in order; missing '$missing' in: $(it_show "$tokens")"
        # Already the caller: no id changes (the only set*id is the failing setuid(0) self-check)
        # and no bounding-set calls (a file-capability process cannot drop them).
        local other
        other=$(grep -E '^(set(res|re)?[ug]id|bset-drop)' <<<"$tokens" | grep -vx 'setuid(0)=-1 EPERM (Operation not permitted)')
        it_expect "set*id and bounding-set calls in caps mode" "" "$other"
    fi
    # Never back to uid 0, and never a capability beyond NET_ADMIN once the first
    # NET_ADMIN-only capset happened; the last capset is the empty one and sendmsg follows it.
    grep -qE '^set(res|re)?uid\(0[,)].*=0$' <<<"$tokens" && it_problem "expected no successful setuid to 0, got: $(it_show "$tokens")"
    local after
    after=$(sed -n '/^capset e=0 p=NET_ADMIN i=0=0$/,$p' <<<"$tokens")
    grep -q 'MANY' <<<"$after" && it_problem "expected no capset beyond NET_ADMIN after the drop, got: $(it_show "$after")"
    it_expect "the last two calls" $'capset e=0 p=0 i=0=0\nsendmsg=1' "$(grep -E '^(capset|sendmsg|set|prctl|no_new|not-dump|keepcaps|bset)' <<<"$tokens" | tail -n 2)"
    it_end "t-creds/strace-$mode-nobody/credential-call-order"
}

strace_run setuid "$H_SETUID" 0600
strace_run caps "$H_CAPS" 0666

# ---------------------------------------------------------------------------------------------
# Callers that withhold what the drop needs. /dev/net/tun 0666, so only privilege matters.
bk_tun_mode 0666
capsh_cmd() { printf 'exec %q try --helper %q --br br0' "$CLI" "$1"; }

for cap in cap_setuid cap_setgid cap_setpcap cap_net_admin; do
    it_check "t-creds/capsh-drop-$cap/setuid-copy-refused" refused "$(msg_setuid_missing_cap "$cap")" -- \
        capsh --drop="$cap" --user=nobody -- -c "$(capsh_cmd "$H_SETUID")"

    # The same under strace (root, so the setuid exec keeps its privilege): the helper gives up
    # root in every uid/gid slot before it says anything, and creates nothing.
    it_begin
    trace=$BK_SCRATCH/capsh-$cap.txt
    it_run strace -f -qq -o "$trace" -e trace=execve,setresuid,setresgid,setuid,setgid,ioctl,write,exit_group \
        capsh --drop="$cap" --user=nobody -- -c "$(capsh_cmd "$H_SETUID")"
    it_assert_try refused "$(msg_setuid_missing_cap "$cap")"
    pid=$(awk -v h="execve(\"$H_SETUID\"," 'index($0, h) && / = 0$/ {print $1; exit}' "$trace")
    tokens=$(awk -v p="$pid" '$1 == p' "$trace" | sed -E 's/^[0-9]+ +//; s/ +/ /g' | grep -vE '^ioctl\(1, TCGETS')
    # With CAP_NET_ADMIN still effective the helper first asks the kernel which user namespace
    # owns its network namespace (two ioctls); without it there is nothing to ask.
    userns_probe=""
    [ "$cap" = cap_net_admin ] || userns_probe="ioctl(3, SIOCGSKNS, NULL) = 5
ioctl(5, NS_GET_USERNS) = 6
"
    it_expect "the helper's calls after execve (tty probes aside)" \
        "${userns_probe}setresgid(65534, 65534, 65534) = 0
setresuid(65534, 65534, 65534) = 0
write(2, \"bridgekeeper-helper runs setuid \"..., $(($(printf '%s' "$(msg_setuid_missing_cap "$cap")" | wc -c) + 1))) = $(($(printf '%s' "$(msg_setuid_missing_cap "$cap")" | wc -c) + 1))
exit_group(1) = ?" "$(sed '1d' <<<"$tokens")"
    it_end "t-creds/capsh-drop-$cap/setuid-copy-never-continues-as-euid-0"
done

# The file-capability copy needs none of cap_setuid/cap_setgid/cap_setpcap; without
# cap_net_admin in the bounding set the kernel refuses to execute it at all (EPERM).
for cap in cap_setuid cap_setgid cap_setpcap; do
    it_check "t-creds/capsh-drop-$cap/caps-copy-attaches" attached "" bridge=br0 owner=65534 -- \
        capsh --drop="$cap" --user=nobody -- -c "$(capsh_cmd "$H_CAPS")"
done
it_begin
it_run capsh --drop=cap_net_admin --user=nobody -- -c "$(capsh_cmd "$H_CAPS")"
it_expect "exit status" 1 "$IT_RC"
it_expect stdout "" "$IT_OUT"
it_expect stderr "Error: posix_spawn $H_CAPS: Operation not permitted"$'\n' "$IT_ERR"
it_expect_no_taps
it_end "t-creds/capsh-drop-cap_net_admin/caps-copy-not-executable"

# no_new_privs in the caller: neither the setuid bit nor file capabilities take effect.
NNP=(setpriv --reuid=65534 --regid=65534 --clear-groups --no-new-privs --)
it_check t-creds/no-new-privs/setuid-copy-refused refused "$MSG_NO_PRIVILEGE" -- \
    "${NNP[@]}" "$CLI" try --helper "$H_SETUID" --br br0
it_check t-creds/no-new-privs/caps-copy-refused refused "$MSG_NO_PRIVILEGE" -- \
    "${NNP[@]}" "$CLI" try --helper "$H_CAPS" --br br0

# A nosuid mount of the directory holding both copies.
mkdir "$BK_SCRATCH/nosuid"
it_mount "$BK_SCRATCH/nosuid" --bind "$BK_SCRATCH/bin"
mount -o remount,bind,nosuid "$BK_SCRATCH/nosuid"
it_check t-creds/nosuid-mount/setuid-copy-refused refused "$MSG_NO_PRIVILEGE" -- \
    "${NOBODY[@]}" "$CLI" try --helper "$BK_SCRATCH/nosuid/bk-setuid" --br br0
it_check t-creds/nosuid-mount/caps-copy-refused refused "$MSG_NO_PRIVILEGE" -- \
    "${NOBODY[@]}" "$CLI" try --helper "$BK_SCRATCH/nosuid/bk-caps" --br br0
# Under strace: no set*id call at all (it never had root to give up), nothing created.
it_begin
it_run strace -f -qq -u nobody -o "$BK_SCRATCH/nosuid.txt" -e trace=execve,setresuid,setresgid,setuid,capset,ioctl \
    "$CLI" try --helper "$BK_SCRATCH/nosuid/bk-setuid" --br br0
it_assert_try refused "$MSG_NO_PRIVILEGE"
pid=$(awk -v h="execve(\"$BK_SCRATCH/nosuid/bk-setuid\"," 'index($0, h) && / = 0$/ {print $1; exit}' "$BK_SCRATCH/nosuid.txt")
it_expect "the helper's set*id/capset/TUN calls" "" \
    "$(awk -v p="$pid" '$1 == p && $2 !~ /^execve/' "$BK_SCRATCH/nosuid.txt" | grep -E 'set(res)?[ug]id|capset|TUNSETIFF|SIOCBRADDIF')"
it_end t-creds/nosuid-mount/setuid-copy-runs-as-nobody-only
umount "$BK_SCRATCH/nosuid"

it_summary
