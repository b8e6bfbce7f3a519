/// The qualifiers of a rule after its bridge name (issue 10, contract §6).
enum Qualifier: CaseIterable, Equatable {
    case user, uid, group, gid, max, vlan, isolated

    var word: String {
        switch self {
        case .user: return "user"
        case .uid: return "uid"
        case .group: return "group"
        case .gid: return "gid"
        case .max: return "max"
        case .vlan: return "vlan"
        case .isolated: return "isolated"
        }
    }

    /// Options change what an allow grants; a deny takes only match keys.
    var isOption: Bool { self == .max || self == .vlan || self == .isolated }

    /// The key a token's bytes name, compared without allocating (this runs for every
    /// qualifier of every rule; a site's policy can hold 10,000 qualified rules).
    init?<Line: ACLBytes>(_ key: Line) {
        switch key.count {
        case 3:
            if Grammar.token(key, is: "uid") { self = .uid } else if Grammar.token(key, is: "gid") { self = .gid } else if Grammar.token(key, is: "max") { self = .max } else { return nil }
        case 4:
            if Grammar.token(key, is: "user") { self = .user } else if Grammar.token(key, is: "vlan") { self = .vlan } else { return nil }
        case 5:
            if Grammar.token(key, is: "group") { self = .group } else { return nil }
        case 8:
            if Grammar.token(key, is: "isolated") { self = .isolated } else { return nil }
        default:
            return nil
        }
    }

    /// One bit per key, for the keys a rule has given so far.
    var bit: UInt8 {
        switch self {
        case .user: return 1
        case .uid: return 2
        case .group: return 4
        case .gid: return 8
        case .max: return 16
        case .vlan: return 32
        case .isolated: return 64
        }
    }

    static let list = "user=, uid=, group=, gid=, max=, vlan= or isolated"
}

/// A qualifier that does not parse: the message and the byte index (in the line) it is about.
struct QualifierError {
    let message: String
    let at: Int
}

extension Grammar {
    /// The longest user or group name accepted (glibc's and shadow's own limits are far lower;
    /// directory services allow longer names, and a name is only ever compared and looked up).
    static let maximumNameLength = 256

    /// Parses one qualifier token into `match` or `options`. `seen` keeps the keys of the line.
    /// With `store` false the qualifier is checked exactly as thoroughly but nothing is kept
    /// (a rule about another bridge). Duplicate values are found with a set, so a hostile list
    /// of 100,000 values costs linear time.
    static func parseQualifier<Line: ACLBytes>(_ token: Line, action: RuleAction, seen: inout UInt8,
                               match: inout RuleMatch, options: inout RuleOptions, store: Bool = true) -> QualifierError? {
        let equals = token.firstIndex(of: UInt8(ascii: "="))
        let keyBytes = equals.map { token[token.startIndex..<$0] } ?? token
        guard let key = Qualifier(keyBytes) else {
            let what = equals == nil ? "unexpected '\(Escaping.escape(Array(token), limit: 64))' after the bridge name (one bridge per rule)"
                                     : "unknown qualifier '\(Escaping.escape(Array(keyBytes), limit: 64))' (expected \(Qualifier.list))"
            return QualifierError(message: what, at: token.startIndex)
        }
        if seen & key.bit != 0 {
            return QualifierError(message: "'\(key.word)' is given twice in one rule (list values with commas: \(key.word)=a,b)", at: token.startIndex)
        }
        seen |= key.bit
        if key.isOption && action == .deny {
            return QualifierError(message: "'\(key.word)' is an option of allow rules; a deny takes only user=, uid=, group= and gid=", at: token.startIndex)
        }
        if key == .isolated {
            if equals != nil { return QualifierError(message: "'isolated' takes no value", at: token.startIndex) }
            options.isolated = true
            return nil
        }
        guard let equals else {
            return QualifierError(message: "'\(key.word)' needs a value: \(key.word)=...", at: token.startIndex)
        }
        let value = token[(equals + 1)...]
        if value.isEmpty {
            return QualifierError(message: "'\(key.word)=' has an empty value", at: token.startIndex)
        }
        switch key {
        case .max, .vlan:
            let range = key == .max ? RuleOptions.maxTapsRange : RuleOptions.vlanRange
            guard let number = decimal(value, limit: UInt64(range.upperBound)), range.contains(Int(number)) else {
                return QualifierError(message: "\(key.word)=\(Escaping.escape(Array(value), limit: 64)) is not a number in \(range.lowerBound)...\(range.upperBound)",
                                      at: value.startIndex)
            }
            if key == .max { options.maxTaps = Int(number) } else { options.vlan = UInt16(number) }
            return nil
        case .uid, .gid:
            var numbers: [UInt32] = []
            var distinct = Set<UInt32>()
            var problem: QualifierError?
            _ = forEachElement(value) { element in
                if element.isEmpty { problem = emptyElement(key, value); return false }
                // 4294967295 is (uid_t)-1, "no id" in the kernel's calls: never a caller.
                guard let number = decimal(element, limit: 4_294_967_294) else {
                    problem = QualifierError(message: "\(key.word) '\(Escaping.escape(Array(element), limit: 64))' is not a decimal number in 0...4294967294",
                                             at: element.startIndex)
                    return false
                }
                let id = UInt32(number)
                if !distinct.insert(id).inserted { problem = listedTwice(key, element); return false }
                if store { numbers.append(id) }
                return true
            }
            if let problem { return problem }
            if store { if key == .uid { match.uids = numbers } else { match.gids = numbers } }
            return nil
        case .user, .group:
            var names: [[UInt8]] = []
            var distinct = Set<[UInt8]>()
            let single = !value.contains(UInt8(ascii: ","))
            var problem: QualifierError?
            _ = forEachElement(value) { element in
                if element.isEmpty { problem = emptyElement(key, value); return false }
                if let reason = nameProblem(element) {
                    problem = QualifierError(message: "\(key.word) name '\(Escaping.escape(Array(element), limit: 64))' \(reason)", at: element.startIndex)
                    return false
                }
                if element.allSatisfy({ (0x30...0x39).contains($0) }) {
                    let shown = Escaping.escape(Array(element), limit: 64)
                    let numeric = key == .user ? "uid" : "gid"
                    problem = QualifierError(message: "\(key.word) name '\(shown)' is a number; write \(numeric)=\(shown) for a numeric id",
                                             at: element.startIndex)
                    return false
                }
                // One name cannot repeat; only a list needs the set.
                if !single && !distinct.insert(Array(element)).inserted { problem = listedTwice(key, element); return false }
                if store { names.append(Array(element)) }
                return true
            }
            if let problem { return problem }
            if store { if key == .user { match.users = names } else { match.groups = names } }
            return nil
        case .isolated:
            return nil
        }
    }

    /// Calls `body` with each comma-separated element of `value` (empty ones included) until it
    /// returns false; returns whether it went through all of them.
    static func forEachElement<Line: ACLBytes>(_ value: Line, _ body: (Line) -> Bool) -> Bool {
        var start = value.startIndex
        while true {
            let end = value[start...].firstIndex(of: UInt8(ascii: ",")) ?? value.endIndex
            if !body(value[start..<end]) { return false }
            if end == value.endIndex { return true }
            start = end + 1
        }
    }

    static func emptyElement<Line: ACLBytes>(_ key: Qualifier, _ value: Line) -> QualifierError {
        QualifierError(message: "'\(key.word)=\(Escaping.escape(Array(value), limit: 64))' has an empty element (a stray comma)", at: value.startIndex)
    }

    static func listedTwice<Line: ACLBytes>(_ key: Qualifier, _ element: Line) -> QualifierError {
        QualifierError(message: "\(key.word) '\(Escaping.escape(Array(element), limit: 64))' is listed twice", at: element.startIndex)
    }

    /// Why a user or group name can never be one (nil if it can): the bytes that passwd and
    /// group files use as separators, control bytes, `=`, and overlong names.
    static func nameProblem<Line: ACLBytes>(_ name: Line) -> String? {
        if name.count > maximumNameLength { return "is longer than \(maximumNameLength) bytes" }
        for byte in name where byte < 0x21 || byte == 0x7F || byte == UInt8(ascii: ":") || byte == UInt8(ascii: "=") {
            if byte == UInt8(ascii: ":") { return "contains ':'" }
            if byte == UInt8(ascii: "=") { return "contains '='" }
            return "contains a control byte"
        }
        return nil
    }

    /// A plain decimal number (no sign, no leading zero unless it is `0`) up to `limit`.
    static func decimal<Line: ACLBytes>(_ bytes: Line, limit: UInt64) -> UInt64? {
        guard !bytes.isEmpty, bytes.count <= 10, bytes.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        if bytes.count > 1 && bytes.first == UInt8(ascii: "0") { return nil }
        var value: UInt64 = 0
        for byte in bytes { value = value * 10 + UInt64(byte - 0x30) }
        return value <= limit ? value : nil
    }
}
