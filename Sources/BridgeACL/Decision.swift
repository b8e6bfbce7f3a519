/// The outcome of checking one bridge against a policy, with the rule that decided it.
public enum AccessDecision: Equatable, Sendable {
    /// Some allow rule matched and no deny rule did.
    case allowed(by: Rule)
    /// A deny rule matched. Deny wins regardless of order, as in the stock helper.
    case denied(by: Rule)
    /// No rule matched: the default is to deny.
    case notAllowed

    public var isAllowed: Bool {
        if case .allowed = self { return true }
        return false
    }
}

extension Policy {
    /// Stock semantics: allowed iff some allow rule matches and no deny rule matches. The deciding
    /// rule reported is the first matching deny, else the first matching allow, in file order
    /// with includes expanded in place.
    public func decide(bridge: InterfaceName) -> AccessDecision {
        if let deny = rules.first(where: { $0.action == .deny && $0.bridge.matches(bridge) }) {
            return .denied(by: deny)
        }
        if let allow = rules.first(where: { $0.action == .allow && $0.bridge.matches(bridge) }) {
            return .allowed(by: allow)
        }
        return .notAllowed
    }
}

/// The texts the helper prints for ACL outcomes. Every refusal starts with the stock helper's
/// words `access denied by acl file`, which scripts grep for, then says why and where.
public enum ACLMessages {
    public static let deniedPrefix = "access denied by acl file"

    public static func refusal(_ decision: AccessDecision, bridge: InterfaceName, topLevel: [UInt8]) -> String? {
        switch decision {
        case .allowed:
            return nil
        case .denied(let rule):
            return "\(deniedPrefix): \(rule.location): '\(rule)' refuses bridge '\(bridge)'"
        case .notAllowed:
            return "\(deniedPrefix): no rule in \(Escaping.escape(topLevel)) or its includes allows bridge '\(bridge)'; an administrator can add 'allow \(bridge)'"
        }
    }

    public static func refusal(_ error: PolicyError) -> String {
        "\(deniedPrefix): \(error)"
    }
}
