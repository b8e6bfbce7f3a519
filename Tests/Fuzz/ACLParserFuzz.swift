// libFuzzer target acl-parser: Grammar.parse on arbitrary bytes.
//
// Invariants (each violation traps):
// - parsing never crashes, and parsing the same bytes again gives the same result;
// - the result does not depend on the path except through the locations it records (a path full
//   of control bytes gives the same directives and errors);
// - every rule's bridge is `all` or a valid interface name (1-15 bytes, no forbidden byte);
// - directives come in file order, one per line, with line numbers in 1...(newlines + 1); an
//   error's line is in the same range;
// - errors, rule descriptions and refusal messages are one line of printable ASCII;
// - the result equals an independent reference parser's (written from the grammar's doc comment).
import BridgeACL

@_cdecl("LLVMFuzzerTestOneInput")
public func aclParserFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    ACLParserFuzz.run(fuzzInput(data, size))
    return 0
}

enum ACLParserFuzz {
    static let path = utf8("/etc/qemu/bridge.conf")
    /// Another path, with a newline, ESC and a C1 CSI in it: messages must escape it.
    static let hostilePath = utf8("/etc/qemu/\n\u{1B}[2J") + [0xC2, 0x9B] + utf8("'x.conf")

    static func run(_ input: [UInt8]) {
        let result = Grammar.parse(input, path: path)
        check(Grammar.parse(input, path: path) == result, "parsing the same bytes twice differs")
        let lineCount = input.count(where: { $0 == 0x0A }) + 1

        // The path only shows up in locations.
        let elsewhere = Grammar.parse(input, path: hostilePath)
        check(outcome(elsewhere) == outcome(result), "the result depends on the file's path")
        check(locations(elsewhere).allSatisfy { $0.path == hostilePath }, "a location does not name the file's path")

        switch result {
        case .success(let directives):
            var previousLine = 0
            for directive in directives {
                let location: BridgeACL.SourceLocation
                switch directive {
                case .rule(let rule):
                    location = rule.location
                    if case .named(let name) = rule.bridge {
                        check(referenceIsValidInterfaceName(name.bytes),
                              "rule at line \(location.line) names an invalid interface '\(shown(name.bytes))'")
                    }
                    checkSafeLine(rule.description, "rule description")
                case .include(let includePath, let at):
                    location = at
                    check(includePath.first == UInt8(ascii: "/"), "include path '\(shown(includePath))' is not absolute")
                    check(!includePath.contains(where: { [0x00, 0x09, 0x0A, 0x20].contains($0) }),
                          "include path '\(shown(includePath))' contains a separator")
                }
                check(location.path == path, "a directive's location names another path")
                check(location.line > previousLine && location.line <= lineCount,
                      "directive line \(location.line) after line \(previousLine) (file has \(lineCount) lines)")
                previousLine = location.line
            }
        case .failure(let error):
            check(error.location.path == path, "an error's location names another path")
            check((1...lineCount).contains(error.location.line),
                  "error line \(error.location.line) outside 1...\(lineCount)")
            checkSafeLine(error.message, "syntax error message")
            checkSafeLine(error.description, "syntax error description")
            if case .failure(let other) = elsewhere {
                checkSafeLine(other.description, "syntax error description with a hostile path")
                checkSafeLine(ACLMessages.refusal(.syntax(other)), "refusal for a syntax error")
            }
        }

        let expected = ReferenceGrammar.parse(input)
        switch (result, expected) {
        case (.success(let directives), .success(let reference)):
            let actual = directives.map(ReferenceGrammar.Directive.init)
            check(actual == reference, "directives differ from the reference: \(actual) vs \(reference)")
        case (.failure(let error), .failure(let reference)):
            check(error.location.line == reference.line,
                  "first error at line \(error.location.line), reference says line \(reference.line) (\(reference.why))")
        case (.success(let directives), .failure(let reference)):
            violated("parsed \(directives.count) directives; the reference refuses line \(reference.line): \(reference.why)")
        case (.failure(let error), .success):
            violated("refused (\(error)); the reference accepts the file")
        }
    }

    /// The result without its path: directives, or the error's line and message.
    enum Outcome: Equatable {
        case directives([ReferenceGrammar.Directive])
        case error(line: Int, message: String)
    }

    static func outcome(_ result: Result<[Directive], SyntaxError>) -> Outcome {
        switch result {
        case .success(let directives): return .directives(directives.map(ReferenceGrammar.Directive.init))
        case .failure(let error): return .error(line: error.location.line, message: error.message)
        }
    }

    static func locations(_ result: Result<[Directive], SyntaxError>) -> [BridgeACL.SourceLocation] {
        switch result {
        case .success(let directives):
            return directives.map { directive in
                switch directive {
                case .rule(let rule): return rule.location
                case .include(_, let location): return location
                }
            }
        case .failure(let error): return [error.location]
        }
    }
}
