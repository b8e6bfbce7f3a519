#!/bin/bash
# Security round 2 (issue 7): every name of a bridge is the bridge (alternative names), nothing
# ever reaches the client's socket when it sits on fd 0-2, the user-namespace check cannot be
# faked with a chroot, limits lowered by the caller after the drop never fail open, and the
# helper's --help text. Three install modes where the mode matters: setuid copy run by nobody
# (tun 0600), file-capability copy run by nobody (tun 0666), root running the setuid copy.
set -u
# shellcheck source=Tests/Integration/lib.sh
source "$(dirname "$0")/lib.sh"
bk_enter_sandbox "$@"
it_setup
it_install_helpers hooks
it_precondition tool-python3 command -v python3 || it_abort
it_precondition tool-prlimit command -v prlimit || it_abort
it_precondition tool-chroot command -v chroot || it_abort
PEER=(python3 "$IT_DIR/tools/peer-bytes.py")

bk_bridge br0 1400
# brmgmt answers to three names: its own and two alternative names.
bk_bridge brmgmt
ip link property add dev brmgmt altname mgmt
ip link property add dev brmgmt altname mgmt2
ip link add vethx type veth peer name vethy
ip link property add dev vethx altname vethalt
ip link set vethx up
# brlong carries 400 alternative names of 126 bytes, then 'longmgmt': the kernel's answer about
# it is 54 KiB, so the name a rule matches comes after the first 32 KiB of the reply.
bk_bridge brlong
for i in $(seq 1 400); do printf -v long 'long%03d%0122d' "$i" 0; ip link property add dev brlong altname "$long"; done
ip link property add dev brlong altname longmgmt
CONF=/etc/qemu/bridge.conf

acl() { it_reset_etc_qemu; it_acl_text "$1"; }

# =============================================================================================
# 1. Alternative names: a rule about any name of a device is a rule about the device.

for m in $IT_MODES; do
    it_mode $m
    p=t-h-round2/$LABEL/altname
    acl 'allow all\ndeny brmgmt\n'
    it_check "$p/deny-canonical-ask-altname" refused \
        "$(msg_denied /etc/qemu/bridge.conf:2 'deny brmgmt' mgmt) ('mgmt' is an alternative name of 'brmgmt')" \
        -- "${AS[@]}" "$CLI" try --helper "$HELPER" --br mgmt
    acl 'allow all\ndeny mgmt\n'
    it_check "$p/deny-altname-ask-canonical" refused \
        "$(msg_denied /etc/qemu/bridge.conf:2 'deny mgmt' brmgmt) ('mgmt' is an alternative name of 'brmgmt')" \
        -- "${AS[@]}" "$CLI" try --helper "$HELPER" --br brmgmt
    it_check "$p/deny-altname-ask-other-altname" refused \
        "$(msg_denied /etc/qemu/bridge.conf:2 'deny mgmt' mgmt2) ('mgmt2' and 'mgmt' are alternative names of 'brmgmt')" \
        -- "${AS[@]}" "$CLI" try --helper "$HELPER" --br mgmt2
    it_check "$p/deny-altname-ask-same-altname" refused \
        "$(msg_denied /etc/qemu/bridge.conf:2 'deny mgmt' mgmt)" \
        -- "${AS[@]}" "$CLI" try --helper "$HELPER" --br mgmt
    it_check "$p/deny-altname-other-bridge-unaffected" attached "" bridge=br0 \
        -- "${AS[@]}" "$CLI" try --helper "$HELPER" --br br0
    acl 'allow brmgmt\n'
    it_check "$p/allow-canonical-ask-altname" attached "" bridge=brmgmt \
        -- "${AS[@]}" "$CLI" try --helper "$HELPER" --br mgmt
    acl 'allow mgmt\n'
    it_check "$p/allow-altname-ask-canonical" attached "" bridge=brmgmt \
        -- "${AS[@]}" "$CLI" try --helper "$HELPER" --br brmgmt
    it_check "$p/allow-altname-ask-other-altname" attached "" bridge=brmgmt \
        -- "${AS[@]}" "$CLI" try --helper "$HELPER" --br mgmt2
    it_check "$p/allow-altname-not-other-bridge" refused "$(msg_not_allowed br0)" \
        -- "${AS[@]}" "$CLI" try --helper "$HELPER" --br br0
    acl 'allow all\n'
    it_check "$p/altname-of-a-veth-is-not-a-bridge" refused "$(msg_not_bridge vethalt veth)" \
        -- "${AS[@]}" "$CLI" try --helper "$HELPER" --br vethalt
    # A 54 KiB answer is read whole (it was once cut at 32 KiB, and the helper then waited for
    # the rest forever): the deny on the last name holds, and the allow on it attaches.
    acl 'allow all\ndeny longmgmt\n'
    it_check "$p/deny-altname-after-54KiB-of-names" refused \
        "$(msg_denied /etc/qemu/bridge.conf:2 'deny longmgmt' brlong) ('longmgmt' is an alternative name of 'brlong')" \
        -- "${AS[@]}" "$CLI" try --helper "$HELPER" --br brlong
    acl 'allow longmgmt\n'
    it_check "$p/allow-altname-after-54KiB-of-names" attached "" bridge=brlong \
        -- "${AS[@]}" "$CLI" try --helper "$HELPER" --br brlong
done

# The stock helper has the same hole (it decides on the spelling): shown, so the README's
# divergence row stays true. Root runs it (it opens /dev/net/tun after dropping privileges).
STOCK_COPY=$(bk_install "$BK_STOCK" stock-setuid setuid)
it_mode r
acl 'allow all\ndeny brmgmt\n'
it_check "t-h-round2/stock/altname-bypasses-deny" attached "" bridge=brmgmt \
    -- "$CLI" try --helper "$STOCK_COPY" --br mgmt

# =============================================================================================
# 2. Nothing reaches the client's socket when it is fd 0, 1 or 2 (QEMU started with stdout or
# stderr closed). peer-bytes.py reports every byte and descriptor that arrived at the other end.

# peer_check NAME SLOT EXPECT-LINE EXPECT-OTHER-STREAM [--nofile N] -- HELPER-ARGS...
# (--nofile: prlimit sets RLIMIT_NOFILE soft = hard = N for the helper alone.)
peer_check() {
    local name=$1 slot=$2 line=$3 other=$4
    shift 4
    local limit=()
    if [ "$1" = --nofile ]; then limit=(prlimit "--nofile=$2:$2"); shift 2; fi
    shift
    it_begin
    it_run "${PEER[@]}" "$slot" -- "${AS[@]}" "${limit[@]}" "$HELPER" "$@"
    it_expect "result line" "$line"$'\n' "$IT_OUT"
    [ -z "$other" ] || other+=$'\n'
    it_expect "the helper's other standard stream" "$other" "$IT_ERR"
    it_expect_no_taps
    it_end "$name"
}

acl 'allow br0\n'
REFUSED_QUIET="status=exit:1 peer_bytes=0 peer_fds=0"
ATTACHED="status=exit:0 peer_bytes=1 peer_fds=1"
for m in $IT_MODES; do
    it_mode $m
    p=t-h-round2/$LABEL/peer
    peer_check "$p/fd1-usage" 1 "$REFUSED_QUIET" "$MSG_USAGE" -- --bogus --br=br0 --fd=1
    peer_check "$p/fd2-usage" 2 "$REFUSED_QUIET" "" -- --bogus --br=br0 --fd=2
    peer_check "$p/fd1-bad-fd-value" 1 "$REFUSED_QUIET" "$(msg_bad_fd x)" -- --use-vnet --br=br0 --fd=x
    peer_check "$p/fd2-bad-fd-value" 2 "$REFUSED_QUIET" "" -- --use-vnet --br=br0 --fd=x
    peer_check "$p/fd1-help-naming-it" 1 "status=exit:0 peer_bytes=0 peer_fds=0" "" -- --help --fd=1
    peer_check "$p/fd1-help" 1 "status=exit:0 peer_bytes=0 peer_fds=0" "" -- --help
    peer_check "$p/fd1-version" 1 "status=exit:0 peer_bytes=0 peer_fds=0" "" -- --version
    peer_check "$p/fd2-denied" 2 "$REFUSED_QUIET" "" -- --use-vnet --br=br1 --fd=2
    peer_check "$p/fd0-denied" 0 "$REFUSED_QUIET" "$(msg_not_allowed br1)" -- --use-vnet --br=br1 --fd=0
    # Positive controls: the same placements attach when the request is good.
    peer_check "$p/fd1-attaches" 1 "$ATTACHED" "" -- --use-vnet --br=br0 --fd=1
    peer_check "$p/fd2-attaches" 2 "$ATTACHED" "" -- --use-vnet --br=br0 --fd=2
done
# Under `ulimit -n 3` the socket cannot move above 2 unless the helper may raise the hard limit
# (CAP_SYS_RESOURCE: setuid root and root may, where the bounding set has it; a file-capability
# install never may): then it refuses without a byte reaching the socket.
if [ $(( (0x$(awk '/^CapBnd/ {print $2}' /proc/self/status) >> 24) & 1 )) = 1 ]; then
    RAISED=$ATTACHED
    printf '# t-h-round2: CAP_SYS_RESOURCE is in the bounding set: setuid and root raise ulimit -n 3\n'
else
    RAISED=$REFUSED_QUIET
    printf '# t-h-round2: no CAP_SYS_RESOURCE in this bounding set: ulimit -n 3 cannot be raised in any mode\n'
fi
if it_helper_is_dynamic "$BK_HELPER"; then
    # The dynamic loader runs before the helper and cannot open libc.so.6 with no descriptor
    # free: exit 127, its one line on fd 2 (the socket when --fd=2), no TAP, no descriptor.
    # The helper's own code never runs, so nothing privileged happens; README "Where
    # bridgekeeper differs" documents it, and a LINK=static build keeps the quiet refusal.
    printf '# t-h-round2: dynamically linked helper: ulimit -n 3 stops the loader before the helper runs\n'
    ldso_check() {
        local name=$1 slot=$2
        shift 2
        it_begin
        it_run "${PEER[@]}" "$slot" -- "${AS[@]}" prlimit --nofile=3:3 "$HELPER" "$@"
        it_expect_match "result line" 'status=exit:127 peer_bytes=[0-9]+ peer_fds=0'$'\n' "$IT_OUT"
        if [ "$slot" = 2 ]; then
            it_expect "the helper's other standard stream" "" "$IT_ERR"
        else
            it_expect_match "stderr" "$IT_LDSO_NOFILE_RE"$'\n' "$IT_ERR"
        fi
        it_expect_no_taps
        it_end "$name"
    }
    for m in $IT_MODES; do
        it_mode $m
        ldso_check "t-h-round2/$LABEL/peer/fd2-ulimit-n-3" 2 --use-vnet --br=br0 --fd=2
    done
    it_mode c
    ldso_check "t-h-round2/caps-nobody/peer/fd1-ulimit-n-3" 1 --use-vnet --br=br0 --fd=1
else
    for m in s r; do
        it_mode $m
        peer_check "t-h-round2/$LABEL/peer/fd2-ulimit-n-3" 2 "$RAISED" "" --nofile 3 -- --use-vnet --br=br0 --fd=2
    done
    it_mode c
    peer_check "t-h-round2/caps-nobody/peer/fd2-ulimit-n-3" 2 "$REFUSED_QUIET" "" --nofile 3 -- --use-vnet --br=br0 --fd=2
    peer_check "t-h-round2/caps-nobody/peer/fd1-ulimit-n-3" 1 "$REFUSED_QUIET" \
        "--fd=1: cannot move the socket above the standard descriptors" --nofile 3 -- --use-vnet --br=br0 --fd=1
fi

# =============================================================================================
# 3. The user-namespace check asks the kernel: a chroot with a fake /proc/self/uid_map (the
# initial namespace's identity map), a fake ACL that allows everything and a real tun node
# still gets the user-namespace refusal, before any ACL file is read.

FAKE=$BK_SCRATCH/fakeroot
mkdir -p "$FAKE/proc/self" "$FAKE/etc/qemu" "$FAKE/dev/net"
printf '         0          0 4294967295\n' >"$FAKE/proc/self/uid_map"
printf 'allow all\n' >"$FAKE/etc/qemu/bridge.conf"
touch "$FAKE/dev/null" "$FAKE/dev/net/tun"
# The Swift runtime finds its own path through /proc/self/exe before main(); the fake /proc
# provides that too, as an attacker's would.
for mode in setuid caps; do
    install -o root -g root -m 0755 "$BK_HELPER" "$FAKE/bk-$mode"
done
# A dynamically linked helper needs its loader and libc inside the chroot, as an attacker's
# fake root would provide them (their own libc runs without privilege there: the kernel ignores
# the setuid bit and the file capability of a file whose owner the user namespace does not map).
it_copy_loader "$BK_HELPER" "$FAKE"
chmod 4755 "$FAKE/bk-setuid"
setcap cap_net_admin+ep "$FAKE/bk-caps"
chown -R 65534:65534 "$FAKE"
EXE_LINK=$FAKE/proc/self/exe
chown root:root "$FAKE/bk-setuid" "$FAKE/bk-caps"
chmod 4755 "$FAKE/bk-setuid"
setcap cap_net_admin+ep "$FAKE/bk-caps"
bk_tun_mode 0666
MSG_USERNS="bridgekeeper-helper was started inside a user namespace, where its privilege does not reach the host's network; run QEMU outside the user namespace"
for mode in setuid caps; do
    rm -f "$EXE_LINK"
    ln -s "/bk-$mode" "$EXE_LINK"
    it_begin
    it_run "${PEER[@]}" 0 -- "${NOBODY[@]}" unshare -Urm sh -c \
        "mount --bind /dev/null '$FAKE/dev/null' && mount --bind '$BK_SCRATCH/tun' '$FAKE/dev/net/tun' && exec chroot '$FAKE' /bk-$mode --use-vnet --br=br0 --fd=0"
    it_expect "result line" "$REFUSED_QUIET"$'\n' "$IT_OUT"
    it_expect stderr "$MSG_USERNS"$'\n' "$IT_ERR"
    it_expect_no_taps
    it_end "t-h-round2/userns/chroot-with-fake-uid-map/$mode"
done
# The same chroot without the user namespace (root runs it): the fake map changes nothing, the
# fake ACL is read (it is root's now) and the TAP attaches: the positive control.
chown -R root:root "$FAKE"
chmod 4755 "$FAKE/bk-setuid"
rm -f "$EXE_LINK"
ln -s /bk-setuid "$EXE_LINK"
it_begin
it_run "${PEER[@]}" 0 -- unshare -m sh -c \
    "mount --bind /dev/null '$FAKE/dev/null' && mount --bind '$BK_SCRATCH/tun' '$FAKE/dev/net/tun' && exec chroot '$FAKE' /bk-setuid --use-vnet --br=br0 --fd=0"
it_expect "result line" "$ATTACHED"$'\n' "$IT_OUT"
it_expect stderr "" "$IT_ERR"
it_end "t-h-round2/userns/chroot-as-root-attaches"

# =============================================================================================
# 4. After the drop the caller shares the helper's uids and may prlimit() it. Stopped at the
# drop (test build), its limits lowered by the caller, continued: it never attaches, never
# leaves a TAP, never writes to stdout.

# prlimit_check EXPECT LIMIT-OPTION: one run. EXPECT refused: it must refuse; either: it may
# attach (an allowed request that still fits) or refuse, but never leave a TAP behind.
prlimit_check() {
    local expect=$1 option=$2 out=$BK_SCRATCH/prl.out err=$BK_SCRATCH/prl.err pid="" i
    timeout -k 2 30 "${AS[@]}" "$CLI" try --helper "$HOOKS" --br br0 </dev/null >"$out" 2>"$err" &
    local client=$!
    for ((i = 0; i < 100; i++)); do
        pid=$(it_pid_of "$HOOKS")
        [ -n "$pid" ] && break
        sleep 0.1
    done
    it_begin
    if [ -z "$pid" ] || ! wait_stopped "$pid" -1; then
        it_problem "expected the helper to stop at the drop within 10 s, got pid '$pid'"
    else
        "${AS[@]}" prlimit --pid "$pid" "$option" ||
            it_problem "expected the caller to be able to prlimit $option the helper, got a failure"
        # Continue it until it exits (it stops again before sending, if it gets that far).
        for ((i = 0; i < 50; i++)); do
            [ -d "/proc/$pid" ] || break
            [ "$(it_state "$pid")" = T ] && kill -CONT "$pid" 2>/dev/null
            sleep 0.1
        done
    fi
    wait "$client"
    IT_RC=$?
    IT_OUT=$(cat "$out")
    if [ "$expect" = refused ]; then
        it_expect "exit status" 1 "$IT_RC"
        it_expect_match "result line" "result=refused helper_exit=[0-9]+ helper_stdout_bytes=0" "$IT_OUT"
    else
        # A limit can kill the helper wherever it is (a CPU limit of 0: SIGXCPU, then SIGKILL),
        # also just after it sent the descriptor: QEMU then sees a descriptor and a helper killed
        # by a signal, which it treats as a failure (the client's protocol-violation), and the
        # TAP goes with the descriptor. The caller can only fail their own request.
        it_expect_match "result line" "result=(refused helper_exit=[0-9]+|attached helper_exit=0|protocol-violation helper_exit=(129|1[3-9][0-9])) helper_stdout_bytes=0( .*)?" "$IT_OUT"
    fi
    # The client has closed whatever it received: nothing may be left.
    it_expect_no_taps
    it_end "t-h-round2/$LABEL/prlimit-after-drop/$3/${4#--}"
}

for m in $IT_MODES; do
    it_mode $m
    for option in --as=1048576 --cpu=0 --nofile=0 --data=65536 --fsize=0; do
        # The deny sits in an include: a limit must never turn reading it into a skip.
        acl 'allow all\ninclude /etc/qemu/deny.conf\n'
        it_acl_text 'deny br0\n' /etc/qemu/deny.conf
        prlimit_check refused "$option" deny-in-include "${option%%=*}"
        acl 'allow br0\n'
        prlimit_check either "$option" allowed "${option%%=*}"
    done
done

# =============================================================================================
# 5. --help, exactly (it once printed the ACL path as a byte array).

HELP="Usage: bridgekeeper-helper [--use-vnet] --br=bridge --fd=unixfd

Creates a TAP device, checks BRIDGE against /etc/qemu/bridge.conf (and its includes),
attaches the TAP to the bridge and sends its descriptor over the AF_UNIX socket FD.
A drop-in replacement for qemu-bridge-helper: QEMU runs it for -netdev bridge and
-netdev tap,helper=..., libvirt session mode through bridge_helper in qemu.conf.

  --use-vnet   enable the virtio-net header (IFF_VNET_HDR) when the kernel supports it
  --br=NAME    the bridge to attach to (1-15 bytes)
  --fd=N       the socket to send the TAP descriptor over
  --help       this text
  --version    the version

Install setuid root (chown root, chmod 4755) or with 'setcap cap_net_admin+ep'."
for m in $IT_MODES; do
    it_mode $m
    it_begin
    it_run "${AS[@]}" "$HELPER" --help
    it_expect "exit status" 0 "$IT_RC"
    it_expect stdout "$HELP"$'\n' "$IT_OUT"
    it_expect stderr "" "$IT_ERR"
    it_end "t-h-round2/$LABEL/help-text"
done

it_summary
