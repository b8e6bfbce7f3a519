/// The texts the helper prints for ACL outcomes. Every refusal starts with the stock helper's
/// words `access denied by acl file`, which scripts grep for, then says why and where.
public enum ACLMessages {
    public static let deniedPrefix = "access denied by acl file"

    /// `errorText` words an errno of a failed name lookup (BridgeACL has no libc; the helper
    /// passes strerror's words).
    public static func refusal(_ decision: AccessDecision, bridge: InterfaceName, topLevel: [UInt8],
                               errorText: (Int32) -> String = { "error \($0)" }) -> String? {
        switch decision {
        case .unresolved(let unresolved):
            let name = Escaping.escape(unresolved.name, limit: 64)
            let rule = unresolved.rule
            let what: String
            switch unresolved.lookup {
            case .failed(let errno):
                what = "looking up \(unresolved.kind.word) '\(name)' failed (\(errorText(errno)))"
            case .notFound, .found:
                what = "\(unresolved.kind.word) '\(name)' does not exist"
            }
            return "\(deniedPrefix): \(rule.location): \(what), and whether '\(rule)' applies to you depends on it; refused for bridge '\(bridge)'"
        case .allowed:
            return nil
        case .denied(let rule):
            return "\(deniedPrefix): \(rule.location): '\(rule)' refuses bridge '\(bridge)'"
        case .notAllowed:
            return "\(deniedPrefix): no rule in \(Escaping.escape(topLevel)) or its includes allows bridge '\(bridge)'; an administrator can add 'allow \(bridge)'"
        }
    }

    /// The refusal for a decision made on a device's names; says how the matched name relates
    /// to the requested one when they differ (an alternative name of the same device).
    public static func refusal(_ decided: DeviceDecision, topLevel: [UInt8],
                               errorText: (Int32) -> String = { "error \($0)" }) -> String? {
        guard let refusal = refusal(decided.decision, bridge: decided.names.requested, topLevel: topLevel,
                                    errorText: errorText) else { return nil }
        guard case .denied = decided.decision, let note = nameNote(decided) else { return refusal }
        return "\(refusal) (\(note))"
    }

    /// How the name a rule matched relates to the name that was asked for; nil when they are the same.
    public static func nameNote(_ decided: DeviceDecision) -> String? {
        let requested = decided.names.requested, matched = decided.matchedName, canonical = decided.names.canonical
        if matched == requested { return nil }
        if requested == canonical { return "'\(matched)' is an alternative name of '\(canonical)'" }
        if matched == canonical { return "'\(requested)' is an alternative name of '\(canonical)'" }
        return "'\(requested)' and '\(matched)' are alternative names of '\(canonical)'"
    }

    public static func refusal(_ error: PolicyError) -> String {
        "\(deniedPrefix): \(error)"
    }
}
