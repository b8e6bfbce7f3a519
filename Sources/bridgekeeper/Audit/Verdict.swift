import BridgeACL
import BridgeHelper
import BridgeSystem
import Glibc

/// The helper's answer for one user and one bridge, as `explain` and `matrix` report it.
struct Verdict: Equatable {
    let allowed: Bool
    /// The rule that decided: the allow that granted, the deny that refused, or the allow that
    /// granted before the device check refused (a missing bridge, not a bridge). Nil for "no
    /// rule" and for errors.
    let rule: Rule?
    /// For an allow, "allowed by FILE:LINE 'allow br0'"; for a refusal, the helper's own stderr
    /// line (`HelperFailure.message`), word for word.
    let reason: String
    /// The name that did not resolve, when that is why the helper refuses.
    var unresolved: UnresolvedName? = nil

    /// What the granting rule adds to the attachment (nil for a refusal).
    var options: RuleOptions? { allowed ? rule?.options : nil }
}

/// What the helper decides after reading the policy, in the order `Helper.run` does it
/// (Sources/BridgeHelper/Helper.swift): a policy error refuses; the device is resolved by any of
/// its names; the policy decides on all of them; an allowed request still needs the device to
/// exist and to be a Linux bridge, and for `vlan=` a bridge that filters VLANs. Everything the helper does after that (creating the TAP) can
/// fail only for reasons outside the policy. Refusals are `HelperFailure` values rendered by the
/// helper's own `message`, so the wording cannot drift.
enum HelperDecision {
    /// `acl` is the top-level file: the helper's messages name its fixed path, an audit of
    /// another file (--acl) names that file instead.
    static func decide(policy: Result<Policy, PolicyError>, bridge requested: InterfaceName,
                       device: Result<NetworkDevice?, HelperFailure>, acl: [UInt8],
                       caller: CallerIdentity, resolver: some NameResolver) -> Verdict {
        let loaded: Policy
        switch policy {
        case .success(let value): loaded = value
        case .failure(let error): return refused(.policy(error))
        }
        let found: NetworkDevice?
        switch device {
        case .success(let value): found = value
        case .failure(let failure): return refused(failure)
        }
        let names = found.map {
            DeviceNames(requested: requested, canonical: $0.canonicalName, alternatives: $0.alternativeNames)
        } ?? DeviceNames(unresolved: requested)
        let decided = loaded.decide(device: names, caller: caller, resolver: resolver)
        switch decided.decision {
        case .unresolved(let unresolved):
            var verdict = refused(.denied(decided), rule: unresolved.rule, acl: acl)
            verdict.unresolved = unresolved
            return verdict
        case .denied(let rule):
            return refused(.denied(decided), rule: rule, acl: acl)
        case .notAllowed:
            return refused(.denied(decided), acl: acl)
        case .allowed(let rule):
            guard let found else { return refused(.bridgeMissing(requested), rule: rule) }
            guard case .bridge = found.kind else {
                if case .other(let driver) = found.kind { return refused(.notABridge(requested, driver: driver), rule: rule) }
                return refused(.notABridge(requested, driver: []), rule: rule)
            }
            // As the helper: a VLAN a non-filtering bridge would store and not enforce refuses.
            if let vlan = rule.options.vlan, !found.vlanFiltering {
                return refused(.vlanFilteringOff(bridge: found.canonicalName, vlan: vlan), rule: rule)
            }
            let note = ACLMessages.nameNote(decided).map { " (\($0))" } ?? ""
            return Verdict(allowed: true, rule: rule, reason: "allowed by \(rule.location) '\(rule)'\(note)")
        }
    }

    static func refused(_ failure: HelperFailure, rule: Rule? = nil, acl: [UInt8] = Installation.aclFile) -> Verdict {
        if case .denied(let decided) = failure, acl != Installation.aclFile,
           let message = ACLMessages.refusal(decided, topLevel: acl, errorText: { Errno(rawValue: $0).description }) {
            return Verdict(allowed: false, rule: rule, reason: message)
        }
        return Verdict(allowed: false, rule: rule, reason: failure.message)
    }
}

/// The devices of this network namespace, resolved the way the helper resolves them
/// (`LinuxPlatform.resolveDevice`: by canonical or alternative name, with kind and driver).
/// Device lookups do not depend on who asks, so each bridge is resolved once.
final class DeviceTable {
    private let platform = LinuxPlatform(caller: Credentials.current())
    private var cache: [InterfaceName: Result<NetworkDevice?, HelperFailure>] = [:]

    func resolve(_ name: InterfaceName) -> Result<NetworkDevice?, HelperFailure> {
        if let known = cache[name] { return known }
        let result: Result<NetworkDevice?, HelperFailure>
        do { result = .success(try platform.resolveDevice(name)) } catch { result = .failure(error) }
        cache[name] = result
        return result
    }

    /// The canonical names of every Linux bridge in this network namespace (RTM_GETLINK by
    /// index over glibc's netlink interface list), sorted by their bytes.
    static func bridgesInNamespace() -> [InterfaceName] {
        guard let list = if_nameindex() else { return [] }
        defer { if_freenameindex(list) }
        var indices: [UInt32] = []
        var entry = list
        while entry.pointee.if_index != 0 {
            indices.append(entry.pointee.if_index)
            entry += 1
        }
        var bridges: [InterfaceName] = []
        do {
            let netlink = try RouteNetlink()
            for index in indices {
                guard let link = try netlink.link(index: Int32(bitPattern: index)), link.kind == Array("bridge".utf8) else { continue }
                do { bridges.append(try InterfaceName(validating: link.name)) } catch { continue }
            }
        } catch {
            return bridges
        }
        return bridges.sorted { $0.bytes.lexicographicallyPrecedes($1.bytes) }
    }
}
