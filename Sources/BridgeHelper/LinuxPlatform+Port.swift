import BridgeACL
import BridgeSystem
import CBridgeShims

/// What the kernel reported instead of the port settings the granting rule asked for.
public enum PortProblem: Equatable, Sendable {
    /// The TAP was not in the AF_BRIDGE dump as a port at all.
    case notListed
    /// The port's VLANs are not exactly `vlan` as PVID, untagged (what the kernel has instead).
    case vlans(expected: UInt16, found: [BridgeVLAN])
    /// `isolated` did not read back as on: false, or nil when the kernel does not report the
    /// flag (before Linux 4.18 it acknowledges the attribute and ignores it).
    case isolated(found: Bool?)
    /// The bridge stopped filtering VLANs while the port was set up.
    case filteringOff
}

/// The rtnetlink calls the port settings need: `RouteNetlink` in the helper, a scripted kernel in
/// the unit tests (which cannot make a VLAN-filtering bridge on a kernel without one).
public protocol BridgePortKernel {
    func nextSequence() -> UInt32
    func change(_ request: LinkRequest, what: String) throws(SystemError)
    func bridgePort(index: Int32) throws(SystemError) -> BridgePortState?
    func link(index: Int32) throws(SystemError) -> LinkDescription?
}

extension RouteNetlink: BridgePortKernel {}

extension LinuxPlatform {
    /// The granting rule's port options (`vlan=`, `isolated`; `max=` is the quota's).
    public static func configurePort(_ options: RuleOptions, tap: InterfaceName, index: Int32, bridge: NetworkDevice,
                                     kernel: some BridgePortKernel) throws(HelperFailure) {
        try configurePort(vlan: options.vlan, isolated: options.isolated, tap: tap, index: index, bridge: bridge,
                          kernel: kernel)
    }

    /// The granting rule's port settings on an attached TAP, before it is brought up (so QEMU
    /// never holds a TAP whose settings are not in place): `vlan=N` sets PVID N untagged and
    /// removes the bridge's default PVID from the port; `isolated` sets IFLA_BRPORT_ISOLATED.
    /// Every setting is then read back from the kernel (it acknowledges attributes it does not
    /// know, and stores VLANs a non-filtering bridge does not enforce); anything not as asked
    /// throws, and the caller's way out closes the TAP's only descriptor, which removes it.
    /// Nothing is sent when the rule has neither option.
    public static func configurePort(vlan: UInt16?, isolated: Bool, tap: InterfaceName, index: Int32,
                                     bridge: NetworkDevice, kernel: some BridgePortKernel) throws(HelperFailure) {
        guard vlan != nil || isolated else { return }
        let name = bridge.canonicalName
        if let vlan {
            // Helper.run checked this before any TAP existed; checked again so this function is
            // never the one that puts a VLAN on a bridge that would not enforce it.
            guard bridge.vlanFiltering else { throw .vlanFilteringOff(bridge: name, vlan: vlan) }
            do {
                try kernel.change(BridgePortChange.pvidUntagged(vlan, index: index, sequence: kernel.nextSequence()),
                                  what: "vlan")
            } catch {
                throw .tapSetup(.portVLAN(tap, vlan), error.errno, bridge: name)
            }
            // A new port gets the bridge's default PVID untagged too; the guest must see only its
            // own VLAN. 0 means the bridge gives new ports no VLAN.
            if let defaultVID = bridge.defaultPVID, defaultVID != 0, defaultVID != vlan {
                do {
                    try kernel.change(BridgePortChange.removeVLAN(defaultVID, index: index, sequence: kernel.nextSequence()),
                                      what: "default vlan")
                } catch {
                    throw .tapSetup(.removeDefaultVLAN(tap, defaultVID), error.errno, bridge: name)
                }
            }
        }
        if isolated {
            do {
                try kernel.change(BridgePortChange.isolated(true, index: index, sequence: kernel.nextSequence()),
                                  what: "isolated")
            } catch {
                throw .tapSetup(.isolate(tap), error.errno, bridge: name)
            }
        }
        let port: BridgePortState?
        do { port = try kernel.bridgePort(index: index) } catch {
            throw .tapSetup(.portReadBack(tap), error.errno, bridge: name)
        }
        guard let port, port.master == bridge.index else {
            throw .portNotVerified(tap: tap, bridge: name, .notListed)
        }
        if let vlan, port.vlans != [BridgeVLAN(vid: vlan, flags: bk_bridge_vlan_info_pvid | bk_bridge_vlan_info_untagged)] {
            throw .portNotVerified(tap: tap, bridge: name, .vlans(expected: vlan, found: port.vlans))
        }
        if isolated, port.isolated != true {
            throw .portNotVerified(tap: tap, bridge: name, .isolated(found: port.isolated))
        }
        if vlan != nil {
            // Filtering turned off between the decision and now would leave the VLAN unenforced.
            let now: LinkDescription?
            do { now = try kernel.link(index: bridge.index) } catch {
                throw .tapSetup(.portReadBack(tap), error.errno, bridge: name)
            }
            guard now?.bridge?.vlanFiltering == true else {
                throw .portNotVerified(tap: tap, bridge: name, .filteringOff)
            }
        }
    }
}
