import BridgeACL
import BridgeHelper

/// A `HelperPlatform` that records every call in order and can fail at any step.
final class FakePlatform: HelperPlatform {
    enum Step: String, Sendable, CaseIterable {
        case checkHandoffSocket, openTun, dropPrivileges, loadPolicy, findBridge
        case createAttachedTap, dropAllCapabilities, handOff
    }

    /// The step that fails, with the message `failure(step)`.
    var failAt: Step?
    var policy: Result<Policy, PolicyError>
    var bridgeMTU: Int32 = 1500
    var tapName: [UInt8] = bytes("tap0")
    private(set) var calls: [String] = []

    init(policy: Result<Policy, PolicyError>, failAt: Step? = nil) {
        self.policy = policy
        self.failAt = failAt
    }

    static func failure(_ step: Step) -> String { "fake \(step.rawValue) failure" }

    private func step(_ step: Step, _ call: String) throws(HelperFailure) {
        calls.append(call)
        if failAt == step { throw HelperFailure(Self.failure(step)) }
    }

    func checkHandoffSocket(_ fd: Int32) -> String? {
        calls.append("checkHandoffSocket(\(fd))")
        return failAt == .checkHandoffSocket ? Self.failure(.checkHandoffSocket) : nil
    }

    func openTun() throws(HelperFailure) { try step(.openTun, "openTun") }

    func dropPrivileges() throws(HelperFailure) { try step(.dropPrivileges, "dropPrivileges") }

    func loadPolicy() -> Result<Policy, PolicyError> {
        calls.append("loadPolicy")
        if failAt == .loadPolicy { return .failure(.topLevelUnavailable(path: HelperPaths.aclFile)) }
        return policy
    }

    func findBridge(_ name: InterfaceName) throws(HelperFailure) -> Int32 {
        try step(.findBridge, "findBridge(\(name))")
        return bridgeMTU
    }

    func createAttachedTap(bridge: InterfaceName, mtu: Int32, virtioNetHeader: Bool) throws(HelperFailure) -> InterfaceName {
        try step(.createAttachedTap, "createAttachedTap(\(bridge), mtu: \(mtu), vnet: \(virtioNetHeader))")
        do {
            return try InterfaceName(validating: tapName)
        } catch {
            throw HelperFailure("fake: bad TAP name")
        }
    }

    func dropAllCapabilities() throws(HelperFailure) { try step(.dropAllCapabilities, "dropAllCapabilities") }

    func handOff(to socket: Int32) throws(HelperFailure) { try step(.handOff, "handOff(\(socket))") }

    func pausePoint(_ name: StaticString) { calls.append("pausePoint(\(name))") }
}
