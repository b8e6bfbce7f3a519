import BridgeACL
import CBridgeShims
import Glibc

/// Reads ACL files the way contract §5 requires, with the credentials the process has now (the
/// caller's, after the drop):
/// - the path is walked from `/` one component at a time with `openat`, never following a
///   symbolic link, so a path cannot be redirected between the check and the read;
/// - `/`, every directory on the way and the file itself must meet BridgeACL's `ACLFileRules`
///   (owned by root, not writable by group or others; the file regular and at most 1 MiB), and
///   every refusal is reported as a typed `ACLFileProblem` that BridgeACL words;
/// - each component is `lstat`ed before it is opened and `fstat`ed after, so FIFOs and devices are
///   never opened (no hang, no side effects) and a swap in between is caught;
/// - only ENOENT and EACCES mean "unavailable" (skip an include); every other failure refuses.
///
/// One reader serves one policy load. It keeps the `O_PATH` descriptors of the directories it has
/// verified, by path, and opens later files relative to them, so 10,000 includes below
/// /etc/qemu/users check /, /etc, /etc/qemu and /etc/qemu/users once, not 10,000 times. A held
/// descriptor is the verified object itself: renaming or replacing its path afterwards cannot
/// substitute another directory. The cache is bounded (`cacheLimit`), so a wide tree cannot
/// exhaust the descriptor table; beyond it directories are verified and closed as before.
/// The descriptors are closed when the reader is released.
public final class SafeFileReader: ACLFileSource {
    /// The largest file read (the rule itself is BridgeACL's `ACLFileRules.maximumFileSize`).
    public static var maximumSize: Int { ACLFileRules.maximumFileSize }
    static let slash: [UInt8] = [UInt8(ascii: "/")]
    /// At most this many verified directories are kept open (the helper raises RLIMIT_NOFILE
    /// only to 64; a real tree needs a handful: /, /etc, /etc/qemu and a users directory).
    public static let maximumCachedDirectories = 16

    /// The verified `/`, root of the cache; nil until the first load (or while `/` fails).
    private var root: VerifiedDirectory?
    private var cachedCount = 0
    private let cacheLimit: Int
    /// The cached directory of the last file opened, and its path as written: consecutive
    /// includes from one directory (the per-user pattern) go straight to the leaf. Read for
    /// every include; without the runtime's exclusivity bookkeeping, which they do not need:
    /// only whole values are read or assigned, never passed inout, by one thread.
    @exclusivity(unchecked) private var lastDirectory: VerifiedDirectory?
    @exclusivity(unchecked) private var lastDirectoryPath: ArraySlice<UInt8> = []

    public init() {
        // A quarter of the soft descriptor limit, so a caller who kept it low (and a copy that
        // cannot raise it) still leaves the walk itself its few descriptors.
        var limit = rlimit()
        if getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 {
            cacheLimit = min(Self.maximumCachedDirectories, Int(clamping: limit.rlim_cur / 4))
        } else {
            cacheLimit = Self.maximumCachedDirectories
        }
    }

    /// How many directory descriptors the cache holds now (for tests).
    public var cachedDirectories: Int { cachedCount }

    public func load(path: [UInt8]) -> ACLFileLoad {
        guard path.first == UInt8(ascii: "/") else { return .refused(.notAbsolute(path)) }
        // A trailing slash asks for a directory; the grammar refuses it earlier, and this keeps
        // `lab.conf/` from reading lab.conf if a path ever arrives here another way.
        if path.last == UInt8(ascii: "/") { return .refused(.namesDirectory(path)) }
        if let lastDirectory, let leafStart = Self.leafStart(of: path, below: lastDirectoryPath) {
            // The same bytes as a directory part that passed every check below, then one
            // component that is not empty (no trailing slash), '.' or '..'.
            return openLeaf(path[leafStart...], in: lastDirectory, path: path)
        }
        // Empty components (`//`) collapse: they name no object, so the walk below checks the
        // same objects as for the single-slash spelling.
        let components = path.split(separator: UInt8(ascii: "/"))
        if Self.hasDotComponent(components) { return .refused(.dotComponent(path)) }
        guard let fileName = components.last else { return .refused(.namesDirectory(path)) }
        switch walk(components.dropLast()) {
        case .failed(let load): return load
        case .reached(let directory, let inCache):
            if inCache, let slash = path.lastIndex(of: UInt8(ascii: "/")) {
                lastDirectory = directory
                lastDirectoryPath = path[..<slash]
            } else {
                lastDirectory = nil
            }
            return openLeaf(fileName, in: directory, path: path)
        }
    }

    /// Below this many includes from one directory in one file, each include asks the kernel
    /// itself, in order (starting a thread costs about as much as 50 `faccessat` calls).
    public static let probeMinimum = 256
    /// At most this many threads (the caller's included) ask about includes ahead: one per CPU
    /// the helper may run on (its affinity mask, as taskset or a cpuset left it).
    public static let probeThreads = 4

    /// The per-user pattern (10,000 lines `include /etc/qemu/users/NAME.conf`, each file
    /// readable only by its user): the includes of one file that name files directly in the
    /// directory of its first include. That directory is walked and verified now, as the first
    /// of them would walk it (a failure answers nothing: the includes then report it in order),
    /// and the kernel is asked with `faccessat` which of the files the caller may read, on up to
    /// `probeThreads` threads, one per CPU the helper may run on, all joined before this returns.
    /// Only ENOENT and EACCES answer "unavailable", the answer `openLeaf` would act on; a
    /// readable file and any other error are loaded in order with every check, as without this.
    public func unavailable(includes bytes: UnsafeBufferPointer<UInt8>, at ranges: [Range<Int>]) -> [Bool]? {
        guard ranges.count >= Self.probeMinimum, let base = bytes.baseAddress else { return nil }
        // The directory of the first include, walked like `load` walks it.
        let first = bytes[ranges[0]]
        guard first.first == UInt8(ascii: "/"), first.last != UInt8(ascii: "/"),
              let slash = first.lastIndex(of: UInt8(ascii: "/")) else { return nil }
        let directoryPath = Array(bytes[first.startIndex..<slash])
        let components = directoryPath.split(separator: UInt8(ascii: "/"))
        if Self.hasDotComponent(components) { return nil }
        guard case .reached(let directory, inCache: true) = walk(components[...]) else { return nil }
        lastDirectory = directory
        lastDirectoryPath = directoryPath[...]
        // The leaf names of the includes directly below exactly that spelling of it,
        // NUL-terminated, one after the other; `starts[i]` is where include i's name starts
        // (-1: not below it, not asked).
        var length = 0
        for range in ranges { length += range.count + 1 }
        let names = UnsafeMutableBufferPointer<CChar>.allocate(capacity: length)
        let starts = UnsafeMutableBufferPointer<Int>.allocate(capacity: ranges.count)
        defer {
            names.deallocate()
            starts.deallocate()
        }
        var used = 0
        var asked = 0
        for (index, range) in ranges.enumerated() {
            guard let leaf = Self.leafStart(of: UnsafeBufferPointer(rebasing: bytes[range]), below: directoryPath[...]) else {
                starts[index] = -1
                continue
            }
            starts[index] = used
            let length = range.count - leaf
            if let namesBase = names.baseAddress {
                UnsafeMutableRawPointer(namesBase + used).copyMemory(from: base + range.lowerBound + leaf, byteCount: length)
            }
            used += length
            names[used] = 0
            used += 1
            asked += 1
        }
        guard asked >= Self.probeMinimum, let namesBase = names.baseAddress, let startsBase = starts.baseAddress else { return nil }
        let answers = IncludeProbe.ask(directory: directory.descriptor.rawValue, names: UnsafePointer(namesBase),
                                       starts: UnsafePointer(startsBase), count: ranges.count)
        return answers.map { $0 == IncludeProbe.unavailable }
    }

    /// Where the last component of `path` starts if `path` is `directory` + `/` + one
    /// component other than `.` and `..` (nil otherwise): the per-user pattern's 10,000
    /// includes from one directory are compared byte for byte, without a walk.
    private static func leafStart(of path: [UInt8], below directory: ArraySlice<UInt8>) -> Int? {
        path.withUnsafeBufferPointer { bytes in leafStart(of: bytes, below: directory) }
    }

    private static func leafStart(of bytes: UnsafeBufferPointer<UInt8>, below directory: ArraySlice<UInt8>) -> Int? {
        let count = directory.count
        guard bytes.count > count + 1, let base = bytes.baseAddress else { return nil }
        let samePrefix = directory.withUnsafeBufferPointer { prefix -> Bool in
            guard count > 0 else { return true }
            guard let prefix = prefix.baseAddress else { return false }
            return memcmp(base, prefix, count) == 0
        }
        guard samePrefix, base[count] == UInt8(ascii: "/") else { return nil }
        let leaf = bytes.count - count - 1
        if memchr(base + count + 1, Int32(UInt8(ascii: "/")), leaf) != nil { return nil }
        if base[count + 1] == 0x2E && (leaf == 1 || (leaf == 2 && base[count + 2] == 0x2E)) { return nil }
        return count + 1
    }

    /// The outcome of walking from `/` to a directory.
    private enum Walked {
        /// Every directory on the way passed; `inCache` if the reached one is held by the cache.
        case reached(VerifiedDirectory, inCache: Bool)
        case failed(ACLFileLoad)
    }

    /// Walks from `/` through `components` (directories), checking and caching each one.
    private func walk(_ components: ArraySlice<ArraySlice<UInt8>>) -> Walked {
        let top: VerifiedDirectory
        if let root {
            top = root
        } else {
            let opened: FileDescriptor
            do throws(SystemError) {
                opened = try FileDescriptor.open("/", bk_o_path | O_DIRECTORY)
            } catch {
                return .failed(classify(error.errno, at: Self.slash))
            }
            let info: stat
            do { info = try opened.borrowed.status() } catch {
                return .failed(.refused(.systemError(Self.slash, operation: "fstat", error: error.errno.description)))
            }
            if let unsafe = checkOwnership(info, at: Self.slash) { return .failed(.refused(unsafe)) }
            top = VerifiedDirectory(opened)
            if cachedCount < cacheLimit {
                root = top
                cachedCount += 1
            }
        }
        var directory = top
        var inCache = root === top
        for index in components.indices {
            let component = components[index]
            if inCache, let known = directory.children[component] {
                directory = known
                continue
            }
            let walked = Array(components[...index].joined(separator: [UInt8(ascii: "/")]))
            let next = openChecked(component, in: directory.descriptor.borrowed, as: .directory,
                                   walked: [UInt8(ascii: "/")] + walked)
            switch consume next {
            case .failed(let load): return .failed(load)
            case .opened(let fd, _):
                let verified = VerifiedDirectory(fd)
                if inCache && cachedCount < cacheLimit {
                    directory.children[component] = verified
                    cachedCount += 1
                } else {
                    inCache = false
                }
                directory = verified
            }
        }
        return .reached(directory, inCache: inCache)
    }

    /// At most this many entries of any kind are read from one drop-in directory (four times
    /// the files a whole policy may read): a directory of a million entries is refused after
    /// a few thousand `getdents` records, not read into memory.
    public static let maximumDirectoryEntries = 4 * ACLLimits().maximumFiles

    /// A drop-in directory (`include /etc/qemu/bridge.d/`): the walk to it makes every check a
    /// file's walk makes; the directory itself is opened for reading relative to its verified
    /// parent (never following a symlink), checked like every directory on an ACL path, and
    /// listed. Kept: names `NAME.conf` not starting with `.` whose entry is a regular file
    /// (symlinks, directories, FIFOs... are left out, never followed). Each kept file is then
    /// loaded by `load(path:)`, with every check again, through the now cached directory.
    public func list(directory path: [UInt8]) -> ACLDirectoryLoad {
        guard path.first == UInt8(ascii: "/") else { return .refused(.notAbsolute(path)) }
        let components = path.split(separator: UInt8(ascii: "/"))
        if Self.hasDotComponent(components) { return .refused(.dotComponent(path)) }
        let opened: Opened
        var parent: VerifiedDirectory?
        var parentInCache = false
        if let name = components.last {
            switch walk(components.dropLast()) {
            case .failed(let load): return Self.directoryLoad(load)
            case .reached(let directory, let inCache):
                parent = directory
                parentInCache = inCache
                opened = openChecked(name, in: directory.descriptor.borrowed, as: .listedDirectory,
                                     walked: [UInt8(ascii: "/")] + Array(components.joined(separator: [UInt8(ascii: "/")])))
            }
        } else {
            // `include /`: absurd, but read the same way (the root, opened for reading).
            opened = Self.openRootForListing()
        }
        switch consume opened {
        case .failed(let load): return Self.directoryLoad(load)
        case .opened(let fd, _):
            let verified = VerifiedDirectory(fd)
            let result = entries(of: verified.descriptor.borrowed, path: path)
            // The files are loaded next through this directory: keep it as the last directory
            // (and in the cache) when there is room, like a directory a file walk verified.
            if let parent, let name = components.last, parentInCache, cachedCount < cacheLimit {
                if parent.children[name] == nil {
                    parent.children[name] = verified
                    cachedCount += 1
                }
                lastDirectory = parent.children[name]
                lastDirectoryPath = path[..<(path.endIndex - 1)]
            }
            return result
        }
    }

    private static func openRootForListing() -> Opened {
        let fd: FileDescriptor
        do throws(SystemError) {
            fd = try FileDescriptor.open("/", O_RDONLY | O_DIRECTORY)
        } catch {
            if Self.meansUnavailable(error.errno) { return .failed(.unavailable) }
            return .failed(.refused(.systemError(slash, operation: nil, error: error.errno.description)))
        }
        let info: stat
        do { info = try fd.borrowed.status() } catch {
            return .failed(.refused(.systemError(slash, operation: "fstat", error: error.errno.description)))
        }
        if let unsafe = ACLFileRules.ownershipProblem(at: slash, owner: UInt32(info.st_uid), mode: UInt32(info.st_mode)) {
            return .failed(.refused(unsafe))
        }
        return .opened(fd, info)
    }

    static func directoryLoad(_ load: ACLFileLoad) -> ACLDirectoryLoad {
        switch load {
        case .unavailable, .contents: return .unavailable
        case .refused(let problem): return .refused(problem)
        }
    }

    /// Reads the entries of the opened directory (through a duplicate, which `closedir` closes:
    /// the verified descriptor stays open for the loads that follow).
    private func entries(of directory: BorrowedDescriptor, path: [UInt8]) -> ACLDirectoryLoad {
        let copy = fcntl(directory.rawValue, F_DUPFD_CLOEXEC, 0)
        guard copy >= 0 else { return .refused(.systemError(path, operation: "dup", error: Errno.current.description)) }
        guard let stream = fdopendir(copy) else {
            let error = Errno.current
            close(copy)
            return .refused(.systemError(path, operation: "fdopendir", error: error.description))
        }
        defer { closedir(stream) }
        var names: [[UInt8]] = []
        var seen = 0
        let suffix = Array(".conf".utf8)
        while true {
            errno = 0
            guard let entry = readdir(stream) else {
                if errno != 0 { return .refused(.systemError(path, operation: "readdir", error: Errno.current.description)) }
                break
            }
            seen += 1
            if seen > Self.maximumDirectoryEntries {
                return .refused(.systemError(path, operation: nil,
                    error: "more than \(Self.maximumDirectoryEntries) entries; a drop-in directory may hold at most \(Self.maximumDirectoryEntries)"))
            }
            let name: [UInt8] = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                Array(raw.prefix(while: { $0 != 0 }))
            }
            guard name.count > suffix.count, name.first != UInt8(ascii: "."),
                  name.suffix(suffix.count).elementsEqual(suffix) else { continue }
            var type = entry.pointee.d_type
            if type == UInt8(DT_UNKNOWN) {
                // Some file systems do not fill d_type: ask without following a symlink.
                var info = stat()
                let cName = name.map { CChar(bitPattern: $0) } + [0]
                if fstatat(directory.rawValue, cName, &info, AT_SYMLINK_NOFOLLOW) != 0 {
                    if errno == ENOENT { continue }  // removed since the listing: not there
                    return .refused(.systemError(path + name, operation: "fstatat", error: Errno.current.description))
                }
                type = (info.st_mode & S_IFMT) == S_IFREG ? UInt8(DT_REG) : UInt8(DT_UNKNOWN)
            }
            if type == UInt8(DT_REG) { names.append(name) }
        }
        return .names(names)
    }

    private func openLeaf(_ name: ArraySlice<UInt8>, in directory: VerifiedDirectory, path: [UInt8]) -> ACLFileLoad {
        // A file the caller may not read is unavailable whatever it is, and the kernel can say
        // so without opening anything (no side effects): one cheap call settles each of the
        // 9,999 other users' files in the per-user include pattern. Denied here means denied
        // by open(2) too (the same permission check, before open's own). Everything that may
        // be read still goes through every check of `openChecked`.
        let readable = Self.withCName(name) { cName in
            // (No buffer cannot happen for one byte or more; openChecked would then refuse.)
            guard let cName else { return true }
            return Self.mayRead(cName, in: directory.descriptor.rawValue)
        }
        if !readable { return classify(.current, at: path) }
        switch openChecked(name, in: directory.descriptor.borrowed, as: .file, walked: path) {
        case .failed(let load): return load
        case .opened(let file, let info): return readAll(file, info: info, path: path)
        }
    }

    /// Opens one path component below `directory` after checking what it is, and re-checks the
    /// opened object: same inode as the lstat, root-owned, not group/other-writable.
    /// What `openChecked` opens: a directory on the way (`O_PATH`), a drop-in directory to
    /// list (`O_RDONLY`) or an ACL file (`O_RDONLY`).
    private enum Kind { case directory, listedDirectory, file }

    private func openChecked(_ name: ArraySlice<UInt8>, in directory: BorrowedDescriptor, as kind: Kind,
                             walked: [UInt8]) -> Opened {
        Self.withCName(name) { cName in openChecked(cName, in: directory, as: kind, walked: walked) }
    }

    /// Calls `body` with `name` NUL-terminated on the stack: no allocation, and no access to the
    /// reader's stored properties (each one an exclusivity check) per include.
    private static func withCName<Result: ~Copyable>(_ name: ArraySlice<UInt8>,
                                                     _ body: (UnsafePointer<CChar>?) -> Result) -> Result {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: name.count + 1) { buffer in
            var index = 0
            for byte in name {
                buffer[index] = CChar(bitPattern: byte)
                index += 1
            }
            buffer[index] = 0
            return body(UnsafePointer(buffer.baseAddress))
        }
    }

    private func openChecked(_ cName: UnsafePointer<CChar>?, in directory: BorrowedDescriptor, as kind: Kind,
                             walked: [UInt8]) -> Opened {
        guard let cName else { return .failed(.refused(.systemError(walked, operation: nil, error: "no memory for the name"))) }
        let isDirectory = kind != .file
        var before = stat()
        guard fstatat(directory.rawValue, cName, &before, AT_SYMLINK_NOFOLLOW) == 0 else {
            return .failed(classify(.current, at: walked))
        }
        let type = before.st_mode & S_IFMT
        if type == S_IFLNK {
            return .failed(.refused(.symbolicLink(walked)))
        }
        if isDirectory && type != S_IFDIR {
            return .failed(.refused(.notDirectory(walked)))
        }
        if !isDirectory && type != S_IFREG {
            return .failed(.refused(.notRegularFile(walked)))
        }
        let flags = switch kind {
        case .directory: bk_o_path | O_DIRECTORY | O_NOFOLLOW
        case .listedDirectory: O_RDONLY | O_DIRECTORY | O_NOFOLLOW
        case .file: O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY
        }
        let fd = retryingOnInterrupt { bk_openat(directory.rawValue, cName, flags | O_CLOEXEC) }
        guard fd >= 0 else {
            // ELOOP from O_NOFOLLOW: it was not a symlink at the lstat, so it was swapped since.
            if errno == ELOOP { return .failed(.refused(.changed(walked))) }
            return .failed(classify(.current, at: walked))
        }
        let opened = FileDescriptor(owning: fd)
        // One fstat of the opened object serves the identity, ownership and size checks: they
        // are all about this object, which no rename can replace any more.
        let after: stat
        do { after = try opened.borrowed.status() } catch { return .failed(.refused(.systemError(walked, operation: "fstat", error: error.errno.description))) }
        guard after.st_dev == before.st_dev, after.st_ino == before.st_ino else {
            return .failed(.refused(.changed(walked)))
        }
        if let unsafe = checkOwnership(after, at: walked) { return .failed(.refused(unsafe)) }
        return .opened(opened, after)
    }

    /// The outcome of opening one component (Result cannot hold a non-copyable value).
    private enum Opened: ~Copyable {
        case opened(FileDescriptor, stat)
        case failed(ACLFileLoad)
    }

    private func checkOwnership(_ info: stat, at path: [UInt8]) -> ACLFileProblem? {
        ACLFileRules.ownershipProblem(at: path, owner: UInt32(info.st_uid), mode: UInt32(info.st_mode))
    }

    private func readAll(_ file: consuming FileDescriptor, info: stat, path: [UInt8]) -> ACLFileLoad {
        let limit = ACLFileRules.maximumFileSize
        if info.st_size > limit { return .refused(.tooLarge(path, limit: limit)) }
        // Read in place into a buffer sized from the file, plus one byte to see EOF (a 280 KB
        // policy is read once, neither zero-filled nor copied chunk by chunk into a growing
        // array); a file that grew since the fstat is read on in chunks, up to one byte over
        // the limit.
        var failed: Errno?
        var filled = false
        var contents = [UInt8](unsafeUninitializedCapacity: min(limit, Int(info.st_size)) + 1) { buffer, initialized in
            var total = 0
            while total < buffer.count, let base = buffer.baseAddress {
                let count = retryingOnInterrupt { read(file.rawValue, base + total, buffer.count - total) }
                if count < 0 { failed = .current; break }
                if count == 0 { break }
                total += count
            }
            filled = total == buffer.count
            initialized = total
        }
        if filled && failed == nil {
            var chunk = [UInt8](repeating: 0, count: 65536)
            while contents.count <= limit {
                let count = chunk.withUnsafeMutableBytes { raw in
                    retryingOnInterrupt { read(file.rawValue, raw.baseAddress, raw.count) }
                }
                if count < 0 { failed = .current; break }
                if count == 0 { break }
                contents += chunk.prefix(count)
            }
        }
        if let failed { return .refused(.systemError(path, operation: "read failed", error: failed.description)) }
        if contents.count > limit { return .refused(.tooLarge(path, limit: limit)) }
        return .contents(contents, identity: FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino)))
    }

    /// Whether an error means "unavailable": ENOENT or EACCES (skip an include).
    static func meansUnavailable(_ error: Errno) -> Bool { error == .noSuchFile || error == .permissionDenied }

    /// Whether the caller may read `name` in `directory` (a symlink is not followed), asked of
    /// the kernel before any stat or open; on false, errno says why. Called from the include
    /// probe's threads too: it touches nothing but its arguments.
    static func mayRead(_ name: UnsafePointer<CChar>, in directory: Int32) -> Bool {
        faccessat(directory, name, R_OK, AT_EACCESS | AT_SYMLINK_NOFOLLOW) == 0
    }

    /// `.` or `..` among a path's components (refused: `..` would leave a checked directory).
    static func hasDotComponent(_ components: [ArraySlice<UInt8>]) -> Bool {
        components.contains { $0.elementsEqual([0x2E]) || $0.elementsEqual([0x2E, 0x2E]) }
    }

    /// ENOENT and EACCES make a file "unavailable" (one value, so the message for a private file
    /// never tells whether it exists); everything else is a refusal naming the path.
    private func classify(_ error: Errno, at walked: [UInt8]) -> ACLFileLoad {
        if Self.meansUnavailable(error) { return .unavailable }
        return .refused(.systemError(walked, operation: nil, error: error.description))
    }
}

/// A directory that passed every check, held by an `O_PATH` descriptor (closed with the node),
/// and the verified directories below it by component name.
private final class VerifiedDirectory {
    let descriptor: FileDescriptor
    var children: [ArraySlice<UInt8>: VerifiedDirectory] = [:]

    init(_ descriptor: consuming FileDescriptor) { self.descriptor = descriptor }
}

/// `faccessat` for many names of one directory, on several threads (`SafeFileReader`'s
/// `unavailable(includes:at:)`). Measured on 2 CPUs, 10,000 names: one thread alone takes about
/// 11 ms; two take about 5.5 ms only when nothing is shared between them and each has a CPU:
/// - each extra thread asks through its own descriptor of the directory (`openat(dir, ".")`, the
///   same directory object, no name resolved again): on one shared descriptor the kernel counts
///   a reference on the one open file per call from both CPUs, and the two threads together
///   were no faster than one;
/// - each thread writes its answers in whole 64-byte lines (`Job.batch`, aligned), never in a
///   line the other writes;
/// - each extra thread is pinned to a CPU other than the one the caller's thread runs on (from
///   the affinity mask): left to the scheduler, half the time it was queued behind the caller's
///   thread on the same CPU until a tick moved it, and the two took as long as one.
private enum IncludeProbe {
    /// Not asked (not below the directory), or an error other than ENOENT and EACCES.
    static let unknown: UInt8 = 0
    /// `faccessat` said yes; every check of opening still follows, in order.
    static let readable: UInt8 = 1
    /// ENOENT or EACCES: skipped like any unavailable include.
    static let unavailable: UInt8 = 2

    /// What the threads share: raw pointers only (no reference counting across threads).
    /// Each thread claims the next `batch` names from `claimed` until none is left, so a
    /// thread that starts late or runs on a busy CPU leaves more to the others (at most one
    /// batch, about 0.1 ms of work, is held by a thread that is descheduled); each answer is
    /// written by the one thread that claimed it, and read after every thread is joined.
    private struct Job {
        var directory: Int32
        var names: UnsafePointer<CChar>
        var starts: UnsafePointer<Int>
        var answers: UnsafeMutablePointer<UInt8>
        var count: Int
        var claimed: UnsafeMutablePointer<Int>
        /// How many extra threads have finished (each adds 1 as its last access to the job).
        var finished: UnsafeMutablePointer<Int>
        /// One cache line of answers (the answers start on a line).
        static let batch = 64
    }

    /// The answer for each of `count` names (`names + starts[i]`; `starts[i] < 0`: unknown),
    /// asked by this thread and up to `probeThreads - 1` others, each pinned to another CPU the
    /// helper may run on (none when it may run on one only). A thread that cannot start
    /// (RLIMIT_NPROC, memory) or be pinned leaves more to the others; none outlives this.
    ///
    /// A pinned thread cannot be moved by the scheduler: if its CPU is taken by higher-priority
    /// work (a real-time task), it may not run for a long time, and the join would wait as long.
    /// So once this thread has run out of names to claim, every extra thread that has not
    /// finished (one that never ran, or one holding its last batch) is moved to this thread's
    /// CPU, where it runs as soon as this one sleeps in the join: the others hold at most one
    /// batch each, and none holds the join up for longer than that.
    static func ask(directory: Int32, names: UnsafePointer<CChar>, starts: UnsafePointer<Int>, count: Int) -> [UInt8] {
        let answers = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(count, 1), alignment: Job.batch)
            .bindMemory(to: UInt8.self, capacity: Swift.max(count, 1))
        answers.initialize(repeating: unknown, count: count)
        defer { answers.deallocate() }
        // The two counters each on a cache line of their own, away from the answers.
        let counters = UnsafeMutableRawPointer.allocate(byteCount: 2 * Job.batch, alignment: Job.batch)
        defer { counters.deallocate() }
        let claimed = counters.bindMemory(to: Int.self, capacity: 1)
        claimed.initialize(to: 0)
        let finished = (counters + Job.batch).bindMemory(to: Int.self, capacity: 1)
        finished.initialize(to: 0)
        var job = Job(directory: directory, names: names, starts: starts, answers: answers,
                      count: count, claimed: claimed, finished: finished)
        withUnsafeMutablePointer(to: &job) { job in
            var others = [Int32](repeating: -1, count: SafeFileReader.probeThreads - 1)
            var mask = bk_cpu_mask()
            let otherCount = Int(bk_other_allowed_cpus(&others, Int32(others.count), &mask))
            var started: [pthread_t] = []
            var attributes = pthread_attr_t()
            if otherCount > 0 && pthread_attr_init(&attributes) == 0 {
                // The loop needs a few hundred bytes of stack; the default (RLIMIT_STACK,
                // often 8 MiB) would count against the address space the helper keeps.
                _ = pthread_attr_setstacksize(&attributes, 64 << 10)
                for cpu in others.prefix(otherCount) {
                    guard bk_thread_attributes_pin(&attributes, cpu) == 0 else { continue }
                    var thread = pthread_t()
                    let created = pthread_create(&thread, &attributes, { raw in
                        if let raw { IncludeProbe.answerThroughOwnDescriptor(raw.assumingMemoryBound(to: Job.self).pointee) }
                        return nil
                    }, UnsafeMutableRawPointer(job))
                    if created == 0 { started.append(thread) }
                }
                _ = pthread_attr_destroy(&attributes)
            }
            answer(job.pointee, through: directory)
            let finishedCount = finished.withMemoryRebound(to: CLong.self, capacity: 1) { bk_claim($0, 0) }
            if Int(finishedCount) < started.count {
                for thread in started { _ = bk_thread_move_here(UInt(thread)) }
                _ = bk_affinity_restore(&mask)
            }
            for thread in started { _ = pthread_join(thread, nil) }
        }
        return Array(UnsafeBufferPointer(start: answers, count: count))
    }

    /// An extra thread's work: through its own descriptor of the job's directory, opened from
    /// the verified one (`.` names that same directory: nothing is resolved by name again), or
    /// through the shared one if that cannot be opened (EMFILE).
    private static func answerThroughOwnDescriptor(_ job: Job) {
        let own = bk_openat(job.directory, ".", bk_o_path | O_DIRECTORY | O_CLOEXEC)
        answer(job, through: own >= 0 ? own : job.directory)
        if own >= 0 { close(own) }
        _ = job.finished.withMemoryRebound(to: CLong.self, capacity: 1) { bk_claim($0, 1) }
    }

    private static func answer(_ job: Job, through directory: Int32) {
        while true {
            let first = job.claimed.withMemoryRebound(to: CLong.self, capacity: 1) { bk_claim($0, CLong(Job.batch)) }
            var index = Int(first)
            let end = Swift.min(index + Job.batch, job.count)
            if index >= end { return }
            while index < end {
                let start = job.starts[index]
                if start >= 0 {
                    if SafeFileReader.mayRead(job.names + start, in: directory) {
                        job.answers[index] = readable
                    } else {
                        job.answers[index] = SafeFileReader.meansUnavailable(.current) ? unavailable : unknown
                    }
                }
                index += 1
            }
        }
    }
}
