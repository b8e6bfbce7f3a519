// An independent reading of the ACL grammar, written from the documentation of
// Sources/BridgeACL/Grammar.swift and docs, not from its code:
// - lines end at '\n' and are numbered from 1; the text after the last '\n' is a line too;
// - a NUL byte anywhere in a line is an error;
// - words are separated by runs of spaces and tabs; each word loses surrounding C isspace()
//   bytes (so CR of CRLF, \v and \f vanish) and words that become empty are dropped;
// - the first word starting with '#' starts a comment that runs to the end of the line;
// - `allow X` / `deny X`: exactly one argument, `all` (case-sensitive) or a valid interface
//   name; `include /abs/path`: exactly one argument, starting with '/' and not ending with '/'
//   (reserved for drop-in directories); anything else is an error.
import BridgeACL

enum ReferenceGrammar {
    struct Directive: Equatable, CustomStringConvertible {
        enum Kind: Equatable { case allow, deny, include }
        let kind: Kind
        /// The bridge name or include path; nil for the keyword `all`.
        let value: [UInt8]?
        let line: Int

        init(kind: Kind, value: [UInt8]?, line: Int) {
            self.kind = kind
            self.value = value
            self.line = line
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
                self.init(kind: rule.action == .allow ? .allow : .deny, value: value, line: rule.location.line)
            case .include(let path, let location):
                self.init(kind: .include, value: path, line: location.line)
            }
        }

        var description: String { "\(kind) \(value.map { shown($0) } ?? "<all>") @\(line)" }
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
            guard meaningful.count == 2 else {
                return .failure(Failure(line: number, why: "\(keyword) takes one argument, got \(meaningful.count - 1)"))
            }
            let kind: Directive.Kind = keyword == "allow" ? .allow : .deny
            let argument = meaningful[1]
            if argument == utf8("all") { return .success(Directive(kind: kind, value: nil, line: number)) }
            guard referenceIsValidInterfaceName(argument) else {
                return .failure(Failure(line: number, why: "invalid name '\(shown(argument))'"))
            }
            return .success(Directive(kind: kind, value: argument, line: number))
        case "include":
            guard meaningful.count == 2 else {
                return .failure(Failure(line: number, why: "include takes one argument, got \(meaningful.count - 1)"))
            }
            guard meaningful[1][0] == UInt8(ascii: "/") else {
                return .failure(Failure(line: number, why: "relative include"))
            }
            guard meaningful[1].last != UInt8(ascii: "/") else {
                return .failure(Failure(line: number, why: "include path ends with '/'"))
            }
            return .success(Directive(kind: .include, value: meaningful[1], line: number))
        default:
            return .failure(Failure(line: number, why: "unknown keyword '\(shown(meaningful[0]))'"))
        }
    }
}
