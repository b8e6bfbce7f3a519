import BridgeACL
import BridgeSystem
import HelperArguments

/// A network device as the helper needs to know it: resolved by the kernel from any of its
/// names, and identified from then on by its index.
public struct NetworkDevice: Equatable, Sendable {
    public enum Kind: Equatable, Sendable {
        case bridge(mtu: UInt32)
        /// Not a Linux bridge; `driver` is ethtool's driver name ("veth", "tun", ...).
        case other(driver: [UInt8])
    }

    public let index: Int32
    public let canonicalName: InterfaceName
    /// Alternative names that fit in a rule (1...15 bytes).
    public let alternativeNames: [InterfaceName]
    public let kind: Kind
    /// A bridge's VLAN facts (IFLA_BR_VLAN_FILTERING, IFLA_BR_VLAN_DEFAULT_PVID): a `vlan=` rule
    /// needs filtering on, and the default PVID (nil: none reported, 0: none) is what a new
    /// port gets and a `vlan=` port must lose.
    public let vlanFiltering: Bool
    public let defaultPVID: UInt16?

    public init(index: Int32, canonicalName: InterfaceName, alternativeNames: [InterfaceName], kind: Kind,
                vlanFiltering: Bool = false, defaultPVID: UInt16? = nil) {
        self.index = index
        self.canonicalName = canonicalName
        self.alternativeNames = alternativeNames
        self.kind = kind
        self.vlanFiltering = vlanFiltering
        self.defaultPVID = defaultPVID
    }
}

/// The TAP once it is attached: still owned by the platform until `handOff`.
public struct AttachedTap: Equatable, Sendable {
    public let name: InterfaceName
    public let index: Int32

    public init(name: InterfaceName, index: Int32) {
        self.name = name
        self.index = index
    }
}

/// The one seam between the helper's decisions and the system: the real implementation talks to
/// the kernel, the tests' implementation records calls. Methods are listed in the order the
/// helper calls them.
public protocol HelperPlatform: NameResolver {
    /// Nil if `fd` is an open, connected AF_UNIX stream/seqpacket socket; else what is wrong.
    func checkHandoffSocket(_ fd: Int32) -> HandoffSocket.Problem?
    /// Opens /dev/net/tun while still privileged (works with mode 0600 in setuid mode).
    func openTun() throws(HelperFailure)
    /// Gives up everything but a permitted CAP_NET_ADMIN and checks the result.
    func dropPrivileges() throws(HelperFailure)
    /// Reads the ACL as the caller, building only the rules that can decide about `device`.
    func loadPolicy(for device: DeviceNames) -> Result<Policy, PolicyError>
    /// The caller's uid and groups for rules with match keys (the real gid and the
    /// supplementary groups the helper received).
    func callerIdentity() throws(HelperFailure) -> CallerIdentity
    /// The device the kernel resolves `name` to in the caller's network namespace (by its
    /// canonical or any alternative name), or nil if there is none.
    func resolveDevice(_ name: InterfaceName) throws(HelperFailure) -> NetworkDevice?
    /// Creates the TAP (owner = caller), marks it (`TapMark`: the caller's real uid and the
    /// location of `rule`, the allow rule that granted it, in the interface alias, read back),
    /// copies the bridge MTU, sets the MAC prefix, attaches it to the bridge by index, checks
    /// that it is attached there, applies the rule's options (`RuleOptions`: port VLAN,
    /// isolation, the quota), and brings it up, with CAP_NET_ADMIN effective only for this call.
    func createAttachedTap(bridge: NetworkDevice, mtu: UInt32, virtioNetHeader: Bool,
                           rule: Rule) throws(HelperFailure) -> AttachedTap
    /// Empties every capability set.
    func dropAllCapabilities() throws(HelperFailure)
    /// Sends the TAP descriptor over the socket.
    func handOff(to socket: Int32) throws(HelperFailure)
    /// Test builds only: stop here so an observer can read /proc/PID/status.
    func pausePoint(_ name: StaticString)
}

public enum Helper {
    /// The helper from the parsed command line to the hand-off.
    public static func attach(_ arguments: HelperArguments, platform: some HelperPlatform) -> HelperOutcome {
        do throws(HelperFailure) {
            return .attached(try run(arguments, platform: platform))
        } catch {
            return .refused(error)
        }
    }

    static func run(_ arguments: HelperArguments, platform: some HelperPlatform) throws(HelperFailure) -> AttachReport {
        // The CVE-2019-13164 check: a name is rejected, never truncated, before the ACL is read.
        let requested: InterfaceName
        switch HelperCommandLine.bridgeName(arguments.bridge) {
        case .success(let name): requested = name
        case .failure(let error): throw .invalidBridgeName(error)
        }
        if let problem = platform.checkHandoffSocket(arguments.socket) { throw .socket(fd: arguments.socket, problem) }
        try platform.openTun()
        try platform.dropPrivileges()
        platform.pausePoint("dropped")
        // Decide on the device, not on the spelling: every name the kernel resolves to it counts.
        // The device is known before the policy is read, so the loader builds only the rules
        // that can decide about it (every line is still checked and counted).
        let device = try platform.resolveDevice(requested)
        let names = device.map {
            DeviceNames(requested: requested, canonical: $0.canonicalName, alternatives: $0.alternativeNames)
        } ?? DeviceNames(unresolved: requested)
        let policy: Policy
        switch platform.loadPolicy(for: names) {
        case .success(let loaded): policy = loaded
        case .failure(let error): throw .policy(error)
        }
        let caller = try platform.callerIdentity()
        let decided = policy.decide(device: names, caller: caller, resolver: platform)
        guard case .allowed(let rule) = decided.decision else { throw .denied(decided) }
        guard let device else { throw .bridgeMissing(requested) }
        guard case .bridge(let mtu) = device.kind else {
            if case .other(let driver) = device.kind { throw .notABridge(requested, driver: driver) }
            throw .notABridge(requested, driver: [])
        }
        // A VLAN a non-filtering bridge would store and not enforce: refused before any TAP exists.
        if let vlan = rule.options.vlan, !device.vlanFiltering { throw .vlanFilteringOff(bridge: device.canonicalName, vlan: vlan) }
        let tap = try platform.createAttachedTap(bridge: device, mtu: mtu, virtioNetHeader: arguments.useVirtioNetHeader,
                                                 rule: rule)
        try platform.dropAllCapabilities()
        platform.pausePoint("before-send")
        try platform.handOff(to: arguments.socket)
        return AttachReport(tap: tap.name, tapIndex: tap.index, bridge: names, bridgeIndex: device.index, rule: rule)
    }
}
