import BridgeACL
import Testing

/// One byte string and what `InterfaceName(validating:)` must say about it (threats #9).
struct NameCase: Sendable, CustomTestStringConvertible {
    let label: String
    let bytes: [UInt8]
    /// nil: a valid name.
    let problem: InterfaceName.Problem?
    /// The exact `Problem.explanation`, when invalid.
    let explanation: String?

    static func valid(_ label: String, _ bytes: [UInt8]) -> NameCase {
        NameCase(label: label, bytes: bytes, problem: nil, explanation: nil)
    }
    static func invalid(_ label: String, _ bytes: [UInt8], _ problem: InterfaceName.Problem,
                        _ explanation: String) -> NameCase {
        NameCase(label: label, bytes: bytes, problem: problem, explanation: explanation)
    }

    var testDescription: String { label }
}

let nameCases: [NameCase] = [
    .invalid("empty", [], .empty, "is empty"),
    .valid("one byte", bytes("a")),
    .valid("typical", bytes("br0")),
    .valid("15 bytes", bytes("012345678901234")),
    .invalid("16 bytes", bytes("0123456789abcdef"), .tooLong(length: 16),
             "is too long: 16 bytes (at most 15)"),
    .invalid("4096 bytes", repeated("x", 4096), .tooLong(length: 4096),
             "is too long: 4096 bytes (at most 15)"),
    .invalid("16 bytes of '/' (length is checked first)", repeated("/", 16), .tooLong(length: 16),
             "is too long: 16 bytes (at most 15)"),
    .invalid("dot", bytes("."), .dotName, "is not a valid interface name: '.' and '..' are reserved"),
    .invalid("dot dot", bytes(".."), .dotName, "is not a valid interface name: '.' and '..' are reserved"),
    .valid("three dots", bytes("...")),
    .valid("leading dot", bytes(".br0")),
    .invalid("slash", bytes("a/b"), .forbiddenByte(0x2F), "is not a valid interface name: it contains '/'"),
    .invalid("colon", bytes("a:b"), .forbiddenByte(0x3A), "is not a valid interface name: it contains ':'"),
    .invalid("space", bytes("a b"), .forbiddenByte(0x20),
             "is not a valid interface name: it contains whitespace (\\x20)"),
    .invalid("trailing space", bytes("br0 "), .forbiddenByte(0x20),
             "is not a valid interface name: it contains whitespace (\\x20)"),
    .invalid("tab", bytes("a\tb"), .forbiddenByte(0x09),
             "is not a valid interface name: it contains whitespace (\\x09)"),
    .invalid("newline", bytes("a\nb"), .forbiddenByte(0x0A),
             "is not a valid interface name: it contains whitespace (\\x0a)"),
    .invalid("NUL", [0x61, 0x00, 0x62], .forbiddenByte(0x00),
             "is not a valid interface name: it contains a NUL byte"),
    .invalid("vertical tab alone", [0x0B], .forbiddenByte(0x0B),
             "is not a valid interface name: it contains whitespace (\\x0b)"),
    .invalid("form feed", bytes("br\u{0C}0"), .forbiddenByte(0x0C),
             "is not a valid interface name: it contains whitespace (\\x0c)"),
    .invalid("carriage return", bytes("br0\r"), .forbiddenByte(0x0D),
             "is not a valid interface name: it contains whitespace (\\x0d)"),
    .invalid("first forbidden byte is reported", bytes("a:b/c"), .forbiddenByte(0x3A),
             "is not a valid interface name: it contains ':'"),
    .valid("non-UTF-8 0xff", [0xFF]),
    .valid("precomposed e-acute", [0xC3, 0xA9]),
    .valid("decomposed e-acute", [0x65, 0xCC, 0x81]),
    .valid("C1 CSI as UTF-8 (not whitespace for the kernel)", [0x62, 0xC2, 0x9B]),
    .valid("DEL", [0x7F]),
    .valid("ESC", [0x1B]),
    .valid("ALL is just a name", bytes("ALL")),
    .valid("all is just a name at this level", bytes("all")),
    .valid("hash", bytes("br0#lab")),
    .valid("equals sign", bytes("result=allow")),
    // The kernel's isspace() (lib/ctype.c) classes 0xA0 (Latin-1 NBSP) as whitespace, so
    // dev_valid_name() rejects any name containing that byte: "\u{a0}" and "à" (0xc3 0xa0).
    .invalid("byte 0xa0 (kernel isspace)", [0x62, 0x72, 0xA0], .forbiddenByte(0xA0),
             "is not a valid interface name: it contains whitespace (\\xa0)"),
    .invalid("a-grave contains 0xa0", [0xC3, 0xA0], .forbiddenByte(0xA0),
             "is not a valid interface name: it contains whitespace (\\xa0)"),
]

@Suite("InterfaceName")
struct InterfaceNameTests {
    @Test(arguments: nameCases)
    func validation(_ testCase: NameCase) {
        let problem: InterfaceName.Problem?
        do {
            let name = try InterfaceName(validating: testCase.bytes)
            #expect(name.bytes == testCase.bytes, "a valid name keeps its bytes unchanged")
            problem = nil
        } catch {
            problem = error
        }
        #expect(problem == testCase.problem)
        #expect(problem?.explanation == testCase.explanation)
    }

    @Test func validationAcceptsAnyByteCollection() throws {
        let slice = bytes("xbr0x").dropFirst().dropLast()
        #expect(try InterfaceName(validating: slice).bytes == bytes("br0"))
    }

    @Test func bothFormsOfEAcuteAreDifferentNames() throws {
        let precomposed = try InterfaceName(validating: [0xC3, 0xA9])
        let decomposed = try InterfaceName(validating: [0x65, 0xCC, 0x81])
        // Swift's String would call these equal (canonical equivalence); the kernel does not.
        #expect("\u{e9}" == "e\u{301}")
        #expect(precomposed != decomposed)
        #expect(Set([precomposed, decomposed]).count == 2)
        #expect(precomposed.description == "\\xc3\\xa9")
        #expect(decomposed.description == "e\\xcc\\x81")
    }

    @Test func caseMatters() throws {
        #expect(try name("ALL") != name("all"))
        #expect(try name("BR0") != name("br0"))
    }

    @Test func invalidUTF8IsKeptAsIs() throws {
        let name = try InterfaceName(validating: [0x62, 0xFF, 0xFE])
        #expect(name.bytes == [0x62, 0xFF, 0xFE])
        #expect(name.description == "b\\xff\\xfe")
        #expect(name != (try InterfaceName(validating: [0x62, 0xEF, 0xBF, 0xBD])))  // not "repaired" to U+FFFD
    }

    @Test func maximumLengthIsIFNAMSIZMinusOne() {
        #expect(InterfaceName.maximumLength == 15)
    }

    @Test func everySingleByteName() {
        // Exactly NUL, '/', ':', space, \t \n \v \f \r and 0xa0 are rejected on their own, plus '.'.
        let rejected: Set<UInt8> = [0x00, 0x2F, 0x3A, 0x20, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0xA0, 0x2E]
        var wrong: [UInt8] = []
        for byte in UInt8.min...UInt8.max {
            let accepted = (try? InterfaceName(validating: [byte])) != nil
            if accepted == rejected.contains(byte) { wrong.append(byte) }
        }
        #expect(wrong == [], "bytes classified differently from the kernel's dev_valid_name()")
    }
}
