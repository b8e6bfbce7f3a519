import Glibc

/// An errno value with its C name, for matching and for messages.
public struct Errno: Error, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// The calling thread's current `errno`.
    public static var current: Errno { Errno(rawValue: errno) }

    public static let permissionDenied = Errno(rawValue: EACCES)      // EACCES
    public static let notPermitted = Errno(rawValue: EPERM)           // EPERM
    public static let noSuchFile = Errno(rawValue: ENOENT)            // ENOENT
    public static let noSuchDevice = Errno(rawValue: ENODEV)          // ENODEV
    public static let exchangeFull = Errno(rawValue: EXFULL)          // EXFULL (bridge out of ports)
    public static let wouldBlock = Errno(rawValue: EAGAIN)            // EAGAIN / EWOULDBLOCK
    public static let invalidArgument = Errno(rawValue: EINVAL)       // EINVAL

    /// strerror(3) text; the helper never calls setlocale, so this is the C locale's English.
    public var description: String {
        guard let text = strerror(rawValue) else { return "error \(rawValue)" }
        return String(cString: text)
    }
}

/// A failed system call: what we were doing and the errno.
public struct SystemError: Error, Sendable, CustomStringConvertible {
    public let operation: String
    public let errno: Errno

    public init(_ operation: String, _ errno: Errno = .current) {
        self.operation = operation
        self.errno = errno
    }

    public var description: String { "\(operation): \(errno)" }
}

/// Retries a call that failed with EINTR. Never use it for close(2): on Linux the descriptor is
/// gone even when close reports EINTR, and retrying could close someone else's.
@inline(__always)
func retryingOnInterrupt<T: BinaryInteger>(_ body: () -> T) -> T {
    while true {
        let result = body()
        if result == -1 && errno == EINTR { continue }
        return result
    }
}
