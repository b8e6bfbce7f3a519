#!/bin/bash
# `make demo GUEST=1`: boot one real QEMU guest (TCG, Debian cloud kernel + busybox) as the
# unprivileged user nobody, with its NIC on bridge br0 through the setuid-installed helper,
# inside throwaway namespaces; show what the guest saw and the TAP the helper made.
#
#   HELPER=/path/to/helper  (default: .build-helper/release/bridgekeeper-helper)
#
# This is scenario "guest-setuid" of Tests/Guest/scenarios.sh with its details printed.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

cat <<'TXT'
== bridgekeeper demo: a real QEMU guest on a bridge, started by an unprivileged user ==
   netns "lan":  192.0.2.1 + dnsmasq (DHCP 192.0.2.100-150)
   netns "host": br0 192.0.2.2, veth to "lan"; /etc/qemu/bridge.conf allows br0
   QEMU runs as nobody (uid 65534): -netdev bridge,br=br0,helper=<setuid copy of the helper>
   The guest gets a lease, pings 192.0.2.1 and 192.0.2.2, and powers off.
TXT
echo
rc=0
BK_VERBOSE=1 "$here/scenarios.sh" guest-setuid || rc=$?
echo
if [ "$rc" -eq 0 ]; then
    echo "demo: OK"
else
    echo "demo: FAILED (logs: ${BK_LOGDIR:-${GUEST_CACHE:-$(cd "$here/../.." && pwd)/.build/guest}/logs})"
fi
exit "$rc"
