// bridgekeeper-helper: a drop-in replacement for qemu-bridge-helper.
// The whole privileged run, in order. Every failure prints one line on stderr and exits 1;
// the only exit 0 is the last line, after the TAP descriptor was sent.
import BridgeHelper
import BridgeSystem
import CHelperEntry
import Glibc

// 0. Before the Swift runtime started, CHelperEntry emptied the environment (the runtime reads
//    SWIFT_* variables during start-up) and saved argv. A build without that hook stops here.
guard bk_entry_ran() == 1 else { exit(1) }

// 1. Take nothing from the caller's process state: signals, environment, cwd, fds 0-2.
ProcessHygiene.resetSignals()
ProcessHygiene.clearEnvironment()
guard ProcessHygiene.ensureStandardDescriptors(), ProcessHygiene.neutraliseFilesystemContext() else { exit(1) }

// 2. Capture who called us before anything changes.
let caller = Credentials.current()

// 3. Parse argv as bytes (never as String: no Unicode repair, no normalisation).
let argv: [[UInt8]] = (0..<Int(bk_entry_argc())).map { index in
    guard let pointer = bk_entry_argv()?[index] else { return [] }
    return Array(UnsafeBufferPointer(start: UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self),
                                     count: strlen(pointer)))
}
let parsed: HelperArguments
switch HelperCommandLine.parse(argv) {
case .failure(let error):
    Diagnostics.fail(Helper.message(for: error))
case .success(.help):
    Diagnostics.printAndExit(HelperCommandLine.helpText)
case .success(.version):
    Diagnostics.printAndExit(HelperCommandLine.versionText)
case .success(.attach(let command)):
    parsed = command
}

// 4. Keep only the caller's socket among inherited descriptors, and never as fd 0-2 (where a
//    message could reach the peer); make room for the ACL walk and for a 1 MiB ACL in memory.
guard let socket = ProcessHygiene.moveAboveStandardDescriptors(parsed.socket) else {
    Diagnostics.fail("--fd=\(parsed.socket): cannot move the socket above the standard descriptors")
}
let arguments = parsed.using(socket: socket)
ProcessHygiene.closeInheritedDescriptors(keeping: arguments.socket)
ProcessHygiene.raiseDescriptorLimit()
if let problem = ProcessHygiene.ensureMemoryLimits() { Diagnostics.fail(problem) }

// 5. Validate, open /dev/net/tun, drop privileges, read the ACL, decide, create and attach the
//    TAP, drop the last capability, send the descriptor (BridgeHelper.Helper.attach).
switch Helper.attach(arguments, platform: LinuxPlatform(caller: caller)) {
case .failure(let failure):
    Diagnostics.fail(failure.message)
case .success:
    exit(0)
}
