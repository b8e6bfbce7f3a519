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

/// The names the kernel knows one device by: the name a caller asked for, the device's canonical
/// name and its alternative names (`ip link property add dev X altname Y`). The kernel resolves
/// every one of them in name lookups, so a rule about any of them is a rule about the device.
public struct DeviceNames: Equatable, Sendable {
    public let requested: InterfaceName
    public let canonical: InterfaceName
    /// Alternative names that are valid rule names (1...15 bytes); longer ones (up to 127 bytes)
    /// can never be written in a rule, so they can never match one.
    public let alternatives: [InterfaceName]

    public init(requested: InterfaceName, canonical: InterfaceName, alternatives: [InterfaceName]) {
        self.requested = requested
        self.canonical = canonical
        self.alternatives = alternatives
    }

    /// A name that resolves to no device: only the spelling is known.
    public init(unresolved name: InterfaceName) {
        self.init(requested: name, canonical: name, alternatives: [])
    }

    /// Every name, canonical first, without duplicates.
    public var all: [InterfaceName] {
        var names = [canonical]
        for name in [requested] + alternatives where !names.contains(name) { names.append(name) }
        return names
    }
}

/// A decision about a device, with the name through which the deciding rule matched.
public struct DeviceDecision: Equatable, Sendable {
    public let decision: AccessDecision
    /// The device name the deciding rule names (the requested one for `all` rules).
    public let matchedName: InterfaceName
    public let names: DeviceNames
}

extension Policy {
    /// Stock semantics applied to the device: a deny naming any of its names refuses; otherwise
    /// an allow naming any of its names grants. Adding names can only add denials and grants
    /// that the same rules already make for the same device under another spelling.
    public func decide(device names: DeviceNames) -> DeviceDecision {
        let all = names.all
        func matched(_ rule: Rule) -> InterfaceName? {
            switch rule.bridge {
            case .all: return names.requested
            case .named(let name): return all.contains(name) ? name : nil
            }
        }
        for rule in rules where rule.action == .deny {
            if let name = matched(rule) { return DeviceDecision(decision: .denied(by: rule), matchedName: name, names: names) }
        }
        for rule in rules where rule.action == .allow {
            if let name = matched(rule) { return DeviceDecision(decision: .allowed(by: rule), matchedName: name, names: names) }
        }
        return DeviceDecision(decision: .notAllowed, matchedName: names.requested, names: names)
    }
}
