/// Where a directive came from: the absolute path of the file (bytes) and a 1-based line.
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible {
    public let path: [UInt8]
    public let line: Int

    public init(path: [UInt8], line: Int) {
        self.path = path
        self.line = line
    }

    public var description: String { "\(Escaping.escape(path)):\(line)" }
}

/// What a rule's bridge field names: the keyword `all` or one interface name.
/// `ALL` (any other case) is a bridge name: keywords are case-sensitive, as in the stock helper.
public enum BridgeSelector: Hashable, Sendable, CustomStringConvertible {
    case all
    case named(InterfaceName)

    public func matches(_ bridge: InterfaceName) -> Bool {
        switch self {
        case .all: return true
        case .named(let name): return name == bridge
        }
    }

    public var description: String {
        switch self {
        case .all: return "all"
        case .named(let name): return name.description
        }
    }
}

public enum RuleAction: Sendable, Equatable {
    case allow
    case deny
}

/// The match keys of a rule (issue 10): which callers it applies to. An empty list means the key
/// is absent. A rule applies when every present key matches (AND); a key matches when any of its
/// values does (OR). Names are kept as written (bytes) and resolved through NSS at decision time.
public struct RuleMatch: Hashable, Sendable {
    public var users: [[UInt8]] = []
    public var uids: [UInt32] = []
    public var groups: [[UInt8]] = []
    public var gids: [UInt32] = []

    public init(users: [[UInt8]] = [], uids: [UInt32] = [], groups: [[UInt8]] = [], gids: [UInt32] = []) {
        self.users = users
        self.uids = uids
        self.groups = groups
        self.gids = gids
    }

    /// No key: the rule applies to every caller, as every stock rule does.
    public var isEmpty: Bool { users.isEmpty && uids.isEmpty && groups.isEmpty && gids.isEmpty }

    /// The keys as written in canonical order (`user=a,b uid=1 group=g gid=2`), escaped.
    public var rendered: [String] {
        var parts: [String] = []
        func names(_ values: [[UInt8]]) -> String { values.map { Escaping.escape($0, limit: 64) }.joined(separator: ",") }
        func numbers(_ values: [UInt32]) -> String { values.map(String.init).joined(separator: ",") }
        if !users.isEmpty { parts.append("user=" + names(users)) }
        if !uids.isEmpty { parts.append("uid=" + numbers(uids)) }
        if !groups.isEmpty { parts.append("group=" + names(groups)) }
        if !gids.isEmpty { parts.append("gid=" + numbers(gids)) }
        return parts
    }
}

/// What an allow rule grants besides the attachment (issue 10). Never on a deny.
public struct RuleOptions: Hashable, Sendable {
    /// `max=N`: at most N of the caller's TAPs on the bridge (1...1023, counted by TapMark).
    public var maxTaps: Int?
    /// `vlan=N`: the port gets PVID N untagged and nothing else (1...4094).
    public var vlan: UInt16?
    /// `isolated`: the port is a bridge isolated port (reaches only non-isolated ports).
    public var isolated: Bool

    public init(maxTaps: Int? = nil, vlan: UInt16? = nil, isolated: Bool = false) {
        self.maxTaps = maxTaps
        self.vlan = vlan
        self.isolated = isolated
    }

    public static let none = RuleOptions()

    public var isEmpty: Bool { self == .none }

    /// The options as written in canonical order (`max=4 vlan=20 isolated`).
    public var rendered: [String] {
        var parts: [String] = []
        if let maxTaps { parts.append("max=\(maxTaps)") }
        if let vlan { parts.append("vlan=\(vlan)") }
        if isolated { parts.append("isolated") }
        return parts
    }

    /// Limits of the values (the grammar checks them; the kernel allows 1023 ports a bridge).
    public static let maxTapsRange: ClosedRange<Int> = 1...1023
    public static let vlanRange: ClosedRange<Int> = 1...4094
}

/// One `allow` or `deny` line.
public struct Rule: Hashable, Sendable, CustomStringConvertible {
    public let action: RuleAction
    public let bridge: BridgeSelector
    public let location: SourceLocation
    /// Who the rule applies to; empty for a stock rule.
    public let match: RuleMatch
    /// What an allow grants besides the attachment; always `.none` on a deny.
    public let options: RuleOptions

    public init(action: RuleAction, bridge: BridgeSelector, location: SourceLocation,
                match: RuleMatch = RuleMatch(), options: RuleOptions = .none) {
        self.action = action
        self.bridge = bridge
        self.location = location
        self.match = match
        self.options = options
    }

    /// True when the line uses nothing beyond the stock grammar.
    public var isStock: Bool { match.isEmpty && options.isEmpty }

    /// The rule as it would be written, canonically: `allow br0`, `deny all`,
    /// `allow br1 group=lab max=4`.
    public var description: String {
        ([action == .allow ? "allow" : "deny", bridge.description] + match.rendered + options.rendered)
            .joined(separator: " ")
    }
}

/// One meaningful line of an ACL file.
public enum Directive: Hashable, Sendable {
    case rule(Rule)
    /// `include /absolute/path`; the path is bytes, exactly as written. A path ending in `/`
    /// names a directory of drop-in files (its `*.conf` files in byte order of name).
    case include(path: [UInt8], location: SourceLocation)
}
