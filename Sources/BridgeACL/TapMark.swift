/// The record the helper writes into every TAP's interface alias (IFLA_IFALIAS), and reads back:
/// who asked for the TAP and which allow rule granted it. Changing an alias needs CAP_NET_ADMIN
/// and reading it needs nothing (`/sys/class/net/TAP/ifalias`), so the holder of the TAP's
/// descriptor cannot forge or erase it, unlike the tun owner (TUNSETOWNER needs no capability).
/// `bridgekeeper taps` and the per-user quotas parse it; rendering and parsing live only here.
///
/// The format, one line of ASCII:
///
///     bridgekeeper uid=UID rule=PATH:LINE
///
/// - UID and LINE are decimal, without leading zeros (LINE >= 1).
/// - PATH is the absolute path of the ACL file, with every byte outside `!`...`~` and each of
///   `%`, `=`, `:`, `"`, `'` and `\` written as `%XX` (two uppercase hex digits), and a first byte
///   other than `/` encoded too. So PATH holds no space, `=` or `:` and a record has exactly
///   three fields whatever the path's bytes; each path has exactly one spelling.
/// - At most 254 bytes: the kernel keeps up to 255 bytes of alias (IFALIASZ 256 with its NUL)
///   and counts the NUL that the attribute carries (`dev_set_alias` gets `nla_len`). A record
///   that would be longer keeps the path's end: `rule=...TAIL:LINE`, where TAIL is the longest
///   suffix of the encoded path that fits, never cut inside a `%XX`. A whole path never starts
///   with `.` (it starts with `/` or `%`), so `...` can only mean an elided path.
///
/// Anything else (another program's alias, a hand-set one, a non-canonical spelling) does not
/// parse: the inventory calls it foreign.
public struct TapMark: Equatable, Sendable {
    /// The caller's real uid when the helper made the TAP.
    public let uid: UInt32
    /// The ACL file of the granting rule: the whole path, or only its last bytes if `elided`.
    public let path: [UInt8]
    public let line: Int
    /// True when the path was too long for the alias and only its end is kept.
    public let elided: Bool

    /// The longest record: IFALIASZ (256) less the stored NUL and the NUL of the attribute.
    public static let maximumLength = 254
    static let prefix = Array("bridgekeeper uid=".utf8)
    static let ruleKey = Array(" rule=".utf8)
    static let elision = Array("...".utf8)

    public init(uid: UInt32, path: [UInt8], line: Int, elided: Bool = false) {
        self.uid = uid
        self.path = path
        self.line = line
        self.elided = elided
    }

    /// The mark for a TAP granted by the rule at `location` to `uid`.
    public init(uid: UInt32, rule location: SourceLocation) {
        self.init(uid: uid, path: location.path, line: location.line)
    }

    /// The rule for people and JSON: `/etc/qemu/bridge.conf:2` (bytes escaped as in every other
    /// message), `.../bridge.conf:2` when the path was elided.
    public var rule: String {
        (elided ? "..." : "") + SourceLocation(path: path, line: line).description
    }

    /// The alias bytes: at most `maximumLength`, eliding the path's beginning when needed.
    public var rendered: [UInt8] {
        let head = Self.prefix + Array(String(uid).utf8) + Self.ruleKey
        let tail = [UInt8(ascii: ":")] + Array(String(line).utf8)
        let units = Self.encodedUnits(path, whole: !elided)
        let full = head + (elided ? Self.elision : []) + units.joined() + tail
        if full.count <= Self.maximumLength { return full }
        // Keep the longest run of whole units at the end that fits after the elision marker.
        var budget = Self.maximumLength - head.count - Self.elision.count - tail.count
        var kept: [[UInt8]] = []
        for unit in units.reversed() {
            guard unit.count <= budget else { break }
            budget -= unit.count
            kept.append(unit)
        }
        return head + Self.elision + kept.reversed().joined() + tail
    }

    /// The mark in `alias`, or nil if `alias` is not a record in the canonical format.
    public static func parse(_ alias: some Collection<UInt8>) -> TapMark? {
        let bytes = Array(alias)
        guard bytes.count <= maximumLength, bytes.starts(with: prefix) else { return nil }
        var rest = bytes[prefix.count...]
        guard let keyStart = rest.firstIndex(of: UInt8(ascii: " ")),
              let uid = decimal(rest[..<keyStart]).flatMap({ UInt32(exactly: $0) }) else { return nil }
        rest = rest[keyStart...]
        guard rest.starts(with: ruleKey) else { return nil }
        rest = rest.dropFirst(ruleKey.count)
        guard let colon = rest.lastIndex(of: UInt8(ascii: ":")),
              let line = decimal(rest[(colon + 1)...]), line >= 1 else { return nil }
        var encoded = rest[..<colon]
        let elided = encoded.starts(with: elision)
        if elided { encoded = encoded.dropFirst(elision.count) }
        guard let path = decode(encoded),
              encodedUnits(path, whole: !elided).joined().elementsEqual(encoded) else { return nil }
        return TapMark(uid: uid, path: path, line: line, elided: elided)
    }

    /// Whether `byte` is written as itself.
    static func isPlain(_ byte: UInt8) -> Bool {
        guard byte > 0x20, byte < 0x7F else { return false }
        return !Array("%=:\"'\\".utf8).contains(byte)
    }

    /// The encoding of `path`, one unit per byte (`x` or `%XX`). A whole path's first byte is
    /// encoded unless it is `/`, so an encoded whole path never starts with `.`.
    static func encodedUnits(_ path: [UInt8], whole: Bool) -> [[UInt8]] {
        let digits = Array("0123456789ABCDEF".utf8)
        return path.enumerated().map { offset, byte in
            let plain = isPlain(byte) && !(whole && offset == 0 && byte != UInt8(ascii: "/"))
            return plain ? [byte] : [UInt8(ascii: "%"), digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]]
        }
    }

    static func decode(_ encoded: ArraySlice<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        var index = encoded.startIndex
        while index < encoded.endIndex {
            let byte = encoded[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < encoded.endIndex, let high = hexDigit(encoded[index + 1]),
                      let low = hexDigit(encoded[index + 2]) else { return nil }
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(byte)
                index += 1
            }
        }
        return out
    }

    /// Uppercase hex only: the renderer writes nothing else, and one spelling per record.
    static func hexDigit(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// A decimal number without sign or leading zeros, at most 10 digits.
    static func decimal(_ digits: ArraySlice<UInt8>) -> Int? {
        guard !digits.isEmpty, digits.count <= 10, digits.count == 1 || digits.first != UInt8(ascii: "0") else { return nil }
        var value = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }
}
