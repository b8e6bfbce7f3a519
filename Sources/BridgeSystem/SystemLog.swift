import CBridgeShims
import Glibc

/// The system log as the helper writes it: one datagram straight to the log socket, never
/// glibc's `syslog()` (it takes its tag from argv[0], the pattern behind CVE-2023-6246, and
/// reads /etc/localtime for a timestamp that journald and rsyslog add themselves).
///
/// Writing never blocks and never fails the caller: a missing `/dev/log`, a path that is not a
/// datagram socket, a daemon that refuses or a receive queue that is full all end the call at
/// once with an errno, which the helper ignores (the request's result does not depend on it).
public enum SystemLog {
    /// Where syslog daemons (journald, rsyslog) listen for local datagrams.
    public static let socketPath = "/dev/log"

    /// Facility `authpriv` (10), as in `<PRI>` = facility * 8 + severity.
    public static let authpriv: UInt8 = 10

    public enum Severity: UInt8, Sendable {
        case warning = 4
        case notice = 5
    }

    /// Sends `record` (a complete `<PRI>TAG[PID]: text` line, without a newline) as one
    /// datagram to `path`. Nil when the datagram was handed to the socket, else the errno.
    @discardableResult
    public static func send(_ record: [UInt8], to path: String = socketPath) -> Errno? {
        let status = record.withUnsafeBytes { bytes in bk_send_datagram(path, bytes.baseAddress, bytes.count) }
        return status == 0 ? nil : .current
    }
}

/// Which network namespace this process is in, for the audit record.
public enum NetworkNamespace {
    /// The namespace's inode number through `/proc/self/ns/net`. Used only when the kernel cannot
    /// be asked through a socket (SIOCGSKNS needs CAP_NET_ADMIN, which an unprivileged run lacks):
    /// a path can be changed by a mount, so this value is informational. Nil if stat fails.
    public static func inodeFromProcfs() -> UInt64? {
        var info = stat()
        guard stat("/proc/self/ns/net", &info) == 0 else { return nil }
        return UInt64(info.st_ino)
    }
}
