import CBridgeShims
import Glibc

/// The first things the helper does, before it looks at its arguments: take nothing from the
/// caller's process state that could change what the helper does or where its output goes.
public enum ProcessHygiene {
    /// Every signal back to its default action and unblocked, and no interval timer, except
    /// SIGPIPE and SIGXFSZ, which are ignored: a vanished peer or a file-size limit becomes an
    /// error return (EPIPE, EFBIG) that we handle, never a silent death mid-way. Crash signals at their default also keep the Swift runtime's backtracer from looking for a
    /// helper program relative to argv[0] or the cwd.
    public static func resetSignals() {
        let last = bk_sigrtmax()
        // Setting SIG_IGN discards a pending signal, so unblocking below cannot deliver one the
        // caller left pending across execve. Only a blocked signal can be pending here: execve
        // keeps the mask and the pending set but no handler, and a pending signal that is not
        // blocked is acted on (default action or discarded) on the way back to user space,
        // before the first instruction of this process. So the SIG_IGN pass covers exactly
        // the blocked signals (usually none: QEMU blocks nothing), one rt_sigprocmask read
        // instead of 62 rt_sigaction calls. A signal that arrives after the read is either not
        // blocked (delivered at once, as it would be during a full pass) or blocked (and then
        // in the mask that was read). If the read fails every signal counts as blocked.
        let blocked = bk_blocked_signals()
        var signal: Int32 = 1
        while signal <= last {
            if signal != SIGKILL && signal != SIGSTOP && (blocked >> UInt64(signal - 1)) & 1 == 1 {
                _ = bk_set_signal_disposition(signal, 1)
            }
            signal += 1
        }
        // Interval timers survive execve: disarm all three (SIGALRM, SIGVTALRM, SIGPROF).
        var noTimer = itimerval()
        _ = setitimer(__itimer_which_t(ITIMER_REAL.rawValue), &noTimer, nil)
        _ = setitimer(__itimer_which_t(ITIMER_VIRTUAL.rawValue), &noTimer, nil)
        _ = setitimer(__itimer_which_t(ITIMER_PROF.rawValue), &noTimer, nil)
        var empty = sigset_t()
        sigemptyset(&empty)
        _ = sigprocmask(SIG_SETMASK, &empty, nil)
        // A plain loop, no array of signal numbers: this runs before anything else, every call.
        signal = 1
        while signal <= last {
            if signal != SIGKILL && signal != SIGSTOP {
                _ = bk_set_signal_disposition(signal, signal == SIGPIPE || signal == SIGXFSZ ? 1 : 0)
            }
            signal += 1
        }
    }

    /// Keeps anything printed from reaching the client's socket (threat #3). QEMU started with
    /// stdout or stderr closed makes its socketpair there, so the socket can be fd 1 or 2.
    /// - `named` (the `--fd=` of a command line that parsed), when it is 0-2 and a socket, moves
    ///   above 2 and /dev/null takes its place; the new number is returned.
    /// - Any other of 0-2 that looks like one end of a socketpair (`HandoffSocket.looksLikeClientSocket`)
    ///   is replaced by /dev/null, since a message for it could reach the peer.
    /// Returns `.failure(fd)` when the named socket could not be moved (no free descriptor, e.g.
    /// `ulimit -n 3`); the fd is then closed if /dev/null could not take its place, so that
    /// nothing, not even the refusal, can be written to it.
    public static func keepClientSocketsOffStandardDescriptors(named: Int32?) -> Result<Int32?, SocketPlacementError> {
        var moved: Int32?
        for fd in Int32(0)...2 {
            let borrowed = BorrowedDescriptor(fd)
            if fd == named {
                var info = stat()
                // Not open, or not a socket: leave it, so the socket check refuses it by number.
                guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFSOCK else { continue }
                let copy = fcntl(fd, F_DUPFD_CLOEXEC, 3)
                guard copy >= 3 else {
                    if !replaceWithNull(fd) { _ = close(fd) }
                    return .failure(SocketPlacementError(descriptor: fd))
                }
                moved = copy
                if !replaceWithNull(fd) { _ = close(fd) }
            } else if HandoffSocket.looksLikeClientSocket(borrowed) {
                if !replaceWithNull(fd) { _ = close(fd) }
            }
        }
        return .success(moved)
    }

    /// Points `fd` at /dev/null; false when that was impossible.
    static func replaceWithNull(_ fd: Int32) -> Bool {
        let null = bk_open("/dev/null", O_RDWR)
        guard null >= 0 else { return false }
        defer { if null != fd { _ = close(null) } }
        return null == fd || dup2(null, fd) == fd
    }

    /// Makes sure descriptors 0, 1 and 2 are open (on /dev/null if not), so that nothing the
    /// helper opens later can become "stderr" and receive an error message.
    public static func ensureStandardDescriptors() -> Bool {
        for fd in Int32(0)...2 where fcntl(fd, F_GETFD) == -1 {
            let opened = bk_open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY)
            if opened != fd {
                if opened >= 0 { _ = close(opened) }
                return false
            }
        }
        return true
    }

    /// Closes every inherited descriptor above 2 except `keep` (the caller's socket), so only the
    /// TAP descriptor can ever cross the socket and nothing inherited leaks into what we open.
    public static func closeInheritedDescriptors(keeping keep: Int32) {
        if keep <= 2 {
            _ = bk_close_range(3, UInt32.max)
            return
        }
        if keep > 3 { _ = bk_close_range(3, UInt32(keep - 1)) }
        if keep < Int32.max { _ = bk_close_range(UInt32(keep + 1), UInt32.max) }
    }

    /// `cwd` becomes `/`, so nothing can be resolved against a directory the caller chose, and
    /// the file-creation mask becomes 077 (the helper creates no files; this is belt and braces).
    public static func neutraliseFilesystemContext() -> Bool {
        _ = umask(0o077)
        return chdir("/") == 0
    }

    /// The smallest address-space and data limits the helper runs with (a 1 MiB ACL file and the
    /// static binary fit comfortably). Raised while still privileged when the caller set less;
    /// when that is impossible the helper refuses at once, instead of dying in an allocation.
    public static let minimumAddressSpace: rlim_t = 64 << 20

    /// A limit below the floor: which one, as set, and the floor.
    public struct MemoryLimitShortfall: Error, Equatable, Sendable {
        public let resource: MemoryResource
        public let current: rlim_t
        public let needed: rlim_t
    }

    public enum MemoryResource: Equatable, Sendable {
        case addressSpace
        case dataSegment
    }

    /// Nil if RLIMIT_AS and RLIMIT_DATA allow at least `minimumAddressSpace`, else the shortfall.
    public static func ensureMemoryLimits() -> MemoryLimitShortfall? {
        for (resource, which) in [(MemoryResource.addressSpace, RLIMIT_AS), (.dataSegment, RLIMIT_DATA)] {
            let limitID = __rlimit_resource_t(which.rawValue)
            var limit = rlimit()
            guard getrlimit(limitID, &limit) == 0 else { continue }
            if limit.rlim_cur >= minimumAddressSpace { continue }
            var wanted = rlimit(rlim_cur: minimumAddressSpace, rlim_max: max(limit.rlim_max, minimumAddressSpace))
            if setrlimit(limitID, &wanted) == 0 { continue }
            wanted = rlimit(rlim_cur: min(minimumAddressSpace, limit.rlim_max), rlim_max: limit.rlim_max)
            if wanted.rlim_cur >= minimumAddressSpace, setrlimit(limitID, &wanted) == 0 { continue }
            return MemoryLimitShortfall(resource: resource, current: limit.rlim_cur, needed: minimumAddressSpace)
        }
        return nil
    }

    /// Raises the soft descriptor limit (and the hard one when privileged) to a small floor, so a
    /// caller's `ulimit -n 3` cannot starve the ACL walk. If it cannot be raised, opening files
    /// fails with EMFILE, which the ACL loader treats as a refusal, never as a skip.
    public static func raiseDescriptorLimit(to floor: rlim_t = 64) {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < floor else { return }
        var wanted = rlimit(rlim_cur: floor, rlim_max: max(limit.rlim_max, floor))
        if setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &wanted) != 0 {
            wanted = rlimit(rlim_cur: min(floor, limit.rlim_max), rlim_max: limit.rlim_max)
            _ = setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &wanted)
        }
    }
}

/// The client's socket is on fd 0-2 and could not be moved above them.
public struct SocketPlacementError: Error, Equatable, Sendable {
    public let descriptor: Int32
}
