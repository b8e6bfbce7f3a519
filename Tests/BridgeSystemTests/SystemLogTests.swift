import BridgeSystem
import CBridgeShims
import Glibc
import Testing

/// SystemLog.send: one datagram to a path, never blocking, whatever is (or is not) at the path.
@Suite("SystemLog")
struct SystemLogTests {
    /// A fresh private directory for the test's socket paths.
    func directory() throws -> String {
        var template = Array("/tmp/bk-systemlog.XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer -> Bool in
            guard let base = buffer.baseAddress else { return false }
            return mkdtemp(base) != nil
        }
        try #require(made)
        return String(cString: template)
    }

    /// An AF_UNIX socket of `type` bound at `path` (the caller closes it).
    func bound(_ path: String, type: Int32 = Int32(SOCK_DGRAM.rawValue)) throws -> FileDescriptor {
        let socket = try FileDescriptor.socket(domain: AF_UNIX, type: type)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        try #require(pathBytes.count < MemoryLayout.size(ofValue: address.sun_path))
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in pathBytes.enumerated() { raw[index] = byte }
        }
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socket.rawValue, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        try #require(status == 0)
        return socket
    }

    func receive(_ socket: borrowing FileDescriptor) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { recv(socket.rawValue, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        return count < 0 ? nil : Array(buffer.prefix(count))
    }

    /// Microseconds on the monotonic clock.
    func now() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Int64(time.tv_sec) * 1_000_000 + Int64(time.tv_nsec) / 1000
    }

    @Test func oneDatagramExactly() throws {
        let dir = try directory()
        defer { _ = unlink(dir + "/log"); _ = rmdir(dir) }
        let listener = try bound(dir + "/log")
        let record = Array("<85>bridgekeeper-helper[1]: result=attached".utf8)
        #expect(SystemLog.send(record, to: dir + "/log") == nil)
        #expect(receive(listener) == record)
        #expect(receive(listener) == nil)
    }

    @Test func missingPathIsAnErrorNotAWait() throws {
        let dir = try directory()
        defer { _ = rmdir(dir) }
        #expect(SystemLog.send([0x41], to: dir + "/log") == Errno(rawValue: ENOENT))
    }

    @Test func notASocketIsRefused() throws {
        let dir = try directory()
        defer { _ = unlink(dir + "/log"); _ = rmdir(dir) }
        let file = bk_open(dir + "/log", O_CREAT | O_WRONLY | O_CLOEXEC)
        try #require(file >= 0)
        _ = close(file)
        #expect(SystemLog.send([0x41], to: dir + "/log") == Errno(rawValue: ECONNREFUSED))
        // A FIFO is never opened (that could block): connecting to it is refused too.
        _ = unlink(dir + "/log")
        try #require(mkfifo(dir + "/log", 0o600) == 0)
        #expect(SystemLog.send([0x41], to: dir + "/log") == Errno(rawValue: ECONNREFUSED))
    }

    @Test func streamListenerIsRefused() throws {
        let dir = try directory()
        defer { _ = unlink(dir + "/log"); _ = rmdir(dir) }
        let listener = try bound(dir + "/log", type: Int32(SOCK_STREAM.rawValue))
        try #require(listen(listener.rawValue, 1) == 0)
        #expect(SystemLog.send([0x41], to: dir + "/log") == Errno(rawValue: EPROTOTYPE))
    }

    /// A reader that never reads: once its queue is full every send fails at once with EAGAIN.
    @Test func fullQueueFailsAtOnce() throws {
        let dir = try directory()
        defer { _ = unlink(dir + "/log"); _ = rmdir(dir) }
        let listener = try bound(dir + "/log")
        var sent = 0
        while SystemLog.send(Array(repeating: 0x41, count: 100), to: dir + "/log") == nil, sent < 100_000 { sent += 1 }
        #expect(sent > 0 && sent < 100_000)
        let start = now()
        for _ in 0..<100 {
            #expect(SystemLog.send([0x41], to: dir + "/log") == Errno(rawValue: EAGAIN))
        }
        #expect(now() - start < 1_000_000)
        _ = listener.rawValue
    }

    @Test func tooLongPathIsAnError() {
        #expect(SystemLog.send([0x41], to: "/" + String(repeating: "x", count: 200)) == Errno(rawValue: ENAMETOOLONG))
        #expect(SystemLog.send([0x41], to: "") == Errno(rawValue: ENAMETOOLONG))
    }
}
