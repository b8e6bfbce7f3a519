import BridgeSystem
import Glibc

/// Owned, NUL-terminated C copies of argument words, made once and freed together. Words are
/// bytes, not `String`s: interface names need not be UTF-8. Immutable after `init`, so one
/// instance may be shared by several threads.
public final class CStringList: @unchecked Sendable {
    /// One pointer per word, in order, without a terminating NULL.
    public let pointers: [UnsafeMutablePointer<CChar>]

    public init(_ words: [[UInt8]]) {
        pointers = words.map { word in
            let copy = UnsafeMutablePointer<CChar>.allocate(capacity: word.count + 1)
            for (index, byte) in word.enumerated() { copy[index] = CChar(bitPattern: byte) }
            copy[word.count] = 0
            return copy
        }
    }

    deinit { pointers.forEach { $0.deallocate() } }
}

/// A descriptor the child receives: the parent's `source` appears as `target` in the child.
/// `source == target` only makes it inheritable (clears close-on-exec in the child alone).
public struct InheritedDescriptor: Sendable {
    public let source: Int32
    public let target: Int32
    public init(_ source: Int32, as target: Int32) {
        self.source = source
        self.target = target
    }
}

/// The package's one way to start and reap a helper, used by `HelperClient.run` (the CLI and
/// the tests) and by the benchmark's timed round trips.
///
/// The child gets exactly the descriptors named in `descriptors` on top of whatever the caller
/// left without close-on-exec, and an empty environment (the helper takes nothing from it, and
/// an empty one keeps runs comparable). Callers create their own descriptors close-on-exec, so
/// concurrent spawns from several threads never leak one helper's socket into another.
public enum ChildProcess {
    /// Starts `argv[0]` with `argv`. `forkExec: false` uses `posix_spawn` (glibc: clone with
    /// CLONE_VM|CLONE_VFORK, no page-table copy: the cheapest start). `forkExec: true` uses
    /// `fork` then `execve`, whose child owns a private copy of the caller's memory until exec:
    /// slower, but the child's `ru_maxrss` then excludes the caller's shared pages.
    public static func spawn(argv: [UnsafeMutablePointer<CChar>?], descriptors: [InheritedDescriptor],
                             forkExec: Bool = false) throws(SystemError) -> pid_t {
        guard let program = argv.first ?? nil else { throw SystemError("spawn without a program", Errno(rawValue: EINVAL)) }
        var arguments = argv
        if arguments.last != nil { arguments.append(nil) }
        var environment: [UnsafeMutablePointer<CChar>?] = [nil]
        var pid: pid_t = -1
        if !forkExec {
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            // dup2 onto itself clears FD_CLOEXEC in the child only (POSIX 2017, glibc >= 2.29).
            for descriptor in descriptors {
                posix_spawn_file_actions_adddup2(&actions, descriptor.source, descriptor.target)
            }
            let result = posix_spawn(&pid, program, &actions, nil, &arguments, &environment)
            guard result == 0 else { throw SystemError("posix_spawn \(String(cString: program))", Errno(rawValue: result)) }
            return pid
        }
        // Everything the child touches is prepared here: after fork it calls only
        // async-signal-safe functions (dup2, fcntl, execve, _exit), so this is safe even while
        // other threads run.
        let result: Int32 = descriptors.withUnsafeBufferPointer { plan in
            arguments.withUnsafeMutableBufferPointer { args in
                environment.withUnsafeMutableBufferPointer { env in
                    guard let argvPointer = args.baseAddress, let envPointer = env.baseAddress else { return EINVAL }
                    let child = Glibc.fork()
                    if child == 0 {
                        for descriptor in plan {
                            let moved = descriptor.source == descriptor.target
                                ? fcntl(descriptor.source, F_SETFD, 0) : dup2(descriptor.source, descriptor.target)
                            if moved < 0 { _exit(127) }
                        }
                        execve(program, argvPointer, envPointer)
                        _exit(127)
                    }
                    if child < 0 { return errno }
                    pid = child
                    return 0
                }
            }
        }
        guard result == 0 else { throw SystemError("fork \(String(cString: program))", Errno(rawValue: result)) }
        return pid
    }

    /// Waits for `pid` (retrying on EINTR) and returns its exit status as `exitStatus(fromWait:)`
    /// decodes it, with the child's resource usage.
    public static func reap(_ pid: pid_t) -> (exitStatus: Int32, usage: rusage) {
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        return (exitStatus(fromWait: status), usage)
    }

    /// A wait status as a shell shows it: the exit code, or 128 + the signal number if a signal
    /// killed the process.
    public static func exitStatus(fromWait status: Int32) -> Int32 {
        let signal = status & 0x7F
        return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
    }
}
