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
        /// A valid include line; the range is its path's bytes in the line.
        case include(Range<Int>)
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
        let filter = DeviceFilter(names: deviceNames.map { $0.bytes })
        return line.withUnsafeBufferPointer { buffer in quickScan(buffer[...], device: filter) }
    }

    static func quickScan(_ line: Slice<UnsafeBufferPointer<UInt8>>, device: DeviceFilter) -> QuickScan {
        guard let base = line.base.baseAddress else { return .nothing }
        return quickScan(base + line.startIndex, count: line.count, device: device)
    }

    /// The scan itself, over `count` bytes at `bytes` (the line without its `\n`): each byte
    /// is looked at once, through `classes`; this runs for every line of a 10,000-rule policy.
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
        switch keyword.range.count {
        case 5 where scan.matches(keyword.range.lowerBound, "allow"): isAllow = true
        case 4 where scan.matches(keyword.range.lowerBound, "deny"): isAllow = false
        case 7 where scan.matches(keyword.range.lowerBound, "include"):
            // One absolute path other than `/` itself, then nothing or a comment.
            scan.skipBlanks()
            guard scan.index < end, bytes[scan.index] == UInt8(ascii: "/"), let path = scan.token(),
                  path.range.count > 1 else { return .slow }
            scan.skipBlanks()
            if scan.index == end { return .include(path.range) }
            if bytes[scan.index] == UInt8(ascii: "#") { return noNul(bytes, from: scan.index, to: count) ? .include(path.range) : .slow }
            return .slow
        default: return .slow
        }

        scan.skipBlanks()
        guard scan.index < end, bytes[scan.index] != UInt8(ascii: "#"), let name = scan.token() else { return .slow }
        // An interface name the kernel accepts, with no byte the full parser explains.
        let nameLength = name.range.count
        guard nameLength <= InterfaceName.maximumLength, name.classes & Self.notInInterfaceName == 0 else { return .slow }
        if nameLength <= 3 {
            let first = name.range.lowerBound
            if (nameLength == 1 && bytes[first] == 0x2E) || (nameLength == 2 && scan.matches(first, "..")) ||
                (nameLength == 3 && scan.matches(first, "all")) { return .slow }
        }
        for deviceName in device.names where deviceName.count == nameLength {
            let same = deviceName.withUnsafeBufferPointer { known in
                memcmpEqual(bytes + name.range.lowerBound, known, nameLength)
            }
            if same { return .slow }
        }

        var seen: UInt8 = 0
        while true {
            scan.skipBlanks()
            if scan.index == end { return .droppedRule }
            if bytes[scan.index] == UInt8(ascii: "#") { return noNul(bytes, from: scan.index, to: count) ? .droppedRule : .slow }
            // The key, by its first bytes; then the value is scanned.
            let start = scan.index
            let bit: UInt8
            if scan.hasPrefix("user=") || scan.hasPrefix("group=") {
                bit = bytes[start] == UInt8(ascii: "u") ? 1 : 4
                scan.index += bit == 1 ? 5 : 6
                // One name, no list: 1...256 bytes, no `:`, `=` or `,`, not all digits.
                guard let value = scan.token(), !value.range.isEmpty, value.range.count <= maximumNameLength,
                      value.classes & Self.notInName == 0, value.classes & Self.nonDigit != 0 else { return .slow }
            } else if scan.hasPrefix("uid=") || scan.hasPrefix("gid=") {
                bit = bytes[start] == UInt8(ascii: "u") ? 2 : 8
                scan.index += 4
                guard let number = scan.decimal(), number <= 4_294_967_294 else { return .slow }
            } else if scan.hasPrefix("max=") {
                scan.index += 4
                guard isAllow, let number = scan.decimal(),
                      number >= UInt64(RuleOptions.maxTapsRange.lowerBound),
                      number <= UInt64(RuleOptions.maxTapsRange.upperBound) else { return .slow }
                bit = 16
            } else if scan.hasPrefix("vlan=") {
                scan.index += 5
                guard isAllow, let number = scan.decimal(),
                      number >= UInt64(RuleOptions.vlanRange.lowerBound),
                      number <= UInt64(RuleOptions.vlanRange.upperBound) else { return .slow }
                bit = 32
            } else if scan.hasPrefix("isolated") {
                scan.index += 8
                // Only `isolated` itself, on an allow (`isolated=1`, `isolatedx`: the parser's).
                guard isAllow, scan.index == end || bytes[scan.index] == 0x20 || bytes[scan.index] == 0x09 else { return .slow }
                bit = 64
            } else {
                return .slow
            }
            if seen & bit != 0 { return .slow }
            seen |= bit
        }
    }

    // What `classes` says about a byte (one bit each).
    private static var blank: UInt8 { 1 }
    /// Not printable ASCII and not a blank: NUL, controls, DEL, non-ASCII.
    private static var unusual: UInt8 { 2 }
    /// `/` and `:`, which no interface name holds.
    private static var notInInterfaceName: UInt8 { 4 }
    /// `:`, `=` and `,`: not in a single user or group name.
    private static var notInName: UInt8 { 8 }
    private static var nonDigit: UInt8 { 16 }

    /// The class of each byte value, as `0x40 + bits` so the table is a plain string literal
    /// (no start-up cost, read-only data).
    @inline(__always)
    private static var classes: StaticString {
        "RRRRRRRRRQRRRRRRRRRRRRRRRRRRRRRRQPPPPPPPPPPPXPPT@@@@@@@@@@\\PPXPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRR"
    }

    /// A cursor over one line's bytes.
    private struct Scanner {
        let bytes: UnsafePointer<UInt8>
        let end: Int
        let table: UnsafePointer<UInt8>
        var index = 0

        init(bytes: UnsafePointer<UInt8>, end: Int) {
            self.bytes = bytes
            self.end = end
            table = Grammar.classes.utf8Start
        }

        @inline(__always)
        mutating func skipBlanks() {
            while index < end && (bytes[index] == 0x20 || bytes[index] == 0x09) { index += 1 }
        }

        /// One token up to a blank or the end, with the union of its bytes' classes; nil on an
        /// unusual byte (the full parser's errors and `isspace()` trimming live there).
        @inline(__always)
        mutating func token() -> (range: Range<Int>, classes: UInt8)? {
            let start = index
            var classes: UInt8 = 0
            while index < end {
                let byteClass = table[Int(bytes[index])] &- 0x40
                if byteClass & (Grammar.blank | Grammar.unusual) != 0 {
                    if byteClass & Grammar.unusual != 0 { return nil }
                    break
                }
                classes |= byteClass
                index += 1
            }
            return (start..<index, classes)
        }

        /// A plain decimal number up to a blank or the end (no sign, no leading zero but `0`,
        /// at most 10 digits), as `Grammar.decimal` reads it; nil for anything else.
        @inline(__always)
        mutating func decimal() -> UInt64? {
            let start = index
            var value: UInt64 = 0
            while index < end && bytes[index] != 0x20 && bytes[index] != 0x09 {
                let digit = bytes[index] &- 0x30
                guard digit <= 9, index - start < 10 else { return nil }
                value = value &* 10 &+ UInt64(digit)
                index += 1
            }
            if index == start || (index - start > 1 && bytes[start] == 0x30) { return nil }
            return value
        }

        /// Whether the bytes from `index` start with `word`.
        @inline(__always)
        func hasPrefix(_ word: StaticString) -> Bool {
            end - index >= word.utf8CodeUnitCount && matches(index, word)
        }

        /// Byte equality of `word.count` bytes at `start` with `word` (the caller checked room).
        @inline(__always)
        func matches(_ start: Int, _ word: StaticString) -> Bool {
            memcmpEqual(bytes + start, UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount), word.utf8CodeUnitCount)
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
}
