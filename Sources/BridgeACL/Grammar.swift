/// A syntax error: the file and line, and what is wrong there.
public struct SyntaxError: Error, Hashable, Sendable, CustomStringConvertible {
    public let location: SourceLocation
    public let message: String
    /// The 1-based byte column of the offending token (or byte) in its line, for `bridgekeeper
    /// lint`; the helper's messages do not show it.
    public let column: Int

    public var description: String { "\(location): \(message)" }
}

/// The grammar of `/etc/qemu/bridge.conf` and its includes.
///
/// Compatible with the stock helper on ordinary files (keywords `allow`, `deny`, `include`;
/// `#` comments; blank lines; surrounding whitespace and CRLF ignored; case-sensitive keywords),
/// and strict where the stock helper is lax, so that a mistake refuses instead of silently
/// dropping a rule:
/// - tokens are split on any run of spaces and tabs (stock splits once, at the first space);
/// - a token starting with `#` after a rule starts a comment (stock makes it part of the name);
/// - extra tokens are errors (`allow br0 br1` is not a bridge named "br0 br1");
/// - no line is ever split (stock cuts at 4095 bytes and parses the tail as a new line);
/// - a NUL byte anywhere is an error (stock truncates the line there);
/// - include paths must be absolute (stock resolves them against the caller's cwd);
/// - an include path ending in `/` names a directory of drop-in files; `//`, `/./` and `/../`
///   are refused by the file reader.
///
/// Qualifiers after the bridge name (issue 10, contract §6): match keys `user=`, `uid=`, `group=`,
/// `gid=` (comma lists) and, on allow rules only, the options `max=N`, `vlan=N` and `isolated`.
/// Unknown keys, a key given twice, a value listed twice, empty values, out-of-range numbers and
/// options on a deny are errors at the offending token.
public enum Grammar {

    /// Parses a whole file. Returns the directives in file order, or the first error.
    public static func parse(_ contents: [UInt8], path: [UInt8]) -> Result<[Directive], SyntaxError> {
        var directives: [Directive] = []
        var lineNumber = 0
        for line in contents.split(separator: 0x0A, omittingEmptySubsequences: false) {
            lineNumber += 1
            let location = SourceLocation(path: path, line: lineNumber)
            switch parseLine(line, location: location) {
            case .success(let directive?): directives.append(directive)
            case .success(nil): continue
            case .failure(let error): return .failure(error)
            }
        }
        return .success(directives)
    }

    /// Parses one line (without its `\n`). `nil` for blank lines and comments. Public for
    /// `bridgekeeper lint`, which reports every line the helper would refuse, not only the first.
    public static func parseLine(_ line: ArraySlice<UInt8>, location: SourceLocation) -> Result<Directive?, SyntaxError> {
        switch parse(line, path: location.path, lineNumber: location.line, keeping: nil) {
        case .directive(let directive): return .success(directive)
        case .nothing, .droppedRule: return .success(nil)
        case .failure(let error): return .failure(error)
        }
    }

    /// What one line holds.
    enum ParsedLine {
        case directive(Directive)
        /// A blank line or a comment.
        case nothing
        /// A valid rule whose bridge token `keeping` turned down: checked, not built.
        case droppedRule
        case failure(SyntaxError)
    }

    /// Parses one line. With `keeping`, a rule whose bridge token (the word after allow/deny,
    /// `all` included) it turns down is checked exactly as thoroughly but not built: a policy
    /// read for one device skips the cost of materialising the rules of every other bridge.
    /// The location is built only for what keeps it (a rule, an include, an error).
    static func parse<Line: ACLBytes>(_ line: Line, path: [UInt8], lineNumber: Int,
                                      keeping: ((Line) -> Bool)?) -> ParsedLine {
        var location: SourceLocation { SourceLocation(path: path, line: lineNumber) }
        // `at` is the offending byte's index in `line`'s indices (a token's start).
        func fail(_ message: String, at index: Int) -> ParsedLine {
            .failure(SyntaxError(location: location, message: message, column: index - line.startIndex + 1))
        }
        if let nul = line.firstIndex(of: 0) { return fail("the line contains a NUL byte", at: nul) }
        let tokens = Tokens(line)
        guard let keyword = tokens.first else { return .nothing }
        let arguments = tokens.arguments

        if Self.token(keyword, is: "allow") || Self.token(keyword, is: "deny") {
            let action: RuleAction = keyword.first == UInt8(ascii: "a") ? .allow : .deny
            let word = action == .allow ? "allow" : "deny"
            guard let nameToken = arguments.first else {
                return fail("'\(word)' needs a bridge name or 'all'", at: keyword.startIndex)
            }
            let keep = keeping?(nameToken) ?? true
            var match = RuleMatch()
            var options = RuleOptions.none
            if arguments.count > 1 {
                // Qualifiers: every token after the bridge name (the line is scanned again only
                // for such lines; a stock line never gets here).
                var failure: SyntaxError?
                var seen: UInt8 = 0
                Self.forEachToken(line[tokens.qualifierStart...]) { token in
                    if let error = Self.parseQualifier(token, action: action, seen: &seen, match: &match, options: &options,
                                                       store: keep) {
                        failure = SyntaxError(location: location, message: error.message,
                                              column: error.at - line.startIndex + 1)
                        return false
                    }
                    return true
                }
                if let failure { return .failure(failure) }
            }
            if Self.token(nameToken, is: "all") {
                if !keep { return .droppedRule }
                return .directive(.rule(Rule(action: action, bridge: .all, location: location, match: match, options: options)))
            }
            if let problem = InterfaceName.problem(nameToken) {
                return fail("bridge name '\(Escaping.escape(Array(nameToken), limit: 64))' \(problem.explanation)", at: nameToken.startIndex)
            }
            if !keep { return .droppedRule }
            do {
                let name = try InterfaceName(validating: nameToken)
                return .directive(.rule(Rule(action: action, bridge: .named(name), location: location, match: match, options: options)))
            } catch {
                return fail("bridge name '\(Escaping.escape(Array(nameToken), limit: 64))' \(error.explanation)", at: nameToken.startIndex)
            }
        }
        if Self.token(keyword, is: "include") {
            guard let path = arguments.first else { return fail("'include' needs an absolute path", at: keyword.startIndex) }
            if arguments.count > 1 {
                return fail("'include' takes exactly one absolute path (paths with spaces are not supported)",
                        at: arguments.dropFirst().first?.startIndex ?? path.startIndex)
            }
            guard path.first == UInt8(ascii: "/") else {
                return fail("include path '\(Escaping.escape(Array(path), limit: 256))' is relative; write an absolute path", at: path.startIndex)
            }
            // A trailing slash names a directory of drop-in files (never a file: `lab.conf/` is
            // not read as lab.conf). The root itself is not a drop-in directory.
            if path.count == 1 {
                return fail("include path '/' names the root directory; name a drop-in directory such as /etc/qemu/bridge.d/",
                            at: path.startIndex)
            }
            return .directive(.include(path: Array(path), location: location))
        }
        return fail("unknown keyword '\(Escaping.escape(Array(keyword), limit: 64))' (expected allow, deny, include or a # comment)",
                    at: keyword.startIndex)
    }

    /// The tokens of a line without allocating (the per-user pattern parses 10,000 include lines
    /// per call): the line split on spaces and tabs, each piece trimmed of C `isspace()` bytes,
    /// empty pieces dropped, everything from the first piece starting with `#` on dropped. Keeps
    /// the first three tokens; `count` stops at 3.
    struct Tokens<Line: ACLBytes> {
        /// Token positions in the line (ranges, not slices: nothing to retain per token).
        private var ranges: (Range<Int>, Range<Int>, Range<Int>) = (0..<0, 0..<0, 0..<0)
        private(set) var count = 0
        private let line: Line
        /// Where the third token starts (the qualifiers of a rule), or the line's end.
        private(set) var qualifierStart: Int

        init(_ line: Line) {
            self.line = line
            var found = (0..<0, 0..<0, 0..<0)
            var third = line.endIndex
            var count = 0
            Grammar.forEachToken(line) { token in
                switch count {
                case 0: found.0 = token.startIndex..<token.endIndex
                case 1: found.1 = token.startIndex..<token.endIndex
                case 2:
                    found.2 = token.startIndex..<token.endIndex
                    third = token.startIndex
                default: break
                }
                count += 1
                // Only "a third token exists" is ever asked; the qualifiers are read from there.
                return count < 3
            }
            ranges = found
            self.count = count
            qualifierStart = third
        }

        var first: Line? { count > 0 ? line[ranges.0] : nil }

        /// The tokens after the keyword.
        var arguments: Arguments {
            Arguments(first: count > 1 ? line[ranges.1] : nil, second: count > 2 ? line[ranges.2] : nil,
                      count: Swift.max(0, count - 1))
        }

        struct Arguments {
            let first: Line?
            let second: Line?
            let count: Int

            /// The tokens after the first argument (only their first is ever needed).
            func dropFirst() -> Arguments { Arguments(first: second, second: nil, count: Swift.max(0, count - 1)) }
        }
    }

    /// Calls `body` with each token of a line, in order, until it returns false: the line split
    /// on spaces and tabs, each piece trimmed of C `isspace()` bytes, empty pieces dropped, and
    /// nothing from the first piece starting with `#` on. Allocates nothing.
    static func forEachToken<Line: ACLBytes>(_ line: Line, _ body: (Line) -> Bool) {
        var index = line.startIndex
        while index < line.endIndex {
            while index < line.endIndex, line[index] == 0x20 || line[index] == 0x09 { index += 1 }
            let start = index
            while index < line.endIndex, line[index] != 0x20, line[index] != 0x09 { index += 1 }
            let token = Grammar.trimmed(line[start..<index])
            if token.isEmpty { continue }
            if token.first == UInt8(ascii: "#") { return }
            if !body(token) { return }
        }
    }

    /// Byte equality with a keyword, without going through String's generic UTF-8 view (this
    /// runs for every line of every file).
    static func token<Line: ACLBytes>(_ token: Line, is keyword: StaticString) -> Bool {
        guard token.count == keyword.utf8CodeUnitCount else { return false }
        return keyword.withUTF8Buffer { word in
            var index = token.startIndex
            for byte in word {
                if token[index] != byte { return false }
                index += 1
            }
            return true
        }
    }

    /// Removes surrounding whitespace as C's `isspace()` sees it, which covers the `\r` of
    /// CRLF line ends and stray `\v`/`\f`.
    static func trimmed<Line: ACLBytes>(_ token: Line) -> Line {
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || (0x09...0x0D).contains($0) }
        guard let first = token.firstIndex(where: { !isSpace($0) }),
              let last = token.lastIndex(where: { !isSpace($0) }) else { return token[token.startIndex..<token.startIndex] }
        return token[first...last]
    }
}

/// The byte sequences the grammar reads: slices of an array (`parseLine`, lint) or of the
/// loader's buffer (`UnsafeBufferPointer`, no reference counting per token on the hot path).
public protocol ACLBytes: RandomAccessCollection where Element == UInt8, Index == Int, SubSequence == Self {}

extension ArraySlice: ACLBytes where Element == UInt8 {}
extension Slice: ACLBytes where Base == UnsafeBufferPointer<UInt8> {}
