/// The outcome of checking one bridge against a policy, with the rule that decided it.
public enum AccessDecision: Equatable, Sendable {
    /// Some allow rule applies and no deny rule does.
    case allowed(by: Rule)
    /// A deny rule applies. Deny wins regardless of order, as in the stock helper.
    case denied(by: Rule)
    /// No rule applies: the default is to deny.
    case notAllowed
    /// Whether a rule applies depends on a user or group name that did not resolve (or whose
    /// lookup failed): refused, so that a directory server being down never makes a deny vanish.
    case unresolved(UnresolvedName)

    public var isAllowed: Bool {
        if case .allowed = self { return true }
        return false
    }
}

/// Who asks: the caller's real uid, and the groups the helper received (the real gid first,
/// then the supplementary groups), as the kernel reports them.
public struct CallerIdentity: Equatable, Sendable {
    public let uid: UInt32
    public let groups: [UInt32]

    public init(uid: UInt32, groups: [UInt32]) {
        self.uid = uid
        self.groups = groups
    }
}

public enum NameKind: Equatable, Sendable {
    case user, group

    public var word: String { self == .user ? "user" : "group" }
}

/// The answer of the name service (NSS) for one name.
public enum NameLookup: Equatable, Sendable {
    case found(UInt32)
    /// The name service answered: there is no such name.
    case notFound
    /// The lookup itself failed (a directory server down, a module error): the errno.
    case failed(errno: Int32)
}

/// Resolves user and group names to ids: NSS in the helper (`getpwnam_r`/`getgrnam_r`, as `id`
/// does), a table in tests.
public protocol NameResolver: AnyObject {
    func lookUp(_ name: [UInt8], kind: NameKind) -> NameLookup
}

/// A name that a decision depended on and could not resolve.
public struct UnresolvedName: Equatable, Sendable {
    public let name: [UInt8]
    public let kind: NameKind
    /// `.notFound` or `.failed`.
    public let lookup: NameLookup
    /// The rule whose application depended on the name.
    public let rule: Rule

    public init(name: [UInt8], kind: NameKind, lookup: NameLookup, rule: Rule) {
        self.name = name
        self.kind = kind
        self.lookup = lookup
        self.rule = rule
    }
}

extension Policy {
    /// How the stock helper decides on the same rules: allowed iff some allow rule names the
    /// bridge and no deny rule does. A rule with qualifiers is, to the stock helper, a rule about
    /// a bridge whose name contains spaces, which no device has: it never matches (so under
    /// stock a qualified allow grants nothing and a qualified deny refuses nothing). The deciding
    /// rule reported is the first matching deny, else the first matching allow.
    public func decideAsStock(bridge: InterfaceName) -> AccessDecision {
        if let deny = rules.first(where: { $0.action == .deny && $0.isStock && $0.bridge.matches(bridge) }) {
            return .denied(by: deny)
        }
        if let allow = rules.first(where: { $0.action == .allow && $0.isStock && $0.bridge.matches(bridge) }) {
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
    /// The decision for one caller and one device (contract §6). Denies first: among the deny
    /// rules naming any of the device's names (or `all`), the first in file order that applies
    /// to the caller refuses. Otherwise the first allow rule in file order that names the device
    /// and applies grants, and its options apply. A rule applies when every match key it has
    /// matches (the caller's uid among `uid=` and the uids `user=` names resolve to; one of the
    /// caller's groups among `gid=` and the gids `group=` names resolve to).
    ///
    /// A name is looked up only when the outcome depends on it, at most once per decision. When
    /// whether a deny applies, or whether an allow before the deciding one applies, depends on a
    /// name that does not resolve, the decision is `.unresolved`: it refuses, naming the name.
    /// Adding names to a device can only add denials and grants that the same rules already make
    /// for the same device under another spelling; adding a key to a rule can only make it apply
    /// to fewer callers.
    public func decide(device names: DeviceNames, caller: CallerIdentity,
                       resolver: some NameResolver) -> DeviceDecision {
        let all = names.all
        func matched(_ rule: Rule) -> InterfaceName? {
            switch rule.bridge {
            case .all: return names.requested
            case .named(let name): return all.contains(name) ? name : nil
            }
        }
        var applicability = Applicability(caller: caller, resolver: resolver)
        var undecidedDeny: UnresolvedName?
        for rule in rules where rule.action == .deny {
            guard let name = matched(rule) else { continue }
            switch applicability.applies(rule) {
            case .yes: return DeviceDecision(decision: .denied(by: rule), matchedName: name, names: names)
            case .no: continue
            case .unknown(let unresolved): if undecidedDeny == nil { undecidedDeny = unresolved }
            }
        }
        if let undecidedDeny {
            return DeviceDecision(decision: .unresolved(undecidedDeny), matchedName: names.requested, names: names)
        }
        for rule in rules where rule.action == .allow {
            guard let name = matched(rule) else { continue }
            switch applicability.applies(rule) {
            case .yes: return DeviceDecision(decision: .allowed(by: rule), matchedName: name, names: names)
            case .no: continue
            case .unknown(let unresolved):
                return DeviceDecision(decision: .unresolved(unresolved), matchedName: name, names: names)
            }
        }
        return DeviceDecision(decision: .notAllowed, matchedName: names.requested, names: names)
    }
}

/// Whether rules apply to one caller, with each name looked up at most once.
struct Applicability<Resolver: NameResolver> {
    enum Answer {
        case yes, no
        case unknown(UnresolvedName)
    }

    let caller: CallerIdentity
    let resolver: Resolver
    var users: [[UInt8]: NameLookup] = [:]
    var groups: [[UInt8]: NameLookup] = [:]

    init(caller: CallerIdentity, resolver: Resolver) {
        self.caller = caller
        self.resolver = resolver
    }

    /// Keys AND, values OR. Numeric keys first: they never need a lookup, and a key that cannot
    /// match makes the names of the other keys irrelevant.
    mutating func applies(_ rule: Rule) -> Answer {
        let match = rule.match
        if match.isEmpty { return .yes }
        if !match.uids.isEmpty && !match.uids.contains(caller.uid) { return .no }
        if !match.gids.isEmpty && !match.gids.contains(where: caller.groups.contains) { return .no }
        var pending: UnresolvedName?
        if !match.users.isEmpty {
            switch key(match.users, kind: .user, rule: rule) {
            case .no: return .no
            case .yes: break
            case .unknown(let name): pending = name
            }
        }
        if !match.groups.isEmpty {
            switch key(match.groups, kind: .group, rule: rule) {
            case .no: return .no
            case .yes: break
            case .unknown(let name): if pending == nil { pending = name }
            }
        }
        if let pending { return .unknown(pending) }
        return .yes
    }

    /// One key's names: yes as soon as one resolves to the caller; no when all resolve and none
    /// is the caller; otherwise unknown, naming the first name that did not resolve.
    mutating func key(_ names: [[UInt8]], kind: NameKind, rule: Rule) -> Answer {
        var firstUnresolved: UnresolvedName?
        for name in names {
            let lookup = lookUp(name, kind: kind)
            switch lookup {
            case .found(let id):
                if kind == .user ? id == caller.uid : caller.groups.contains(id) { return .yes }
            case .notFound, .failed:
                if firstUnresolved == nil {
                    firstUnresolved = UnresolvedName(name: name, kind: kind, lookup: lookup, rule: rule)
                }
            }
        }
        if let firstUnresolved { return .unknown(firstUnresolved) }
        return .no
    }

    mutating func lookUp(_ name: [UInt8], kind: NameKind) -> NameLookup {
        if kind == .user {
            if let known = users[name] { return known }
            let found = resolver.lookUp(name, kind: .user)
            users[name] = found
            return found
        }
        if let known = groups[name] { return known }
        let found = resolver.lookUp(name, kind: .group)
        groups[name] = found
        return found
    }
}
