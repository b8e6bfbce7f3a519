import BridgeACL
import BridgeSystem
import HelperArguments

/// Every way a run of the helper can end, as values. The stderr line is rendered from these in
/// one place (Messages.swift); the audit trail and `bridgekeeper explain` read the same values.
public enum HelperOutcome: Equatable, Sendable {
    case attached(AttachReport)
    case refused(HelperFailure)
}

/// What the helper did when it succeeded.
public struct AttachReport: Equatable, Sendable {
    /// The TAP the kernel created (its name was chosen from `tap%d`).
    public let tap: InterfaceName
    public let tapIndex: Int32
    /// The bridge as asked for, with the device's canonical and alternative names.
    public let bridge: DeviceNames
    public let bridgeIndex: Int32
    /// The allow rule that granted the request.
    public let rule: Rule

    public init(tap: InterfaceName, tapIndex: Int32, bridge: DeviceNames, bridgeIndex: Int32, rule: Rule) {
        self.tap = tap
        self.tapIndex = tapIndex
        self.bridge = bridge
        self.bridgeIndex = bridgeIndex
        self.rule = rule
    }
}

/// Why the helper refused. Each case carries the facts its message needs and nothing rendered.
public enum HelperFailure: Error, Equatable, Sendable {
    /// argv could not be parsed (the usage line, or a bad `--fd=`).
    case arguments(ArgumentError)
    /// The socket is one of fds 0-2 and could not be moved above them (e.g. `ulimit -n 3`).
    case socketNotMovable(fd: Int32)
    /// RLIMIT_AS or RLIMIT_DATA is below what the helper needs and could not be raised.
    case memoryLimit(MemoryLimitProblem)
    /// `--br=` is not a valid interface name (checked before anything else is done).
    case invalidBridgeName(BridgeNameError)
    /// `--fd=` does not name a usable socket.
    case socket(fd: Int32, HandoffSocket.Problem)
    /// /dev/net/tun could not be opened; `fileCapability` selects the advice.
    case tun(TunControl.OpenError, fileCapability: Bool)
    case privilege(PrivilegeError)
    /// The ACL could not be read or parsed (every such error refuses).
    case policy(PolicyError)
    /// The caller's groups could not be listed (rules with match keys need them).
    case callerGroups(Errno)
    /// The ACL refuses this device (a deny, no allow, or a name the decision needs that does
    /// not resolve).
    case denied(DeviceDecision)
    /// Allowed, but no device of that name exists in the caller's network namespace.
    case bridgeMissing(InterfaceName)
    /// Allowed, but the device is not a Linux bridge (its ethtool driver name, raw bytes).
    case notABridge(InterfaceName, driver: [UInt8])
    /// Looking the device up failed (rtnetlink or ioctl), with what was being done.
    case lookup(String, Errno)
    /// Creating, configuring or attaching the TAP failed at `step`; the TAP is gone.
    case tapSetup(TapStep, Errno, bridge: InterfaceName)
    /// The granting rule's `max=` (`limit`) is reached: `count` of the caller's TAPs rank ahead
    /// of the new one on `bridge` (attached with the caller's mark, or still being set up; see
    /// TapQuota). The new TAP is gone.
    case quotaExceeded(rule: Rule, bridge: InterfaceName, count: Int, limit: Int)
    /// After attaching, the TAP's master is not the bridge that was decided on.
    case attachNotVerified(tap: InterfaceName, bridge: InterfaceName, master: Int32?)
    /// The granting rule has `vlan=` but the bridge does not filter VLANs (the kernel would store
    /// the VLAN and not enforce it); refused before any TAP exists.
    case vlanFilteringOff(bridge: InterfaceName, vlan: UInt16)
    /// A port setting of the granting rule (`vlan=`, `isolated`) did not read back as set; the
    /// TAP is gone.
    case portNotVerified(tap: InterfaceName, bridge: InterfaceName, PortProblem)
    /// Sending the descriptor failed; the TAP is gone.
    case handoff(fd: Int32, HandoffSocket.SendError)
    /// The capability story went wrong after the drop (raise, lower, drop all).
    case capabilities(PrivilegeError)
}

/// The steps of making the TAP, in order.
public enum TapStep: Equatable, Sendable {
    case features
    case create
    case owner
    case readAddress(InterfaceName)
    case setAddress(InterfaceName)
    case index(InterfaceName)
    case netlink
    /// Setting the mark (the interface alias, `TapMark`).
    case mark(InterfaceName)
    /// The alias read back differs from the mark that was set.
    case markReadBack(InterfaceName)
    /// Counting the caller's TAPs on the bridge for `max=` (one RTM_GETLINK dump).
    case countTaps
    case mtu(InterfaceName, UInt32)
    case attach
    /// Port settings from the granting rule, after attaching and before `up`: PVID N untagged,
    /// removing the bridge's default PVID, isolation, and reading the port back.
    case portVLAN(InterfaceName, UInt16)
    case removeDefaultVLAN(InterfaceName, UInt16)
    case isolate(InterfaceName)
    case portReadBack(InterfaceName)
    case up(InterfaceName)
}

/// A memory limit below the helper's floor.
public struct MemoryLimitProblem: Equatable, Sendable {
    /// "address-space (ulimit -v)" or "data-segment (ulimit -d)".
    public let limit: String
    public let currentKiB: UInt64
    public let neededKiB: UInt64

    public init(limit: String, currentKiB: UInt64, neededKiB: UInt64) {
        self.limit = limit
        self.currentKiB = currentKiB
        self.neededKiB = neededKiB
    }
}

extension MemoryLimitProblem {
    public init(_ shortfall: ProcessHygiene.MemoryLimitShortfall) {
        let limit: String
        switch shortfall.resource {
        case .addressSpace: limit = "address-space (ulimit -v)"
        case .dataSegment: limit = "data-segment (ulimit -d)"
        }
        self.init(limit: limit, currentKiB: UInt64(shortfall.current / 1024), neededKiB: UInt64(shortfall.needed / 1024))
    }
}
