import BridgeACL
import HelperArguments
import Testing

let program = bytes("/usr/lib/qemu/bridgekeeper-helper")

enum ParseOutcome: Sendable, Equatable {
    case attach(vnet: Bool, bridge: [UInt8], fd: Int32)
    case help
    case version
    case failure(ArgumentError)
}

struct ParseCase: Sendable, CustomTestStringConvertible {
    let label: String
    let argv: [[UInt8]]
    let expected: ParseOutcome

    /// `options` come after the program name.
    init(_ label: String, _ options: [String], _ expected: ParseOutcome) {
        self.init(label, raw: [program] + options.map(bytes), expected)
    }
    init(_ label: String, raw argv: [[UInt8]], _ expected: ParseOutcome) {
        self.label = label
        self.argv = argv
        self.expected = expected
    }
    var testDescription: String { label }
}

func badFD(_ value: String) -> ParseCase {
    ParseCase("--fd=\(value)", ["--br=br0", "--fd=\(value)"], .failure(.badDescriptor(bytes(value))))
}

let parseCases: [ParseCase] = [
    ParseCase("argc == 0", raw: [], .failure(.noProgramName)),
    ParseCase("program only", [], .failure(.usage)),
    ParseCase("argv == {\"\"}, how Linux >= 5.18 delivers an empty argv", raw: [[]], .failure(.noProgramName)),
    ParseCase("empty program name with options", raw: [[], bytes("--br=br0"), bytes("--fd=3")], .failure(.noProgramName)),
    ParseCase("bridge and fd", ["--br=br0", "--fd=3"], .attach(vnet: false, bridge: bytes("br0"), fd: 3)),
    ParseCase("fd first", ["--fd=3", "--br=br0"], .attach(vnet: false, bridge: bytes("br0"), fd: 3)),
    ParseCase("QEMU -netdev bridge order", ["--use-vnet", "--fd=5", "--br=br0"],
              .attach(vnet: true, bridge: bytes("br0"), fd: 5)),
    ParseCase("QEMU helper string order", ["--br=br1", "--use-vnet", "--fd=5"],
              .attach(vnet: true, bridge: bytes("br1"), fd: 5)),
    ParseCase("use-vnet last", ["--br=br0", "--fd=3", "--use-vnet"], .attach(vnet: true, bridge: bytes("br0"), fd: 3)),
    ParseCase("use-vnet twice", ["--use-vnet", "--use-vnet", "--br=br0", "--fd=3"],
              .attach(vnet: true, bridge: bytes("br0"), fd: 3)),
    ParseCase("last --br and --fd win", ["--br=br0", "--fd=3", "--br=br1", "--fd=4"],
              .attach(vnet: false, bridge: bytes("br1"), fd: 4)),
    ParseCase("non-UTF-8 program name", raw: [[0xFF, 0x0A], bytes("--br=br0"), bytes("--fd=3")],
              .attach(vnet: false, bridge: bytes("br0"), fd: 3)),
    ParseCase("non-UTF-8 bridge kept as bytes", raw: [program, bytes("--br=") + [0xFF], bytes("--fd=3")],
              .attach(vnet: false, bridge: [0xFF], fd: 3)),
    ParseCase("decomposed e-acute kept as bytes", ["--br=e\u{301}", "--fd=3"],
              .attach(vnet: false, bridge: [0x65, 0xCC, 0x81], fd: 3)),
    ParseCase("empty bridge parses (validated later)", ["--br=", "--fd=3"], .attach(vnet: false, bridge: [], fd: 3)),
    ParseCase("4096-byte bridge parses (validated later)", raw: [program, bytes("--br=") + repeated("x", 4096), bytes("--fd=3")],
              .attach(vnet: false, bridge: repeated("x", 4096), fd: 3)),
    ParseCase("bridge value with '='", ["--br=a=b", "--fd=3"], .attach(vnet: false, bridge: bytes("a=b"), fd: 3)),
    ParseCase("bridge value that looks like an option", ["--br=--fd=3"], .failure(.usage)),
    ParseCase("--fd=0", ["--br=br0", "--fd=0"], .attach(vnet: false, bridge: bytes("br0"), fd: 0)),
    ParseCase("--fd=007", ["--br=br0", "--fd=007"], .attach(vnet: false, bridge: bytes("br0"), fd: 7)),
    ParseCase("--fd=INT_MAX", ["--br=br0", "--fd=2147483647"], .attach(vnet: false, bridge: bytes("br0"), fd: Int32.max)),
    ParseCase("--fd with ten digits and leading zeros", ["--br=br0", "--fd=0000000003"],
              .attach(vnet: false, bridge: bytes("br0"), fd: 3)),
    ParseCase("--fd with twenty leading zeros (only significant digits are capped)",
              ["--br=br0", "--fd=000000000000000000003"], .attach(vnet: false, bridge: bytes("br0"), fd: 3)),
    ParseCase("--fd=0000000000 is 0", ["--br=br0", "--fd=0000000000"], .attach(vnet: false, bridge: bytes("br0"), fd: 0)),
    badFD(""),
    badFD("-1"),
    badFD("abc"),
    badFD("3abc"),
    badFD("4junk"),
    badFD("+3"),
    badFD(" 3"),
    badFD("3 "),
    badFD("0x3"),
    badFD("3.0"),
    badFD("99999999999"),
    badFD("2147483648"),
    badFD("4294967299"),
    badFD("\u{663}"),  // ARABIC-INDIC DIGIT THREE: a digit to Unicode, not to us
    ParseCase("bad --fd after a good one", ["--br=br0", "--fd=3", "--fd=x"], .failure(.badDescriptor(bytes("x")))),
    ParseCase("bad --fd before a good one", ["--fd=x", "--fd=3", "--br=br0"], .failure(.badDescriptor(bytes("x")))),
    ParseCase("missing --fd", ["--br=br0"], .failure(.usage)),
    ParseCase("missing --br", ["--fd=3"], .failure(.usage)),
    ParseCase("only --use-vnet", ["--use-vnet"], .failure(.usage)),
    ParseCase("unknown --foo", ["--br=br0", "--fd=3", "--foo"], .failure(.usage)),
    ParseCase("-h", ["-h"], .failure(.usage)),
    ParseCase("--br without =", ["--br", "br0", "--fd=3"], .failure(.usage)),
    ParseCase("--fd 3 as two arguments", ["--br=br0", "--fd", "3"], .failure(.usage)),
    ParseCase("upper-case option", ["--BR=br0", "--fd=3"], .failure(.usage)),
    ParseCase("--use-vnet with a value", ["--use-vnet=1", "--br=br0", "--fd=3"], .failure(.usage)),
    ParseCase("empty argument", ["--br=br0", "", "--fd=3"], .failure(.usage)),
    ParseCase("positional argument", ["br0", "--fd=3"], .failure(.usage)),
    ParseCase("--help", ["--help"], .help),
    ParseCase("--version", ["--version"], .version),
    ParseCase("--help after valid options", ["--br=br0", "--fd=3", "--help"], .help),
    ParseCase("64 arguments", Array(repeating: "--use-vnet", count: 62) + ["--br=br0", "--fd=3"],
              .attach(vnet: true, bridge: bytes("br0"), fd: 3)),
    ParseCase("65 arguments", Array(repeating: "--use-vnet", count: 63) + ["--br=br0", "--fd=3"], .failure(.usage)),
    ParseCase("8192-byte argument", raw: [program, bytes("--br=") + repeated("x", 8192 - 5), bytes("--fd=3")],
              .attach(vnet: false, bridge: repeated("x", 8192 - 5), fd: 3)),
    ParseCase("8193-byte argument", raw: [program, bytes("--br=") + repeated("x", 8193 - 5), bytes("--fd=3")],
              .failure(.usage)),
    ParseCase("1 MiB --br argument", raw: [program, bytes("--br=") + repeated("x", 1 << 20), bytes("--fd=3")],
              .failure(.usage)),
    ParseCase("1 MiB --fd argument", raw: [program, bytes("--br=br0"), bytes("--fd=") + repeated("1", 1 << 20)],
              .failure(.usage)),
    ParseCase("1 MiB unknown argument", raw: [program, repeated("-", 1 << 20)], .failure(.usage)),
]

@Suite("HelperCommandLine")
struct CommandLineTests {
    @Test(arguments: parseCases)
    func parse(_ testCase: ParseCase) {
        let outcome: ParseOutcome
        switch HelperCommandLine.parse(testCase.argv) {
        case .success(.attach(let parsed)):
            outcome = .attach(vnet: parsed.useVirtioNetHeader, bridge: parsed.bridge, fd: parsed.socket)
        case .success(.help): outcome = .help
        case .success(.version): outcome = .version
        case .failure(let error): outcome = .failure(error)
        }
        #expect(outcome == testCase.expected)
    }

    /// The published limits are the enforced ones: at each limit a command line is accepted,
    /// one over it is refused (the parse cases above pin the numbers, 64 and 8192).
    @Test func limits() {
        let count = HelperCommandLine.maximumArguments
        let atCount = Array(repeating: bytes("--use-vnet"), count: count - 2) + [bytes("--br=br0"), bytes("--fd=3")]
        #expect(arguments([program] + atCount) != nil)
        #expect(arguments([program, bytes("--use-vnet")] + atCount) == nil)
        let length = HelperCommandLine.maximumArgumentLength
        let name = repeated("x", length - 5)  // "--br=" + name is exactly at the limit
        #expect(arguments([program, bytes("--br=") + name, bytes("--fd=3")])?.bridge == name)
        #expect(arguments([program, bytes("--br=") + name + bytes("x"), bytes("--fd=3")]) == nil)
        #expect(arguments([program, bytes("--br=br0"), bytes("--fd=") + repeated("0", length - 6) + bytes("3")])?.socket == 3)
        #expect(arguments([program, bytes("--br=br0"), bytes("--fd=") + repeated("0", length - 5) + bytes("3")]) == nil)
    }

    @Test func helpStartsWithTheUsageLine() {
        let lines = HelperCommandLine.helpText.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.first == "Usage: bridgekeeper-helper [--use-vnet] --br=bridge --fd=unixfd")
        #expect(HelperCommandLine.helpText.hasSuffix("\n"))
        #expect(HelperCommandLine.versionText == "bridgekeeper-helper \(Installation.version)\n")
    }
}

let badDescriptorMessages: [([UInt8], String)] = [
    (bytes("abc"), "invalid --fd value 'abc': expected a decimal descriptor number 0..2147483647"),
    ([], "invalid --fd value '': expected a decimal descriptor number 0..2147483647"),
    (bytes("-1"), "invalid --fd value '-1': expected a decimal descriptor number 0..2147483647"),
    (bytes("3\n") + [0x1B] + bytes("[2J'"),
     "invalid --fd value '3\\x0a\\x1b[2J\\x27': expected a decimal descriptor number 0..2147483647"),
    ([0xC2, 0x9B] + bytes("result=allow"),
     "invalid --fd value '\\xc2\\x9bresult=allow': expected a decimal descriptor number 0..2147483647"),
    (repeated("9", 100),
     "invalid --fd value '" + String(repeating: "9", count: 64) + "...': expected a decimal descriptor number 0..2147483647"),
]

@Suite("Helper messages")
struct HelperMessageTests {
    @Test func usageLine() {
        #expect(HelperCommandLine.usageLine == "Usage: bridgekeeper-helper [--use-vnet] --br=bridge --fd=unixfd")
        #expect(ArgumentError.usage.message == "Usage: bridgekeeper-helper [--use-vnet] --br=bridge --fd=unixfd")
    }

    @Test func noProgramName() {
        #expect(ArgumentError.noProgramName.message == "bridgekeeper-helper: called without argv[0]; refusing")
    }

    @Test(arguments: badDescriptorMessages)
    func badDescriptor(_ value: [UInt8], _ expected: String) {
        #expect(ArgumentError.badDescriptor(value).message == expected)
    }
}
