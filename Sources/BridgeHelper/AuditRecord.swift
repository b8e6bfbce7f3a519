import BridgeACL
import BridgeSystem
import HelperArguments

/// The facts about a run that the outcome does not carry: who asked, for what, and where.
public struct AuditContext: Equatable, Sendable {
    public let pid: Int32
    /// The caller's real uid and gid, captured before anything changed.
    public let user: UInt32
    public let group: UInt32
    /// `--br=` exactly as given (bytes; it may be an invalid name).
    public let bridge: [UInt8]
    public let mode: PrivilegeMode
    /// The inode of the network namespace the helper acted in; nil when it could not be read.
    public let networkNamespace: UInt64?

    public init(pid: Int32, user: UInt32, group: UInt32, bridge: [UInt8], mode: PrivilegeMode, networkNamespace: UInt64?) {
        self.pid = pid
        self.user = user
        self.group = group
        self.bridge = bridge
        self.mode = mode
        self.networkNamespace = networkNamespace
    }
}

/// The helper's audit record: the third rendering of `HelperOutcome` (after the stderr line and
/// the client's view). One syslog datagram, facility authpriv, notice when attached and warning
/// when refused:
///
///     <85>bridgekeeper-helper[PID]: result=attached uid=U gid=G bridge=B [device=D] tap=T ifindex=N rule=FILE:LINE [vlan=V] [isolated=1] mode=M netns=I
///     <84>bridgekeeper-helper[PID]: result=refused uid=U gid=G bridge=B [bridge_bytes=N] [device=D] reason=R [rule=FILE:LINE] [count=C max=L] mode=M netns=I
///
/// `count=` and `max=` come with `reason=quota` only: the caller's TAPs counted ahead of the
/// refused one, and the rule's limit.
///
/// No timestamp and no hostname: the log daemon adds both. Fields always come in this order;
/// optional ones are left out, never empty. Values are escaped with `value(_:)`, so the record
/// is one line of printable ASCII in which every space separates fields and every `=` follows
/// a key.
public enum AuditRecord {
    /// The record for `outcome`, as the datagram's bytes; nil for a usage error (argv that did
    /// not parse), which is not a request and writes no record.
    public static func render(_ outcome: HelperOutcome, context: AuditContext) -> [UInt8]? {
        if case .refused(.arguments) = outcome { return nil }
        var fields: [(String, String)] = []
        let severity: SystemLog.Severity
        switch outcome {
        case .attached(let report):
            severity = .notice
            fields.append(("result", "attached"))
            fields += caller(context)
            if report.bridge.canonical != report.bridge.requested {
                fields.append(("device", value(report.bridge.canonical.bytes)))
            }
            fields.append(("tap", value(report.tap.bytes)))
            fields.append(("ifindex", String(report.tapIndex)))
            fields.append(("rule", location(report.rule.location)))
            // The port settings the TAP got (read back before the hand-off).
            if let vlan = report.rule.options.vlan { fields.append(("vlan", String(vlan))) }
            if report.rule.options.isolated { fields.append(("isolated", "1")) }
        case .refused(let failure):
            severity = .warning
            fields.append(("result", "refused"))
            fields += caller(context)
            if let device = device(failure, requested: context.bridge) { fields.append(("device", value(device.bytes))) }
            fields.append(("reason", reason(failure)))
            if case .denied(let decided) = failure {
                if case .denied(let rule) = decided.decision { fields.append(("rule", location(rule.location))) }
                if case .unresolved(let unresolved) = decided.decision {
                    fields.append(("rule", location(unresolved.rule.location)))
                    fields.append((unresolved.kind == .user ? "unresolved-user" : "unresolved-group", value(unresolved.name)))
                }
            }
            if case .quotaExceeded(let rule, _, let count, let limit) = failure {
                fields += [("rule", location(rule.location)), ("count", String(count)), ("max", String(limit))]
            }
        }
        fields.append(("mode", mode(context.mode)))
        fields.append(("netns", context.networkNamespace.map { String($0) } ?? "unknown"))
        let priority = Int(SystemLog.authpriv) * 8 + Int(severity.rawValue)
        let text = "<\(priority)>\(HelperCommandLine.programName)[\(context.pid)]: "
            + fields.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
        return Array(text.utf8)
    }

    /// The most bytes of `--br=` a record shows: valid names have at most 15, so only a refused
    /// invalid name is ever cut (then `bridge_bytes=` gives its full length). Keeps the datagram
    /// far below any socket's size limit whatever argv held.
    public static let bridgeLimit = 64

    /// A key=value value: bytes outside printable ASCII, the space, `=`, `"`, `\` and `'` become
    /// `\xNN` (lowercase hex); everything else stays as it is. This is the stderr escaping
    /// (Escaping.escape) plus the space, `=` and `"`, so a value can never end a field, start a
    /// new one, start a new line or move a terminal's cursor. An empty value is written `""`
    /// (which no escaped value can be).
    public static func value(_ bytes: some Collection<UInt8>) -> String {
        if bytes.isEmpty { return "\"\"" }
        let digits = Array("0123456789abcdef".unicodeScalars)
        var out = ""
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "="), UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "'"), ...0x20, 0x7F...:
                out += "\\x"
                out.unicodeScalars.append(digits[Int(byte >> 4)])
                out.unicodeScalars.append(digits[Int(byte & 0x0F)])
            default:
                out.unicodeScalars.append(Unicode.Scalar(byte))
            }
        }
        return out
    }

    /// The stable reason tokens, one per kind of refusal (the README lists them).
    public static func reason(_ failure: HelperFailure) -> String {
        switch failure {
        case .arguments: return "usage"
        case .socketNotMovable, .socket: return "socket"
        case .memoryLimit: return "memory-limit"
        case .invalidBridgeName: return "invalid-name"
        case .tun: return "tun"
        case .privilege(.userNamespace): return "user-namespace"
        case .privilege(.noPrivilege): return "no-privilege"
        case .privilege(.capabilityMissing): return "capability-missing"
        case .privilege(.callFailed), .privilege(.unexpectedState): return "privilege-drop"
        case .capabilities: return "capabilities"
        case .policy: return "acl-error"
        case .callerGroups: return "caller-groups"
        case .denied(let decided):
            if case .denied = decided.decision { return "denied" }
            if case .unresolved = decided.decision { return "unresolved-name" }
            // `.allowed` never arrives here (the helper refuses only a refusal); should it, the
            // record still says that no rule granted the request.
            return "not-allowed"
        case .bridgeMissing: return "no-such-bridge"
        case .notABridge: return "not-a-bridge"
        case .lookup: return "lookup"
        case .quotaExceeded: return "quota"
        case .tapSetup(.attach, let errno, _) where errno == .exchangeFull: return "bridge-full"
        case .tapSetup: return "kernel"
        case .attachNotVerified: return "not-attached"
        case .vlanFilteringOff: return "vlan-filtering-off"
        case .portNotVerified: return "port-not-verified"
        case .handoff: return "handoff"
        }
    }

    public static func mode(_ mode: PrivilegeMode) -> String {
        switch mode {
        case .setuidRoot: return "setuid"
        case .fileCapability: return "caps"
        case .root: return "root"
        case .none: return "none"
        case .userNamespace: return "userns"
        }
    }

    static func caller(_ context: AuditContext) -> [(String, String)] {
        var fields = [("uid", String(context.user)), ("gid", String(context.group))]
        fields.append(("bridge", value(context.bridge.prefix(bridgeLimit))))
        if context.bridge.count > bridgeLimit { fields.append(("bridge_bytes", String(context.bridge.count))) }
        return fields
    }

    static func location(_ location: SourceLocation) -> String {
        "\(value(location.path)):\(location.line)"
    }

    /// The device's canonical name when the refusal knows it and it differs from what was asked.
    static func device(_ failure: HelperFailure, requested: [UInt8]) -> InterfaceName? {
        let canonical: InterfaceName
        switch failure {
        case .denied(let decided): canonical = decided.names.canonical
        case .tapSetup(_, _, let bridge): canonical = bridge
        case .quotaExceeded(_, let bridge, _, _): canonical = bridge
        case .attachNotVerified(_, let bridge, _): canonical = bridge
        case .vlanFilteringOff(let bridge, _): canonical = bridge
        case .portNotVerified(_, let bridge, _): canonical = bridge
        default: return nil
        }
        return canonical.bytes == requested ? nil : canonical
    }
}
