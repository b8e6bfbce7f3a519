#!/bin/bash
# Build the tiny test guest used by Tests/Guest/scenarios.sh, fully offline
# (only Debian packages from the configured apt sources):
#
#   OUTDIR/vmlinuz    Debian's cloud kernel (linux-image-cloud-amd64's dependency),
#                     unpacked with dpkg -x, never installed
#   OUTDIR/initrd.gz  busybox-static + the virtio-net modules + an /init that
#                     gets a DHCP lease, pings what the kernel command line asks
#                     for and powers off
#   OUTDIR/kernel-version  the kernel release the image was built from
#
# Usage: build-image.sh OUTDIR      (idempotent: does nothing when OUTDIR is complete)
#
# Guest kernel command line understood by /init:
#   bk.ping=ADDR1,ADDR2   ping each address (ping -c 2 -W 2), print
#                         "GUEST-PING ADDR ok" or "GUEST-PING ADDR fail"
#   bk.wait=N             sleep N seconds after the lease, before pinging
# Console lines: "GUEST-LEASE ip=A.B.C.D" (or "GUEST-LEASE none"), GUEST-PING ..., "GUEST-DONE".
set -euo pipefail

die() { echo "build-image: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $0 OUTDIR"
OUTDIR=$1

if [ -s "$OUTDIR/vmlinuz" ] && [ -s "$OUTDIR/initrd.gz" ] && [ -s "$OUTDIR/kernel-version" ]; then
    echo "build-image: $OUTDIR is up to date (kernel $(cat "$OUTDIR/kernel-version"))" >&2
    exit 0
fi
[ "$(id -u)" -eq 0 ] || die "must run as root (apt-get, mknod)"

export DEBIAN_FRONTEND=noninteractive
apt_updated=0
apt_update_once() {
    if [ "$apt_updated" -eq 0 ]; then
        apt-get update -qq >&2 || die "apt-get update failed"
        apt_updated=1
    fi
}

# busybox-static provides the statically linked /bin/busybox we copy into the image.
if ! dpkg -s busybox-static >/dev/null 2>&1; then
    apt_update_once
    apt-get install -y --no-install-recommends busybox-static >&2 || die "cannot install busybox-static"
fi
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] || die "$BUSYBOX missing although busybox-static is installed"
if ldd "$BUSYBOX" >/dev/null 2>&1; then
    die "$BUSYBOX is dynamically linked (is the 'busybox' package installed instead of busybox-static?)"
fi
command -v xz >/dev/null || { apt_update_once; apt-get install -y --no-install-recommends xz-utils >&2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# apt-get download runs as the _apt sandbox user: let it write there.
chmod 0777 "$work"

# --- kernel --------------------------------------------------------------------
kpkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null \
       | sed -n 's/^ *Depends: \(linux-image-[^ ]*-cloud-amd64\)$/\1/p' | head -n1) || true
if [ -z "$kpkg" ]; then
    apt_update_once
    kpkg=$(apt-cache depends linux-image-cloud-amd64 \
           | sed -n 's/^ *Depends: \(linux-image-[^ ]*-cloud-amd64\)$/\1/p' | head -n1)
fi
[ -n "$kpkg" ] || die "cannot find the package linux-image-cloud-amd64 depends on"
echo "build-image: kernel package $kpkg" >&2
if ! (cd "$work" && apt-get download "$kpkg" >&2); then
    apt_update_once
    (cd "$work" && apt-get download "$kpkg" >&2) || die "apt-get download $kpkg failed"
fi
deb=$(find "$work" -maxdepth 1 -name "${kpkg}_*.deb" | head -n1)
[ -n "$deb" ] || die "apt-get download $kpkg produced no .deb"
dpkg -x "$deb" "$work/kernel"

vmlinuz=$(find "$work/kernel/boot" -maxdepth 1 -name 'vmlinuz-*' | head -n1)
[ -s "${vmlinuz:-/nonexistent}" ] || die "no boot/vmlinuz-* in $kpkg"
kver=${vmlinuz##*/vmlinuz-}
moddir=$work/kernel/lib/modules/$kver
[ -d "$moddir" ] || die "no lib/modules/$kver in $kpkg"

# --- initramfs tree ------------------------------------------------------------
root=$work/root
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,etc,lib/modules,usr/bin,usr/sbin}
cp "$BUSYBOX" "$root/bin/busybox"
chmod 0755 "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
# The kernel needs a console node before devtmpfs is mounted to give /init a stdout.
mknod -m 0600 "$root/dev/console" c 5 1
mknod -m 0666 "$root/dev/null" c 1 3

# virtio-net and what it depends on, in load order. Some may be built in (=y) in a
# future kernel: then there is no file and nothing to load.
modules="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci failover net_failover virtio_net"
: > "$root/lib/modules/load-order"
for m in $modules; do
    f=$(find "$moddir" \( -name "$m.ko" -o -name "$m.ko.xz" \) | head -n1)
    if [ -z "$f" ]; then
        if grep -q "/$m.ko" "$moddir/modules.builtin" 2>/dev/null; then
            echo "build-image: $m is built into $kver" >&2
            continue
        fi
        die "module $m not found in $kpkg"
    fi
    case $f in
        *.ko.xz) xz -dc "$f" > "$root/lib/modules/$m.ko" ;;
        *)       cp "$f" "$root/lib/modules/$m.ko" ;;
    esac
    echo "$m" >> "$root/lib/modules/load-order"
done

cat > "$root/udhcpc.script" <<'EOF'
#!/bin/sh
# udhcpc event script: configure the lease and report it on the console.
case "$1" in
    deconfig)
        ip addr flush dev "$interface" 2>/dev/null
        ip link set "$interface" up
        ;;
    bound|renew)
        ifconfig "$interface" "$ip" netmask "${subnet:-255.255.255.0}" up
        echo "GUEST-LEASE ip=$ip"
        ;;
esac
exit 0
EOF
chmod 0755 "$root/udhcpc.script"

cat > "$root/init" <<'EOF'
#!/bin/sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "GUEST-BOOT kernel $(uname -r)"
while read -r m; do
    insmod "/lib/modules/$m.ko" || echo "GUEST-ERROR insmod $m failed"
done < /lib/modules/load-order

pings=""
wait_s=0
for arg in $(cat /proc/cmdline); do
    case "$arg" in
        bk.ping=*) pings=$(echo "${arg#bk.ping=}" | tr ',' ' ') ;;
        bk.wait=*) wait_s=${arg#bk.wait=} ;;
    esac
done

ip link set lo up
# The NIC shows up asynchronously after virtio_net is loaded.
n=0
while [ ! -e /sys/class/net/eth0 ] && [ "$n" -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
if [ -e /sys/class/net/eth0 ]; then
    echo "GUEST-NIC mac=$(cat /sys/class/net/eth0/address)"
    ip link set eth0 up
    if ! udhcpc -i eth0 -s /udhcpc.script -n -q -t 5; then
        echo "GUEST-LEASE none"
    fi
else
    echo "GUEST-ERROR no eth0"
    echo "GUEST-LEASE none"
fi

if [ "$wait_s" -gt 0 ] 2>/dev/null; then sleep "$wait_s"; fi
for a in $pings; do
    if ping -c 2 -W 2 "$a" >/dev/null 2>&1; then
        echo "GUEST-PING $a ok"
    else
        echo "GUEST-PING $a fail"
    fi
done
echo "GUEST-DONE"
sync
poweroff -f
EOF
chmod 0755 "$root/init"

mkdir -p "$OUTDIR"
(cd "$root" && find . -mindepth 1 | "$BUSYBOX" cpio -o -H newc 2>/dev/null) | gzip -9 > "$work/initrd.gz"
cp "$vmlinuz" "$work/vmlinuz"
# Publish atomically-ish: the version file last, it marks the directory complete.
chmod 0644 "$work/vmlinuz" "$work/initrd.gz"
mv -f "$work/vmlinuz" "$OUTDIR/vmlinuz"
mv -f "$work/initrd.gz" "$OUTDIR/initrd.gz"
echo "$kver" > "$OUTDIR/kernel-version.tmp"
mv -f "$OUTDIR/kernel-version.tmp" "$OUTDIR/kernel-version"
echo "build-image: built $OUTDIR (kernel $kver, modules: $(tr '\n' ' ' < "$root/lib/modules/load-order"))" >&2
