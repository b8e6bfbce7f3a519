import BridgeACL
import Testing

/// The TAP mark (issue 9, item 5): one rendering, one parser, hostile paths kept in one field.
struct MarkCase: Sendable, CustomTestStringConvertible {
    let label: String
    let uid: UInt32
    let path: [UInt8]
    let line: Int
    let rendered: String
    /// What `bridgekeeper taps` shows as the rule.
    let rule: String
    var testDescription: String { label }
}

let markCases: [MarkCase] = [
    MarkCase(label: "plain", uid: 1001, path: bytes("/etc/qemu/bridge.conf"), line: 2,
             rendered: "bridgekeeper uid=1001 rule=/etc/qemu/bridge.conf:2", rule: "/etc/qemu/bridge.conf:2"),
    MarkCase(label: "root", uid: 0, path: bytes("/etc/qemu/bridge.conf"), line: 1,
             rendered: "bridgekeeper uid=0 rule=/etc/qemu/bridge.conf:1", rule: "/etc/qemu/bridge.conf:1"),
    MarkCase(label: "largest uid", uid: UInt32.max, path: bytes("/a"), line: 9_999_999,
             rendered: "bridgekeeper uid=4294967295 rule=/a:9999999", rule: "/a:9999999"),
    MarkCase(label: "a space and a fake field", uid: 1001, path: bytes("/etc/qemu/x uid=0 rule=/y"), line: 3,
             rendered: "bridgekeeper uid=1001 rule=/etc/qemu/x%20uid%3D0%20rule%3D/y:3", rule: "/etc/qemu/x uid=0 rule=/y:3"),
    MarkCase(label: "a colon and a fake line", uid: 7, path: bytes("/etc/qemu/a:9"), line: 1,
             rendered: "bridgekeeper uid=7 rule=/etc/qemu/a%3A9:1", rule: "/etc/qemu/a:9:1"),
    MarkCase(label: "newline, tab, ESC", uid: 7, path: bytes("/q/\n\t") + [0x1B] + bytes("[2J"), line: 1,
             rendered: "bridgekeeper uid=7 rule=/q/%0A%09%1B[2J:1", rule: "/q/\\x0a\\x09\\x1b[2J:1"),
    MarkCase(label: "percent, quotes, backslash", uid: 7, path: bytes("/q/%41\"'\\"), line: 1,
             rendered: "bridgekeeper uid=7 rule=/q/%2541%22%27%5C:1", rule: "/q/%41\"\\x27\\x5c:1"),
    MarkCase(label: "non-UTF-8 and DEL", uid: 7, path: [0x2F, 0xFF, 0xC2, 0x9B, 0x7F], line: 1,
             rendered: "bridgekeeper uid=7 rule=/%FF%C2%9B%7F:1", rule: "/\\xff\\xc2\\x9b\\x7f:1"),
    MarkCase(label: "NUL", uid: 7, path: [0x2F, 0x00, 0x61], line: 1,
             rendered: "bridgekeeper uid=7 rule=/%00a:1", rule: "/\\x00a:1"),
    // A relative path never reaches a rule, but if one did it could not read as elided.
    MarkCase(label: "first byte not a slash", uid: 7, path: bytes("...x"), line: 1,
             rendered: "bridgekeeper uid=7 rule=%2E..x:1", rule: "...x:1"),
]

@Suite("TapMark")
struct TapMarkTests {
    @Test(arguments: markCases)
    func rendersAndParsesBack(_ testCase: MarkCase) throws {
        let mark = TapMark(uid: testCase.uid, path: testCase.path, line: testCase.line)
        #expect(String(decoding: mark.rendered, as: UTF8.self) == testCase.rendered)
        #expect(mark.rule == testCase.rule)
        let parsed = try #require(TapMark.parse(mark.rendered))
        #expect(parsed == mark)
        #expect(!parsed.elided)
        // Exactly three space-separated fields, whatever the path holds.
        #expect(mark.rendered.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false).count == 3)
        #expect(mark.rendered.allSatisfy { $0 > 0x20 && $0 < 0x7F || $0 == 0x20 })
    }

    @Test func fromALocation() {
        let mark = TapMark(uid: 1001, rule: location("/etc/qemu/lab.conf", 12))
        #expect(String(decoding: mark.rendered, as: UTF8.self) == "bridgekeeper uid=1001 rule=/etc/qemu/lab.conf:12")
    }

    /// 254 bytes is the limit: a record of exactly 254 is kept whole, one more byte elides.
    @Test func longestWholeRecord() throws {
        let head = "bridgekeeper uid=1001 rule="
        let fill = 254 - head.utf8.count - ":1".utf8.count
        let path = bytes("/") + repeated("a", fill - 1)
        let whole = TapMark(uid: 1001, path: path, line: 1)
        #expect(whole.rendered.count == 254)
        #expect(try #require(TapMark.parse(whole.rendered)) == whole)

        let longer = TapMark(uid: 1001, path: path + bytes("b"), line: 1)
        let rendered = longer.rendered
        #expect(rendered.count <= 254)
        let text = String(decoding: rendered, as: UTF8.self)
        #expect(text.hasPrefix(head + "..."))
        #expect(text.hasSuffix("aab:1"))
        let parsed = try #require(TapMark.parse(rendered))
        #expect(parsed.elided)
        #expect(parsed.uid == 1001)
        #expect(parsed.line == 1)
        // The kept tail is the path's end, exactly.
        #expect((path + bytes("b")).reversed().starts(with: parsed.path.reversed()))
        #expect(parsed.rule.hasPrefix("...aaa"))
    }

    /// A 4096-byte path of bytes that each take three: cut between units, never inside one.
    @Test func elisionNeverSplitsAnEscape() throws {
        let path = bytes("/") + [UInt8](repeating: 0x20, count: 4095) + bytes("/bridge.conf")
        let mark = TapMark(uid: 65534, path: path, line: 4096)
        let rendered = mark.rendered
        #expect(rendered.count <= 254)
        #expect(rendered.count > 249)
        let text = String(decoding: rendered, as: UTF8.self)
        #expect(text.hasPrefix("bridgekeeper uid=65534 rule=...%20"))
        #expect(text.hasSuffix("%20/bridge.conf:4096"))
        let parsed = try #require(TapMark.parse(rendered))
        #expect(parsed.elided)
        #expect(path.reversed().starts(with: parsed.path.reversed()))
        #expect(parsed.rule.hasPrefix("... "))
        #expect(parsed.rule.hasSuffix(" /bridge.conf:4096"))
    }

    @Test(arguments: [
        "", "bridgekeeper", "vm web01", "bridgekeeper uid=1001",
        "bridgekeeper uid=1001 rule=/etc/qemu/bridge.conf",          // no line
        "bridgekeeper uid=1001 rule=/etc/qemu/bridge.conf:0",        // line 0
        "bridgekeeper uid=1001 rule=/etc/qemu/bridge.conf:02",       // leading zero
        "bridgekeeper uid=01001 rule=/etc/qemu/bridge.conf:2",       // leading zero
        "bridgekeeper uid=-1 rule=/etc/qemu/bridge.conf:2",
        "bridgekeeper uid=4294967296 rule=/etc/qemu/bridge.conf:2",  // beyond uid_t
        "bridgekeeper uid=1001 rule=/etc/qemu/bridge.conf:2 ",       // trailing space
        "bridgekeeper uid=1001 rule=/etc/qemu/bridge.conf:2 uid=0",  // an extra field
        "bridgekeeper uid=1001  rule=/etc/qemu/bridge.conf:2",
        "bridgekeeper uid=1001 rule=/etc/qemu/my bridge.conf:2",     // unencoded space
        "bridgekeeper uid=1001 rule=/etc/qemu/a=b:2",                // unencoded '='
        "bridgekeeper uid=1001 rule=/etc/qemu/a:b:2",                // unencoded ':'
        "bridgekeeper uid=1001 rule=/etc/qemu/%41:2",                // 'A' need not be encoded
        "bridgekeeper uid=1001 rule=/etc/qemu/%3a:2",                // lowercase hex
        "bridgekeeper uid=1001 rule=/etc/qemu/%3:2",                 // short escape
        "bridgekeeper uid=1001 rule=etc/qemu/bridge.conf:2",         // first byte must be encoded
        "Bridgekeeper uid=1001 rule=/etc/qemu/bridge.conf:2",
    ])
    func rejectsAnythingElse(_ alias: String) {
        #expect(TapMark.parse(bytes(alias)) == nil)
    }

    @Test func rejectsMoreThan254Bytes() {
        let alias = bytes("bridgekeeper uid=1 rule=/") + repeated("a", 300) + bytes(":1")
        #expect(TapMark.parse(alias) == nil)
    }

    @Test func rejectsRawControlBytes() {
        #expect(TapMark.parse(bytes("bridgekeeper uid=1 rule=/a\n:1")) == nil)
        #expect(TapMark.parse(bytes("bridgekeeper uid=1 rule=/a") + [0xFF] + bytes(":1")) == nil)
    }
}
