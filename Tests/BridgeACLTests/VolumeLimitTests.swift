import BridgeACL
import Testing

/// The total-volume limits (issue 7 item 4): bytes read from all files and `allow`/`deny`/
/// `include` lines in all files, each at the limit (loads) and one past it (refused, naming the
/// line where the limit was hit).
@Suite("Volume limits")
struct VolumeLimitTests {
    static let mib = 1 << 20

    /// `count` bytes of comment lines (1024-byte lines, the last one shorter), ending in `\n`.
    func comments(_ count: Int) -> [UInt8] {
        var text: [UInt8] = []
        text.reserveCapacity(count)
        while text.count < count {
            let line = min(1024, count - text.count)
            text += bytes("#") + repeated("x", line - 2) + bytes("\n")
        }
        return text
    }

    /// `count` lines of `line` (which ends in `\n`).
    func lines(_ line: String, _ count: Int) -> [UInt8] {
        let one = bytes(line)
        var text: [UInt8] = []
        text.reserveCapacity(one.count * count)
        for _ in 0..<count { text += one }
        return text
    }

    /// A policy that must not load, with its exact message (Support.swift).
    func expectFailure(_ result: Result<Policy, PolicyError>, _ expected: PolicyError, message: String,
                sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        expectPolicyError(result, expected, message: message, sourceLocation: sourceLocation)
    }

    /// A top-level file that allows br0 and includes a.conf, b.conf, c.conf, d.conf; a-c are
    /// 1 MiB of comments and d.conf fills the rest up to `total` bytes.
    func bytesTree(total: Int) -> MemoryACLTree {
        let top = "allow br0\ninclude /etc/qemu/a.conf\ninclude /etc/qemu/b.conf\ninclude /etc/qemu/c.conf\ninclude /etc/qemu/d.conf\n"
        let tree = MemoryACLTree([topLevelPath: top])
        for file in ["a", "b", "c"] { tree.add("/etc/qemu/\(file).conf", contents: comments(Self.mib)) }
        tree.add("/etc/qemu/d.conf", contents: comments(total - 3 * Self.mib - bytes(top).count))
        return tree
    }

    @Test func exactlyFourMebibytesInTotalAreRead() throws {
        guard case .success(let policy) = loadPolicy(bytesTree(total: 4 * Self.mib)) else {
            Issue.record("expected the policy to load")
            return
        }
        #expect(policy.filesRead.count == 5)
        #expect(policy.decideAsStock(bridge: try name("br0")).isAllowed)
    }

    @Test func oneByteMoreIsRefusedAtTheIncludeThatCrossesTheLimit() {
        expectFailure(loadPolicy(bytesTree(total: 4 * Self.mib + 1)),
                      .tooManyBytes(at: location(topLevelPath, 5), limit: 4 << 20),
                      message: "/etc/qemu/bridge.conf:5: more than 4194304 bytes of ACL files in total")
    }

    /// The issue's case: 200 includes of 1 MiB of `allow all` (about 21 million rules, 11 s and
    /// 1 GiB before): the directive limit stops it inside the first include.
    @Test func twoHundredMebibytesOfAllowAllStopAtTheDirectiveLimit() {
        var top = ""
        for index in 1...200 { top += "include /etc/qemu/big/i\(index).conf\n" }
        let tree = MemoryACLTree([topLevelPath: top])
        let big = lines("allow all\n", Self.mib / 10)
        for index in 1...200 { tree.add("/etc/qemu/big/i\(index).conf", contents: big) }
        // Directive 1 is the include on line 1; line N of i1.conf is directive N + 1.
        expectFailure(loadPolicy(tree), .tooManyDirectives(at: location("/etc/qemu/big/i1.conf", 100_000), limit: 100_000),
                      message: "/etc/qemu/big/i1.conf:100000: more than 100000 rules and includes in total")
    }

    /// 200 includes of 1 MiB of comments: the byte limit stops it at the fourth include.
    @Test func twoHundredMebibytesOfCommentsStopAtTheByteLimit() {
        var top = ""
        for index in 1...200 { top += "include /etc/qemu/big/c\(index).conf\n" }
        let tree = MemoryACLTree([topLevelPath: top])
        let big = comments(Self.mib)  // one buffer shared by the 200 files
        for index in 1...200 { tree.add("/etc/qemu/big/c\(index).conf", contents: big) }
        expectFailure(loadPolicy(tree), .tooManyBytes(at: location(topLevelPath, 4), limit: 4 << 20),
                      message: "/etc/qemu/bridge.conf:4: more than 4194304 bytes of ACL files in total")
    }

    /// 100,000 directives: the top-level file's `allow br0` and three includes, and 33,332
    /// longest-name rules in each included file.
    func directivesTree(extra: Int) -> MemoryACLTree {
        let tree = MemoryACLTree([topLevelPath: "allow br0\ninclude /etc/qemu/a.conf\ninclude /etc/qemu/b.conf\ninclude /etc/qemu/c.conf\n"])
        tree.add("/etc/qemu/a.conf", contents: lines("deny abcdefghijklmno\n", 33_332))
        tree.add("/etc/qemu/b.conf", contents: lines("deny abcdefghijklmno\n", 33_332))
        tree.add("/etc/qemu/c.conf", contents: lines("deny abcdefghijklmno\n", 33_332 + extra))
        return tree
    }

    @Test func exactlyOneHundredThousandDirectivesLoad() throws {
        guard case .success(let policy) = loadPolicy(directivesTree(extra: 0)) else {
            Issue.record("expected the policy to load")
            return
        }
        #expect(policy.rules.count == 1 + 3 * 33_332)
        #expect(policy.decideAsStock(bridge: try name("br0")).isAllowed)
    }

    @Test func oneDirectiveMoreIsRefusedAtThatLine() {
        expectFailure(loadPolicy(directivesTree(extra: 1)),
                      .tooManyDirectives(at: location("/etc/qemu/c.conf", 33_333), limit: 100_000),
                      message: "/etc/qemu/c.conf:33333: more than 100000 rules and includes in total")
    }

    @Test func includesCountAsDirectivesEvenWhenSkipped() throws {
        var limits = ACLLimits()
        limits.maximumDirectives = 3
        let fits = MemoryACLTree([topLevelPath: "include /etc/qemu/missing.conf\nallow br0\n# c\ninclude /etc/qemu/other.conf\n"])
        guard case .success(let policy) = loadPolicy(fits, limits: limits) else {
            Issue.record("expected the policy to load")
            return
        }
        #expect(policy.skippedIncludes == [location(topLevelPath, 1), location(topLevelPath, 4)])
        let over = MemoryACLTree([topLevelPath: "include /etc/qemu/missing.conf\nallow br0\ninclude /etc/qemu/other.conf\n\ndeny br1\n"])
        expectFailure(loadPolicy(over, limits: limits), .tooManyDirectives(at: location(topLevelPath, 5), limit: 3),
                      message: "/etc/qemu/bridge.conf:5: more than 3 rules and includes in total")
    }

    @Test func configuredByteLimitCountsTheTopLevelFile() {
        var limits = ACLLimits()
        limits.maximumTotalBytes = 20
        let tree = MemoryACLTree([topLevelPath: "include /etc/qemu/a\n", "/etc/qemu/a": "#\n"])  // 20 + 2 bytes
        expectFailure(loadPolicy(tree, limits: limits), .tooManyBytes(at: location(topLevelPath, 1), limit: 20),
                      message: "/etc/qemu/bridge.conf:1: more than 20 bytes of ACL files in total")
        limits.maximumTotalBytes = 22
        #expect((try? loadPolicy(tree, limits: limits).get()) != nil)
        limits.maximumTotalBytes = 19
        expectFailure(loadPolicy(tree, limits: limits),
                      .refused(path: bytes(topLevelPath), reason: .tooLarge(bytes(topLevelPath), limit: 19), includedAt: nil),
                      message: "/etc/qemu/bridge.conf is larger than 19 bytes")
    }

    /// A syntax error anywhere in a file still refuses before any of its includes is read and
    /// before its directive count matters (the first pass checks the whole file).
    @Test func aSyntaxErrorAfterTheLimitIsReportedAsSuch() {
        var limits = ACLLimits()
        limits.maximumDirectives = 2
        let tree = MemoryACLTree([topLevelPath: "allow a\nallow b\nallow c\nallow d e\n"])
        guard case .failure(.syntax(let error)) = loadPolicy(tree, limits: limits) else {
            Issue.record("expected a syntax error")
            return
        }
        #expect(error.description == "/etc/qemu/bridge.conf:4: unexpected 'e' after the bridge name (one bridge per rule)")
    }

    /// Issue 7 item 8's layout (10,000 per-user includes, one readable) and 10,000 rules fit.
    @Test func tenThousandIncludesAndTenThousandRulesFit() throws {
        var top = ""
        for index in 1...10_000 { top += "include /etc/qemu/users/u\(index).conf\n" }
        let tree = MemoryACLTree([topLevelPath: top])
        tree.add("/etc/qemu/users/u42.conf", contents: lines("deny abcdefghijklmno\n", 10_000) + bytes("allow br0\n"))
        guard case .success(let policy) = loadPolicy(tree) else {
            Issue.record("expected the policy to load")
            return
        }
        #expect(policy.rules.count == 10_001)
        #expect(policy.skippedIncludes.count == 9_999)
        #expect(policy.decideAsStock(bridge: try name("br0")).isAllowed)
    }

    /// The line-by-line reading gives exactly Grammar.parse's lines: no final newline, a final
    /// newline, an empty file, blank lines, CRLF.
    @Test(arguments: ["", "\n", "allow br0", "allow br0\n", "\n\nallow br0\n\n", "allow br0\r\ndeny all\r\n", "# x\nallow br0\ninclude /etc/qemu/x"])
    func linesAsGrammarParse(_ text: String) throws {
        let expected = try Grammar.parse(bytes(text), path: bytes(topLevelPath)).get().compactMap { directive -> Rule? in
            if case .rule(let rule) = directive { return rule }
            return nil
        }
        guard case .success(let policy) = loadPolicy(MemoryACLTree([topLevelPath: text])) else {
            Issue.record("expected the policy to load")
            return
        }
        #expect(policy.rules == expected)
        let skipped = try Grammar.parse(bytes(text), path: bytes(topLevelPath)).get().compactMap { directive -> BridgeACL.SourceLocation? in
            if case .include(_, let location) = directive { return location }
            return nil
        }
        #expect(policy.skippedIncludes == skipped)
    }
}
