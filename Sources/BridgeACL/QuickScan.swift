/// A fast first look at one line for a policy read about one device (`PolicyLoader.load(...,
/// device:)`): a site's policy can hold 10,000 rules, one per user's bridge, of which the helper
/// needs the few naming its device, while every other line must still be checked.
///
/// `Grammar.quickScan` recognises the common shapes in one pass over the bytes: blank lines,
/// comments, allow/deny rules about another bridge with simple qualifiers, and include lines.
/// It answers `.slow` for everything else, which the full parser then reads as before (its
/// errors, the rules about the device). It never answers differently from the full parser:
/// every shape it accepts is a strict subset of the grammar (printable ASCII tokens, one value
/// per list, no duplicate key), which `QuickScanTests` and the `acl-loader` fuzzer check
/// against the full parser.
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

    /// The device's names as bytes, for `quickScan`'s comparison and the full parser's choice.
    struct DeviceFilter {
        let names: [[UInt8]]

        /// Whether a rule with this bridge token is built: `all` or one of the names.
        func keeps(_ token: Slice<UnsafeBufferPointer<UInt8>>) -> Bool {
            if Grammar.token(token, is: "all") { return true }
            for name in names where name.count == token.count {
                var same = true
                var index = token.startIndex
                for byte in name where same {
                    same = token[index] == byte
                    index += 1
                }
                if same { return true }
            }
            return false
        }
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
    @_optimize(speed)  // also in the helper's size-optimised (Embedded) build: the hot loop
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
            } else if scan.hasPrefix("max=") || scan.hasPrefix("vlan=") {
                // An option of an allow, a number in its range.
                let isMax = bytes[start] == UInt8(ascii: "m")
                let range = isMax ? RuleOptions.maxTapsRange : RuleOptions.vlanRange
                scan.index += isMax ? 4 : 5
                guard isAllow, let number = scan.decimal(),
                      number >= UInt64(range.lowerBound), number <= UInt64(range.upperBound) else { return .slow }
                bit = isMax ? 16 : 32
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

    /// The high bit of each byte of `word` (little-endian: byte 0 lowest) that is a blank or
    /// unusual (below 0x21 or from 0x7F on). Exact for the lowest flagged byte, which is all the
    /// scan asks of it (borrows run only upward, from a byte that is flagged itself).
    @inline(__always) @_optimize(speed)
    static func specialBytes(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let below = (word &- 0x2121_2121_2121_2121) & ~word
        let delete = word ^ 0x7F7F_7F7F_7F7F_7F7F
        return (word | below | ((delete &- ones) & ~delete)) & highs
    }

    /// The union of `classes` over eight printable bytes (no blank or unusual byte among them).
    @inline(__always) @_optimize(speed)
    static func wordClasses(_ word: UInt64) -> UInt8 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        // A zero byte in word ^ c marks a byte c: '/' 0x2F, ':' 0x3A, '=' 0x3D, ',' 0x2C.
        let slash = word ^ 0x2F2F_2F2F_2F2F_2F2F
        let colon = word ^ 0x3A3A_3A3A_3A3A_3A3A
        let equals = word ^ 0x3D3D_3D3D_3D3D_3D3D
        let comma = word ^ 0x2C2C_2C2C_2C2C_2C2C
        let slashes = (slash &- ones) & ~slash
        let colons = (colon &- ones) & ~colon
        let others = ((equals &- ones) & ~equals) | ((comma &- ones) & ~comma)
        var classes: UInt8 = 0
        if (slashes | colons) & highs != 0 { classes |= notInInterfaceName }
        if (colons | others) & highs != 0 { classes |= notInName }
        // A byte below '0', or above '9' (every byte is below 0x7F, so adding 0x46 carries
        // into no other byte).
        if (((word &- 0x3030_3030_3030_3030) & ~word) | (word &+ 0x4646_4646_4646_4646)) & highs != 0 { classes |= nonDigit }
        return classes
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
        /// unusual byte (the full parser's errors and `isspace()` trimming live there). Eight
        /// bytes at a time while eight remain in the line, then byte by byte through the table.
        @inline(__always) @_optimize(speed)
        mutating func token() -> (range: Range<Int>, classes: UInt8)? {
            let start = index
            var classes: UInt8 = 0
            let raw = UnsafeRawPointer(bytes)
            while end - index >= 8 {
                let word = raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                let special = Grammar.specialBytes(word)
                if special == 0 {
                    classes |= Grammar.wordClasses(word)
                    index += 8
                    continue
                }
                // The bytes before the first blank or unusual byte; the rest of the word reads
                // as '0', which has no class here.
                let plain = special.trailingZeroBitCount / 8
                let keep: UInt64 = plain == 0 ? 0 : ~0 >> UInt64(64 - 8 * plain)
                classes |= Grammar.wordClasses((word & keep) | (0x3030_3030_3030_3030 & ~keep))
                index += plain
                let byte = bytes[index]
                if byte != 0x20 && byte != 0x09 { return nil }
                return (start..<index, classes)
            }
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

    /// Whether `count` bytes at `left` equal those of `right` (which holds at least `count`):
    /// a word at a time, with overlapping loads for the tail, never outside either range (names
    /// share prefixes, br-u00001 and br-u05000, so a byte loop walks most of them).
    @inline(__always)
    private static func memcmpEqual(_ left: UnsafePointer<UInt8>, _ right: UnsafeBufferPointer<UInt8>, _ count: Int) -> Bool {
        guard let rightBase = right.baseAddress else { return count == 0 }
        let a = UnsafeRawPointer(left)
        let b = UnsafeRawPointer(rightBase)
        if count >= 8 {
            var offset = 0
            while offset + 8 <= count {
                if a.loadUnaligned(fromByteOffset: offset, as: UInt64.self) != b.loadUnaligned(fromByteOffset: offset, as: UInt64.self) { return false }
                offset += 8
            }
            return offset == count
                || a.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self) == b.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
        }
        if count >= 4 {
            return a.loadUnaligned(as: UInt32.self) == b.loadUnaligned(as: UInt32.self)
                && a.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self) == b.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self)
        }
        var offset = 0
        while offset < count {
            if left[offset] != rightBase[offset] { return false }
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
