#!/bin/bash
# The README's first command (`make demo`): bridgekeeper-helper for real, in a throwaway network
# and mount namespace with a private /etc/qemu and /dev/net/tun. Leaves the host untouched.
# `make demo GUEST=1` then runs Tests/Guest/demo-guest.sh: a real QEMU guest through the helper.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/Tests/lib/sandbox.sh"
bk_enter_sandbox "$@"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
helper=$(bk_install "$root/.build-helper/release/bridgekeeper-helper" bridgekeeper-helper setuid)
install -m 0755 "$root/.build/release/bridgekeeper" "$BK_SCRATCH/bin/bridgekeeper"
cli=$BK_SCRATCH/bin/bridgekeeper

say "A private world: bridges br0 (MTU 1400) and brmgmt (also named mgmt), /dev/net/tun mode 0600 (as on this host)"
bk_bridge br0 1400
bk_bridge brmgmt
ip link property add dev brmgmt altname mgmt
ip -br link show type bridge
bk_acl <<'ACL'
# demo policy
allow br0        # the guest LAN
deny brmgmt      # management network: never for guests
ACL
echo "--- /etc/qemu/bridge.conf:"
cat /etc/qemu/bridge.conf
echo "--- helper installed setuid root: $(stat -c '%A %U' "$helper") $helper"

say "As user nobody (uid 65534), ask for br0 the way QEMU does (socketpair + --fd)"
coproc HOLD { bk_as_nobody "$cli" try --helper "$helper" --br br0 --hold-until-eof; }
read -r line <&"${HOLD[0]}"
echo "$line" | tr ' ' '\n' | sed 's/^/    /'
tap=$(echo "$line" | sed -n 's/.*tap=\([^ ]*\).*/\1/p')
echo "--- while the descriptor is open, the kernel shows:"
ip -d link show "$tap" | sed 's/^/    /' | grep -E "$tap|bridge_slave|tun type" | head -3 | cut -c1-120
echo "    owner uid (sysfs): $(cat "/sys/class/net/$tap/owner")"
echo "    mark (interface alias, only CAP_NET_ADMIN can change it): $(cat "/sys/class/net/$tap/ifalias")"
echo "--- bridgekeeper taps (the inventory, as root):"
"$cli" taps | sed 's/^/    /'
exec {HOLD[1]}>&-
wait "$HOLD_PID"
echo "--- after the descriptor is closed: TAPs left: $(bk_taps | wc -l)"

say "As nobody, ask for brmgmt (denied by a rule)"
bk_as_nobody "$cli" try --helper "$helper" --br brmgmt || echo "    (exit status $?)"

say "As nobody, ask for mgmt: another name of brmgmt is the same device (the stock helper would attach it)"
bk_as_nobody "$cli" try --helper "$helper" --br mgmt || echo "    (exit status $?)"

say "As nobody, ask for br9 (no rule allows it)"
bk_as_nobody "$cli" try --helper "$helper" --br br9 || echo "    (exit status $?)"

say "Why may nobody use br0? bridgekeeper explain evaluates as that user, with the helper's code"
"$cli" explain --user nobody br0 | sed 's/^/    /' || true

say "A user-owned include is refused, not trusted (the stock helper would honour it)"
echo "include /etc/qemu/nobody.conf" >> /etc/qemu/bridge.conf
echo "allow all" | bk_acl /etc/qemu/nobody.conf
chown 65534 /etc/qemu/nobody.conf
bk_as_nobody "$cli" try --helper "$helper" --br br0 || echo "    (exit status $?)"
echo "--- bridgekeeper lint says the same before anyone asks:"
"$cli" lint | sed 's/^/    /' || echo "    (exit status $?)"

say "Policy beyond the stock ACL: only nobody may use brlab, with at most one TAP, on an isolated port"
bk_bridge brlab
bk_acl <<'ACL'
deny brmgmt
allow brlab user=nobody max=1 isolated   # only nobody; at most 1 TAP; an isolated port
ACL
echo "--- /etc/qemu/bridge.conf:"
sed 's/^/    /' /etc/qemu/bridge.conf
coproc LAB { bk_as_nobody "$cli" try --helper "$helper" --br brlab --hold-until-eof; }
read -r line <&"${LAB[0]}"
lab=$(echo "$line" | sed -n 's/.*tap=\([^ ]*\).*/\1/p')
echo "--- the first TAP: $lab, $(bridge -d link show dev "$lab" | grep -o 'isolated o[nf]*')"
echo "--- a second request while it is held is over the quota:"
bk_as_nobody "$cli" try --helper "$helper" --br brlab || echo "    (exit status $?)"
exec {LAB[1]}>&-
wait "$LAB_PID"
echo "--- bridgekeeper explain shows the options the rule grants:"
"$cli" explain --user nobody brlab | sed 's/^/    /' || true

say "TAPs left in the namespace: $(bk_taps | wc -l). The namespace is now deleted; the host was not touched."

