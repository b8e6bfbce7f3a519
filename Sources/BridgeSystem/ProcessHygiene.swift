import CBridgeShims
import Glibc

/// The first things the helper does, before it looks at its arguments: take nothing from the
/// caller's process state that could change what the helper does or where its output goes.
public enum ProcessHygiene {
    /// Clears the environment. The helper never reads configuration from it, and nothing it runs
    /// later (libc, libcap) may see the caller's LD_*, GCONV_PATH, TZ, LOCPATH, ...
    public static func clearEnvironment() {
        _ = clearenv()
    }

    /// Every signal back to its default action and unblocked, and no interval timer, except
    /// SIGPIPE and SIGXFSZ, which are ignored: a vanished peer or a file-size limit becomes an
    /// error return (EPIPE, EFBIG) that we handle, never a silent death mid-way. Crash signals at their default also keep the Swift runtime's backtracer from looking for a
    /// helper program relative to argv[0] or the cwd.
    public static func resetSignals() {
        var action = sigaction()
        sigemptyset(&action.sa_mask)
        for signal in 1..<bk_sigrtmax() + 1 where signal != SIGKILL && signal != SIGSTOP {
            action.__sigaction_handler.sa_handler = (signal == SIGPIPE || signal == SIGXFSZ) ? SIG_IGN : SIG_DFL
            _ = sigaction(signal, &action, nil)
        }
        var empty = sigset_t()
        sigemptyset(&empty)
        _ = sigprocmask(SIG_SETMASK, &empty, nil)
        var noTimer = itimerval()
        _ = setitimer(__itimer_which_t(ITIMER_REAL.rawValue), &noTimer, nil)
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
