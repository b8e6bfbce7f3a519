import BridgeACL
import BridgeSystem
import CBridgeShims
import Glibc

/// The real `HelperPlatform`: kernel calls through BridgeSystem, with messages that say what to
/// do. Holds the descriptors the helper owns; the caller's socket is only borrowed.
public final class LinuxPlatform: HelperPlatform {
    let caller: Credentials
    let mode: PrivilegeMode
    var tun: TunControl?
    var tap: TapDevice?

    public init(caller: Credentials) {
        self.caller = caller
        self.mode = PrivilegeMode.detect(caller)
    }

    public func checkHandoffSocket(_ fd: Int32) -> String? {
        HandoffSocket.check(BorrowedDescriptor(fd))
    }

    public func openTun() throws(HelperFailure) {
        switch mode {
        case .none, .userNamespace: return  // dropPrivileges() explains why
        case .setuidRoot, .fileCapability, .root: break
        }
        do {
            tun = try TunControl.open()
        } catch {
            switch error.errno {
            case .noSuchFile:
                throw HelperFailure("\(TunControl.path) does not exist: load the tun module (modprobe tun) or create the node (mknod /dev/net/tun c 10 200)")
            case .permissionDenied where mode == .fileCapability:
                throw HelperFailure("cannot open \(TunControl.path): Permission denied; the file-capability install needs it mode 0666 (the usual default), or install the helper setuid root")
            default:
                // `operation` is "open /dev/net/tun" for the open itself, or the check that failed.
                let detail = error.operation.hasPrefix("open ") ? "\(error.errno)" : error.description
                throw HelperFailure("cannot open \(TunControl.path): \(detail)")
            }
        }
    }

    public func dropPrivileges() throws(HelperFailure) {
        do {
            try Privileges.drop(mode: mode, caller: caller)
        } catch {
            throw HelperFailure(error.description)
        }
    }

    public func loadPolicy() -> Result<Policy, PolicyError> {
        PolicyLoader.load(path: HelperPaths.aclFile, from: SafeFileReader())
    }

    public func findBridge(_ name: InterfaceName) throws(HelperFailure) -> Int32 {
        do {
            let control = try NetworkControl()
            switch try control.kind(of: name) {
            case .bridge(let info): return info.mtu
            case .missing:
                throw HelperFailure("bridge '\(name)' does not exist in this network namespace; create it (ip link add \(name) type bridge) or ask an administrator")
            case .other(let driver):
                throw HelperFailure("'\(name)' is not a Linux bridge (its driver is '\(driver)'); no TAP was created")
            }
        } catch let error as SystemError {
            throw HelperFailure(error.description)
        } catch let error as HelperFailure {
            throw error
        } catch {
            throw HelperFailure("\(error)")
        }
    }

    public func createAttachedTap(bridge: InterfaceName, mtu: Int32, virtioNetHeader: Bool) throws(HelperFailure) -> InterfaceName {
        guard let control = tun.take() else { throw HelperFailure("internal error: /dev/net/tun is not open") }
        do { try Privileges.raiseNetworkAdmin() } catch { throw HelperFailure(error.description) }
        var device: TapDevice?
        var failure: SystemError?
        do {
            device = try Self.configureTap(control, bridge: bridge, mtu: mtu,
                                           virtioNetHeader: virtioNetHeader, owner: caller.realUser)
        } catch {
            failure = error
        }
        // If this fails, `device` is dropped on the way out, which closes the TAP's only
        // descriptor and so removes it.
        do { try Privileges.lowerNetworkAdmin() } catch { throw HelperFailure(error.description) }
        if let failure { throw HelperFailure(Self.explain(failure, bridge: bridge)) }
        guard let made = device.take() else { throw HelperFailure("internal error: no TAP was made") }
        let name = made.name
        tap = consume made
        return name
    }

    /// The kernel work, in the stock helper's order: create, MTU, MAC, attach, up. If any step
    /// fails, the TAP's only descriptor is closed on the way out and the kernel removes it.
    static func configureTap(_ control: consuming TunControl, bridge: InterfaceName, mtu: Int32,
                             virtioNetHeader: Bool, owner: uid_t) throws(SystemError) -> TapDevice {
        var flags: TunFlags = [.tap, .noPacketInfo]
        if virtioNetHeader, try control.features().contains(.virtioNetHeader) {
            flags.insert(.virtioNetHeader)
        }
        let device = try control.createTap(flags: flags, owner: owner)
        let network = try NetworkControl()
        try network.setMTU(mtu, of: device.name)
        try network.raiseMACPrefix(of: device.name)
        try network.addPort(index: try network.index(of: device.name), to: bridge)
        try network.bringUp(device.name)
        return device
    }

    static func explain(_ error: SystemError, bridge: InterfaceName) -> String {
        switch error.errno {
        case .exchangeFull:
            return "bridge '\(bridge)' has no free port (a Linux bridge holds at most 1023 ports); no TAP was created"
        case .noSuchDevice:
            return "bridge '\(bridge)' disappeared while the TAP was being attached; no TAP was left"
        case .notPermitted:
            return "\(error.operation): Operation not permitted (is CAP_NET_ADMIN available in this network namespace?); no TAP was left"
        default:
            return "\(error); no TAP was left"
        }
    }

    public func dropAllCapabilities() throws(HelperFailure) {
        do { try Privileges.dropAll() } catch { throw HelperFailure(error.description) }
    }

    public func handOff(to socket: Int32) throws(HelperFailure) {
        guard let device = tap.take() else { throw HelperFailure("internal error: no TAP to send") }
        do {
            try HandoffSocket.send(device.descriptor, over: BorrowedDescriptor(socket))
        } catch {
            let why = error.errno == .wouldBlock ? "the peer did not read within 5 seconds" : error.errno.description
            throw HelperFailure("could not send the TAP descriptor over --fd=\(socket): \(why); the TAP was removed")
        }
    }

    public func pausePoint(_ name: StaticString) {
        // Compiled in only with -DBRIDGEKEEPER_TEST_HOOKS (Makefile's test build); the release
        // binary's bk_test_hooks_enabled() is a constant 0 and no input can change that.
        if bk_test_hooks_enabled() != 0 { _ = raise(SIGSTOP) }
    }
}
