import BridgeSystem
import CBridgeShims
import Glibc
import Testing

@Suite("bridge-port requests (AF_BRIDGE)")
struct BridgePortRequestTests {
    /// kernel-notes.md: `bridge vlan add dev tapA vid 20 pvid untagged` (tapA = ifindex 5).
    @Test func pvidUntaggedMatchesIproute2() {
        #expect(BridgePortChange.pvidUntagged(20, index: 5, sequence: 0x01020304).finished == hex("""
            2c000000 1300 0500 04030201 00000000
            07 00 0000 05000000 00000000 00000000
            0c00 1a00
            0800 0200 0600 1400
            """))
    }

    /// kernel-notes.md: removing VID 1 is the same message with RTM_DELLINK (17) and flags 0.
    @Test func removeVLANMatchesIproute2() {
        #expect(BridgePortChange.removeVLAN(1, index: 5, sequence: 7).finished == hex("""
            2c000000 1100 0500 07000000 00000000
            07 00 0000 05000000 00000000 00000000
            0c00 1a00
            0800 0200 0000 0100
            """))
    }

    /// VIDs are host-order u16 (4094 = 0x0ffe), the index too (300 = 0x012c).
    @Test func highestVID() {
        let request = BridgePortChange.pvidUntagged(4094, index: 300, sequence: 1).finished
        #expect(Array(request[20..<24]) == hex("2c010000"))
        #expect(Array(request.suffix(8)) == hex("0800 0200 0600 fe0f"))
    }

    /// kernel-notes.md: `bridge link set dev tapA isolated on`: IFLA_PROTINFO|NLA_F_NESTED
    /// (0x800c) holding IFLA_BRPORT_ISOLATED (33, u8 1), padded to 4 bytes.
    @Test func isolatedMatchesIproute2() {
        #expect(BridgePortChange.isolated(true, index: 5, sequence: 3).finished == hex("""
            2c000000 1300 0500 03000000 00000000
            07 00 0000 05000000 00000000 00000000
            0c00 0c80
            0500 2100 01 000000
            """))
        #expect(BridgePortChange.isolated(false, index: 5, sequence: 3).finished.suffix(4) == [0, 0, 0, 0])
    }

    /// `bridge vlan show`: an AF_BRIDGE dump (NLM_F_REQUEST|NLM_F_DUMP = 0x301) with
    /// IFLA_EXT_MASK (29) = RTEXT_FILTER_BRVLAN (2).
    @Test func portDumpMatchesIproute2() {
        #expect(LinkQuery.bridgePortDump(sequence: 2).finished == hex("""
            28000000 1200 0103 02000000 00000000
            07 00 0000 00000000 00000000 00000000
            0800 1d00 02000000
            """))
    }

    /// The kernel's values, as <linux/if_bridge.h> and <linux/if_link.h> define them.
    @Test func constants() {
        #expect(bk_af_bridge == 7)
        #expect([bk_ifla_protinfo, bk_ifla_af_spec, bk_ifla_bridge_vlan_info, bk_ifla_brport_isolated] == [12, 26, 2, 33])
        #expect([bk_bridge_vlan_info_pvid, bk_bridge_vlan_info_untagged] == [2, 4])
        #expect([bk_bridge_vlan_info_range_begin, bk_bridge_vlan_info_range_end] == [8, 16])
        #expect([bk_ifla_br_vlan_filtering, bk_ifla_br_vlan_default_pvid] == [7, 39])
        #expect(bk_rtext_filter_brvlan == 2)
        #expect(bk_rtm_dellink == 17)
    }
}

@Suite("bridge-port replies")
struct BridgePortReplyTests {
    /// tap0 (index 3) on br0 (index 2) with `isolated on`, from an AF_BRIDGE dump captured on
    /// Linux 6.18 built without VLAN filtering (so no IFLA_AF_SPEC): IFLA_PROTINFO|NLA_F_NESTED
    /// with every IFLA_BRPORT_* flag, ISOLATED (0x21) among them.
    static let captured = hex("""
        0700010003000000021000000000000009000300746170300000000008000a000200000008000400dc050000
        05001000020000000a0001004a5a37c2f17f000050010c800500010000000000060002002000000008000300
        02000000050004000000000005000500000000000500060000000000050007000000000005001c0000000000
        0500080001000000050009000100000005001b000100000005001e000100000005000a000000000005000c00
        000000000c000d0080004a5a37c2f17f0c000e0080004a5a37c2f17f06000f00018000000600100000000000
        060011000180000006001200010000000500130000000000050014000000000005001d000000000006001f00
        0000000005002000000000000500230000000000050024000000000005002100010000000500270000000000
        050028000000000005002b00000000000c00150000000000000000000c00160000000000000000000c001700
        0000000000000000050019000100000008002500000200000800260000000000080029000000000008002a00
        00000000
        """)

    @Test func capturedIsolatedPort() throws {
        let port = try #require(BridgePortState.parse(body: Self.captured[...]))
        #expect(port == BridgePortState(index: 3, master: 2, vlans: [], isolated: true))
    }

    /// The same port with the flag off reads as off, not as absent.
    @Test func capturedPortNotIsolated() throws {
        var bytes = Self.captured
        let flag = try #require(findIsolated(bytes))
        bytes[flag] = 0
        #expect(BridgePortState.parse(body: bytes[...])?.isolated == false)
    }

    func findIsolated(_ bytes: [UInt8]) -> Int? {
        (0..<(bytes.count - 4)).first { bytes[$0..<$0 + 4] == [0x05, 0x00, 0x21, 0x00] }.map { $0 + 4 }
    }

    /// A port entry as a VLAN-filtering bridge sends it: PVID 20 untagged, a tagged range
    /// 100-102 (RANGE_BEGIN/RANGE_END, as RTEXT_FILTER_BRVLAN_COMPRESSED sends it), VID 7 tagged;
    /// an IFLA_PROTINFO without ISOLATED (a kernel before 4.18).
    static func vlanReply(_ entries: [(flags: UInt16, vid: UInt16)], isolated: UInt8? = nil) -> [UInt8] {
        var message = LinkRequest(type: bk_rtm_newlink, sequence: 1, family: bk_af_bridge, index: 9)
        message.append(bk_ifla_ifname, string: bytes("tap4"))
        message.append(bk_ifla_master, uint32: 4)
        let info = message.beginNest(bk_ifla_protinfo)
        message.append(1, uint8: 0)  // IFLA_BRPORT_STATE
        if let isolated { message.append(bk_ifla_brport_isolated, uint8: isolated) }
        message.endNest(info)
        let spec = message.beginNest(bk_ifla_af_spec, flagged: false)
        for entry in entries {
            var payload: [UInt8] = []
            withUnsafeBytes(of: entry.flags) { payload += $0 }
            withUnsafeBytes(of: entry.vid) { payload += $0 }
            message.append(bk_ifla_bridge_vlan_info, payload: payload)
        }
        message.endNest(spec)
        return Array(message.finished.dropFirst(Int(bk_nlmsghdr_size)))
    }

    @Test func vlansWithARange() throws {
        let reply = Self.vlanReply([(6, 20), (8, 100), (16, 102), (0, 7)])
        let port = try #require(BridgePortState.parse(body: reply[...]))
        #expect(port.index == 9 && port.master == 4 && port.isolated == nil)
        #expect(port.vlans == [BridgeVLAN(vid: 20, flags: 6), BridgeVLAN(vid: 100, flags: 0),
                               BridgeVLAN(vid: 101, flags: 0), BridgeVLAN(vid: 102, flags: 0),
                               BridgeVLAN(vid: 7, flags: 0)])
        let pvid = try #require(port.vlan(20))
        #expect(pvid.isPVID && pvid.isUntagged)
        #expect(port.vlan(7)?.isPVID == false && port.vlan(7)?.isUntagged == false)
        #expect(port.vlan(1) == nil)
    }

    /// A range's flags (untagged here) apply to every VID in it; the range bits are dropped.
    @Test func untaggedRange() throws {
        let port = try #require(BridgePortState.parse(body: Self.vlanReply([(8 | 4, 30), (16 | 4, 31)])[...]))
        #expect(port.vlans == [BridgeVLAN(vid: 30, flags: 4), BridgeVLAN(vid: 31, flags: 4)])
    }

    @Test func isolatedOffAndOn() {
        #expect(BridgePortState.parse(body: Self.vlanReply([], isolated: 0)[...])?.isolated == false)
        #expect(BridgePortState.parse(body: Self.vlanReply([], isolated: 1)[...])?.isolated == true)
    }

    /// A VLAN list that cannot be read is no answer at all: the caller refuses rather than
    /// trusting part of it.
    @Test func malformedRangesAreUnreadable() {
        for entries: [(flags: UInt16, vid: UInt16)] in [[(16, 5)], [(8, 5)], [(8, 9), (16, 5)], [(8, 5), (8, 6), (16, 7)],
                                                       [(8, 5), (0, 6), (16, 7)]] {
            #expect(BridgePortState.parse(body: Self.vlanReply(entries)[...]) == nil)
        }
    }

    @Test func truncatedRepliesNeverReadPastTheEnd() {
        let reply = Self.vlanReply([(6, 20), (8, 100), (16, 102)], isolated: 1)
        for length in 0...reply.count {
            let port = BridgePortState.parse(body: reply.prefix(length))
            if length < Int(bk_ifinfomsg_size) { #expect(port == nil) }
        }
        for length in 0...Self.captured.count { _ = BridgePortState.parse(body: Self.captured.prefix(length)) }
    }

    /// A bridge's RTM_NEWLINK (AF_UNSPEC) with IFLA_INFO_DATA: filtering and the default PVID.
    static func bridgeLink(filtering: UInt8?, defaultPVID: UInt16?) -> [UInt8] {
        var message = LinkRequest(type: bk_rtm_newlink, sequence: 1, index: 4)
        message.append(bk_ifla_ifname, string: bytes("trunk0"))
        message.append(bk_ifla_mtu, uint32: 1500)
        let info = message.beginNest(bk_ifla_linkinfo, flagged: false)
        message.append(bk_ifla_info_kind, string: bytes("bridge"))
        let data = message.beginNest(bk_ifla_info_data, flagged: false)
        message.append(1, uint32: 1500)  // IFLA_BR_FORWARD_DELAY
        if let filtering { message.append(bk_ifla_br_vlan_filtering, uint8: filtering) }
        if let defaultPVID { withUnsafeBytes(of: defaultPVID) { message.append(bk_ifla_br_vlan_default_pvid, payload: Array($0)) } }
        message.endNest(data)
        message.endNest(info)
        return Array(message.finished.dropFirst(Int(bk_nlmsghdr_size)))
    }

    @Test func bridgeFacts() {
        #expect(LinkDescription.parse(body: Self.bridgeLink(filtering: 1, defaultPVID: 1)[...])?.bridge
                == BridgeInfo(vlanFiltering: true, defaultPVID: 1))
        #expect(LinkDescription.parse(body: Self.bridgeLink(filtering: 1, defaultPVID: 0)[...])?.bridge
                == BridgeInfo(vlanFiltering: true, defaultPVID: 0))
        #expect(LinkDescription.parse(body: Self.bridgeLink(filtering: 0, defaultPVID: 42)[...])?.bridge
                == BridgeInfo(vlanFiltering: false, defaultPVID: 42))
        // A kernel without VLAN filtering support sends no default PVID; one even older, no flag.
        #expect(LinkDescription.parse(body: Self.bridgeLink(filtering: 0, defaultPVID: nil)[...])?.bridge
                == BridgeInfo(vlanFiltering: false, defaultPVID: nil))
        #expect(LinkDescription.parse(body: Self.bridgeLink(filtering: nil, defaultPVID: nil)[...])?.bridge
                == BridgeInfo(vlanFiltering: false, defaultPVID: nil))
    }

    /// Only a bridge has bridge facts.
    @Test func otherKindsHaveNoBridgeFacts() {
        #expect(LinkDescription.parse(body: NetlinkReplyTests.bridgeReply()[...])?.bridge == BridgeInfo())
        #expect(LinkDescription.parse(body: NetlinkTapTests.tapReply(owner: 1, persist: 0)[...])?.bridge == nil)
    }
}

@Suite("bridge ports on this machine (no privilege needed)")
struct BridgePortLiveTests {
    /// The dump works unprivileged and never lists an index twice.
    @Test func liveDump() throws {
        let ports = try RouteNetlink().bridgePorts()
        #expect(Set(ports.map(\.index)).count == ports.count)
        #expect(try RouteNetlink().bridgePort(index: 1) == nil)  // loopback is no bridge port
    }
}
