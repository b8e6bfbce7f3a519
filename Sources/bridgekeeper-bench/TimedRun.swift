// Timed QEMU-style round trips: the benchmark's own half of the client. Starting and reaping
// the helper go through BridgeClient's ChildProcess, the package's one spawn primitive.
import BridgeClient
import BridgeSystem
import CBridgeShims
import Glibc

/// How a timed round trip starts the helper.
enum SpawnMethod: Sendable {
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
struct TimedHelperRun: ~Copyable {
    /// The helper's exit status, or 128 + signal number if a signal killed it.
    let exitStatus: Int32
    /// The descriptor received over the socket, if any (owned: closing it removes the TAP).
    var tap: FileDescriptor?
    /// Wall time from `socketpair` until `wait4` returned (CLOCK_MONOTONIC).
    let elapsedNanoseconds: UInt64
    /// The reaped child's resource usage from `wait4`.
    let resourceUsage: rusage

    /// `ru_maxrss` of the reaped child, in KiB (see `SpawnMethod` for what it includes).
    var maxResidentKilobytes: Int { Int(resourceUsage.ru_maxrss) }
    /// CPU time the child used, user plus system (the kernel work of its system calls counts as
    /// system time), in nanoseconds. Unlike the wall time, other load on the machine barely moves it.
    var cpuNanoseconds: UInt64 {
        let user = UInt64(resourceUsage.ru_utime.tv_sec) * 1_000_000_000 + UInt64(resourceUsage.ru_utime.tv_usec) * 1000
        let system = UInt64(resourceUsage.ru_stime.tv_sec) * 1_000_000_000 + UInt64(resourceUsage.ru_stime.tv_usec) * 1000
        return user + system
    }
    /// Minor page faults of the child (after exec: mostly the pages of the binary and its
    /// libraries it touched, and its heap and stack).
    var minorFaults: Int { Int(resourceUsage.ru_minflt) }
}

/// A helper command line prepared once for many timed round trips, so that the timed part is
/// system calls only. Immutable after `init`; one instance may be used from several threads.
final class PreparedHelperCommand: Sendable {
    /// argv, the helper's path first; the word at `fdSlot` is a placeholder replaced per call.
    let words: CStringList
    let fdSlot: Int?
    let fdPrefix: [CChar]
    let fdSuffix: [CChar]

    /// `{fd}` in one of `arguments` is replaced by the socket's descriptor number in the child.
    init(helper: String, arguments: [String]) {
        var slot: Int?
        var prefix: [CChar] = []
        var suffix: [CChar] = []
        for (index, argument) in arguments.enumerated() {
            guard slot == nil, let range = argument.firstRange(of: "{fd}") else { continue }
            slot = index + 1
            prefix = argument[..<range.lowerBound].utf8.map { CChar(bitPattern: $0) }
            suffix = argument[range.upperBound...].utf8.map { CChar(bitPattern: $0) }
        }
        words = CStringList(([helper] + arguments).map { Array($0.utf8) })
        fdSlot = slot
        fdPrefix = prefix
        fdSuffix = suffix
    }

    var path: String { String(cString: words.pointers[0]) }
}

/// One round trip the way QEMU makes it, timed: `socketpair(AF_UNIX, SOCK_STREAM)`, the
/// helper started with `--fd=N` and QEMU's inherited stdin/stdout/stderr (nothing captured),
/// one byte plus one SCM_RIGHTS descriptor received, the helper reaped with `wait4`.
/// Every descriptor is created close-on-exec and only the helper's socket end is made
/// inheritable in the child, so concurrent calls from several threads do not leak sockets
/// or TAPs into each other's helpers. The environment passed is empty.
func timedRun(_ command: PreparedHelperCommand, method: SpawnMethod = .posixSpawn) throws(SystemError) -> TimedHelperRun {
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

    let pid = try fdArgument.withUnsafeMutableBufferPointer { (fdText) throws(SystemError) -> pid_t in
        var argv: [UnsafeMutablePointer<CChar>?] = command.words.pointers
        if let slot = command.fdSlot { argv[slot] = fdText.baseAddress }
        return try ChildProcess.spawn(argv: argv, descriptors: [InheritedDescriptor(theirs.rawValue, as: theirs.rawValue)],
                                      forkExec: method == .fork)
    }
    _ = consume theirs

    var byte: UInt8 = 0
    var received: Int32 = -1
    _ = bk_recv_fd(ours.rawValue, &byte, &received)
    let (exit, usage) = ChildProcess.reap(pid)
    _ = consume ours
    var end = timespec()
    clock_gettime(CLOCK_MONOTONIC, &end)
    let elapsed = UInt64((end.tv_sec - start.tv_sec) * 1_000_000_000 + (end.tv_nsec - start.tv_nsec))
    return TimedHelperRun(exitStatus: exit, tap: received >= 0 ? FileDescriptor(owning: received) : nil,
                          elapsedNanoseconds: elapsed, resourceUsage: usage)
}
