import CBridgeShims

// Bridge-port settings over rtnetlink (AF_BRIDGE): a port's VLANs and its isolation flag, and
// reading both back. The kernel acknowledges port attributes it does not know and stores VLANs
// on a bridge that does not filter without enforcing them, so nothing here is trusted until it
// has been read back (`RouteNetlink.bridgePort(index:)`); the helper does that.

/// What a Linux bridge says about VLAN filtering in its IFLA_INFO_DATA (br_fill_info).
public struct BridgeInfo: Equatable, Sendable {
    /// IFLA_BR_VLAN_FILTERING. Absent (a kernel without CONFIG_BRIDGE_VLAN_FILTERING still
    /// sends 0; an older one sends nothing) counts as off.
    public var vlanFiltering: Bool
    /// IFLA_BR_VLAN_DEFAULT_PVID: the VID every new port gets as PVID and untagged (0: none).
    /// Nil when the kernel does not send it (no VLAN filtering support).
    public var defaultPVID: UInt16?

    public init(vlanFiltering: Bool = false, defaultPVID: UInt16? = nil) {
        self.vlanFiltering = vlanFiltering
        self.defaultPVID = defaultPVID
    }

    public static func parse(_ data: ArraySlice<UInt8>) -> BridgeInfo {
        var info = BridgeInfo()
        for (type, payload) in NetlinkAttributes(data) {
            switch type {
            case bk_ifla_br_vlan_filtering: info.vlanFiltering = (payload.first ?? 0) != 0
            case bk_ifla_br_vlan_default_pvid: info.defaultPVID = NetlinkBytes.uint16(payload, at: 0)
            default: continue
            }
        }
        return info
    }
}

/// One VLAN of a bridge port (`struct bridge_vlan_info`).
public struct BridgeVLAN: Equatable, Sendable {
    public var vid: UInt16
    /// BRIDGE_VLAN_INFO_* flags, range bits removed.
    public var flags: UInt16

    public init(vid: UInt16, flags: UInt16) {
        self.vid = vid
        self.flags = flags
    }

    /// Untagged frames entering the port are classified into this VLAN.
    public var isPVID: Bool { flags & bk_bridge_vlan_info_pvid != 0 }
    /// Frames of this VLAN leave the port without a tag.
    public var isUntagged: Bool { flags & bk_bridge_vlan_info_untagged != 0 }
}

/// A bridge port as an AF_BRIDGE RTM_GETLINK dump describes it (br_fill_ifinfo).
public struct BridgePortState: Equatable, Sendable {
    public var index: Int32
    /// IFLA_MASTER: the bridge (absent for the bridge's own entry).
    public var master: Int32?
    /// The port's VLANs (IFLA_AF_SPEC / IFLA_BRIDGE_VLAN_INFO), ranges expanded, in the kernel's order.
    public var vlans: [BridgeVLAN]
    /// IFLA_PROTINFO / IFLA_BRPORT_ISOLATED; nil when the kernel sent no such attribute (a
    /// kernel before 4.18, or an entry without port information).
    public var isolated: Bool?

    public init(index: Int32, master: Int32? = nil, vlans: [BridgeVLAN] = [], isolated: Bool? = nil) {
        self.index = index
        self.master = master
        self.vlans = vlans
        self.isolated = isolated
    }

    /// Parses the body of an AF_BRIDGE RTM_NEWLINK message (after the `nlmsghdr`); nil when it
    /// is too short to hold an `ifinfomsg`. A range end without its beginning, or a range that
    /// runs backwards, makes the whole VLAN list unreadable: nil as well.
    public static func parse(body: ArraySlice<UInt8>) -> BridgePortState? {
        guard body.count >= Int(bk_ifinfomsg_size), let index = NetlinkBytes.uint32(body, at: 4) else { return nil }
        var port = BridgePortState(index: Int32(bitPattern: index))
        for (type, payload) in NetlinkAttributes(body.dropFirst(Int(bk_ifinfomsg_size))) {
            switch type {
            case bk_ifla_master:
                port.master = NetlinkBytes.uint32(payload, at: 0).map { Int32(bitPattern: $0) }
            case bk_ifla_protinfo:
                if let flag = NetlinkAttributes(payload).first(bk_ifla_brport_isolated) {
                    port.isolated = (flag.first ?? 0) != 0
                }
            case bk_ifla_af_spec:
                guard let vlans = parseVLANs(payload) else { return nil }
                port.vlans += vlans
            default: continue
            }
        }
        return port
    }

    static func parseVLANs(_ nest: ArraySlice<UInt8>) -> [BridgeVLAN]? {
        let range = bk_bridge_vlan_info_range_begin | bk_bridge_vlan_info_range_end
        var vlans: [BridgeVLAN] = []
        var rangeStart: BridgeVLAN?
        for (type, payload) in NetlinkAttributes(nest) where type == bk_ifla_bridge_vlan_info {
            guard let flags = NetlinkBytes.uint16(payload, at: 0), let vid = NetlinkBytes.uint16(payload, at: 2) else {
                return nil
            }
            let entry = BridgeVLAN(vid: vid, flags: flags & ~range)
            if flags & bk_bridge_vlan_info_range_begin != 0 {
                guard rangeStart == nil else { return nil }
                rangeStart = entry
            } else if flags & bk_bridge_vlan_info_range_end != 0 {
                guard let start = rangeStart, start.vid <= vid else { return nil }
                vlans += (start.vid...vid).map { BridgeVLAN(vid: $0, flags: start.flags) }
                rangeStart = nil
            } else {
                guard rangeStart == nil else { return nil }
                vlans.append(entry)
            }
        }
        return rangeStart == nil ? vlans : nil
    }

    /// The VLAN entry for `vid`, if the port is a member.
    public func vlan(_ vid: UInt16) -> BridgeVLAN? { vlans.first { $0.vid == vid } }
}

/// The bridge-port changes the helper makes: AF_BRIDGE requests with an acknowledgement, which
/// rtnetlink hands to the master's `ndo_bridge_setlink` / `ndo_bridge_dellink`.
public enum BridgePortChange {
    /// `bridge vlan add dev PORT vid VID pvid untagged`: RTM_SETLINK, IFLA_AF_SPEC (no
    /// NLA_F_NESTED, as iproute2 sends it) holding one IFLA_BRIDGE_VLAN_INFO.
    public static func pvidUntagged(_ vid: UInt16, index: Int32, sequence: UInt32) -> LinkRequest {
        vlanRequest(type: bk_rtm_setlink, flags: bk_bridge_vlan_info_pvid | bk_bridge_vlan_info_untagged,
                    vid: vid, index: index, sequence: sequence)
    }

    /// `bridge vlan del dev PORT vid VID`: RTM_DELLINK with the same nest and flags 0.
    public static func removeVLAN(_ vid: UInt16, index: Int32, sequence: UInt32) -> LinkRequest {
        vlanRequest(type: bk_rtm_dellink, flags: 0, vid: vid, index: index, sequence: sequence)
    }

    /// `bridge link set dev PORT isolated on|off`: RTM_SETLINK, IFLA_PROTINFO with NLA_F_NESTED
    /// (without it the kernel reads the legacy one-byte STP port state) holding
    /// IFLA_BRPORT_ISOLATED (u8).
    public static func isolated(_ on: Bool, index: Int32, sequence: UInt32) -> LinkRequest {
        var request = LinkRequest(type: bk_rtm_setlink, flags: bk_nlm_f_ack, sequence: sequence,
                                  family: bk_af_bridge, index: index)
        let nest = request.beginNest(bk_ifla_protinfo, flagged: true)
        request.append(bk_ifla_brport_isolated, uint8: on ? 1 : 0)
        request.endNest(nest)
        return request
    }

    static func vlanRequest(type: UInt16, flags: UInt16, vid: UInt16, index: Int32, sequence: UInt32) -> LinkRequest {
        var request = LinkRequest(type: type, flags: bk_nlm_f_ack, sequence: sequence, family: bk_af_bridge, index: index)
        let nest = request.beginNest(bk_ifla_af_spec, flagged: false)
        var info: [UInt8] = []
        withUnsafeBytes(of: flags) { info += $0 }
        withUnsafeBytes(of: vid) { info += $0 }
        request.append(bk_ifla_bridge_vlan_info, payload: info)
        request.endNest(nest)
        return request
    }
}

extension LinkQuery {
    /// `bridge vlan show` / `bridge -d link show`: an AF_BRIDGE RTM_GETLINK dump with
    /// IFLA_EXT_MASK = RTEXT_FILTER_BRVLAN, so every port's entry carries its VLAN list
    /// (one IFLA_BRIDGE_VLAN_INFO per VID) next to its IFLA_PROTINFO flags.
    public static func bridgePortDump(sequence: UInt32) -> LinkRequest {
        var request = LinkRequest(type: bk_rtm_getlink, flags: bk_nlm_f_dump, sequence: sequence, family: bk_af_bridge)
        request.append(bk_ifla_ext_mask, uint32: bk_rtext_filter_brvlan)
        return request
    }
}

extension RouteNetlink {
    /// Every bridge port of this network namespace (and each bridge's own entry), with VLANs and
    /// flags. An interrupted dump is taken again, up to three times.
    public func bridgePorts() throws(SystemError) -> [BridgePortState] {
        var attempt = 0
        while true {
            attempt += 1
            let (ports, interrupted) = try dump(LinkQuery.bridgePortDump(sequence: nextSequence()),
                                                what: "RTM_GETLINK AF_BRIDGE dump", parse: BridgePortState.parse(body:))
            if !interrupted || attempt >= 3 { return ports }
        }
    }

    /// The port `index` as the kernel now describes it, or nil when it is no bridge port.
    public func bridgePort(index: Int32) throws(SystemError) -> BridgePortState? {
        try bridgePorts().first { $0.index == index && $0.master != nil }
    }
}
