// An independent reading of the ACL grammar, written from the documentation of
// Sources/BridgeACL/Grammar.swift and docs, not from its code:
// - lines end at '\n' and are numbered from 1; the text after the last '\n' is a line too;
// - a NUL byte anywhere in a line is an error;
// - words are separated by runs of spaces and tabs; each word loses surrounding C isspace()
//   bytes (so CR of CRLF, \v and \f vanish) and words that become empty are dropped;
// - the first word starting with '#' starts a comment that runs to the end of the line;
// - `allow X` / `deny X`: `all` (case-sensitive) or a valid interface name, then qualifiers
//   (issue 10): `user=`, `uid=`, `group=`, `gid=` comma lists on any rule; `max=N` (1...1023),
//   `vlan=N` (1...4094) and `isolated` on allow rules only; each key at most once, each list
//   value at most once, no empty values or elements; numbers plain decimal (no sign, no
//   leading zero), ids at most 4294967294; names of at most 256 bytes without control bytes,
//   DEL, ':' or '=', and not all digits;
// - `include /abs/path`: exactly one argument, starting with '/', and not '/' alone (a trailing
//   '/' names a drop-in directory); anything else is an error.
import BridgeACL

enum ReferenceGrammar {
    struct Directive: Equatable, CustomStringConvertible {
        enum Kind: Equatable { case allow, deny, include }
        let kind: Kind
        /// The bridge name or include path; nil for the keyword `all`.
        let value: [UInt8]?
        let line: Int
        var qualifiers = Qualifiers()

        init(kind: Kind, value: [UInt8]?, line: Int, qualifiers: Qualifiers = Qualifiers()) {
            self.kind = kind
            self.value = value
            self.line = line
            self.qualifiers = qualifiers
        }

        /// The same projection of the real parser's output.
        init(_ directive: BridgeACL.Directive) {
            switch directive {
            case .rule(let rule):
                let value: [UInt8]?
                switch rule.bridge {
                case .all: value = nil
                case .named(let name): value = name.bytes
                }
                let qualifiers = Qualifiers(users: rule.match.users, uids: rule.match.uids, groups: rule.match.groups,
                                            gids: rule.match.gids, max: rule.options.maxTaps, vlan: rule.options.vlan.map(Int.init),
                                            isolated: rule.options.isolated)
                self.init(kind: rule.action == .allow ? .allow : .deny, value: value, line: rule.location.line,
                          qualifiers: qualifiers)
            case .include(let path, let location):
                self.init(kind: .include, value: path, line: location.line)
            }
        }

        var description: String { "\(kind) \(value.map { shown($0) } ?? "<all>") @\(line)" }
    }

    struct Qualifiers: Equatable {
        var users: [[UInt8]] = []
        var uids: [UInt32] = []
        var groups: [[UInt8]] = []
        var gids: [UInt32] = []
        var max: Int?
        var vlan: Int?
        var isolated = false

        /// No qualifier at all: a rule the stock helper reads as written.
        var isEmpty: Bool { self == Qualifiers() }
    }

    struct Failure: Error, Equatable {
        let line: Int
        let why: String
    }

    static func isCSpace(_ byte: UInt8) -> Bool { byte == 0x20 || (byte >= 0x09 && byte <= 0x0D) }

    static func parse(_ input: [UInt8]) -> Result<[Directive], Failure> {
        var directives: [Directive] = []
        var lineNumber = 1
        var lineStart = 0
        var index = 0
        while true {
            let atEnd = index == input.count
            if atEnd || input[index] == 0x0A {
                let line = Array(input[lineStart..<index])
                switch parseLine(line, lineNumber) {
                case .failure(let failure): return .failure(failure)
                case .success(let directive?): directives.append(directive)
                case .success(nil): break
                }
                if atEnd { break }
                lineNumber += 1
                lineStart = index + 1
            }
            index += 1
        }
        return .success(directives)
    }

    static func parseLine(_ line: [UInt8], _ number: Int) -> Result<Directive?, Failure> {
        if line.contains(0) { return .failure(Failure(line: number, why: "NUL")) }
        var words: [[UInt8]] = []
        var word: [UInt8] = []
        for byte in line + [0x20] {
            if byte == 0x20 || byte == 0x09 {
                var start = 0, end = word.count
                while start < end && isCSpace(word[start]) { start += 1 }
                while end > start && isCSpace(word[end - 1]) { end -= 1 }
                if start < end { words.append(Array(word[start..<end])) }
                word = []
            } else {
                word.append(byte)
            }
        }
        var meaningful: [[UInt8]] = []
        for word in words {
            if word[0] == UInt8(ascii: "#") { break }
            meaningful.append(word)
        }
        if meaningful.isEmpty { return .success(nil) }
        let keyword = String(decoding: meaningful[0], as: UTF8.self)
        let isASCII = meaningful[0].allSatisfy { $0 < 0x80 }
        switch (isASCII ? keyword : "") {
        case "allow", "deny":
            guard meaningful.count >= 2 else {
                return .failure(Failure(line: number, why: "\(keyword) needs a bridge"))
            }
            let kind: Directive.Kind = keyword == "allow" ? .allow : .deny
            var qualifiers = Qualifiers()
            var seen: Set<String> = []
            for word in meaningful.dropFirst(2) {
                if let why = qualifier(word, allow: kind == .allow, seen: &seen, into: &qualifiers) {
                    return .failure(Failure(line: number, why: why))
                }
            }
            let argument = meaningful[1]
            if argument == utf8("all") { return .success(Directive(kind: kind, value: nil, line: number, qualifiers: qualifiers)) }
            guard referenceIsValidInterfaceName(argument) else {
                return .failure(Failure(line: number, why: "invalid name '\(shown(argument))'"))
            }
            return .success(Directive(kind: kind, value: argument, line: number, qualifiers: qualifiers))
        case "include":
            guard meaningful.count == 2 else {
                return .failure(Failure(line: number, why: "include takes one argument, got \(meaningful.count - 1)"))
            }
            guard meaningful[1][0] == UInt8(ascii: "/") else {
                return .failure(Failure(line: number, why: "relative include"))
            }
            guard meaningful[1] != [UInt8(ascii: "/")] else {
                return .failure(Failure(line: number, why: "include of the root directory"))
            }
            return .success(Directive(kind: .include, value: meaningful[1], line: number))
        default:
            return .failure(Failure(line: number, why: "unknown keyword '\(shown(meaningful[0]))'"))
        }
    }

    /// One qualifier word; the reason it is wrong, or nil.
    static func qualifier(_ word: [UInt8], allow: Bool, seen: inout Set<String>, into q: inout Qualifiers) -> String? {
        let text = String(decoding: word, as: UTF8.self)
        let parts = word.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
        let key = String(decoding: parts[0], as: UTF8.self)
        guard ["user", "uid", "group", "gid", "max", "vlan", "isolated"].contains(key), parts[0].allSatisfy({ $0 < 0x80 }) else {
            return "unknown qualifier \(text)"
        }
        if !seen.insert(key).inserted { return "\(key) twice" }
        if !allow && ["max", "vlan", "isolated"].contains(key) { return "\(key) on a deny" }
        if key == "isolated" {
            if parts.count != 1 { return "isolated with a value" }
            q.isolated = true
            return nil
        }
        guard parts.count == 2, !parts[1].isEmpty else { return "\(key) without a value" }
        let value = Array(parts[1])
        func number(_ digits: [UInt8], upTo limit: UInt64) -> UInt64? {
            guard !digits.isEmpty, digits.count <= 10, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                  digits.count == 1 || digits[0] != 0x30 else { return nil }
            let n = digits.reduce(UInt64(0)) { $0 * 10 + UInt64($1 - 0x30) }
            return n <= limit ? n : nil
        }
        switch key {
        case "max", "vlan":
            let limit: UInt64 = key == "max" ? 1023 : 4094
            guard let n = number(value, upTo: limit), n >= 1 else { return "\(key) out of range" }
            if key == "max" { q.max = Int(n) } else { q.vlan = Int(n) }
        case "uid", "gid":
            var ids: [UInt32] = []
            for element in value.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
                guard let n = number(Array(element), upTo: 4_294_967_294) else { return "bad id" }
                if ids.contains(UInt32(n)) { return "id twice" }
                ids.append(UInt32(n))
            }
            if key == "uid" { q.uids = ids } else { q.gids = ids }
        default:
            var names: [[UInt8]] = []
            for element in value.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
                let name = Array(element)
                guard !name.isEmpty, name.count <= 256 else { return "bad name length" }
                if name.contains(where: { $0 < 0x21 || $0 == 0x7F || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: "=") }) {
                    return "bad name byte"
                }
                if name.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) { return "numeric name" }
                if names.contains(name) { return "name twice" }
                names.append(name)
            }
            if key == "user" { q.users = names } else { q.groups = names }
        }
        return nil
    }
}
