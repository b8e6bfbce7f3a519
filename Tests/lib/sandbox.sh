# shellcheck shell=bash
# Sourced by the privileged tests, the demo and the benchmark. Gives a script its own throwaway
# world, so nothing on the host changes:
# - a private network namespace (bridges, TAPs and addresses live and die with it);
# - a private mount namespace with sysfs remounted for that network namespace, an overlay over
#   /etc (so /etc/qemu can be created and filled without touching the host's /etc), and our own
#   /dev/net/tun node (mode chosen per test) bind-mounted over the host's; the host's /dev/log,
#   if any, covered by /dev/null (the helper's audit records never reach the host's log);
# - a scratch directory (0755, root-owned) for the installed helper copies.
# Usage: source Tests/lib/sandbox.sh; bk_enter_sandbox "$@"   (re-executes the script inside)

bk_die() { printf 'FAIL precondition: %s\n' "$*" >&2; exit 1; }

bk_enter_sandbox() {
    if [ "${BK_SANDBOX:-}" != 1 ]; then
        [ "$(id -u)" = 0 ] || bk_die "must run as root (it builds namespaces and setuid copies)"
        exec env BK_SANDBOX=1 unshare --mount --net --propagation private --fork -- bash "$0" "$@"
    fi
    mount -t sysfs sysfs /sys || bk_die "cannot remount sysfs in the private namespace"
    ip link set lo up
    BK_SCRATCH=$(mktemp -d /tmp/bk-sandbox.XXXXXX)
    chmod 0755 "$BK_SCRATCH"
    trap bk_leave_sandbox EXIT
    mkdir "$BK_SCRATCH/etc-upper" "$BK_SCRATCH/etc-work" "$BK_SCRATCH/bin"
    chmod 0755 "$BK_SCRATCH/bin"
    mount -t overlay overlay -o "lowerdir=/etc,upperdir=$BK_SCRATCH/etc-upper,workdir=$BK_SCRATCH/etc-work" /etc ||
        bk_die "cannot mount an overlay over /etc (overlayfs missing?)"
    rm -rf /etc/qemu
    mkdir -m 0755 /etc/qemu
    mknod "$BK_SCRATCH/tun" c 10 200
    chmod 0600 "$BK_SCRATCH/tun"
    mount --bind "$BK_SCRATCH/tun" /dev/net/tun || bk_die "cannot bind a private /dev/net/tun"
    # The helper sends an audit record per request to /dev/log: keep the host's system log out of
    # every test (the bind lands on the socket /dev/log points to, in this mount namespace only).
    if [ -e /dev/log ]; then mount --bind /dev/null /dev/log || bk_die "cannot hide the host's /dev/log"; fi
}

bk_leave_sandbox() {
    local status=$?
    umount -l /dev/net/tun /etc 2>/dev/null
    rm -rf "$BK_SCRATCH"
    exit "$status"
}

# bk_tun_mode 0666|0600: the mode of our private /dev/net/tun.
bk_tun_mode() { chmod "$1" "$BK_SCRATCH/tun"; }

# bk_install SRC NAME MODE: copies a helper binary to $BK_SCRATCH/bin/NAME, root-owned, either
# setuid (MODE=setuid: 4755), with the file capability (MODE=caps: 0755 + cap_net_admin+ep) or
# plain (MODE=plain: 0755). Prints the path.
bk_install() {
    local src=$1 name=$2 mode=$3 dst
    dst="$BK_SCRATCH/bin/$name"
    install -o root -g root -m 0755 "$src" "$dst"
    case $mode in
        setuid) chmod 4755 "$dst" ;;
        caps) setcap cap_net_admin+ep "$dst" || bk_die "setcap failed" ;;
        plain) ;;
        *) bk_die "bk_install: unknown mode $mode" ;;
    esac
    printf '%s\n' "$dst"
}

# bk_acl [FILE] < content: writes an ACL file (default /etc/qemu/bridge.conf), root:root 0644.
bk_acl() {
    local file=${1:-/etc/qemu/bridge.conf}
    cat > "$file"
    chown root:root "$file"
    chmod 0644 "$file"
}

# bk_bridge NAME [MTU]: a bridge in the sandbox, up.
bk_bridge() {
    ip link add "$1" type bridge
    [ -z "${2:-}" ] || ip link set "$1" mtu "$2"
    ip link set "$1" up
}

# bk_taps: the TUN/TAP devices that exist now, one name per line.
bk_taps() { ip -o link show type tun | awk -F': ' '{print $2}' | sed 's/@.*//'; }

# bk_as_nobody CMD...: runs CMD as nobody (uid and gid 65534, no supplementary groups).
bk_as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; }
