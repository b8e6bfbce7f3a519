#!/bin/bash
# Real-client end-to-end scenarios for the bridge helper: real QEMU guests (TCG) and a
# libvirt session daemon call the helper exactly as they do in production.
#
# Usage:  [HELPER=/path/to/helper] Tests/Guest/scenarios.sh [--list] [SCENARIO...]
#
#   HELPER       helper binary under test (default: .build-helper/release/bridgekeeper-helper).
#                The stock helper works as an oracle: HELPER=/usr/lib/qemu/qemu-bridge-helper
#   GUEST_CACHE  where the guest kernel and initramfs are built once (default: .build/guest)
#   BK_LOGDIR    guest consoles, QEMU/helper stderr, dnsmasq and libvirt logs
#                (default: $GUEST_CACHE/logs, emptied at every run)
#   BK_VERBOSE=1 also print the console lines and the TAP seen for each guest
#
# Output on stdout: one "PASS name" or "FAIL name: reason" line per scenario, each followed by
# "# time name: S s", then "# time total: S s" and "N passed, N failed". Exit status 0 only when nothing failed. Progress goes to stderr.
#
# Must run as root. Everything happens in throwaway namespaces: a private mount namespace
# (own /dev/net/tun node, own /etc/qemu, /etc as an overlay, a private tmpfs), a PID
# namespace (every process dies with the run), and two network namespaces:
#
#   netns bk-lan-ID:  vl0 192.0.2.1/24, vl1 198.51.100.1/24, dnsmasq serving DHCP on both
#   netns bk-host-ID: br0 192.0.2.2/24   <- vh0 (veth to vl0)
#                     br1 198.51.100.2/24 <- vh1 (veth to vl1)
#                     br2 203.0.113.2/24  (not in the ACL)
#   /etc/qemu/bridge.conf: "allow br0", "allow br1"
#
# The host's network, /etc/qemu and /dev/net/tun are never touched.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
SELF=$HERE/$(basename "${BASH_SOURCE[0]}")

ALL_SCENARIOS=(guest-setuid guest-setuid-tun0600 guest-filecap two-guests tap-helper-form
               refused-bridge libvirt-session)
GUEST_TIMEOUT=120       # seconds, per QEMU guest
LIBVIRT_TIMEOUT=180     # seconds, for the libvirt guest to power off
NOBODY=65534

log() { echo "# $*" >&2; }

# ---------------------------------------------------------------------------------
# Outer part: runs in the host's namespaces. Checks preconditions, installs packages,
# builds the guest image, then re-runs this script inside fresh namespaces.
# ---------------------------------------------------------------------------------

precondition_fail() {
    echo "FAIL precondition: $*"
    echo "0 passed, 1 failed"
    exit 1
}

apt_install() {   # apt_install PKG... (apt-get update first: CI machines are fresh)
    export DEBIAN_FRONTEND=noninteractive
    if [ -z "${BK_APT_UPDATED:-}" ]; then
        log "apt-get update"
        apt-get update -qq >&2 || return 1
        BK_APT_UPDATED=1
    fi
    log "apt-get install $*"
    apt-get install -y --no-install-recommends "$@" >&2
}

ensure_packages() {
    local missing=() p
    for p in qemu-system-x86 dnsmasq-base busybox-static libcap2-bin iproute2 util-linux xz-utils; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        apt_install "${missing[@]}" || precondition_fail "apt-get install ${missing[*]} failed"
    fi
    local c
    for c in qemu-system-x86_64 dnsmasq setcap getcap setpriv unshare ip timeout; do
        command -v "$c" >/dev/null || precondition_fail "$c not found after installing packages"
    done
}

# Sets BK_LIBVIRT_ERR when libvirt cannot be installed (the scenario then fails with it).
ensure_libvirt() {
    BK_LIBVIRT_ERR=""
    if command -v virsh >/dev/null && command -v libvirtd >/dev/null \
       && dpkg -s libvirt-daemon-driver-qemu >/dev/null 2>&1; then
        return 0
    fi
    local out
    if ! out=$(apt_install libvirt-daemon libvirt-clients libvirt-daemon-driver-qemu 2>&1); then
        BK_LIBVIRT_ERR="apt-get install -y --no-install-recommends libvirt-daemon libvirt-clients libvirt-daemon-driver-qemu failed: $(echo "$out" | tail -n 3 | tr '\n' ' ')"
    elif ! command -v virsh >/dev/null || ! command -v libvirtd >/dev/null; then
        BK_LIBVIRT_ERR="libvirt packages installed but virsh/libvirtd not found"
    fi
}

outer_main() {
    local selected=() a
    for a in "$@"; do
        case $a in
            --list) printf '%s\n' "${ALL_SCENARIOS[@]}"; exit 0 ;;
            -h|--help) sed -n '2,27p' "$SELF"; exit 0 ;;
            -*) echo "unknown option $a" >&2; exit 2 ;;
            *)  case " ${ALL_SCENARIOS[*]} " in
                    *" $a "*) selected+=("$a") ;;
                    *) echo "unknown scenario $a (see --list)" >&2; exit 2 ;;
                esac ;;
        esac
    done
    [ ${#selected[@]} -gt 0 ] || selected=("${ALL_SCENARIOS[@]}")

    [ "$(id -u)" -eq 0 ] || precondition_fail "must run as root (namespaces, mknod, setuid install)"

    local helper=${HELPER:-$REPO/.build-helper/release/bridgekeeper-helper}
    if [ ! -f "$helper" ] || [ ! -x "$helper" ]; then
        precondition_fail "helper binary $helper missing (build it, or set HELPER=/path/to/helper)"
    fi
    helper=$(readlink -f "$helper")

    [ -c /dev/net/tun ] || precondition_fail "/dev/net/tun does not exist on this host (needed as a bind-mount target)"

    ensure_packages
    BK_LIBVIRT_ERR=""
    case " ${selected[*]} " in *" libvirt-session "*) ensure_libvirt ;; esac

    local cache=${GUEST_CACHE:-$REPO/.build/guest}
    "$HERE/build-image.sh" "$cache/image" || precondition_fail "building the guest image in $cache/image failed"

    local logdir=${BK_LOGDIR:-$cache/logs}
    mkdir -p "$logdir"
    logdir=$(cd "$logdir" && pwd)
    # Remove the previous run's files (only the kinds this script writes).
    find "$logdir" -maxdepth 1 -type f \( -name '*.console' -o -name '*.stderr' \
        -o -name '*.log' -o -name '*.transcript' \) -delete

    local run_id=$$ w
    w=$(mktemp -d /tmp/bk-guest.XXXXXX)
    chmod 0755 "$w"
    # Backstop for the case the inner run is killed before its own trap runs: the PID
    # namespace takes all processes with it; the netns names are plain files here.
    # shellcheck disable=SC2064
    trap "outer_cleanup '$run_id' '$w'" EXIT

    log "helper under test: $helper"
    log "guest kernel: $(cat "$cache/image/kernel-version") (Debian cloud kernel, TCG)"
    log "logs: $logdir"
    local rc=0
    BK_GUEST_INNER=1 BK_RUN_ID=$run_id BK_W=$w BK_LOGDIR=$logdir BK_HELPER=$helper \
    BK_IMAGE=$cache/image BK_LIBVIRT_ERR=$BK_LIBVIRT_ERR BK_VERBOSE=${BK_VERBOSE:-} \
        unshare --mount --propagation private --pid --fork --mount-proc --kill-child=SIGTERM \
        bash "$SELF" "${selected[@]}" &
    UNSHARE_PID=$!
    # On INT/TERM, ask the inner run (PID 1 of the new PID namespace) to clean up, and wait
    # for it: its trap deletes the namespaces and ends every process it started.
    trap forward_signal INT TERM
    while :; do
        rc=0
        wait "$UNSHARE_PID" || rc=$?
        kill -0 "$UNSHARE_PID" 2>/dev/null || break
    done
    exit "$rc"
}

forward_signal() {
    local child
    child=$(cat "/proc/$UNSHARE_PID/task/$UNSHARE_PID/children" 2>/dev/null || true)
    if [ -n "$child" ]; then
        kill -TERM "$child" 2>/dev/null || true
    else
        kill -TERM "$UNSHARE_PID" 2>/dev/null || true
    fi
}

outer_cleanup() {
    local run_id=$1 w=$2 ns
    for ns in "bk-lan-$run_id" "bk-host-$run_id"; do
        if [ -e "/run/netns/$ns" ]; then
            ip netns del "$ns" 2>/dev/null || rm -f "/run/netns/$ns"
        fi
    done
    # The tmpfs was mounted only inside the private mount namespace: this is an empty dir.
    rmdir "$w" 2>/dev/null || true
}

# ---------------------------------------------------------------------------------
# Inner part: PID 1 of a private PID + mount namespace.
# ---------------------------------------------------------------------------------

W=${BK_W:-}                    # private tmpfs (0755), everything of the run lives here
LOGDIR=${BK_LOGDIR:-}
NS_LAN=bk-lan-${BK_RUN_ID:-0}
NS_HOST=bk-host-${BK_RUN_ID:-0}
BIN=$W/bin                     # helper copies
IMG=$W/img                     # kernel + initrd, readable by nobody
TUN_NODE=$W/dev/tun            # bind-mounted over /dev/net/tun
PASSED=0
FAILED=0
REASON=""
BG_PIDS=()                     # background processes to end in cleanup (by pid)

pass() { echo "PASS $1"; PASSED=$((PASSED + 1)); }
failed() { echo "FAIL $1: $2"; FAILED=$((FAILED + 1)); }
fail() { REASON=$*; return 1; }
verbose() { if [ -n "${BK_VERBOSE:-}" ]; then echo "    $*"; fi; }

inner_cleanup() {
    trap '' INT TERM
    local p
    # Processes of the libvirt test user (the domain's QEMU is libvirtd's child).
    if [ -n "${LV_UID:-}" ]; then
        for p in $(ps -o pid= -u "$LV_UID" 2>/dev/null); do BG_PIDS+=("$p"); done
    fi
    for p in "${BG_PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${BG_PIDS[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    ip netns del "$NS_HOST" 2>/dev/null || true
    ip netns del "$NS_LAN" 2>/dev/null || true
    # Mounts (tmpfs, overlay, bind mounts) vanish with this mount namespace.
}

setup_mounts() {
    mount -t tmpfs -o mode=0755,size=256m bk-guest "$W" || return 1
    mkdir -p "$BIN" "$IMG" "$W/dev" "$W/etc-qemu" "$W/ovl/upper" "$W/ovl/work" "$W/run"
    chmod 0755 "$BIN" "$IMG" "$W/dev" "$W/etc-qemu" "$W/ovl/upper" "$W/run"
    cp "$BK_IMAGE/vmlinuz" "$BK_IMAGE/initrd.gz" "$IMG/"
    chmod 0644 "$IMG/vmlinuz" "$IMG/initrd.gz"

    # Our own TUN node: same device (10:200), mode under our control.
    mknod -m 0666 "$TUN_NODE" c 10 200 || return 1
    mount --bind "$TUN_NODE" /dev/net/tun || return 1

    # /etc as an overlay, so /etc/qemu can exist (as a mount point) and a throwaway user
    # can be added without writing to the host's /etc.
    mount -t overlay overlay \
        -o "lowerdir=/etc,upperdir=$W/ovl/upper,workdir=$W/ovl/work" /etc || return 1
    mkdir -p /etc/qemu
    printf 'allow br0\nallow br1\n' > "$W/etc-qemu/bridge.conf"
    chown root:root "$W/etc-qemu" "$W/etc-qemu/bridge.conf"
    chmod 0644 "$W/etc-qemu/bridge.conf"
    mount --bind "$W/etc-qemu" /etc/qemu || return 1
    [ "$(stat -c '%t:%T' /dev/net/tun)" = "a:c8" ] || return 1
    grep -qx 'allow br0' /etc/qemu/bridge.conf
}

install_helpers() {
    cp "$BK_HELPER" "$BIN/helper-setuid"
    chown root:root "$BIN/helper-setuid"
    chmod 4755 "$BIN/helper-setuid"
    cp "$BK_HELPER" "$BIN/helper-filecap"
    chown root:root "$BIN/helper-filecap"
    chmod 0755 "$BIN/helper-filecap"
    setcap cap_net_admin+ep "$BIN/helper-filecap" || return 1
    getcap "$BIN/helper-filecap" | grep -q cap_net_admin
}

setup_net() {
    ip netns add "$NS_LAN" || return 1
    ip netns add "$NS_HOST" || return 1
    ip -n "$NS_LAN" link set lo up
    ip -n "$NS_HOST" link set lo up
    local br
    for br in br0 br1 br2; do
        ip -n "$NS_HOST" link add "$br" type bridge forward_delay 0 stp_state 0 || return 1
    done
    ip -n "$NS_HOST" link add vh0 type veth peer name vl0 netns "$NS_LAN" || return 1
    ip -n "$NS_HOST" link add vh1 type veth peer name vl1 netns "$NS_LAN" || return 1
    ip -n "$NS_HOST" link set vh0 master br0
    ip -n "$NS_HOST" link set vh1 master br1
    ip -n "$NS_HOST" addr add 192.0.2.2/24 dev br0
    ip -n "$NS_HOST" addr add 198.51.100.2/24 dev br1
    ip -n "$NS_HOST" addr add 203.0.113.2/24 dev br2
    ip -n "$NS_LAN" addr add 192.0.2.1/24 dev vl0
    ip -n "$NS_LAN" addr add 198.51.100.1/24 dev vl1
    local d
    for d in vh0 vh1 br0 br1 br2; do ip -n "$NS_HOST" link set "$d" up; done
    for d in vl0 vl1; do ip -n "$NS_LAN" link set "$d" up; done

    # DHCP for both LANs; fixed reservations for the two-guests scenario. --port=0: no DNS.
    ip netns exec "$NS_LAN" dnsmasq --no-daemon --conf-file=/dev/null --port=0 \
        --bind-interfaces --interface=vl0 --interface=vl1 \
        --dhcp-range=192.0.2.100,192.0.2.150,255.255.255.0,5m \
        --dhcp-range=198.51.100.100,198.51.100.150,255.255.255.0,5m \
        --dhcp-host=52:54:00:b0:00:01,192.0.2.61 \
        --dhcp-host=52:54:00:b0:00:02,192.0.2.62 \
        --dhcp-leasefile="$W/run/leases" --pid-file="$W/run/dnsmasq.pid" \
        --log-dhcp --log-facility=- </dev/null >"$LOGDIR/dnsmasq.log" 2>&1 &
    BG_PIDS+=($!)
    for _ in $(seq 50); do
        grep -q 'DHCP, IP range 198.51.100' "$LOGDIR/dnsmasq.log" 2>/dev/null && return 0
        kill -0 "${BG_PIDS[-1]}" 2>/dev/null || break
        sleep 0.1
    done
    echo "dnsmasq did not start: $(tail -n 2 "$LOGDIR/dnsmasq.log" | tr '\n' ' ')" >&2
    return 1
}

# --- guest plumbing ----------------------------------------------------------------

# start_guest ID NETDEV MAC APPEND: QEMU as nobody in the host netns; sets GUEST_PID.
start_guest() {
    local id=$1 netdev=$2 mac=$3 append=$4
    timeout "$GUEST_TIMEOUT" ip netns exec "$NS_HOST" \
        setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups \
        qemu-system-x86_64 -accel tcg -m 256 -nodefaults -display none \
        -serial stdio -no-reboot \
        -kernel "$IMG/vmlinuz" -initrd "$IMG/initrd.gz" \
        -append "console=ttyS0 panic=-1 quiet $append" \
        -netdev "$netdev" -device "virtio-net-pci,netdev=n0,mac=$mac" \
        </dev/null >"$LOGDIR/$id.console" 2>"$LOGDIR/$id.stderr" &
    GUEST_PID=$!
    BG_PIDS+=("$GUEST_PID")
}

# TUN/TAP devices attached to bridge $1 in the host netns (names, one per line).
taps_on() {
    ip -n "$NS_HOST" -o link show master "$1" type tun 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1
}
# All TUN/TAP devices in the host netns.
all_taps() {
    ip -n "$NS_HOST" -o link show type tun 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1
}
tap_owner() { ip netns exec "$NS_HOST" cat "/sys/class/net/$1/owner" 2>/dev/null || echo "?"; }

# watch_taps BRIDGE PID...: while any PID runs, record the TAPs on BRIDGE and their owner
# in TAPS_SEEN (names, in order of appearance) and TAP_OWNER[name].
declare -A TAP_OWNER=()
TAPS_SEEN=()
watch_taps() {
    local br=$1 t p alive owner
    shift
    TAPS_SEEN=()
    TAP_OWNER=()
    while :; do
        alive=0
        for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ "$alive" -eq 1 ] || break
        for t in $(taps_on "$br"); do
            owner=$(tap_owner "$t")
            if [ -z "${TAP_OWNER[$t]+x}" ]; then
                TAPS_SEEN+=("$t")
                TAP_OWNER[$t]=$owner
            # The TAP can vanish between the listing and the read (QEMU exiting): a failed read
            # ("?") never replaces an owner already seen.
            elif [ "$owner" != "?" ]; then
                TAP_OWNER[$t]=$owner
            fi
        done
        sleep 0.2
    done
}

# Waits up to 3 s for the host netns to have no TUN/TAP device; sets LEFT to what remains.
no_taps_left() {
    for _ in $(seq 15); do
        LEFT=$(all_taps | tr '\n' ' ')
        [ -z "$LEFT" ] && return 0
        sleep 0.2
    done
    return 1
}

# One-line summary of what QEMU and the helper printed on stderr.
stderr_summary() {
    local f=$LOGDIR/$1.stderr
    if [ -s "$f" ]; then
        grep -v '^$' "$f" | head -n 4 | tr '\n' '|' | sed 's/|$//; s/|/ | /g'
    else
        echo "(no stderr)"
    fi
}

console_lines() { tr -d '\r' < "$LOGDIR/$1.console" | grep -E '^GUEST-(LEASE|PING|ERROR)' || true; }

# check_console ID LEASE_REGEX PING_ADDR...
check_console() {
    local id=$1 lease_re=$2 a c
    shift 2
    c=$(tr -d '\r' < "$LOGDIR/$id.console")
    if ! grep -Eq "^GUEST-LEASE ip=$lease_re\$" <<<"$c"; then
        fail "$id: no DHCP lease matching $lease_re on the guest console ($(grep -E '^GUEST-(LEASE|ERROR)' <<<"$c" | tr '\n' ' ')); see $LOGDIR/$id.console"
        return 1
    fi
    for a in "$@"; do
        grep -qx "GUEST-PING $a ok" <<<"$c" \
            || { fail "$id: guest could not ping $a ($(grep -E "^GUEST-PING $a " <<<"$c" || echo 'no GUEST-PING line'))"; return 1; }
    done
    grep -qx "GUEST-DONE" <<<"$c" || { fail "$id: guest did not reach GUEST-DONE"; return 1; }
}

# check_owner TAP BRIDGE SEEN_OWNER WANTED_UID WHO
check_owner() {
    [ "$3" = "$4" ] && return 0
    local hint=""
    [ "$3" = "-1" ] && hint=" (-1: the helper set no owner, TUNSETOWNER missing)"
    fail "TAP $1 on $2 had owner $3$hint, expected $4 ($5)"
}

# run_one_guest ID NETDEV BRIDGE MAC LEASE_REGEX "PING ADDRS"
run_one_guest() {
    local id=$1 netdev=$2 br=$3 mac=$4 lease_re=$5 pings=$6 rc=0 t
    start_guest "$id" "$netdev" "$mac" "bk.ping=${pings// /,}"
    watch_taps "$br" "$GUEST_PID"
    wait "$GUEST_PID" || rc=$?
    if [ "$rc" -ne 0 ]; then
        [ "$rc" -eq 124 ] && { fail "QEMU timed out after ${GUEST_TIMEOUT}s; $(stderr_summary "$id")"; return 1; }
        fail "QEMU exited $rc: $(stderr_summary "$id")"
        return 1
    fi
    [ ${#TAPS_SEEN[@]} -ge 1 ] || { fail "no TAP was seen on $br while QEMU ran"; return 1; }
    [ ${#TAPS_SEEN[@]} -eq 1 ] || { fail "more than one TAP on $br: ${TAPS_SEEN[*]}"; return 1; }
    t=${TAPS_SEEN[0]}
    # shellcheck disable=SC2086 # the ping list is split on purpose
    check_console "$id" "$lease_re" $pings || return 1
    no_taps_left || { fail "TUN/TAP devices left in the host netns after QEMU exited: $LEFT"; return 1; }
    # Checked last, so that a helper without TUNSETOWNER (stock) fails only here.
    check_owner "$t" "$br" "${TAP_OWNER[$t]}" "$NOBODY" "the user running QEMU" || return 1
    if [ -n "${BK_VERBOSE:-}" ]; then
        console_lines "$id" | sed 's/^/    guest console: /'
        verbose "TAP seen on $br while the guest ran: $t, owner uid ${TAP_OWNER[$t]} ($(getent passwd "${TAP_OWNER[$t]}" | cut -d: -f1))"
        verbose "after QEMU exited: no TUN/TAP device left in the host netns"
    fi
}

# --- scenarios -------------------------------------------------------------------

sc_guest_setuid() {
    chmod 0666 "$TUN_NODE"
    run_one_guest guest-setuid "bridge,id=n0,br=br0,helper=$BIN/helper-setuid" br0 \
        52:54:00:b0:00:11 '192\.0\.2\.[0-9]+' "192.0.2.1 192.0.2.2"
}

sc_guest_setuid_tun0600() {
    # The setuid install must work where /dev/net/tun is root-only (as on these machines).
    chmod 0600 "$TUN_NODE"
    local rc=0
    run_one_guest guest-setuid-tun0600 "bridge,id=n0,br=br0,helper=$BIN/helper-setuid" br0 \
        52:54:00:b0:00:12 '192\.0\.2\.[0-9]+' "192.0.2.1 192.0.2.2" || rc=$?
    chmod 0666 "$TUN_NODE"
    return "$rc"
}

sc_guest_filecap() {
    chmod 0666 "$TUN_NODE"
    run_one_guest guest-filecap "bridge,id=n0,br=br0,helper=$BIN/helper-filecap" br0 \
        52:54:00:b0:00:13 '192\.0\.2\.[0-9]+' "192.0.2.1 192.0.2.2"
}

sc_two_guests() {
    chmod 0666 "$TUN_NODE"
    local pa pb rca=0 rcb=0 t
    start_guest two-guests-a "bridge,id=n0,br=br0,helper=$BIN/helper-setuid" \
        52:54:00:b0:00:01 "bk.wait=10 bk.ping=192.0.2.62,192.0.2.1"
    pa=$GUEST_PID
    start_guest two-guests-b "bridge,id=n0,br=br0,helper=$BIN/helper-setuid" \
        52:54:00:b0:00:02 "bk.wait=10 bk.ping=192.0.2.61,192.0.2.1"
    pb=$GUEST_PID
    watch_taps br0 "$pa" "$pb"
    wait "$pa" || rca=$?
    wait "$pb" || rcb=$?
    [ "$rca" -eq 0 ] || { fail "guest A: QEMU exited $rca: $(stderr_summary two-guests-a)"; return 1; }
    [ "$rcb" -eq 0 ] || { fail "guest B: QEMU exited $rcb: $(stderr_summary two-guests-b)"; return 1; }
    [ ${#TAPS_SEEN[@]} -eq 2 ] || { fail "expected 2 TAPs on br0, saw ${#TAPS_SEEN[@]}: ${TAPS_SEEN[*]:-none}"; return 1; }
    check_console two-guests-a '192\.0\.2\.61' 192.0.2.62 192.0.2.1 || return 1
    check_console two-guests-b '192\.0\.2\.62' 192.0.2.61 192.0.2.1 || return 1
    no_taps_left || { fail "TUN/TAP devices left after both guests exited: $LEFT"; return 1; }
    for t in "${TAPS_SEEN[@]}"; do
        check_owner "$t" br0 "${TAP_OWNER[$t]}" "$NOBODY" "the user running QEMU" || return 1
    done
    if [ -n "${BK_VERBOSE:-}" ]; then
        console_lines two-guests-a | sed 's/^/    guest A console: /'
        console_lines two-guests-b | sed 's/^/    guest B console: /'
        for t in "${TAPS_SEEN[@]}"; do verbose "TAP on br0: $t owner uid ${TAP_OWNER[$t]}"; done
    fi
}

sc_tap_helper_form() {
    # helper string with a space: QEMU runs it with /bin/sh -c "... --br=br1 --use-vnet --fd=N"
    chmod 0666 "$TUN_NODE"
    run_one_guest tap-helper-form "tap,id=n0,helper=$BIN/helper-setuid --br=br1" br1 \
        52:54:00:b0:00:14 '198\.51\.100\.[0-9]+' "198.51.100.1 198.51.100.2"
}

sc_refused_bridge() {
    chmod 0666 "$TUN_NODE"
    local id=refused-bridge rc=0 f l1 l2
    f=$LOGDIR/$id.stderr
    start_guest "$id" "bridge,id=n0,br=br2,helper=$BIN/helper-setuid" 52:54:00:b0:00:15 ""
    watch_taps br2 "$GUEST_PID"
    wait "$GUEST_PID" || rc=$?
    [ "$rc" -ne 0 ] || { fail "QEMU exited 0 although br2 is not in the ACL"; return 1; }
    [ "$rc" -ne 124 ] || { fail "QEMU timed out instead of failing"; return 1; }
    l1=$(grep -n '^access denied by acl file' "$f" | head -n1 | cut -d: -f1)
    [ -n "$l1" ] || { fail "no stderr line starting with 'access denied by acl file': $(stderr_summary "$id")"; return 1; }
    l2=$(grep -n 'bridge helper failed' "$f" | tail -n1 | cut -d: -f1)
    [ -n "$l2" ] || { fail "QEMU did not report 'bridge helper failed': $(stderr_summary "$id")"; return 1; }
    [ "$l2" -gt "$l1" ] || { fail "'bridge helper failed' (line $l2) does not follow the helper's denial (line $l1)"; return 1; }
    [ ${#TAPS_SEEN[@]} -eq 0 ] || { fail "a TAP appeared on br2: ${TAPS_SEEN[*]}"; return 1; }
    no_taps_left || { fail "TUN/TAP devices left after the refusal: $LEFT"; return 1; }
    if [ -n "${BK_VERBOSE:-}" ]; then sed 's/^/    stderr: /' "$f"; fi
}

# --- libvirt session mode ----------------------------------------------------------

LV_NOTES=$HERE/LIBVIRT-NOTES.md
LV_TRANSCRIPT=""

# lv CMD...: run CMD as the libvirt test user in the host netns; output in LV_OUT, and
# command + output + status appended to $LV_TRANSCRIPT unless LV_QUIET=1 (polling).
lv() {
    local out rc=0
    out=$(ip netns exec "$NS_HOST" setpriv --reuid="$LV_UID" --regid="$LV_UID" --clear-groups \
          env -i "${LV_ENV[@]}" "$@" 2>&1) || rc=$?
    if [ "${LV_QUIET:-0}" != 1 ]; then
        { echo "\$ $*"; if [ -n "$out" ]; then echo "$out"; fi; echo "(exit $rc)"; } >> "$LV_TRANSCRIPT"
    fi
    LV_OUT=$out
    return "$rc"
}

# lv_fail "what failed": FAIL reason with the command and error, details to LIBVIRT-NOTES.md.
lv_fail() {
    local what=$1
    fail "$what; see $LV_NOTES"
    {
        echo "# libvirt session scenario: failure notes"
        echo
        echo "Written by Tests/Guest/scenarios.sh on $(date -u '+%Y-%m-%d %H:%M:%S UTC') ($(uname -r), $(virsh --version 2>/dev/null | sed 's/^/libvirt /'), helper $BK_HELPER)."
        echo
        echo "Failure: $what"
        echo
        echo "Commands run as uid ${LV_UID:-?} with env ${LV_ENV[*]:-}, inside the test's host netns and private mount namespace:"
        echo
        echo '```'
        cat "$LV_TRANSCRIPT" 2>/dev/null || true
        echo '```'
        echo
        echo "libvirtd log (tail):"
        echo
        echo '```'
        tail -n 40 "$LOGDIR/libvirtd.log" 2>/dev/null || true
        echo '```'
        local qlog
        qlog=$(find "$LV_HOME/.cache/libvirt/qemu/log" -name '*.log' 2>/dev/null | head -n1 || true)
        if [ -n "$qlog" ]; then
            echo
            echo "QEMU domain log ($qlog, tail):"
            echo
            echo '```'
            tail -n 30 "$qlog"
            echo '```'
        fi
    } > "$LV_NOTES" 2>/dev/null || true
    return 1
}

sc_libvirt_session() {
    LV_TRANSCRIPT=$LOGDIR/libvirt.transcript
    : > "$LV_TRANSCRIPT"
    LV_ENV=()
    LV_UID=""
    LV_HOME=$W/lv/home
    if [ -n "${BK_LIBVIRT_ERR:-}" ]; then
        lv_fail "$BK_LIBVIRT_ERR"
        return 1
    fi
    chmod 0666 "$TUN_NODE"

    # A throwaway user, added to the overlay /etc only (gone with the mount namespace).
    local uid=64190 name=bkguest
    while getent passwd "$uid" >/dev/null || getent group "$uid" >/dev/null; do uid=$((uid + 1)); done
    while getent passwd "$name" >/dev/null; do name=${name}x; done
    LV_UID=$uid
    echo "$name:x:$uid:$uid:bridgekeeper guest test:$LV_HOME:/bin/sh" >> /etc/passwd
    echo "$name:x:$uid:" >> /etc/group

    local rt=$W/lv/run console=$W/lv/console.log dom=bkguest
    mkdir -p "$LV_HOME/.config/libvirt" "$rt"
    cat > "$LV_HOME/.config/libvirt/qemu.conf" <<EOF
bridge_helper = "$BIN/helper-setuid"
stdio_handler = "file"
EOF
    cat > "$W/lv/domain.xml" <<EOF
<domain type='qemu'>
  <name>$dom</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$IMG/vmlinuz</kernel>
    <initrd>$IMG/initrd.gz</initrd>
    <cmdline>console=ttyS0 panic=-1 quiet bk.ping=192.0.2.1,192.0.2.2</cmdline>
  </os>
  <features>
    <acpi/>
  </features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$(command -v qemu-system-x86_64)</emulator>
    <interface type='bridge'>
      <source bridge='br0'/>
      <mac address='52:54:00:b0:00:21'/>
      <model type='virtio'/>
    </interface>
    <serial type='file'>
      <source path='$console'/>
      <target port='0'/>
    </serial>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
    chown -R "$uid:$uid" "$W/lv"
    chmod 0700 "$rt"
    LV_ENV=(HOME="$LV_HOME" USER="$name" LOGNAME="$name" PATH=/usr/sbin:/usr/bin:/sbin:/bin
            XDG_RUNTIME_DIR="$rt" XDG_CONFIG_HOME="$LV_HOME/.config" XDG_CACHE_HOME="$LV_HOME/.cache")

    # The session daemon, started by us in the host netns + private mount ns (not autospawned).
    ip netns exec "$NS_HOST" setpriv --reuid="$uid" --regid="$uid" --clear-groups \
        env -i "${LV_ENV[@]}" libvirtd </dev/null >"$LOGDIR/libvirtd.log" 2>&1 &
    local lvd=$!
    BG_PIDS+=("$lvd")
    echo "\$ libvirtd   (session daemon, background, pid $lvd)" >> "$LV_TRANSCRIPT"
    for _ in $(seq 100); do
        [ -S "$rt/libvirt/libvirt-sock" ] && break
        kill -0 "$lvd" 2>/dev/null || break
        sleep 0.2
    done
    [ -S "$rt/libvirt/libvirt-sock" ] \
        || { lv_fail "session libvirtd did not create $rt/libvirt/libvirt-sock: $(tail -n 3 "$LOGDIR/libvirtd.log" | tr '\n' ' ')"; return 1; }

    local uri=qemu:///session
    lv virsh -c "$uri" define "$W/lv/domain.xml" || { lv_fail "virsh -c $uri define domain.xml: $LV_OUT"; return 1; }
    if ! lv virsh -c "$uri" start "$dom"; then
        lv_fail "virsh -c $uri start $dom: $(echo "$LV_OUT" | tr '\n' ' ')"
        return 1
    fi
    lv virsh -c "$uri" dumpxml "$dom" || { lv_fail "virsh -c $uri dumpxml $dom: $LV_OUT"; return 1; }
    local xml=$LV_OUT tap state=""
    tap=$(sed -n "s/.*<target dev='\([^']*\)'.*/\1/p" <<<"$xml" | head -n1)
    # Read the bridge membership and owner right away, while the guest runs.
    local on_br0 owner_now
    on_br0=$(taps_on br0 | tr '\n' ' ')
    owner_now=$( [ -n "$tap" ] && tap_owner "$tap" || echo "?")

    for _ in $(seq $((LIBVIRT_TIMEOUT * 2))); do
        LV_QUIET=1 lv virsh -c "$uri" domstate "$dom" || true
        state=$(echo "$LV_OUT" | head -n1)
        [ "$state" = "shut off" ] && break
        sleep 0.5
    done
    echo "\$ virsh -c $uri domstate $dom   (polled until 'shut off' or ${LIBVIRT_TIMEOUT}s)" >> "$LV_TRANSCRIPT"
    echo "$state" >> "$LV_TRANSCRIPT"
    cp "$console" "$LOGDIR/libvirt-session.console" 2>/dev/null || true
    cp "$LV_HOME"/.cache/libvirt/qemu/log/"$dom".log "$LOGDIR/libvirt-domain.log" 2>/dev/null || true
    if [ "$state" != "shut off" ]; then
        lv virsh -c "$uri" destroy "$dom" || true
        lv virsh -c "$uri" undefine "$dom" || true
        lv_fail "guest did not power off within ${LIBVIRT_TIMEOUT}s (state: $state)"
        return 1
    fi
    lv virsh -c "$uri" undefine "$dom" || true
    kill -TERM "$lvd" 2>/dev/null || true
    wait "$lvd" 2>/dev/null || true

    [ -n "$tap" ] || { lv_fail "virsh dumpxml shows no <target dev=...> for the interface"; return 1; }
    case " $on_br0 " in
        *" $tap "*) ;;
        *) lv_fail "live XML names target dev $tap, but the TUN/TAP devices on br0 were: ${on_br0:-none}"; return 1 ;;
    esac
    check_console libvirt-session '192\.0\.2\.[0-9]+' 192.0.2.1 192.0.2.2 || return 1
    no_taps_left || { fail "TUN/TAP devices left after the libvirt guest shut off: $LEFT"; return 1; }
    check_owner "$tap" br0 "$owner_now" "$uid" "the libvirt session user" || return 1
    if [ -n "${BK_VERBOSE:-}" ]; then
        console_lines libvirt-session | sed 's/^/    guest console: /'
        verbose "libvirt live XML: <target dev='$tap'/>, on br0, owner uid $owner_now ($name)"
    fi
}

CURRENT=""
interrupted() {
    failed "${CURRENT:-setup}" "interrupted by a signal"
    echo "$PASSED passed, $FAILED failed"
    exit "$1"
}

inner_main() {
    trap inner_cleanup EXIT
    trap 'interrupted 130' INT
    trap 'interrupted 143' TERM

    if ! setup_mounts; then
        failed precondition "private mount namespace setup failed (tmpfs at $W, overlay on /etc, bind mounts over /etc/qemu and /dev/net/tun)"
    elif ! install_helpers; then
        failed precondition "installing the helper copies (setuid 4755 / setcap cap_net_admin+ep) in $BIN failed"
    elif ! setup_net; then
        failed precondition "network namespace setup failed (see $LOGDIR/dnsmasq.log)"
    else
        local s fn t0
        for s in "$@"; do
            fn=sc_${s//-/_}
            REASON=""
            CURRENT=$s
            t0=$SECONDS
            log "scenario $s ..."
            if "$fn"; then
                pass "$s"
            else
                failed "$s" "${REASON:-unknown failure}"
            fi
            echo "# time $s: $((SECONDS - t0)) s"
        done
        CURRENT=""
    fi
    echo "# time total: $SECONDS s"
    echo "$PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
}

if [ -n "${BK_GUEST_INNER:-}" ]; then
    inner_main "$@"
else
    outer_main "$@"
fi
