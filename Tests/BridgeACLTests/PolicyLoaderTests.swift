import BridgeACL
import Testing

@Suite("PolicyLoader")
struct PolicyLoaderTests {
    /// The rules of a loaded policy, or an issue.
    func expectRules(_ result: Result<Policy, PolicyError>, _ expected: [ExpectedRule],
                     filesRead: [String], skipped: [BridgeACL.SourceLocation] = [],
                     sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
        guard case .success(let policy) = result else {
            Issue.record("expected a policy, got \(result)", sourceLocation: sourceLocation)
            return
        }
        #expect(policy.rules == (try expected.map { try $0.rule() }), sourceLocation: sourceLocation)
        #expect(policy.filesRead == filesRead.map(bytes), sourceLocation: sourceLocation)
        #expect(policy.skippedIncludes == skipped, sourceLocation: sourceLocation)
    }

    /// The error of a policy that must not load, with its exact message.
    /// The error of a policy that must not load, with its exact message (Support.swift).
    func expectError(_ result: Result<Policy, PolicyError>, _ expected: PolicyError, message: String,
                sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        expectPolicyError(result, expected, message: message, sourceLocation: sourceLocation)
    }

    @Test func singleFile() throws {
        let tree = MemoryACLTree([topLevelPath: "allow br0\n# c\ndeny all\n"])
        try expectRules(loadPolicy(tree), [.allow("br0", line: 1), .denyAll(line: 3)], filesRead: [topLevelPath])
    }

    @Test func nestedIncludesAreExpandedInPlaceAndInOrder() throws {
        let tree = MemoryACLTree([
            topLevelPath: "allow br0\ninclude /etc/qemu/a.conf\ndeny br1\ninclude /etc/qemu/b.conf\nallow br9\n",
            "/etc/qemu/a.conf": "allow a1\ninclude /etc/qemu/c.conf\nallow a2\n",
            "/etc/qemu/b.conf": "allow b1\n",
            "/etc/qemu/c.conf": "\ndeny c1\n",
        ])
        try expectRules(loadPolicy(tree), [
            .allow("br0", line: 1),
            .allow("a1", "/etc/qemu/a.conf", line: 1),
            .deny("c1", "/etc/qemu/c.conf", line: 2),
            .allow("a2", "/etc/qemu/a.conf", line: 3),
            .deny("br1", line: 3),
            .allow("b1", "/etc/qemu/b.conf", line: 1),
            .allow("br9", line: 5),
        ], filesRead: [topLevelPath, "/etc/qemu/a.conf", "/etc/qemu/c.conf", "/etc/qemu/b.conf"])
    }

    @Test func missingIncludeIsSkippedAndRecorded() throws {
        let tree = MemoryACLTree([
            topLevelPath: "allow br0\ninclude /etc/qemu/alice.conf\ndeny br1\ninclude /etc/qemu/lab.conf\n",
            "/etc/qemu/lab.conf": "include /etc/qemu/groups/lab.conf\nallow br2\n",
        ])
        try expectRules(loadPolicy(tree), [
            .allow("br0", line: 1), .deny("br1", line: 3), .allow("br2", "/etc/qemu/lab.conf", line: 2),
        ], filesRead: [topLevelPath, "/etc/qemu/lab.conf"],
           skipped: [location(topLevelPath, 2), location("/etc/qemu/lab.conf", 1)])
    }

    @Test func refusedIncludeRefuses() {
        let tree = MemoryACLTree([topLevelPath: "allow all\n\ninclude /etc/qemu/alice.conf\n"])
        tree.refuse("/etc/qemu/alice.conf", .notOwnedByRoot(bytes("/etc/qemu/alice.conf"), owner: 1000))
        expectError(loadPolicy(tree),
                    .refused(path: bytes("/etc/qemu/alice.conf"),
                             reason: .notOwnedByRoot(bytes("/etc/qemu/alice.conf"), owner: 1000),
                             includedAt: location(topLevelPath, 3)),
                    message: "/etc/qemu/bridge.conf:3: include refused: /etc/qemu/alice.conf is owned by uid 1000, not root; ACL files and their directories must be root's")
    }

    @Test func refusedNestedIncludeNamesTheIncludingLine() {
        let tree = MemoryACLTree([
            topLevelPath: "include /etc/qemu/a.conf\n",
            "/etc/qemu/a.conf": "allow br0\ninclude /etc/qemu/fifo\n",
        ])
        tree.refuse("/etc/qemu/fifo", .notRegularFile(bytes("/etc/qemu/fifo")))
        expectError(loadPolicy(tree),
                    .refused(path: bytes("/etc/qemu/fifo"), reason: .notRegularFile(bytes("/etc/qemu/fifo")),
                             includedAt: location("/etc/qemu/a.conf", 2)),
                    message: "/etc/qemu/a.conf:2: include refused: /etc/qemu/fifo is not a regular file")
    }

    @Test func refusedTopLevelGivesTheReasonAlone() {
        let tree = MemoryACLTree()
        tree.refuse(topLevelPath, .writableByOthers(bytes("/etc/qemu"), mode: 0o777))
        expectError(loadPolicy(tree),
                    .refused(path: bytes(topLevelPath), reason: .writableByOthers(bytes("/etc/qemu"), mode: 0o777),
                             includedAt: nil),
                    message: "/etc/qemu is writable by group or others (mode 0777); run chmod go-w on it")
    }

    @Test func unavailableTopLevelRefuses() {
        expectError(loadPolicy(MemoryACLTree()), .topLevelUnavailable(path: bytes(topLevelPath)),
                    message: "/etc/qemu/bridge.conf does not exist or is not readable by this user")
    }

    @Test func syntaxErrorInTopLevelRefuses() {
        let result = loadPolicy(MemoryACLTree([topLevelPath: "allow br0\nallow br1 br2\n"]))
        guard case .failure(.syntax(let error)) = result else {
            Issue.record("expected a syntax error, got \(result)")
            return
        }
        #expect(error.location == location(topLevelPath, 2))
        #expect(ACLMessages.refusal(.syntax(error))
                == "access denied by acl file: /etc/qemu/bridge.conf:2: unexpected 'br2' after the bridge name (one bridge per rule)")
    }

    /// Stock prints the error and ignores the rest of the include, so the later `deny br2` would
    /// silently vanish; bridgekeeper refuses.
    @Test func syntaxErrorInAnIncludeRefuses() {
        let tree = MemoryACLTree([
            topLevelPath: "allow all\ninclude /etc/qemu/lab.conf\n",
            "/etc/qemu/lab.conf": "deny br0\nAllow br1\ndeny br2\n",
        ])
        let result = loadPolicy(tree)
        guard case .failure(.syntax(let error)) = result else {
            Issue.record("expected a syntax error, got \(result)")
            return
        }
        #expect(error.location == location("/etc/qemu/lab.conf", 2))
        #expect(error.message == "unknown keyword 'Allow' (expected allow, deny, include or a # comment)")
        #expect(ACLMessages.refusal(.syntax(error))
                == "access denied by acl file: /etc/qemu/lab.conf:2: unknown keyword 'Allow' (expected allow, deny, include or a # comment)")
    }

    @Test func relativeIncludeRefuses() {
        let tree = MemoryACLTree([topLevelPath: "include users.conf\n", "users.conf": "allow all\n"])
        let result = loadPolicy(tree)
        guard case .failure(.syntax(let error)) = result else {
            Issue.record("expected a syntax error, got \(result)")
            return
        }
        #expect(error.description == "/etc/qemu/bridge.conf:1: include path 'users.conf' is relative; write an absolute path")
    }

    @Test func twoFileCycle() {
        let tree = MemoryACLTree([
            topLevelPath: "allow br0\ninclude /etc/qemu/b.conf\n",
            "/etc/qemu/b.conf": "include /etc/qemu/bridge.conf\n",
        ])
        expectError(loadPolicy(tree),
                    .includeCycle(path: bytes(topLevelPath), at: location("/etc/qemu/b.conf", 1)),
                    message: "/etc/qemu/b.conf:1: include cycle: /etc/qemu/bridge.conf is already being read")
    }

    @Test func selfInclude() {
        let tree = MemoryACLTree([topLevelPath: "include /etc/qemu/bridge.conf\n"])
        expectError(loadPolicy(tree),
                    .includeCycle(path: bytes(topLevelPath), at: location(topLevelPath, 1)),
                    message: "/etc/qemu/bridge.conf:1: include cycle: /etc/qemu/bridge.conf is already being read")
    }

    @Test func threeFileCycleBelowTheTop() {
        let tree = MemoryACLTree([
            topLevelPath: "include /etc/qemu/a.conf\n",
            "/etc/qemu/a.conf": "include /etc/qemu/b.conf\n",
            "/etc/qemu/b.conf": "include /etc/qemu/c.conf\n",
            "/etc/qemu/c.conf": "allow br0\ninclude /etc/qemu/a.conf\n",
        ])
        expectError(loadPolicy(tree),
                    .includeCycle(path: bytes("/etc/qemu/a.conf"), at: location("/etc/qemu/c.conf", 2)),
                    message: "/etc/qemu/c.conf:2: include cycle: /etc/qemu/a.conf is already being read")
    }

    /// A hard link or bind mount: a different path to a file that is already being read.
    @Test func cycleThroughAnotherPathToTheSameFile() {
        let tree = MemoryACLTree([
            topLevelPath: "include /etc/qemu/x.conf\n",
            "/etc/qemu/x.conf": "allow br0\ninclude /srv/acl/alias.conf\n",
        ])
        tree.link("/srv/acl/alias.conf", to: "/etc/qemu/x.conf")
        expectError(loadPolicy(tree),
                    .includeCycle(path: bytes("/srv/acl/alias.conf"), at: location("/etc/qemu/x.conf", 2)),
                    message: "/etc/qemu/x.conf:2: include cycle: /srv/acl/alias.conf is already being read")
    }

    @Test func diamondIsNotACycle() throws {
        let tree = MemoryACLTree([
            topLevelPath: "include /etc/qemu/b.conf\ninclude /etc/qemu/c.conf\n",
            "/etc/qemu/b.conf": "allow b\ninclude /etc/qemu/d.conf\n",
            "/etc/qemu/c.conf": "include /etc/qemu/d.conf\ndeny c\n",
            "/etc/qemu/d.conf": "allow d\n",
        ])
        try expectRules(loadPolicy(tree), [
            .allow("b", "/etc/qemu/b.conf", line: 1),
            .allow("d", "/etc/qemu/d.conf", line: 1),
            .allow("d", "/etc/qemu/d.conf", line: 1),
            .deny("c", "/etc/qemu/c.conf", line: 2),
        ], filesRead: [topLevelPath, "/etc/qemu/b.conf", "/etc/qemu/d.conf", "/etc/qemu/c.conf", "/etc/qemu/d.conf"])
    }

    @Test func sameFileIncludedTwiceInARow() throws {
        let tree = MemoryACLTree([
            topLevelPath: "include /etc/qemu/common.conf\ninclude /etc/qemu/common.conf\n",
            "/etc/qemu/common.conf": "allow br0\n",
        ])
        try expectRules(loadPolicy(tree),
                        [.allow("br0", "/etc/qemu/common.conf", line: 1), .allow("br0", "/etc/qemu/common.conf", line: 1)],
                        filesRead: [topLevelPath, "/etc/qemu/common.conf", "/etc/qemu/common.conf"])
    }

    /// The top-level file and a chain of `depth` includes below it: f1 ... f<depth>.
    func chain(depth: Int) -> MemoryACLTree {
        let tree = MemoryACLTree()
        for level in 0...depth {
            let path = level == 0 ? topLevelPath : "/etc/qemu/f\(level).conf"
            let next = level < depth ? "include /etc/qemu/f\(level + 1).conf\n" : ""
            tree.add(path, next + "allow l\(level)\n")
        }
        return tree
    }

    @Test func sixteenLevelsOfIncludesAreFine() throws {
        let files = [topLevelPath] + (1...16).map { "/etc/qemu/f\($0).conf" }
        let rules: [ExpectedRule] = (0...16).reversed().map { level in
            .allow("l\(level)", files[level], line: level == 16 ? 1 : 2)
        }
        try expectRules(loadPolicy(chain(depth: 16)), rules, filesRead: files)
    }

    @Test func seventeenLevelsAreTooDeep() {
        expectError(loadPolicy(chain(depth: 17)), .tooDeep(at: location("/etc/qemu/f16.conf", 1), limit: 16),
                    message: "/etc/qemu/f16.conf:1: includes are nested more than 16 levels deep")
    }

    @Test func depthLimitIsConfigurable() throws {
        var limits = ACLLimits()
        limits.maximumDepth = 1
        try expectRules(loadPolicy(chain(depth: 1), limits: limits),
                        [.allow("l1", "/etc/qemu/f1.conf", line: 1), .allow("l0", line: 2)],
                        filesRead: [topLevelPath, "/etc/qemu/f1.conf"])
        expectError(loadPolicy(chain(depth: 2), limits: limits), .tooDeep(at: location("/etc/qemu/f1.conf", 1), limit: 1),
                    message: "/etc/qemu/f1.conf:1: includes are nested more than 1 levels deep")
    }

    @Test func defaultLimits() {
        let limits = ACLLimits()
        #expect(limits.maximumDepth == 16)
        #expect(limits.maximumFiles == 256)
        #expect(limits.maximumTotalBytes == 4 << 20)
        #expect(limits.maximumDirectives == 100_000)
    }

    @Test func maximumFilesCountsTheTopLevelFile() throws {
        var limits = ACLLimits()
        limits.maximumFiles = 3
        let two = MemoryACLTree([
            topLevelPath: "include /etc/qemu/a.conf\ninclude /etc/qemu/b.conf\n",
            "/etc/qemu/a.conf": "allow a\n",
            "/etc/qemu/b.conf": "allow b\n",
        ])
        try expectRules(loadPolicy(two, limits: limits),
                        [.allow("a", "/etc/qemu/a.conf", line: 1), .allow("b", "/etc/qemu/b.conf", line: 1)],
                        filesRead: [topLevelPath, "/etc/qemu/a.conf", "/etc/qemu/b.conf"])
        let three = two // the same tree (a class): `two` is not used again
        three.add(topLevelPath, "include /etc/qemu/a.conf\ninclude /etc/qemu/b.conf\ninclude /etc/qemu/a.conf\n")
        expectError(loadPolicy(three, limits: limits), .tooManyFiles(at: location(topLevelPath, 3), limit: 3),
                    message: "/etc/qemu/bridge.conf:3: more than 3 files included in total")
    }

    /// Eleven levels, each including the next twice: 2047 reads without a cycle. The 257th read
    /// (pre-order) is the first include of l10 from l9.
    @Test func includeBombHitsTheFileLimit() {
        let tree = MemoryACLTree()
        for level in 0...10 {
            let path = level == 0 ? topLevelPath : "/etc/qemu/l\(level).conf"
            let next = "/etc/qemu/l\(level + 1).conf"
            tree.add(path, level < 10 ? "include \(next)\ninclude \(next)\n" : "allow br0\n")
        }
        expectError(loadPolicy(tree), .tooManyFiles(at: location("/etc/qemu/l9.conf", 1), limit: 256),
                    message: "/etc/qemu/l9.conf:1: more than 256 files included in total")
    }
}
