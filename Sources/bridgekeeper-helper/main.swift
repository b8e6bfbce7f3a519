// bridgekeeper-helper: a drop-in replacement for qemu-bridge-helper.
// The whole privileged run, in order. A refusal prints one line on stderr (rendered from a typed
// HelperFailure in BridgeHelper/Messages.swift) and exits 1. Two exits print nothing: a build
// without the pre-init hook, and a socket on fd 0-2 that could be neither moved nor covered (a
// message would reach the client's socket). The only exit 0 is after the TAP descriptor was sent.
import BridgeHelper
import BridgeSystem
import CHelperEntry
import HelperArguments
import Glibc

// 0. Before the Swift runtime started, CHelperEntry emptied the environment (the runtime reads
//    SWIFT_* variables during start-up) and saved argv. A build without that hook stops here.
guard bk_entry_ran() == 1 else { exit(1) }

// 1. Take nothing from the caller's process state: signals, cwd, umask, closed fds 0-2.
ProcessHygiene.resetSignals()
guard ProcessHygiene.ensureStandardDescriptors(), ProcessHygiene.neutraliseFilesystemContext() else { exit(1) }

// 2. Capture who called us before anything changes.
let caller = Credentials.current()

// 3. Parse argv as bytes (never as String: no Unicode repair, no normalisation). Parsing prints
//    nothing; what it found is acted on after step 4.
let argv: [[UInt8]] = (0..<Int(bk_entry_argc())).map { index in
    guard let pointer = bk_entry_argv()?[index] else { return [] }
    return Array(UnsafeRawBufferPointer(start: pointer, count: strlen(pointer)))
}
let command = HelperCommandLine.parse(argv)

// 4. Nothing may reach the client's socket, so before anything is printed: the named socket
//    leaves fds 0-2 and anything else there that looks like a socketpair end is covered with
//    /dev/null. A higher descriptor limit first, so that the move works under `ulimit -n 3`.
ProcessHygiene.raiseDescriptorLimit()
let namedSocket: Int32? = if case .success(.attach(let parsed)) = command { parsed.socket } else { nil }
let movedSocket: Int32?
switch ProcessHygiene.keepClientSocketsOffStandardDescriptors(named: namedSocket) {
case .success(let moved): movedSocket = moved
case .failure(let error): Diagnostics.fail(.socketNotMovable(fd: error.descriptor))
}

let request: HelperArguments
switch command {
case .failure(let error):
    Diagnostics.fail(.arguments(error))
case .success(.help):
    Diagnostics.printAndExit(HelperCommandLine.helpText)
case .success(.version):
    Diagnostics.printAndExit(HelperCommandLine.versionText)
case .success(.attach(let parsed)):
    request = movedSocket.map { parsed.using(socket: $0) } ?? parsed
}

// 5. Keep only the caller's socket among inherited descriptors; make sure the memory limits
//    leave room for the ACL walk.
ProcessHygiene.closeInheritedDescriptors(keeping: request.socket)
if let shortfall = ProcessHygiene.ensureMemoryLimits() { Diagnostics.fail(.memoryLimit(MemoryLimitProblem(shortfall))) }

// 6. Validate, open /dev/net/tun, drop privileges, read the ACL, resolve the bridge and decide on
//    all its names, create and attach the TAP, drop the last capability, send the descriptor.
switch Helper.attach(request, platform: LinuxPlatform(caller: caller)) {
case .refused(let failure):
    Diagnostics.fail(failure)
case .attached:
    exit(0)
}
