// The command line of bridgekeeper-bench.
import Glibc

let usage = """
    usage:
      bridgekeeper-bench --ours HELPER --stock HELPER [options]     (as an unprivileged user)
      bridgekeeper-bench --baseline --out FILE [options]            (as root)
      bridgekeeper-bench --policies-at-scale --ours HELPER --stock HELPER --policy-switch REQ,ACK [options]

    The first form times QEMU-style round trips of both helpers (installed setuid root) and prints
    the comparison. The second form times the bare kernel work a helper does (open /dev/net/tun,
    TUNSETIFF, MTU, MAC, SIOCBRADDIF, IFF_UP) in-process and writes the samples (ns, one a line)
    to FILE, for --baseline-samples. The third form times three policies that scripts/bench.sh
    sets up in its sandbox, five subjects interleaved call by call: the per-user include pattern
    (bridge.conf includes one file per user, the caller can read exactly one of them, its
    group's, which allows the --bridge) for both helpers; one 'allow BRIDGE user=NAME' line per
    user (the caller is the user of --bridge) for ours; and 'allow BRIDGE' for both. Between two
    calls, the subject's policy is put in place by a root process the bench asks through two
    FIFOs (--policy-switch: it writes a name, 'includes', 'users' or 'one', and a line, and
    reads 'ok' back once bridge.conf is that policy).

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
      --kernel-floor HELPER    a third subject in the sequential series and the start-up
                               probes: a helper doing only the kernel calls of the round trip
                               (scripts/bench.sh builds Tests/Bench/bench-floor.c); the report
                               adds ours/floor and stock/floor (target ours/floor <= 1.20)
      --mandated-floor HELPER  a fourth subject, the same way: the kernel calls plus only what
                               every helper with bridgekeeper's requirements must do (dynamic
                               glibc for NSS, the privilege drop, the ACL read, the device
                               resolved and the attachment read back, MTU and MAC;
                               Tests/Bench/bench-floor-mandated.c); the report adds
                               mandated/floor and ours/mandated
      --refused-calls N        round trips per helper that the ACL refuses (no TAP: the
                               helper's own cost without the kernel work; default 200, 0 = skip)
      --refused-bridge NAME    a bridge name the ACL does not allow (default brdenied0)
      --baseline-samples FILE  kernel-work samples written by --baseline, shown in the table
      --startup-calls N        invocations per helper that do no kernel work: both helpers with
                               no arguments (usage, exit 1) and ours with --version
                               (default 200, 0 = skip)
      --include-calls N        with --policies-at-scale: round trips per series and subject
                               (default 50, at most 200)
      --policy-switch REQ,ACK  with --policies-at-scale: the switcher's request and
                               acknowledgement FIFOs
    Exit status: 0 ok; 1 a call failed or a check failed; 2 ours slower than stock at p50.
    (With --policies-at-scale: 2 if ours takes more than 0.50 of stock's time with the
    includes at p50, or if ours' decision time with the user= rules is above 0.10 of
    stock's with the includes.)
    """

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
    var kernelFloor: String?
    var mandatedFloor: String?
    var refusedCalls = 200
    var refusedBridge = "brdenied0"
    var baselineSamples: String?
    var startupCalls = 200
    var policiesAtScale = false
    var includeCalls = 50
    var policySwitch: (request: String, acknowledge: String)?

    static func parse(_ arguments: [String]) -> Options {
        var options = Options()
        var index = 1
        func value() -> String {
            index += 1
            guard index < arguments.count else { fail("\(arguments[index - 1]) needs a value; --help lists the options") }
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
            case "--kernel-floor": options.kernelFloor = value()
            case "--mandated-floor": options.mandatedFloor = value()
            case "--refused-calls": options.refusedCalls = number(value(), minimum: 0)
            case "--refused-bridge": options.refusedBridge = value()
            case "--baseline-samples": options.baselineSamples = value()
            case "--startup-calls": options.startupCalls = number(value(), minimum: 0)
            case "--policies-at-scale": options.policiesAtScale = true
            case "--include-calls": options.includeCalls = number(value())
            case "--policy-switch":
                let paths = value().split(separator: ",", omittingEmptySubsequences: false)
                guard paths.count == 2, !paths[0].isEmpty, !paths[1].isEmpty else { fail("--policy-switch: expected REQ,ACK (two FIFO paths)") }
                options.policySwitch = (String(paths[0]), String(paths[1]))
            case "--help", "-h":
                say(usage)
                exit(0)
            default:
                fail("unknown argument '\(arguments[index])'; --help lists the options")
            }
            index += 1
        }
        if options.parallelTaps > 1023 { fail("--parallel-taps: a Linux bridge holds at most 1023 ports") }
        return options
    }
}
