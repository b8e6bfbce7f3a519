import CBridgeShims
import CLibcap
import Glibc

/// The caller's identity, captured before anything changes.
public struct Credentials: Equatable, Sendable {
    public let realUser: uid_t, effectiveUser: uid_t, savedUser: uid_t
    public let realGroup: gid_t, effectiveGroup: gid_t, savedGroup: gid_t

    public static func current() -> Credentials {
        var ru: uid_t = 0, eu: uid_t = 0, su: uid_t = 0
        var rg: gid_t = 0, eg: gid_t = 0, sg: gid_t = 0
        _ = bk_getresuid(&ru, &eu, &su)
        _ = bk_getresgid(&rg, &eg, &sg)
        return Credentials(realUser: ru, effectiveUser: eu, savedUser: su,
                           realGroup: rg, effectiveGroup: eg, savedGroup: sg)
    }
}

/// How the helper got its privilege, which decides how it gives it up (contract §4).
public enum PrivilegeMode: Equatable, Sendable {
    /// Installed setuid root and run by an ordinary user: switch to the user, keep CAP_NET_ADMIN.
    case setuidRoot
    /// Installed with `setcap cap_net_admin+ep`: already the user, holding CAP_NET_ADMIN.
    case fileCapability
    /// Run by root (uid 0): the uid stays; capabilities shrink to CAP_NET_ADMIN anyway.
    case root
    /// No privilege at all: a plain copy, a nosuid mount, or no_new_privs set by the caller.
    case none
    /// Inside a user namespace other than the initial one (or unable to tell): uid 0 or
    /// CAP_NET_ADMIN there is no privilege over the host's network, so the helper does not act.
    case userNamespace(UserNamespaceProblem)

    public static func detect(_ credentials: Credentials) -> PrivilegeMode {
        PrivilegeProbe.detect(credentials).mode
    }
}

/// What the helper learns about its privilege before it acts: the mode, and on the way the
/// network namespace it acts in (for the audit record).
public struct PrivilegeProbe: Equatable, Sendable {
    public let mode: PrivilegeMode
    /// The inode of this process's network namespace, from the descriptor SIOCGSKNS returned
    /// during the user-namespace check (no path involved). Nil when the process could not ask
    /// (no CAP_NET_ADMIN over that namespace, as in modes `.none` and most `.userNamespace`).
    public let networkNamespace: UInt64?

    public init(mode: PrivilegeMode, networkNamespace: UInt64?) {
        self.mode = mode
        self.networkNamespace = networkNamespace
    }

    public static func detect(_ credentials: Credentials) -> PrivilegeProbe {
        let capabilities = CapabilitySet.current()
        var networkNamespace: UInt64?
        if capabilities.permits(CAP_NET_ADMIN) {
            // The kernel's answer needs CAP_NET_ADMIN effective (a `+p`-only file capability
            // starts without it).
            if capabilities.effective & (1 << UInt64(CAP_NET_ADMIN)) == 0 { Privileges.makeEffective(CAP_NET_ADMIN) }
            // The decision that matters: privilege in a user namespace other than the initial
            // one is no privilege over the host's network. Asked of the kernel, not of /proc.
            let inspected = UserNamespace.inspectCurrentNetworkNamespace()
            networkNamespace = inspected.networkNamespace
            switch inspected.owner {
            case .initial: break
            case .other: return PrivilegeProbe(mode: .userNamespace(.inside), networkNamespace: networkNamespace)
            case .unknown(let errno):
                return PrivilegeProbe(mode: .userNamespace(.cannotTell(errno)), networkNamespace: networkNamespace)
            }
        }
        // Without CAP_NET_ADMIN the helper can do nothing to any network; the drop refuses
        // (naming the missing capability) or the mode is `.none`.
        if credentials.effectiveUser == 0 {
            return PrivilegeProbe(mode: credentials.realUser == 0 ? .root : .setuidRoot, networkNamespace: networkNamespace)
        }
        if capabilities.permits(CAP_NET_ADMIN) {
            return PrivilegeProbe(mode: .fileCapability, networkNamespace: networkNamespace)
        }
        // Without privilege the helper refuses either way; /proc only picks the clearer message.
        let mode: PrivilegeMode = UserNamespace.mapLooksInitial() ? .none : .userNamespace(.inside)
        return PrivilegeProbe(mode: mode, networkNamespace: networkNamespace)
    }
}

/// Why the helper will not act from inside a user namespace.
public enum UserNamespaceProblem: Equatable, Sendable {
    /// The process (or the network namespace it would act in) belongs to a user namespace other
    /// than the initial one.
    case inside
    /// The kernel could not be asked (the errno of SIOCGSKNS or NS_GET_USERNS): fail closed.
    case cannotTell(Errno)
}

public enum UserNamespace {
    public enum Owner: Equatable, Sendable {
        case initial
        case other
        case unknown(Errno)
    }

    /// Which user namespace owns the network namespace this process acts in, through a socket
    /// and two ioctls (no path is involved, so no bind mount or chroot can fake the answer).
    /// With CAP_NET_ADMIN effective, success and the initial namespace's inode prove that the
    /// process holds CAP_NET_ADMIN in the initial user namespace, which a process inside any
    /// other user namespace cannot. The effective set is as the process started: setuid root
    /// and `setcap cap_net_admin+ep` both start with CAP_NET_ADMIN effective.
    public static func ownerOfCurrentNetworkNamespace() -> Owner {
        inspectCurrentNetworkNamespace().owner
    }

    /// `ownerOfCurrentNetworkNamespace()`, plus the network namespace's own inode when SIOCGSKNS
    /// answered (nil otherwise).
    public static func inspectCurrentNetworkNamespace() -> (owner: Owner, networkNamespace: UInt64?) {
        let socket: FileDescriptor
        do {
            socket = try FileDescriptor.socket(domain: AF_UNIX, type: Int32(SOCK_DGRAM.rawValue))
        } catch {
            return (.unknown(error.errno), nil)
        }
        var inode: UInt64 = 0
        var netns: UInt64 = 0
        let status = bk_netns_owner_inode(socket.rawValue, &inode, &netns)
        let saved = Errno.current
        let networkNamespace: UInt64? = netns == 0 ? nil : netns
        guard status == 0 else {
            // EPERM: no CAP_NET_ADMIN over this network namespace, although the process looked
            // privileged: the privilege belongs to another user namespace.
            return (saved == .notPermitted ? .other : .unknown(saved), networkNamespace)
        }
        return (inode == bk_initial_user_namespace_inode ? .initial : .other, networkNamespace)
    }

    /// Whether /proc/self/uid_map reads as the initial namespace's identity map. Only used to
    /// choose a message for a process that has no privilege anyway: the caller can fake this
    /// file (a chroot or a bind mount), so it decides nothing.
    static func mapLooksInitial() -> Bool {
        let fd = bk_open("/proc/self/uid_map", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return true }
        let file = FileDescriptor(owning: fd)
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = buffer.withUnsafeMutableBytes { read(file.rawValue, $0.baseAddress, $0.count) }
        guard count >= 0 else { return true }
        let fields = buffer.prefix(count).split(whereSeparator: { $0 == 0x20 || $0 == 0x0A || $0 == 0x09 })
        return fields.map({ Array($0) }) == [Array("0".utf8), Array("0".utf8), Array("4294967295".utf8)]
    }
}

/// A snapshot of this thread's capability sets (libcap's `cap_t`), as bit masks.
public struct CapabilitySet: Equatable, Sendable {
    public var permitted: UInt64 = 0
    public var effective: UInt64 = 0
    public var inheritable: UInt64 = 0

    public static func mask(_ caps: [cap_value_t]) -> UInt64 {
        caps.reduce(0) { $0 | (1 << UInt64($1)) }
    }

    public static func current() -> CapabilitySet {
        var result = CapabilitySet()
        guard let caps = cap_get_proc() else { return result }
        defer { _ = cap_free(UnsafeMutableRawPointer(caps)) }
        for cap in 0..<min(cap_max_bits(), 64) {
            var value = CAP_CLEAR
            if cap_get_flag(caps, cap, CAP_PERMITTED, &value) == 0, value == CAP_SET { result.permitted |= 1 << UInt64(cap) }
            if cap_get_flag(caps, cap, CAP_EFFECTIVE, &value) == 0, value == CAP_SET { result.effective |= 1 << UInt64(cap) }
            if cap_get_flag(caps, cap, CAP_INHERITABLE, &value) == 0, value == CAP_SET { result.inheritable |= 1 << UInt64(cap) }
        }
        return result
    }

    public func permits(_ cap: cap_value_t) -> Bool { permitted & (1 << UInt64(cap)) != 0 }
}

/// Why the privilege drop could not be completed. Always fatal: the helper refuses to go on.
/// The wording for people lives with the helper's other messages (BridgeHelper).
public enum PrivilegeError: Error, Equatable, Sendable {
    /// Started inside a user namespace (see `UserNamespaceProblem`).
    case userNamespace(UserNamespaceProblem)
    /// Neither setuid root nor a file capability took effect.
    case noPrivilege
    /// Setuid root, but this capability was missing from the start (named as libcap spells it).
    case capabilityMissing(String)
    /// A call of the drop sequence failed.
    case callFailed(PrivilegeStep, Errno)
    /// The end state differs from the one the drop sequence should produce.
    case unexpectedState(String)
}

/// The calls of the privilege story, for `PrivilegeError.callFailed`.
public enum PrivilegeStep: Equatable, Sendable {
    case setGroups, setUser, dropBound(cap_value_t), resetAmbient, capInit, capSetProc, noNewPrivs, dumpable
}

/// The privilege story of the helper, in the order it happens (contract §4):
/// `drop(mode:)` once, right after opening /dev/net/tun; `raiseNetworkAdmin`/`lowerNetworkAdmin`
/// around the few calls that need CAP_NET_ADMIN; `dropAll()` before the descriptor leaves the process.
/// Capabilities are per thread in Linux: the helper stays single-threaded.
public enum Privileges {
    static let netAdmin: [cap_value_t] = [CAP_NET_ADMIN]

    /// Reduces the process to the caller's identity plus a permitted (not effective)
    /// CAP_NET_ADMIN, then checks the result from scratch.
    public static func drop(mode: PrivilegeMode, caller: Credentials) throws(PrivilegeError) {
        switch mode {
        case .userNamespace(let problem):
            throw .userNamespace(problem)
        case .none:
            throw .noPrivilege
        case .setuidRoot:
            let needed: [(cap_value_t, String)] = [(CAP_SETUID, "cap_setuid"), (CAP_SETGID, "cap_setgid"),
                                                   (CAP_SETPCAP, "cap_setpcap"), (CAP_NET_ADMIN, "cap_net_admin")]
            let have = CapabilitySet.current()
            if let missing = needed.first(where: { !have.permits($0.0) }) {
                becomeCallerWithoutCapabilities(caller)
                throw .capabilityMissing(missing.1)
            }
            try dropBoundingSet()
            try resetAmbient()
            guard bk_setresgid(caller.realGroup, caller.realGroup, caller.realGroup) == 0 else {
                throw .callFailed(.setGroups, .current)
            }
            // cap_setuid(3) sets real, effective and saved uid with keep-caps, raising CAP_SETUID
            // only for the call; supplementary groups are left alone (group-readable includes).
            guard cap_setuid(caller.realUser) == 0 else { throw .callFailed(.setUser, .current) }
        case .fileCapability:
            try resetAmbient()
        case .root:
            try dropBoundingSet()
            try resetAmbient()
        }
        try setProcessCapabilities(permitted: netAdmin, effective: [])
        guard bk_prctl(bk_pr_set_no_new_privs, 1) == 0 else { throw .callFailed(.noNewPrivs, .current) }
        guard bk_prctl(bk_pr_set_dumpable, 0) == 0 else { throw .callFailed(.dumpable, .current) }
        try verify(mode: mode, caller: caller, permitted: CapabilitySet.mask(netAdmin))
    }

    /// Adds `cap` to the effective set, keeping every other set as it is (used before the drop,
    /// when the permitted set may still hold more). Failure leaves the set unchanged, and the
    /// kernel's checks then fail closed.
    static func makeEffective(_ cap: cap_value_t) {
        guard let caps = cap_get_proc() else { return }
        defer { _ = cap_free(UnsafeMutableRawPointer(caps)) }
        var list = [cap]
        _ = cap_set_flag(caps, CAP_EFFECTIVE, 1, &list, CAP_SET)
        _ = cap_set_proc(caps)
    }

    /// Makes CAP_NET_ADMIN effective, for the few calls that need it.
    public static func raiseNetworkAdmin() throws(PrivilegeError) {
        try setProcessCapabilities(permitted: netAdmin, effective: netAdmin)
    }

    /// Clears the effective set again; CAP_NET_ADMIN stays permitted until `dropAll()`.
    public static func lowerNetworkAdmin() throws(PrivilegeError) {
        try setProcessCapabilities(permitted: netAdmin, effective: [])
    }

    /// Empties every capability set. Done before the TAP descriptor is sent, so whatever runs
    /// after the hand-off (and anything a bug could reach) holds no capability at all.
    public static func dropAll() throws(PrivilegeError) {
        try setProcessCapabilities(permitted: [], effective: [])
        if CapabilitySet.current() != CapabilitySet() {
            throw .unexpectedState("capabilities still permitted after dropping them all")
        }
    }

    // MARK: - Steps

    /// Fallback when the drop cannot be done properly: become the caller in every uid/gid slot
    /// (allowed without capabilities, since each target value is already the real one).
    static func becomeCallerWithoutCapabilities(_ caller: Credentials) {
        _ = bk_setresgid(caller.realGroup, caller.realGroup, caller.realGroup)
        _ = bk_setresuid(caller.realUser, caller.realUser, caller.realUser)
    }

    /// Contract §4 asks for an empty bounding set, and t-creds pins it (one PR_CAPBSET_DROP per
    /// capability the kernel knows). Measured: the 41 drops cost about 60 us per run (each one
    /// commits new credentials), the largest single item of the drop. What they protect, given
    /// the rest of the end state (permitted = CAP_NET_ADMIN, inheritable = ambient = 0,
    /// no_new_privs, and a helper that never calls execve): no_new_privs already keeps any
    /// execve from gaining a capability (setuid, file capabilities and root's exec rules are
    /// all capped at the old permitted set), and capset can only add to the inheritable set what
    /// is permitted (CAP_NET_ADMIN) and in the bounding set. So the one bit that still matters
    /// is CAP_NET_ADMIN's: without it in the bounding set, code that took over the helper before
    /// `dropAll()` cannot make CAP_NET_ADMIN inheritable, then ambient, and execve a shell that
    /// keeps it. The other 40 drops are defence in depth the contract asks for; dropping only
    /// CAP_NET_ADMIN would need a contract change (the README's Performance section).
    static func dropBoundingSet() throws(PrivilegeError) {
        // Dropping a capability that is already gone succeeds, so no read first.
        for cap in 0..<cap_max_bits() {
            guard cap_drop_bound(cap) == 0 else { throw .callFailed(.dropBound(cap), .current) }
        }
    }

    /// One PR_CAP_AMBIENT_CLEAR_ALL. libcap's cap_reset_ambient reads every capability first
    /// (42 prctl calls per run, about 12 us) and then clears nothing when none is set.
    static func resetAmbient() throws(PrivilegeError) {
        guard bk_clear_ambient_capabilities() == 0 else { throw .callFailed(.resetAmbient, .current) }
    }

    static func setProcessCapabilities(permitted: [cap_value_t], effective: [cap_value_t]) throws(PrivilegeError) {
        guard let caps = cap_init() else { throw .callFailed(.capInit, .current) }
        defer { _ = cap_free(UnsafeMutableRawPointer(caps)) }
        if !permitted.isEmpty { _ = cap_set_flag(caps, CAP_PERMITTED, Int32(permitted.count), permitted, CAP_SET) }
        if !effective.isEmpty { _ = cap_set_flag(caps, CAP_EFFECTIVE, Int32(effective.count), effective, CAP_SET) }
        guard cap_set_proc(caps) == 0 else { throw .callFailed(.capSetProc, .current) }
    }

    /// Checks the end state from scratch rather than trusting the steps above.
    static func verify(mode: PrivilegeMode, caller: Credentials, permitted: UInt64) throws(PrivilegeError) {
        let now = Credentials.current()
        let expectedUser: uid_t = mode == .root ? 0 : caller.realUser
        let expectedGroup = caller.realGroup
        guard now.realUser == expectedUser, now.effectiveUser == expectedUser, now.savedUser == expectedUser,
              now.realGroup == expectedGroup, now.effectiveGroup == expectedGroup, now.savedGroup == expectedGroup else {
            throw .unexpectedState("privilege drop left unexpected uids/gids")
        }
        let caps = CapabilitySet.current()
        guard caps == CapabilitySet(permitted: permitted, effective: 0, inheritable: 0) else {
            throw .unexpectedState("privilege drop left unexpected capabilities")
        }
        // No ambient read: the kernel keeps ambient within permitted AND inheritable at every
        // capset (security/commoncap.c, cap_capset), and inheritable was just read as empty, so
        // ambient is empty too. Reading all 41 (PR_CAP_AMBIENT_IS_SET) cost about 12 us a run;
        // t-creds still reads CapAmb from /proc at both pause points.
        if mode != .fileCapability {
            for cap in 0..<cap_max_bits() where cap_get_bound(cap) == 1 {
                throw .unexpectedState("capability \(cap) still in the bounding set")
            }
        }
        guard bk_prctl(bk_pr_get_no_new_privs, 0) == 1 else { throw .unexpectedState("no_new_privs is not set") }
        if mode != .root && setuid(0) == 0 {
            // Regaining root must be impossible now; if it is not, stop before doing anything.
            abort()
        }
    }
}
