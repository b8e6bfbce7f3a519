import BridgeACL
import BridgeSystem
import CBridgeShims
import Glibc

/// What one run of a bridge helper produced, seen the way QEMU sees it.
public struct HelperRun: ~Copyable {
    /// The helper's exit status, or 128 + signal number if a signal killed it.
    public let exitStatus: Int32
    /// The descriptor received over the socket, if any (owned: closing it removes the TAP).
    public var tap: FileDescriptor?
    /// Everything the helper wrote to stderr and stdout.
    public let standardError: [UInt8]
    public let standardOutput: [UInt8]
}

/// Runs a helper exactly as QEMU's `-netdev bridge` does: a socketpair, the helper started with
/// `--fd=N` naming its end, one byte plus one SCM_RIGHTS descriptor read back, then the helper
/// reaped. `{fd}` in `arguments` is replaced by the socket's descriptor number in the child.
/// The helper's stdout and stderr are captured; it inherits the caller's stdin and an empty
/// environment (`ChildProcess.spawn`).
public enum HelperClient {
    public static func run(helper: String, arguments: [String]) throws(SystemError) -> HelperRun {
        try run(helper: helper, arguments: arguments.map { Array($0.utf8) })
    }

    /// Arguments as bytes: names need not be UTF-8 (a `String` would "repair" them).
    public static func run(helper: String, arguments: [[UInt8]]) throws(SystemError) -> HelperRun {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw SystemError("socketpair")
        }
        let ours = FileDescriptor(owning: pair[0])
        let theirs = FileDescriptor(owning: pair[1])
        let errPipe = try makePipe()
        let outPipe = try makePipe()

        let argv = CStringList([Array(helper.utf8)] + arguments.map { replacingFD(in: $0, with: theirs.rawValue) })
        let pid = try ChildProcess.spawn(
            argv: argv.pointers,
            descriptors: [InheritedDescriptor(theirs.rawValue, as: theirs.rawValue),
                          InheritedDescriptor(errPipe.write.rawValue, as: 2),
                          InheritedDescriptor(outPipe.write.rawValue, as: 1)])
        withExtendedLifetime(argv) {}  // the C strings must outlive the spawn
        _ = consume theirs
        _ = consume errPipe.write
        _ = consume outPipe.write

        var byte: UInt8 = 0
        var received: Int32 = -1
        _ = bk_recv_fd(ours.rawValue, &byte, &received)
        let stderrBytes = readAll(errPipe.read.rawValue)
        let stdoutBytes = readAll(outPipe.read.rawValue)
        let exit = ChildProcess.reap(pid).exitStatus
        return HelperRun(exitStatus: exit, tap: received >= 0 ? FileDescriptor(owning: received) : nil,
                         standardError: stderrBytes, standardOutput: stdoutBytes)
    }

    /// `{fd}` becomes the descriptor number, at the byte level.
    static func replacingFD(in bytes: [UInt8], with fd: Int32) -> [UInt8] {
        let marker = Array("{fd}".utf8)
        let number = Array(String(fd).utf8)
        var out: [UInt8] = []
        var index = 0
        while index < bytes.count {
            if bytes[index...].starts(with: marker) {
                out += number
                index += marker.count
            } else {
                out.append(bytes[index])
                index += 1
            }
        }
        return out
    }

    struct Pipe: ~Copyable {
        let read: FileDescriptor
        let write: FileDescriptor
    }

    static func makePipe() throws(SystemError) -> Pipe {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw SystemError("pipe") }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        return Pipe(read: FileDescriptor(owning: fds[0]), write: FileDescriptor(owning: fds[1]))
    }

    static func readAll(_ fd: Int32) -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return out }
            out += buffer.prefix(n)
        }
    }
}

/// The properties of a received TAP that the contract fixes, read through the descriptor and
/// the interface ioctls of the current network namespace (plus sysfs for owner and master,
/// which the tests remount for their namespace).
public struct TapFacts: Sendable {
    public var name: String
    public var virtioNetHeader: Bool
    public var noPacketInfo: Bool
    public var isTap: Bool
    public var mtu: Int32
    public var mac: [UInt8]
    public var up: Bool
    public var owner: String
    public var master: String

    public static func inspect(_ tap: borrowing FileDescriptor) throws(SystemError) -> TapFacts {
        var rawName = [CChar](repeating: 0, count: Int(bk_ifnamsiz))
        var flags: UInt32 = 0
        guard bk_tun_get_iff(tap.rawValue, &rawName, &flags) == 0 else { throw SystemError("TUNGETIFF") }
        let nameBytes = rawName.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }
        let control = try FileDescriptor.socket(domain: AF_UNIX, type: Int32(SOCK_DGRAM.rawValue))
        var mtu: Int32 = 0
        var mac = [UInt8](repeating: 0, count: 6)
        var ifFlags: UInt32 = 0
        guard bk_if_get_mtu(control.rawValue, nameBytes, nameBytes.count, &mtu) == 0,
              bk_if_get_hwaddr(control.rawValue, nameBytes, nameBytes.count, &mac) == 0,
              bk_if_get_flags(control.rawValue, nameBytes, nameBytes.count, &ifFlags) == 0 else {
            throw SystemError("inspecting the TAP")
        }
        let name = Escaping.escape(nameBytes)
        let owner = readText("/sys/class/net/\(name)/owner")
        var link = [CChar](repeating: 0, count: 4096)
        let n = readlink("/sys/class/net/\(name)/master", &link, link.count - 1)
        let master = n > 0 ? Escaping.escape(link.prefix(n).map { UInt8(bitPattern: $0) }.split(separator: UInt8(ascii: "/")).last ?? []) : "-"
        let tunFlags = TunFlags(rawValue: flags)
        return TapFacts(name: name, virtioNetHeader: tunFlags.contains(.virtioNetHeader),
                        noPacketInfo: tunFlags.contains(.noPacketInfo), isTap: tunFlags.contains(.tap),
                        mtu: mtu, mac: mac, up: ifFlags & bk_iff_up != 0, owner: owner, master: master)
    }

    /// `key=value` pairs, stable order, for scripts.
    public var fields: String {
        let macText = mac.map { byte in
            let hex = "0123456789abcdef".utf8.map { $0 }
            return String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 15)]], as: UTF8.self)
        }.joined(separator: ":")
        return "tap=\(name) bridge=\(master) vnet_hdr=\(virtioNetHeader ? 1 : 0) no_pi=\(noPacketInfo ? 1 : 0) mtu=\(mtu) mac=\(macText) up=\(up ? 1 : 0) owner=\(owner)"
    }

    static func readText(_ path: String) -> String {
        let fd = bk_open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return "-" }
        let owned = FileDescriptor(owning: fd)
        let bytes = HelperClient.readAll(owned.rawValue)
        return String(decoding: bytes.filter { $0 != 0x0A }, as: UTF8.self)
    }
}
