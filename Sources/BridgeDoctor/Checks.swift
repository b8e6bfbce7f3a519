// The checks: facts in, findings out, in a fixed order (host-wide first, then each bridge).
// Each finding says what was found and, unless it is `ok`, what to do about it.

public enum DoctorChecks {
    /// The MAC QEMU gives a NIC without `mac=` (net/net.c, qemu_macaddr_default_if_unset for
    /// the first NIC): two guests started that way collide on one bridge.
    public static let qemuDefaultMAC = "52:54:00:12:34:56"

    public static func examine(_ facts: HostFacts) -> DoctorReport {
        var findings = tun(facts.tun, helpers: facts.helpers)
        for helper in facts.helpers { findings += self.helper(helper) }
        findings += acl(facts.acl)
        findings += access(facts.acl)
        findings += netfilter(facts.netfilter)
        if facts.bridges.isEmpty {
            findings.append(Finding(.ok, "bridge", "no bridge to check: bridge.conf allows none by name (name bridges on the command line)"))
        }
        for bridge in facts.bridges {
            findings += self.bridge(bridge, rules: facts.acl.rules ?? [], wireless: facts.wireless)
        }
        return DoctorReport(findings: findings)
    }

    // MARK: - tun

    static func tun(_ tun: TunFacts, helpers: [HelperFacts]) -> [Finding] {
        guard tun.driverPresent else {
            return [Finding(.error, "tun", "the tun driver is not registered (no /sys/class/misc/tun): no TAP can be created",
                            fix: "modprobe tun, and list tun in /etc/modules-load.d/ to keep it")]
        }
        guard let node = tun.node else {
            return [Finding(.error, "tun", "/dev/net/tun does not exist",
                            fix: "mknod /dev/net/tun c 10 200 && chmod 0666 /dev/net/tun (udev creates it when the tun driver registers)")]
        }
        guard node.isCharacterDevice, node.major == 10, node.minor == 200 else {
            let what = node.isCharacterDevice ? "character device \(node.major):\(node.minor)" : "not a character device"
            return [Finding(.error, "tun", "/dev/net/tun is \(what), not the tun device (character device 10:200)",
                            fix: "rm /dev/net/tun && mknod /dev/net/tun c 10 200 && chmod 0666 /dev/net/tun")]
        }
        let everyone = node.permissions & 0o006 == 0o006
        // A file-capability helper opens the node with the caller's credentials (the capability
        // does not bypass file permissions without CAP_DAC_OVERRIDE); setuid root opens it as root.
        if !everyone, let capped = helpers.first(where: { $0.file != nil && $0.fileCapability && !$0.isSetuidRoot }) {
            return [Finding(.error, "tun", "/dev/net/tun is mode \(node.octal), but \(capped.path) has the cap_net_admin file capability and opens it as the caller: every request fails with 'cannot open /dev/net/tun: Permission denied'",
                            fix: "chmod 0666 /dev/net/tun (the usual default; the udev rule KERNEL==\"tun\", MODE=\"0666\" keeps it), or install the helper setuid root")]
        }
        return [Finding(.ok, "tun", "/dev/net/tun is character device 10:200, mode \(node.octal)")]
    }

    // MARK: - the installed helpers

    static func helper(_ helper: HelperFacts) -> [Finding] {
        let path = helper.path
        let place = "\(path) (\(helper.role))"
        guard let file = helper.file else {
            guard helper.expected else { return [] }
            return [Finding(.warning, "helper", "nothing at \(place): -netdev bridge without helper= fails",
                            fix: "make install-default-helper puts bridgekeeper there, or give QEMU helper=/usr/libexec/bridgekeeper-helper")]
        }
        guard file.isRegular else {
            return [Finding(.error, "helper", "\(place) is not a regular file", fix: "reinstall the helper at \(path)")]
        }
        var findings: [Finding] = []
        if file.permissions & 0o022 != 0 {
            findings.append(Finding(.error, "helper", "\(place) is mode \(file.octal): users other than its owner can replace it",
                                    fix: "chmod go-w \(path)"))
        }
        if file.permissions & 0o4000 != 0 && file.uid != 0 {
            findings.append(Finding(.error, "helper", "\(place) is setuid but owned by uid \(file.uid), not root: it runs without privilege",
                                    fix: "chown root \(path) && chmod 4755 \(path)"))
        }
        let privileged = helper.isSetuidRoot || helper.fileCapability
        if !privileged {
            findings.append(Finding(.error, "helper", "\(place) is neither setuid root nor has the cap_net_admin file capability: it cannot create TAPs",
                                    fix: "chmod 4755 \(path) (owner root), or setcap cap_net_admin+ep \(path)"))
        } else if helper.nosuidMount {
            findings.append(Finding(.error, "helper", "\(place) is on a filesystem mounted nosuid: the kernel ignores its setuid bit and file capability",
                                    fix: "install the helper on a filesystem mounted without nosuid"))
        }
        let install = helper.isSetuidRoot ? "setuid root" : helper.fileCapability ? "with the cap_net_admin file capability" : "without privilege"
        let described = "mode \(file.octal), owner \(file.uid):\(file.gid), \(install)"
        switch helper.identity {
        case .value(.bridgekeeper):
            if findings.isEmpty { findings.append(Finding(.ok, "helper", "\(place) is bridgekeeper, \(described)")) }
        case .value(.stock):
            if findings.isEmpty { findings.append(Finding(.ok, "helper", "\(place) is the stock qemu-bridge-helper, \(described)")) }
        case .value(.unknown):
            findings.append(Finding(.warning, "helper", "\(place) is neither bridgekeeper nor the stock qemu-bridge-helper, \(described)",
                                    fix: "check where \(path) comes from (dpkg -S \(path))"))
        case .needsRoot(let what):
            findings.append(Finding(.warning, "helper", "\(place) is \(described), but \(what) needs root, so whether it is bridgekeeper is unknown",
                                    fix: "run bridgekeeper doctor as root"))
        case .failed(let why):
            findings.append(Finding(.warning, "helper", "\(place) is \(described), but its contents could not be read: \(why)",
                                    fix: "run bridgekeeper doctor as root"))
        }
        return findings
    }

    // MARK: - bridge.conf

    static func acl(_ acl: ACLFacts) -> [Finding] {
        let lint = "run 'bridgekeeper lint \(acl.path)' and fix what it reports"
        if let first = acl.errors.first {
            return [Finding(.error, "bridge.conf", "\(count(acl.errors.count, "error")), so the helper refuses every request: \(first)", fix: lint)]
        }
        if let first = acl.warnings.first {
            return [Finding(.warning, "bridge.conf", "\(count(acl.warnings.count, "warning")): \(first)", fix: lint)]
        }
        return [Finding(.ok, "bridge.conf", "\(acl.path) is lint-clean (\(count(acl.filesRead, "file")) read)")]
    }

    /// Which bridges every user may use: rules without a user or group qualifier. Deny wins, as in
    /// the helper's decision.
    static func access(_ acl: ACLFacts) -> [Finding] {
        guard let rules = acl.rules else { return [] }
        let everyone = rules.filter(\.everyone)
        let denied = { (name: String) in everyone.contains { !$0.allow && $0.matches(name) } }
        if everyone.contains(where: { !$0.allow && $0.bridge == nil }) {
            return [Finding(.ok, "access", "'deny all' applies to every user: no bridge is open to everyone")]
        }
        if let all = everyone.first(where: { $0.allow && $0.bridge == nil }) {
            var excepted: [String] = []
            for rule in everyone where !rule.allow { if let name = rule.bridge, !excepted.contains(name) { excepted.append(name) } }
            let except = excepted.isEmpty ? "" : " except \(excepted.joined(separator: ", "))"
            return [Finding(.warning, "access", "'allow all' (\(all.location)) lets every user put guests on every bridge\(except), present or future",
                            fix: "allow the bridges meant for guests by name")]
        }
        var open: [String] = []
        for rule in everyone where rule.allow {
            guard let name = rule.bridge, !denied(name), !open.contains(where: { $0.hasPrefix(name + " ") }) else { continue }
            open.append("\(name) (\(rule.location))")
        }
        guard !open.isEmpty else {
            return [Finding(.ok, "access", "no bridge is open to every user")]
        }
        return [Finding(.ok, "access", "every user may use \(open.joined(separator: ", "))")]
    }

    // MARK: - br_netfilter and the firewall

    static let netfilterFix = "sysctl -w net.bridge.bridge-nf-call-iptables=0 (if the host does not filter bridged traffic), or accept it first: iptables -I FORWARD -m physdev --physdev-is-bridged -j ACCEPT"

    static func netfilter(_ facts: NetfilterFacts) -> [Finding] {
        var findings: [Finding] = []
        if case .value(let drops) = facts.drops {
            for drop in drops where drop.bridgeFamily {
                findings.append(drop.policy
                    ? Finding(.error, "netfilter", "\(drop.chain) (bridge family) drops by policy: bridged frames are dropped whatever br_netfilter says",
                              fix: "accept the guests' traffic in that chain, or set its policy to accept")
                    : Finding(.warning, "netfilter", "\(drop.chain) (bridge family) has a rule that drops: bridged frames it matches are dropped",
                              fix: "check that rule against the guests' traffic"))
            }
        }
        guard let call = facts.callIptables else {
            return [Finding(.ok, "netfilter", "br_netfilter is not loaded: bridged frames do not pass iptables or nftables")] + findings
        }
        guard call else {
            return [Finding(.ok, "netfilter", "bridge-nf-call-iptables is 0: bridged frames do not pass iptables or nftables")] + findings
        }
        let passing = "bridge-nf-call-iptables is 1 (bridged IPv4 frames pass the FORWARD hook)"
        switch facts.drops {
        case .needsRoot(let what):
            return [Finding(.warning, "netfilter", "\(passing), and the FORWARD rules could not be read: \(what) needs root",
                            fix: "run bridgekeeper doctor as root")] + findings
        case .failed(let why):
            return [Finding(.warning, "netfilter", "\(passing), and the FORWARD rules could not be read: \(why)",
                            fix: "check the FORWARD chains by hand (nft list ruleset, iptables -S FORWARD)")] + findings
        case .value(let drops):
            let forward = drops.filter { !$0.bridgeFamily }
            if let policy = forward.first(where: \.policy) {
                return [Finding(.error, "netfilter", "\(passing) and \(policy.chain) drops by policy: guests reach the bridge but not the LAN",
                                fix: netfilterFix)] + findings
            }
            if let rule = forward.first {
                return [Finding(.warning, "netfilter", "\(passing) and \(rule.chain) has a rule that drops: bridged traffic it matches is dropped",
                                fix: netfilterFix)] + findings
            }
            return [Finding(.ok, "netfilter", "\(passing) and no FORWARD chain drops")] + findings
        }
    }

    // MARK: - each bridge

    static func bridge(_ bridge: BridgeFacts, rules: [RuleFacts], wireless: [String]) -> [Finding] {
        let name = bridge.name
        guard let link = bridge.link else {
            return [Finding(.error, "bridge", bridge: name, "\(name) does not exist in this network namespace",
                            fix: "ip link add \(name) type bridge && ip link set \(name) up")]
        }
        guard link.kind == "bridge" else {
            let driver = link.kind.map { "its driver is '\($0)'" } ?? "it has no driver kind"
            return [Finding(.error, "bridge", bridge: name, "\(name) is not a Linux bridge (\(driver)): bridgekeeper-helper attaches TAPs to Linux bridges only",
                            fix: "use a Linux bridge (ip link add NAME type bridge)")]
        }
        var findings: [Finding] = []
        findings.append(link.up
            ? Finding(.ok, "bridge", bridge: name, "\(name) is a Linux bridge and up")
            : Finding(.error, "bridge", bridge: name, "\(name) is down: guests on it reach nothing", fix: "ip link set \(name) up"))
        findings += uplink(name, link, wireless: wireless)
        findings += stp(name, link)
        findings += vlan(name, link, rules: rules)
        findings += mac(name, link)
        findings += fdb(name, link)
        findings += taps(name, link)
        return findings
    }

    static func uplink(_ name: String, _ link: LinkFacts, wireless: [String]) -> [Finding] {
        let uplinks = link.ports.filter { !$0.isTap }
        guard !uplinks.isEmpty else {
            var fix = "ip link set ETH master \(name) (and move the host's address from ETH to \(name)), or route or NAT the guests through the host"
            if let radio = wireless.first {
                fix += "; \(radio) is wireless, and a wireless interface in client mode cannot be a bridge port: route or NAT instead"
            }
            return [Finding(.warning, "uplink", bridge: name, "\(name) has no uplink port, only TAPs: guests reach each other and the host, not the LAN", fix: fix)]
        }
        var findings: [Finding] = []
        for port in uplinks where port.isWireless {
            findings.append(Finding(.warning, "uplink", bridge: name, "\(name)'s port \(port.name) is wireless: it bridges only in access-point or 4-address mode; in client mode the access point drops frames from the guests' MACs",
                                    fix: "route or NAT the guests instead, or use 4-address mode at both ends (iw dev \(port.name) set 4addr on)"))
        }
        if findings.isEmpty {
            findings.append(Finding(.ok, "uplink", bridge: name, "\(name)'s uplink: \(uplinks.map(\.name).joined(separator: ", "))"))
        }
        return findings
    }

    static func stp(_ name: String, _ link: LinkFacts) -> [Finding] {
        switch link.stpState {
        case 0?:
            return [Finding(.ok, "stp", bridge: name, "\(name) runs no STP: a new TAP forwards at once")]
        case 1?:
            let wait = link.forwardDelay.map { " (\(2 * $0) s)" } ?? ""
            return [Finding(.warning, "stp", bridge: name, "\(name) runs kernel STP (stp_state 1): a new TAP forwards only after twice the forward delay\(wait), so a guest's DHCP can time out",
                            fix: "ip link set \(name) type bridge stp_state 0 if the bridge cannot be part of a loop, or lower forward_delay")]
        case let state?:
            return [Finding(.ok, "stp", bridge: name, "\(name) runs user-space STP (stp_state \(state))")]
        case nil:
            return []
        }
    }

    static func vlan(_ name: String, _ link: LinkFacts, rules: [RuleFacts]) -> [Finding] {
        let tagged = rules.filter { $0.allow && $0.vlan != nil && $0.matches(name) }
        guard let first = tagged.first, let vid = first.vlan else { return [] }
        guard let filtering = link.vlanFiltering else {
            return [Finding(.error, "vlan", bridge: name, "\(first.location) gives vlan=\(vid) on \(name), but this kernel has no bridge VLAN filtering (no bridge/vlan_filtering): the VLAN cannot be enforced",
                            fix: "use a kernel built with CONFIG_BRIDGE_VLAN_FILTERING, or remove vlan= from the rule")]
        }
        guard filtering else {
            return [Finding(.error, "vlan", bridge: name, "\(name) has vlan_filtering 0, but \(first.location) gives vlan=\(vid): the VLAN is stored and not enforced, so guests see every VLAN",
                            fix: "ip link set \(name) type bridge vlan_filtering 1")]
        }
        return [Finding(.ok, "vlan", bridge: name, "\(name) filters VLANs, as vlan=\(vid) (\(first.location)) needs")]
    }

    static func mac(_ name: String, _ link: LinkFacts) -> [Finding] {
        if link.addressAssignType == 3 {
            return [Finding(.ok, "mac", bridge: name, "\(name)'s MAC is set explicitly")]
        }
        let address = link.address ?? "ADDRESS"
        let type = link.addressAssignType.map { " (addr_assign_type \($0))" } ?? ""
        return [Finding(.warning, "mac", bridge: name, "\(name)'s MAC \(address) follows its lowest port MAC\(type): a guest can change its TAP's MAC without privilege and take over the bridge's address",
                        fix: "ip link set \(name) address \(address), and set it in the bridge's network configuration")]
    }

    static func fdb(_ name: String, _ link: LinkFacts) -> [Finding] {
        let entries: [FDBEntry]
        switch link.fdb {
        case .needsRoot(let what):
            return [Finding(.warning, "fdb", bridge: name, "\(name)'s forwarding database could not be read: \(what) needs root", fix: "run bridgekeeper doctor as root")]
        case .failed(let why):
            return [Finding(.warning, "fdb", bridge: name, "\(name)'s forwarding database could not be read: \(why)", fix: "bridge fdb show br \(name)")]
        case .value(let value):
            entries = value
        }
        let ownMAC = "give each guest its own MAC (-device virtio-net-pci,netdev=ID,mac=52:54:00:XX:XX:XX)"
        var findings: [Finding] = []
        var defaultPorts: [String] = []
        for entry in entries where entry.mac == qemuDefaultMAC && !defaultPorts.contains(entry.port) { defaultPorts.append(entry.port) }
        var seen: [String] = []
        for entry in entries where !seen.contains(entry.mac) {
            seen.append(entry.mac)
            var ports: [String] = []
            for other in entries where other.mac == entry.mac && !ports.contains(other.port) { ports.append(other.port) }
            guard ports.count > 1 else { continue }
            findings.append(Finding(.error, "fdb", bridge: name, "\(entry.mac) is learnt on \(ports.count) ports of \(name) (\(ports.joined(separator: ", "))): two guests share one MAC and knock each other off",
                                    fix: ownMAC))
        }
        if !defaultPorts.isEmpty {
            findings.append(Finding(.warning, "fdb", bridge: name, "\(qemuDefaultMAC), QEMU's default MAC, is learnt on \(defaultPorts.joined(separator: ", ")) of \(name): every guest started without mac= has it, and two of them knock each other off",
                                    fix: ownMAC))
        }
        if findings.isEmpty {
            findings.append(Finding(.ok, "fdb", bridge: name, "\(name)'s forwarding database: \(count(entries.count, "learnt address", "learnt addresses")), none on two ports"))
        }
        return findings
    }

    static func taps(_ name: String, _ link: LinkFacts) -> [Finding] {
        let taps = link.ports.filter(\.isTap)
        let leftovers = taps.filter(\.leftover)
        guard !leftovers.isEmpty else {
            return [Finding(.ok, "taps", bridge: name, "\(name) has no leftover TAP (\(count(taps.count, "TAP")))")]
        }
        return leftovers.map { tap in
            Finding(.warning, "taps", bridge: name, "\(tap.name) on \(name) is persistent and no process holds it: a leftover port",
                    fix: "bridgekeeper taps --reap (as root), or ip link delete \(tap.name)")
        }
    }

    static func count(_ value: Int, _ noun: String, _ plural: String? = nil) -> String {
        "\(value) \(value == 1 ? noun : plural ?? noun + "s")"
    }
}
