import BridgeACL
import Testing

enum ExpectedDirective: Sendable, CustomStringConvertible {
    case rule(ExpectedRule)
    case include(String, line: Int)

    static func allow(_ bridge: String, line: Int) -> ExpectedDirective { .rule(.allow(bridge, line: line)) }
    static func deny(_ bridge: String, line: Int) -> ExpectedDirective { .rule(.deny(bridge, line: line)) }
    static func allowBytes(_ bridge: [UInt8], line: Int) -> ExpectedDirective {
        .rule(ExpectedRule(action: .allow, bridge: bridge, path: topLevelPath, line: line))
    }
    static func allowAll(line: Int) -> ExpectedDirective { .rule(.allowAll(line: line)) }
    static func denyAll(line: Int) -> ExpectedDirective { .rule(.denyAll(line: line)) }

    func directive() throws -> Directive {
        switch self {
        case .rule(let rule): return .rule(try rule.rule())
        case .include(let path, let line): return .include(path: bytes(path), location: location(topLevelPath, line))
        }
    }

    var description: String {
        switch self {
        case .rule(let rule): return rule.description
        case .include(let path, let line): return "include \(path) @\(line)"
        }
    }
}

enum GrammarOutcome: Sendable {
    case directives([ExpectedDirective])
    case error(line: Int, message: String)
}

struct GrammarCase: Sendable, CustomTestStringConvertible {
    let label: String
    let text: [UInt8]
    let outcome: GrammarOutcome

    init(_ label: String, _ text: String, _ outcome: GrammarOutcome) {
        self.init(label, bytes(text), outcome)
    }
    init(_ label: String, _ text: [UInt8], _ outcome: GrammarOutcome) {
        self.label = label
        self.text = text
        self.outcome = outcome
    }
    var testDescription: String { label }
}

let unknownSuffix = " (expected allow, deny, include or a # comment)"

/// "#" followed by `count - 1` x's: a comment line of exactly `count` bytes.
func commentLine(_ count: Int) -> [UInt8] { bytes("#") + repeated("x", count - 1) }

let grammarCases: [GrammarCase] = [
    // Accepted files.
    GrammarCase("empty file", "", .directives([])),
    GrammarCase("one newline", "\n", .directives([])),
    GrammarCase("comment", "# comment\n", .directives([])),
    GrammarCase("comment after spaces and tabs", "   # indented\n\t# tab\n \t #both\n", .directives([])),
    GrammarCase("comment that looks like a rule", "#allow br0\n# deny br1\n", .directives([])),
    GrammarCase("blank lines and whitespace-only lines", "\n\n   \n\t\n \r\n", .directives([])),
    GrammarCase("allow", "allow br0\n", .directives([.allow("br0", line: 1)])),
    GrammarCase("no final newline", "allow br0", .directives([.allow("br0", line: 1)])),
    GrammarCase("deny", "deny br1\n", .directives([.deny("br1", line: 1)])),
    GrammarCase("line numbers count blank and comment lines",
                "\n\n# c\nallow br0\n\ndeny br1\n",
                .directives([.allow("br0", line: 4), .deny("br1", line: 6)])),
    GrammarCase("CRLF", "allow br0\r\ndeny br1\r\n",
                .directives([.allow("br0", line: 1), .deny("br1", line: 2)])),
    GrammarCase("tab separator", "allow\tbr0\n", .directives([.allow("br0", line: 1)])),
    GrammarCase("space then tab then space", "allow \t br0\n", .directives([.allow("br0", line: 1)])),
    GrammarCase("two spaces", "allow  br0\n", .directives([.allow("br0", line: 1)])),
    GrammarCase("leading and trailing whitespace", "  allow br0  \t \n\tdeny br1\t\n",
                .directives([.allow("br0", line: 1), .deny("br1", line: 2)])),
    GrammarCase("trailing vertical tab and form feed", "allow br0\u{0B}\u{0C}\n", .directives([.allow("br0", line: 1)])),
    GrammarCase("inline comment", "allow br0 # lab\n", .directives([.allow("br0", line: 1)])),
    GrammarCase("inline comment without space", "allow br0 #lab\n", .directives([.allow("br0", line: 1)])),
    GrammarCase("inline comment with more words", "deny br1 # user=alice extra words\n",
                .directives([.deny("br1", line: 1)])),
    GrammarCase("hash inside a name is part of it", "allow br0#lab\n", .directives([.allow("br0#lab", line: 1)])),
    GrammarCase("allow all", "allow all\n", .directives([.allowAll(line: 1)])),
    GrammarCase("deny all", "deny all\n", .directives([.denyAll(line: 1)])),
    GrammarCase("ALL is a bridge name", "allow ALL\n", .directives([.allow("ALL", line: 1)])),
    GrammarCase("All is a bridge name", "deny All\n", .directives([.deny("All", line: 1)])),
    GrammarCase("15-byte name", "allow 012345678901234\n", .directives([.allow("012345678901234", line: 1)])),
    GrammarCase("non-UTF-8 name", bytes("allow ") + [0xFF] + bytes("\n"), .directives([.allowBytes([0xFF], line: 1)])),
    GrammarCase("precomposed e-acute", "allow \u{e9}\n", .directives([.allowBytes([0xC3, 0xA9], line: 1)])),
    GrammarCase("decomposed e-acute", "allow e\u{301}\n", .directives([.allowBytes([0x65, 0xCC, 0x81], line: 1)])),
    GrammarCase("include", "include /etc/qemu/alice.conf\n", .directives([.include("/etc/qemu/alice.conf", line: 1)])),
    GrammarCase("include with tab and inline comment", "include\t/etc/qemu/alice.conf # per user\n",
                .directives([.include("/etc/qemu/alice.conf", line: 1)])),
    GrammarCase("include with CRLF", "include /etc/qemu/a.conf\r\n", .directives([.include("/etc/qemu/a.conf", line: 1)])),
    GrammarCase("rules and includes keep file order",
                "allow br0\ninclude /etc/qemu/a.conf\ndeny all\n",
                .directives([.allow("br0", line: 1), .include("/etc/qemu/a.conf", line: 2), .denyAll(line: 3)])),
    GrammarCase("10000-byte comment then a rule: never split",
                commentLine(10000) + bytes("\nallow br0"), .directives([.allow("br0", line: 2)])),
    // Stock fgets()s 4095 bytes, then parses the tail "allow br0" as a line of its own.
    GrammarCase("5000-byte comment hiding a rule at byte 4095",
                commentLine(4095) + bytes("allow br0") + repeated(" ", 5000 - 4095 - 9),
                .directives([])),
    GrammarCase("comment hiding 'allow all' at byte 4095, then a deny",
                commentLine(4095) + bytes("allow all\ndeny br0\n"), .directives([.deny("br0", line: 2)])),
    GrammarCase("a rule with 10000 spaces inside", bytes("allow") + repeated(" ", 10000) + bytes("br0\n"),
                .directives([.allow("br0", line: 1)])),

    // Errors: the first one wins, with its line.
    GrammarCase("Allow (keywords are case-sensitive)", "Allow br0\n",
                .error(line: 1, message: "unknown keyword 'Allow'" + unknownSuffix)),
    GrammarCase("DENY", "allow br0\nDENY br1\n", .error(line: 2, message: "unknown keyword 'DENY'" + unknownSuffix)),
    GrammarCase("unknown keyword on line 3", "allow br0\ndeny br1\nfrobnicate\n",
                .error(line: 3, message: "unknown keyword 'frobnicate'" + unknownSuffix)),
    GrammarCase("error line counts CRLF lines", "allow br0\r\n\r\nAllow br1\r\n",
                .error(line: 3, message: "unknown keyword 'Allow'" + unknownSuffix)),
    GrammarCase("the first error wins", "bogus\nAllow br0\n",
                .error(line: 1, message: "unknown keyword 'bogus'" + unknownSuffix)),
    GrammarCase("form feed is not a separator", "allow\u{0C}br0\n",
                .error(line: 1, message: "unknown keyword 'allow\\x0cbr0'" + unknownSuffix)),
    GrammarCase("unknown keyword is escaped", bytes("\u{1B}[2Jallow br0\n"),
                .error(line: 1, message: "unknown keyword '\\x1b[2Jallow'" + unknownSuffix)),
    GrammarCase("long unknown keyword is cut at 64 bytes", repeated("k", 100) + bytes(" br0\n"),
                .error(line: 1, message: "unknown keyword '" + String(repeating: "k", count: 64) + "...'" + unknownSuffix)),
    GrammarCase("allow alone", "allow\n", .error(line: 1, message: "'allow' needs a bridge name or 'all'")),
    GrammarCase("deny alone with CRLF", "deny \r\n", .error(line: 1, message: "'deny' needs a bridge name or 'all'")),
    GrammarCase("allow followed by a comment", "allow # br0\n",
                .error(line: 1, message: "'allow' needs a bridge name or 'all'")),
    GrammarCase("two bridges", "allow br0 br1\n",
                .error(line: 1, message: "unexpected 'br1' after the bridge name (one bridge per rule)")),
    GrammarCase("deny all with an extra token", "deny all br0\n",
                .error(line: 1, message: "unexpected 'br0' after the bridge name (one bridge per rule)")),
    GrammarCase("16-byte name", "allow 0123456789abcdef\n",
                .error(line: 1, message: "bridge name '0123456789abcdef' is too long: 16 bytes (at most 15)")),
    GrammarCase("long name is cut at 64 bytes in the message", bytes("deny ") + repeated("n", 300) + bytes("\n"),
                .error(line: 1, message: "bridge name '" + String(repeating: "n", count: 64)
                        + "...' is too long: 300 bytes (at most 15)")),
    GrammarCase("dot-dot name", "allow ..\n",
                .error(line: 1, message: "bridge name '..' is not a valid interface name: '.' and '..' are reserved")),
    GrammarCase("colon in a name", "allow br0:1\n",
                .error(line: 1, message: "bridge name 'br0:1' is not a valid interface name: it contains ':'")),
    GrammarCase("slash in a name", "allow a/b\n",
                .error(line: 1, message: "bridge name 'a/b' is not a valid interface name: it contains '/'")),
    GrammarCase("vertical tab inside a name", "allow br\u{0B}0\n",
                .error(line: 1, message: "bridge name 'br\\x0b0' is not a valid interface name: it contains whitespace (\\x0b)")),
    GrammarCase("relative include", "include users.conf\n",
                .error(line: 1, message: "include path 'users.conf' is relative; write an absolute path")),
    GrammarCase("dot-relative include", "# x\ninclude ./users.conf\n",
                .error(line: 2, message: "include path './users.conf' is relative; write an absolute path")),
    GrammarCase("include with two tokens", "include /a b\n",
                .error(line: 1, message: "'include' takes exactly one absolute path (paths with spaces are not supported)")),
    GrammarCase("include alone", "include\n", .error(line: 1, message: "'include' needs an absolute path")),
    // Path forms (issue 7 item 6, issue 10). A trailing '/' names a drop-in directory (never
    // the file `lab.conf/` would walk to); the root itself is refused. The other forms parse
    // with their spelling kept; the decision is then made on the object by SafeFileReader
    // (t-acl-walk): `//` collapses and reads the same checked object as `/`, while '.' and '..'
    // components are refused (never skipped), since '..' would step out of a verified directory.
    GrammarCase("include with a trailing slash is a directory include", "include /etc/qemu/d/lab.conf/\n",
                .directives([.include("/etc/qemu/d/lab.conf/", line: 1)])),
    GrammarCase("include of a drop-in directory", "# drop-ins\ninclude /etc/qemu/d/\n",
                .directives([.include("/etc/qemu/d/", line: 2)])),
    GrammarCase("include of the root directory", "include /\n",
                .error(line: 1, message: "include path '/' names the root directory; name a drop-in directory such as /etc/qemu/bridge.d/")),
    GrammarCase("include with two trailing slashes (a directory; the reader collapses //)", "include /etc/qemu/lab.conf//\n",
                .directives([.include("/etc/qemu/lab.conf//", line: 1)])),
    GrammarCase("include of a directory with CRLF", "include /etc/qemu/d/\r\n",
                .directives([.include("/etc/qemu/d/", line: 1)])),
    GrammarCase("include with a doubled slash (reader: same object as one slash)", "include /etc/qemu//lab.conf\n",
                .directives([.include("/etc/qemu//lab.conf", line: 1)])),
    GrammarCase("include with a leading doubled slash (reader: same object)", "include //etc/qemu/lab.conf\n",
                .directives([.include("//etc/qemu/lab.conf", line: 1)])),
    GrammarCase("include with a /./ component (reader: refused)", "include /etc/qemu/./lab.conf\n",
                .directives([.include("/etc/qemu/./lab.conf", line: 1)])),
    GrammarCase("include with a /../ component (reader: refused)", "include /etc/qemu/d/../lab.conf\n",
                .directives([.include("/etc/qemu/d/../lab.conf", line: 1)])),
    GrammarCase("include ending in /. (reader: refused)", "include /etc/qemu/lab.conf/.\n",
                .directives([.include("/etc/qemu/lab.conf/.", line: 1)])),
    GrammarCase("include ending in /.. (reader: refused)", "include /etc/qemu/d/..\n",
                .directives([.include("/etc/qemu/d/..", line: 1)])),
    GrammarCase("NUL after a rule", [0x61, 0x6C, 0x6C, 0x6F, 0x77, 0x20, 0x62, 0x72, 0x30, 0x00, 0x0A],
                .error(line: 1, message: "the line contains a NUL byte")),
    GrammarCase("NUL inside a name on line 3", bytes("allow br0\n# ok\nallow br") + [0x00] + bytes("1\n"),
                .error(line: 3, message: "the line contains a NUL byte")),
    GrammarCase("NUL inside a comment", bytes("# a comment") + [0x00] + bytes(" allow all\n"),
                .error(line: 1, message: "the line contains a NUL byte")),
]

let ruleDescriptions: [(String, String)] = [
    ("allow br0", "allow br0"),
    ("deny br1", "deny br1"),
    ("allow all", "allow all"),
    ("deny ALL", "deny ALL"),
]

@Suite("Grammar")
struct GrammarTests {
    @Test(arguments: grammarCases)
    func parse(_ testCase: GrammarCase) throws {
        let result = Grammar.parse(testCase.text, path: bytes(topLevelPath))
        switch (result, testCase.outcome) {
        case (.success(let directives), .directives(let expected)):
            #expect(directives == (try expected.map { try $0.directive() }))
        case (.failure(let error), .error(let line, let message)):
            #expect(error.location == location(topLevelPath, line))
            #expect(error.message == message)
            #expect(error.description == "\(topLevelPath):\(line): \(message)")
        case (.success(let directives), .error(let line, let message)):
            Issue.record("expected an error at line \(line) (\(message)); got \(directives)")
        case (.failure(let error), .directives):
            Issue.record("expected directives; got \(error)")
        }
    }

    @Test func errorNamesTheFileItCameFrom() {
        guard case .failure(let error) = Grammar.parse(bytes("allow br0\nallow br0 br1\n"), path: bytes("/etc/qemu/lab.conf")) else {
            Issue.record("expected a syntax error")
            return
        }
        #expect(error.location == location("/etc/qemu/lab.conf", 2))
        #expect(error.message == "unexpected 'br1' after the bridge name (one bridge per rule)")
        #expect(error.description == "/etc/qemu/lab.conf:2: unexpected 'br1' after the bridge name (one bridge per rule)")
    }

    @Test func nonUTF8PathIsEscapedInMessages() {
        guard case .failure(let error) = Grammar.parse(bytes("Allow\n"), path: bytes("/etc/qemu/") + [0xFF, 0x0A]) else {
            Issue.record("expected a syntax error")
            return
        }
        #expect(error.description == "/etc/qemu/\\xff\\x0a:1: unknown keyword 'Allow'" + unknownSuffix)
    }

    @Test func bothFormsOfEAcuteGiveDifferentRules() throws {
        let precomposed = Grammar.parse(bytes("allow \u{e9}\n"), path: bytes(topLevelPath))
        let decomposed = Grammar.parse(bytes("allow e\u{301}\n"), path: bytes(topLevelPath))
        #expect(precomposed != decomposed)
    }

    @Test(arguments: ruleDescriptions)
    func ruleDescription(_ line: String, _ expected: String) throws {
        guard case .success(let directives) = Grammar.parse(bytes(line), path: bytes(topLevelPath)),
              case .rule(let rule) = directives.first else {
            Issue.record("'\(line)' did not parse to a rule")
            return
        }
        #expect(rule.description == expected)
    }

    @Test func ruleDescriptionEscapesTheName() throws {
        let rule = Rule(action: .deny, bridge: .named(try InterfaceName(validating: [0x62, 0x1B, 0xFF])),
                        location: location(topLevelPath, 1))
        #expect(rule.description == "deny b\\x1b\\xff")
    }
}
