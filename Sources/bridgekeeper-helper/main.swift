// bridgekeeper-helper: a drop-in replacement for qemu-bridge-helper.
// The whole privileged run, in order. A refusal prints one line on stderr (rendered from a typed
// HelperFailure in BridgeHelper/Messages.swift) and exits 1. Two exits print nothing: a build
// without the pre-init hook, and a socket on fd 0-2 that could be neither moved nor covered (a
// message would reach the client's socket). The only exit 0 is after the TAP descriptor was sent.
// Audit trail: every request (argv parsed into an attach command) sends exactly one record to
// the system log (BridgeHelper/AuditRecord.swift): after the descriptor was sent, or after the
// refusal's stderr line. A usage error, --help and --version are not requests and send none.
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
case .failure(let error):
    // Only an attach command names a socket, so this is a request and is audited. The socket
    // was closed or covered, so the probe's and the log's sockets cannot be mistaken for it.
    let bridge: [UInt8] = if case .success(.attach(let parsed)) = command { parsed.bridge } else { [] }
    Diagnostics.refuse(.socketNotMovable(fd: error.descriptor),
                       audit: auditContext(caller: caller, bridge: bridge, probe: PrivilegeProbe.detect(caller)))
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
attach(request, caller: caller)

/// Steps 5 (the memory limits) and 6, in a function so the platform is not a global.
func attach(_ request: HelperArguments, caller: Credentials) -> Never {
    if let shortfall = ProcessHygiene.ensureMemoryLimits() {
        // Refused before the platform exists: the privilege probe runs for the record only.
        Diagnostics.refuse(.memoryLimit(MemoryLimitProblem(shortfall)),
                           audit: auditContext(caller: caller, bridge: request.bridge, probe: PrivilegeProbe.detect(caller)))
    }
    // The platform detects the privilege mode, and on the way the network namespace the record
    // names, once the inherited descriptors are gone and the memory limits are in place.
    let platform = LinuxPlatform(caller: caller)
    let audit = auditContext(caller: caller, bridge: request.bridge, probe: platform.probe)

    // 6. Validate, open /dev/net/tun, drop privileges, read the ACL, resolve the bridge and decide
    //    on all its names, create and attach the TAP, drop the last capability, send the
    //    descriptor; then the audit record (the client already has its descriptor).
    switch Helper.attach(request, platform: platform) {
    case .refused(let failure):
        Diagnostics.refuse(failure, audit: audit)
    case .attached(let report):
        Diagnostics.audit(.attached(report), context: audit)
        exit(0)
    }
}

/// The record's facts that the outcome does not carry. The network namespace comes from the
/// privilege probe's SIOCGSKNS descriptor; without CAP_NET_ADMIN (modes none and userns, where
/// the helper acts on nothing) only /proc/self/ns/net can tell, which is informational.
func auditContext(caller: Credentials, bridge: [UInt8], probe: PrivilegeProbe) -> AuditContext {
    AuditContext(pid: getpid(), user: caller.realUser, group: caller.realGroup, bridge: bridge, mode: probe.mode,
                 networkNamespace: probe.networkNamespace ?? NetworkNamespace.inodeFromProcfs())
}
