/// A network interface name as the kernel sees it: 1...15 bytes, compared byte for byte.
///
/// Names are never `String`s here: Swift's `String` equality uses canonical equivalence
/// (`"é" == "e\u{301}"`) and repairs invalid UTF-8, so two different kernel names could compare
/// equal. The checks mirror the kernel's `dev_valid_name()`: not empty, shorter than IFNAMSIZ
/// (16 with the NUL), not `.` or `..`, and no `/`, `:`, whitespace or NUL.
public struct InterfaceName: Hashable, Sendable, CustomStringConvertible {
    /// The longest name the kernel accepts (IFNAMSIZ - 1).
    public static let maximumLength = 15

    public let bytes: [UInt8]

    /// Why a byte string is not an interface name.
    public enum Problem: Error, Equatable, Sendable {
        case empty
        case tooLong(length: Int)
        case dotName
        case forbiddenByte(UInt8)

        /// The human-readable reason, used after "bridge name 'X' ...".
        public var explanation: String {
            switch self {
            case .empty: return "is empty"
            case .tooLong(let length):
                return "is too long: \(length) bytes (at most \(InterfaceName.maximumLength))"
            case .dotName: return "is not a valid interface name: '.' and '..' are reserved"
            case .forbiddenByte(let byte):
                let what: String
                switch byte {
                case 0: what = "a NUL byte"
                case UInt8(ascii: "/"): what = "'/'"
                case UInt8(ascii: ":"): what = "':'"
                default: what = "whitespace (\(Escaping.hexByte(byte)))"
                }
                return "is not a valid interface name: it contains \(what)"
            }
        }
    }

    /// Validates `bytes` like the kernel's `dev_valid_name()`; never truncates.
    public init(validating bytes: some Collection<UInt8>) throws(Problem) {
        let bytes = Array(bytes)
        if let problem = Self.problem(bytes[...]) { throw problem }
        self.bytes = bytes
    }

    /// Why `bytes` is not an interface name, or nil if it is one (checked without allocating).
    public static func problem(_ bytes: some Collection<UInt8>) -> Problem? {
        if bytes.isEmpty { return .empty }
        if bytes.count > maximumLength { return .tooLong(length: bytes.count) }
        if bytes.allSatisfy({ $0 == 0x2E }) && bytes.count <= 2 { return .dotName }
        if let bad = bytes.first(where: isForbidden) { return .forbiddenByte(bad) }
        return nil
    }

    /// The kernel rejects '/', ':', NUL and anything its own `isspace()` accepts. The kernel's
    /// ctype table (lib/ctype.c) is Latin-1, so 0xA0 (no-break space) is whitespace there too,
    /// unlike C's `isspace()` in the C locale.
    static func isForbidden(_ byte: UInt8) -> Bool {
        switch byte {
        case 0, UInt8(ascii: "/"), UInt8(ascii: ":"), UInt8(ascii: " "), 0x09...0x0D, 0xA0: return true
        default: return false
        }
    }

    /// Printable form with every byte outside printable ASCII escaped.
    public var description: String { Escaping.escape(bytes) }
}
