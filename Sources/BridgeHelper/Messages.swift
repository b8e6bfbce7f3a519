import BridgeACL
import BridgeSystem
import HelperArguments

/// The helper's one stderr line for each outcome. All wording for people is here: the system
/// layer reports errnos and facts, the ACL layer reports rules and locations.
extension HelperFailure {
    public var message: String {
        switch self {
        case .arguments(let error):
            return error.message
        case .socketNotMovable(let fd):
            return "--fd=\(fd): cannot move the socket above the standard descriptors"
        case .memoryLimit(let problem):
            return "the \(problem.limit) limit of \(problem.currentKiB) KiB is below the \(problem.neededKiB) KiB \(HelperCommandLine.programName) needs; raise it"
        case .invalidBridgeName(let error):
            return error.message
        case .socket(let fd, let problem):
            return Self.socketMessage(fd: fd, problem)
        case .tun(let error, let fileCapability):
            return Self.tunMessage(error, fileCapability: fileCapability)
        case .privilege(let error), .capabilities(let error):
            return Self.privilegeMessage(error)
        case .policy(let error):
            return ACLMessages.refusal(error)
        case .denied(let decided):
            return ACLMessages.refusal(decided, topLevel: Installation.aclFile,
                                       errorText: { Errno(rawValue: $0).description })
                ?? "\(ACLMessages.deniedPrefix): bridge '\(decided.names.requested)'"
        case .callerGroups(let errno):
            return "cannot list your groups (getgroups: \(errno)); rules with user=, uid=, group= or gid= need them"
        case .bridgeMissing(let name):
            return "bridge '\(name)' does not exist in this network namespace; create it (ip link add \(name) type bridge) or ask an administrator"
        case .notABridge(let name, let driver):
            return "'\(name)' is not a Linux bridge (its driver is '\(Escaping.escape(driver))'); no TAP was created"
        case .lookup(let what, let errno):
            return "\(what): \(errno)"
        case .quotaExceeded(let rule, let bridge, let count, let limit):
            return Self.quotaMessage(rule: rule, bridge: bridge, count: count, limit: limit)
        case .tapSetup(let step, let errno, let bridge):
            return Self.tapMessage(step, errno, bridge: bridge)
        case .attachNotVerified(let tap, let bridge, let master):
            let now = master.map { "index \($0)" } ?? "none"
            return "\(tap) is not a port of bridge '\(bridge)' after attaching it (its master is \(now)); no TAP was left"
        case .vlanFilteringOff(let bridge, let vlan):
            return "bridge '\(bridge)' does not filter VLANs (vlan_filtering is 0), so the rule's vlan=\(vlan) would not be enforced; no TAP was created (an administrator can turn filtering on: ip link set \(bridge) type bridge vlan_filtering 1)"
        case .portNotVerified(let tap, let bridge, let problem):
            return Self.portMessage(tap: tap, bridge: bridge, problem)
        case .handoff(let fd, let error):
            let why: String
            switch error {
            case .timeoutNotSet(let errno): why = "cannot set the 5-second send timeout: \(errno)"
            case .sendFailed(let errno) where errno == .wouldBlock: why = "the peer did not read within 5 seconds"
            case .sendFailed(let errno): why = errno.description
            }
            return "could not send the TAP descriptor over --fd=\(fd): \(why); the TAP was removed"
        }
    }

    static func socketMessage(fd: Int32, _ problem: HandoffSocket.Problem) -> String {
        let number = "--fd=\(fd)"
        switch problem {
        case .notOpen: return "\(number) is not an open file descriptor"
        case .notSocket: return "\(number) is not a socket (expected the AF_UNIX socket QEMU passes)"
        case .wrongKind: return "\(number) is not an AF_UNIX stream or seqpacket socket"
        case .listening: return "\(number) is a listening socket, not a connected one"
        case .notConnected: return "\(number) is a socket that is not connected to a peer"
        case .queryFailed(let errno): return "\(number): cannot query the socket: \(errno)"
        }
    }

    static func tunMessage(_ error: TunControl.OpenError, fileCapability: Bool) -> String {
        let path = TunControl.path
        switch error {
        case .open(let errno) where errno == .noSuchFile:
            return "\(path) does not exist: load the tun module (modprobe tun) or create the node (mknod /dev/net/tun c 10 200)"
        case .open(let errno) where errno == .permissionDenied && fileCapability:
            return "cannot open \(path): Permission denied; the file-capability install needs it mode 0666 (the usual default), or install the helper setuid root"
        case .open(let errno):
            return "cannot open \(path): \(errno)"
        case .status(let errno):
            return "cannot open \(path): fstat: \(errno)"
        case .notTunDevice:
            return "cannot open \(path): \(path) is not the tun character device (10:200): \(Errno.noSuchDevice)"
        }
    }

    static func privilegeMessage(_ error: PrivilegeError) -> String {
        let program = HelperCommandLine.programName
        switch error {
        case .userNamespace(.inside):
            return "\(program) was started inside a user namespace, where its privilege does not reach the host's network; run QEMU outside the user namespace"
        case .userNamespace(.cannotTell(let errno)):
            return "cannot ask the kernel whether this is a user namespace: \(errno)"
        case .noPrivilege:
            return "\(program) has no privilege: install it setuid root (chown root, chmod 4755) or with 'setcap cap_net_admin+ep' on a filesystem mounted without nosuid; no_new_privs in the caller also disables both"
        case .capabilityMissing(let name):
            return "\(program) runs setuid root but \(name) is not available (dropped from the caller's bounding set?); refusing"
        case .callFailed(let step, let errno):
            let what: String
            switch step {
            case .setGroups: what = "setresgid"
            case .setUser: what = "cap_setuid"
            case .dropBound(let cap): what = "dropping capability \(cap) from the bounding set"
            case .resetAmbient: what = "clearing the ambient capability set"
            case .capInit: what = "cap_init"
            case .capSetProc: what = "cap_set_proc"
            case .noNewPrivs: what = "PR_SET_NO_NEW_PRIVS"
            case .dumpable: what = "PR_SET_DUMPABLE"
            }
            return "\(what): \(errno)"
        case .unexpectedState(let what):
            return what
        }
    }

    /// The `max=` refusal: the rule, the limit, how many of the caller's TAPs were counted, and
    /// how to free one (a closed guest's TAP disappears; a persistent one stays until reaped).
    static func quotaMessage(rule: Rule, bridge: InterfaceName, count: Int, limit: Int) -> String {
        let taps = limit == 1 ? "1 TAP" : "\(limit) TAPs"
        let yours = count == 1 ? "1 of yours is" : "\(count) of yours are"
        return "quota reached on bridge '\(bridge)': \(rule.location): '\(rule)' allows \(taps) per user, and \(yours) attached or being attached there; to free one, close a guest, or have root remove persistent TAPs nobody holds with 'bridgekeeper taps --reap'; no TAP was left"
    }

    static func tapMessage(_ step: TapStep, _ errno: Errno, bridge: InterfaceName) -> String {
        let what: String
        switch step {
        case .features: what = "TUNGETFEATURES"
        case .create: what = "TUNSETIFF"
        case .owner: what = "TUNSETOWNER"
        case .readAddress(let tap): what = "reading the MAC address of \(tap)"
        case .setAddress(let tap): what = "setting the MAC address of \(tap)"
        case .index(let tap): what = "SIOCGIFINDEX \(tap)"
        case .netlink: what = "opening a route netlink socket"
        case .mark(let tap): what = "setting the mark (interface alias) of \(tap)"
        case .countTaps: what = "counting your TAPs on bridge \(bridge) for the rule's max= (RTM_GETLINK dump)"
        case .markReadBack(let tap):
            return "the mark (interface alias) of \(tap) did not read back as it was set; no TAP was left"
        case .mtu(let tap, let mtu): what = "setting the MTU of \(tap) to \(mtu)"
        case .up(let tap): what = "bringing \(tap) up"
        case .portVLAN(let tap, let vid): what = "setting VLAN \(vid) (PVID, untagged) on \(tap)"
        case .removeDefaultVLAN(let tap, let vid): what = "removing the bridge's default VLAN \(vid) from \(tap)"
        case .isolate(let tap): what = "turning port isolation on for \(tap)"
        case .portReadBack(let tap): what = "reading back the port settings of \(tap)"
        case .attach:
            if errno == .exchangeFull {
                return "bridge '\(bridge)' has no free port (a Linux bridge holds at most 1023 ports); no TAP was created"
            }
            // A vanished master index reads as EINVAL from rtnetlink (ENODEV from the old ioctl).
            if errno == .noSuchDevice || errno == .invalidArgument {
                return "bridge '\(bridge)' disappeared while the TAP was being attached; no TAP was left"
            }
            what = "adding a port to bridge \(bridge)"
        }
        if errno == .notPermitted {
            return "\(what): Operation not permitted (is CAP_NET_ADMIN available in this network namespace?); no TAP was left"
        }
        return "\(what): \(errno); no TAP was left"
    }

    static func portMessage(tap: InterfaceName, bridge: InterfaceName, _ problem: PortProblem) -> String {
        switch problem {
        case .notListed:
            return "\(tap) is not listed as a port of bridge '\(bridge)' when its settings are read back; no TAP was left"
        case .vlans(let expected, let found):
            return "the kernel did not keep VLAN \(expected) (PVID, untagged) as the only VLAN of \(tap) on bridge '\(bridge)' (it lists: \(vlanList(found))); no TAP was left"
        case .isolated(found: nil):
            return "the kernel does not report port isolation for \(tap) on bridge '\(bridge)' (it needs Linux 4.18 or later), so the rule's isolated cannot be enforced; no TAP was left"
        case .isolated:
            return "the kernel did not keep \(tap) isolated on bridge '\(bridge)'; no TAP was left"
        case .filteringOff:
            return "bridge '\(bridge)' stopped filtering VLANs while \(tap) was being set up; no TAP was left"
        }
    }

    /// "1 pvid untagged, 20 untagged, 30", at most 8 entries and then how many more; "none".
    static func vlanList(_ vlans: [BridgeVLAN]) -> String {
        if vlans.isEmpty { return "none" }
        var items = vlans.prefix(8).map { vlan in
            "\(vlan.vid)" + (vlan.isPVID ? " pvid" : "") + (vlan.isUntagged ? " untagged" : "")
        }
        if vlans.count > 8 { items.append("and \(vlans.count - 8) more") }
        return items.joined(separator: ", ")
    }
}
