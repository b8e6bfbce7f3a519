import BridgeACL
import CBridgeShims
import Glibc

// A small rtnetlink layer: link requests encoded as bytes (pure, unit-tested against the bytes
// iproute2 sends), replies parsed into values, and one socket type that sends a request and
// waits for its answer. Names and indexes are resolved here by the kernel itself, so the helper
// decides on the device the kernel means, whatever name (canonical or alternative) was used.

/// One rtnetlink request: `nlmsghdr`, `ifinfomsg`, then attributes, in host byte order (netlink
/// is host-endian). Attributes are 4-byte aligned; nests are closed with `endNest`.
public struct LinkRequest: Equatable, Sendable {
    public private(set) var bytes: [UInt8]

    /// - Parameters:
    ///   - type: RTM_GETLINK, RTM_SETLINK...
    ///   - flags: NLM_F_REQUEST is always set; add NLM_F_ACK for requests that answer nothing else.
    ///   - family: AF_UNSPEC (0) for link requests, AF_BRIDGE (7) for bridge-port settings.
    ///   - index: the interface (0 when it is named by an attribute instead).
    ///   - interfaceFlags, change: `ifi_flags` and `ifi_change` (IFF_UP to bring a link up).
    public init(type: UInt16, flags: UInt16 = 0, sequence: UInt32, family: UInt8 = 0, index: Int32 = 0,
                interfaceFlags: UInt32 = 0, change: UInt32 = 0) {
        bytes = []
        bytes.reserveCapacity(64)
        append32(0)  // nlmsg_len, set by `finished`
        append16(type)
        append16(flags | bk_nlm_f_request)
        append32(sequence)
        append32(0)  // nlmsg_pid: the kernel fills in the sender
        bytes.append(family)
        bytes.append(0)
        append16(0)  // ifi_type
        append32(UInt32(bitPattern: index))
        append32(interfaceFlags)
        append32(change)
    }

    /// An attribute with raw payload bytes.
    public mutating func append(_ type: UInt16, payload: some Collection<UInt8>) {
        append16(UInt16(4 + payload.count))
        append16(type)
        bytes += payload
        pad()
    }

    public mutating func append(_ type: UInt16, uint32 value: UInt32) {
        withUnsafeBytes(of: value) { append(type, payload: Array($0)) }
    }

    public mutating func append(_ type: UInt16, uint8 value: UInt8) {
        append(type, payload: [value])
    }

    /// A NUL-terminated string attribute (IFLA_IFNAME, IFLA_IFALIAS).
    public mutating func append(_ type: UInt16, string: some Collection<UInt8>) {
        append(type, payload: Array(string) + [0])
    }

    /// Opens a nested attribute; returns where it starts, for `endNest`. `flagged` sets
    /// NLA_F_NESTED, which some attributes require (IFLA_PROTINFO: without it the kernel reads
    /// the legacy one-byte STP state) and iproute2 leaves off for others (IFLA_AF_SPEC).
    public mutating func beginNest(_ type: UInt16, flagged: Bool = true) -> Int {
        let start = bytes.count
        append16(0)
        append16(flagged ? type | bk_nla_f_nested : type)
        return start
    }

    public mutating func endNest(_ start: Int) {
        store16(UInt16(bytes.count - start), at: start)
    }

    /// The request with its total length filled in.
    public var finished: [UInt8] {
        var copy = self
        copy.store32(UInt32(bytes.count), at: 0)
        return copy.bytes
    }

    private mutating func append16(_ value: UInt16) { withUnsafeBytes(of: value) { bytes += $0 } }
    private mutating func append32(_ value: UInt32) { withUnsafeBytes(of: value) { bytes += $0 } }
    private mutating func pad() { while bytes.count % 4 != 0 { bytes.append(0) } }
    private mutating func store16(_ value: UInt16, at offset: Int) {
        withUnsafeBytes(of: value) { for (i, byte) in $0.enumerated() { bytes[offset + i] = byte } }
    }
    private mutating func store32(_ value: UInt32, at offset: Int) {
        withUnsafeBytes(of: value) { for (i, byte) in $0.enumerated() { bytes[offset + i] = byte } }
    }
}

/// Reading host-order integers out of received bytes, bounds-checked.
enum NetlinkBytes {
    static func uint16(_ bytes: ArraySlice<UInt8>, at offset: Int) -> UInt16? { integer(bytes, at: offset) }

    static func uint32(_ bytes: ArraySlice<UInt8>, at offset: Int) -> UInt32? { integer(bytes, at: offset) }

    static func integer<Value: FixedWidthInteger>(_ bytes: ArraySlice<UInt8>, at offset: Int) -> Value? {
        let size = MemoryLayout<Value>.size
        let start = bytes.startIndex + offset
        guard offset >= 0, start + size <= bytes.endIndex else { return nil }
        var value = Value.zero
        withUnsafeMutableBytes(of: &value) { raw in
            for i in 0..<size { raw[i] = bytes[start + i] }
        }
        return value
    }
}

/// The attributes of a message body or of a nest: `(type without flags, payload)` pairs. Stops at
/// the first malformed header instead of reading past the end.
public struct NetlinkAttributes: Sequence {
    let bytes: ArraySlice<UInt8>

    public init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes }

    public struct Iterator: IteratorProtocol {
        var rest: ArraySlice<UInt8>

        public mutating func next() -> (type: UInt16, payload: ArraySlice<UInt8>)? {
            guard let length = NetlinkBytes.uint16(rest, at: 0), let type = NetlinkBytes.uint16(rest, at: 2),
                  length >= 4, Int(length) <= rest.count else { return nil }
            let payload = rest[(rest.startIndex + 4)..<(rest.startIndex + Int(length))]
            let aligned = Swift.min(rest.count, (Int(length) + 3) & ~3)
            rest = rest.dropFirst(aligned)
            return (type & bk_nla_type_mask, payload)
        }
    }

    public func makeIterator() -> Iterator { Iterator(rest: bytes) }

    /// The payload of the first attribute of `type`.
    public func first(_ type: UInt16) -> ArraySlice<UInt8>? {
        first(where: { $0.type == type })?.payload
    }
}

/// A link as RTM_NEWLINK describes it (the reply to RTM_GETLINK).
public struct LinkDescription: Equatable, Sendable {
    public var index: Int32
    /// `ifi_flags` (IFF_UP...): not an initializer parameter, set by `parse` and by tests.
    public var interfaceFlags: UInt32 = 0
    /// IFF_UP: administratively up. Only CAP_NET_ADMIN can change it (SIOCSIFFLAGS,
    /// RTM_SETLINK), so a TAP's holder cannot; the helper brings a TAP up last.
    public var isUp: Bool { interfaceFlags & bk_iff_up != 0 }
    /// The canonical name (IFLA_IFNAME).
    public var name: [UInt8]
    /// Alternative names (IFLA_PROP_LIST / IFLA_ALT_IFNAME), up to 127 bytes each.
    public var alternativeNames: [[UInt8]]
    /// IFLA_INFO_KIND: "bridge", "veth", "tun", "openvswitch"...; nil for devices without one
    /// (loopback, most physical NICs).
    public var kind: [UInt8]?
    public var mtu: UInt32?
    /// IFLA_MASTER: the bridge (or bond...) this link is a port of.
    public var master: Int32?
    /// IFLA_IFALIAS.
    public var alias: [UInt8]?
    /// IFLA_INFO_DATA of a TUN/TAP device (kind "tun"), nil for other kinds.
    public var tun: TunInfo?
    /// IFLA_CARRIER. The tun driver turns it on when a descriptor attaches and off when the
    /// last one detaches (a holder can also turn it off with TUNSETCARRIER).
    public var carrier: Bool?
    /// IFLA_INFO_DATA of a Linux bridge (kind "bridge"), nil for other kinds.
    public var bridge: BridgeInfo?

    public init(index: Int32, name: [UInt8], alternativeNames: [[UInt8]] = [], kind: [UInt8]? = nil,
                mtu: UInt32? = nil, master: Int32? = nil, alias: [UInt8]? = nil, tun: TunInfo? = nil,
                carrier: Bool? = nil, bridge: BridgeInfo? = nil) {
        self.index = index
        self.name = name
        self.alternativeNames = alternativeNames
        self.kind = kind
        self.mtu = mtu
        self.master = master
        self.alias = alias
        self.tun = tun
        self.carrier = carrier
        self.bridge = bridge
    }

    /// Parses the body of an RTM_NEWLINK message (after the `nlmsghdr`).
    public static func parse(body: ArraySlice<UInt8>) -> LinkDescription? {
        guard body.count >= Int(bk_ifinfomsg_size), let index = NetlinkBytes.uint32(body, at: 4) else { return nil }
        var link = LinkDescription(index: Int32(bitPattern: index), name: [])
        link.interfaceFlags = NetlinkBytes.uint32(body, at: 8) ?? 0
        for (type, payload) in NetlinkAttributes(body.dropFirst(Int(bk_ifinfomsg_size))) {
            switch type {
            case bk_ifla_ifname: link.name = cString(payload)
            case bk_ifla_mtu: link.mtu = NetlinkBytes.uint32(payload, at: 0)
            case bk_ifla_master: link.master = NetlinkBytes.uint32(payload, at: 0).map { Int32(bitPattern: $0) }
            case bk_ifla_ifalias: link.alias = cString(payload)
            case bk_ifla_carrier: link.carrier = payload.first.map { $0 != 0 }
            case bk_ifla_linkinfo:
                let info = NetlinkAttributes(payload)
                link.kind = info.first(bk_ifla_info_kind).map(cString)
                if link.kind == Array("tun".utf8) {
                    link.tun = TunInfo.parse(info.first(bk_ifla_info_data) ?? [])
                } else if link.kind == Array("bridge".utf8) {
                    link.bridge = BridgeInfo.parse(info.first(bk_ifla_info_data) ?? [])
                }
            case bk_ifla_prop_list:
                link.alternativeNames = NetlinkAttributes(payload)
                    .filter { $0.type == bk_ifla_alt_ifname }
                    .map { cString($0.payload) }
            default: continue
            }
        }
        return link.name.isEmpty ? nil : link
    }

    static func cString(_ payload: ArraySlice<UInt8>) -> [UInt8] {
        Array(payload.prefix(while: { $0 != 0 }))
    }
}

/// What the tun driver says about one of its devices in IFLA_INFO_DATA (tun_fill_info).
public struct TunInfo: Equatable, Sendable {
    /// IFLA_TUN_OWNER: absent when no owner is set (the kernel then sends no attribute).
    public var owner: UInt32?
    /// IFLA_TUN_TYPE: IFF_TAP or IFF_TUN.
    public var type: UInt8?
    /// IFLA_TUN_PERSIST: the device outlives its last descriptor.
    public var persistent: Bool
    /// IFLA_TUN_NUM_QUEUES and IFLA_TUN_NUM_DISABLED_QUEUES: descriptors attached to the device
    /// (and detached with TUNSETQUEUE but still its own); the kernel sends them only for
    /// multiqueue devices.
    public var queues: UInt32?
    public var disabledQueues: UInt32?

    public init(owner: UInt32? = nil, type: UInt8? = nil, persistent: Bool = false,
                queues: UInt32? = nil, disabledQueues: UInt32? = nil) {
        self.owner = owner
        self.type = type
        self.persistent = persistent
        self.queues = queues
        self.disabledQueues = disabledQueues
    }

    /// An Ethernet (TAP) device rather than an IP-level TUN device.
    public var isTap: Bool { type.map { UInt32($0) == bk_iff_tap } ?? false }

    public static func parse(_ data: ArraySlice<UInt8>) -> TunInfo {
        var info = TunInfo()
        for (type, payload) in NetlinkAttributes(data) {
            switch type {
            case bk_ifla_tun_owner: info.owner = NetlinkBytes.uint32(payload, at: 0)
            case bk_ifla_tun_type: info.type = payload.first
            case bk_ifla_tun_persist: info.persistent = (payload.first ?? 0) != 0
            case bk_ifla_tun_num_queues: info.queues = NetlinkBytes.uint32(payload, at: 0)
            case bk_ifla_tun_num_disabled_queues: info.disabledQueues = NetlinkBytes.uint32(payload, at: 0)
            default: continue
            }
        }
        return info
    }
}

/// One message of a netlink reply.
public struct NetlinkMessage: Equatable, Sendable {
    public let type: UInt16
    public let flags: UInt16
    public let sequence: UInt32
    public let body: ArraySlice<UInt8>

    /// The whole messages in one received datagram; a truncated or malformed tail ends the list.
    public static func split(_ buffer: ArraySlice<UInt8>) -> [NetlinkMessage] {
        var messages: [NetlinkMessage] = []
        var rest = buffer
        while let length = NetlinkBytes.uint32(rest, at: 0), let type = NetlinkBytes.uint16(rest, at: 4),
              let flags = NetlinkBytes.uint16(rest, at: 6), let sequence = NetlinkBytes.uint32(rest, at: 8),
              Int(length) >= Int(bk_nlmsghdr_size), Int(length) <= rest.count {
            let body = rest[(rest.startIndex + Int(bk_nlmsghdr_size))..<(rest.startIndex + Int(length))]
            messages.append(NetlinkMessage(type: type, flags: flags, sequence: sequence, body: body))
            rest = rest.dropFirst(min(rest.count, (Int(length) + 3) & ~3))
        }
        return messages
    }

    /// The errno of an NLMSG_ERROR or NLMSG_DONE body (0 for an acknowledgement or a clean end),
    /// nil when the body is too short to hold one.
    public var errorCode: Int32? {
        NetlinkBytes.uint32(body, at: 0).map { -Int32(bitPattern: $0) }
    }
}

/// A route-netlink socket of the calling process's network namespace. Requests are answered in
/// order; each call sends one request and reads until the reply with its sequence number.
///
/// The kernel checks CAP_NET_ADMIN for changes against the credentials of whoever opened the
/// socket as well as the sender, so a socket used for changes must be opened while the
/// capability is effective.
public final class RouteNetlink {
    let socket: FileDescriptor
    private var sequence: UInt32 = 0
    /// Where every datagram lands: allocated once and never cleared, so a reply touches only the
    /// pages it fills (zeroing 32 KiB per request cost the helper 8 page faults a request).
    private let datagram: UnsafeMutableRawBufferPointer

    /// The largest datagram taken; a longer one is an error (EMSGSIZE), never cut short or waited
    /// past. The kernel keeps a link's alternative names under 64 KiB (IFLA_PROP_LIST is a u16-sized
    /// attribute), so any one link fits, with 400 names of 127 bytes (t-h-round2).
    static let datagramCapacity = 98304

    public init() throws(SystemError) {
        socket = try FileDescriptor.socket(domain: bk_af_netlink, type: Int32(SOCK_RAW.rawValue), protocol: bk_netlink_route)
        datagram = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.datagramCapacity, alignment: 8)
        // Errors come back without a copy of the request.
        var on: Int32 = 1
        _ = setsockopt(socket.rawValue, bk_sol_netlink, bk_netlink_cap_ack, &on, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit {
        datagram.deallocate()
    }

    public func nextSequence() -> UInt32 {
        sequence &+= 1
        return sequence
    }

    /// The link the kernel resolves `name` to: its canonical name or any alternative name.
    /// Nil when no such link exists in this namespace.
    public func link(named name: some Collection<UInt8>) throws(SystemError) -> LinkDescription? {
        var request = LinkRequest(type: bk_rtm_getlink, sequence: nextSequence())
        request.append(bk_ifla_ext_mask, uint32: bk_rtext_filter_skip_stats)
        request.append(bk_ifla_ifname, string: name)
        return try getLink(request, what: "RTM_GETLINK \(Escaping.escape(name))")
    }

    public func link(index: Int32) throws(SystemError) -> LinkDescription? {
        var request = LinkRequest(type: bk_rtm_getlink, sequence: nextSequence(), index: index)
        request.append(bk_ifla_ext_mask, uint32: bk_rtext_filter_skip_stats)
        return try getLink(request, what: "RTM_GETLINK index \(index)")
    }

    private func getLink(_ request: LinkRequest, what: String) throws(SystemError) -> LinkDescription? {
        let reply: [UInt8]?
        do {
            reply = try exchange(request, what: what)
        } catch {
            if error.errno == .noSuchDevice { return nil }
            throw error
        }
        guard let body = reply else { throw SystemError(what, Errno(rawValue: EPROTO)) }
        guard let link = LinkDescription.parse(body: body[...]) else {
            throw SystemError("\(what): malformed reply", Errno(rawValue: EPROTO))
        }
        return link
    }

    /// Sends a change (RTM_SETLINK with NLM_F_ACK) and waits for the kernel's acknowledgement.
    public func change(_ request: LinkRequest, what: String) throws(SystemError) {
        _ = try exchange(request, what: what)
    }

    /// Every link of this network namespace (an RTM_GETLINK dump). A dump the kernel marks as
    /// interrupted (the table changed meanwhile) is taken again, up to three times.
    public func links() throws(SystemError) -> [LinkDescription] {
        var attempt = 0
        while true {
            attempt += 1
            let (links, interrupted) = try dump(LinkQuery.dump(sequence: nextSequence()), what: "RTM_GETLINK dump",
                                                parse: LinkDescription.parse(body:))
            if !interrupted || attempt >= 3 { return links }
        }
    }

    /// Every link of this network namespace from one dump the kernel did not mark as interrupted,
    /// taking it again up to `attempts` times; EAGAIN when every attempt was interrupted. For
    /// counts that must not miss a link: kernels that walk the link table by hash bucket (before
    /// Linux 6.7) can skip a link that existed throughout a dump when another one goes away
    /// between two of its parts, and say so only with the interrupted flag.
    public func consistentLinks(attempts: Int) throws(SystemError) -> [LinkDescription] {
        for _ in 0..<max(1, attempts) {
            let (links, interrupted) = try dump(LinkQuery.dump(sequence: nextSequence()), what: "RTM_GETLINK dump",
                                                parse: LinkDescription.parse(body:))
            if !interrupted { return links }
        }
        throw SystemError("RTM_GETLINK dump", Errno(rawValue: EAGAIN))
    }

    /// One dump: every RTM_NEWLINK body parsed with `parse` (a body it cannot parse fails the
    /// dump), and whether the kernel marked the dump as interrupted.
    func dump<Entry>(_ request: LinkRequest, what: String,
                     parse: (ArraySlice<UInt8>) -> Entry?) throws(SystemError) -> ([Entry], Bool) {
        let message = request.finished
        guard let expected = NetlinkBytes.uint32(message[...], at: 8) else {
            throw SystemError(what, Errno(rawValue: EINVAL))
        }
        try send(message, what: what)
        var links: [Entry] = []
        var interrupted = false
        while true {
            guard let bytes = try receive(what: what) else { continue }
            for reply in NetlinkMessage.split(bytes[...]) where reply.sequence == expected {
                if reply.flags & bk_nlm_f_dump_intr != 0 { interrupted = true }
                if reply.type == bk_nlmsg_done || reply.type == bk_nlmsg_error {
                    let code = reply.errorCode ?? 0
                    if code != 0 { throw SystemError(what, Errno(rawValue: code)) }
                    return (links, interrupted)
                }
                guard reply.type == bk_rtm_newlink else { continue }
                guard let link = parse(reply.body) else {
                    throw SystemError("\(what): malformed reply", Errno(rawValue: EPROTO))
                }
                links.append(link)
            }
        }
    }

    private func send(_ message: [UInt8], what: String) throws(SystemError) {
        let sent = message.withUnsafeBytes { raw in
            retryingOnInterrupt { Glibc.send(socket.rawValue, raw.baseAddress, raw.count, 0) }
        }
        guard sent == message.count else { throw SystemError(what) }
    }

    /// One datagram's bytes, or nil if it came from anyone but the kernel. MSG_TRUNC makes the
    /// kernel report a datagram's whole length, so one longer than `datagramCapacity` is refused
    /// (EMSGSIZE) instead of parsed from its first part.
    private func receive(what: String) throws(SystemError) -> [UInt8]? {
        // The sender's address: only the kernel (port id 0) may answer.
        var address = [UInt8](repeating: 0, count: 12)
        var addressLength = socklen_t(12)
        let count = address.withUnsafeMutableBytes { addr in
            retryingOnInterrupt {
                recvfrom(socket.rawValue, datagram.baseAddress, datagram.count, bk_msg_trunc,
                         addr.baseAddress?.assumingMemoryBound(to: sockaddr.self), &addressLength)
            }
        }
        guard count > 0 else { throw SystemError(what) }
        guard count <= datagram.count else { throw SystemError("\(what): a reply of \(count) bytes", Errno(rawValue: EMSGSIZE)) }
        guard NetlinkBytes.uint32(address[...], at: 4) == 0 else { return nil }
        return Array(UnsafeRawBufferPointer(rebasing: datagram[0..<count]))
    }

    /// Sends `request` and returns the body of the reply message with its sequence number, or
    /// nil for a plain acknowledgement. A negative error in the reply is thrown as its errno.
    func exchange(_ request: LinkRequest, what: String) throws(SystemError) -> [UInt8]? {
        let message = request.finished
        guard let expected = NetlinkBytes.uint32(message[...], at: 8) else {
            throw SystemError(what, Errno(rawValue: EINVAL))
        }
        try send(message, what: what)
        while true {
            guard let bytes = try receive(what: what) else { continue }
            for reply in NetlinkMessage.split(bytes[...]) where reply.sequence == expected {
                if reply.type == bk_nlmsg_error {
                    guard let errno = reply.errorCode else {
                        throw SystemError("\(what): malformed reply", Errno(rawValue: EPROTO))
                    }
                    if errno == 0 { return nil }
                    throw SystemError(what, Errno(rawValue: errno))
                }
                return Array(reply.body)
            }
        }
    }
}

/// The link changes the helper makes, each an RTM_SETLINK with an acknowledgement.
public enum LinkChange {
    public static func mtu(_ mtu: UInt32, index: Int32, sequence: UInt32) -> LinkRequest {
        var request = LinkRequest(type: bk_rtm_setlink, flags: bk_nlm_f_ack, sequence: sequence, index: index)
        request.append(bk_ifla_mtu, uint32: mtu)
        return request
    }

    /// IFLA_MASTER: make `index` a port of the device `master` (0 detaches it).
    public static func master(_ master: Int32, index: Int32, sequence: UInt32) -> LinkRequest {
        var request = LinkRequest(type: bk_rtm_setlink, flags: bk_nlm_f_ack, sequence: sequence, index: index)
        request.append(bk_ifla_master, uint32: UInt32(bitPattern: master))
        return request
    }

    /// A new TAP's whole set-up before it is read back, in one request: its address, MTU, mark
    /// (IFLA_IFALIAS) and bridge (IFLA_MASTER). The kernel's `do_setlink` applies them in that
    /// order whatever the order of the attributes (address and MTU first, the master last), so
    /// the bridge never sees the TAP's first address; it stops at the first that fails and
    /// notifies listeners once for the lot, where four requests notify four times.
    public static func setUp(address: [UInt8], mtu: UInt32, alias: some Collection<UInt8>, master: Int32,
                             index: Int32, sequence: UInt32) -> LinkRequest {
        var request = LinkRequest(type: bk_rtm_setlink, flags: bk_nlm_f_ack, sequence: sequence, index: index)
        request.append(bk_ifla_address, payload: address)
        request.append(bk_ifla_mtu, uint32: mtu)
        request.append(bk_ifla_ifalias, string: alias)
        request.append(bk_ifla_master, uint32: UInt32(bitPattern: master))
        return request
    }

    /// IFF_UP in `ifi_flags`, with IFF_UP in `ifi_change` so no other flag is touched.
    public static func up(index: Int32, sequence: UInt32) -> LinkRequest {
        LinkRequest(type: bk_rtm_setlink, flags: bk_nlm_f_ack, sequence: sequence, index: index,
                    interfaceFlags: bk_iff_up, change: bk_iff_up)
    }

    /// IFLA_IFALIAS, a NUL-terminated string (at most 255 bytes before the NUL, IFALIASZ - 1);
    /// changing it needs CAP_NET_ADMIN, reading it needs nothing.
    public static func alias(_ alias: some Collection<UInt8>, index: Int32, sequence: UInt32) -> LinkRequest {
        var request = LinkRequest(type: bk_rtm_setlink, flags: bk_nlm_f_ack, sequence: sequence, index: index)
        request.append(bk_ifla_ifalias, string: alias)
        return request
    }

    /// RTM_DELLINK by index (`ip link delete`), for a persistent TAP nobody holds.
    public static func delete(index: Int32, sequence: UInt32) -> LinkRequest {
        LinkRequest(type: bk_rtm_dellink, flags: bk_nlm_f_ack, sequence: sequence, index: index)
    }
}

/// Link queries that are not changes.
public enum LinkQuery {
    /// RTM_GETLINK with NLM_F_DUMP: every link of the namespace, statistics left out.
    public static func dump(sequence: UInt32) -> LinkRequest {
        var request = LinkRequest(type: bk_rtm_getlink, flags: bk_nlm_f_dump, sequence: sequence)
        request.append(bk_ifla_ext_mask, uint32: bk_rtext_filter_skip_stats)
        return request
    }
}
