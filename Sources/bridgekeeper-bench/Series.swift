// The measured series: sequential round trips with the TAPs held, refused requests, the
// parallel phase and the peak RSS.
import BridgeClient
import BridgeSystem
import CBridgeShims
import Glibc
import Synchronization

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
    /// A request the ACL refuses: the helper's own cost without the kernel work.
    let refused: Probe
    /// No arguments: the usage line and exit status 1, the start-up cost alone.
    let startup: Probe
    var failures: [String] = []
    /// The policy (`PolicySwitch`) that must be /etc/qemu/bridge.conf for this subject's calls;
    /// nil: whatever is in place.
    var policy: String?

    init(label: String, path: String, bridge: String, refusedBridge: String) {
        self.label = label
        self.path = path
        // QEMU's -netdev bridge: execv(helper, [helper, "--use-vnet", "--fd=N", "--br=BR"]).
        command = PreparedHelperCommand(helper: path, arguments: ["--use-vnet", "--fd={fd}", "--br=\(bridge)"])
        refused = Probe(label: "\(label), refused by the ACL", short: label, expectedExit: 1,
                        command: PreparedHelperCommand(helper: path, arguments: ["--use-vnet", "--fd={fd}", "--br=\(refusedBridge)"]))
        startup = Probe(label: "\(label), no arguments (usage)", short: label, expectedExit: 1,
                        command: PreparedHelperCommand(helper: path, arguments: []))
    }

    func noteFailure(_ text: String) {
        failures.append(text)
        if failures.count <= 5 { progress("\(label): \(text)") }
    }
}

/// A helper invocation that must end with `expectedExit` and no descriptor, timed many times.
final class Probe {
    /// The report's row label, and the name in progress lines.
    let label: String
    let short: String
    let expectedExit: Int32
    let command: PreparedHelperCommand
    var wall: [UInt64] = []
    var cpu: [UInt64] = []

    init(label: String, short: String, expectedExit: Int32, command: PreparedHelperCommand) {
        self.label = label
        self.short = short
        self.expectedExit = expectedExit
        self.command = command
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
        var run = try timedRun(subject.command, method: method)
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
/// floor samples. With `switcher`, each subject's policy is put in place before its call
/// (untimed; a refusal is that subject's failure and the call is skipped).
func sequentialSeries(_ subjects: [Subject], floor: PreparedHelperCommand?, calls: Int, bridge: String,
                      pause: Double, record: Bool, switcher: PolicySwitch? = nil) -> (teardown: Double, floor: [UInt64]) {
    var fds: [Int32] = []
    fds.reserveCapacity(calls * subjects.count)
    var samples = [[UInt64]](repeating: [], count: subjects.count)
    var cpu = [[UInt64]](repeating: [], count: subjects.count)
    var faults = [[UInt64]](repeating: [], count: subjects.count)
    var floorSamples: [UInt64] = []
    for step in 0..<calls {
        let order = step % 2 == 0 ? Array(subjects.indices) : subjects.indices.reversed()
        for index in order {
            if let switcher, let policy = subjects[index].policy, !switcher.use(policy) {
                subjects[index].noteFailure("the policy switch could not put '\(policy)' in place")
                continue
            }
            guard let outcome = roundTrip(subjects[index], method: .posixSpawn) else { continue }
            fds.append(outcome.tap)
            samples[index].append(outcome.wall)
            cpu[index].append(outcome.cpu)
            faults[index].append(UInt64(outcome.faults))
        }
        if let floor {
            // The floor is informational; a failed spawn of /bin/true just leaves a gap in it.
            do { floorSamples.append(try timedRun(floor).elapsedNanoseconds) } catch {}
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

/// Invocations that send no descriptor (refused requests, the start-up probes), interleaved call
/// by call in A B B A order: each must end with its expected exit status and no descriptor. The
/// helpers' stdout and stderr (inherited from ours) point at /dev/null meanwhile, so the report
/// stays readable. A problem is charged to the subject that owns the probe.
func probeSeries(_ probes: [(owner: Subject, probe: Probe)], calls: Int, what: String) {
    let savedStdout = dup(1), savedStderr = dup(2)
    let null = bk_open("/dev/null", O_WRONLY | O_CLOEXEC)
    let redirected = savedStdout >= 0 && savedStderr >= 0 && null >= 0
    if redirected { dup2(null, 1); dup2(null, 2) }
    var problems: [(Subject, String)] = []
    for step in 0..<calls {
        let order = step % 2 == 0 ? probes : probes.reversed()
        for (owner, probe) in order {
            do {
                var run = try timedRun(probe.command)
                if let tap = run.tap.take() {
                    problems.append((owner, "\(probe.label): a descriptor was sent (exit status \(run.exitStatus))"))
                    _ = consume tap
                } else if run.exitStatus != probe.expectedExit {
                    problems.append((owner, "\(probe.label): exit status \(run.exitStatus), expected \(probe.expectedExit)"))
                } else {
                    probe.wall.append(run.elapsedNanoseconds)
                    probe.cpu.append(run.cpuNanoseconds)
                }
            } catch {
                problems.append((owner, "\(probe.label): \(error)"))
            }
        }
    }
    if redirected { dup2(savedStdout, 1); dup2(savedStderr, 2) }
    for fd in [savedStdout, savedStderr, null] where fd >= 0 { close(fd) }
    for (subject, problem) in problems { subject.noteFailure(problem) }
    progress("\(what): \(calls) each, " + probes.map { "\($0.probe.short) p50 \(ms(Stats($0.probe.wall)?.p50 ?? .nan)) ms" }.joined(separator: ", "))
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
                var run = try timedRun(command)
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
            guard let raw else { return nil }
            let work = Unmanaged<ParallelWork>.fromOpaque(raw).takeRetainedValue()
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
