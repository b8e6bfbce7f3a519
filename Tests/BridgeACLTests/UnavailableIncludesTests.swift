import BridgeACL
import Testing

/// `ACLFileSource.unavailable(includes:at:)`: a source that answers ahead which includes are
/// unavailable must change nothing the loader returns (rules, skipped includes, errors and where
/// they are, every limit), only which files it loads.
@Suite struct UnavailableIncludesTests {
    /// A tree that answers for every include it is asked about (true when `load` would say
    /// `.unavailable`), records the questions and counts the loads.
    final class AnsweringTree: ACLFileSource {
        let tree: MemoryACLTree
        var questions: [[[UInt8]]] = []
        var loads: [[UInt8]] = []
        /// Answer "unavailable" for these paths even though the tree has them (a file that
        /// became unreadable between the question and its turn is still skipped, as it would
        /// be a moment later).
        var alsoUnavailable: Set<[UInt8]> = []

        init(_ tree: MemoryACLTree) { self.tree = tree }

        func load(path: [UInt8]) -> ACLFileLoad {
            loads.append(path)
            return tree.load(path: path)
        }

        func list(directory path: [UInt8]) -> ACLDirectoryLoad { tree.list(directory: path) }

        func unavailable(includes bytes: UnsafeBufferPointer<UInt8>, at ranges: [Range<Int>]) -> [Bool]? {
            let paths = ranges.map { Array(bytes[$0]) }
            questions.append(paths)
            return paths.map { path in
                if path.last == UInt8(ascii: "/") { return false }
                if alsoUnavailable.contains(path) { return true }
                if case .unavailable = tree.load(path: path) { return true }
                return false
            }
        }
    }

    static let device = DeviceNames(unresolved: InterfaceName.test("br0"))

    static func load(_ source: some ACLFileSource, limits: ACLLimits = ACLLimits()) -> Result<Policy, PolicyError> {
        PolicyLoader.load(path: bytes(topLevelPath), from: source, limits: limits, device: device)
    }

    /// The per-user pattern: the loader asks once, with every include path in file order, and
    /// loads only the includes not answered unavailable.
    @Test func asksOnceAndLoadsOnlyTheOthers() {
        var top = "# one include per user\nallow br9\n"
        for user in 0..<20 { top += "include /etc/qemu/users/u\(user).conf\n" }
        top += "include /etc/qemu/d/\n"
        let tree = MemoryACLTree([topLevelPath: top, "/etc/qemu/users/u7.conf": "allow br0\n",
                                  "/etc/qemu/d/a.conf": "deny br1\n"])
        let answering = AnsweringTree(tree)
        let expected = Self.load(tree)
        #expect(Self.load(answering) == expected)
        #expect(answering.questions.count == 1)
        #expect(answering.questions.first == (0..<20).map { bytes("/etc/qemu/users/u\($0).conf") } + [bytes("/etc/qemu/d/")])
        #expect(answering.loads == [bytes(topLevelPath), bytes("/etc/qemu/users/u7.conf"), bytes("/etc/qemu/d/a.conf")])
        guard case .success(let policy) = expected else {
            Issue.record("the tree did not load: \(expected)")
            return
        }
        #expect(policy.skippedIncludes.count == 19)
    }

    /// An answer of the wrong length is ignored (every include is loaded), never trusted.
    @Test func aWrongLengthAnswerIsIgnored() {
        final class ShortAnswer: ACLFileSource {
            let tree: MemoryACLTree
            var loads = 0
            init(_ tree: MemoryACLTree) { self.tree = tree }
            func load(path: [UInt8]) -> ACLFileLoad {
                loads += 1
                return tree.load(path: path)
            }
            func list(directory path: [UInt8]) -> ACLDirectoryLoad { tree.list(directory: path) }
            func unavailable(includes bytes: UnsafeBufferPointer<UInt8>, at ranges: [Range<Int>]) -> [Bool]? {
                [true]
            }
        }
        let tree = MemoryACLTree([topLevelPath: "include /a.conf\ninclude /b.conf\n", "/b.conf": "deny br0\n"])
        let short = ShortAnswer(tree)
        #expect(Self.load(short) == Self.load(tree))
        #expect(short.loads == 3)
    }

    /// Generated trees (nested includes, missing files, cycles, directories, syntax errors) under
    /// small limits: the same result with and without answers, at every limit.
    @Test func generatedTreesLoadTheSameWithAnswers() {
        var rng = SplitMix64(seed: 0x756e_6176_0000_0001)
        let paths = ["/a.conf", "/b.conf", "/c.conf", "/missing.conf", "/d/x.conf", "/d/y.conf"]
        let lines = ["allow br0", "deny br0", "allow br1", "allow all", "# c", "include /a.conf", "include /b.conf",
                     "include /c.conf", "include /missing.conf", "include /d/", "include /d/x.conf", "include  /b.conf",
                     "include /nowhere.conf", "allow br0 br1", "include relative.conf"]
        var asked = 0
        var answeredUnavailable = 0
        for round in 0..<2_000 {
            let tree = MemoryACLTree()
            func text() -> String {
                (0..<Int.random(in: 0...6, using: &rng)).map { _ in lines.randomElement(using: &rng)! }.joined(separator: "\n")
            }
            tree.add(topLevelPath, text())
            for path in paths where path != "/missing.conf" && Bool.random(using: &rng) { tree.add(path, text()) }
            var limits = ACLLimits()
            limits.maximumDepth = Int.random(in: 0...3, using: &rng)
            limits.maximumFiles = Int.random(in: 1...5, using: &rng)
            limits.maximumDirectives = Int.random(in: 1...12, using: &rng)
            let answering = AnsweringTree(tree)
            let expected = Self.load(tree, limits: limits)
            let answered = Self.load(answering, limits: limits)
            #expect(answered == expected, "round \(round)")
            asked += answering.questions.count
            answeredUnavailable += answering.questions.joined().filter { path in
                if case .unavailable = tree.load(path: path) { return path.last != UInt8(ascii: "/") }
                return false
            }.count
        }
        // The generator reaches the answered path often (else this test shows nothing).
        #expect(asked > 500)
        #expect(answeredUnavailable > 500)
    }

    /// A drop-in directory's include (ending in `/`) is listed whatever the answer says.
    @Test func aDirectoryIncludeIsNeverSkippedByAnAnswer() {
        final class AllUnavailable: ACLFileSource {
            let tree: MemoryACLTree
            init(_ tree: MemoryACLTree) { self.tree = tree }
            func load(path: [UInt8]) -> ACLFileLoad { tree.load(path: path) }
            func list(directory path: [UInt8]) -> ACLDirectoryLoad { tree.list(directory: path) }
            func unavailable(includes bytes: UnsafeBufferPointer<UInt8>, at ranges: [Range<Int>]) -> [Bool]? {
                ranges.map { _ in true }
            }
        }
        let tree = MemoryACLTree([topLevelPath: "include /x.conf\ninclude /d/\nallow br0\n", "/d/a.conf": "deny br0\n"])
        guard case .success(let policy) = Self.load(AllUnavailable(tree)) else {
            Issue.record("did not load")
            return
        }
        #expect(policy.filesRead == [bytes(topLevelPath), bytes("/d/a.conf")])
        #expect(policy.skippedIncludes == [location(topLevelPath, 1)])
        #expect(policy.rules.map(\.action) == [.deny, .allow])
    }

    /// An include answered unavailable is skipped even if it would load now: the answer is the
    /// kernel's a moment earlier, the same as a file that became unreadable before its turn.
    @Test func anUnavailableAnswerSkipsTheInclude() {
        let tree = MemoryACLTree([topLevelPath: "include /a.conf\ninclude /b.conf\nallow br0\n",
                                  "/a.conf": "deny br0\n", "/b.conf": "deny all\n"])
        let answering = AnsweringTree(tree)
        answering.alsoUnavailable = [bytes("/a.conf")]
        guard case .success(let policy) = Self.load(answering) else {
            Issue.record("did not load")
            return
        }
        #expect(policy.skippedIncludes == [location(topLevelPath, 1)])
        #expect(policy.filesRead == [bytes(topLevelPath), bytes("/b.conf")])
    }
}
