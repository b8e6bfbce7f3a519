import BridgeACL
import CBridgeShims
import Glibc

/// User and group names through the system's name service (NSS: files, sssd, LDAP, systemd...),
/// exactly as `id` resolves them: `getpwnam_r` and `getgrnam_r`. Runs with the caller's
/// credentials (after the drop), so a module sees the caller, never root.
///
/// "No such name" is the reentrant calls' success with no entry; any error number is a failed
/// lookup (a directory server down, a module failure), which the decision treats as
/// unresolvable, never as absent.
public final class NameService: NameResolver {
    /// The buffer grows from this size on ERANGE, up to `maximumBuffer` (a group with tens of
    /// thousands of members needs a large buffer for `getgrnam_r`).
    static let initialBuffer = 1024
    static let maximumBuffer = 16 << 20

    /// True in a LINK=static build, where names come from /etc/passwd and /etc/group only.
    public let filesOnly: Bool

    public init() {
        filesOnly = bk_nss_files_only() != 0
    }

    public func lookUp(_ name: [UInt8], kind: NameKind) -> NameLookup {
        // A name with a NUL byte cannot reach NSS intact; the grammar refuses such names.
        if name.contains(0) { return .notFound }
        let cName = name.map { CChar(bitPattern: $0) } + [0]
        var size = Self.initialBuffer
        while true {
            var buffer = [CChar](repeating: 0, count: size)
            let (status, id): (Int32, UInt32?) = buffer.withUnsafeMutableBufferPointer { raw in
                guard let base = raw.baseAddress else { return (ENOMEM, nil) }
                switch kind {
                case .user:
                    var entry = passwd()
                    var result: UnsafeMutablePointer<passwd>?
                    let status = getpwnam_r(cName, &entry, base, raw.count, &result)
                    return (status, result == nil ? nil : UInt32(entry.pw_uid))
                case .group:
                    var entry = group()
                    var result: UnsafeMutablePointer<group>?
                    let status = getgrnam_r(cName, &entry, base, raw.count, &result)
                    return (status, result == nil ? nil : UInt32(entry.gr_gid))
                }
            }
            if status == ERANGE && size < Self.maximumBuffer {
                size *= 4
                continue
            }
            if status != 0 { return .failed(errno: status) }
            guard let id else { return .notFound }
            return .found(id)
        }
    }

    /// The caller as the helper received it: real uid, real gid, then the supplementary groups.
    /// Nil if the kernel would not list the groups (a deny by group must not vanish).
    public static func caller(realUser: uid_t, realGroup: gid_t) -> CallerIdentity? {
        var groups: [UInt32] = [UInt32(realGroup)]
        let count = getgroups(0, nil)
        guard count >= 0 else { return nil }
        if count > 0 {
            var list = [gid_t](repeating: 0, count: Int(count))
            let got = getgroups(count, &list)
            guard got >= 0 else { return nil }
            for gid in list.prefix(Int(got)) where !groups.contains(UInt32(gid)) { groups.append(UInt32(gid)) }
        }
        return CallerIdentity(uid: UInt32(realUser), groups: groups)
    }
}
