// The main comparison: what is measured, in which order. Report.swift prints the results.
import BridgeSystem
import Glibc

/// Everything the main comparison measured, for the report.
struct Measurements {
    let ours: Subject
    let stock: Subject
    /// The kernel-call floor (`--kernel-floor`, Tests/Bench/bench-floor.c): the same round trip
    /// with only its kernel calls, timed in the same interleaved series as the two helpers.
    let kernelFloor: Subject?
    /// The mandated floor (`--mandated-floor`, Tests/Bench/bench-floor-mandated.c): the kernel
    /// calls plus only what our requirements make every helper do, in the same series.
    let mandatedFloor: Subject?
    /// `bridgekeeper-helper --version`: start-up, parse and one line of output, no kernel work.
    let version: Probe
    let floors: [Int]
    let floorSamples: [UInt64]
    let teardowns: [Double]
    let machine: MachineWatch
    var floorSubjects: [Subject] { [kernelFloor, mandatedFloor].compactMap { $0 } }
    var subjects: [Subject] { [ours, stock] + floorSubjects }
}

func runComparison(_ options: Options) -> Int32 {
    guard let oursPath = options.ours, let stockPath = options.stock else { fail("--ours and --stock are required; --help lists the options") }
    guard options.calls >= 200 else { fail("--calls must be at least 200") }
    raiseDescriptorLimit()
    let ours = Subject(label: "bridgekeeper", path: oursPath, bridge: options.bridge, refusedBridge: options.refusedBridge)
    let stock = Subject(label: "stock", path: stockPath, bridge: options.bridge, refusedBridge: options.refusedBridge)
    let kernelFloor = options.kernelFloor.map {
        Subject(label: "floor", path: $0, bridge: options.bridge, refusedBridge: options.refusedBridge)
    }
    let mandatedFloor = options.mandatedFloor.map {
        Subject(label: "mandated floor", path: $0, bridge: options.bridge, refusedBridge: options.refusedBridge)
    }
    // The floors join every interleaved series except the parallel phase (ours against stock).
    let floorSubjects = [kernelFloor, mandatedFloor].compactMap { $0 }
    let subjects = [ours, stock] + floorSubjects
    let version = Probe(label: "bridgekeeper --version", short: "bridgekeeper --version", expectedExit: 0,
                        command: PreparedHelperCommand(helper: oursPath, arguments: ["--version"]))

    say("bridgekeeper-bench: QEMU-style round trip = socketpair + posix_spawn(helper --use-vnet --fd=N --br=\(options.bridge)) + recvmsg(1 byte + SCM_RIGHTS) + wait4")
    say("  host: \(hostDescription())")
    say("  ours:  \(describeBinary(oursPath))")
    say("  stock: \(describeBinary(stockPath))")
    if let kernelFloor { say("  floor: \(describeBinary(kernelFloor.path)) (kernel calls only: no ACL, no drop, no checks)") }
    if let mandatedFloor {
        say("  mandated floor: \(describeBinary(mandatedFloor.path)) (the kernel calls plus what every helper meeting our requirements must do)")
    }
    say("  sequential: \(options.rounds) series x \(options.calls) calls per helper, interleaved call by call (A B B A ...), TAPs held until the series ends, pause \(fixed(options.pause, 1)) s after teardown")
    let machine = MachineWatch()
    say("  parallel: \(options.parallelTaps) TAPs on \(options.bridge), \(options.jobs) concurrent round trips, \(options.parallelRounds) run(s) per helper")
    if options.startupCalls > 0 {
        say("  start-up: \(options.startupCalls) invocations per helper that do no kernel work and read no ACL (no arguments: usage on stderr, exit 1; ours also --version, exit 0), interleaved call by call")
    }
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
        let order = round % 2 == 0 ? subjects : subjects.reversed()
        let series = sequentialSeries(order, floor: floorCommand, calls: options.calls, bridge: options.bridge, pause: options.pause, record: true)
        teardowns.append(series.teardown)
        floorSamples += series.floor
    }

    // Refused requests (the ACL does not allow the bridge): everything a helper does except the
    // kernel work and the hand-off. Interleaved call by call; the refusal messages go to /dev/null.
    if options.refusedCalls > 0 {
        probeSeries([(ours, ours.refused), (stock, stock.refused)], calls: options.refusedCalls, what: "refused requests")
        sleepSeconds(options.pause)
    }

    // Start-up: invocations that stop after parsing the command line, so what is left is exec,
    // the loader (if any), runtime start-up, the helpers' entry hardening and one line of output.
    if options.startupCalls > 0 {
        let floorProbe = floorSubjects.map { ($0, $0.startup) }
        probeSeries([(ours, ours.startup), (stock, stock.startup), (ours, version)] + floorProbe, calls: options.startupCalls, what: "start-up")
        sleepSeconds(options.pause)
    }

    // Parallel: N TAPs on one bridge, J at a time, interleaved.
    for round in 0..<options.parallelRounds where options.parallelTaps > 0 {
        let order = round % 2 == 0 ? [ours, stock] : [stock, ours]
        for subject in order { parallelRun(subject, taps: options.parallelTaps, jobs: options.jobs, bridge: options.bridge, pause: options.pause) }
    }

    return report(Measurements(ours: ours, stock: stock, kernelFloor: kernelFloor, mandatedFloor: mandatedFloor, version: version, floors: floors, floorSamples: floorSamples,
                               teardowns: teardowns, machine: machine), options: options)
}
