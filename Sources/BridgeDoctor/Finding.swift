import BridgeACL

// `bridgekeeper doctor`'s findings and their two renderings. The checks (Checks.swift) turn
// facts into findings; nothing here reads the system, so every wording is unit-tested.

public enum Severity: String, Sendable, Equatable {
    case ok
    case warning
    case error
}

/// One line of the report: `SEVERITY CHECK: MESSAGE; fix: FIX`.
public struct Finding: Equatable, Sendable, CustomStringConvertible {
    public let severity: Severity
    /// A short stable name: tun, helper, bridge.conf, access, bridge, uplink, stp, vlan, mac,
    /// netfilter, fdb, taps.
    public let check: String
    /// The bridge the finding is about, nil for host-wide checks.
    public let bridge: String?
    public let message: String
    /// What to do; nil for `ok`.
    public let fix: String?

    public init(_ severity: Severity, _ check: String, bridge: String? = nil, _ message: String, fix: String? = nil) {
        self.severity = severity
        self.check = check
        self.bridge = bridge
        self.message = message
        self.fix = fix
    }

    public var description: String {
        "\(severity.rawValue) \(check): \(message)" + (fix.map { "; fix: \($0)" } ?? "")
    }

    /// `{"severity": ..., "check": ..., "bridge": ...|null, "message": ..., "fix": ...|null}`.
    public var json: String {
        "{\"severity\": \"\(severity.rawValue)\", \"check\": \(Escaping.json(check)), "
            + "\"bridge\": \(bridge.map(Escaping.json) ?? "null"), \"message\": \(Escaping.json(message)), "
            + "\"fix\": \(fix.map(Escaping.json) ?? "null")}"
    }
}

/// Every finding of one run, in the order the checks ran.
public struct DoctorReport: Equatable, Sendable {
    public let findings: [Finding]

    public init(findings: [Finding]) { self.findings = findings }

    public var errors: Int { findings.count(where: { $0.severity == .error }) }
    public var warnings: Int { findings.count(where: { $0.severity == .warning }) }

    /// 0 without errors, 1 with errors (warnings do not change it).
    public var exitStatus: Int32 { errors > 0 ? 1 : 0 }

    /// One finding a line.
    public var text: String { findings.map { "\($0)\n" }.joined() }

    /// `{"findings": [...], "errors": N, "warnings": N}` on one line.
    public var json: String {
        "{\"findings\": [" + findings.map(\.json).joined(separator: ", ") + "], \"errors\": \(errors), \"warnings\": \(warnings)}\n"
    }
}
