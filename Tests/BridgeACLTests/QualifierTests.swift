import BridgeACL
import Testing

/// Issue 10: the qualifiers' grammar, the decision with a caller, and drop-in directories.

/// One line and what it parses to: the canonical rule text, or the error and its column.
struct QualifierCase: Sendable, CustomTestStringConvertible {
    let line: String
    let expected: Result<String, QualifierParseError>
    var testDescription: String { line }

    static func ok(_ line: String, _ canonical: String? = nil) -> QualifierCase {
        QualifierCase(line: line, expected: .success(canonical ?? line))
    }
    static func error(_ line: String, column: Int, _ message: String) -> QualifierCase {
        QualifierCase(line: line, expected: .failure(QualifierParseError(column: column, message: message)))
    }
}

struct QualifierParseError: Error, Equatable, Sendable {
    let column: Int
    let message: String
}

let qualifierCases: [QualifierCase] = [
    .ok("allow br0 user=alice,bob"),
    .ok("allow br1 group=lab max=4"),
    .ok("allow trunk0 group=lab vlan=20 isolated"),
    .ok("deny br1 group=interns"),
    .ok("allow br2 uid=1000 vlan=20 isolated"),
    .ok("allow all gid=0,4294967294"),
    .ok("deny all uid=0"),
    // Canonical order: user uid group gid, then max vlan isolated.
    .ok("allow br0 isolated vlan=4094 max=1 gid=7 group=g uid=1 user=u", "allow br0 user=u uid=1 group=g gid=7 max=1 vlan=4094 isolated"),
    .ok("allow br0\tuser=alice  # comment", "allow br0 user=alice"),
    .ok("allow br0 user=alice\r", "allow br0 user=alice"),
    .ok("allow br0 user=dom\\user", "allow br0 user=dom\\x5cuser"),
    .ok("allow br0 max=1023"),
    .ok("allow br0 vlan=1"),
    .error("allow br0 owner=alice", column: 11, "unknown qualifier 'owner' (expected user=, uid=, group=, gid=, max=, vlan= or isolated)"),
    .error("allow br0 User=alice", column: 11, "unknown qualifier 'User' (expected user=, uid=, group=, gid=, max=, vlan= or isolated)"),
    .error("allow br0 br1", column: 11, "unexpected 'br1' after the bridge name (one bridge per rule)"),
    .error("allow br0 user=a user=b", column: 18, "'user' is given twice in one rule (list values with commas: user=a,b)"),
    .error("allow br0 isolated isolated", column: 20, "'isolated' is given twice in one rule (list values with commas: isolated=a,b)"),
    .error("deny br0 max=2", column: 10, "'max' is an option of allow rules; a deny takes only user=, uid=, group= and gid="),
    .error("deny br0 vlan=2", column: 10, "'vlan' is an option of allow rules; a deny takes only user=, uid=, group= and gid="),
    .error("deny br0 user=a isolated", column: 17, "'isolated' is an option of allow rules; a deny takes only user=, uid=, group= and gid="),
    .error("allow br0 isolated=1", column: 11, "'isolated' takes no value"),
    .error("allow br0 user", column: 11, "'user' needs a value: user=..."),
    .error("allow br0 user=", column: 11, "'user=' has an empty value"),
    .error("allow br0 user=a,,b", column: 16, "'user=a,,b' has an empty element (a stray comma)"),
    .error("allow br0 group=,a", column: 17, "'group=,a' has an empty element (a stray comma)"),
    .error("allow br0 user=a,a", column: 18, "user 'a' is listed twice"),
    .error("allow br0 uid=1,1", column: 17, "uid '1' is listed twice"),
    .error("allow br0 user=1000", column: 16, "user name '1000' is a number; write uid=1000 for a numeric id"),
    .error("allow br0 group=27", column: 17, "group name '27' is a number; write gid=27 for a numeric id"),
    .error("allow br0 user=a:b", column: 16, "user name 'a:b' contains ':'"),
    .error("allow br0 user=a=b", column: 16, "user name 'a=b' contains '='"),
    .error("allow br0 user=a\u{7F}", column: 16, "user name 'a\\x7f' contains a control byte"),
    .error("allow br0 uid=-1", column: 15, "uid '-1' is not a decimal number in 0...4294967294"),
    .error("allow br0 uid=4294967295", column: 15, "uid '4294967295' is not a decimal number in 0...4294967294"),
    .error("allow br0 gid=0x10", column: 15, "gid '0x10' is not a decimal number in 0...4294967294"),
    .error("allow br0 uid=0100", column: 15, "uid '0100' is not a decimal number in 0...4294967294"),
    .error("allow br0 uid=+1", column: 15, "uid '+1' is not a decimal number in 0...4294967294"),
    .error("allow br0 max=0", column: 15, "max=0 is not a number in 1...1023"),
    .error("allow br0 max=1024", column: 15, "max=1024 is not a number in 1...1023"),
    .error("allow br0 max=99999999999", column: 15, "max=99999999999 is not a number in 1...1023"),
    .error("allow br0 max=3,4", column: 15, "max=3,4 is not a number in 1...1023"),
    .error("allow br0 vlan=0", column: 16, "vlan=0 is not a number in 1...4094"),
    .error("allow br0 vlan=4095", column: 16, "vlan=4095 is not a number in 1...4094"),
    .error("allow br0 vlan=20 vlan=30", column: 19, "'vlan' is given twice in one rule (list values with commas: vlan=a,b)"),
]

@Suite("Qualifiers: grammar")
struct QualifierGrammarTests {
    @Test(arguments: qualifierCases)
    func parse(_ item: QualifierCase) {
        let parsed = Grammar.parseLine(ArraySlice(bytes(item.line)), location: location(topLevelPath, 3))
        switch (parsed, item.expected) {
        case (.success(.rule(let rule)?), .success(let canonical)):
            #expect(rule.description == canonical)
            #expect(rule.location == location(topLevelPath, 3))
        case (.failure(let error), .failure(let expected)):
            #expect(error.message == expected.message)
            #expect(error.column == expected.column)
            #expect(error.description == "\(topLevelPath):3: \(expected.message)")
        default:
            Issue.record("\(item.line): got \(parsed), expected \(item.expected)")
        }
    }

    @Test func valuesAreKept() throws {
        guard case .success(.rule(let rule)?) = Grammar.parseLine(ArraySlice(bytes("allow br0 user=b,a uid=7,3 group=x gid=9 max=4 vlan=20 isolated")),
                                                                  location: location(topLevelPath, 1)) else {
            Issue.record("did not parse")
            return
        }
        #expect(rule.match == RuleMatch(users: [bytes("b"), bytes("a")], uids: [7, 3], groups: [bytes("x")], gids: [9]))
        #expect(rule.options == RuleOptions(maxTaps: 4, vlan: 20, isolated: true))
        #expect(!rule.isStock)
    }

    @Test func stockLinesHaveNoQualifiers() throws {
        guard case .success(.rule(let rule)?) = Grammar.parseLine(ArraySlice(bytes("allow br0")), location: location(topLevelPath, 1)) else {
            Issue.record("did not parse")
            return
        }
        #expect(rule.match.isEmpty && rule.options == .none && rule.isStock)
    }
}

/// A caller and a name service for decision tables: alice (1000) in lab (100) and, as a
/// supplementary group, video (44); bob (1001) in interns (101).
let alice = CallerIdentity(uid: 1000, groups: [1000, 100, 44])
let bob = CallerIdentity(uid: 1001, groups: [1001, 101])
func siteNames() -> TableNames {
    TableNames(["user:alice": 1000, "user:bob": 1001, "user:carol": 1002, "user:alias": 1000,
                "group:lab": 100, "group:interns": 101, "group:video": 44, "group:alice": 1000],
               failing: ["user:ldapdown", "group:ldapdown"])
}

struct QualifiedDecisionCase: Sendable, CustomTestStringConvertible {
    let label: String
    let policy: String
    let caller: CallerIdentity
    let bridge: String
    /// "allowed N", "denied N", "not-allowed", "unresolved user|group NAME (not-found|failed) N"
    let expected: String
    var testDescription: String { label }
}

let qualifiedDecisionCases: [QualifiedDecisionCase] = [
    QualifiedDecisionCase(label: "user matches", policy: "allow br0 user=alice,bob", caller: alice, bridge: "br0", expected: "allowed 1"),
    QualifiedDecisionCase(label: "user misses", policy: "allow br0 user=bob,carol", caller: alice, bridge: "br0", expected: "not-allowed"),
    QualifiedDecisionCase(label: "another name for the same uid matches", policy: "allow br0 user=alias", caller: alice, bridge: "br0", expected: "allowed 1"),
    QualifiedDecisionCase(label: "uid matches", policy: "allow br0 uid=5,1000", caller: alice, bridge: "br0", expected: "allowed 1"),
    QualifiedDecisionCase(label: "uid misses", policy: "allow br0 uid=1001", caller: alice, bridge: "br0", expected: "not-allowed"),
    QualifiedDecisionCase(label: "primary group matches", policy: "allow br0 group=alice", caller: alice, bridge: "br0", expected: "allowed 1"),
    QualifiedDecisionCase(label: "supplementary group matches", policy: "allow br0 group=video", caller: alice, bridge: "br0", expected: "allowed 1"),
    QualifiedDecisionCase(label: "group misses", policy: "allow br0 group=interns", caller: alice, bridge: "br0", expected: "not-allowed"),
    QualifiedDecisionCase(label: "gid matches a supplementary group", policy: "allow br0 gid=44", caller: alice, bridge: "br0", expected: "allowed 1"),
    QualifiedDecisionCase(label: "keys AND: user and group both match", policy: "allow br0 user=alice group=lab", caller: alice, bridge: "br0", expected: "allowed 1"),
    QualifiedDecisionCase(label: "keys AND: group misses", policy: "allow br0 user=alice group=interns", caller: alice, bridge: "br0", expected: "not-allowed"),
    QualifiedDecisionCase(label: "keys AND: uid misses before any lookup", policy: "allow br0 uid=1 user=ldapdown", caller: alice, bridge: "br0", expected: "not-allowed"),
    QualifiedDecisionCase(label: "first applying allow decides", policy: "allow br0 user=bob vlan=30\nallow br0 group=lab vlan=20\nallow br0", caller: alice, bridge: "br0", expected: "allowed 2"),
    QualifiedDecisionCase(label: "deny by group refuses, whatever the order", policy: "allow br1 user=bob\nallow all\ndeny br1 group=interns", caller: bob, bridge: "br1", expected: "denied 3"),
    QualifiedDecisionCase(label: "deny for others does not apply", policy: "allow all\ndeny br1 group=interns", caller: alice, bridge: "br1", expected: "allowed 1"),
    QualifiedDecisionCase(label: "deny on another bridge is not evaluated", policy: "allow all\ndeny br9 user=ghost", caller: alice, bridge: "br0", expected: "allowed 1"),
    QualifiedDecisionCase(label: "an unknown user in a deny refuses", policy: "allow all\ndeny br0 user=ghost", caller: alice, bridge: "br0", expected: "unresolved user ghost not-found 2"),
    QualifiedDecisionCase(label: "a failed lookup in a deny refuses", policy: "allow all\ndeny all group=ldapdown", caller: alice, bridge: "br0", expected: "unresolved group ldapdown failed 2"),
    QualifiedDecisionCase(label: "a deny that applies wins over an unresolvable one", policy: "allow all\ndeny br0 user=ghost\ndeny br0 uid=1000", caller: alice, bridge: "br0", expected: "denied 3"),
    QualifiedDecisionCase(label: "an unresolvable name after a matching one does not matter", policy: "deny br0 user=alice,ghost\nallow all", caller: alice, bridge: "br0", expected: "denied 1"),
    QualifiedDecisionCase(label: "an unknown user in an earlier allow refuses", policy: "allow br0 user=ghost vlan=30\nallow br0", caller: alice, bridge: "br0", expected: "unresolved user ghost not-found 1"),
    QualifiedDecisionCase(label: "an unknown user in a later allow does not matter", policy: "allow br0 user=alice\nallow br0 user=ghost", caller: alice, bridge: "br0", expected: "allowed 1"),
    QualifiedDecisionCase(label: "a known user listed with an unknown one grants", policy: "allow br0 user=ghost,alice", caller: alice, bridge: "br0", expected: "allowed 1"),
    QualifiedDecisionCase(label: "an unknown name with a key that cannot match does not matter", policy: "allow br0 user=ghost group=interns\nallow br0", caller: alice, bridge: "br0", expected: "allowed 2"),
    QualifiedDecisionCase(label: "stock rules need no names", policy: "allow br0\ndeny br1", caller: alice, bridge: "br0", expected: "allowed 1"),
    QualifiedDecisionCase(label: "allow all with a group", policy: "allow all group=lab max=2", caller: alice, bridge: "brx", expected: "allowed 1"),
    QualifiedDecisionCase(label: "uid 0 is only what it says", policy: "allow br0 uid=0", caller: alice, bridge: "br0", expected: "not-allowed"),
]

func renderQualified(_ decision: AccessDecision) -> String {
    switch decision {
    case .allowed(let rule): return "allowed \(rule.location.line)"
    case .denied(let rule): return "denied \(rule.location.line)"
    case .notAllowed: return "not-allowed"
    case .unresolved(let name):
        let how: String
        switch name.lookup {
        case .failed: how = "failed"
        default: how = "not-found"
        }
        return "unresolved \(name.kind.word) \(String(decoding: name.name, as: UTF8.self)) \(how) \(name.rule.location.line)"
    }
}

@Suite("Qualifiers: decisions")
struct QualifierDecisionTests {
    @Test(arguments: qualifiedDecisionCases)
    func decide(_ item: QualifiedDecisionCase) throws {
        let policy = try #require(singleFilePolicy(item.policy + "\n"))
        let decided = policy.decide(device: DeviceNames(unresolved: try name(item.bridge)), caller: item.caller, resolver: siteNames())
        #expect(renderQualified(decided.decision) == item.expected)
    }

    @Test func eachNameIsLookedUpOnceAndOnlyWhenNeeded() throws {
        let policy = try #require(singleFilePolicy("deny br0 user=carol\nallow br0 user=carol,bob\nallow br0 user=alice group=lab\nallow br0 user=zed\nallow br9 user=nine\n"))
        let names = siteNames()
        let decided = policy.decide(device: DeviceNames(unresolved: try name("br0")), caller: alice, resolver: names)
        #expect(renderQualified(decided.decision) == "allowed 3")
        // carol once (the deny and the allow share it), bob, then alice and lab (keys AND);
        // zed (after the deciding allow) and nine (another bridge) never.
        #expect(names.lookups == ["user:carol", "user:bob", "user:alice", "group:lab"])
    }

    @Test func unresolvedRefusalNamesTheNameAndTheRule() throws {
        let policy = try #require(singleFilePolicy("allow all\ndeny br0 group=ldapdown\n"))
        let decided = policy.decide(device: DeviceNames(unresolved: try name("br0")), caller: alice, resolver: siteNames())
        #expect(ACLMessages.refusal(decided, topLevel: bytes(topLevelPath), errorText: { "Input/output error (\($0))" })
                == "access denied by acl file: /etc/qemu/bridge.conf:2: looking up group 'ldapdown' failed (Input/output error (5)), and whether 'deny br0 group=ldapdown' applies to you depends on it; refused for bridge 'br0'")
    }

    @Test func unknownUserMessage() throws {
        let policy = try #require(singleFilePolicy("allow all\ndeny br0 user=ghost\n"))
        let decided = policy.decide(device: DeviceNames(unresolved: try name("br0")), caller: alice, resolver: siteNames())
        #expect(ACLMessages.refusal(decided, topLevel: bytes(topLevelPath))
                == "access denied by acl file: /etc/qemu/bridge.conf:2: user 'ghost' does not exist, and whether 'deny br0 user=ghost' applies to you depends on it; refused for bridge 'br0'")
    }

    @Test func alternativeNamesCountForQualifiedRules() throws {
        let policy = try #require(singleFilePolicy("allow all\ndeny brmgmt group=interns\n"))
        let names = DeviceNames(requested: try name("mgmt"), canonical: try name("brmgmt"), alternatives: [try name("mgmt")])
        #expect(renderQualified(policy.decide(device: names, caller: bob, resolver: siteNames()).decision) == "denied 2")
        #expect(renderQualified(policy.decide(device: names, caller: alice, resolver: siteNames()).decision) == "allowed 1")
    }

    /// Stock reads a qualified line as a rule about a bridge named with spaces: never matching.
    @Test func stockReadingIgnoresQualifiedRules() throws {
        let policy = try #require(singleFilePolicy("allow all\ndeny br0 user=alice\nallow br1 user=alice\n"))
        #expect(policy.decideAsStock(bridge: try name("br0")).isAllowed)
        #expect(renderQualified(policy.decideAsStock(bridge: try name("br1"))) == "allowed 1")
    }
}

/// Random policies over a small alphabet, to check the properties the issue names.
@Suite("Qualifiers: properties")
struct QualifierPropertyTests {
    static let bridges = ["br0", "br1", "all"]
    static let keys = ["", " user=alice", " user=bob", " user=ghost", " uid=1000", " group=lab", " group=interns",
                       " gid=44", " user=alice,bob", " group=ldapdown", " user=bob uid=1001"]
    static let callers = [alice, bob, CallerIdentity(uid: 1002, groups: [1002])]

    static func line(_ rng: inout SplitMix64) -> String {
        let action = rng.next() % 3 == 0 ? "deny" : "allow"
        return "\(action) \(bridges[Int(rng.next() % 3)])\(keys[Int(rng.next() % UInt64(keys.count))])"
    }

    static func decide(_ lines: [String], _ caller: CallerIdentity, _ bridge: String) throws -> AccessDecision? {
        guard case .success(let policy) = loadPolicy(MemoryACLTree([topLevelPath: lines.joined(separator: "\n") + "\n"])) else { return nil }
        return policy.decide(device: DeviceNames(unresolved: try name(bridge)), caller: caller, resolver: siteNames()).decision
    }

    @Test func addingADenyNeverGrants() throws {
        var rng = SplitMix64(seed: 0x6272_6964_6765_0010)
        for _ in 0..<400 {
            var lines = (0..<Int(rng.next() % 6)).map { _ in Self.line(&rng) }
            let caller = Self.callers[Int(rng.next() % 3)]
            let bridge = ["br0", "br1"][Int(rng.next() % 2)]
            let before = try Self.decide(lines, caller, bridge)
            let deny = "deny \(Self.bridges[Int(rng.next() % 3)])\(Self.keys[Int(rng.next() % UInt64(Self.keys.count))])"
            lines.insert(deny, at: Int(rng.next() % UInt64(lines.count + 1)))
            let after = try Self.decide(lines, caller, bridge)
            if after?.isAllowed == true {
                #expect(before?.isAllowed == true, "\(lines) granted \(bridge) only after adding \(deny)")
            }
        }
    }

    @Test func aQualifierNeverWidensAnAllow() throws {
        var rng = SplitMix64(seed: 0x6272_6964_6765_0011)
        for _ in 0..<400 {
            var lines = (0..<Int(1 + rng.next() % 5)).map { _ in Self.line(&rng) }
            let caller = Self.callers[Int(rng.next() % 3)]
            let bridge = ["br0", "br1"][Int(rng.next() % 2)]
            let before = try Self.decide(lines, caller, bridge)
            let index = Int(rng.next() % UInt64(lines.count))
            guard lines[index].hasPrefix("allow") else { continue }
            let key = Self.keys[Int(1 + rng.next() % UInt64(Self.keys.count - 1))]
            if lines[index].contains(key.split(separator: "=")[0]) { continue }
            lines[index] += key
            let after = try Self.decide(lines, caller, bridge)
            if after?.isAllowed == true {
                #expect(before?.isAllowed == true, "adding \(key) to line \(index + 1) of \(lines) granted \(bridge)")
            }
        }
    }
}

@Suite("Drop-in directories")
struct DropInDirectoryTests {
    @Test func filesAreIncludedInByteOrderInPlace() throws {
        let tree = MemoryACLTree([topLevelPath: "allow a0\ninclude /etc/qemu/bridge.d/\nallow z9\n"])
        tree.add("/etc/qemu/bridge.d/b.conf", "allow b1\n")
        tree.add("/etc/qemu/bridge.d/B.conf", "allow c1\n")
        tree.add("/etc/qemu/bridge.d/a.conf", "allow d1\n")
        tree.add("/etc/qemu/bridge.d/10-x.conf", "deny e1\n")
        tree.add("/etc/qemu/bridge.d/.hidden.conf", "allow h1\n")
        tree.add("/etc/qemu/bridge.d/notes.txt", "allow t1\n")
        tree.add("/etc/qemu/bridge.d/.conf", "allow n1\n")
        tree.add("/etc/qemu/bridge.d/x.conf.bak", "allow k1\n")
        let policy = try loadPolicy(tree).get()
        #expect(policy.rules.map(\.description) == ["allow a0", "deny e1", "allow c1", "allow d1", "allow b1", "allow z9"])
        #expect(policy.filesRead.map { String(decoding: $0, as: UTF8.self) } == [
            topLevelPath, "/etc/qemu/bridge.d/10-x.conf", "/etc/qemu/bridge.d/B.conf",
            "/etc/qemu/bridge.d/a.conf", "/etc/qemu/bridge.d/b.conf",
        ])
        #expect(policy.rules[1].location == location("/etc/qemu/bridge.d/10-x.conf", 1))
    }

    @Test func missingUnreadableAndEmptyDirectoriesAreSkipped() throws {
        let tree = MemoryACLTree([topLevelPath: "include /etc/qemu/none/\ninclude /etc/qemu/private/\ninclude /etc/qemu/empty/\nallow br0\n"])
        tree.directory("/etc/qemu/private/", .unavailable)
        tree.directory("/etc/qemu/empty/", .names([]))
        let policy = try loadPolicy(tree).get()
        #expect(policy.rules.map(\.description) == ["allow br0"])
        #expect(policy.skippedIncludes == [location(topLevelPath, 1), location(topLevelPath, 2), location(topLevelPath, 3)])
    }

    @Test func aRefusedDirectoryRefuses() {
        let tree = MemoryACLTree([topLevelPath: "allow all\ninclude /etc/qemu/d/\n"])
        tree.directory("/etc/qemu/d/", .refused(.writableByOthers(bytes("/etc/qemu/d"), mode: 0o40777)))
        guard case .failure(let error) = loadPolicy(tree) else {
            Issue.record("a refused directory loaded")
            return
        }
        #expect(error == .refused(path: bytes("/etc/qemu/d/"), reason: .writableByOthers(bytes("/etc/qemu/d"), mode: 0o40777),
                                  includedAt: location(topLevelPath, 2)))
    }

    @Test func aRefusedDropInFileRefusesAndAnUnreadableOneIsSkipped() {
        let tree = MemoryACLTree([topLevelPath: "allow all\ninclude /etc/qemu/d/\n"])
        tree.add("/etc/qemu/d/a.conf", "deny br0\n")
        tree.refuse("/etc/qemu/d/b.conf", .notOwnedByRoot(bytes("/etc/qemu/d/b.conf"), owner: 1000))
        guard case .failure(let error) = loadPolicy(tree) else {
            Issue.record("a refused drop-in loaded")
            return
        }
        #expect(error.description == "/etc/qemu/bridge.conf:2: include refused: " + ACLFileProblem.notOwnedByRoot(bytes("/etc/qemu/d/b.conf"), owner: 1000).description)

        let skipping = MemoryACLTree([topLevelPath: "include /etc/qemu/d/\n"])
        skipping.add("/etc/qemu/d/a.conf", "allow br0\n")
        skipping.directory("/etc/qemu/d/", .names([bytes("a.conf"), bytes("private.conf")]))
        #expect((try? loadPolicy(skipping).get().rules.map(\.description)) == ["allow br0"])
        #expect((try? loadPolicy(skipping).get().skippedIncludes) == [location(topLevelPath, 1)])
    }

    @Test func namesThatLeaveTheDirectoryAreIgnored() throws {
        let tree = MemoryACLTree([topLevelPath: "include /etc/qemu/d/\n"])
        tree.add("/etc/qemu/x.conf", "allow evil\n")
        tree.add("/etc/qemu/d/ok.conf", "allow br0\n")
        tree.directory("/etc/qemu/d/", .names([bytes("../x.conf"), bytes("ok.conf"), bytes("a/b.conf"), bytes(".."), bytes("ok.conf\0.x")]))
        #expect(try loadPolicy(tree).get().rules.map(\.description) == ["allow br0"])
    }

    @Test func aDirectoryCountsItsFilesAgainstTheLimitAtOnce() {
        let tree = MemoryACLTree([topLevelPath: "include /etc/qemu/d/\n"])
        for index in 0..<5 { tree.add("/etc/qemu/d/\(index).conf", "allow br\(index)\n") }
        var limits = ACLLimits()
        limits.maximumFiles = 5
        guard case .failure(let error) = loadPolicy(tree, limits: limits) else {
            Issue.record("6 files loaded under a limit of 5")
            return
        }
        #expect(error == .tooManyFiles(at: location(topLevelPath, 1), limit: 5))
        limits.maximumFiles = 6
        #expect((try? loadPolicy(tree, limits: limits).get().rules.count) == 5)
    }

    @Test func aDropInThatIncludesItsDirectoryIsACycle() {
        let tree = MemoryACLTree([topLevelPath: "include /etc/qemu/d/\n"])
        tree.add("/etc/qemu/d/a.conf", "include /etc/qemu/d/\n")
        guard case .failure(let error) = loadPolicy(tree) else {
            Issue.record("a directory including itself loaded")
            return
        }
        #expect(error == .includeCycle(path: bytes("/etc/qemu/d/a.conf"), at: location("/etc/qemu/d/a.conf", 1)))
    }
}

/// The loader for one device builds only the rules about it, and decides exactly as the full
/// load does: same errors at the same lines, same limits, same decision.
@Suite("Loading for one device")
struct DeviceLoadTests {
    static let device = DeviceNames(requested: InterfaceName.test("mgmt"), canonical: InterfaceName.test("brmgmt"),
                                    alternatives: [InterfaceName.test("mgmt")])

    @Test func onlyRulesAboutTheDeviceAreBuilt() throws {
        let tree = MemoryACLTree([topLevelPath: "allow br0 user=alice\ndeny brmgmt group=interns\ninclude /etc/qemu/d/\nallow all max=2\nallow mgmt\nallow ALL\n"])
        tree.add("/etc/qemu/d/a.conf", "allow br9\nallow brmgmt uid=5\n")
        let full = try loadPolicy(tree).get()
        let partial = try PolicyLoader.load(path: bytes(topLevelPath), from: tree, device: Self.device).get()
        #expect(partial.rules.map(\.description) == ["deny brmgmt group=interns", "allow brmgmt uid=5", "allow all max=2", "allow mgmt"])
        #expect(partial.filesRead == full.filesRead)
        #expect(partial.skippedIncludes == full.skippedIncludes)
        for caller in [alice, bob, CallerIdentity(uid: 5, groups: [5])] {
            #expect(partial.decide(device: Self.device, caller: caller, resolver: siteNames())
                    == full.decide(device: Self.device, caller: caller, resolver: siteNames()))
        }
    }

    @Test func errorsInRulesAboutOtherBridgesStillRefuse() {
        for text in ["allow br0 user=a,a\n", "allow br0 bogus=1\n", "deny br0 max=1\n", "allow 0123456789abcdef user=a\n",
                     "allow br0 uid=x\n", "allow b:r\n", "allow br0 user=1\n"] {
            let tree = MemoryACLTree([topLevelPath: "allow mgmt\n" + text])
            guard case .failure(let full) = loadPolicy(tree),
                  case .failure(let partial) = PolicyLoader.load(path: bytes(topLevelPath), from: tree, device: Self.device) else {
                Issue.record("\(text) loaded")
                continue
            }
            #expect(full == partial, "\(text)")
        }
    }

    @Test func droppedRulesCountAgainstTheLimitAtTheirLine() {
        let tree = MemoryACLTree([topLevelPath: "allow br1\n# c\nallow br2\ninclude /etc/qemu/i.conf\nallow br3\n"])
        tree.add("/etc/qemu/i.conf", "allow mgmt\nallow br4\n")
        for maximum in 1...6 {
            var limits = ACLLimits()
            limits.maximumDirectives = maximum
            let full = loadPolicy(tree, limits: limits)
            let partial = PolicyLoader.load(path: bytes(topLevelPath), from: tree, limits: limits, device: Self.device)
            switch (full, partial) {
            case (.failure(let a), .failure(let b)): #expect(a == b, "limit \(maximum)")
            case (.success, .success): break
            default: Issue.record("limit \(maximum): \(full) vs \(partial)")
            }
        }
    }

    @Test func randomPoliciesDecideAlike() throws {
        var rng = SplitMix64(seed: 0x6272_6964_6765_0012)
        let names = ["br0", "mgmt", "brmgmt", "all", "br1"]
        for _ in 0..<300 {
            let lines = (0..<Int(1 + rng.next() % 8)).map { _ in
                (rng.next() % 3 == 0 ? "deny " : "allow ") + names[Int(rng.next() % 5)]
                    + QualifierPropertyTests.keys[Int(rng.next() % UInt64(QualifierPropertyTests.keys.count))]
            }
            let tree = MemoryACLTree([topLevelPath: lines.joined(separator: "\n") + "\n"])
            let full = try loadPolicy(tree).get()
            let partial = try PolicyLoader.load(path: bytes(topLevelPath), from: tree, device: Self.device).get()
            for caller in QualifierPropertyTests.callers {
                #expect(partial.decide(device: Self.device, caller: caller, resolver: siteNames())
                        == full.decide(device: Self.device, caller: caller, resolver: siteNames()), "\(lines)")
            }
        }
    }
}

extension InterfaceName {
    static func test(_ text: String) -> InterfaceName {
        guard let name = try? InterfaceName(validating: Array(text.utf8)) else { preconditionFailure("bad test name \(text)") }
        return name
    }
}
