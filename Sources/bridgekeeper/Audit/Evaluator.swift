import ArgumentParser
import BridgeACL
import BridgeClient
import BridgeHelper
import BridgeSystem
import CBridgeShims
import Glibc

/// Evaluating the ACL as another user, exactly as the helper would read it when that user runs it.
///
/// The design, and why: the only exact way to know what a user can read (mode bits, POSIX ACL
/// entries, every directory on the way, whatever the name service says about their groups) is to
/// ask the kernel with that user's credentials. So the policy is loaded by the helper's own code
/// (`PolicyLoader` with `SafeFileReader`, as `LinuxPlatform.loadPolicy` does) in a process that
/// holds exactly the credentials the setuid helper holds at that point: the user's uid in every
/// slot, their primary gid in every slot, their supplementary groups, and the capability state
/// `LinuxPlatform.dropPrivileges` leaves (the very same call makes it).
///
/// Processes: `bridgekeeper` (which may be multithreaded: Foundation) starts a fresh copy of
/// itself with `posix_spawn` and the hidden subcommand `__evaluate` (spawning, unlike fork, is
/// safe from any thread). That evaluator is single-threaded (checked before each fork) and forks
/// one short-lived worker per identity; a fork of a single-threaded process is as safe as its
/// parent, so the worker can allocate and run Swift code. The worker switches credentials the
/// way the setuid helper starts out (real uid the user's, effective root), lets the helper's
/// privilege drop finish the job, walks the ACL recording every load, writes the record to a
/// pipe and exits. Nothing a worker does can reach the evaluator or the CLI but that record.
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "__evaluate",
        abstract: "Internal: evaluate the ACL as other users (started by explain and matrix).",
        shouldDisplay: false)

    func run() throws {
        let input = readAll(STDIN_FILENO)
        let request: EvaluationRequest
        do { request = try EvaluationRequest.decode(input) } catch {
            fail("__evaluate: malformed request on standard input (this subcommand is internal to explain and matrix)")
        }
        guard getuid() == 0, geteuid() == 0 else { fail("__evaluate: must run as root") }
        guard threadCount() == 1 else { fail("__evaluate: more than one thread; refusing to fork") }
        for identity in request.identities {
            var writer = WireWriter()
            Worker.run(identity, acl: request.acl).encode(into: &writer)
            var frame = WireWriter()
            frame.data(writer.bytes)
            guard writeAll(STDOUT_FILENO, frame.bytes) else { fail("__evaluate: cannot write the result") }
        }
    }

    /// The number of threads of this process, from /proc/self/status.
    func threadCount() -> Int {
        let fd = bk_open("/proc/self/status", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return -1 }
        defer { close(fd) }
        let text = String(decoding: readAll(fd), as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix("Threads:") {
            return Int(String(line.dropFirst("Threads:".count).filter { $0 != " " && $0 != "\t" })) ?? -1
        }
        return -1
    }
}

/// The per-identity child of the evaluator.
enum Worker {
    /// Forks, evaluates as `identity` in the child, and returns what the child reported.
    static func run(_ identity: Identity, acl: [UInt8]) -> WalkResult {
        var ends: [Int32] = [-1, -1]
        guard bk_pipe_cloexec(&ends) == 0 else { return .failed("pipe: \(Errno.current)") }
        let pid = fork()
        if pid < 0 {
            close(ends[0]); close(ends[1])
            return .failed("fork: \(Errno.current)")
        }
        if pid == 0 {
            close(ends[0])
            var writer = WireWriter()
            evaluateAs(identity, acl: acl).encode(into: &writer)
            _exit(writeAll(ends[1], writer.bytes) ? 0 : 1)
        }
        close(ends[1])
        let output = readAll(ends[0])
        close(ends[0])
        let status = ChildProcess.reap(pid).exitStatus
        var reader = WireReader(output)
        let failure = WalkResult.failed("the evaluation as uid \(identity.uid) ended with status \(status)")
        guard status == 0 else { return failure }
        do {
            let result = try WalkResult.decode(from: &reader)
            return reader.atEnd ? result : failure
        } catch {
            return failure
        }
    }

    /// In the forked child: become the user the way the setuid helper is them, then walk.
    static func evaluateAs(_ identity: Identity, acl: [UInt8]) -> WalkResult {
        let groups = identity.groups.map { gid_t($0) }
        guard groups.withUnsafeBufferPointer({ setgroups(groups.count, $0.baseAddress) }) == 0 else {
            return .failed("setgroups for uid \(identity.uid): \(Errno.current)")
        }
        // The setuid helper starts with the caller's gid in every slot and the caller's uid as
        // the real one, root as the effective and saved one; its own drop does the rest.
        guard bk_setresgid(identity.gid, identity.gid, identity.gid) == 0,
              bk_setresuid(identity.uid, 0, 0) == 0 else {
            return .failed("switching to uid \(identity.uid) gid \(identity.gid): \(Errno.current)")
        }
        ProcessHygiene.raiseDescriptorLimit()
        let platform = LinuxPlatform(caller: Credentials.current())
        do { try platform.dropPrivileges() } catch {
            return .failed("the helper's privilege drop as uid \(identity.uid) failed: \(error.message)")
        }
        return walkHere(acl: acl)
    }

    /// Walks the ACL with this process's credentials, recording every load.
    static func walkHere(acl: [UInt8]) -> WalkResult {
        let recorder = RecordingSource(SafeFileReader())
        _ = PolicyLoader.load(path: acl, from: recorder)
        return .loads(recorder.records)
    }
}

/// Passes every load through to the helper's reader and notes its outcome.
final class RecordingSource: ACLFileSource {
    let inner: SafeFileReader
    private(set) var records: [LoadRecord] = []

    init(_ inner: SafeFileReader) { self.inner = inner }

    func load(path: [UInt8]) -> ACLFileLoad {
        let result = inner.load(path: path)
        records.append(LoadRecord(path: path, result: result))
        return result
    }

    func list(directory path: [UInt8]) -> ACLDirectoryLoad {
        let result = inner.list(directory: path)
        records.append(.listing(path, result))
        return result
    }
}

/// Serves recorded loads back in order, so `PolicyLoader` rebuilds the very `Policy` (or
/// `PolicyError`) of the recorded walk. A request out of order means the recording is not of
/// this loader's walk: `diverged` is set and the load refuses.
final class ReplaySource: ACLFileSource {
    let records: [LoadRecord]
    private var next = 0
    private(set) var diverged = false

    init(_ records: [LoadRecord]) { self.records = records }

    func load(path: [UInt8]) -> ACLFileLoad {
        guard next < records.count, records[next].path == path, records[next].listing == nil else {
            diverged = true
            return .refused(.other(path, "internal error: the recorded walk does not match"))
        }
        defer { next += 1 }
        return records[next].result
    }

    func list(directory path: [UInt8]) -> ACLDirectoryLoad {
        guard next < records.count, records[next].path == path, let listing = records[next].listing else {
            diverged = true
            return .refused(.other(path, "internal error: the recorded walk does not match"))
        }
        next += 1
        return listing
    }

    /// Replays `records`; nil if they are not one complete walk of `acl`.
    static func policy(acl: [UInt8], records: [LoadRecord]) -> Result<Policy, PolicyError>? {
        let source = ReplaySource(records)
        let result = PolicyLoader.load(path: acl, from: source)
        guard !source.diverged, source.next == records.count else { return nil }
        return result
    }
}

/// Starts the evaluator and hands it `request`; the results come back in request order.
enum EvaluatorClient {
    static func evaluate(_ request: EvaluationRequest) throws(AuditError) -> [WalkResult] {
        if request.identities.isEmpty { return [] }
        var input: [Int32] = [-1, -1], output: [Int32] = [-1, -1]
        guard bk_pipe_cloexec(&input) == 0 else { throw AuditError("pipe: \(Errno.current)") }
        guard bk_pipe_cloexec(&output) == 0 else {
            close(input[0]); close(input[1])
            throw AuditError("pipe: \(Errno.current)")
        }
        let argv = CStringList([Array("/proc/self/exe".utf8), Array("__evaluate".utf8)])
        let pid: pid_t
        do {
            pid = try ChildProcess.spawn(argv: argv.pointers.map { Optional($0) },
                                         descriptors: [InheritedDescriptor(input[0], as: 0), InheritedDescriptor(output[1], as: 1)])
        } catch {
            [input[0], input[1], output[0], output[1]].forEach { _ = close($0) }
            throw AuditError("cannot start the evaluator: \(error)")
        }
        close(input[0])
        close(output[1])
        // The evaluator reads the whole request before it writes anything, so writing it all
        // first cannot deadlock on full pipes.
        let sent = writeAll(input[1], request.encoded())
        close(input[1])
        let answer = readAll(output[0])
        close(output[0])
        let status = ChildProcess.reap(pid).exitStatus
        guard sent, status == 0 else { throw AuditError("the evaluator failed (exit status \(status))") }
        var reader = WireReader(answer)
        var results: [WalkResult] = []
        do throws(WireError) {
            while !reader.atEnd {
                var inner = WireReader(try reader.data())
                results.append(try WalkResult.decode(from: &inner))
            }
        } catch {
            throw AuditError("the evaluator's answer is malformed")
        }
        guard results.count == request.identities.count else { throw AuditError("the evaluator's answer is incomplete") }
        return results
    }
}

/// A failure of the audit machinery itself (not a refusal): exit status 3.
struct AuditError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Reads `fd` to end of file (retrying on EINTR; stops at an error).
func readAll(_ fd: Int32) -> [UInt8] {
    var result: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count < 0 && errno == EINTR { continue }
        if count <= 0 { return result }
        result += buffer.prefix(count)
    }
}

/// Writes all of `bytes` to `fd` (retrying on EINTR and short writes).
func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    var offset = 0
    while offset < bytes.count {
        let count = bytes.withUnsafeBytes { write(fd, $0.baseAddress.map { $0 + offset }, bytes.count - offset) }
        if count < 0 && errno == EINTR { continue }
        if count <= 0 { return false }
        offset += count
    }
    return true
}

/// One line on stderr and exit status 3 (for the internal subcommand).
func fail(_ message: String) -> Never {
    _ = writeAll(STDERR_FILENO, Array("Error: \(message)\n".utf8))
    exit(3)
}
