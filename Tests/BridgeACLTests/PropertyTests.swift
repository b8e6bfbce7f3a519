import BridgeACL
import Testing

/// Random small policies over {br0, br1, br2, all}, from a fixed seed so every run checks the
/// same few thousand cases. Each property reports its first counterexample (as the file text).
@Suite("Policy properties")
struct PropertyTests {
    static let iterations = 3000
    static let ruleNames = ["br0", "br1", "br2", "all"]
    /// br3 is only ever matched through `all`.
    static let requested = ["br0", "br1", "br2", "br3"]

    struct Line: Equatable {
        var allow: Bool
        var bridge: String
        var text: String { "\(allow ? "allow" : "deny") \(bridge)" }
    }

    static func randomLine(_ rng: inout SplitMix64) -> Line {
        Line(allow: Bool.random(using: &rng), bridge: ruleNames.randomElement(using: &rng) ?? "br0")
    }

    static func randomPolicy(_ rng: inout SplitMix64) -> [Line] {
        (0..<Int.random(in: 0...8, using: &rng)).map { _ in randomLine(&rng) }
    }

    static func text(_ lines: [String]) -> String { lines.map { $0 + "\n" }.joined() }

    static func load(_ lines: [String]) throws -> Policy {
        try loadPolicy(MemoryACLTree([topLevelPath: text(lines)])).get()
    }

    /// The stock helper's rule, written independently of `Policy.decide`.
    static func stockAllows(_ lines: [Line], _ bridge: String) -> Bool {
        let matching = lines.filter { $0.bridge == "all" || $0.bridge == bridge }
        return matching.contains(where: \.allow) && !matching.contains(where: { !$0.allow })
    }

    @Test func agreesWithTheStockRule() throws {
        var rng = SplitMix64(seed: 0x6272_6964_6765_0001)
        var counterexample: String?
        for _ in 0..<Self.iterations where counterexample == nil {
            let lines = Self.randomPolicy(&rng)
            let policy = try Self.load(lines.map(\.text))
            for bridge in Self.requested {
                if policy.decideAsStock(bridge: try name(bridge)).isAllowed != Self.stockAllows(lines, bridge) {
                    counterexample = "\(lines.map(\.text)) ? \(bridge)"
                }
            }
        }
        #expect(counterexample == nil)
    }

    @Test func addingADenyNeverGrants() throws {
        var rng = SplitMix64(seed: 0x6272_6964_6765_0002)
        var counterexample: String?
        for _ in 0..<Self.iterations where counterexample == nil {
            let lines = Self.randomPolicy(&rng).map(\.text)
            let denied = Self.ruleNames.randomElement(using: &rng) ?? "all"
            let position = Int.random(in: 0...lines.count, using: &rng)
            var withDeny = lines
            withDeny.insert("deny \(denied)", at: position)
            let before = try Self.load(lines)
            let after = try Self.load(withDeny)
            for bridge in Self.requested {
                let bridgeName = try name(bridge)
                let grantedNow = after.decideAsStock(bridge: bridgeName).isAllowed
                let grantedBefore = before.decideAsStock(bridge: bridgeName).isAllowed
                let mustBeDenied = denied == "all" || denied == bridge
                if (grantedNow && !grantedBefore) || (mustBeDenied && grantedNow) {
                    counterexample = "\(withDeny) ? \(bridge)"
                }
            }
        }
        #expect(counterexample == nil)
    }

    @Test func ruleOrderDoesNotMatter() throws {
        var rng = SplitMix64(seed: 0x6272_6964_6765_0003)
        var counterexample: String?
        for _ in 0..<Self.iterations where counterexample == nil {
            let lines = Self.randomPolicy(&rng).map(\.text)
            let shuffled = lines.shuffled(using: &rng)
            let original = try Self.load(lines)
            let permuted = try Self.load(shuffled)
            for bridge in Self.requested {
                let bridgeName = try name(bridge)
                if original.decideAsStock(bridge: bridgeName).isAllowed != permuted.decideAsStock(bridge: bridgeName).isAllowed {
                    counterexample = "\(lines) vs \(shuffled) ? \(bridge)"
                }
            }
        }
        #expect(counterexample == nil)
    }

    /// The decision without the include line, with the deciding rule's line moved down by one if
    /// it came after the insertion point: what the file with the (unavailable) include must give.
    static func shifted(_ decision: AccessDecision, insertedAt line: Int) -> AccessDecision {
        func move(_ rule: Rule) -> Rule {
            let old = rule.location
            let new = old.line >= line ? old.line + 1 : old.line
            return Rule(action: rule.action, bridge: rule.bridge, location: BridgeACL.SourceLocation(path: old.path, line: new),
                        match: rule.match, options: rule.options)
        }
        switch decision {
        case .allowed(let rule): return .allowed(by: move(rule))
        case .denied(let rule): return .denied(by: move(rule))
        case .notAllowed: return .notAllowed
        case .unresolved(let name):
            return .unresolved(UnresolvedName(name: name.name, kind: name.kind, lookup: name.lookup, rule: move(name.rule)))
        }
    }

    @Test func unavailableIncludeDecidesLikeNoInclude() throws {
        var rng = SplitMix64(seed: 0x6272_6964_6765_0004)
        var counterexample: String?
        for iteration in 0..<Self.iterations where counterexample == nil {
            let lines = Self.randomPolicy(&rng).map(\.text)
            let position = Int.random(in: 0...lines.count, using: &rng)
            var withInclude = lines
            withInclude.insert("include /etc/qemu/missing-\(iteration).conf", at: position)
            let without = try Self.load(lines)
            let with = try Self.load(withInclude)
            if with.skippedIncludes != [location(topLevelPath, position + 1)] || with.filesRead != [bytes(topLevelPath)] {
                counterexample = "\(withInclude): skipped \(with.skippedIncludes)"
            }
            for bridge in Self.requested {
                let bridgeName = try name(bridge)
                let expected = Self.shifted(without.decideAsStock(bridge: bridgeName), insertedAt: position + 1)
                if with.decideAsStock(bridge: bridgeName) != expected {
                    counterexample = "\(withInclude) ? \(bridge)"
                }
            }
        }
        #expect(counterexample == nil)
    }
}
