import BridgeACL
import BridgeHelper
import BridgeSystem

/// A `HelperPlatform` that records every call in order and can fail at any step.
final class FakePlatform: HelperPlatform {
    enum Step: String, Sendable, CaseIterable {
        case checkHandoffSocket, openTun, dropPrivileges, loadPolicy, resolveDevice
        case createAttachedTap, dropAllCapabilities, handOff
    }

    /// The step that fails, with `failure(step)`.
    var failAt: Step?
    var policy: Result<Policy, PolicyError>
    var bridgeMTU: UInt32 = 1500
    var tapName: [UInt8] = bytes("tap0")
    /// The devices that exist: any of their names resolves to them.
    var devices: [NetworkDevice] = []
    private(set) var calls: [String] = []
    /// The caller for rules with match keys, and what the name service answers.
    var caller = CallerIdentity(uid: 1000, groups: [1000])
    var names: [String: NameLookup] = [:]
    /// What `createAttachedTap` throws besides `failAt` (a refusal made after attaching: max=).
    var tapFailure: HelperFailure?

    init(policy: Result<Policy, PolicyError>, failAt: Step? = nil) {
        self.policy = policy
        self.failAt = failAt
    }

    /// A bridge named `name` (index 10 + its position) with `alternatives`.
    func addBridge(_ name: String, alternatives: [String] = [], mtu: UInt32? = nil, vlanFiltering: Bool = false) throws {
        devices.append(NetworkDevice(index: Int32(10 + devices.count), canonicalName: try InterfaceName(validating: bytes(name)),
                                     alternativeNames: try alternatives.map { try InterfaceName(validating: bytes($0)) },
                                     kind: .bridge(mtu: mtu ?? bridgeMTU), vlanFiltering: vlanFiltering,
                                     defaultPVID: vlanFiltering ? 1 : nil))
    }

    func addOther(_ name: String, driver: String) throws {
        devices.append(NetworkDevice(index: Int32(10 + devices.count), canonicalName: try InterfaceName(validating: bytes(name)),
                                     alternativeNames: [], kind: .other(driver: bytes(driver))))
    }

    /// What each step throws when it is made to fail.
    static func failure(_ step: Step) -> HelperFailure {
        switch step {
        case .checkHandoffSocket: return .socket(fd: 3, .notSocket)
        case .openTun: return .tun(.notTunDevice, fileCapability: false)
        case .dropPrivileges: return .privilege(.noPrivilege)
        case .loadPolicy: return .policy(.topLevelUnavailable(path: Installation.aclFile))
        case .resolveDevice: return .lookup("RTM_GETLINK br0", .notPermitted)
        case .createAttachedTap: return .tapSetup(.attach, .exchangeFull, bridge: InterfaceName.fake("br0"))
        case .dropAllCapabilities: return .capabilities(.unexpectedState("fake"))
        case .handOff: return .handoff(fd: 3, .sendFailed(.wouldBlock))
        }
    }

    private func step(_ step: Step, _ call: String) throws(HelperFailure) {
        calls.append(call)
        if failAt == step { throw Self.failure(step) }
    }

    func checkHandoffSocket(_ fd: Int32) -> HandoffSocket.Problem? {
        calls.append("checkHandoffSocket(\(fd))")
        return failAt == .checkHandoffSocket ? .notSocket : nil
    }

    func openTun() throws(HelperFailure) { try step(.openTun, "openTun") }

    func dropPrivileges() throws(HelperFailure) { try step(.dropPrivileges, "dropPrivileges") }

    func loadPolicy(for device: DeviceNames) -> Result<Policy, PolicyError> {
        calls.append("loadPolicy")
        if failAt == .loadPolicy { return .failure(.topLevelUnavailable(path: Installation.aclFile)) }
        return policy
    }

    func callerIdentity() throws(HelperFailure) -> CallerIdentity { caller }

    /// `names` keys are "user:NAME" and "group:NAME"; anything else does not exist.
    func lookUp(_ name: [UInt8], kind: NameKind) -> NameLookup {
        let key = "\(kind.word):\(String(decoding: name, as: UTF8.self))"
        calls.append("lookUp(\(key))")
        return names[key] ?? .notFound
    }

    func resolveDevice(_ name: InterfaceName) throws(HelperFailure) -> NetworkDevice? {
        try step(.resolveDevice, "resolveDevice(\(name))")
        return devices.first { $0.canonicalName == name || $0.alternativeNames.contains(name) }
    }

    func createAttachedTap(bridge: NetworkDevice, mtu: UInt32, virtioNetHeader: Bool,
                           rule: Rule) throws(HelperFailure) -> AttachedTap {
        let options = rule.options.rendered.map { ", " + $0 }.joined()
        try step(.createAttachedTap,
                 "createAttachedTap(\(bridge.canonicalName)#\(bridge.index), mtu: \(mtu), vnet: \(virtioNetHeader), rule: \(rule.location)\(options))")
        if let tapFailure { throw tapFailure }
        return AttachedTap(name: InterfaceName.fake(tapName), index: 99)
    }

    func dropAllCapabilities() throws(HelperFailure) { try step(.dropAllCapabilities, "dropAllCapabilities") }

    func handOff(to socket: Int32) throws(HelperFailure) { try step(.handOff, "handOff(\(socket))") }

    func pausePoint(_ name: StaticString) { calls.append("pausePoint(\(name))") }
}

extension InterfaceName {
    /// A name the test knows to be valid (an invalid one is a test bug and traps).
    static func fake(_ text: String) -> InterfaceName { fake(Array(text.utf8)) }

    static func fake(_ raw: [UInt8]) -> InterfaceName {
        // swiftlint:disable:next force_try
        try! InterfaceName(validating: raw)
    }
}
