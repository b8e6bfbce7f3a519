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
// - The timed path is plain system calls (timedRun in TimedRun.swift): socketpair .. wait4. Next to
//   the wall time, wait4's CPU time (user + system) is reported: it hardly moves with other load.
// - No Foundation: it would add startup work and anonymous memory, and that memory is the floor
//   of the peak-RSS measurement (see SpawnMethod.fork).
//
// Files: Options (command line), TimedRun (one timed round trip), Series (the measured series),
// Comparison (the main run, in order) and Report (its tables and verdict), PerUserIncludes (the
// policies at scale: 10,000 includes, 10,000 user= rules), Baseline (bare kernel work), Statistics, Taps and Support.
import Glibc

let options = Options.parse(CommandLine.arguments)
if options.baseline {
    exit(runBaseline(options))
} else if options.policiesAtScale {
    exit(runPoliciesAtScale(options))
} else {
    exit(runComparison(options))
}
