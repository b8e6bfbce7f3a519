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
    /// able to make a `deny` disappear. The reason names the offending path.
    case refused(String)
}

/// Reads ACL files. The helper's implementation walks the path from `/` with the caller's
/// credentials; tests use an in-memory tree.
public protocol ACLFileSource {
    func load(path: [UInt8]) -> ACLFileLoad
}

/// Limits that keep a hostile or broken file tree from exhausting the helper.
public struct ACLLimits: Sendable {
    /// Includes nest at most this deep (the top-level file is depth 0).
    public var maximumDepth = 16
    /// At most this many files are read in total (diamond-shaped includes could otherwise read
    /// 2^16 files without any cycle).
    public var maximumFiles = 256
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
    case refused(path: [UInt8], reason: String, includedAt: SourceLocation?)
    case syntax(SyntaxError)
    case includeCycle(path: [UInt8], at: SourceLocation)
    case tooDeep(at: SourceLocation, limit: Int)
    case tooManyFiles(at: SourceLocation, limit: Int)

    public var description: String {
        switch self {
        case .topLevelUnavailable(let path):
            return "\(Escaping.escape(path)) does not exist or is not readable by this user"
        case .refused(_, let reason, let includedAt?):
            return "\(includedAt): include refused: \(reason)"
        case .refused(_, let reason, nil):
            return reason
        case .syntax(let error):
            return error.description
        case .includeCycle(let path, let at):
            return "\(at): include cycle: \(Escaping.escape(path)) is already being read"
        case .tooDeep(let at, let limit):
            return "\(at): includes are nested more than \(limit) levels deep"
        case .tooManyFiles(let at, let limit):
            return "\(at): more than \(limit) files included in total"
        }
    }
}

public enum PolicyLoader {
    /// Reads `path` and every file it includes, depth first, and returns the expanded rules.
    /// Fails closed on anything but a missing or unreadable include.
    public static func load(path: [UInt8], from source: some ACLFileSource,
                            limits: ACLLimits = ACLLimits()) -> Result<Policy, PolicyError> {
        var state = LoadState(source: source, limits: limits)
        switch source.load(path: path) {
        case .unavailable:
            return .failure(.topLevelUnavailable(path: path))
        case .refused(let reason):
            return .failure(.refused(path: path, reason: reason, includedAt: nil))
        case .contents(let bytes, let identity):
            state.filesRead.append(path)
            if let error = state.expand(bytes, path: path, identity: identity, depth: 0) {
                return .failure(error)
            }
        }
        return .success(Policy(rules: state.rules, filesRead: state.filesRead,
                               skippedIncludes: state.skipped))
    }
}

private struct LoadState<Source: ACLFileSource> {
    let source: Source
    let limits: ACLLimits
    var rules: [Rule] = []
    var filesRead: [[UInt8]] = []
    var skipped: [SourceLocation] = []
    /// The files currently being expanded (the include chain), for cycle detection by identity,
    /// so a cycle through a hard link or another path to the same file is still caught.
    var chain: [FileIdentity] = []

    init(source: Source, limits: ACLLimits) {
        self.source = source
        self.limits = limits
    }

    mutating func expand(_ bytes: [UInt8], path: [UInt8], identity: FileIdentity, depth: Int) -> PolicyError? {
        let directives: [Directive]
        switch Grammar.parse(bytes, path: path) {
        case .success(let parsed): directives = parsed
        case .failure(let error): return .syntax(error)
        }
        chain.append(identity)
        defer { chain.removeLast() }
        for directive in directives {
            switch directive {
            case .rule(let rule):
                rules.append(rule)
            case .include(let includePath, let location):
                if let error = include(includePath, at: location, depth: depth + 1) { return error }
            }
        }
        return nil
    }

    mutating func include(_ path: [UInt8], at location: SourceLocation, depth: Int) -> PolicyError? {
        if depth > limits.maximumDepth { return .tooDeep(at: location, limit: limits.maximumDepth) }
        if filesRead.count >= limits.maximumFiles {
            return .tooManyFiles(at: location, limit: limits.maximumFiles)
        }
        switch source.load(path: path) {
        case .unavailable:
            skipped.append(location)
            return nil
        case .refused(let reason):
            return .refused(path: path, reason: reason, includedAt: location)
        case .contents(let bytes, let identity):
            if chain.contains(identity) { return .includeCycle(path: path, at: location) }
            filesRead.append(path)
            return expand(bytes, path: path, identity: identity, depth: depth)
        }
    }
}
