import BridgeACL
import Testing

/// The top-level ACL path the helper reads; tests use it so messages look like the real ones.
let topLevelPath = "/etc/qemu/bridge.conf"

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// `count` copies of `character` (ASCII) as bytes.
func repeated(_ character: Character, _ count: Int) -> [UInt8] {
    [UInt8](repeating: character.asciiValue ?? 0, count: count)
}

func name(_ text: String) throws -> InterfaceName { try InterfaceName(validating: bytes(text)) }

func location(_ path: String, _ line: Int) -> BridgeACL.SourceLocation {
    BridgeACL.SourceLocation(path: bytes(path), line: line)
}

/// An in-memory file tree for `PolicyLoader`: every file gets its own identity (device 1, inode
/// in insertion order) unless it is added as a link to another path. Paths not in the tree load
/// as `.unavailable`, like a missing or unreadable file.
final class MemoryACLTree: ACLFileSource {
    private(set) var files: [[UInt8]: ACLFileLoad] = [:]
    private var nextInode: UInt64 = 1

    init(_ texts: KeyValuePairs<String, String> = [:]) {
        for (path, text) in texts { add(path, text) }
    }

    func add(_ path: String, _ text: String) { add(path, contents: bytes(text)) }

    func add(_ path: String, contents: [UInt8]) {
        files[bytes(path)] = .contents(contents, identity: FileIdentity(device: 1, inode: nextInode))
        nextInode += 1
    }

    /// `path` is another name (hard link, bind mount) for the file at `existing`: same identity.
    func link(_ path: String, to existing: String) {
        files[bytes(path)] = files[bytes(existing)]
    }

    func refuse(_ path: String, _ problem: ACLFileProblem) { files[bytes(path)] = .refused(problem) }

    /// A refusal in the tree's own words (`ACLFileProblem.other`).
    func refuse(_ path: String, _ reason: String) { files[bytes(path)] = .refused(.other(bytes(path), reason)) }

    /// Directory answers set by a test; otherwise a directory lists the files directly below it
    /// (every name, so the loader's own filter is exercised), or is unavailable if it has none.
    var directories: [[UInt8]: ACLDirectoryLoad] = [:]

    func directory(_ path: String, _ answer: ACLDirectoryLoad) { directories[bytes(path)] = answer }

    func load(path: [UInt8]) -> ACLFileLoad { files[path] ?? .unavailable }

    func list(directory path: [UInt8]) -> ACLDirectoryLoad {
        if let answer = directories[path] { return answer }
        let names = files.keys.filter { $0.count > path.count && $0.starts(with: path) && !$0[path.count...].contains(UInt8(ascii: "/")) }
            .map { Array($0[path.count...]) }
        return names.isEmpty ? .unavailable : .names(names)
    }
}

func loadPolicy(_ tree: MemoryACLTree, limits: ACLLimits = ACLLimits()) -> Result<Policy, PolicyError> {
    PolicyLoader.load(path: bytes(topLevelPath), from: tree, limits: limits)
}

/// Loads a single top-level file; records an issue and returns nil if it does not load.
func singleFilePolicy(_ text: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> Policy? {
    switch loadPolicy(MemoryACLTree([topLevelPath: text])) {
    case .success(let policy): return policy
    case .failure(let error):
        Issue.record("policy did not load: \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// A rule as the test expects it: action, bridge (`nil` = the keyword `all`), file and line.
struct ExpectedRule: Sendable, Equatable, CustomStringConvertible {
    let action: RuleAction
    let bridge: [UInt8]?
    let path: String
    let line: Int

    static func allow(_ bridge: String, _ path: String = topLevelPath, line: Int) -> ExpectedRule {
        ExpectedRule(action: .allow, bridge: bytes(bridge), path: path, line: line)
    }
    static func deny(_ bridge: String, _ path: String = topLevelPath, line: Int) -> ExpectedRule {
        ExpectedRule(action: .deny, bridge: bytes(bridge), path: path, line: line)
    }
    static func allowAll(_ path: String = topLevelPath, line: Int) -> ExpectedRule {
        ExpectedRule(action: .allow, bridge: nil, path: path, line: line)
    }
    static func denyAll(_ path: String = topLevelPath, line: Int) -> ExpectedRule {
        ExpectedRule(action: .deny, bridge: nil, path: path, line: line)
    }

    func rule() throws -> Rule {
        let selector: BridgeSelector = try bridge.map { .named(try InterfaceName(validating: $0)) } ?? .all
        return Rule(action: action, bridge: selector, location: location(path, line))
    }

    var description: String { "\(action) \(bridge.map { Escaping.escape($0) } ?? "<all>") @\(path):\(line)" }
}

/// SplitMix64: a tiny deterministic generator, so property tests are reproducible from the seed.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The error of a policy that must not load: the value, its description and the helper's line.
func expectPolicyError(_ result: Result<Policy, PolicyError>, _ expected: PolicyError, message: String,
                       sourceLocation: Testing.SourceLocation = #_sourceLocation) {
    guard case .failure(let error) = result else {
        Issue.record("expected \(expected), got a policy", sourceLocation: sourceLocation)
        return
    }
    #expect(error == expected, sourceLocation: sourceLocation)
    #expect(error.description == message, sourceLocation: sourceLocation)
    #expect(ACLMessages.refusal(error) == "access denied by acl file: " + message, sourceLocation: sourceLocation)
}

/// A name service that knows no names (stock rules never ask it).
final class NoNames: NameResolver {
    func lookUp(_ name: [UInt8], kind: NameKind) -> NameLookup { .notFound }
}

extension Policy {
    /// The decision for an ordinary caller (uid 1000, group 1000) of a policy without names.
    func decide(device names: DeviceNames) -> DeviceDecision {
        decide(device: names, caller: CallerIdentity(uid: 1000, groups: [1000]), resolver: NoNames())
    }
}

/// A name service from a table: "user:NAME" and "group:NAME" keys; `failing` names fail with
/// EIO; every lookup is counted.
final class TableNames: NameResolver {
    let table: [String: UInt32]
    var failing: Set<String> = []
    private(set) var lookups: [String] = []

    init(_ table: [String: UInt32], failing: Set<String> = []) {
        self.table = table
        self.failing = failing
    }

    func lookUp(_ name: [UInt8], kind: NameKind) -> NameLookup {
        let key = "\(kind.word):\(String(decoding: name, as: UTF8.self))"
        lookups.append(key)
        if failing.contains(key) { return .failed(errno: 5) }
        return table[key].map { .found($0) } ?? .notFound
    }
}
