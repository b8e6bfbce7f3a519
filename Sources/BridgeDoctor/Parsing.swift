// Turning what the system layer read into facts: the bridge forwarding database (RTM_NEWNEIGH
// bodies), nft and iptables rule listings, the file-capability attribute and a helper binary's
// contents. Pure, so each is unit-tested with the bytes or text the kernel and tools produce.

/// One RTM_NEWNEIGH body of an AF_BRIDGE dump: `struct ndmsg` (12 bytes), then attributes.
public struct NeighbourEntry: Equatable, Sendable {
    /// ndm_ifindex: the port (or the bridge itself, for its own addresses).
    public var index: Int32
    /// ndm_state (NUD_PERMANENT 0x80: a local address of the bridge or a port).
    public var state: UInt16
    /// ndm_flags (NTF_SELF 0x02: an entry of the device's own table, not the bridge's).
    public var flags: UInt8
    /// NDA_LLADDR (2).
    public var mac: [UInt8]
    /// NDA_VLAN (5), u16.
    public var vlan: UInt16?
    /// NDA_MASTER (9), u32: the bridge whose table holds the entry.
    public var master: Int32?

    public init(index: Int32, state: UInt16, flags: UInt8, mac: [UInt8], vlan: UInt16? = nil, master: Int32? = nil) {
        self.index = index
        self.state = state
        self.flags = flags
        self.mac = mac
        self.vlan = vlan
        self.master = master
    }

    static let ndmsgSize = 12
    static let lladdr: UInt16 = 2
    static let vlanAttribute: UInt16 = 5
    static let masterAttribute: UInt16 = 9
    static let permanent: UInt16 = 0x80
    static let selfFlag: UInt8 = 0x02

    /// Parses one body; nil when it is too short or has no link-layer address.
    public static func parse(body: ArraySlice<UInt8>) -> NeighbourEntry? {
        guard body.count >= ndmsgSize, let index = read32(body, 4), let state = read16(body, 8) else { return nil }
        let flags = body[body.startIndex + 10]
        var entry = NeighbourEntry(index: Int32(bitPattern: index), state: state, flags: flags, mac: [])
        var rest = body.dropFirst(ndmsgSize)
        // Attributes: u16 length (header included), u16 type, payload, padded to 4 bytes.
        while let length = read16(rest, 0), let type = read16(rest, 2), length >= 4, Int(length) <= rest.count {
            let payload = rest[(rest.startIndex + 4)..<(rest.startIndex + Int(length))]
            switch type & 0x3fff {
            case lladdr: entry.mac = Array(payload)
            case vlanAttribute: entry.vlan = read16(payload, 0)
            case masterAttribute: entry.master = read32(payload, 0).map { Int32(bitPattern: $0) }
            default: break
            }
            rest = rest.dropFirst(min(rest.count, (Int(length) + 3) & ~3))
        }
        return entry.mac.isEmpty ? nil : entry
    }

    /// `aa:bb:cc:dd:ee:ff`, lowercase.
    public var macText: String {
        mac.map { byte in
            let digits = String(byte, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }.joined(separator: ":")
    }

    /// The entries of `bridge`'s own table that were learnt or added for a port: not the local
    /// (permanent) addresses, not entries of a port's own table (NTF_SELF), not the bridge device.
    public static func learnt(_ entries: [NeighbourEntry], bridge: Int32, names: [Int32: String]) -> [FDBEntry] {
        entries.compactMap { entry in
            guard entry.master == bridge, entry.index != bridge, entry.state & permanent == 0,
                  entry.flags & selfFlag == 0 else { return nil }
            return FDBEntry(mac: entry.macText, port: names[entry.index] ?? "ifindex \(entry.index)", vlan: entry.vlan)
        }
    }

    static func read16(_ bytes: ArraySlice<UInt8>, _ offset: Int) -> UInt16? {
        let start = bytes.startIndex + offset
        guard start + 2 <= bytes.endIndex else { return nil }
        // Netlink is host-endian; this code only runs on little-endian Linux (x86-64, arm64).
        return UInt16(bytes[start]) | UInt16(bytes[start + 1]) << 8
    }

    static func read32(_ bytes: ArraySlice<UInt8>, _ offset: Int) -> UInt32? {
        guard let low = read16(bytes, offset), let high = read16(bytes, offset + 2) else { return nil }
        return UInt32(low) | UInt32(high) << 16
    }
}

public enum RuleListings {
    /// The drops in `nft list ruleset` output: forward-hook chains of ip and inet tables (what
    /// bridge-nf-call-iptables sends bridged IPv4 frames through) and of bridge tables (which see
    /// bridged frames anyway), with a drop policy or a rule ending in drop or reject.
    public static func nftDrops(_ text: String) -> [ForwardDrop] {
        var drops: [ForwardDrop] = []
        var family = ""
        var table = ""
        var chain = ""
        var forward = false
        var ruleFound = false
        for raw in text.split(separator: "\n") {
            let words = raw.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == ";" }).map(String.init)
            guard let first = words.first else { continue }
            if first == "table", words.count >= 3 {
                family = words[1]
                table = words[2]
            } else if first == "chain", words.count >= 2 {
                chain = words[1]
                forward = false
                ruleFound = false
            } else if first == "type", let hook = words.firstIndex(of: "hook"), hook + 1 < words.count {
                forward = words[hook + 1] == "forward" && ["ip", "inet", "bridge"].contains(family)
                if forward, let policy = words.firstIndex(of: "policy"), policy + 1 < words.count, words[policy + 1] == "drop" {
                    drops.append(ForwardDrop(chain: "table \(family) \(table), chain \(chain)", policy: true, bridgeFamily: family == "bridge"))
                }
            } else if first == "}" {
                continue
            } else if forward, !ruleFound, words.contains("drop") || words.contains("reject") {
                ruleFound = true
                drops.append(ForwardDrop(chain: "table \(family) \(table), chain \(chain)", policy: false, bridgeFamily: family == "bridge"))
            }
        }
        return drops
    }

    /// The drops in `iptables -S FORWARD` output: `-P FORWARD DROP`, `-A FORWARD ... -j DROP|REJECT`.
    public static func iptablesDrops(_ text: String) -> [ForwardDrop] {
        var drops: [ForwardDrop] = []
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ").map(String.init)
            if words.starts(with: ["-P", "FORWARD", "DROP"]) {
                drops.append(ForwardDrop(chain: "the iptables FORWARD chain", policy: true))
            } else if words.starts(with: ["-A", "FORWARD"]), let jump = words.firstIndex(of: "-j"), jump + 1 < words.count,
                      ["DROP", "REJECT"].contains(words[jump + 1]), !drops.contains(where: { !$0.policy }) {
                drops.append(ForwardDrop(chain: "the iptables FORWARD chain", policy: false))
            }
        }
        return drops.sorted { $0.policy && !$1.policy }
    }
}

public enum BinaryFacts {
    /// CAP_NET_ADMIN is capability 12 (<linux/capability.h>).
    static let netAdminBit: UInt32 = 1 << 12

    /// Whether a `security.capability` value (struct vfs_cap_data, revision 1, 2 or 3: a magic
    /// word, then the permitted and inheritable words of the low 32 capabilities) grants
    /// cap_net_admin in the permitted set.
    public static func grantsNetAdmin(capabilityAttribute bytes: [UInt8]) -> Bool {
        guard bytes.count >= 12, let permitted = NeighbourEntry.read32(bytes[...], 4) else { return false }
        return permitted & netAdminBit != 0
    }

    /// bridgekeeper's helper names itself in its usage text ("bridgekeeper-helper"), the stock one
    /// in its own ("qemu-bridge-helper"); bridgekeeper is tested first, since its texts may quote
    /// the stock name.
    public static func identity(of contents: [UInt8]) -> HelperIdentity {
        if contains(contents, Array("bridgekeeper-helper".utf8)) { return .bridgekeeper }
        if contains(contents, Array("qemu-bridge-helper".utf8)) { return .stock }
        return .unknown
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard let first = needle.first, needle.count <= haystack.count else { return false }
        var index = 0
        let last = haystack.count - needle.count
        while index <= last {
            if haystack[index] == first && haystack[index..<(index + needle.count)].elementsEqual(needle) { return true }
            index += 1
        }
        return false
    }
}
