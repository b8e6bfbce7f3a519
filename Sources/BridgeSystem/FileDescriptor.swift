import CBridgeShims
import Glibc

/// An owned descriptor: closed exactly once, when the owner is done with it.
/// Non-copyable, so ownership (and who closes what) is visible in every signature.
// @frozen: a no-op in this non-resilient package; Embedded Swift needs it for `discard self`
// in `release()` (scripts/embedded-helper.sh).
@frozen public struct FileDescriptor: ~Copyable {
    public let rawValue: Int32

    public init(owning rawValue: Int32) { self.rawValue = rawValue }

    /// The descriptor without giving up ownership.
    public var borrowed: BorrowedDescriptor { BorrowedDescriptor(rawValue) }

    /// Gives up ownership without closing.
    public consuming func release() -> Int32 {
        let fd = rawValue
        discard self
        return fd
    }

    deinit { _ = close(rawValue) }

    /// open(2) with O_CLOEXEC added.
    public static func open(_ path: String, _ flags: Int32) throws(SystemError) -> FileDescriptor {
        let fd = retryingOnInterrupt { bk_open(path, flags | O_CLOEXEC) }
        guard fd >= 0 else { throw SystemError("open \(path)") }
        return FileDescriptor(owning: fd)
    }

    /// socket(2) with SOCK_CLOEXEC added.
    public static func socket(domain: Int32, type: Int32, protocol: Int32 = 0) throws(SystemError) -> FileDescriptor {
        let fd = Glibc.socket(domain, type | Int32(SOCK_CLOEXEC.rawValue), `protocol`)
        guard fd >= 0 else { throw SystemError("socket") }
        return FileDescriptor(owning: fd)
    }
}

/// A descriptor someone else owns (for example the caller's `--fd` socket): never closed here.
public struct BorrowedDescriptor: Sendable, Equatable {
    public let rawValue: Int32
    public init(_ rawValue: Int32) { self.rawValue = rawValue }

    /// fstat(2).
    public func status() throws(SystemError) -> stat {
        var info = stat()
        guard fstat(rawValue, &info) == 0 else { throw SystemError("fstat") }
        return info
    }

    /// getsockopt(2) for an int-valued SOL_SOCKET option.
    public func socketOption(_ option: Int32) throws(SystemError) -> Int32 {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(rawValue, SOL_SOCKET, option, &value, &length) == 0 else {
            throw SystemError("getsockopt")
        }
        return value
    }

    /// getpeername(2): the length of the peer's address, nil when not connected (or on error).
    public func peerAddressLength() -> socklen_t? {
        var address = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let status = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(rawValue, $0, &length) }
        }
        return status == 0 ? length : nil
    }
}
