import BridgeACL
import Testing

enum ExpectedDecision: Sendable, Equatable {
    case allowed(by: ExpectedRule)
    case denied(by: ExpectedRule)
    case notAllowed
}

struct DecisionCase: Sendable, CustomTestStringConvertible {
    let acl: String
    let bridge: [UInt8]
    let expected: ExpectedDecision

    init(_ acl: String, _ bridge: String, _ expected: ExpectedDecision) {
        self.init(acl, bytes(bridge), expected)
    }
    init(_ acl: String, _ bridge: [UInt8], _ expected: ExpectedDecision) {
        self.acl = acl
        self.bridge = bridge
        self.expected = expected
    }
    var testDescription: String { "\(Escaping.escape(bytes(acl))) ? \(Escaping.escape(bridge))" }
}

let decisionCases: [DecisionCase] = [
    DecisionCase("", "br0", .notAllowed),
    DecisionCase("# nothing\n", "br0", .notAllowed),
    DecisionCase("allow br0\n", "br0", .allowed(by: .allow("br0", line: 1))),
    DecisionCase("allow br0\n", "br1", .notAllowed),
    DecisionCase("allow br0\n", "BR0", .notAllowed),
    DecisionCase("allow all\n", "br1", .allowed(by: .allowAll(line: 1))),
    DecisionCase("allow all\n", "all", .allowed(by: .allowAll(line: 1))),
    DecisionCase("deny br0\n", "br0", .denied(by: .deny("br0", line: 1))),
    DecisionCase("deny br0\n", "br1", .notAllowed),
    DecisionCase("deny all\n", "br0", .denied(by: .denyAll(line: 1))),
    // Deny wins regardless of order.
    DecisionCase("deny br0\nallow all\n", "br0", .denied(by: .deny("br0", line: 1))),
    DecisionCase("deny br0\nallow all\n", "br1", .allowed(by: .allowAll(line: 2))),
    DecisionCase("allow all\ndeny br0\n", "br0", .denied(by: .deny("br0", line: 2))),
    DecisionCase("allow br0\ndeny all\n", "br0", .denied(by: .denyAll(line: 2))),
    DecisionCase("allow br0\nallow br0\ndeny br0\n", "br0", .denied(by: .deny("br0", line: 3))),
    // The first matching deny, else the first matching allow, is reported.
    DecisionCase("allow all\ndeny br0\ndeny all\n", "br0", .denied(by: .deny("br0", line: 2))),
    DecisionCase("allow all\ndeny all\ndeny br0\n", "br0", .denied(by: .denyAll(line: 2))),
    DecisionCase("allow br0\nallow all\n", "br0", .allowed(by: .allow("br0", line: 1))),
    DecisionCase("allow all\nallow br0\n", "br0", .allowed(by: .allowAll(line: 1))),
    DecisionCase("allow br1\ndeny br2\nallow br0\n", "br0", .allowed(by: .allow("br0", line: 3))),
    // Names are bytes: case, Unicode normalization and invalid UTF-8 are not folded.
    DecisionCase("allow ALL\n", "br0", .notAllowed),
    DecisionCase("allow ALL\n", "all", .notAllowed),
    DecisionCase("allow ALL\n", "ALL", .allowed(by: .allow("ALL", line: 1))),
    DecisionCase("allow \u{e9}\n", [0xC3, 0xA9], .allowed(by: ExpectedRule(action: .allow, bridge: [0xC3, 0xA9], path: topLevelPath, line: 1))),
    DecisionCase("allow \u{e9}\n", [0x65, 0xCC, 0x81], .notAllowed),
    DecisionCase("allow all\ndeny e\u{301}\n", [0xC3, 0xA9], .allowed(by: .allowAll(line: 1))),
    DecisionCase("allow br0 # lab\n", "br0", .allowed(by: .allow("br0", line: 1))),
]

func expectedDecision(_ decision: ExpectedDecision) throws -> AccessDecision {
    switch decision {
    case .allowed(let rule): return .allowed(by: try rule.rule())
    case .denied(let rule): return .denied(by: try rule.rule())
    case .notAllowed: return .notAllowed
    }
}

@Suite("Decisions")
struct DecisionTests {
    @Test(arguments: decisionCases)
    func decide(_ testCase: DecisionCase) throws {
        let policy = try #require(singleFilePolicy(testCase.acl))
        let decision = policy.decideAsStock(bridge: try InterfaceName(validating: testCase.bridge))
        #expect(decision == (try expectedDecision(testCase.expected)))
        if case .allowed = testCase.expected { #expect(decision.isAllowed) } else { #expect(!decision.isAllowed) }
    }

    @Test func nonUTF8Names() throws {
        let tree = MemoryACLTree()
        tree.add(topLevelPath, contents: bytes("allow ") + [0xFF] + bytes("\n"))
        let policy = try loadPolicy(tree).get()
        #expect(policy.decideAsStock(bridge: try InterfaceName(validating: [0xFF])).isAllowed)
        #expect(!policy.decideAsStock(bridge: try InterfaceName(validating: [0xEF, 0xBF, 0xBD])).isAllowed)
    }

    @Test func decidingRuleInAnIncludeNamesThatFile() throws {
        let tree = MemoryACLTree([
            topLevelPath: "allow all\ninclude /etc/qemu/lab.conf\n",
            "/etc/qemu/lab.conf": "\n\ndeny br0\n",
        ])
        let policy = try loadPolicy(tree).get()
        let bridge = try name("br0")
        let decision = policy.decideAsStock(bridge: bridge)
        #expect(decision == .denied(by: try ExpectedRule.deny("br0", "/etc/qemu/lab.conf", line: 3).rule()))
        #expect(ACLMessages.refusal(decision, bridge: bridge, topLevel: bytes(topLevelPath))
                == "access denied by acl file: /etc/qemu/lab.conf:3: 'deny br0' refuses bridge 'br0'")
    }
}

let policyErrorMessages: [(PolicyError, String)] = [
    (PolicyError.topLevelUnavailable(path: bytes("/etc/qemu/bridge.conf")),
     "access denied by acl file: /etc/qemu/bridge.conf does not exist or is not readable by this user"),
    (PolicyError.refused(path: bytes("/etc/qemu/a.conf"), reason: .symbolicLink(bytes("/etc/qemu/a.conf")),
                         includedAt: location("/etc/qemu/bridge.conf", 4)),
     "access denied by acl file: /etc/qemu/bridge.conf:4: include refused: /etc/qemu/a.conf is a symbolic link; ACL paths must name the real file"),
    (PolicyError.refused(path: bytes("/etc/qemu/bridge.conf"), reason: .tooLarge(bytes("/etc/qemu/bridge.conf"), limit: 1 << 20),
                         includedAt: nil),
     "access denied by acl file: /etc/qemu/bridge.conf is larger than 1048576 bytes"),
    (PolicyError.includeCycle(path: bytes("/etc/qemu/a.conf"), at: location("/etc/qemu/b.conf", 2)),
     "access denied by acl file: /etc/qemu/b.conf:2: include cycle: /etc/qemu/a.conf is already being read"),
    (PolicyError.tooDeep(at: location("/etc/qemu/f16.conf", 1), limit: 16),
     "access denied by acl file: /etc/qemu/f16.conf:1: includes are nested more than 16 levels deep"),
    (PolicyError.tooManyFiles(at: location("/etc/qemu/bridge.conf", 9), limit: 256),
     "access denied by acl file: /etc/qemu/bridge.conf:9: more than 256 files included in total"),
    (PolicyError.includeCycle(path: bytes("/etc/qemu/\u{1B}[2J.conf"), at: location("/etc/qemu/b\n.conf", 2)),
     "access denied by acl file: /etc/qemu/b\\x0a.conf:2: include cycle: /etc/qemu/\\x1b[2J.conf is already being read"),
]

@Suite("ACLMessages")
struct ACLMessageTests {
    let top = bytes(topLevelPath)

    @Test func allowedHasNoRefusal() throws {
        let policy = try #require(singleFilePolicy("allow br0\n"))
        let bridge = try name("br0")
        #expect(ACLMessages.refusal(policy.decideAsStock(bridge: bridge), bridge: bridge, topLevel: top) == nil)
    }

    @Test func deniedByANamedRule() throws {
        let policy = try #require(singleFilePolicy("allow all\ndeny br1\n"))
        let bridge = try name("br1")
        #expect(ACLMessages.refusal(policy.decideAsStock(bridge: bridge), bridge: bridge, topLevel: top)
                == "access denied by acl file: /etc/qemu/bridge.conf:2: 'deny br1' refuses bridge 'br1'")
    }

    @Test func deniedByDenyAll() throws {
        let policy = try #require(singleFilePolicy("allow br0\n\ndeny all\n"))
        let bridge = try name("br0")
        #expect(ACLMessages.refusal(policy.decideAsStock(bridge: bridge), bridge: bridge, topLevel: top)
                == "access denied by acl file: /etc/qemu/bridge.conf:3: 'deny all' refuses bridge 'br0'")
    }

    @Test func notAllowed() throws {
        let policy = try #require(singleFilePolicy("allow br0\n"))
        let bridge = try name("br7")
        #expect(ACLMessages.refusal(policy.decideAsStock(bridge: bridge), bridge: bridge, topLevel: top)
                == "access denied by acl file: no rule in /etc/qemu/bridge.conf or its includes allows bridge 'br7'; an administrator can add 'allow br7'")
    }

    @Test func notAllowedEscapesTheName() throws {
        let policy = try #require(singleFilePolicy(""))
        let bridge = try InterfaceName(validating: bytes("br") + [0xC2, 0x9B] + bytes("'x"))
        #expect(ACLMessages.refusal(policy.decideAsStock(bridge: bridge), bridge: bridge, topLevel: top)
                == "access denied by acl file: no rule in /etc/qemu/bridge.conf or its includes allows bridge 'br\\xc2\\x9b\\x27x'; an administrator can add 'allow br\\xc2\\x9b\\x27x'")
    }

    @Test func notAllowedNamesTheTopLevelFileGiven() throws {
        let policy = try #require(singleFilePolicy(""))
        let bridge = try name("br0")
        #expect(ACLMessages.refusal(.notAllowed, bridge: bridge, topLevel: bytes("/etc/qemu/other\n.conf"))
                == "access denied by acl file: no rule in /etc/qemu/other\\x0a.conf or its includes allows bridge 'br0'; an administrator can add 'allow br0'")
        #expect(policy.decideAsStock(bridge: bridge) == .notAllowed)
    }

    @Test(arguments: policyErrorMessages)
    func policyErrorRefusal(_ error: PolicyError, _ expected: String) {
        #expect(ACLMessages.refusal(error) == expected)
    }
}
