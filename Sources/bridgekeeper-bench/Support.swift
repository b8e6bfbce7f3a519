// Clocks, machine load, output and file reading, without Foundation (it would add start-up work
// and anonymous memory, and that memory is the floor of the peak-RSS measurement).
import BridgeSystem
import CBridgeShims
import Glibc

func now() -> UInt64 {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
}

/// CPU time of the calling thread (user + system), nanoseconds.
func threadCPU() -> UInt64 {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
}

func loadAverage() -> String {
    (readFile("/proc/loadavg") ?? "?").split(separator: " ").prefix(3).joined(separator: " ")
}

/// Busy CPU time of the whole machine so far (all CPUs, from /proc/stat), nanoseconds.
func machineBusy() -> UInt64 {
    guard let line = (readFile("/proc/stat") ?? "").split(separator: "\n").first, line.hasPrefix("cpu ") else { return 0 }
    let ticks = line.split(separator: " ").dropFirst().compactMap { UInt64($0) }
    guard ticks.count >= 5 else { return 0 }
    let busy = ticks.prefix(8).reduce(0, +) - ticks[3] - ticks[4]   // minus idle and iowait
    return busy * (1_000_000_000 / UInt64(sysconf(Int32(_SC_CLK_TCK))))
}

/// CPU time of this process and its reaped children (the helpers), nanoseconds.
func ownBusy() -> UInt64 {
    var total: UInt64 = 0
    for who in [RUSAGE_SELF, RUSAGE_CHILDREN] {
        var usage = rusage()
        getrusage(__rusage_who_t(who.rawValue), &usage)
        for t in [usage.ru_utime, usage.ru_stime] { total += UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_usec) * 1000 }
    }
    return total
}

/// What else the machine did while the bench ran: load average at the start and the busy CPU
/// time of all processes, so the report can subtract its own and its helpers' share.
struct MachineWatch {
    let cpus = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    let loadAtStart = loadAverage()
    let startWall = now(), startMachine = machineBusy(), startOwn = ownBusy()

    /// The share of all CPUs other processes used since `init` (0...1).
    func otherShare() -> Double {
        let elapsed = Double(now() - startWall)
        let machine = Double(machineBusy()) - Double(startMachine)
        let own = Double(ownBusy()) - Double(startOwn)
        return max(0, machine - own) / (elapsed * Double(cpus))
    }

    /// The report's "machine:" line, plus a warning line when others used the CPUs noticeably.
    func summary() -> String {
        let share = otherShare()
        // Kernel threads doing our TAP teardown count as "other" too, so a quiet machine shows a
        // few percent; well above that, something else was competing for the CPUs.
        return "machine: other processes used \(fixed(share * 100, 0))% of the \(cpus) CPUs during the run; load average \(loadAtStart) at start, \(loadAverage()) at end"
            + (share > 0.15 ? "\nWARNING: the machine was busy with other work; wall-time numbers are inflated and noisy (compare the CPU-time ratio, or rerun when idle)" : "")
    }
}

/// Kernel, CPUs and the caller's ids, for the report's header.
func hostDescription() -> String {
    var uts = utsname()
    uname(&uts)
    let kernel = withUnsafePointer(to: uts.release) { $0.withMemoryRebound(to: CChar.self, capacity: 65) { String(cString: $0) } }
    let cpus = sysconf(Int32(_SC_NPROCESSORS_ONLN))
    let model = (readFile("/proc/cpuinfo") ?? "").split(separator: "\n")
        .first { $0.hasPrefix("model name") }.map { String($0.split(separator: ":", maxSplits: 1).last ?? "").trimmingPrefix(" ") }
        .map(String.init) ?? "?"
    return "Linux \(kernel), \(cpus) CPU(s), \(model); caller uid \(getuid()) gid \(getgid())"
}

func describeBinary(_ path: String) -> String {
    var info = stat()
    guard stat(path, &info) == 0 else { return "\(path): \(Errno.current)" }
    let mode = String(info.st_mode & 0o7777, radix: 8)
    return "\(path) (mode \(mode), owner uid \(info.st_uid), \(info.st_size / 1024) KiB)"
}

/// Many TAP descriptors are held at once (1000 in the parallel phase): the soft limit goes up
/// to the hard one.
func raiseDescriptorLimit() {
    var limit = rlimit()
    if getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 {
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
    }
}

func sleepSeconds(_ seconds: Double) {
    guard seconds > 0 else { return }
    var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
}


/// Unbuffered writes (stdio's stdout/stderr globals are not concurrency-safe in Swift 6).
func emit(_ fd: Int32, _ text: String) {
    var bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeMutableBytes { raw -> Int in
            guard let base = raw.baseAddress else { return 0 }
            return write(fd, base + offset, raw.count - offset)
        }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return }
        offset += n
    }
}

func say(_ line: String) { emit(1, line + "\n") }

/// Progress on stderr, so stdout holds the report only.
func progress(_ line: String) { emit(2, "# " + line + "\n") }

func fail(_ line: String) -> Never {
    emit(2, "bridgekeeper-bench: " + line + "\n")
    exit(1)
}

func readFile(_ path: String) -> String? {
    let fd = bk_open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        bytes += buffer.prefix(n)
    }
    return String(decoding: bytes, as: UTF8.self)
}


/// Writes `text` to `path` (created 0644 or truncated); false on any failure (errno says why).
func writeFile(_ path: String, _ text: String) -> Bool {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    let bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return false }
        offset += n
    }
    return true
}
