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
                                        kind: bytes("bridge"), mtu: 1500, master: 3, alias: bytes("bridgekeeper uid=1000"),
                                        bridge: BridgeInfo()))
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

@Suite("rtnetlink: marks, dumps and the tun driver's link info")
struct NetlinkTapTests {
    /// `ip link show` sends the same header (RTM_GETLINK, NLM_F_REQUEST|NLM_F_DUMP = 0x301) with
    /// an IFLA_EXT_MASK; this dump asks for no statistics (RTEXT_FILTER_SKIP_STATS = 8).
    @Test func dumpRequest() {
        #expect(LinkQuery.dump(sequence: 5).finished == hex("""
            28000000 1200 0103 05000000 00000000
            00 00 0000 00000000 00000000 00000000
            0800 1d00 08000000
            """))
    }

    /// IFLA_IFALIAS (20) as a NUL-terminated string, padded to 4 bytes.
    @Test func aliasChange() {
        #expect(LinkChange.alias(bytes("bridgekeeper"), index: 7, sequence: 12).finished == hex("""
            34000000 1300 0500 0c000000 00000000
            00 00 0000 07000000 00000000 00000000
            1100 1400 627269646765 6b6565706572 00 000000
            """))
    }

    /// A new TAP's set-up in one RTM_SETLINK: IFLA_ADDRESS (1, six bytes padded to 8),
    /// IFLA_MTU (4), IFLA_IFALIAS (20, NUL-terminated, padded) and IFLA_MASTER (10).
    @Test func setUpInOneRequest() {
        #expect(LinkChange.setUp(address: [0xFE, 1, 2, 3, 4, 5], mtu: 1500, alias: bytes("bk"), master: 12,
                                 index: 7, sequence: 14).finished == hex("""
            44000000 1300 0500 0e000000 00000000
            00 00 0000 07000000 00000000 00000000
            0a00 0100 fe0102030405 0000
            0800 0400 dc050000
            0700 1400 626b00 00
            0800 0a00 0c000000
            """))
    }

    /// `ip link delete tapN` sends exactly this: RTM_DELLINK (17), REQUEST|ACK, the index.
    @Test func deleteByIndex() {
        #expect(LinkChange.delete(index: 9, sequence: 13).finished == hex("""
            20000000 1100 0500 0d000000 00000000
            00 00 0000 09000000 00000000 00000000
            """))
    }

    @Test func constants() {
        #expect(bk_rtm_dellink == 17)
        #expect(bk_nlm_f_dump == 0x300)
        #expect(bk_nlm_f_multi == 2)
        #expect(bk_nlm_f_dump_intr == 0x10)
        #expect(bk_nlmsg_done == 3)
        #expect(bk_ifla_info_data == 2)
        #expect([bk_ifla_tun_owner, bk_ifla_tun_type, bk_ifla_tun_persist] == [1, 3, 6])
    }

    /// An RTM_NEWLINK body for a TAP as tun_fill_info describes it.
    static func tapReply(index: Int32 = 7, name: String = "tap0", owner: UInt32?, type: UInt8 = 2, persist: UInt8,
                         kind: String = "tun", alias: String? = nil) -> [UInt8] {
        var message = LinkRequest(type: bk_rtm_newlink, sequence: 1, index: index)
        message.append(bk_ifla_ifname, string: bytes(name))
        message.append(bk_ifla_master, uint32: 3)
        let info = message.beginNest(bk_ifla_linkinfo, flagged: false)
        message.append(bk_ifla_info_kind, string: bytes(kind))
        let data = message.beginNest(bk_ifla_info_data, flagged: false)
        if let owner { message.append(bk_ifla_tun_owner, uint32: owner) }
        message.append(2, uint32: 1000)  // IFLA_TUN_GROUP: read by nobody here
        message.append(bk_ifla_tun_type, uint8: type)
        message.append(4, uint8: 0)      // IFLA_TUN_PI
        message.append(5, uint8: 1)      // IFLA_TUN_VNET_HDR
        message.append(bk_ifla_tun_persist, uint8: persist)
        message.endNest(data)
        message.endNest(info)
        if let alias { message.append(bk_ifla_ifalias, string: bytes(alias)) }
        return Array(message.finished.dropFirst(Int(bk_nlmsghdr_size)))
    }

    @Test func tunInfoOfAnOwnedPersistentTap() throws {
        let link = try #require(LinkDescription.parse(body: Self.tapReply(owner: 1001, persist: 1, alias: "x")[...]))
        #expect(link.kind == bytes("tun"))
        #expect(link.master == 3)
        #expect(link.alias == bytes("x"))
        #expect(link.tun == TunInfo(owner: 1001, type: 2, persistent: true))
        #expect(link.tun?.isTap == true)
    }

    /// The kernel sends no IFLA_TUN_OWNER when no owner is set.
    @Test func tunInfoWithoutOwner() throws {
        let link = try #require(LinkDescription.parse(body: Self.tapReply(owner: nil, type: 1, persist: 0)[...]))
        #expect(link.tun == TunInfo(owner: nil, type: 1, persistent: false))
        #expect(link.tun?.isTap == false)
        #expect(link.alias == nil)
    }

    /// IFLA_INFO_DATA means something else for every other kind: it is not read as tun data.
    @Test func infoDataOfOtherKindsIsIgnored() throws {
        let link = try #require(LinkDescription.parse(body: Self.tapReply(owner: 5, persist: 1, kind: "bridge")[...]))
        #expect(link.tun == nil)
    }

    @Test func truncatedTunRepliesNeverReadPastTheEnd() {
        let reply = Self.tapReply(owner: 1001, persist: 1, alias: "bridgekeeper uid=1 rule=/a:1")
        for length in 0...reply.count { _ = LinkDescription.parse(body: reply.prefix(length)) }
    }

    static func message(type: UInt16, flags: UInt16, sequence: UInt32, body: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        withUnsafeBytes(of: UInt32(16 + body.count)) { out += $0 }
        withUnsafeBytes(of: type) { out += $0 }
        withUnsafeBytes(of: flags) { out += $0 }
        withUnsafeBytes(of: sequence) { out += $0 }
        out += [0, 0, 0, 0]
        out += body
        while out.count % 4 != 0 { out.append(0) }
        return out
    }

    /// One datagram of a dump: two links (NLM_F_MULTI), then NLMSG_DONE with its error code.
    @Test func splitsADumpDatagram() throws {
        let first = Self.tapReply(index: 7, name: "tap0", owner: 1001, persist: 0)
        let second = Self.tapReply(index: 8, name: "tap1", owner: nil, persist: 1)
        let datagram = Self.message(type: bk_rtm_newlink, flags: bk_nlm_f_multi, sequence: 4, body: first)
            + Self.message(type: bk_rtm_newlink, flags: bk_nlm_f_multi | bk_nlm_f_dump_intr, sequence: 4, body: second)
            + Self.message(type: bk_nlmsg_done, flags: bk_nlm_f_multi, sequence: 4, body: [0, 0, 0, 0])
        let messages = NetlinkMessage.split(datagram[...])
        #expect(messages.map(\.type) == [bk_rtm_newlink, bk_rtm_newlink, bk_nlmsg_done])
        #expect(messages.map(\.sequence) == [4, 4, 4])
        #expect(messages[1].flags & bk_nlm_f_dump_intr != 0)
        #expect(messages[2].errorCode == 0)
        let links = messages.prefix(2).compactMap { LinkDescription.parse(body: $0.body) }
        #expect(links.map(\.name) == [bytes("tap0"), bytes("tap1")])
        #expect(links.map(\.tun?.persistent) == [false, true])
        // A datagram cut short keeps the whole messages before the cut.
        #expect(NetlinkMessage.split(datagram.dropLast(3)).count == 2)
        #expect(NetlinkMessage.split(datagram.prefix(15)).isEmpty)
    }

    /// An error travels as a negative errno: EPERM (1) from an unprivileged RTM_DELLINK.
    @Test func errorCodes() {
        let denied = Self.message(type: bk_nlmsg_error, flags: 0, sequence: 9, body: [0xFF, 0xFF, 0xFF, 0xFF] + [UInt8](repeating: 0, count: 16))
        #expect(NetlinkMessage.split(denied[...]).first?.errorCode == EPERM)
        let short = Self.message(type: bk_nlmsg_error, flags: 0, sequence: 9, body: [0xFF])
        #expect(NetlinkMessage.split(short[...]).first?.errorCode == nil)
    }

    @Test func liveDumpHasLoopback() throws {
        let links = try RouteNetlink().links()
        let loopback = try #require(links.first { $0.index == 1 })
        #expect(loopback.name == bytes("lo"))
        #expect(Set(links.map(\.index)).count == links.count)
    }
}
