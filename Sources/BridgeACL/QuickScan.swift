/// A fast first look at one line for a policy read about one device (`PolicyLoader.load(...,
/// device:)`): a site's policy can hold 10,000 rules, one per user's bridge, of which the helper
/// needs the few naming its device, while every other line must still be checked.
///
/// `Grammar.quickScan` recognises the common shapes of the lines that decide nothing about the
/// device (blank lines, comments, and allow/deny rules about another bridge, with simple
/// qualifiers) in one pass over the bytes, and answers `.slow` for everything else, which the
/// full parser then reads as before (its errors, its rules, includes). It never answers for a
/// line the full parser would refuse or keep: every shape it accepts is a strict subset of the
/// grammar (printable ASCII tokens, one value per list, no duplicate key), which
/// `QuickScanTests` checks against the full parser line by line, on tables and on generated
/// lines.
extension Grammar {
    public enum QuickScan: Equatable, Sendable {
        /// A blank line or a comment.
        case nothing
        /// A valid rule about a bridge other than the device (and not `all`).
        case droppedRule
        /// Anything else: the full parser decides.
        case slow
    }

    /// The device's names as bytes, for `quickScan`'s comparison.
    struct DeviceFilter {
        let names: [[UInt8]]
    }

    /// The scan of one line (without its `\n`) for a read about the device with these names;
    /// public for the tests that hold it to the full parser.
    public static func quickScan(_ line: [UInt8], deviceNames: [InterfaceName]) -> QuickScan {
        let filter = DeviceFilter(names: deviceNames.map(\.bytes))
        return line.withUnsafeBufferPointer { buffer in quickScan(buffer[...], device: filter) }
    }

    static func quickScan(_ line: Slice<UnsafeBufferPointer<UInt8>>, device: DeviceFilter) -> QuickScan {
        guard let base = line.base.baseAddress else { return .nothing }
        return quickScan(base + line.startIndex, count: line.count, device: device)
    }

    /// The scan itself, over `count` bytes at `bytes` (the line without its `\n`). Written as
    /// plain loops over a pointer: this runs for every line of a 10,000-rule policy.
    static func quickScan(_ bytes: UnsafePointer<UInt8>, count: Int, device: DeviceFilter) -> QuickScan {
        var end = count
        // CRLF: the full parser trims the `\r` off the last token (or drops it alone).
        if end > 0 && bytes[end - 1] == 0x0D { end -= 1 }
        var scan = Scanner(bytes: bytes, end: end)

        scan.skipBlanks()
        if scan.index == end { return .nothing }
        if bytes[scan.index] == UInt8(ascii: "#") { return noNul(bytes, from: scan.index, to: count) ? .nothing : .slow }
        guard let keyword = scan.token() else { return .slow }
        let isAllow: Bool
        switch keyword.count {
        case 5 where bytes[keyword.lowerBound] == UInt8(ascii: "a") && scan.matches(keyword, "allow"): isAllow = true
        case 4 where bytes[keyword.lowerBound] == UInt8(ascii: "d") && scan.matches(keyword, "deny"): isAllow = false
        default: return .slow
        }

        scan.skipBlanks()
        guard scan.index < end, bytes[scan.index] != UInt8(ascii: "#"), let name = scan.token(),
              name.count <= InterfaceName.maximumLength else { return .slow }
        // An interface name the kernel accepts, with no byte the full parser explains.
        var position = name.lowerBound
        while position < name.upperBound {
            if bytes[position] == UInt8(ascii: "/") || bytes[position] == UInt8(ascii: ":") { return .slow }
            position += 1
        }
        if name.count <= 3 && (scan.matches(name, ".") || scan.matches(name, "..") || scan.matches(name, "all")) { return .slow }
        for deviceName in device.names where deviceName.count == name.count {
            let same = deviceName.withUnsafeBufferPointer { known in
                memcmpEqual(bytes + name.lowerBound, known, name.count)
            }
            if same { return .slow }
        }

        var seen: UInt8 = 0
        while true {
            scan.skipBlanks()
            if scan.index == end { return .droppedRule }
            if bytes[scan.index] == UInt8(ascii: "#") { return noNul(bytes, from: scan.index, to: count) ? .droppedRule : .slow }
            guard let qualifier = scan.token() else { return .slow }
            var equalsSign = qualifier.lowerBound
            while equalsSign < qualifier.upperBound && bytes[equalsSign] != UInt8(ascii: "=") { equalsSign += 1 }
            let key = qualifier.lowerBound..<equalsSign
            let bit: UInt8
            if equalsSign == qualifier.upperBound {
                // Only `isolated` stands alone, on an allow.
                guard isAllow, scan.matches(key, "isolated") else { return .slow }
                bit = 64
            } else {
                let value = (equalsSign + 1)..<qualifier.upperBound
                switch key.count {
                case 4 where scan.matches(key, "user"), 5 where scan.matches(key, "group"):
                    guard isSimpleName(bytes, value) else { return .slow }
                    bit = key.count == 4 ? 1 : 4
                case 3 where scan.matches(key, "uid") || scan.matches(key, "gid"):
                    guard let number = simpleDecimal(bytes, value), number <= 4_294_967_294 else { return .slow }
                    bit = bytes[key.lowerBound] == UInt8(ascii: "u") ? 2 : 8
                case 3 where scan.matches(key, "max"):
                    guard isAllow, let number = simpleDecimal(bytes, value),
                          number >= UInt64(RuleOptions.maxTapsRange.lowerBound),
                          number <= UInt64(RuleOptions.maxTapsRange.upperBound) else { return .slow }
                    bit = 16
                case 4 where scan.matches(key, "vlan"):
                    guard isAllow, let number = simpleDecimal(bytes, value),
                          number >= UInt64(RuleOptions.vlanRange.lowerBound),
                          number <= UInt64(RuleOptions.vlanRange.upperBound) else { return .slow }
                    bit = 32
                default:
                    return .slow
                }
            }
            if seen & bit != 0 { return .slow }
            seen |= bit
        }
    }

    /// A cursor over one line's bytes.
    private struct Scanner {
        let bytes: UnsafePointer<UInt8>
        let end: Int
        var index = 0

        init(bytes: UnsafePointer<UInt8>, end: Int) {
            self.bytes = bytes
            self.end = end
        }

        @inline(__always)
        mutating func skipBlanks() {
            while index < end && (bytes[index] == 0x20 || bytes[index] == 0x09) { index += 1 }
        }

        /// One token of printable ASCII (0x21...0x7E) up to a space, tab or the end; nil on any
        /// other byte (NUL, controls, DEL, non-ASCII: the full parser's errors and `isspace()`
        /// trimming live there).
        @inline(__always)
        mutating func token() -> Range<Int>? {
            let start = index
            while index < end {
                let byte = bytes[index]
                if byte == 0x20 || byte == 0x09 { break }
                if byte &- 0x21 > 0x7E - 0x21 { return nil }
                index += 1
            }
            return start..<index
        }

        /// Byte equality of a token with a keyword.
        @inline(__always)
        func matches(_ range: Range<Int>, _ word: StaticString) -> Bool {
            range.count == word.utf8CodeUnitCount && memcmpEqual(bytes + range.lowerBound, UnsafeBufferPointer(start: word.utf8Start, count: range.count), range.count)
        }
    }

    @inline(__always)
    private static func memcmpEqual(_ left: UnsafePointer<UInt8>, _ right: UnsafeBufferPointer<UInt8>, _ count: Int) -> Bool {
        var offset = 0
        while offset < count {
            if left[offset] != right[offset] { return false }
            offset += 1
        }
        return true
    }

    /// No NUL in `bytes[from..<to]` (the full parser refuses a NUL anywhere, comments included).
    private static func noNul(_ bytes: UnsafePointer<UInt8>, from: Int, to: Int) -> Bool {
        var index = from
        while index < to {
            if bytes[index] == 0 { return false }
            index += 1
        }
        return true
    }

    /// One user or group name, no list: 1...256 bytes (already printable ASCII), no `:`, `=` or
    /// `,`, and not all digits (a number must be written as uid=/gid=).
    private static func isSimpleName(_ bytes: UnsafePointer<UInt8>, _ range: Range<Int>) -> Bool {
        guard !range.isEmpty, range.count <= maximumNameLength else { return false }
        var digitsOnly = true
        var position = range.lowerBound
        while position < range.upperBound {
            let byte = bytes[position]
            if byte == UInt8(ascii: ":") || byte == UInt8(ascii: "=") || byte == UInt8(ascii: ",") { return false }
            if byte &- 0x30 > 9 { digitsOnly = false }
            position += 1
        }
        return !digitsOnly
    }

    /// One plain decimal number as `decimal` reads it (no sign, no leading zero but `0`, at most
    /// 10 digits), no list.
    private static func simpleDecimal(_ bytes: UnsafePointer<UInt8>, _ range: Range<Int>) -> UInt64? {
        guard !range.isEmpty, range.count <= 10 else { return nil }
        if range.count > 1 && bytes[range.lowerBound] == 0x30 { return nil }
        var value: UInt64 = 0
        var position = range.lowerBound
        while position < range.upperBound {
            let digit = bytes[position] &- 0x30
            guard digit <= 9 else { return nil }
            value = value &* 10 &+ UInt64(digit)
            position += 1
        }
        return value
    }
}
