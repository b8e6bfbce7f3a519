import BridgeSystem
import CBridgeShims
import Glibc
import Testing

@Suite("HandoffSocket")
struct HandoffSocketTests {
    /// Both ends of a socketpair, as raw numbers (closed by `closeAll`).
    func pair(_ type: Int32 = Int32(SOCK_STREAM.rawValue)) throws -> [Int32] {
        var fds: [Int32] = [-1, -1]
        try #require(socketpair(AF_UNIX, type, 0, &fds) == 0)
        return fds
    }

    func closeAll(_ fds: [Int32]) { for fd in fds { _ = close(fd) } }

    @Test func socketpairEndsPass() throws {
        let stream = try pair(), seqpacket = try pair(Int32(SOCK_SEQPACKET.rawValue))
        defer { closeAll(stream + seqpacket) }
        #expect(HandoffSocket.check(BorrowedDescriptor(stream[0])) == nil)
        #expect(HandoffSocket.check(BorrowedDescriptor(seqpacket[0])) == nil)
        #expect(HandoffSocket.looksLikeClientSocket(BorrowedDescriptor(stream[1])))
    }

    @Test func everythingElseIsNamed() throws {
        let datagram = try pair(Int32(SOCK_DGRAM.rawValue))
        defer { closeAll(datagram) }
        #expect(HandoffSocket.check(BorrowedDescriptor(datagram[0])) == .wrongKind)
        var fds: [Int32] = [-1, -1]
        try #require(pipe(&fds) == 0)
        let read = FileDescriptor(owning: fds[0]), write = FileDescriptor(owning: fds[1])
        #expect(HandoffSocket.check(read.borrowed) == .notSocket)
        #expect(!HandoffSocket.looksLikeClientSocket(write.borrowed))
        let udp = try FileDescriptor.socket(domain: AF_INET, type: Int32(SOCK_DGRAM.rawValue))
        #expect(HandoffSocket.check(udp.borrowed) == .wrongKind)
        let unconnected = try FileDescriptor.socket(domain: AF_UNIX, type: Int32(SOCK_STREAM.rawValue))
        #expect(HandoffSocket.check(unconnected.borrowed) == .notConnected)
        #expect(!HandoffSocket.looksLikeClientSocket(unconnected.borrowed))
        #expect(HandoffSocket.check(BorrowedDescriptor(100_000)) == .notOpen)
    }

    @Test func listeningSocketIsRefused() throws {
        let listener = try FileDescriptor.socket(domain: AF_UNIX, type: Int32(SOCK_STREAM.rawValue))
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        // Abstract name: a NUL first byte, nothing on the filesystem.
        let name = Array("\0bk-test-\(getpid())".utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in name.enumerated() { raw[i] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + name.count)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener.rawValue, $0, length) }
        }
        try #require(bound == 0)
        try #require(listen(listener.rawValue, 1) == 0)
        #expect(HandoffSocket.check(listener.borrowed) == .listening)
        // A client connected to a named socket is not taken for one end of a socketpair.
        let client = try FileDescriptor.socket(domain: AF_UNIX, type: Int32(SOCK_STREAM.rawValue))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client.rawValue, $0, length) }
        }
        try #require(connected == 0)
        #expect(HandoffSocket.check(client.borrowed) == nil)
        #expect(!HandoffSocket.looksLikeClientSocket(client.borrowed))
    }
}

@Suite("User namespace check")
struct UserNamespaceTests {
    /// With CAP_NET_ADMIN effective (root in the initial namespace, as CI runs) the kernel says
    /// "initial"; without it SIOCGSKNS is refused and the answer is "other" (fail closed).
    @Test func answerFollowsTheCapability() {
        let admin = CapabilitySet.current().effective & (1 << 12) != 0
        #expect(UserNamespace.ownerOfCurrentNetworkNamespace() == (admin ? .initial : .other))
    }
}
