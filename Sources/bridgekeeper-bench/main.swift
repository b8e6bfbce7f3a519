// bridgekeeper-bench: the QEMU-style round trip (socketpair, spawn, receive the TAP descriptor,
// reap) for bridgekeeper-helper against the stock qemu-bridge-helper, as scripts/bench.sh runs
// it inside its sandbox (private network and mount namespaces). See `usage` below.
//
// Measurement rules:
// - The two helpers are interleaved call by call (A B B A ...) in the sequential series and in
//   the refused-request series, and run by run in the parallel phase, so drift (page cache,
//   CPU frequency, other load, the growing number of bridge ports) hits both alike.
// - In a sequential series every received TAP stays open until the series ends (as with running
//   guests); then all are closed, the bench waits until the kernel has removed them (and the
//   bridge has no ports left), and pauses, so TAP teardown never overlaps the next series.
// - The timed path is plain system calls (HelperClient.timedRun): socketpair .. wait4. Next to
//   the wall time, wait4's CPU time (user + system) is reported: it hardly moves with other load.
// - No Foundation: it would add startup work and anonymous memory, and that memory is the floor
//   of the peak-RSS measurement (see SpawnMethod.fork).
import BridgeClient
import BridgeSystem
import CBridgeShims
import Glibc
import Synchronization

let usage = """
    usage:
      bridgekeeper-bench --ours HELPER --stock HELPER [options]     (as an unprivileged user)
      bridgekeeper-bench --baseline --out FILE [options]            (as root)

    The first form times QEMU-style round trips of both helpers (installed setuid root) and prints
    the comparison. The second form times the bare kernel work a helper does (open /dev/net/tun,
    TUNSETIFF, MTU, MAC, SIOCBRADDIF, IFF_UP) in-process and writes the samples (ns, one a line)
    to FILE, for --baseline-samples.

    options:
      --bridge NAME            bridge named in the ACL (default br0)
      --calls N                round trips per sequential series (default 200, at least 200)
      --rounds N               sequential series per helper, interleaved (default 3)
      --pause SECONDS          pause after the TAPs of a series are gone (default 1.5)
      --parallel-taps N        TAPs in the parallel phase (default 1000; a bridge holds 1023)
      --jobs N                 concurrent round trips in the parallel phase (default 16)
      --parallel-rounds N      parallel runs per helper, interleaved (default 2)
      --rss-runs N             fork+exec runs per helper for the peak RSS (default 20)
      --warmup N               untimed round trips per helper first (default 5)
      --floor PROGRAM          also time spawning PROGRAM (no descriptor), e.g. /bin/true
      --refused-calls N        round trips per helper that the ACL refuses (no TAP: the
                               helper's own cost without the kernel work; default 200, 0 = skip)
      --refused-bridge NAME    a bridge name the ACL does not allow (default brdenied0)
      --baseline-samples FILE  kernel-work samples written by --baseline, shown in the table
    Exit status: 0 ok; 1 a call failed or a check failed; 2 ours slower than stock at p50.
    """

// MARK: - Small utilities (no Foundation)

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

func sleepSeconds(_ seconds: Double) {
    guard seconds > 0 else { return }
    var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
}

func fixed(_ value: Double, _ decimals: Int) -> String {
    guard value.isFinite else { return "-" }
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let scaled = Int((abs(value) * scale).rounded())
    let unit = Int(scale)
    let whole = scaled / unit
    var text = (value < 0 && scaled != 0 ? "-" : "") + String(whole)
    if decimals > 0 {
        let fraction = String(scaled % unit)
        text += "." + String(repeating: "0", count: decimals - fraction.count) + fraction
    }
    return text
}

func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
    let fill = String(repeating: " ", count: max(0, width - text.count))
    return left ? text + fill : fill + text
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

/// Summary statistics of a sample of durations in nanoseconds.
struct Stats {
    let count: Int
    let p50: Double, p90: Double, p99: Double, mean: Double, min: Double, max: Double

    init?(_ samples: [UInt64]) {
        guard !samples.isEmpty else { return nil }
        let sorted = samples.sorted()
        func rank(_ p: Double) -> Double {
            // Nearest rank: the smallest sample with at least p% of the samples at or below it.
            let index = Swift.max(0, Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1)
            return Double(sorted[Swift.min(index, sorted.count - 1)])
        }
        count = sorted.count
        p50 = rank(50); p90 = rank(90); p99 = rank(99)
        mean = Double(sorted.reduce(0, +)) / Double(sorted.count)
        min = Double(sorted.first!); max = Double(sorted.last!)
    }
}

func ms(_ ns: Double) -> String { fixed(ns / 1e6, 3) }

// MARK: - Command line

struct Options {
    var ours: String?
    var stock: String?
    var baseline = false
    var out: String?
    var bridge = "br0"
    var calls = 200
    var rounds = 3
    var pause = 1.5
    var parallelTaps = 1000
    var jobs = 16
    var parallelRounds = 2
    var rssRuns = 20
    var warmup = 5
    var floor: String?
    var refusedCalls = 200
    var refusedBridge = "brdenied0"
    var baselineSamples: String?

    static func parse(_ arguments: [String]) -> Options {
        var options = Options()
        var index = 1
        func value() -> String {
            index += 1
            guard index < arguments.count else { fail("\(arguments[index - 1]) needs a value\n\(usage)") }
            return arguments[index]
        }
        func number(_ text: String, minimum: Int = 1) -> Int {
            guard let n = Int(text), n >= minimum else { fail("'\(text)' is not a whole number >= \(minimum)") }
            return n
        }
        while index < arguments.count {
            switch arguments[index] {
            case "--ours": options.ours = value()
            case "--stock": options.stock = value()
            case "--baseline": options.baseline = true
            case "--out": options.out = value()
            case "--bridge": options.bridge = value()
            case "--calls": options.calls = number(value())
            case "--rounds": options.rounds = number(value())
            case "--pause":
                let text = value()
                guard let seconds = Double(text), seconds >= 0 else { fail("--pause: '\(text)' is not a number of seconds") }
                options.pause = seconds
            case "--parallel-taps": options.parallelTaps = number(value(), minimum: 0)
            case "--jobs": options.jobs = number(value())
            case "--parallel-rounds": options.parallelRounds = number(value(), minimum: 0)
            case "--rss-runs": options.rssRuns = number(value(), minimum: 0)
            case "--warmup": options.warmup = number(value(), minimum: 0)
            case "--floor": options.floor = value()
            case "--refused-calls": options.refusedCalls = number(value(), minimum: 0)
            case "--refused-bridge": options.refusedBridge = value()
            case "--baseline-samples": options.baselineSamples = value()
            case "--help", "-h":
                say(usage)
                exit(0)
            default:
                fail("unknown argument '\(arguments[index])'\n\(usage)")
            }
            index += 1
        }
        if options.parallelTaps > 1023 { fail("--parallel-taps: a Linux bridge holds at most 1023 ports") }
        return options
    }
}

// MARK: - TAP bookkeeping

/// The interface name behind a TAP descriptor (TUNGETIFF, allowed for the holder).
func tapName(_ fd: Int32) -> String? {
    var name = [CChar](repeating: 0, count: Int(bk_ifnamsiz))
    var flags: UInt32 = 0
    guard bk_tun_get_iff(fd, &name, &flags) == 0 else { return nil }
    return String(decoding: name.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// The bridge an interface is a port of ("-" if none), from sysfs (mounted for this namespace).
func masterOf(_ name: String) -> String {
    var link = [CChar](repeating: 0, count: 4096)
    let n = readlink("/sys/class/net/\(name)/master", &link, link.count - 1)
    guard n > 0 else { return "-" }
    let path = String(decoding: link.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return path.split(separator: "/").last.map(String.init) ?? "-"
}

/// How many ports the bridge has now.
func portCount(_ bridge: String) -> Int {
    guard let dir = opendir("/sys/class/net/\(bridge)/brif") else { return -1 }
    defer { closedir(dir) }
    var count = 0
    while let entry = readdir(dir) {
        let name = withUnsafePointer(to: entry.pointee.d_name) {
            $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
        }
        if name != "." && name != ".." { count += 1 }
    }
    return count
}

/// What happened to a batch of held TAPs.
struct Teardown {
    var notOnBridge: [String] = []
    var goneSeconds = 0.0
    var leftOver: [String] = []
}

/// Checks every held TAP is a port of `bridge`, closes them all, and waits (up to 120 s) until
/// the kernel has removed every one of them and the bridge has no port left.
func checkCloseAndWait(_ fds: [Int32], bridge: String) -> Teardown {
    var result = Teardown()
    var names: [String] = []
    for fd in fds {
        guard let name = tapName(fd) else { result.notOnBridge.append("fd \(fd): TUNGETIFF failed"); continue }
        names.append(name)
        let master = masterOf(name)
        if master != bridge { result.notOnBridge.append("\(name) (master \(master))") }
    }
    let start = now()
    for fd in fds { close(fd) }
    let closed = now()
    while true {
        let remaining = names.filter { if_nametoindex($0) != 0 }
        let ports = portCount(bridge)
        if remaining.isEmpty && ports <= 0 { break }
        if Double(now() - closed) / 1e9 > 120 {
            result.leftOver = remaining + (ports > 0 ? ["\(ports) port(s) still on \(bridge)"] : [])
            break
        }
        sleepSeconds(0.01)
    }
    result.goneSeconds = Double(now() - start) / 1e9
    return result
}

// MARK: - One helper under test

final class Subject {
    let label: String
    let path: String
    let command: PreparedHelperCommand
    var sequential: [UInt64] = []
    var cpu: [UInt64] = []
    var faults: [UInt64] = []
    var seriesMedians: [Double] = []
    var parallelRuns: [ParallelResult] = []
    var rssKilobytes: [Int] = []
    let refusedCommand: PreparedHelperCommand
    var refused: [UInt64] = []
    var refusedCPU: [UInt64] = []
    var failures: [String] = []

    init(label: String, path: String, bridge: String, refusedBridge: String) {
        self.label = label
        self.path = path
        // QEMU's -netdev bridge: execv(helper, [helper, "--use-vnet", "--fd=N", "--br=BR"]).
        command = PreparedHelperCommand(helper: path, arguments: ["--use-vnet", "--fd={fd}", "--br=\(bridge)"])
        refusedCommand = PreparedHelperCommand(helper: path, arguments: ["--use-vnet", "--fd={fd}", "--br=\(refusedBridge)"])
    }

    func noteFailure(_ text: String) {
        failures.append(text)
        if failures.count <= 5 { progress("\(label): \(text)") }
    }
}

/// What one round trip left behind.
struct Outcome {
    let tap: Int32
    let wall: UInt64
    let cpu: UInt64
    let faults: Int
    let rss: Int
}

/// One QEMU-style round trip. Returns the TAP descriptor (kept open) and the measurements, or
/// nil after noting why the call failed.
func roundTrip(_ subject: Subject, method: SpawnMethod) -> Outcome? {
    do {
        var run = try HelperClient.timedRun(subject.command, method: method)
        guard let tap = run.tap.take() else {
            subject.noteFailure("exit status \(run.exitStatus), no descriptor received")
            return nil
        }
        let fd = tap.release()
        guard run.exitStatus == 0 else {
            close(fd)
            subject.noteFailure("descriptor received but exit status \(run.exitStatus)")
            return nil
        }
        return Outcome(tap: fd, wall: run.elapsedNanoseconds, cpu: run.cpuNanoseconds,
                       faults: run.minorFaults, rss: run.maxResidentKilobytes)
    } catch {
        subject.noteFailure("\(error)")
        return nil
    }
}

/// One sequential series: `calls` round trips of each subject, interleaved call by call in
/// A B B A order (so drift and the growing number of bridge ports hit both alike), plus one
/// spawn of `floor` per step if given. Every TAP stays open until the series ends; then all are
/// checked, closed and waited for, and the bench pauses. Returns the teardown time and the
/// floor samples.
func sequentialSeries(_ subjects: [Subject], floor: PreparedHelperCommand?, calls: Int, bridge: String,
                      pause: Double, record: Bool) -> (teardown: Double, floor: [UInt64]) {
    var fds: [Int32] = []
    fds.reserveCapacity(calls * subjects.count)
    var samples = [[UInt64]](repeating: [], count: subjects.count)
    var cpu = [[UInt64]](repeating: [], count: subjects.count)
    var faults = [[UInt64]](repeating: [], count: subjects.count)
    var floorSamples: [UInt64] = []
    for step in 0..<calls {
        let order = step % 2 == 0 ? Array(subjects.indices) : subjects.indices.reversed()
        for index in order {
            guard let outcome = roundTrip(subjects[index], method: .posixSpawn) else { continue }
            fds.append(outcome.tap)
            samples[index].append(outcome.wall)
            cpu[index].append(outcome.cpu)
            faults[index].append(UInt64(outcome.faults))
        }
        if let floor {
            // The floor is informational; a failed spawn of /bin/true just leaves a gap in it.
            do { floorSamples.append(try HelperClient.timedRun(floor).elapsedNanoseconds) } catch {}
        }
    }
    let teardown = checkCloseAndWait(fds, bridge: bridge)
    for problem in teardown.notOnBridge { subjects[0].noteFailure("TAP not attached to \(bridge): \(problem)") }
    if !teardown.leftOver.isEmpty { subjects[0].noteFailure("not removed after close: \(teardown.leftOver.prefix(5).joined(separator: ", "))") }
    if record {
        var line: [String] = []
        for (index, subject) in subjects.enumerated() {
            subject.sequential += samples[index]
            subject.cpu += cpu[index]
            subject.faults += faults[index]
            if let stats = Stats(samples[index]) { subject.seriesMedians.append(stats.p50) }
            line.append("\(subject.label) p50 \(ms(Stats(samples[index])?.p50 ?? .nan)) ms")
        }
        progress("series: \(calls) calls each, " + line.joined(separator: ", ") + "; \(fds.count) TAPs removed in \(fixed(teardown.goneSeconds, 2)) s")
    }
    sleepSeconds(pause)
    return (teardown.goneSeconds, floorSamples)
}

/// Round trips the ACL refuses: each must end with exit status 1 and no descriptor. The helpers'
/// stderr (inherited from ours) points at /dev/null meanwhile, so the report stays readable.
func refusedSeries(_ subjects: [Subject], calls: Int) {
    let savedStderr = dup(2)
    let null = bk_open("/dev/null", O_WRONLY | O_CLOEXEC)
    if savedStderr >= 0 && null >= 0 { dup2(null, 2) }
    var problems: [(Subject, String)] = []
    for step in 0..<calls {
        let order = step % 2 == 0 ? subjects : subjects.reversed()
        for subject in order {
            do {
                var run = try HelperClient.timedRun(subject.refusedCommand)
                if let tap = run.tap.take() {
                    problems.append((subject, "refused request: a descriptor was sent (exit status \(run.exitStatus))"))
                    _ = consume tap
                } else if run.exitStatus != 1 {
                    problems.append((subject, "refused request: exit status \(run.exitStatus), expected 1"))
                } else {
                    subject.refused.append(run.elapsedNanoseconds)
                    subject.refusedCPU.append(run.cpuNanoseconds)
                }
            } catch {
                problems.append((subject, "refused request: \(error)"))
            }
        }
    }
    if savedStderr >= 0 && null >= 0 { dup2(savedStderr, 2) }
    if savedStderr >= 0 { close(savedStderr) }
    if null >= 0 { close(null) }
    for (subject, problem) in problems { subject.noteFailure(problem) }
    progress("refused requests: \(calls) each, " + subjects.map { "\($0.label) p50 \(ms(Stats($0.refused)?.p50 ?? .nan)) ms" }.joined(separator: ", "))
}

// MARK: - Parallel phase

struct ParallelResult {
    let taps: Int
    let attached: Int
    let wallSeconds: Double
    let perCall: Stats?
    let teardownSeconds: Double
    let portsWhileHeld: Int
}

/// State shared by the worker threads. Each slot of the buffers is written by exactly one
/// worker (the one that claimed its index); the main thread reads them after pthread_join.
final class ParallelWork: @unchecked Sendable {
    let command: PreparedHelperCommand
    let total: Int
    let next = Atomic<Int>(0)
    let elapsed: UnsafeMutableBufferPointer<UInt64>
    let descriptors: UnsafeMutableBufferPointer<Int32>
    let statuses: UnsafeMutableBufferPointer<Int32>

    init(command: PreparedHelperCommand, total: Int) {
        self.command = command
        self.total = total
        elapsed = .allocate(capacity: total)
        elapsed.initialize(repeating: 0)
        descriptors = .allocate(capacity: total)
        descriptors.initialize(repeating: -1)
        statuses = .allocate(capacity: total)
        statuses.initialize(repeating: -1)
    }

    deinit {
        elapsed.deallocate()
        descriptors.deallocate()
        statuses.deallocate()
    }

    func work() {
        while true {
            let index = next.add(1, ordering: .relaxed).oldValue
            if index >= total { return }
            do {
                var run = try HelperClient.timedRun(command)
                elapsed[index] = run.elapsedNanoseconds
                statuses[index] = run.exitStatus
                if let tap = run.tap.take() { descriptors[index] = tap.release() }
            } catch {
                statuses[index] = 1000 + error.errno.rawValue
            }
        }
    }
}

func parallelRun(_ subject: Subject, taps: Int, jobs: Int, bridge: String, pause: Double) {
    let work = ParallelWork(command: subject.command, total: taps)
    var threads: [pthread_t] = []
    let start = now()
    for _ in 0..<min(jobs, max(taps, 1)) {
        var thread = pthread_t()
        let context = Unmanaged.passRetained(work).toOpaque()
        let created = pthread_create(&thread, nil, { raw in
            let work = Unmanaged<ParallelWork>.fromOpaque(raw!).takeRetainedValue()
            work.work()
            return nil
        }, context)
        guard created == 0 else { fail("pthread_create: \(Errno(rawValue: created))") }
        threads.append(thread)
    }
    for thread in threads { pthread_join(thread, nil) }
    let wall = Double(now() - start) / 1e9

    var fds: [Int32] = []
    for index in 0..<taps {
        let status = work.statuses[index], fd = work.descriptors[index]
        if status == 0 && fd >= 0 {
            fds.append(fd)
        } else {
            if fd >= 0 { close(fd) }
            let why = status >= 1000 ? "spawn failed: \(Errno(rawValue: status - 1000))" : "exit status \(status), descriptor \(fd >= 0 ? "received" : "missing")"
            subject.noteFailure("parallel call \(index): \(why)")
        }
    }
    let ports = portCount(bridge)
    let teardown = checkCloseAndWait(fds, bridge: bridge)
    for problem in teardown.notOnBridge { subject.noteFailure("TAP not attached to \(bridge): \(problem)") }
    if !teardown.leftOver.isEmpty { subject.noteFailure("not removed after close: \(teardown.leftOver.prefix(5).joined(separator: ", "))") }
    let samples = (0..<taps).filter { work.statuses[$0] == 0 }.map { work.elapsed[$0] }
    let result = ParallelResult(taps: taps, attached: fds.count - teardown.notOnBridge.count, wallSeconds: wall,
                                perCall: Stats(samples), teardownSeconds: teardown.goneSeconds, portsWhileHeld: ports)
    subject.parallelRuns.append(result)
    progress("\(subject.label): \(taps) TAPs with \(jobs) in parallel in \(fixed(wall, 2)) s, \(result.attached) attached (\(ports) ports); removed in \(fixed(teardown.goneSeconds, 2)) s")
    sleepSeconds(pause)
}

// MARK: - Peak RSS

/// ru_maxrss of a child that exits right after fork: the floor under every fork-path value.
func forkFloorKilobytes() -> Int {
    let child = fork()
    if child == 0 { _exit(0) }
    guard child > 0 else { return -1 }
    var status: Int32 = 0
    var usage = rusage()
    while wait4(child, &status, 0, &usage) < 0 && errno == EINTR {}
    return Int(usage.ru_maxrss)
}

func measureRSS(_ subjects: [Subject], runs: Int, bridge: String) -> [Int] {
    var floors: [Int] = []
    for _ in 0..<runs {
        floors.append(forkFloorKilobytes())
        for subject in subjects {
            if let got = roundTrip(subject, method: .fork) {
                subject.rssKilobytes.append(got.rss)
                _ = checkCloseAndWait([got.tap], bridge: bridge)
            }
        }
    }
    return floors
}

// MARK: - Bare kernel work (root, in-process)

/// What the helpers do in the kernel for one TAP, without exec, ACL or privilege work:
/// open /dev/net/tun, TUNGETFEATURES, TUNSETIFF tap%d (TAP|NO_PI|VNET_HDR), copy the bridge MTU,
/// MAC first byte 0xfe, SIOCBRADDIF, IFF_UP. Returns the TAP descriptor.
func bareKernelWork(bridge: [UInt8]) -> Int32? {
    let tun = bk_open("/dev/net/tun", O_RDWR | O_CLOEXEC)
    guard tun >= 0 else { return nil }
    var features: UInt32 = 0
    _ = bk_tun_get_features(tun, &features)
    var flags = bk_iff_tap | bk_iff_no_pi
    if features & bk_iff_vnet_hdr != 0 { flags |= bk_iff_vnet_hdr }
    var name = [CChar](repeating: 0, count: Int(bk_ifnamsiz))
    let pattern = "tap%d"
    let sock = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    defer { if sock >= 0 { close(sock) } }
    var mtu: Int32 = 0, index: Int32 = 0, ifFlags: UInt32 = 0
    var mac = [UInt8](repeating: 0, count: 6)
    guard sock >= 0, bk_tun_set_iff(tun, pattern, pattern.utf8.count, flags, &name) == 0 else { close(tun); return nil }
    let tap = name.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }
    guard bk_if_get_mtu(sock, bridge, bridge.count, &mtu) == 0,
          bk_if_set_mtu(sock, tap, tap.count, mtu) == 0,
          bk_if_get_hwaddr(sock, tap, tap.count, &mac) == 0 else { close(tun); return nil }
    mac[0] = 0xFE
    guard bk_if_set_hwaddr(sock, tap, tap.count, mac) == 0,
          bk_if_index(sock, tap, tap.count, &index) == 0,
          bk_bridge_add_port(sock, bridge, bridge.count, index) == 0,
          bk_if_get_flags(sock, tap, tap.count, &ifFlags) == 0,
          bk_if_set_flags(sock, tap, tap.count, ifFlags | bk_iff_up) == 0 else { close(tun); return nil }
    return tun
}

func runBaseline(_ options: Options) -> Int32 {
    guard getuid() == 0 else { fail("--baseline needs root (it creates TAPs in-process)") }
    guard let out = options.out else { fail("--baseline needs --out FILE") }
    let bridge = Array(options.bridge.utf8)
    var all: [UInt64] = []
    var allCPU: [UInt64] = []
    var failed = 0
    for round in 0..<options.rounds {
        var fds: [Int32] = []
        var samples: [UInt64] = []
        for _ in 0..<options.calls {
            let start = now(), startCPU = threadCPU()
            let fd = bareKernelWork(bridge: bridge)
            samples.append(now() - start)
            allCPU.append(threadCPU() - startCPU)
            if let fd { fds.append(fd) } else { failed += 1; progress("kernel work failed: \(Errno.current)") }
        }
        let teardown = checkCloseAndWait(fds, bridge: options.bridge)
        failed += teardown.notOnBridge.count + teardown.leftOver.count
        progress("kernel work, series \(round + 1): p50 \(ms(Stats(samples)?.p50 ?? .nan)) ms; removed in \(fixed(teardown.goneSeconds, 2)) s")
        all += samples
        sleepSeconds(options.pause)
    }
    let text = zip(all, allCPU).map { "\($0) \($1)" }.joined(separator: "\n") + "\n"
    let fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { fail("cannot write \(out): \(Errno.current)") }
    _ = text.utf8CString.withUnsafeBytes { write(fd, $0.baseAddress, $0.count - 1) }
    close(fd)
    return failed == 0 ? 0 : 1
}

// MARK: - Main comparison

func describeBinary(_ path: String) -> String {
    var info = stat()
    guard stat(path, &info) == 0 else { return "\(path): \(Errno.current)" }
    let mode = String(info.st_mode & 0o7777, radix: 8)
    return "\(path) (mode \(mode), owner uid \(info.st_uid), \(info.st_size / 1024) KiB)"
}

func runComparison(_ options: Options) -> Int32 {
    guard let oursPath = options.ours, let stockPath = options.stock else { fail("--ours and --stock are required\n\(usage)") }
    guard options.calls >= 200 else { fail("--calls must be at least 200") }
    // The parallel phase holds 1000 TAP descriptors at once: raise the soft limit to the hard one.
    var limit = rlimit()
    if getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 {
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
    }
    let ours = Subject(label: "bridgekeeper", path: oursPath, bridge: options.bridge, refusedBridge: options.refusedBridge)
    let stock = Subject(label: "stock", path: stockPath, bridge: options.bridge, refusedBridge: options.refusedBridge)
    let subjects = [ours, stock]

    var uts = utsname()
    uname(&uts)
    let kernel = withUnsafePointer(to: uts.release) { $0.withMemoryRebound(to: CChar.self, capacity: 65) { String(cString: $0) } }
    let cpus = sysconf(Int32(_SC_NPROCESSORS_ONLN))
    let model = (readFile("/proc/cpuinfo") ?? "").split(separator: "\n")
        .first { $0.hasPrefix("model name") }.map { String($0.split(separator: ":", maxSplits: 1).last ?? "").trimmingPrefix(" ") }
        .map(String.init) ?? "?"

    say("bridgekeeper-bench: QEMU-style round trip = socketpair + posix_spawn(helper --use-vnet --fd=N --br=\(options.bridge)) + recvmsg(1 byte + SCM_RIGHTS) + wait4")
    say("  host: Linux \(kernel), \(cpus) CPU(s), \(model); caller uid \(getuid()) gid \(getgid())")
    say("  ours:  \(describeBinary(oursPath))")
    say("  stock: \(describeBinary(stockPath))")
    say("  sequential: \(options.rounds) series x \(options.calls) calls per helper, interleaved call by call (A B B A ...), TAPs held until the series ends, pause \(fixed(options.pause, 1)) s after teardown")
    let loadAtStart = loadAverage()
    let startWall = now(), startMachine = machineBusy(), startOwn = ownBusy()
    say("  parallel: \(options.parallelTaps) TAPs on \(options.bridge), \(options.jobs) concurrent round trips, \(options.parallelRounds) run(s) per helper")
    say("")

    // Warm-up (page cache, dentries, first-use allocations); not recorded.
    if options.warmup > 0 {
        _ = sequentialSeries(subjects, floor: nil, calls: options.warmup, bridge: options.bridge, pause: options.pause, record: false)
    }
    for subject in subjects where !subject.failures.isEmpty {
        say("FAIL: \(subject.label) fails during warm-up: \(subject.failures[0])")
        return 1
    }

    // Peak RSS first, while the bench's own anonymous memory (the fork floor) is smallest.
    progress("peak RSS: \(options.rssRuns) fork+exec runs per helper")
    let floors = measureRSS(subjects, runs: options.rssRuns, bridge: options.bridge)
    sleepSeconds(options.pause)

    // Sequential series, call by call interleaved.
    var floorSamples: [UInt64] = []
    var teardowns: [Double] = []
    let floorCommand = options.floor.map { PreparedHelperCommand(helper: $0, arguments: ["--use-vnet", "--fd={fd}", "--br=\(options.bridge)"]) }
    for round in 0..<options.rounds {
        let order = round % 2 == 0 ? [ours, stock] : [stock, ours]
        let series = sequentialSeries(order, floor: floorCommand, calls: options.calls, bridge: options.bridge, pause: options.pause, record: true)
        teardowns.append(series.teardown)
        floorSamples += series.floor
    }

    // Refused requests (the ACL does not allow the bridge): everything a helper does except the
    // kernel work and the hand-off. Interleaved call by call; the refusal messages go to /dev/null.
    if options.refusedCalls > 0 {
        refusedSeries([ours, stock], calls: options.refusedCalls)
        sleepSeconds(options.pause)
    }

    // Parallel: N TAPs on one bridge, J at a time, interleaved.
    for round in 0..<options.parallelRounds where options.parallelTaps > 0 {
        let order = round % 2 == 0 ? [ours, stock] : [stock, ours]
        for subject in order { parallelRun(subject, taps: options.parallelTaps, jobs: options.jobs, bridge: options.bridge, pause: options.pause) }
    }

    // Report.
    let loadAtEnd = loadAverage()
    let elapsedAll = Double(now() - startWall)
    let otherShare = max(0, Double(machineBusy() - startMachine) - Double(ownBusy() - startOwn)) / (elapsedAll * Double(cpus))
    let baselineLines = options.baselineSamples.flatMap(readFile).map { $0.split(separator: "\n").map { $0.split(separator: " ") } } ?? []
    let baseline = baselineLines.compactMap { $0.first.flatMap { UInt64($0) } }
    let baselineCPU = baselineLines.compactMap { $0.count > 1 ? UInt64($0[1]) : nil }
    say("sequential round trip (wall), ms     calls      p50      p90      p99     mean      min      max")
    func row(_ label: String, _ stats: Stats?) {
        guard let s = stats else { say(pad(label, 36, left: true) + "   (no samples)"); return }
        say(pad(label, 36, left: true) + pad(String(s.count), 6) + [s.p50, s.p90, s.p99, s.mean, s.min, s.max].map { pad(ms($0), 9) }.joined())
    }
    let oursStats = Stats(ours.sequential), stockStats = Stats(stock.sequential)
    row("bridgekeeper-helper (setuid)", oursStats)
    row("qemu-bridge-helper (stock, setuid)", stockStats)
    if !baseline.isEmpty { row("bare kernel work (root, in-process)", Stats(baseline)) }
    if !floorSamples.isEmpty { row("spawn floor: \(options.floor ?? "") (no fd)", Stats(floorSamples)) }
    if !ours.refused.isEmpty || !stock.refused.isEmpty {
        row("bridgekeeper, refused by the ACL", Stats(ours.refused))
        row("stock, refused by the ACL", Stats(stock.refused))
    }
    say("  per-series p50, ms: bridgekeeper " + ours.seriesMedians.map { ms($0) }.joined(separator: " ")
        + "; stock " + stock.seriesMedians.map { ms($0) }.joined(separator: " "))
    say("  teardown per series (\(2 * options.calls) TAPs: close + kernel removal), s: " + teardowns.map { fixed($0, 2) }.joined(separator: " "))
    say("")
    say("CPU time of the helper (user+sys from wait4), ms      p50      p90     mean   minor faults p50")
    func cpuRow(_ label: String, _ cpu: [UInt64], _ faults: [UInt64]) {
        guard let c = Stats(cpu) else { return }
        let f = Stats(faults).map { String(Int($0.p50)) } ?? "-"
        say(pad(label, 49, left: true) + pad(ms(c.p50), 9) + pad(ms(c.p90), 9) + pad(ms(c.mean), 9) + pad(f, 19))
    }
    cpuRow("bridgekeeper-helper", ours.cpu, ours.faults)
    cpuRow("qemu-bridge-helper (stock)", stock.cpu, stock.faults)
    if !ours.refusedCPU.isEmpty { cpuRow("bridgekeeper, refused by the ACL", ours.refusedCPU, []) }
    if !stock.refusedCPU.isEmpty { cpuRow("stock, refused by the ACL", stock.refusedCPU, []) }
    if !baselineCPU.isEmpty { cpuRow("bare kernel work (thread CPU time)", baselineCPU, []) }
    say("  (CPU time includes the kernel work done in the helper's system calls; other load on the machine barely moves it)")
    say("")

    var parallelRatio: Double?
    if options.parallelTaps > 0 && options.parallelRounds > 0 {
        say("parallel: \(options.parallelTaps) TAPs on \(options.bridge), \(options.jobs) at a time")
        say("                                     total s    TAPs/s  call p50  call p99  attached  ports  removed in s")
        for subject in subjects {
            for run in subject.parallelRuns {
                say(pad(subject.label, 36, left: true) + pad(fixed(run.wallSeconds, 3), 8) + pad(fixed(Double(run.taps) / run.wallSeconds, 1), 10)
                    + pad(ms(run.perCall?.p50 ?? .nan), 10) + pad(ms(run.perCall?.p99 ?? .nan), 10)
                    + pad("\(run.attached)/\(run.taps)", 10) + pad(String(run.portsWhileHeld), 7) + pad(fixed(run.teardownSeconds, 2), 14))
            }
        }
        let oursWall = ours.parallelRuns.map(\.wallSeconds), stockWall = stock.parallelRuns.map(\.wallSeconds)
        if !oursWall.isEmpty && !stockWall.isEmpty {
            parallelRatio = (oursWall.reduce(0, +) / Double(oursWall.count)) / (stockWall.reduce(0, +) / Double(stockWall.count))
        }
        say("")
    }

    let floorMax = floors.max() ?? -1
    say("peak RSS of the helper (ru_maxrss from wait4, fork+exec, \(options.rssRuns) runs each), KiB:")
    for subject in subjects {
        let values = subject.rssKilobytes
        let top = values.max() ?? -1
        let note = top <= floorMax ? "  (not above the fork floor: the helper's own peak is at most this)" : ""
        say("  " + pad(subject.label, 14, left: true) + " max " + pad(String(top), 6) + "  min " + pad(String(values.min() ?? -1), 6) + note)
    }
    say("  " + pad("fork floor", 14, left: true) + " max " + pad(String(floorMax), 6) + "  (a child that exits right after fork: the bench's own anonymous pages)")
    say("")

    var exitStatus: Int32 = 0
    for subject in subjects where !subject.failures.isEmpty {
        say("FAIL: \(subject.label): \(subject.failures.count) failed call(s) or check(s); first: \(subject.failures[0])")
        exitStatus = 1
    }
    guard let o = oursStats, let s = stockStats else { say("FAIL: no samples"); return 1 }
    // Kernel threads doing our TAP teardown count as "other" too, so a quiet machine shows a
    // few percent; well above that, something else was competing for the CPUs.
    let busy = otherShare > 0.15
    let p50Ratio = o.p50 / s.p50
    say("ratios ours/stock: p50 \(fixed(p50Ratio, 2))   p99 \(fixed(o.p99 / s.p99, 2))   mean \(fixed(o.mean / s.mean, 2))"
        + (parallelRatio.map { "   parallel total \(fixed($0, 2))" } ?? ""))
    if let b = Stats(baseline) {
        say("bare kernel work / stock p50: \(fixed(b.p50 / s.p50, 2))   (ours spends \(ms(o.p50 - b.p50)) ms above it, stock \(ms(s.p50 - b.p50)) ms)")
    }
    if let or = Stats(ours.refused), let sr = Stats(stock.refused) {
        say("split of the p50 round trip: bridgekeeper \(ms(or.p50)) ms before the kernel work (start, privilege drop, ACL; refused run) + \(ms(o.p50 - or.p50)) ms TAP work and hand-off; "
            + "stock \(ms(sr.p50)) + \(ms(s.p50 - sr.p50)) ms")
    }
    if let oc = Stats(ours.cpu), let sc = Stats(stock.cpu) {
        say("CPU time ratio ours/stock: p50 \(fixed(oc.p50 / sc.p50, 2))   mean \(fixed(oc.mean / sc.mean, 2))")
    }
    say("machine: other processes used \(fixed(otherShare * 100, 0))% of the \(cpus) CPUs during the run; load average \(loadAtStart) at start, \(loadAtEnd) at end"
        + (busy ? "\nWARNING: the machine was busy with other work; wall-time numbers are inflated and noisy (compare the CPU-time ratio, or rerun when idle)" : ""))
    say("p50 ratio ours/stock = \(fixed(p50Ratio, 2)) (target <= 0.60, must be <= 1.00)")
    if p50Ratio <= 0.60 {
        say("verdict: target met")
    } else if p50Ratio <= 1.00 {
        say("verdict: not slower than stock, target 0.60 not met")
    } else {
        say("verdict: FAIL, slower than stock at p50")
        if exitStatus == 0 { exitStatus = 2 }
    }
    return exitStatus
}

let options = Options.parse(CommandLine.arguments)
exit(options.baseline ? runBaseline(options) : runComparison(options))
