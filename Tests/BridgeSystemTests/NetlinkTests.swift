import BridgeSystem
import CBridgeShims
import Glibc
import Testing

/// Hex with spaces ignored, for writing expected bytes the way the kernel notes show them.
func hex(_ text: String) -> [UInt8] {
    let digits = Array(text.filter { !$0.isWhitespace })
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16) ?? 0xEE }
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

@Suite("rtnetlink encoding")
struct NetlinkEncodingTests {
    /// `bridge vlan add dev tapA vid 20 pvid untagged` (tapA = ifindex 5), as iproute2 sends it
    /// (kernel-notes.md): the header, ifinfomsg and nest layout match byte for byte.
    @Test func bridgeVlanRequestMatchesIproute2() {
        var request = LinkRequest(type: bk_rtm_setlink, flags: bk_nlm_f_ack, sequence: 0x01020304, family: 7, index: 5)
        let nest = request.beginNest(26, flagged: false)  // IFLA_AF_SPEC
        request.append(2, payload: [0x06, 0x00, 0x14, 0x00])  // IFLA_BRIDGE_VLAN_INFO {PVID|UNTAGGED, 20}
        request.endNest(nest)
        #expect(request.finished == hex("""
            2c000000 1300 0500 04030201 00000000
            07 00 0000 05000000 00000000 00000000
            0c00 1a00 0800 0200 0600 1400
            """))
    }

    @Test func mtuChange() {
        #expect(LinkChange.mtu(1400, index: 7, sequence: 9).finished == hex("""
            28000000 1300 0500 09000000 00000000
            00 00 0000 07000000 00000000 00000000
            0800 0400 78050000
            """))
    }

    @Test func masterChange() {
        #expect(LinkChange.master(12, index: 7, sequence: 10).finished == hex("""
            28000000 1300 0500 0a000000 00000000
            00 00 0000 07000000 00000000 00000000
            0800 0a00 0c000000
            """))
    }

    /// IFF_UP (1) in both ifi_flags and ifi_change: no other flag is touched.
    @Test func upChange() {
        #expect(LinkChange.up(index: 7, sequence: 11).finished == hex("""
            20000000 1300 0500 0b000000 00000000
            00 00 0000 07000000 01000000 01000000
            """))
    }

    /// A string attribute carries its NUL and is padded to 4 bytes; a flagged nest sets 0x8000.
    @Test func stringsAndFlaggedNests() {
        var request = LinkRequest(type: bk_rtm_getlink, sequence: 1)
        request.append(bk_ifla_ifname, string: bytes("br0"))
        let nest = request.beginNest(12)  // IFLA_PROTINFO
        request.append(33, uint8: 1)       // IFLA_BRPORT_ISOLATED
        request.endNest(nest)
        #expect(Array(request.finished.dropFirst(32)) == hex("0800 0300 62723000  0c00 0c80 0500 2100 01000000"))
        #expect(request.finished.count == 32 + 8 + 12)
    }

    /// The kernel's values for the constants, as the headers define them.
    @Test func constants() {
        #expect([bk_rtm_newlink, bk_rtm_getlink, bk_rtm_setlink] == [16, 18, 19])
        #expect([bk_ifla_address, bk_ifla_ifname, bk_ifla_mtu, bk_ifla_master, bk_ifla_linkinfo] == [1, 3, 4, 10, 18])
        #expect([bk_ifla_ifalias, bk_ifla_ext_mask, bk_ifla_prop_list, bk_ifla_alt_ifname] == [20, 29, 52, 53])
        #expect(bk_nla_f_nested == 0x8000)
        #expect(bk_initial_user_namespace_inode == 0xEFFF_FFFD)
    }
}

@Suite("rtnetlink replies")
struct NetlinkReplyTests {
    /// An RTM_NEWLINK body as the kernel sends it for a bridge with two alternative names.
    static func bridgeReply() -> [UInt8] {
        var message = LinkRequest(type: bk_rtm_newlink, sequence: 1, index: 12)
        message.append(bk_ifla_ifname, string: bytes("brmgmt"))
        message.append(bk_ifla_mtu, uint32: 1500)
        message.append(bk_ifla_master, uint32: 3)
        let info = message.beginNest(bk_ifla_linkinfo, flagged: false)
        message.append(bk_ifla_info_kind, string: bytes("bridge"))
        message.endNest(info)
        let props = message.beginNest(bk_ifla_prop_list)
        message.append(bk_ifla_alt_ifname, string: bytes("mgmt"))
        message.append(bk_ifla_alt_ifname, string: bytes("a-very-long-alternative-name"))
        message.endNest(props)
        message.append(bk_ifla_ifalias, string: bytes("bridgekeeper uid=1000"))
        return Array(message.finished.dropFirst(Int(bk_nlmsghdr_size)))
    }

    @Test func parsesEveryField() throws {
        let link = try #require(LinkDescription.parse(body: Self.bridgeReply()[...]))
        #expect(link == LinkDescription(index: 12, name: bytes("brmgmt"),
                                        alternativeNames: [bytes("mgmt"), bytes("a-very-long-alternative-name")],
                                        kind: bytes("bridge"), mtu: 1500, master: 3, alias: bytes("bridgekeeper uid=1000")))
    }

    /// Every truncation of a valid reply parses to something or nothing, never past the end.
    @Test func truncatedRepliesNeverReadPastTheEnd() {
        let reply = Self.bridgeReply()
        for length in 0..<reply.count {
            let link = LinkDescription.parse(body: reply.prefix(length))
            if length < Int(bk_ifinfomsg_size) { #expect(link == nil) }
        }
    }

    /// An attribute whose length runs past the buffer ends the walk.
    @Test func oversizedAttributeLengthStops() {
        var body = Array(Self.bridgeReply().prefix(Int(bk_ifinfomsg_size)))
        body += [0xFF, 0x00, 0x03, 0x00] + bytes("br0") + [0]
        #expect(LinkDescription.parse(body: body[...]) == nil)
    }
}

@Suite("rtnetlink on this machine (no privilege needed)")
struct NetlinkLiveTests {
    @Test func loopbackResolvesByName() throws {
        let link = try #require(try RouteNetlink().link(named: bytes("lo")))
        #expect(link.name == bytes("lo"))
        #expect(link.index == 1)
        #expect(link.kind == nil)
    }

    @Test func missingNameIsNil() throws {
        #expect(try RouteNetlink().link(named: bytes("bk-no-such0")) == nil)
    }

    @Test func indexLookupAgreesWithNameLookup() throws {
        let netlink = try RouteNetlink()
        let byName = try #require(try netlink.link(named: bytes("lo")))
        #expect(try netlink.link(index: byName.index) == byName)
    }
}
