import BridgeACL

/// Facts about the TAP the helper made, for tests and messages.
public struct TapSummary: Equatable, Sendable {
    public let name: InterfaceName
    public let bridge: InterfaceName
}

/// Why the helper refused: one line for stderr.
public struct HelperFailure: Error, Equatable, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The one seam between the helper's decisions and the system: the real implementation talks to
/// the kernel, the tests' implementation records calls. Methods are listed in the order the
/// helper calls them.
public protocol HelperPlatform: AnyObject {
    /// Nil if `fd` is an open, connected AF_UNIX stream/seqpacket socket; else the reason.
    func checkHandoffSocket(_ fd: Int32) -> String?
    /// Opens /dev/net/tun while still privileged (works with mode 0600 in setuid mode).
    func openTun() throws(HelperFailure)
    /// Gives up everything but a permitted CAP_NET_ADMIN and checks the result.
    func dropPrivileges() throws(HelperFailure)
    /// Reads the ACL as the caller.
    func loadPolicy() -> Result<Policy, PolicyError>
    /// Confirms the target is a Linux bridge in the caller's network namespace.
    func findBridge(_ name: InterfaceName) throws(HelperFailure) -> Int32
    /// Creates the TAP (owner = caller), copies the bridge MTU, sets the MAC prefix, attaches it
    /// and brings it up, with CAP_NET_ADMIN effective only for this call.
    func createAttachedTap(bridge: InterfaceName, mtu: Int32, virtioNetHeader: Bool) throws(HelperFailure) -> InterfaceName
    /// Empties every capability set.
    func dropAllCapabilities() throws(HelperFailure)
    /// Sends the TAP descriptor over the socket.
    func handOff(to socket: Int32) throws(HelperFailure)
    /// Test builds only: stop here so an observer can read /proc/PID/status.
    func pausePoint(_ name: StaticString)
}

public enum Helper {
    /// The helper from the parsed command line to the hand-off. Returns the TAP on success;
    /// every failure is one message.
    public static func attach(_ arguments: HelperArguments, platform: some HelperPlatform) -> Result<TapSummary, HelperFailure> {
        do throws(HelperFailure) {
            let bridge = try validatedBridge(arguments.bridge)
            if let problem = platform.checkHandoffSocket(arguments.socket) { throw HelperFailure(problem) }
            try platform.openTun()
            try platform.dropPrivileges()
            platform.pausePoint("dropped")
            let policy: Policy
            switch platform.loadPolicy() {
            case .success(let loaded): policy = loaded
            case .failure(let error): throw HelperFailure(ACLMessages.refusal(error))
            }
            let decision = policy.decide(bridge: bridge)
            if let refusal = ACLMessages.refusal(decision, bridge: bridge, topLevel: HelperPaths.aclFile) {
                throw HelperFailure(refusal)
            }
            let mtu = try platform.findBridge(bridge)
            let tap = try platform.createAttachedTap(bridge: bridge, mtu: mtu,
                                                     virtioNetHeader: arguments.useVirtioNetHeader)
            try platform.dropAllCapabilities()
            platform.pausePoint("before-send")
            try platform.handOff(to: arguments.socket)
            return .success(TapSummary(name: tap, bridge: bridge))
        } catch {
            return .failure(error)
        }
    }

    /// The CVE-2019-13164 check: a name is rejected, never truncated, before the ACL is read.
    static func validatedBridge(_ bytes: [UInt8]) throws(HelperFailure) -> InterfaceName {
        do {
            return try InterfaceName(validating: bytes)
        } catch {
            throw HelperFailure("bridge name '\(Escaping.escape(bytes, limit: 64))' \(error.explanation)")
        }
    }

    /// The message for a command-line error.
    public static func message(for error: ArgumentError) -> String {
        switch error {
        case .noProgramName: return "\(HelperCommandLine.programName): called without argv[0]; refusing"
        case .usage: return HelperCommandLine.usageLine
        case .badDescriptor(let value):
            return "invalid --fd value '\(Escaping.escape(value, limit: 64))': expected a decimal descriptor number 0..2147483647"
        }
    }
}
