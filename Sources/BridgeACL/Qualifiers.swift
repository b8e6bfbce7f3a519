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

    init?(_ key: ArraySlice<UInt8>) {
        guard let found = Qualifier.allCases.first(where: { Array($0.word.utf8)[...] == key }) else { return nil }
        self = found
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
    static func parseQualifier(_ token: ArraySlice<UInt8>, action: RuleAction, seen: inout [Qualifier],
                               match: inout RuleMatch, options: inout RuleOptions) -> QualifierError? {
        let shown = Escaping.escape(Array(token), limit: 64)
        let equals = token.firstIndex(of: UInt8(ascii: "="))
        let keyBytes = equals.map { token[token.startIndex..<$0] } ?? token
        guard let key = Qualifier(keyBytes) else {
            let what = equals == nil ? "unexpected '\(shown)' after the bridge name (one bridge per rule)"
                                     : "unknown qualifier '\(Escaping.escape(Array(keyBytes), limit: 64))' (expected \(Qualifier.list))"
            return QualifierError(message: what, at: token.startIndex)
        }
        if seen.contains(key) {
            return QualifierError(message: "'\(key.word)' is given twice in one rule (list values with commas: \(key.word)=a,b)", at: token.startIndex)
        }
        seen.append(key)
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
            for element in value.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
                if element.isEmpty { return emptyElement(key, value) }
                // 4294967295 is (uid_t)-1, "no id" in the kernel's calls: never a caller.
                guard let number = decimal(element, limit: 4_294_967_294) else {
                    return QualifierError(message: "\(key.word) '\(Escaping.escape(Array(element), limit: 64))' is not a decimal number in 0...4294967294",
                                          at: element.startIndex)
                }
                let id = UInt32(number)
                if numbers.contains(id) { return listedTwice(key, element) }
                numbers.append(id)
            }
            if key == .uid { match.uids = numbers } else { match.gids = numbers }
            return nil
        case .user, .group:
            var names: [[UInt8]] = []
            for element in value.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
                if element.isEmpty { return emptyElement(key, value) }
                let name = Array(element)
                if let problem = nameProblem(name) {
                    return QualifierError(message: "\(key.word) name '\(Escaping.escape(name, limit: 64))' \(problem)", at: element.startIndex)
                }
                if name.allSatisfy({ (0x30...0x39).contains($0) }) {
                    let numeric = key == .user ? "uid" : "gid"
                    return QualifierError(message: "\(key.word) name '\(Escaping.escape(name, limit: 64))' is a number; write \(numeric)=\(Escaping.escape(name, limit: 64)) for a numeric id",
                                          at: element.startIndex)
                }
                if names.contains(name) { return listedTwice(key, element) }
                names.append(name)
            }
            if key == .user { match.users = names } else { match.groups = names }
            return nil
        case .isolated:
            return nil
        }
    }

    static func emptyElement(_ key: Qualifier, _ value: ArraySlice<UInt8>) -> QualifierError {
        QualifierError(message: "'\(key.word)=\(Escaping.escape(Array(value), limit: 64))' has an empty element (a stray comma)", at: value.startIndex)
    }

    static func listedTwice(_ key: Qualifier, _ element: ArraySlice<UInt8>) -> QualifierError {
        QualifierError(message: "\(key.word) '\(Escaping.escape(Array(element), limit: 64))' is listed twice", at: element.startIndex)
    }

    /// Why a user or group name can never be one (nil if it can): the bytes that passwd and
    /// group files use as separators, control bytes, `=`, and overlong names.
    static func nameProblem(_ name: [UInt8]) -> String? {
        if name.count > maximumNameLength { return "is longer than \(maximumNameLength) bytes" }
        if name.contains(where: { $0 < 0x21 || $0 == 0x7F }) { return "contains a control byte" }
        if name.contains(UInt8(ascii: ":")) { return "contains ':'" }
        if name.contains(UInt8(ascii: "=")) { return "contains '='" }
        return nil
    }

    /// A plain decimal number (no sign, no leading zero unless it is `0`) up to `limit`.
    static func decimal(_ bytes: ArraySlice<UInt8>, limit: UInt64) -> UInt64? {
        guard !bytes.isEmpty, bytes.count <= 10, bytes.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        if bytes.count > 1 && bytes.first == UInt8(ascii: "0") { return nil }
        var value: UInt64 = 0
        for byte in bytes { value = value * 10 + UInt64(byte - 0x30) }
        return value <= limit ? value : nil
    }
}
