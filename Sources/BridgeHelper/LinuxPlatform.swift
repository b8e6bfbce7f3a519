import BridgeACL
import BridgeSystem
import CBridgeShims
import Glibc

/// The real `HelperPlatform`: kernel calls through BridgeSystem, failures as typed values.
/// Holds the descriptors the helper owns; the caller's socket is only borrowed.
public final class LinuxPlatform: HelperPlatform {
    let caller: Credentials
    /// The privilege mode and the network namespace, detected once (the audit record reads both).
    public let probe: PrivilegeProbe
    var mode: PrivilegeMode { probe.mode }
    var tun: TunControl?
    var tap: TapDevice?
    let names = NameService()

    public init(caller: Credentials) {
        self.caller = caller
        self.probe = PrivilegeProbe.detect(caller)
    }

    public func checkHandoffSocket(_ fd: Int32) -> HandoffSocket.Problem? {
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
            throw .tun(error, fileCapability: mode == .fileCapability)
        }
    }

    public func dropPrivileges() throws(HelperFailure) {
        do {
            try Privileges.drop(mode: mode, caller: caller)
        } catch {
            throw .privilege(error)
        }
    }

    public func loadPolicy(for device: DeviceNames) -> Result<Policy, PolicyError> {
        PolicyLoader.load(path: Installation.aclFile, from: SafeFileReader(), device: device)
    }

    public func callerIdentity() throws(HelperFailure) -> CallerIdentity {
        guard let identity = NameService.caller(realUser: caller.realUser, realGroup: caller.realGroup) else {
            throw .callerGroups(.current)
        }
        return identity
    }

    /// Names resolve through NSS after the drop, with the caller's credentials.
    public func lookUp(_ name: [UInt8], kind: NameKind) -> NameLookup {
        names.lookUp(name, kind: kind)
    }

    public func resolveDevice(_ name: InterfaceName) throws(HelperFailure) -> NetworkDevice? {
        let link: LinkDescription
        do {
            guard let found = try RouteNetlink().link(named: name.bytes) else { return nil }
            link = found
        } catch {
            throw .lookup(error.operation, error.errno)
        }
        let canonical: InterfaceName
        do { canonical = try InterfaceName(validating: link.name) } catch {
            throw .lookup("RTM_GETLINK \(name): the kernel returned an invalid name", .invalidArgument)
        }
        // Alternative names longer than 15 bytes cannot appear in a rule, so they cannot match.
        var alternatives: [InterfaceName] = []
        for bytes in link.alternativeNames {
            do { alternatives.append(try InterfaceName(validating: bytes)) } catch { continue }
        }
        let kind: NetworkDevice.Kind
        if link.kind == Array("bridge".utf8), let mtu = link.mtu {
            kind = .bridge(mtu: mtu)
        } else {
            kind = .other(driver: Self.driver(of: canonical))
        }
        return NetworkDevice(index: link.index, canonicalName: canonical, alternativeNames: alternatives, kind: kind,
                             vlanFiltering: link.bridge?.vlanFiltering ?? false, defaultPVID: link.bridge?.defaultPVID)
    }

    /// The ethtool driver name, only for the message about a device that is not a bridge.
    static func driver(of name: InterfaceName) -> [UInt8] {
        do {
            return try InterfaceIoctls().driver(of: name)
        } catch {
            return Array("unknown".utf8)
        }
    }

    public func createAttachedTap(bridge: NetworkDevice, mtu: UInt32, virtioNetHeader: Bool,
                                  rule: Rule) throws(HelperFailure) -> AttachedTap {
        guard let control = tun.take() else { throw .tapSetup(.create, .noSuchDevice, bridge: bridge.canonicalName) }
        let mark = TapMark(uid: caller.realUser, rule: rule.location).rendered
        do { try Privileges.raiseNetworkAdmin() } catch { throw .capabilities(error) }
        var made: ConfiguredTap?
        var failure: HelperFailure?
        do {
            made = try Self.configureTap(control, bridge: bridge, mtu: mtu, virtioNetHeader: virtioNetHeader,
                                         owner: caller.realUser, mark: mark, rule: rule)
        } catch {
            failure = error
        }
        // If configuring failed, `made` is nil and the TAP's only descriptor was closed on the
        // way out of configureTap, which removes the TAP.
        do { try Privileges.lowerNetworkAdmin() } catch { throw .capabilities(error) }
        if let failure { throw failure }
        guard let configured = made.take() else { throw .tapSetup(.create, .noSuchDevice, bridge: bridge.canonicalName) }
        let attached = AttachedTap(name: configured.device.name, index: configured.index)
        tap = configured.takeDevice()
        return attached
    }

    /// The kernel work, in the stock helper's order (create, MTU, MAC, attach, up) with the mark
    /// (`TapMark`, the interface alias) set right after creating: a TAP is never on a bridge
    /// without it. The bridge is named by its index, never by a name that could resolve to
    /// another device meanwhile. One read-back after attaching checks both the mark as the
    /// kernel stored it and the TAP's master, before the TAP is brought up and counts as
    /// attached. If any step fails, the TAP's only descriptor is closed on the way out and the
    /// kernel removes the TAP. `rule` is the granting rule, whose options apply (none without
    /// one) and which a quota refusal names.
    public static func configureTap(_ control: consuming TunControl, bridge: NetworkDevice, mtu: UInt32,
                                    virtioNetHeader: Bool, owner: uid_t, mark: [UInt8],
                                    rule: Rule? = nil) throws(HelperFailure) -> ConfiguredTap {
        let name = bridge.canonicalName
        let options = rule?.options ?? .none
        var flags: TunFlags = [.tap, .noPacketInfo]
        if virtioNetHeader {
            do {
                if try control.features().contains(.virtioNetHeader) { flags.insert(.virtioNetHeader) }
            } catch {
                throw .tapSetup(.features, error.errno, bridge: name)
            }
        }
        let device: TapDevice
        do { device = try control.createTap(flags: flags, owner: owner) } catch {
            switch error {
            case .setInterface(let errno): throw .tapSetup(.create, errno, bridge: name)
            case .setOwner(let errno): throw .tapSetup(.owner, errno, bridge: name)
            }
        }
        let tap = device.name
        let index: Int32
        do { index = try InterfaceIoctls().index(of: tap) } catch { throw .tapSetup(.index(tap), error.errno, bridge: name) }
        let netlink: RouteNetlink
        do { netlink = try RouteNetlink() } catch { throw .tapSetup(.netlink, error.errno, bridge: name) }
        var mac: [UInt8]
        do { mac = try device.hardwareAddress() } catch { throw .tapSetup(.readAddress(tap), error.errno, bridge: name) }
        // A bridge without a fixed address takes the lowest of its ports' addresses; 0xfe keeps
        // a TAP from ever being that port, so adding a guest does not change the bridge's MAC.
        mac[0] = 0xFE
        // The mark needs CAP_NET_ADMIN (effective now), so the descriptor's holder cannot change
        // it later; what the kernel stored is read back below (the kernel would cut a longer
        // alias silently; the rendering stays within the limit, the read-back proves it).
        // Address, MTU, mark and bridge go in one request (LinkChange.setUp: the kernel applies
        // the address before the master). If the kernel refuses it, the same changes are made
        // one at a time, so the refusal names the one that failed.
        do {
            try netlink.change(LinkChange.setUp(address: mac, mtu: mtu, alias: mark, master: bridge.index, index: index,
                                                sequence: netlink.nextSequence()), what: "set-up")
        } catch {
            try setUpStepwise(netlink, device: device, tap: tap, index: index, bridge: bridge, mtu: mtu, mark: mark, mac: mac)
        }
        let stored: LinkDescription?
        do { stored = try netlink.link(index: index) } catch { throw .tapSetup(.attach, error.errno, bridge: name) }
        if stored?.master != bridge.index || stored?.alias != mark {
            // Detach explicitly; closing the descriptor on the way out then removes the TAP.
            do {
                try netlink.change(LinkChange.master(0, index: index, sequence: netlink.nextSequence()), what: "detach")
            } catch {
                // Nothing more to do: the refusal below closes the TAP, which removes it anyway.
            }
            if stored?.alias != mark { throw .tapSetup(.markReadBack(tap), Errno(rawValue: EPROTO), bridge: name) }
            throw .attachNotVerified(tap: tap, bridge: name, master: stored?.master)
        }
        // Issue 10: the port's VLAN and isolation, then the quota, all before `up` and before
        // the descriptor can leave the helper.
        try configurePort(options, tap: tap, index: index, bridge: bridge, kernel: netlink)
        try enforceQuota(rule, tap: index, caller: owner, bridge: bridge, kernel: netlink)
        do {
            try netlink.change(LinkChange.up(index: index, sequence: netlink.nextSequence()), what: "up")
        } catch {
            throw .tapSetup(.up(tap), error.errno, bridge: name)
        }
        return ConfiguredTap(device: device, index: index)
    }

    /// `LinkChange.setUp` one change at a time, in the same order: when the kernel refused the
    /// whole, this finds the change it refuses and words the refusal for it.
    private static func setUpStepwise(_ netlink: RouteNetlink, device: borrowing TapDevice, tap: InterfaceName, index: Int32,
                                      bridge: NetworkDevice, mtu: UInt32, mark: [UInt8], mac: [UInt8]) throws(HelperFailure) {
        let name = bridge.canonicalName
        do { try device.setHardwareAddress(mac) } catch { throw .tapSetup(.setAddress(tap), error.errno, bridge: name) }
        do {
            try netlink.change(LinkChange.mtu(mtu, index: index, sequence: netlink.nextSequence()), what: "mtu")
        } catch {
            throw .tapSetup(.mtu(tap, mtu), error.errno, bridge: name)
        }
        do {
            try netlink.change(LinkChange.alias(mark, index: index, sequence: netlink.nextSequence()), what: "alias")
        } catch {
            throw .tapSetup(.mark(tap), error.errno, bridge: name)
        }
        do {
            try netlink.change(LinkChange.master(bridge.index, index: index, sequence: netlink.nextSequence()), what: "master")
        } catch {
            throw .tapSetup(.attach, error.errno, bridge: name)
        }
    }

    /// A TAP that is created, configured and attached, with its ifindex.
    public struct ConfiguredTap: ~Copyable {
        public let device: TapDevice
        public let index: Int32

        consuming func takeDevice() -> TapDevice { device }

        /// Gives up the TAP's descriptor without closing it (the bench keeps raw numbers).
        public consuming func releaseDescriptor() -> Int32 { takeDevice().releaseDescriptor() }
    }

    public func dropAllCapabilities() throws(HelperFailure) {
        do { try Privileges.dropAll() } catch { throw .capabilities(error) }
    }

    public func handOff(to socket: Int32) throws(HelperFailure) {
        guard let device = tap.take() else { throw .handoff(fd: socket, .sendFailed(.noSuchDevice)) }
        do {
            try HandoffSocket.send(device.descriptor, over: BorrowedDescriptor(socket))
        } catch {
            throw .handoff(fd: socket, error)
        }
    }

    public func pausePoint(_ name: StaticString) {
        // Compiled in only with -DBRIDGEKEEPER_TEST_HOOKS (Makefile's test build); the release
        // binary's bk_test_hooks_enabled() is a constant 0 and no input can change that.
        if bk_test_hooks_enabled() != 0 { _ = raise(SIGSTOP) }
    }
}
