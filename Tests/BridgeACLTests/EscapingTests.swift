import BridgeACL
import Testing

/// Terminal and log injection (threats #17): everything outside printable ASCII, plus the
/// backslash and the single quote, becomes `\xNN`.
struct EscapeCase: Sendable, CustomTestStringConvertible {
    let label: String
    let input: [UInt8]
    let expected: String
    var testDescription: String { label }
}

let escapeCases: [EscapeCase] = [
    EscapeCase(label: "empty", input: [], expected: ""),
    EscapeCase(label: "plain name", input: bytes("br0"), expected: "br0"),
    EscapeCase(label: "newline", input: bytes("br0\nresult=allow"), expected: "br0\\x0aresult=allow"),
    EscapeCase(label: "carriage return", input: bytes("a\rb"), expected: "a\\x0db"),
    EscapeCase(label: "tab", input: bytes("a\tb"), expected: "a\\x09b"),
    EscapeCase(label: "ESC clear screen", input: [0x1B] + bytes("[2J"), expected: "\\x1b[2J"),
    EscapeCase(label: "C1 CSI as UTF-8", input: [0xC2, 0x9B] + bytes("31m"), expected: "\\xc2\\x9b31m"),
    EscapeCase(label: "backslash", input: bytes("a\\b"), expected: "a\\x5cb"),
    EscapeCase(label: "literal \\x0a text cannot be confused with an escape",
               input: bytes("\\x0a"), expected: "\\x5cx0a"),
    EscapeCase(label: "single quote", input: bytes("it's"), expected: "it\\x27s"),
    EscapeCase(label: "double quote is printable", input: bytes("a\"b"), expected: "a\"b"),
    EscapeCase(label: "key=value passes through", input: bytes("result=allow"), expected: "result=allow"),
    EscapeCase(label: "space passes through", input: bytes("br0 result=allow"), expected: "br0 result=allow"),
    EscapeCase(label: "NUL", input: [0x61, 0x00], expected: "a\\x00"),
    EscapeCase(label: "DEL", input: [0x7F], expected: "\\x7f"),
    EscapeCase(label: "0xff", input: [0xFF], expected: "\\xff"),
    EscapeCase(label: "UTF-8 e-acute", input: [0xC3, 0xA9], expected: "\\xc3\\xa9"),
    EscapeCase(label: "printable ASCII bounds", input: [0x20, 0x7E, 0x1F], expected: " ~\\x1f"),
]

struct LimitCase: Sendable, CustomTestStringConvertible {
    let label: String
    let input: [UInt8]
    let limit: Int
    let expected: String
    var testDescription: String { label }
}

let limitCases: [LimitCase] = [
    LimitCase(label: "shorter than the limit", input: bytes("ab"), limit: 3, expected: "ab"),
    LimitCase(label: "exactly the limit", input: bytes("abc"), limit: 3, expected: "abc"),
    LimitCase(label: "one over the limit", input: bytes("abcd"), limit: 3, expected: "abc..."),
    LimitCase(label: "escapes count as one byte each", input: [0x0A, 0x0A, 0x0A], limit: 2,
              expected: "\\x0a\\x0a..."),
    LimitCase(label: "limit zero", input: bytes("a"), limit: 0, expected: "..."),
    LimitCase(label: "1 MiB", input: repeated("x", 1 << 20), limit: 64,
              expected: String(repeating: "x", count: 64) + "..."),
    LimitCase(label: "ESC within the limit, newline after it", input: [0x1B] + bytes("ab\n"), limit: 3,
              expected: "\\x1bab..."),
]

@Suite("Escaping")
struct EscapingTests {
    @Test(arguments: escapeCases)
    func escape(_ testCase: EscapeCase) {
        #expect(Escaping.escape(testCase.input) == testCase.expected)
    }

    @Test(arguments: limitCases)
    func escapeWithLimit(_ testCase: LimitCase) {
        #expect(Escaping.escape(testCase.input, limit: testCase.limit) == testCase.expected)
    }

    @Test func everyByte() {
        let hex = Array("0123456789abcdef")
        var wrong: [UInt8] = []
        for byte in UInt8.min...UInt8.max {
            let plain = byte >= 0x20 && byte <= 0x7E && byte != 0x5C && byte != 0x27
            let expected = plain
                ? String(UnicodeScalar(byte))
                : "\\x" + String(hex[Int(byte >> 4)]) + String(hex[Int(byte & 0xF)])
            if Escaping.escape([byte]) != expected { wrong.append(byte) }
        }
        #expect(wrong == [])
    }

    @Test func outputIsAlwaysPrintableASCII() {
        let all = Array(UInt8.min...UInt8.max)
        let escaped = Escaping.escape(all)
        #expect(escaped.utf8.allSatisfy { $0 >= 0x20 && $0 <= 0x7E })
        #expect(escaped.utf8.count == 95 - 2 + (256 - 95 + 2) * 4)
    }

    @Test func interfaceNameDescriptionIsEscaped() throws {
        #expect(try InterfaceName(validating: [0x62, 0x1B, 0xC2, 0x9B, 0x27]).description == "b\\x1b\\xc2\\x9b\\x27")
    }

    @Test func sourceLocationEscapesThePath() {
        let location = BridgeACL.SourceLocation(path: bytes("/etc/qemu/a\nb.conf"), line: 7)
        #expect(location.description == "/etc/qemu/a\\x0ab.conf:7")
    }
}

@Suite("Escaping.json")
struct JSONEscapingTests {
    @Test func quotesBackslashesAndControls() {
        #expect(Escaping.json("br0") == "\"br0\"")
        #expect(Escaping.json("a\"b\\c") == "\"a\\\"b\\\\c\"")
        #expect(Escaping.json("\n\t\r\u{1}\u{7F}") == "\"\\n\\t\\r\\u0001\\u007f\"")
        #expect(Escaping.json(Escaping.escape([0x1B, 0x27, 0x5C])) == "\"\\\\x1b\\\\x27\\\\x5c\"")
    }
}
