import BridgeDoctor
import Testing

@Suite struct NeighbourTests {
    /// An RTM_NEWNEIGH body as the bridge sends it: ndmsg {AF_BRIDGE, ifindex 5, state 0x02
    /// (NUD_REACHABLE), flags 0x04 (NTF_MASTER)}, NDA_LLADDR, NDA_VLAN 20, NDA_MASTER 3.
    let body: [UInt8] = [7, 0, 0, 0, 5, 0, 0, 0, 0x02, 0, 0x04, 0,
                         10, 0, 2, 0, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0, 0,
                         6, 0, 5, 0, 20, 0, 0, 0,
                         8, 0, 9, 0, 3, 0, 0, 0]

    @Test func parsesAnEntry() {
        let entry = NeighbourEntry.parse(body: body[...])
        #expect(entry == NeighbourEntry(index: 5, state: 2, flags: 4, mac: [0x52, 0x54, 0, 0x12, 0x34, 0x56], vlan: 20, master: 3))
        #expect(entry?.macText == "52:54:00:12:34:56")
        #expect(NeighbourEntry.parse(body: body.prefix(11)) == nil)
        #expect(NeighbourEntry.parse(body: body.prefix(12)) == nil)  // no address
        // A length past the end stops the walk instead of reading beyond it.
        var broken = body
        broken[24] = 200
        #expect(NeighbourEntry.parse(body: broken[...])?.vlan == nil)
    }

    @Test func keepsLearntPortEntriesOnly() {
        let mac: [UInt8] = [2, 0, 0, 0, 0, 1]
        let entries = [
            NeighbourEntry(index: 5, state: 0x02, flags: 0x04, mac: mac, master: 3),  // learnt on tap0
            NeighbourEntry(index: 6, state: 0x40, flags: 0x04, mac: mac, master: 3),  // static on eth0
            NeighbourEntry(index: 5, state: 0x80, flags: 0x04, mac: mac, master: 3),  // tap0's own address
            NeighbourEntry(index: 3, state: 0x80, flags: 0x02, mac: mac),              // the bridge's own
            NeighbourEntry(index: 5, state: 0x80, flags: 0x02, mac: mac, master: 3),  // tap0's own table
            NeighbourEntry(index: 8, state: 0x02, flags: 0x04, mac: mac, master: 4),  // another bridge
            NeighbourEntry(index: 9, state: 0x02, flags: 0x04, mac: mac, master: 3),  // a port without a name
        ]
        #expect(NeighbourEntry.learnt(entries, bridge: 3, names: [5: "tap0", 6: "eth0"]) == [
            FDBEntry(mac: "02:00:00:00:00:01", port: "tap0"),
            FDBEntry(mac: "02:00:00:00:00:01", port: "eth0"),
            FDBEntry(mac: "02:00:00:00:00:01", port: "ifindex 9"),
        ])
    }
}

@Suite struct RuleListingTests {
    @Test func nftRuleset() {
        let text = """
            table inet filter {
            \tchain input {
            \t\ttype filter hook input priority filter; policy drop;
            \t}
            \tchain forward {
            \t\ttype filter hook forward priority filter; policy drop;
            \t\tct state established accept
            \t\tip saddr 192.0.2.1 drop
            \t}
            }
            table ip6 filter {
            \tchain forward {
            \t\ttype filter hook forward priority filter; policy drop;
            \t}
            }
            table bridge guests {
            \tchain forward {
            \t\ttype filter hook forward priority filter; policy accept;
            \t\tether saddr 52:54:00:12:34:56 reject
            \t}
            }
            table ip nat {
            \tchain postrouting {
            \t\ttype nat hook postrouting priority srcnat; policy accept;
            \t\toifname "eth0" drop
            \t}
            }
            """
        #expect(RuleListings.nftDrops(text) == [
            ForwardDrop(chain: "table inet filter, chain forward", policy: true),
            ForwardDrop(chain: "table inet filter, chain forward", policy: false),
            ForwardDrop(chain: "table bridge guests, chain forward", policy: false, bridgeFamily: true),
        ])
        #expect(RuleListings.nftDrops("") == [])
        #expect(RuleListings.nftDrops("table ip filter {\n\tchain FORWARD {\n\t\ttype filter hook forward priority filter; policy accept;\n\t}\n}\n") == [])
    }

    @Test func iptablesListing() {
        #expect(RuleListings.iptablesDrops("-P FORWARD ACCEPT\n-A FORWARD -i eth0 -j ACCEPT\n") == [])
        #expect(RuleListings.iptablesDrops("-P FORWARD ACCEPT\n-A FORWARD -s 192.0.2.0/24 -j REJECT --reject-with icmp-port-unreachable\n-A FORWARD -j DROP\n")
                == [ForwardDrop(chain: "the iptables FORWARD chain", policy: false)])
        #expect(RuleListings.iptablesDrops("-P FORWARD DROP\n-A FORWARD -j DROP\n")
                == [ForwardDrop(chain: "the iptables FORWARD chain", policy: true), ForwardDrop(chain: "the iptables FORWARD chain", policy: false)])
    }
}

@Suite struct BinaryFactsTests {
    @Test func capabilityAttribute() {
        // `setcap cap_net_admin+ep`: revision 2 with the effective flag, permitted bit 12.
        let netAdmin: [UInt8] = [0x01, 0, 0, 0x02, 0x00, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        #expect(BinaryFacts.grantsNetAdmin(capabilityAttribute: netAdmin))
        // cap_net_raw+ep (13) only.
        let netRaw: [UInt8] = [0x01, 0, 0, 0x02, 0x00, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        #expect(!BinaryFacts.grantsNetAdmin(capabilityAttribute: netRaw))
        #expect(!BinaryFacts.grantsNetAdmin(capabilityAttribute: []))
    }

    @Test func identity() {
        #expect(BinaryFacts.identity(of: Array("\u{7f}ELF...Usage: bridgekeeper-helper [--use-vnet] stock qemu-bridge-helper".utf8)) == .bridgekeeper)
        #expect(BinaryFacts.identity(of: Array("\u{7f}ELF...Usage: qemu-bridge-helper [--use-vnet]".utf8)) == .stock)
        #expect(BinaryFacts.identity(of: Array("\u{7f}ELF".utf8)) == .unknown)
        #expect(BinaryFacts.identity(of: []) == .unknown)
    }
}
