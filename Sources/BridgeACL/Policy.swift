/// Identifies a file across paths (hard links, bind mounts): device and inode numbers.
public struct FileIdentity: Hashable, Sendable {
    public let device: UInt64
    public let inode: UInt64

    public init(device: UInt64, inode: UInt64) {
        self.device = device
        self.inode = inode
    }
}

/// What an `ACLFileSource` found at a path.
public enum ACLFileLoad: Sendable, Equatable {
    /// The whole file, read after every safety check passed.
    case contents([UInt8], identity: FileIdentity)
    /// Does not exist, or the caller may not read it (ENOENT, EACCES). The stock helper skips such
    /// includes, and per-user policy depends on it (`include /etc/qemu/alice.conf`, mode 0640).
    /// Both cases are one value so that no message can tell them apart.
    case unavailable
    /// Anything else: unsafe ownership or mode, not a regular file, too large, a symlink, or an
    /// unexpected error (EMFILE, ENOMEM, EIO...). Never skipped: a resource limit must not be
    /// able to make a `deny` disappear. The problem names the offending path.
    case refused(ACLFileProblem)
}

/// What an `ACLFileSource` found at a directory include (`include /etc/qemu/bridge.d/`).
public enum ACLDirectoryLoad: Sendable, Equatable {
    /// The file names (not paths) of the directory's regular files whose names end in `.conf`
    /// and do not start with `.`, in any order. Symbolic links, directories and other entries
    /// are left out, as the contract says ("other entries are ignored").
    case names([[UInt8]])
    /// Missing, or not readable by the caller: skipped like a missing include.
    case unavailable
    /// The directory, or a directory on the way to it, fails the checks every ACL path gets.
    case refused(ACLFileProblem)
}

/// Reads ACL files. The helper's implementation walks the path from `/` with the caller's
/// credentials; tests use an in-memory tree. The loader calls one source for one load, in reading
/// order, so a source may keep state for that load (the helper's keeps the directories it
/// verified); a class does, without the protocol needing `mutating`.
public protocol ACLFileSource: AnyObject {
    func load(path: [UInt8]) -> ACLFileLoad
    /// Lists a drop-in directory; `path` ends with `/`. The loader loads each name it returns
    /// with `load(path:)`, so every check of an ACL file applies to each drop-in file.
    func list(directory path: [UInt8]) -> ACLDirectoryLoad
    /// Which of one file's include lines name files that are certainly unavailable (`load`
    /// would return `.unavailable`), asked once per file after its first pass, before its
    /// includes are expanded in order. `bytes[ranges[i]]` is the path of the i-th include line
    /// as written; the answer has one element per range (true: unavailable), or is nil for no
    /// answers. A true answer is skipped exactly as `load` returning `.unavailable` would be,
    /// after the same limit checks; every other include is loaded (and so is a drop-in
    /// directory's, ending in `/`, whatever the answer).
    /// The default answers nothing. The helper's reader asks the kernel about 10,000 per-user
    /// files at once, on every CPU, instead of one at a time in order.
    func unavailable(includes bytes: UnsafeBufferPointer<UInt8>, at ranges: [Range<Int>]) -> [Bool]?
}

extension ACLFileSource {
    public func unavailable(includes bytes: UnsafeBufferPointer<UInt8>, at ranges: [Range<Int>]) -> [Bool]? { nil }
}

/// Limits that keep a hostile or broken file tree from exhausting the helper.
public struct ACLLimits: Sendable {
    /// Includes nest at most this deep (the top-level file is depth 0).
    public var maximumDepth = 16
    /// At most this many files are read in total (diamond-shaped includes could otherwise read
    /// 2^16 files without any cycle).
    public var maximumFiles = 256
    /// At most this many bytes are read from all files together. Each file may hold 1 MiB, and
    /// without a total 256 such files would be 256 MiB of text (contract §5, issue 7 item 4).
    public var maximumTotalBytes = 4 << 20
    /// At most this many `allow`, `deny` and `include` lines in all files together. This bounds
    /// the memory of the expanded policy (about 100 bytes a rule at worst), far below the 64 MiB
    /// address space the helper runs with, and the time spent on includes of missing files.
    public var maximumDirectives = 100_000
    public init() {}
}

/// The rules of the top-level file with every include expanded in place, in file order.
public struct Policy: Sendable, Equatable {
    public let rules: [Rule]
    /// Every file that was read, in reading order (the top-level file first).
    public let filesRead: [[UInt8]]
    /// Includes that were skipped because they do not exist or are not readable by the caller.
    public let skippedIncludes: [SourceLocation]
}

/// Why no policy could be established. Every case refuses the request.
public enum PolicyError: Error, Equatable, Sendable, CustomStringConvertible {
    case topLevelUnavailable(path: [UInt8])
    case refused(path: [UInt8], reason: ACLFileProblem, includedAt: SourceLocation?)
    case syntax(SyntaxError)
    case includeCycle(path: [UInt8], at: SourceLocation)
    case tooDeep(at: SourceLocation, limit: Int)
    case tooManyFiles(at: SourceLocation, limit: Int)
    case tooManyBytes(at: SourceLocation, limit: Int)
    case tooManyDirectives(at: SourceLocation, limit: Int)

    public var description: String {
        guard let location else { return message }
        return "\(location): \(message)"
    }

    /// Where the error is: the line of the including file, of the offending directive or of the
    /// syntax error; nil for the top-level file itself.
    public var location: SourceLocation? {
        switch self {
        case .topLevelUnavailable: return nil
        case .refused(_, _, let includedAt): return includedAt
        case .syntax(let error): return error.location
        case .includeCycle(_, let at), .tooDeep(let at, _), .tooManyFiles(let at, _),
             .tooManyBytes(let at, _), .tooManyDirectives(let at, _):
            return at
        }
    }

    /// What is wrong, without the location (`bridgekeeper lint` prints the location its own way).
    public var message: String {
        switch self {
        case .topLevelUnavailable(let path):
            return "\(Escaping.escape(path)) does not exist or is not readable by this user"
        case .refused(_, let reason, let includedAt):
            return includedAt == nil ? reason.description : "include refused: \(reason)"
        case .syntax(let error):
            return error.message
        case .includeCycle(let path, _):
            return "include cycle: \(Escaping.escape(path)) is already being read"
        case .tooDeep(_, let limit):
            return "includes are nested more than \(limit) levels deep"
        case .tooManyFiles(_, let limit):
            return "more than \(limit) files included in total"
        case .tooManyBytes(_, let limit):
            return "more than \(limit) bytes of ACL files in total"
        case .tooManyDirectives(_, let limit):
            return "more than \(limit) rules and includes in total"
        }
    }
}

public enum PolicyLoader {
    /// Reads `path` and every file it includes, depth first, and returns the expanded rules.
    /// Fails closed on anything but a missing or unreadable include.
    ///
    /// With `device`, only the rules that can decide about that device are kept: those naming
    /// `all` or one of its names. Every line of every file is still checked and counted exactly
    /// as without it (the same errors, at the same lines, and the same limits), and
    /// `decide(device:...)` gives the same answer for that device; only the rules about other
    /// bridges are not built (a site's policy can hold 10,000 rules, one per user's bridge).
    public static func load(path: [UInt8], from source: some ACLFileSource,
                            limits: ACLLimits = ACLLimits(), device: DeviceNames? = nil) -> Result<Policy, PolicyError> {
        var state = LoadState(source: source, limits: limits)
        if let device { state.filter = Grammar.DeviceFilter(names: device.all.map { $0.bytes }) }
        switch source.load(path: path) {
        case .unavailable:
            return .failure(.topLevelUnavailable(path: path))
        case .refused(let reason):
            return .failure(.refused(path: path, reason: reason, includedAt: nil))
        case .contents(let bytes, let identity):
            if bytes.count > limits.maximumTotalBytes {
                return .failure(.refused(path: path, reason: .tooLarge(path, limit: limits.maximumTotalBytes),
                                         includedAt: nil))
            }
            state.bytesRead = bytes.count
            state.filesRead.append(path)
            if let error = state.expand(bytes, path: path, identity: identity, depth: 0) {
                return .failure(error)
            }
        }
        return .success(Policy(rules: state.rules, filesRead: state.filesRead,
                               skippedIncludes: state.skipped))
    }
}

/// Not generic over the source: the loader is called from other modules, where a generic
/// type's code would run unspecialised (metadata lookups and witness calls for every line of
/// every file); the source is called once per file, through the existential.
private struct LoadState {
    let source: any ACLFileSource
    let limits: ACLLimits
    var rules: [Rule] = []
    /// The device whose rules are built (nil: every rule is): `Grammar.quickScan` settles most
    /// lines about other bridges with it, and the full parser asks it about the rest.
    var filter: Grammar.DeviceFilter?
    /// The line numbers of rules checked but not built, in file order; `Kept.dropped` ranges
    /// index into it, so they are counted against the limits at their place in the expansion.
    var droppedLines: [Int] = []
    var filesRead: [[UInt8]] = []
    var skipped: [SourceLocation] = []
    var bytesRead = 0
    var directivesRead = 0
    /// Directives kept from first passes of the files on the include chain.
    var buffered = 0
    /// The files currently being expanded (the include chain), for cycle detection by identity,
    /// so a cycle through a hard link or another path to the same file is still caught.
    var chain: [FileIdentity] = []

    init(source: any ACLFileSource, limits: ACLLimits) {
        self.source = source
        self.limits = limits
    }

    /// The whole file is checked before any of its includes is read (a syntax error anywhere
    /// refuses first, as a whole-file parse would). The directives of that first pass are kept
    /// for the expansion while the kept directives of all files being expanded stay within
    /// `bufferedDirectiveLimit`; a file beyond that is parsed a second time, line by line, so
    /// memory grows with the rules accepted, never with the size of a parse of all files.
    /// A directive kept from a file's first pass, or a run of rules that were checked but not
    /// built (`droppedLines[range]`).
    enum Kept {
        /// Boxed: a rule is large, and the other cases (most of a 10,000-line file) are not.
        indirect case directive(Directive)
        case dropped(Range<Int>)
        /// An include line the quick scan read: its path's bytes in the file's buffer.
        case include(Range<Int>, line: Int)
    }

    /// What the first pass over one file keeps.
    struct FirstPass {
        var kept: [Kept] = []
        var keepingAll = true
        /// Where this file's dropped lines start in `droppedLines`.
        let droppedStart: Int
        /// A run of dropped rules is one `Kept.dropped`, whose end is written when the run ends.
        var runStart: Int?
        /// How many `Kept.include` items were seen.
        var includes = 0

        init(droppedStart: Int, capacity: Int) {
            self.droppedStart = droppedStart
            // About one directive per 16 bytes in a large file (a 10,000-include file has
            // 36-byte lines): room up front instead of copies at every doubling.
            kept.reserveCapacity(capacity)
        }

        mutating func closeRun(lines: [Int]) {
            if let start = runStart {
                kept[kept.count - 1] = .dropped(start..<lines.count)
                runStart = nil
            }
        }

        mutating func dropped(_ number: Int, lines: inout [Int], buffered: inout Int) {
            guard keepingAll else { return }
            if runStart == nil {
                runStart = lines.count
                kept.append(.dropped(lines.count..<lines.count))
                buffered += 1
            }
            lines.append(number)
        }

        mutating func keep(_ item: Kept, lines: inout [Int], buffered: inout Int) {
            guard keepingAll else { return }
            closeRun(lines: lines)
            if buffered < LoadState.bufferedDirectiveLimit {
                kept.append(item)
                buffered += 1
            } else {
                keepingAll = false
                buffered -= kept.count
                kept = []
                lines.removeSubrange(droppedStart...)
            }
        }
    }

    mutating func expand(_ bytes: [UInt8], path: [UInt8], identity: FileIdentity, depth: Int) -> PolicyError? {
        // The lines are read through the buffer: slices of it carry no reference to count.
        bytes.withUnsafeBufferPointer { buffer in expand(buffer, path: path, identity: identity, depth: depth) }
    }

    mutating func expand(_ bytes: UnsafeBufferPointer<UInt8>, path: [UInt8], identity: FileIdentity, depth: Int) -> PolicyError? {
        // Local copies: passing a stored property from a mutating method would retain and
        // release the closure for every line.
        let filter = self.filter
        let keeping: ((Slice<UnsafeBufferPointer<UInt8>>) -> Bool)? = filter.map { filter in { filter.keeps($0) } }
        // The first pass: plain locals and a loop without closures (a captured variable would
        // be boxed and checked for exclusive access on every line).
        var pass = FirstPass(droppedStart: droppedLines.count,
                             capacity: Swift.min(bytes.count / 16, Self.bufferedDirectiveLimit))
        droppedLines.reserveCapacity(droppedLines.count + Swift.min(bytes.count / 16, 65_536))
        var syntaxError: SyntaxError?
        var start = bytes.startIndex
        var number = 0
        while let base = bytes.baseAddress {
            let end = Self.newline(in: base, from: start, to: bytes.endIndex)
            number += 1
            let line = bytes[start..<end]
            var quick = Grammar.QuickScan.slow
            if let filter { quick = Grammar.quickScan(line, device: filter) }
            switch quick {
            case .nothing: break
            case .droppedRule: pass.dropped(number, lines: &droppedLines, buffered: &buffered)
            case .include(let range):
                pass.keep(.include((start + range.lowerBound)..<(start + range.upperBound), line: number),
                          lines: &droppedLines, buffered: &buffered)
                pass.includes += 1
            case .slow:
                switch Grammar.parse(line, path: path, lineNumber: number, keeping: keeping) {
                case .failure(let error): syntaxError = error
                case .nothing: break
                case .droppedRule: pass.dropped(number, lines: &droppedLines, buffered: &buffered)
                case .directive(let directive): pass.keep(.directive(directive), lines: &droppedLines, buffered: &buffered)
                }
            }
            if syntaxError != nil || end == bytes.endIndex { break }
            start = end + 1
        }
        if pass.keepingAll { pass.closeRun(lines: droppedLines) }
        let kept = pass.kept
        let keepingAll = pass.keepingAll
        let droppedStart = pass.droppedStart
        defer {
            buffered -= kept.count
            droppedLines.removeSubrange(droppedStart...)
        }
        if let syntaxError { return .syntax(syntaxError) }
        chain.append(identity)
        defer { chain.removeLast() }
        var failure: PolicyError?
        if keepingAll {
            var unavailable: [Bool]?
            if pass.includes >= 2 {
                var ranges: [Range<Int>] = []
                ranges.reserveCapacity(pass.includes)
                for item in kept {
                    if case .include(let range, _) = item { ranges.append(range) }
                }
                unavailable = source.unavailable(includes: bytes, at: ranges)
                if unavailable?.count != ranges.count { unavailable = nil }
            }
            var includeIndex = 0
            for item in kept {
                switch item {
                case .directive(let directive): failure = handle(directive, depth: depth)
                case .dropped(let range): failure = countDropped(droppedLines[range], path: path)
                case .include(let range, let line):
                    let location = SourceLocation(path: path, line: line)
                    if let unavailable, unavailable[includeIndex], bytes[range.upperBound - 1] != UInt8(ascii: "/") {
                        failure = skipInclude(at: location, depth: depth)
                    } else {
                        failure = handleInclude(Array(bytes[range]), at: location, depth: depth)
                    }
                    includeIndex += 1
                }
                if case .some = failure { break }
            }
        } else {
            Self.forEachLine(bytes) { line, number in
                // The first pass accepted every line.
                if let filter {
                    switch Grammar.quickScan(line, device: filter) {
                    case .nothing: return true
                    case .droppedRule:
                        failure = countDropped(CollectionOfOne(number), path: path)
                        if case .some = failure { return false }
                        return true
                    case .include(let range):
                        failure = handleInclude(Array(line[(line.startIndex + range.lowerBound)..<(line.startIndex + range.upperBound)]),
                                                at: SourceLocation(path: path, line: number), depth: depth)
                        if case .some = failure { return false }
                        return true
                    case .slow: break
                    }
                }
                switch Grammar.parse(line, path: path, lineNumber: number, keeping: keeping) {
                case .directive(let directive): failure = handle(directive, depth: depth)
                case .droppedRule: failure = countDropped([number], path: path)
                case .nothing, .failure: return true
                }
                if case .some = failure { return false }
                return true
            }
        }
        return failure
    }

    /// Rules checked but not built count against `maximumDirectives` like any other.
    mutating func countDropped(_ lines: some Collection<Int>, path: [UInt8]) -> PolicyError? {
        for line in lines {
            directivesRead += 1
            if directivesRead > limits.maximumDirectives {
                return .tooManyDirectives(at: SourceLocation(path: path, line: line), limit: limits.maximumDirectives)
            }
        }
        return nil
    }

    /// At most this many directives are kept between the two passes, over all files being
    /// expanded (about 1 MiB): a per-user top-level file of 10,000 includes is parsed once.
    static var bufferedDirectiveLimit: Int { 16_384 }

    /// One directive of a file being expanded, counted against `maximumDirectives`.
    mutating func handle(_ directive: Directive, depth: Int) -> PolicyError? {
        switch directive {
        case .rule(let rule):
            directivesRead += 1
            if directivesRead > limits.maximumDirectives {
                return .tooManyDirectives(at: rule.location, limit: limits.maximumDirectives)
            }
            rules.append(rule)
            return nil
        case .include(let includePath, let location):
            return handleInclude(includePath, at: location, depth: depth)
        }
    }

    /// One include line of a file being expanded, counted against `maximumDirectives`.
    mutating func handleInclude(_ includePath: [UInt8], at location: SourceLocation, depth: Int) -> PolicyError? {
        if let failure = countInclude(at: location) { return failure }
        return include(includePath, at: location, depth: depth + 1)
    }

    mutating func countInclude(at location: SourceLocation) -> PolicyError? {
        directivesRead += 1
        if directivesRead > limits.maximumDirectives {
            return .tooManyDirectives(at: location, limit: limits.maximumDirectives)
        }
        return nil
    }

    /// An include of a file the source already said is unavailable: what `handleInclude`
    /// does for it, in the same order (count, depth, file limit), without loading it.
    mutating func skipInclude(at location: SourceLocation, depth: Int) -> PolicyError? {
        if let failure = countInclude(at: location) { return failure }
        if let failure = checkDepth(depth + 1, at: location) { return failure }
        if let failure = checkFileCount(at: location) { return failure }
        skipped.append(location)
        return nil
    }

    func checkDepth(_ depth: Int, at location: SourceLocation) -> PolicyError? {
        depth > limits.maximumDepth ? .tooDeep(at: location, limit: limits.maximumDepth) : nil
    }

    func checkFileCount(at location: SourceLocation) -> PolicyError? {
        filesRead.count >= limits.maximumFiles ? .tooManyFiles(at: location, limit: limits.maximumFiles) : nil
    }

    /// Calls `body` with each line (without its `\n`) and its 1-based number, exactly the lines
    /// of `split(separator: 0x0A, omittingEmptySubsequences: false)`, until `body` returns false.
    static func forEachLine(_ bytes: UnsafeBufferPointer<UInt8>, _ body: (Slice<UnsafeBufferPointer<UInt8>>, Int) -> Bool) {
        guard let base = bytes.baseAddress else {
            _ = body(bytes[...], 1)
            return
        }
        var start = bytes.startIndex
        var number = 0
        while true {
            let end = Self.newline(in: base, from: start, to: bytes.endIndex)
            number += 1
            if !body(bytes[start..<end], number) || end == bytes.endIndex { return }
            start = end + 1
        }
    }

    /// The index of the first `\n` in `base[from..<to]`, or `to`: eight bytes per step (the
    /// newline search touches every byte of a 10,000-rule policy; BridgeACL has no libc for
    /// `memchr`).
    @_optimize(speed)
    static func newline(in base: UnsafePointer<UInt8>, from: Int, to: Int) -> Int {
        let raw = UnsafeRawPointer(base)
        var index = from
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let newlines: UInt64 = 0x0A0A_0A0A_0A0A_0A0A
        while to - index >= 8 {
            // A zero byte in word ^ newlines is a newline. The classic test marks every zero
            // byte, and can mark a byte above a zero byte wrongly (a borrow), never one below:
            // the lowest mark (little-endian: the first byte in memory) is the first newline.
            let word = raw.loadUnaligned(fromByteOffset: index, as: UInt64.self) ^ newlines
            let zeros = (word &- ones) & ~word & highs
            if zeros != 0 { return index + zeros.trailingZeroBitCount / 8 }
            index += 8
        }
        while index < to && base[index] != 0x0A { index += 1 }
        return index
    }

    mutating func include(_ path: [UInt8], at location: SourceLocation, depth: Int) -> PolicyError? {
        if let failure = checkDepth(depth, at: location) { return failure }
        if path.last == UInt8(ascii: "/") { return includeDirectory(path, at: location, depth: depth) }
        return includeFile(path, at: location, depth: depth)
    }

    /// A drop-in directory: its `*.conf` files in byte order of name, each included in place
    /// as if the directory's include line were one include line per file. A missing, unreadable
    /// or empty directory is skipped like a missing include.
    mutating func includeDirectory(_ path: [UInt8], at location: SourceLocation, depth: Int) -> PolicyError? {
        switch source.list(directory: path) {
        case .unavailable:
            skipped.append(location)
            return nil
        case .refused(let reason):
            return .refused(path: path, reason: reason, includedAt: location)
        case .names(let listed):
            // The source's contract says what it returns; the loader does not rely on it for
            // the shape of a name (a `/` or `..` would leave the directory).
            let names = listed.filter(Self.isDropInName).sorted { $0.lexicographicallyPrecedes($1) }
            if names.isEmpty {
                skipped.append(location)
                return nil
            }
            if names.count > limits.maximumFiles - filesRead.count {
                return .tooManyFiles(at: location, limit: limits.maximumFiles)
            }
            for name in names {
                if let failure = includeFile(path + name, at: location, depth: depth) { return failure }
            }
            return nil
        }
    }

    /// `NAME.conf`: at least one byte before `.conf`, no leading `.`, no `/`.
    static func isDropInName(_ name: [UInt8]) -> Bool {
        let suffix = Array(".conf".utf8)
        return name.count > suffix.count && name.first != UInt8(ascii: ".") && !name.contains(UInt8(ascii: "/"))
            && name.suffix(suffix.count).elementsEqual(suffix) && !name.contains(0)
    }

    mutating func includeFile(_ path: [UInt8], at location: SourceLocation, depth: Int) -> PolicyError? {
        if let failure = checkFileCount(at: location) { return failure }
        switch source.load(path: path) {
        case .unavailable:
            skipped.append(location)
            return nil
        case .refused(let reason):
            return .refused(path: path, reason: reason, includedAt: location)
        case .contents(let bytes, let identity):
            if chain.contains(identity) { return .includeCycle(path: path, at: location) }
            if bytes.count > limits.maximumTotalBytes - bytesRead {
                return .tooManyBytes(at: location, limit: limits.maximumTotalBytes)
            }
            bytesRead += bytes.count
            filesRead.append(path)
            return expand(bytes, path: path, identity: identity, depth: depth)
        }
    }
}
