// libFuzzer target acl-loader: PolicyLoader.load on a small in-memory file tree, then decisions.
//
// Input layout (see FuzzTree): byte 0 picks the limits; the rest is split at 0x1E (ASCII record
// separator) into at most 8 files, /etc/qemu/bridge.conf then /etc/qemu/f1.conf ... f7.conf.
// Each file's first byte is its mode: bits 0-1 = 2 unavailable (like a missing or unreadable
// file), 3 refused, else readable; bit 5 set = the file's identity (device 1, inode) is bits 2-4
// instead of its own index, so two paths can be one file (hard link, bind mount).
//
// Invariants (each violation traps):
// - loading terminates and never crashes;
// - the outcome (rules, files read, skipped includes, or the exact error) equals an independent
//   reference expansion of the same tree;
// - every decision equals the stock rule evaluated here over the loaded rules (allowed iff some
//   allow matches and no deny does; the deciding rule is the first matching deny, else the first
//   matching allow);
// - a deny for X (or `deny all`) in any file that was read means X is never allowed;
// - appending `deny X` to the top-level file still loads, never grants anything new, denies X;
// - reversing the lines of a top-level file without includes changes no decision;
// - every PolicyError description and refusal message is one line of printable ASCII.
import BridgeACL

@_cdecl("LLVMFuzzerTestOneInput")
public func aclLoaderFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    ACLLoaderFuzz.run(fuzzInput(data, size))
    return 0
}

final class FuzzTree: ACLFileSource {
    static let topLevel = utf8("/etc/qemu/bridge.conf")
    static func path(_ index: Int) -> [UInt8] { index == 0 ? topLevel : utf8("/etc/qemu/f\(index).conf") }

    var files: [[UInt8]: ACLFileLoad] = [:]
    var limits = ACLLimits()

    /// A copy of `other` (the loader's sources are classes; the properties below change a copy).
    init(copying other: FuzzTree) {
        files = other.files
        limits = other.limits
    }

    init(_ input: [UInt8]) {
        let config = input.first ?? 0
        limits.maximumDepth = [0, 1, 3, 16][Int(config & 3)]
        limits.maximumFiles = [1, 2, 5, 32][Int((config >> 2) & 3)]
        let chunks = input.dropFirst().split(separator: 0x1E, maxSplits: 7, omittingEmptySubsequences: false)
        for (index, chunk) in chunks.enumerated() {
            let mode = chunk.first ?? 0
            let path = Self.path(index)
            switch mode & 3 {
            case 2:
                files[path] = .unavailable
            case 3:
                files[path] = .refused(.other(path, "\(Escaping.escape(path)) is refused by the fuzz tree (mode \(mode))"))
            default:
                let inode = mode & 0x20 != 0 ? UInt64((mode >> 2) & 7) : UInt64(index)
                files[path] = .contents(Array(chunk.dropFirst()), identity: FileIdentity(device: 1, inode: inode))
            }
        }
    }

    func load(path: [UInt8]) -> ACLFileLoad { files[path] ?? .unavailable }

    /// Whether this copy answers `unavailable(includes:at:)` (as the helper's reader does for
    /// the per-user pattern); the loader must load the same with and without the answers.
    var answering = false
    /// How many include paths the answering copy was asked about.
    var asked = 0

    func unavailable(includes bytes: UnsafeBufferPointer<UInt8>, at ranges: [Range<Int>]) -> [Bool]? {
        guard answering else { return nil }
        asked += ranges.count
        return ranges.map { range in
            let path = Array(bytes[range])
            if path.last == UInt8(ascii: "/") { return false }
            if case .unavailable = load(path: path) { return true }
            return false
        }
    }

    /// A directory lists every file directly below it (the loader filters the names).
    func list(directory path: [UInt8]) -> ACLDirectoryLoad {
        let names = files.keys.filter { $0.count > path.count && $0.starts(with: path) && !$0[path.count...].contains(UInt8(ascii: "/")) }
            .map { Array($0[path.count...]) }
        return names.isEmpty ? .unavailable : .names(names)
    }
}

/// The loader's contract, written as a plain recursion: expand includes depth first and in place;
/// an unavailable include is skipped (and recorded); a refused one, a syntax error, an include
/// of a file already on the include chain (by identity), nesting deeper than maximumDepth, or
/// needing a file when maximumFiles have been read, fails the whole load.
struct ReferenceLoader {
    let source: FuzzTree
    var rules: [Rule] = []
    var filesRead: [[UInt8]] = []
    var skipped: [BridgeACL.SourceLocation] = []

    struct Stop: Error { let error: PolicyError }

    static func load(_ source: FuzzTree) -> Result<(rules: [Rule], files: [[UInt8]], skipped: [BridgeACL.SourceLocation]), PolicyError> {
        var loader = ReferenceLoader(source: source)
        let top = FuzzTree.topLevel
        do throws(Stop) {
            switch source.load(path: top) {
            case .unavailable: throw Stop(error: .topLevelUnavailable(path: top))
            case .refused(let reason): throw Stop(error: .refused(path: top, reason: reason, includedAt: nil))
            case .contents(let bytes, let identity):
                loader.filesRead.append(top)
                try loader.expand(bytes, path: top, depth: 0, chain: [identity])
            }
        } catch {
            return .failure(error.error)
        }
        return .success((loader.rules, loader.filesRead, loader.skipped))
    }

    mutating func expand(_ bytes: [UInt8], path: [UInt8], depth: Int, chain: [FileIdentity]) throws(Stop) {
        let directives: [Directive]
        switch Grammar.parse(bytes, path: path) {
        case .success(let parsed): directives = parsed
        case .failure(let error): throw Stop(error: .syntax(error))
        }
        for directive in directives {
            guard case .include(let includePath, let location) = directive else {
                if case .rule(let rule) = directive { rules.append(rule) }
                continue
            }
            let limits = source.limits
            if depth + 1 > limits.maximumDepth { throw Stop(error: .tooDeep(at: location, limit: limits.maximumDepth)) }
            var paths = [includePath]
            if includePath.last == UInt8(ascii: "/") {
                // A drop-in directory: its NAME.conf files (no leading dot) in byte order, each
                // an include of its own; none is like a missing include.
                switch source.list(directory: includePath) {
                case .unavailable:
                    skipped.append(location)
                    continue
                case .refused(let reason):
                    throw Stop(error: .refused(path: includePath, reason: reason, includedAt: location))
                case .names(let names):
                    let conf = utf8(".conf")
                    paths = names.filter { $0.count > conf.count && $0.first != UInt8(ascii: ".") && $0.suffix(conf.count).elementsEqual(conf) }
                        .sorted { $0.lexicographicallyPrecedes($1) }.map { includePath + $0 }
                    if paths.isEmpty {
                        skipped.append(location)
                        continue
                    }
                    if paths.count > limits.maximumFiles - filesRead.count {
                        throw Stop(error: .tooManyFiles(at: location, limit: limits.maximumFiles))
                    }
                }
            }
            for includePath in paths {
                try includeOne(includePath, at: location, depth: depth, chain: chain)
            }
        }
    }

    mutating func includeOne(_ includePath: [UInt8], at location: BridgeACL.SourceLocation, depth: Int, chain: [FileIdentity]) throws(Stop) {
            let limits = source.limits
            if filesRead.count >= limits.maximumFiles { throw Stop(error: .tooManyFiles(at: location, limit: limits.maximumFiles)) }
            switch source.load(path: includePath) {
            case .unavailable:
                skipped.append(location)
            case .refused(let reason):
                throw Stop(error: .refused(path: includePath, reason: reason, includedAt: location))
            case .contents(let included, let identity):
                if chain.contains(identity) { throw Stop(error: .includeCycle(path: includePath, at: location)) }
                filesRead.append(includePath)
                try expand(included, path: includePath, depth: depth + 1, chain: chain + [identity])
            }
    }
}

enum ACLLoaderFuzz {
    static let fixedNames: [[UInt8]] = ["br0", "br1", "all", "ALL", "f1", "x"].map(utf8)

    /// The helper's load for one device (its quick scan settles most lines about other
    /// bridges): the same failure as the full load, or the full load's rules about the device
    /// (any of its names, or all), the same files read and the same skipped includes.
    static func checkDeviceLoad(_ tree: FuzzTree, full: Result<Policy, PolicyError>) {
        guard let br0 = try? InterfaceName(validating: utf8("br0")), let x = try? InterfaceName(validating: utf8("x")) else {
            violated("cannot make the names br0 and x")
        }
        let names = [br0, x]
        let device = DeviceNames(requested: names[1], canonical: names[0], alternatives: [names[1]])
        let partial = PolicyLoader.load(path: FuzzTree.topLevel, from: tree, limits: tree.limits, device: device)
        // Answered ahead which includes are unavailable: exactly the same load.
        let answering = FuzzTree(copying: tree)
        answering.answering = true
        let answered = PolicyLoader.load(path: FuzzTree.topLevel, from: answering, limits: tree.limits, device: device)
        check(answered == partial, "the load for br0 with answered includes is \(answered); without answers \(partial)")
        switch (full, partial) {
        case (.failure(let a), .failure(let b)):
            check(a == b, "the load for br0 fails with \(b); the full load with \(a)")
        case (.success(let a), .success(let b)):
            let aboutDevice = a.rules.filter { rule in
                if case .named(let name) = rule.bridge { return names.contains(name) }
                return true
            }
            check(aboutDevice == b.rules, "the load for br0 kept \(b.rules); the full load's rules about it are \(aboutDevice)")
            check(a.filesRead == b.filesRead && a.skippedIncludes == b.skippedIncludes,
                  "the load for br0 read other files or skipped other includes than the full load")
        default:
            violated("the load for br0 and the full load disagree: \(partial) vs \(full)")
        }
    }

    static func run(_ input: [UInt8]) {
        let tree = FuzzTree(input)
        let loaded = PolicyLoader.load(path: FuzzTree.topLevel, from: tree, limits: tree.limits)
        let reference = ReferenceLoader.load(tree)
        checkDeviceLoad(tree, full: loaded)

        let policy: Policy
        switch (loaded, reference) {
        case (.failure(let error), .failure(let expected)):
            check(error == expected, "load failed with \(error); the reference fails with \(expected)")
            checkSafeLine(error.description, "PolicyError description")
            checkSafeLine(ACLMessages.refusal(error), "refusal message for a PolicyError")
            return
        case (.failure(let error), .success):
            violated("load failed with \(error); the reference loads the tree")
        case (.success, .failure(let expected)):
            violated("the tree loaded; the reference fails with \(expected) (fail-open)")
        case (.success(let actual), .success(let expected)):
            check(actual.rules == expected.rules, "rules differ from the reference: \(actual.rules) vs \(expected.rules)")
            check(actual.filesRead == expected.files, "files read differ from the reference")
            check(actual.skippedIncludes == expected.skipped, "skipped includes differ from the reference")
            policy = actual
        }

        let names = namesToDecide(policy.rules)
        for name in names { checkDecision(policy, name) }

        // A deny in any file that was read is never overridden, whatever else was loaded.
        for path in Set(policy.filesRead) {
            guard case .contents(let bytes, _) = tree.load(path: path),
                  case .success(let directives) = ReferenceGrammar.parse(bytes) else {
                violated("the loader accepted \(shown(path)), which the reference grammar refuses")
            }
            // A qualified deny never matches under the stock reading (decideAsStock).
            for directive in directives where directive.kind == .deny && directive.qualifiers.isEmpty {
                for name in names where directive.value == nil || directive.value == name.bytes {
                    check(!policy.decideAsStock(bridge: name).isAllowed,
                          "'\(shown(name.bytes))' is allowed despite a deny in \(shown(path)) line \(directive.line)")
                }
            }
        }

        addingADenyNeverGrants(tree, policy, names)
        lineOrderDoesNotMatter(tree, policy, names)
    }

    static func namesToDecide(_ rules: [Rule]) -> [InterfaceName] {
        var seen = Set<[UInt8]>()
        var names: [InterfaceName] = []
        var candidates = fixedNames
        for rule in rules.prefix(64) {
            if case .named(let name) = rule.bridge { candidates.append(name.bytes) }
        }
        for bytes in candidates where seen.insert(bytes).inserted {
            guard let name = try? InterfaceName(validating: bytes) else { violated("cannot make a name of \(shown(bytes))") }
            names.append(name)
        }
        return names
    }

    /// The stock rule, evaluated here, against Policy.decide and the messages.
    static func checkDecision(_ policy: Policy, _ name: InterfaceName) {
        func matches(_ rule: Rule) -> Bool {
            switch rule.bridge {
            case .all: return true
            case .named(let ruleName): return ruleName.bytes == name.bytes
            }
        }
        var firstAllow: Rule?, firstDeny: Rule?
        // The stock reading: a rule with qualifiers names a bridge with spaces in its name,
        // which no device has (a regression input holds `allow !vi1 gid=1`).
        for rule in policy.rules where rule.isStock && matches(rule) {
            if rule.action == .allow, firstAllow == nil { firstAllow = rule }
            if rule.action == .deny, firstDeny == nil { firstDeny = rule }
        }
        let expected: AccessDecision
        if let firstDeny { expected = .denied(by: firstDeny) }
        else if let firstAllow { expected = .allowed(by: firstAllow) }
        else { expected = .notAllowed }
        let decision = policy.decideAsStock(bridge: name)
        check(decision == expected, "decision for '\(shown(name.bytes))' is \(decision), expected \(expected)")
        check(decision.isAllowed == (firstAllow != nil && firstDeny == nil), "isAllowed disagrees with the decision")

        let refusal = ACLMessages.refusal(decision, bridge: name, topLevel: FuzzTree.topLevel)
        check((refusal == nil) == decision.isAllowed, "a refusal message exists iff the bridge is refused")
        if let refusal {
            checkSafeLine(refusal, "refusal message")
            check(refusal.hasPrefix(ACLMessages.deniedPrefix), "refusal does not start with the stock words")
        }
    }

    static func replacingTopLevel(_ tree: FuzzTree, with contents: [UInt8]) -> FuzzTree? {
        guard case .contents(_, let identity) = tree.load(path: FuzzTree.topLevel) else { return nil }
        let changed = FuzzTree(copying: tree)
        changed.files[FuzzTree.topLevel] = .contents(contents, identity: identity)
        return changed
    }

    /// Appending `deny X` at the end of the top-level file: the load still succeeds with exactly
    /// one more rule, X is refused, and no bridge goes from refused to allowed.
    static func addingADenyNeverGrants(_ tree: FuzzTree, _ policy: Policy, _ names: [InterfaceName]) {
        guard case .contents(let top, _) = tree.load(path: FuzzTree.topLevel) else { return }
        let denied = names[(top.count + policy.rules.count) % names.count]
        let selector = denied.bytes == utf8("all") ? utf8("all") : denied.bytes
        guard let changed = replacingTopLevel(tree, with: top + utf8("\ndeny ") + selector + utf8("\n")) else { return }
        guard case .success(let after) = PolicyLoader.load(path: FuzzTree.topLevel, from: changed, limits: changed.limits) else {
            violated("appending 'deny \(shown(selector))' to a loadable top-level file made it fail")
        }
        check(after.rules.count == policy.rules.count + 1, "appending one deny did not add exactly one rule")
        for name in names {
            let now = after.decideAsStock(bridge: name).isAllowed
            check(!now || policy.decideAsStock(bridge: name).isAllowed, "adding a deny granted '\(shown(name.bytes))'")
            if selector == utf8("all") || name.bytes == selector {
                check(!now, "'\(shown(name.bytes))' is allowed after appending 'deny \(shown(selector))'")
            }
        }
    }

    /// A top-level file without includes, its lines reversed: the same decisions.
    static func lineOrderDoesNotMatter(_ tree: FuzzTree, _ policy: Policy, _ names: [InterfaceName]) {
        guard policy.filesRead.count == 1, policy.skippedIncludes.isEmpty,
              case .contents(let top, _) = tree.load(path: FuzzTree.topLevel) else { return }
        let lines = top.split(separator: 0x0A, omittingEmptySubsequences: false)
        let reversed = Array(lines.reversed().joined(separator: [0x0A]))
        guard let changed = replacingTopLevel(tree, with: reversed),
              case .success(let permuted) = PolicyLoader.load(path: FuzzTree.topLevel, from: changed, limits: changed.limits) else {
            violated("reversing the lines of a loadable top-level file without includes made it fail")
        }
        for name in names {
            check(permuted.decideAsStock(bridge: name).isAllowed == policy.decideAsStock(bridge: name).isAllowed,
                  "reversing the rules changed the decision for '\(shown(name.bytes))'")
        }
    }
}
