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
public enum HelperClient {
    public static func run(helper: String, arguments: [String]) throws(SystemError) -> HelperRun {
        try run(helper: helper, arguments: arguments.map { Array($0.utf8) })
    }

    /// Arguments as bytes: names need not be UTF-8 (a `String` would "repair" them).
    public static func run(helper: String, arguments: [[UInt8]]) throws(SystemError) -> HelperRun {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0 else { throw SystemError("socketpair") }
        let ours = FileDescriptor(owning: pair[0])
        let theirs = FileDescriptor(owning: pair[1])
        _ = fcntl(ours.rawValue, F_SETFD, FD_CLOEXEC)
        let errPipe = try makePipe()
        let outPipe = try makePipe()

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, errPipe.write.rawValue, 2)
        posix_spawn_file_actions_adddup2(&actions, outPipe.write.rawValue, 1)
        let argv = [Array(helper.utf8)] + arguments.map { replacingFD(in: $0, with: theirs.rawValue) }
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { bytes in
            let copy = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
            for (index, byte) in bytes.enumerated() { copy[index] = CChar(bitPattern: byte) }
            copy[bytes.count] = 0
            return copy
        } + [nil]
        defer { cArgs.forEach { $0?.deallocate() } }
        var environment: [UnsafeMutablePointer<CChar>?] = [nil]
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, helper, &actions, nil, &cArgs, &environment)
        guard spawned == 0 else { throw SystemError("posix_spawn \(helper)", Errno(rawValue: spawned)) }
        _ = consume theirs
        _ = consume errPipe.write
        _ = consume outPipe.write

        var byte: UInt8 = 0
        var received: Int32 = -1
        _ = bk_recv_fd(ours.rawValue, &byte, &received)
        let stderrBytes = readAll(errPipe.read.rawValue)
        let stdoutBytes = readAll(outPipe.read.rawValue)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exit = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
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


// MARK: - Timed round trips (benchmarks)

/// How a timed round trip starts the helper.
public enum SpawnMethod: Sendable {
    /// `posix_spawn` (glibc: clone with CLONE_VM|CLONE_VFORK, no page-table copy). The cheapest
    /// start, and the one to time. Its `ru_maxrss` is useless for the helper's own footprint:
    /// at exec the kernel records the peak RSS of the memory the child had until then, which
    /// with CLONE_VM is the whole calling process.
    case posixSpawn
    /// `fork` then `execve`. Slower (page tables are copied), but the child's pre-exec peak is
    /// only the caller's anonymous pages, so `ru_maxrss` shows the helper once it is above that
    /// floor (measure the floor with a child that exits right after `fork`).
    case fork
}

/// What one timed round trip produced.
public struct TimedHelperRun: ~Copyable {
    /// The helper's exit status, or 128 + signal number if a signal killed it.
    public let exitStatus: Int32
    /// The descriptor received over the socket, if any (owned: closing it removes the TAP).
    public var tap: FileDescriptor?
    /// Wall time from `socketpair` until `wait4` returned (CLOCK_MONOTONIC).
    public let elapsedNanoseconds: UInt64
    /// The reaped child's resource usage from `wait4`.
    public let resourceUsage: rusage

    /// `ru_maxrss` of the reaped child, in KiB (see `SpawnMethod` for what it includes).
    public var maxResidentKilobytes: Int { Int(resourceUsage.ru_maxrss) }
    /// CPU time the child used, user plus system (the kernel work of its system calls counts as
    /// system time), in nanoseconds. Unlike the wall time, other load on the machine barely moves it.
    public var cpuNanoseconds: UInt64 {
        let user = UInt64(resourceUsage.ru_utime.tv_sec) * 1_000_000_000 + UInt64(resourceUsage.ru_utime.tv_usec) * 1000
        let system = UInt64(resourceUsage.ru_stime.tv_sec) * 1_000_000_000 + UInt64(resourceUsage.ru_stime.tv_usec) * 1000
        return user + system
    }
    /// Minor page faults of the child (after exec: mostly the pages of the binary and its
    /// libraries it touched, and its heap and stack).
    public var minorFaults: Int { Int(resourceUsage.ru_minflt) }
}

/// A helper command line prepared once for many timed round trips, so that the timed part is
/// system calls only. Immutable after `init`; one instance may be used from several threads.
public final class PreparedHelperCommand: @unchecked Sendable {
    let path: UnsafeMutablePointer<CChar>
    /// argv without the terminating NULL; the slot `fdSlot` is filled per call.
    let argv: [UnsafeMutablePointer<CChar>?]
    let fdSlot: Int?
    let fdPrefix: [CChar]
    let fdSuffix: [CChar]

    /// `{fd}` in one of `arguments` is replaced by the socket's descriptor number in the child.
    public init(helper: String, arguments: [String]) {
        path = strdup(helper)!
        var slot: Int?
        var prefix: [CChar] = []
        var suffix: [CChar] = []
        var parts: [UnsafeMutablePointer<CChar>?] = [strdup(helper)]
        for argument in arguments {
            if slot == nil, let range = argument.firstRange(of: "{fd}") {
                slot = parts.count
                prefix = argument[..<range.lowerBound].utf8.map { CChar(bitPattern: $0) }
                suffix = argument[range.upperBound...].utf8.map { CChar(bitPattern: $0) }
                parts.append(nil)
            } else {
                parts.append(strdup(argument))
            }
        }
        argv = parts
        fdSlot = slot
        fdPrefix = prefix
        fdSuffix = suffix
    }

    deinit {
        free(path)
        for (index, part) in argv.enumerated() where index != fdSlot { free(part) }
    }
}

extension HelperClient {
    /// One round trip the way QEMU makes it, timed: `socketpair(AF_UNIX, SOCK_STREAM)`, the
    /// helper started with `--fd=N` and QEMU's inherited stdin/stdout/stderr (nothing captured),
    /// one byte plus one SCM_RIGHTS descriptor received, the helper reaped with `wait4`.
    /// Every descriptor is created close-on-exec and only the helper's socket end is made
    /// inheritable in the child, so concurrent calls from several threads do not leak sockets
    /// or TAPs into each other's helpers. The environment passed is empty.
    public static func timedRun(_ command: PreparedHelperCommand,
                                method: SpawnMethod = .posixSpawn) throws(SystemError) -> TimedHelperRun {
        var start = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw SystemError("socketpair")
        }
        let ours = FileDescriptor(owning: pair[0])
        let theirs = FileDescriptor(owning: pair[1])

        // "--fd=N": prefix, decimal number, suffix, NUL (at most 11 digits for an Int32).
        var fdArgument = [CChar](repeating: 0, count: command.fdPrefix.count + command.fdSuffix.count + 16)
        var position = 0
        for c in command.fdPrefix { fdArgument[position] = c; position += 1 }
        var digits: [CChar] = []
        var value = theirs.rawValue
        repeat { digits.append(CChar(48 + value % 10)); value /= 10 } while value > 0
        for c in digits.reversed() { fdArgument[position] = c; position += 1 }
        for c in command.fdSuffix { fdArgument[position] = c; position += 1 }

        var pid: pid_t = -1
        let spawnError: Int32 = fdArgument.withUnsafeMutableBufferPointer { fdText in
            var argv = command.argv
            if let slot = command.fdSlot { argv[slot] = fdText.baseAddress }
            argv.append(nil)
            var environment: [UnsafeMutablePointer<CChar>?] = [nil]
            switch method {
            case .posixSpawn:
                var actions = posix_spawn_file_actions_t()
                posix_spawn_file_actions_init(&actions)
                defer { posix_spawn_file_actions_destroy(&actions) }
                // dup2 onto itself clears FD_CLOEXEC in the child only (POSIX 2017, glibc >= 2.29).
                posix_spawn_file_actions_adddup2(&actions, theirs.rawValue, theirs.rawValue)
                return posix_spawn(&pid, command.path, &actions, nil, &argv, &environment)
            case .fork:
                // Everything the child touches is prepared here: after fork it calls only
                // async-signal-safe functions (fcntl, execve, _exit), so this is safe even while
                // other threads run.
                let socket = theirs.rawValue
                let path = UnsafePointer(command.path)
                return argv.withUnsafeMutableBufferPointer { args in
                    environment.withUnsafeMutableBufferPointer { env in
                        guard let argvPointer = args.baseAddress, let envPointer = env.baseAddress else { return EINVAL }
                        let child = Glibc.fork()
                        if child == 0 {
                            _ = fcntl(socket, F_SETFD, 0)
                            execve(path, argvPointer, envPointer)
                            _exit(127)
                        }
                        if child < 0 { return errno }
                        pid = child
                        return 0
                    }
                }
            }
        }
        guard spawnError == 0 else { throw SystemError("spawning \(String(cString: command.path))", Errno(rawValue: spawnError)) }
        _ = consume theirs

        var byte: UInt8 = 0
        var received: Int32 = -1
        _ = bk_recv_fd(ours.rawValue, &byte, &received)
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        _ = consume ours
        var end = timespec()
        clock_gettime(CLOCK_MONOTONIC, &end)
        let elapsed = UInt64((end.tv_sec - start.tv_sec) * 1_000_000_000 + (end.tv_nsec - start.tv_nsec))
        let exit = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        return TimedHelperRun(exitStatus: exit, tap: received >= 0 ? FileDescriptor(owning: received) : nil,
                              elapsedNanoseconds: elapsed, resourceUsage: usage)
    }
}
