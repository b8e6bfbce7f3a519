// The per-user include pattern at scale (issue 7, item 8): /etc/qemu/bridge.conf includes one
// file per user, each readable only by its user's group, and the caller can read exactly one.
// scripts/bench.sh builds that tree in its sandbox (a private mount namespace over /etc/qemu);
// this mode checks the tree is what it claims, then times both helpers on it, interleaved.
import BridgeSystem
import CBridgeShims
import Glibc

/// The ratio ours/stock this case must reach (issue 7: at most 0.5x stock, never slower).
let perUserIncludesTarget = 0.50

/// What the caller sees of the include tree: how many includes the top-level file names and
/// which of them the caller can open.
struct IncludeTree {
    let includes: Int
    let readable: [String]

    static func inspect(_ path: String) -> IncludeTree? {
        guard let text = readFile(path) else { return nil }
        var count = 0
        var readable: [String] = []
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ", omittingEmptySubsequences: true)
            guard words.count == 2, words[0] == "include" else { continue }
            count += 1
            let fd = bk_open(String(words[1]), O_RDONLY | O_CLOEXEC)
            if fd >= 0 {
                close(fd)
                readable.append(String(words[1]))
            }
        }
        return IncludeTree(includes: count, readable: readable)
    }
}

func runPerUserIncludes(_ options: Options) -> Int32 {
    guard let oursPath = options.ours, let stockPath = options.stock else { fail("--ours and --stock are required\n\(usage)") }
    // Every TAP of a series is held until the series ends, and a bridge holds 1023 ports.
    guard options.includeCalls <= 500 else { fail("--include-calls: at most 500 (both helpers' TAPs of a series are held on one bridge)") }
    let aclPath = "/etc/qemu/bridge.conf"
    guard let tree = IncludeTree.inspect(aclPath) else { fail("cannot read \(aclPath) as uid \(getuid()): \(Errno.current)") }
    guard tree.includes > 0, tree.readable.count == 1 else {
        fail("\(aclPath): expected includes of which the caller can read exactly one, got \(tree.includes) include(s), \(tree.readable.count) readable")
    }
    raiseDescriptorLimit()
    let ours = Subject(label: "bridgekeeper", path: oursPath, bridge: options.bridge, refusedBridge: options.refusedBridge)
    let stock = Subject(label: "stock", path: stockPath, bridge: options.bridge, refusedBridge: options.refusedBridge)
    let subjects = [ours, stock]

    say("per-user includes: \(aclPath) has \(tree.includes) 'include' lines; the caller (uid \(getuid()), groups \(groupList())) can read exactly one, \(tree.readable[0]), which allows \(options.bridge)")
    say("  the same QEMU-style round trip (--br=\(options.bridge)); \(options.rounds) series x \(options.includeCalls) calls per helper, interleaved call by call, TAPs held until the series ends")
    let machine = MachineWatch()

    if options.warmup > 0 {
        _ = sequentialSeries(subjects, floor: nil, calls: options.warmup, bridge: options.bridge, pause: options.pause, record: false)
    }
    for subject in subjects where !subject.failures.isEmpty {
        say("FAIL: \(subject.label) fails during warm-up with \(tree.includes) includes: \(subject.failures[0])")
        return 1
    }
    for round in 0..<options.rounds {
        let order = round % 2 == 0 ? [ours, stock] : [stock, ours]
        _ = sequentialSeries(order, floor: nil, calls: options.includeCalls, bridge: options.bridge, pause: options.pause, record: true)
    }

    let width = 44
    say(pad("round trip with \(tree.includes) per-user includes, ms", width, left: true) + pad("calls", 6)
        + ["p50", "p90", "p99", "mean", "min", "max"].map { pad($0, 9) }.joined())
    for subject in subjects {
        let label = subject === stock ? "qemu-bridge-helper (stock, setuid)" : "bridgekeeper-helper (setuid)"
        guard let s = Stats(subject.sequential) else { say(pad(label, width, left: true) + "   (no samples)"); continue }
        say(pad(label, width, left: true) + pad(String(s.count), 6) + [s.p50, s.p90, s.p99, s.mean, s.min, s.max].map { pad(ms($0), 9) }.joined())
    }
    say("  CPU time (user+sys) p50, ms: bridgekeeper \(ms(Stats(ours.cpu)?.p50 ?? .nan)); stock \(ms(Stats(stock.cpu)?.p50 ?? .nan))")

    var exitStatus: Int32 = 0
    for subject in subjects where !subject.failures.isEmpty {
        say("FAIL: \(subject.label): \(subject.failures.count) failed call(s) or check(s); first: \(subject.failures[0])")
        exitStatus = 1
    }
    guard let o = Stats(ours.sequential), let s = Stats(stock.sequential) else { say("FAIL: no samples"); return 1 }
    let p50Ratio = o.p50 / s.p50
    let cpuRatio = Stats(ours.cpu).flatMap { oc in Stats(stock.cpu).map { oc.p50 / $0.p50 } } ?? .nan
    say("per-user includes, ratio ours/stock: p50 \(fixed(p50Ratio, 2))   mean per call \(fixed(o.mean / s.mean, 2))   CPU time p50 \(fixed(cpuRatio, 2))   (target <= \(fixed(perUserIncludesTarget, 2)), must be <= 1.00)")
    say(machine.summary())
    if let out = options.stockSamplesOut {
        // The 10,000 user= rules case (--user-rules) compares ours against these, from this run.
        let text = stock.sequential.map { String($0) }.joined(separator: "\n") + "\n"
        guard writeFile(out, text) else { say("FAIL: cannot write \(out): \(Errno.current)"); return 1 }
    }
    if p50Ratio <= perUserIncludesTarget {
        say("verdict (per-user includes): target met")
    } else if p50Ratio <= 1.00 {
        say("verdict (per-user includes): not slower than stock, target \(fixed(perUserIncludesTarget, 2)) not met")
    } else {
        say("verdict (per-user includes): FAIL, slower than stock at p50")
        if exitStatus == 0 { exitStatus = 2 }
    }
    return exitStatus
}

/// The caller's supplementary groups, for the header ("none" if it has none).
func groupList() -> String {
    var groups = [gid_t](repeating: 0, count: 256)
    let count = getgroups(Int32(groups.count), &groups)
    guard count > 0 else { return "none" }
    return groups.prefix(Int(count)).map { String($0) }.joined(separator: ",")
}

/// The ratio ours (10,000 `user=` rules) / stock (10,000 per-user includes) must reach (issue 10).
let userRulesTarget = 0.10

/// Issue 10's large-site policy: bridge.conf has one `allow br-uNNNNN user=uNNNNN` line per user
/// instead of one include per user, and the name service (a private /etc/passwd of as many users)
/// resolves the caller's name. Only ours is timed here; stock's samples of the include pattern
/// come from the --per-user-includes run just before (--stock-samples), on the same machine.
func runUserRules(_ options: Options) -> Int32 {
    guard let oursPath = options.ours, let samplesPath = options.stockSamples else {
        fail("--ours and --stock-samples are required\n\(usage)")
    }
    guard options.includeCalls <= 500 else { fail("--include-calls: at most 500 (a series' TAPs are held on one bridge)") }
    guard let text = readFile(samplesPath) else { fail("cannot read \(samplesPath): \(Errno.current)") }
    let stockSamples = text.split(separator: "\n").compactMap { UInt64($0) }
    guard let s = Stats(stockSamples) else { fail("\(samplesPath): no samples") }
    let aclPath = "/etc/qemu/bridge.conf"
    guard let acl = readFile(aclPath) else { fail("cannot read \(aclPath) as uid \(getuid()): \(Errno.current)") }
    let rules = acl.split(separator: "\n").filter { $0.hasPrefix("allow ") }.count
    raiseDescriptorLimit()
    let ours = Subject(label: "bridgekeeper", path: oursPath, bridge: options.bridge, refusedBridge: options.refusedBridge)
    say("user= rules: \(aclPath) has \(rules) 'allow br-uNNNNN user=uNNNNN' lines; the caller (uid \(getuid())) is the user of \(options.bridge)")
    say("  \(options.rounds) series x \(options.includeCalls) calls, ours only; stock's samples: its \(stockSamples.count) round trips with the per-user includes above")
    let machine = MachineWatch()
    if options.warmup > 0 {
        _ = sequentialSeries([ours], floor: nil, calls: options.warmup, bridge: options.bridge, pause: options.pause, record: false)
    }
    if !ours.failures.isEmpty {
        say("FAIL: bridgekeeper fails during warm-up with \(rules) user= rules: \(ours.failures[0])")
        return 1
    }
    for _ in 0..<options.rounds {
        _ = sequentialSeries([ours], floor: nil, calls: options.includeCalls, bridge: options.bridge, pause: options.pause, record: true)
    }
    let width = 44
    say(pad("round trip, ms", width, left: true) + pad("calls", 6) + ["p50", "p90", "p99", "mean", "min", "max"].map { pad($0, 9) }.joined())
    guard let o = Stats(ours.sequential) else { say("FAIL: no samples"); return 1 }
    say(pad("bridgekeeper-helper, \(rules) user= rules", width, left: true) + pad(String(o.count), 6)
        + [o.p50, o.p90, o.p99, o.mean, o.min, o.max].map { pad(ms($0), 9) }.joined())
    say(pad("stock, \(rules) per-user includes", width, left: true) + pad(String(s.count), 6)
        + [s.p50, s.p90, s.p99, s.mean, s.min, s.max].map { pad(ms($0), 9) }.joined())
    say("  CPU time (user+sys) p50, ms: bridgekeeper \(ms(Stats(ours.cpu)?.p50 ?? .nan))")
    var exitStatus: Int32 = 0
    if !ours.failures.isEmpty {
        say("FAIL: bridgekeeper: \(ours.failures.count) failed call(s) or check(s); first: \(ours.failures[0])")
        exitStatus = 1
    }
    let ratio = o.p50 / s.p50
    say("user= rules, ratio ours (user= rules) / stock (includes): p50 \(fixed(ratio, 3))   mean \(fixed(o.mean / s.mean, 3))   (target <= \(fixed(userRulesTarget, 2)))")
    say(machine.summary())
    if ratio <= userRulesTarget {
        say("verdict (user= rules): target met")
    } else {
        say("verdict (user= rules): target \(fixed(userRulesTarget, 2)) not met")
        if exitStatus == 0 { exitStatus = 2 }
    }
    return exitStatus
}
