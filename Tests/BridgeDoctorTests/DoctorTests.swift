import BridgeDoctor
import Testing

/// A host with nothing to complain about: a setuid bridgekeeper at QEMU's default path, a
/// clean bridge.conf allowing br0, br0 up with an uplink, no STP, its MAC set, one held TAP.
func healthy() -> HostFacts {
    HostFacts(
        tun: TunFacts(driverPresent: true, node: FileFacts(mode: 0o020600, major: 10, minor: 200)),
        helpers: [HelperFacts(path: "/usr/lib/qemu/qemu-bridge-helper", role: "QEMU's default helper", expected: true,
                              file: FileFacts(mode: 0o104755))],
        acl: ACLFacts(path: "/etc/qemu/bridge.conf", rules: [RuleFacts(allow: true, bridge: "br0", location: "/etc/qemu/bridge.conf:1")]),
        bridges: [BridgeFacts(name: "br0", link: LinkFacts(ports: [PortFacts(name: "eth0"), PortFacts(name: "tap0", isTap: true)],
                                                           address: "02:00:00:00:00:01",
                                                           fdb: .value([FDBEntry(mac: "52:54:00:aa:bb:01", port: "tap0")])))],
        netfilter: NetfilterFacts(callIptables: true, drops: .value([])))
}

let healthyText = """
    ok tun: /dev/net/tun is character device 10:200, mode 0600
    ok helper: /usr/lib/qemu/qemu-bridge-helper (QEMU's default helper) is bridgekeeper, mode 4755, owner 0:0, setuid root
    ok bridge.conf: /etc/qemu/bridge.conf is lint-clean (1 file read)
    ok access: every user may use br0 (/etc/qemu/bridge.conf:1)
    ok netfilter: bridge-nf-call-iptables is 1 (bridged IPv4 frames pass the FORWARD hook) and no FORWARD chain drops
    ok bridge: br0 is a Linux bridge and up
    ok uplink: br0's uplink: eth0
    ok stp: br0 runs no STP: a new TAP forwards at once
    ok mac: br0's MAC is set explicitly
    ok fdb: br0's forwarding database: 1 learnt address, none on two ports
    ok taps: br0 has no leftover TAP (1 TAP)

    """

/// The findings of `facts` that are not ok, as text lines.
func problems(_ facts: HostFacts) -> [String] {
    DoctorChecks.examine(facts).findings.filter { $0.severity != .ok }.map(\.description)
}

func modifyBridge(_ facts: inout HostFacts, _ change: (inout LinkFacts) -> Void) {
    guard var link = facts.bridges[0].link else { Issue.record("the healthy host has br0"); return }
    change(&link)
    facts.bridges[0].link = link
}

@Suite struct ReportTests {
    @Test func healthyHostIsAllOk() {
        let report = DoctorChecks.examine(healthy())
        #expect(report.text == healthyText)
        #expect(report.exitStatus == 0)
        #expect(report.errors == 0 && report.warnings == 0)
    }

    @Test func jsonHasStableKeys() {
        var facts = healthy()
        facts.tun.node = nil
        facts.helpers = []
        facts.bridges = []
        let report = DoctorChecks.examine(facts)
        #expect(report.json == #"{"findings": [{"severity": "error", "check": "tun", "bridge": null, "message": "/dev/net/tun does not exist", "fix": "mknod /dev/net/tun c 10 200 && chmod 0666 /dev/net/tun (udev creates it when the tun driver registers)"}, {"severity": "ok", "check": "bridge.conf", "bridge": null, "message": "/etc/qemu/bridge.conf is lint-clean (1 file read)", "fix": null}, {"severity": "ok", "check": "access", "bridge": null, "message": "every user may use br0 (/etc/qemu/bridge.conf:1)", "fix": null}, {"severity": "ok", "check": "netfilter", "bridge": null, "message": "bridge-nf-call-iptables is 1 (bridged IPv4 frames pass the FORWARD hook) and no FORWARD chain drops", "fix": null}, {"severity": "ok", "check": "bridge", "bridge": null, "message": "no bridge to check: bridge.conf allows none by name (name bridges on the command line)", "fix": null}], "errors": 1, "warnings": 0}"# + "\n")
        #expect(report.exitStatus == 1)
    }

    @Test func bridgeFindingsNameTheirBridgeInJSON() {
        var facts = healthy()
        modifyBridge(&facts) { $0.stpState = 2 }
        let stp = DoctorChecks.examine(facts).findings.first { $0.check == "stp" }
        #expect(stp?.json == #"{"severity": "ok", "check": "stp", "bridge": "br0", "message": "br0 runs user-space STP (stp_state 2)", "fix": null}"#)
    }

    @Test func warningsAloneExitZero() {
        var facts = healthy()
        modifyBridge(&facts) { $0.addressAssignType = 1 }
        let report = DoctorChecks.examine(facts)
        #expect(report.warnings == 1)
        #expect(report.exitStatus == 0)
    }
}

@Suite struct TunTests {
    @Test func driverMissing() {
        var facts = healthy()
        facts.tun.driverPresent = false
        #expect(problems(facts) == ["error tun: the tun driver is not registered (no /sys/class/misc/tun): no TAP can be created; fix: modprobe tun, and list tun in /etc/modules-load.d/ to keep it"])
    }

    @Test func nodeMissing() {
        var facts = healthy()
        facts.tun.node = nil
        #expect(problems(facts) == ["error tun: /dev/net/tun does not exist; fix: mknod /dev/net/tun c 10 200 && chmod 0666 /dev/net/tun (udev creates it when the tun driver registers)"])
    }

    @Test func wrongNode() {
        var facts = healthy()
        facts.tun.node = FileFacts(mode: 0o020666, major: 1, minor: 3)
        #expect(problems(facts) == ["error tun: /dev/net/tun is character device 1:3, not the tun device (character device 10:200); fix: rm /dev/net/tun && mknod /dev/net/tun c 10 200 && chmod 0666 /dev/net/tun"])
        facts.tun.node = FileFacts(mode: 0o100644)
        #expect(problems(facts) == ["error tun: /dev/net/tun is not a character device, not the tun device (character device 10:200); fix: rm /dev/net/tun && mknod /dev/net/tun c 10 200 && chmod 0666 /dev/net/tun"])
    }

    @Test func capabilityHelperNeedsAnOpenNode() {
        var facts = healthy()
        facts.helpers[0].file = FileFacts(mode: 0o100755)
        facts.helpers[0].fileCapability = true
        #expect(problems(facts) == ["error tun: /dev/net/tun is mode 0600, but /usr/lib/qemu/qemu-bridge-helper has the cap_net_admin file capability and opens it as the caller: every request fails with 'cannot open /dev/net/tun: Permission denied'; fix: chmod 0666 /dev/net/tun (the usual default; the udev rule KERNEL==\"tun\", MODE=\"0666\" keeps it), or install the helper setuid root"])
        facts.tun.node = FileFacts(mode: 0o020666, major: 10, minor: 200)
        #expect(problems(facts) == [])
    }
}

@Suite struct HelperTests {
    let place = "/usr/lib/qemu/qemu-bridge-helper (QEMU's default helper)"

    @Test func missingDefaultHelper() {
        var facts = healthy()
        facts.helpers[0].file = nil
        #expect(problems(facts) == ["warning helper: nothing at \(place): -netdev bridge without helper= fails; fix: make install-default-helper puts bridgekeeper there, or give QEMU helper=/usr/libexec/bridgekeeper-helper"])
        facts.helpers[0].expected = false
        #expect(DoctorChecks.examine(facts).findings.filter { $0.check == "helper" } == [])
    }

    @Test func withoutPrivilege() {
        var facts = healthy()
        facts.helpers[0].file = FileFacts(mode: 0o100755)
        #expect(problems(facts) == ["error helper: \(place) is neither setuid root nor has the cap_net_admin file capability: it cannot create TAPs; fix: chmod 4755 /usr/lib/qemu/qemu-bridge-helper (owner root), or setcap cap_net_admin+ep /usr/lib/qemu/qemu-bridge-helper"])
    }

    @Test func setuidButNotRoot() {
        var facts = healthy()
        facts.helpers[0].file = FileFacts(mode: 0o104755, uid: 1000)
        #expect(problems(facts) == [
            "error helper: \(place) is setuid but owned by uid 1000, not root: it runs without privilege; fix: chown root /usr/lib/qemu/qemu-bridge-helper && chmod 4755 /usr/lib/qemu/qemu-bridge-helper",
            "error helper: \(place) is neither setuid root nor has the cap_net_admin file capability: it cannot create TAPs; fix: chmod 4755 /usr/lib/qemu/qemu-bridge-helper (owner root), or setcap cap_net_admin+ep /usr/lib/qemu/qemu-bridge-helper",
        ])
    }

    @Test func writableByOthers() {
        var facts = healthy()
        facts.helpers[0].file = FileFacts(mode: 0o104777)
        #expect(problems(facts) == ["error helper: \(place) is mode 4777: users other than its owner can replace it; fix: chmod go-w /usr/lib/qemu/qemu-bridge-helper"])
    }

    @Test func nosuidMount() {
        var facts = healthy()
        facts.helpers[0].nosuidMount = true
        #expect(problems(facts) == ["error helper: \(place) is on a filesystem mounted nosuid: the kernel ignores its setuid bit and file capability; fix: install the helper on a filesystem mounted without nosuid"])
    }

    @Test func notRegular() {
        var facts = healthy()
        facts.helpers[0].file = FileFacts(mode: 0o040755)
        #expect(problems(facts) == ["error helper: \(place) is not a regular file; fix: reinstall the helper at /usr/lib/qemu/qemu-bridge-helper"])
    }

    @Test func identities() {
        var facts = healthy()
        facts.helpers[0].identity = .value(.stock)
        #expect(DoctorChecks.examine(facts).findings[1].description == "ok helper: \(place) is the stock qemu-bridge-helper, mode 4755, owner 0:0, setuid root")
        facts.helpers[0].identity = .value(.unknown)
        #expect(problems(facts) == ["warning helper: \(place) is neither bridgekeeper nor the stock qemu-bridge-helper, mode 4755, owner 0:0, setuid root; fix: check where /usr/lib/qemu/qemu-bridge-helper comes from (dpkg -S /usr/lib/qemu/qemu-bridge-helper)"])
        facts.helpers[0].identity = .needsRoot("reading it")
        facts.helpers[0].file = FileFacts(mode: 0o104750, gid: 64)
        #expect(problems(facts) == ["warning helper: \(place) is mode 4750, owner 0:64, setuid root, but reading it needs root, so whether it is bridgekeeper is unknown; fix: run bridgekeeper doctor as root"])
        facts.helpers[0].identity = .failed("Input/output error")
        #expect(problems(facts) == ["warning helper: \(place) is mode 4750, owner 0:64, setuid root, but its contents could not be read: Input/output error; fix: run bridgekeeper doctor as root"])
    }

    @Test func fileCapabilityInstall() {
        var facts = healthy()
        facts.tun.node = FileFacts(mode: 0o020666, major: 10, minor: 200)
        facts.helpers[0].file = FileFacts(mode: 0o100755)
        facts.helpers[0].fileCapability = true
        #expect(DoctorChecks.examine(facts).findings[1].description == "ok helper: \(place) is bridgekeeper, mode 0755, owner 0:0, with the cap_net_admin file capability")
    }
}

@Suite struct ACLTests {
    @Test func lintErrorsAndWarnings() {
        var facts = healthy()
        facts.acl.errors = ["/etc/qemu/bridge.conf:0:0: error: /etc/qemu/bridge.conf does not exist or is not readable by this user"]
        facts.acl.rules = nil
        #expect(problems(facts) == ["error bridge.conf: 1 error, so the helper refuses every request: /etc/qemu/bridge.conf:0:0: error: /etc/qemu/bridge.conf does not exist or is not readable by this user; fix: run 'bridgekeeper lint /etc/qemu/bridge.conf' and fix what it reports"])
        facts = healthy()
        facts.acl.warnings = ["/etc/qemu/bridge.conf:2:7: warning: bridge 'br9' does not exist in this network namespace", "x"]
        #expect(problems(facts) == ["warning bridge.conf: 2 warnings: /etc/qemu/bridge.conf:2:7: warning: bridge 'br9' does not exist in this network namespace; fix: run 'bridgekeeper lint /etc/qemu/bridge.conf' and fix what it reports"])
    }

    func access(_ rules: [RuleFacts]) -> String {
        var facts = healthy()
        facts.acl.rules = rules
        return DoctorChecks.examine(facts).findings.first { $0.check == "access" }?.description ?? "none"
    }

    @Test func whoMayUseWhat() {
        let at = { (line: Int) in "/etc/qemu/bridge.conf:\(line)" }
        #expect(access([]) == "ok access: no bridge is open to every user")
        #expect(access([RuleFacts(allow: true, bridge: "br0", location: at(1)), RuleFacts(allow: true, bridge: "br1", location: at(2)),
                        RuleFacts(allow: true, bridge: "br0", location: at(3)), RuleFacts(allow: false, bridge: "br1", location: at(4))])
                == "ok access: every user may use br0 (/etc/qemu/bridge.conf:1)")
        #expect(access([RuleFacts(allow: true, bridge: nil, location: at(1)), RuleFacts(allow: false, bridge: "br9", location: at(2))])
                == "warning access: 'allow all' (/etc/qemu/bridge.conf:1) lets every user put guests on every bridge except br9, present or future; fix: allow the bridges meant for guests by name")
        #expect(access([RuleFacts(allow: true, bridge: nil, location: at(1)), RuleFacts(allow: false, bridge: nil, location: at(2))])
                == "ok access: 'deny all' applies to every user: no bridge is open to everyone")
        #expect(access([RuleFacts(allow: true, bridge: "br0", location: at(1), everyone: false)]) == "ok access: no bridge is open to every user")
    }
}

@Suite struct NetfilterTests {
    func netfilter(_ call: Bool?, _ drops: Probe<[ForwardDrop]>) -> [String] {
        var facts = healthy()
        facts.netfilter = NetfilterFacts(callIptables: call, drops: drops)
        return DoctorChecks.examine(facts).findings.filter { $0.check == "netfilter" }.map(\.description)
    }

    let passing = "bridge-nf-call-iptables is 1 (bridged IPv4 frames pass the FORWARD hook)"
    let fix = "sysctl -w net.bridge.bridge-nf-call-iptables=0 (if the host does not filter bridged traffic), or accept it first: iptables -I FORWARD -m physdev --physdev-is-bridged -j ACCEPT"

    @Test func findings() {
        let policy = ForwardDrop(chain: "table inet filter, chain forward", policy: true)
        #expect(netfilter(nil, .value([policy])) == ["ok netfilter: br_netfilter is not loaded: bridged frames do not pass iptables or nftables"])
        #expect(netfilter(false, .value([policy])) == ["ok netfilter: bridge-nf-call-iptables is 0: bridged frames do not pass iptables or nftables"])
        #expect(netfilter(true, .value([policy])) == ["error netfilter: \(passing) and table inet filter, chain forward drops by policy: guests reach the bridge but not the LAN; fix: \(fix)"])
        #expect(netfilter(true, .value([ForwardDrop(chain: "the iptables FORWARD chain", policy: false)]))
                == ["warning netfilter: \(passing) and the iptables FORWARD chain has a rule that drops: bridged traffic it matches is dropped; fix: \(fix)"])
        #expect(netfilter(true, .needsRoot("reading the nftables and iptables rules"))
                == ["warning netfilter: \(passing), and the FORWARD rules could not be read: reading the nftables and iptables rules needs root; fix: run bridgekeeper doctor as root"])
        #expect(netfilter(true, .failed("neither nft nor iptables is installed"))
                == ["warning netfilter: \(passing), and the FORWARD rules could not be read: neither nft nor iptables is installed; fix: check the FORWARD chains by hand (nft list ruleset, iptables -S FORWARD)"])
        #expect(netfilter(false, .value([ForwardDrop(chain: "table bridge filter, chain forward", policy: true, bridgeFamily: true)]))
                == ["ok netfilter: bridge-nf-call-iptables is 0: bridged frames do not pass iptables or nftables",
                    "error netfilter: table bridge filter, chain forward (bridge family) drops by policy: bridged frames are dropped whatever br_netfilter says; fix: accept the guests' traffic in that chain, or set its policy to accept"])
    }
}

@Suite struct BridgeTests {
    func bridgeProblems(_ change: (inout LinkFacts) -> Void, rules: [RuleFacts]? = nil, wireless: [String] = []) -> [String] {
        var facts = healthy()
        if let rules { facts.acl.rules = rules }
        facts.wireless = wireless
        modifyBridge(&facts, change)
        return problems(facts)
    }

    @Test func missingAndNotABridge() {
        var facts = healthy()
        facts.bridges = [BridgeFacts(name: "br9", link: nil)]
        #expect(problems(facts) == ["error bridge: br9 does not exist in this network namespace; fix: ip link add br9 type bridge && ip link set br9 up"])
        facts.bridges = [BridgeFacts(name: "ovs0", link: LinkFacts(kind: "openvswitch")), BridgeFacts(name: "lo", link: LinkFacts(kind: nil))]
        #expect(problems(facts) == [
            "error bridge: ovs0 is not a Linux bridge (its driver is 'openvswitch'): bridgekeeper-helper attaches TAPs to Linux bridges only; fix: use a Linux bridge (ip link add NAME type bridge)",
            "error bridge: lo is not a Linux bridge (it has no driver kind): bridgekeeper-helper attaches TAPs to Linux bridges only; fix: use a Linux bridge (ip link add NAME type bridge)",
        ])
    }

    @Test func down() {
        #expect(bridgeProblems { $0.up = false } == ["error bridge: br0 is down: guests on it reach nothing; fix: ip link set br0 up"])
    }

    @Test func uplink() {
        let none = "warning uplink: br0 has no uplink port, only TAPs: guests reach each other and the host, not the LAN; fix: ip link set ETH master br0 (and move the host's address from ETH to br0), or route or NAT the guests through the host"
        #expect(bridgeProblems { $0.ports = [PortFacts(name: "tap0", isTap: true)] } == [none])
        #expect(bridgeProblems({ $0.ports = [] }, wireless: ["wlan0"]) == [none + "; wlan0 is wireless, and a wireless interface in client mode cannot be a bridge port: route or NAT instead"])
        #expect(bridgeProblems { $0.ports = [PortFacts(name: "wlan0", isWireless: true)] } == [
            "warning uplink: br0's port wlan0 is wireless: it bridges only in access-point or 4-address mode; in client mode the access point drops frames from the guests' MACs; fix: route or NAT the guests instead, or use 4-address mode at both ends (iw dev wlan0 set 4addr on)",
        ])
    }

    @Test func stp() {
        #expect(bridgeProblems { $0.stpState = 1 } == ["warning stp: br0 runs kernel STP (stp_state 1): a new TAP forwards only after twice the forward delay (30 s), so a guest's DHCP can time out; fix: ip link set br0 type bridge stp_state 0 if the bridge cannot be part of a loop, or lower forward_delay"])
        #expect(bridgeProblems { $0.stpState = nil } == [])
    }

    @Test func vlan() {
        let tagged = [RuleFacts(allow: true, bridge: "br0", location: "/etc/qemu/bridge.conf:3", vlan: 20)]
        #expect(bridgeProblems({ $0.vlanFiltering = false }, rules: tagged) == ["error vlan: br0 has vlan_filtering 0, but /etc/qemu/bridge.conf:3 gives vlan=20: the VLAN is stored and not enforced, so guests see every VLAN; fix: ip link set br0 type bridge vlan_filtering 1"])
        #expect(bridgeProblems({ $0.vlanFiltering = nil }, rules: tagged) == ["error vlan: /etc/qemu/bridge.conf:3 gives vlan=20 on br0, but this kernel has no bridge VLAN filtering (no bridge/vlan_filtering): the VLAN cannot be enforced; fix: use a kernel built with CONFIG_BRIDGE_VLAN_FILTERING, or remove vlan= from the rule"])
        var facts = healthy()
        facts.acl.rules = tagged
        modifyBridge(&facts) { $0.vlanFiltering = true }
        #expect(DoctorChecks.examine(facts).findings.first { $0.check == "vlan" }?.description == "ok vlan: br0 filters VLANs, as vlan=20 (/etc/qemu/bridge.conf:3) needs")
        // Without vlan= rules there is no vlan finding at all.
        #expect(DoctorChecks.examine(healthy()).findings.contains { $0.check == "vlan" } == false)
    }

    @Test func mac() {
        #expect(bridgeProblems { $0.addressAssignType = 1; $0.address = "02:11:22:33:44:55" } == ["warning mac: br0's MAC 02:11:22:33:44:55 follows its lowest port MAC (addr_assign_type 1): a guest can change its TAP's MAC without privilege and take over the bridge's address; fix: ip link set br0 address 02:11:22:33:44:55, and set it in the bridge's network configuration"])
    }

    @Test func fdb() {
        let own = "give each guest its own MAC (-device virtio-net-pci,netdev=ID,mac=52:54:00:XX:XX:XX)"
        #expect(bridgeProblems { $0.fdb = .value([FDBEntry(mac: "52:54:00:12:34:56", port: "tap0")]) } == ["warning fdb: 52:54:00:12:34:56, QEMU's default MAC, is learnt on tap0 of br0: every guest started without mac= has it, and two of them knock each other off; fix: \(own)"])
        #expect(bridgeProblems { $0.fdb = .value([FDBEntry(mac: "52:54:00:aa:bb:cc", port: "tap0", vlan: 1), FDBEntry(mac: "52:54:00:aa:bb:cc", port: "tap1", vlan: 2), FDBEntry(mac: "52:54:00:aa:bb:cc", port: "tap0", vlan: 3)]) }
                == ["error fdb: 52:54:00:aa:bb:cc is learnt on 2 ports of br0 (tap0, tap1): two guests share one MAC and knock each other off; fix: \(own)"])
        #expect(bridgeProblems { $0.fdb = .needsRoot("the dump") } == ["warning fdb: br0's forwarding database could not be read: the dump needs root; fix: run bridgekeeper doctor as root"])
        #expect(bridgeProblems { $0.fdb = .failed("RTM_GETNEIGH: Operation not supported") } == ["warning fdb: br0's forwarding database could not be read: RTM_GETNEIGH: Operation not supported; fix: bridge fdb show br br0"])
    }

    @Test func leftoverTaps() {
        #expect(bridgeProblems { $0.ports.append(PortFacts(name: "tap9", isTap: true, leftover: true)) } == ["warning taps: tap9 on br0 is persistent and no process holds it: a leftover port; fix: bridgekeeper taps --reap (as root), or ip link delete tap9"])
    }
}
