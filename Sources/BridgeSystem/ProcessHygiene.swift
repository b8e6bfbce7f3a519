import CBridgeShims
import Glibc

/// The first things the helper does, before it looks at its arguments: take nothing from the
/// caller's process state that could change what the helper does or where its output goes.
public enum ProcessHygiene {
    /// Clears the environment. The helper never reads configuration from it, and nothing it runs
    /// later (libc, libcap) may see the caller's LD_*, GCONV_PATH, TZ, LOCPATH, ...
    /// The helper executable already emptied it before the Swift runtime started (CHelperEntry);
    /// this is the second, unconditional line of defence.
    public static func clearEnvironment() {
        bk_clear_environment()
    }

    /// Every signal back to its default action and unblocked, and no interval timer, except
    /// SIGPIPE and SIGXFSZ, which are ignored: a vanished peer or a file-size limit becomes an
    /// error return (EPIPE, EFBIG) that we handle, never a silent death mid-way. Crash signals at their default also keep the Swift runtime's backtracer from looking for a
    /// helper program relative to argv[0] or the cwd.
    public static func resetSignals() {
        let signals = (1...bk_sigrtmax()).filter { $0 != SIGKILL && $0 != SIGSTOP }
        // Setting SIG_IGN discards a signal that is pending (the caller may exec us with signals
        // blocked and pending, or an interval timer armed), so unblocking cannot deliver it.
        for signal in signals { _ = bk_set_signal_disposition(signal, 1) }
        // Interval timers survive execve: disarm all three (SIGALRM, SIGVTALRM, SIGPROF).
        var noTimer = itimerval()
        for timer in [ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF] {
            _ = setitimer(__itimer_which_t(timer.rawValue), &noTimer, nil)
        }
        var empty = sigset_t()
        sigemptyset(&empty)
        _ = sigprocmask(SIG_SETMASK, &empty, nil)
        for signal in signals where signal != SIGPIPE && signal != SIGXFSZ {
            _ = bk_set_signal_disposition(signal, 0)
        }
    }

    /// If the caller's socket is one of 0, 1, 2 (the caller had them closed when it made the
    /// socketpair), moves it above 2 and puts /dev/null in its place, so that a message written
    /// to "stderr" can never reach the peer. Returns the descriptor to use, or nil on failure.
    public static func moveAboveStandardDescriptors(_ fd: Int32) -> Int32? {
        guard fd >= 0, fd <= 2 else { return fd }
        // Not open, or not a socket: leave it, so the socket check refuses it under its own number.
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFSOCK else { return fd }
        let moved = fcntl(fd, F_DUPFD_CLOEXEC, 3)
        guard moved >= 3 else { return nil }
        let null = bk_open("/dev/null", O_RDWR)
        guard null >= 0, dup2(null, fd) == fd else { return nil }
        if null != fd { _ = close(null) }
        return moved
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

    /// Nil if RLIMIT_AS and RLIMIT_DATA allow at least `minimumAddressSpace`, else the message.
    public static func ensureMemoryLimits() -> String? {
        for (resource, name) in [(RLIMIT_AS, "address-space (ulimit -v)"), (RLIMIT_DATA, "data-segment (ulimit -d)")] {
            let which = __rlimit_resource_t(resource.rawValue)
            var limit = rlimit()
            guard getrlimit(which, &limit) == 0 else { continue }
            if limit.rlim_cur >= minimumAddressSpace { continue }
            var wanted = rlimit(rlim_cur: minimumAddressSpace, rlim_max: max(limit.rlim_max, minimumAddressSpace))
            if setrlimit(which, &wanted) == 0 { continue }
            wanted = rlimit(rlim_cur: min(minimumAddressSpace, limit.rlim_max), rlim_max: limit.rlim_max)
            if wanted.rlim_cur >= minimumAddressSpace, setrlimit(which, &wanted) == 0 { continue }
            return "the \(name) limit of \(limit.rlim_cur / 1024) KiB is below the \(minimumAddressSpace / 1024) KiB bridgekeeper-helper needs; raise it"
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
