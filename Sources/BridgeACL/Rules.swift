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

/// One `allow` or `deny` line.
public struct Rule: Hashable, Sendable, CustomStringConvertible {
    public let action: RuleAction
    public let bridge: BridgeSelector
    public let location: SourceLocation

    public init(action: RuleAction, bridge: BridgeSelector, location: SourceLocation) {
        self.action = action
        self.bridge = bridge
        self.location = location
    }

    /// The rule as it would be written: `allow br0`, `deny all`.
    public var description: String {
        "\(action == .allow ? "allow" : "deny") \(bridge)"
    }
}

/// One meaningful line of an ACL file.
public enum Directive: Hashable, Sendable {
    case rule(Rule)
    /// `include /absolute/path`; the path is bytes, exactly as written.
    case include(path: [UInt8], location: SourceLocation)
}
