// bridgekeeper-helper: a drop-in replacement for qemu-bridge-helper.
// The whole privileged run, in order. Every failure prints one line on stderr and exits 1;
// the only exit 0 is the last line, after the TAP descriptor was sent.
import BridgeHelper
import BridgeSystem
import Glibc

// 1. Take nothing from the caller's process state: signals, environment, cwd, fds 0-2.
ProcessHygiene.resetSignals()
ProcessHygiene.clearEnvironment()
guard ProcessHygiene.ensureStandardDescriptors(), ProcessHygiene.neutraliseFilesystemContext() else { exit(1) }

// 2. Capture who called us before anything changes.
let caller = Credentials.current()

// 3. Parse argv as bytes (never as String: no Unicode repair, no normalisation).
let argv: [[UInt8]] = (0..<Int(CommandLine.argc)).map { index in
    guard let pointer = CommandLine.unsafeArgv[index] else { return [] }
    return Array(UnsafeBufferPointer(start: UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self),
                                     count: strlen(pointer)))
}
let arguments: HelperArguments
switch HelperCommandLine.parse(argv) {
case .failure(let error):
    Diagnostics.fail(Helper.message(for: error))
case .success(.help):
    Diagnostics.printAndExit(HelperCommandLine.helpText)
case .success(.version):
    Diagnostics.printAndExit(HelperCommandLine.versionText)
case .success(.attach(let parsed)):
    arguments = parsed
}

// 4. Keep only the caller's socket among inherited descriptors; make room for the ACL walk.
ProcessHygiene.closeInheritedDescriptors(keeping: arguments.socket)
ProcessHygiene.raiseDescriptorLimit()

// 5. Validate, open /dev/net/tun, drop privileges, read the ACL, decide, create and attach the
//    TAP, drop the last capability, send the descriptor (BridgeHelper.Helper.attach).
switch Helper.attach(arguments, platform: LinuxPlatform(caller: caller)) {
case .failure(let failure):
    Diagnostics.fail(failure.message)
case .success:
    exit(0)
}
