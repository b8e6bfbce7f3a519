#!/bin/bash
# Threat #10 for the device types this machine's kernel lacks (bonding, 802.1Q VLANs, dummy):
# boots Debian's cloud kernel under QEMU (TCG) with an initramfs that holds our static helper,
# a static QEMU-style client and those modules, and checks inside the guest, as root and as
# uid 65534 through the setuid helper, that a bond, a VLAN device and a dummy are refused as
# "not a Linux bridge" with no TAP created, while a real bridge in the same kernel attaches.
# The guest is the host under test; nothing touches this machine's network. Prints PASS/FAIL
# lines, `# time total: S s` and `N passed, N failed`.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
helper=${BK_HELPER:-$root/.build-helper/release/bridgekeeper-helper}
cache=${GUEST_CACHE:-$root/.build/guest}/kernel-devices
pass=0 fail=0
ok() { echo "PASS kernel-devices/$1"; pass=$((pass + 1)); }
bad() { echo "FAIL kernel-devices/$1: $2"; fail=$((fail + 1)); }
finish() { echo "# time total: $SECONDS s"; echo "$pass passed, $fail failed"; [ "$fail" = 0 ]; }
if [ "$(id -u)" != 0 ]; then bad precondition "must run as root"; finish; exit 1; fi
if [ ! -x "$helper" ]; then bad precondition "no helper at $helper (make helper)"; finish; exit 1; fi
if readelf -d "$helper" | grep -q NEEDED; then bad precondition "$helper is not a static executable"; finish; exit 1; fi
"$root/scripts/ensure-packages.sh" qemu-system-x86 busybox-static gcc libc6-dev kmod xz-utils

work=$(mktemp -d /tmp/bk-kdev.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$cache"

# The cloud kernel package (cached): vmlinuz and its modules must come from the same package.
if [ ! -s "$cache/vmlinuz" ] || [ ! -d "$cache/modules" ]; then
    kpkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[^ ]*-cloud-amd64\)$/\1/p' | head -n1)
    if [ -z "$kpkg" ]; then
        apt-get update -qq
        kpkg=$(apt-cache depends linux-image-cloud-amd64 | sed -n 's/^ *Depends: \(linux-image-[^ ]*-cloud-amd64\)$/\1/p' | head -n1)
    fi
    (cd "$work" && apt-get download "$kpkg" >/dev/null 2>&1) || { apt-get update -qq; (cd "$work" && apt-get download "$kpkg" >/dev/null); }
    dpkg -x "$work"/"$kpkg"_*.deb "$work/kernel"
    rm -rf "$cache/modules"
    cp "$(find "$work/kernel/boot" -name 'vmlinuz-*' | head -n1)" "$cache/vmlinuz"
    cp -a "$(find "$work/kernel/lib/modules" -mindepth 1 -maxdepth 1 -type d | head -n1)" "$cache/modules"
fi
kver=$(basename "$(readlink -f "$cache/modules")")

# Modules with their dependencies, in load order.
tree=$work/root
mkdir -p "$tree"/{bin,dev,proc,sys,tmp,etc/qemu,lib/modules,bk}
order=()
add_module() {
    local m=$1 f dep
    for done_m in "${order[@]:-}"; do [ "$done_m" = "$m" ] && return 0; done
    f=$(find "$cache/modules" \( -name "$m.ko" -o -name "$m.ko.xz" -o -name "${m//_/-}.ko" -o -name "${m//_/-}.ko.xz" \) | head -n1)
    if [ -z "$f" ]; then
        grep -qE "/(${m}|${m//_/-})\.ko" "$cache/modules/modules.builtin" 2>/dev/null && return 0
        bad precondition "module $m not found in the cloud kernel $kver"; return 1
    fi
    for dep in $(modinfo -F depends "$f" | tr ',' ' '); do add_module "$dep"; done
    case $f in *.xz) xz -dc "$f" > "$tree/lib/modules/$m.ko" ;; *) cp "$f" "$tree/lib/modules/$m.ko" ;; esac
    order+=("$m")
}
for m in tun bridge bonding 8021q dummy; do add_module "$m" || { finish; exit 1; }; done
printf '%s\n' "${order[@]}" > "$tree/lib/modules/load-order"

cp /bin/busybox "$tree/bin/busybox"
ln -s busybox "$tree/bin/sh"
mknod -m 0600 "$tree/dev/console" c 5 1
install -m 4755 -o root -g root "$helper" "$tree/bk/helper"
gcc -static -O2 -o "$tree/bk/client" "$root/Tests/Guest/tools/guest-client.c"
printf 'allow all\n' > "$tree/etc/qemu/bridge.conf"
chmod 0644 "$tree/etc/qemu/bridge.conf"
chmod 0755 "$tree" "$tree"/{bin,etc,etc/qemu,bk,lib,lib/modules}
cat > "$tree/init" <<'INIT'
#!/bin/sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "GUEST-KERNEL $(uname -r)"
# The initramfs root is 1777; the helper (rightly) refuses an ACL below a world-writable /.
chmod 0755 /
while read -r m; do insmod "/lib/modules/$m.ko" || echo "GUEST-ERROR insmod $m"; done < /lib/modules/load-order
brctl addbr br0 && ip link set br0 up
[ -e /sys/class/net/bond0 ] || echo +bond0 > /sys/class/net/bonding_masters
vconfig add bond0 5 >/dev/null
[ -e /sys/class/net/dummy0 ] || ip link add dummy0 type dummy
for dev in br0 bond0 bond0.5 dummy0; do
    for who in root nobody; do
        if [ "$who" = root ]; then u=""; else u="-u 65534"; fi
        line=$(/bk/client $u /bk/helper --use-vnet "--br=$dev" "--fd={fd}" 2>/tmp/err)
        echo "GUEST-RESULT $who $dev $line"
        while IFS= read -r e; do echo "GUEST-STDERR $who $dev $e"; done < /tmp/err
        echo "GUEST-TAPS $who $dev $(ls /sys/class/net | grep -c '^tap')"
    done
done
echo "GUEST-DONE"
poweroff -f
INIT
chmod 0755 "$tree/init"
(cd "$tree" && find . -mindepth 1 | /bin/busybox cpio -o -H newc 2>/dev/null) | gzip -1 > "$work/initrd.gz"

console=$work/console
timeout 180 qemu-system-x86_64 -accel tcg -m 384 -nodefaults -display none -serial stdio -no-reboot \
    -kernel "$cache/vmlinuz" -initrd "$work/initrd.gz" -append 'console=ttyS0 panic=-1 quiet' \
    </dev/null >"$console" 2>&1 || true
tr -d '\r' < "$console" > "$console.txt"
cp "$console.txt" "$cache/last-console.txt"
echo "# guest kernel: $(sed -n 's/^GUEST-KERNEL //p' "$console.txt") (Debian cloud kernel, TCG); this machine runs $(uname -r)"
if ! grep -q '^GUEST-DONE' "$console.txt"; then
    bad boot "the guest did not finish; console tail: $(tail -n 5 "$console.txt" | tr '\n' '|')"
    finish; exit 1
fi
grep -q '^GUEST-ERROR' "$console.txt" && bad modules "$(grep '^GUEST-ERROR' "$console.txt" | tr '\n' '|')"

# check WHO DEV EXPECTED-RESULT EXPECTED-STDERR
check() {
    local who=$1 dev=$2 want=$3 want_err=$4 got got_err taps
    got=$(sed -n "s/^GUEST-RESULT $who $dev //p" "$console.txt")
    got_err=$(sed -n "s/^GUEST-STDERR $who $dev //p" "$console.txt")
    taps=$(sed -n "s/^GUEST-TAPS $who $dev //p" "$console.txt")
    if [[ $got =~ ^$want$ ]] && [ "$got_err" = "$want_err" ] && [ "$taps" = 0 ]; then
        ok "$who/$dev"
    else
        bad "$who/$dev" "expected result /$want/, stderr '$want_err', 0 TAPs left; got '$got', '$got_err', $taps TAPs"
    fi
}
for who in root nobody; do
    check "$who" br0 'result=attached helper_exit=0 helper_stdout_bytes=0 tap=tap[0-9]+' ""
    check "$who" bond0 'result=refused helper_exit=1 helper_stdout_bytes=0 tap=-' "'bond0' is not a Linux bridge (its driver is 'bonding'); no TAP was created"
    check "$who" bond0.5 'result=refused helper_exit=1 helper_stdout_bytes=0 tap=-' "'bond0.5' is not a Linux bridge (its driver is '802.1Q VLAN Support'); no TAP was created"
    check "$who" dummy0 'result=refused helper_exit=1 helper_stdout_bytes=0 tap=-' "'dummy0' is not a Linux bridge (its driver is 'dummy'); no TAP was created"
done
finish
