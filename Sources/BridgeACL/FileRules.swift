/// The rules every ACL file and every directory above it must meet (contract §5), and the
/// wording of each refusal. The reader that applies them (BridgeSystem's SafeFileReader) reports
/// facts; what counts as safe and how it is said live here, with the rest of the policy.
public enum ACLFileRules {
    /// A file larger than this is refused (one file; the total is `ACLLimits.maximumTotalBytes`).
    public static let maximumFileSize = 1 << 20
    /// Group- and other-write bits: either makes a file or directory unsafe.
    public static let forbiddenModeBits: UInt32 = 0o022

    /// Nil when an object owned by `owner` with permission bits `mode` may hold or lead to
    /// policy: owned by root and writable by nobody else.
    public static func ownershipProblem(at path: [UInt8], owner: UInt32, mode: UInt32) -> ACLFileProblem? {
        if owner != 0 { return .notOwnedByRoot(path, owner: owner) }
        if mode & forbiddenModeBits != 0 { return .writableByOthers(path, mode: mode & 0o7777) }
        return nil
    }
}

/// Why a path given to an `ACLFileSource` was refused: a fact about one object, named by the
/// path that was walked to it. Never a skip: every case refuses the request.
public enum ACLFileProblem: Hashable, Sendable, CustomStringConvertible {
    case notAbsolute([UInt8])
    case dotComponent([UInt8])
    case namesDirectory([UInt8])
    case symbolicLink([UInt8])
    case notDirectory([UInt8])
    case notRegularFile([UInt8])
    case notOwnedByRoot([UInt8], owner: UInt32)
    case writableByOthers([UInt8], mode: UInt32)
    case tooLarge([UInt8], limit: Int)
    /// The object changed between the check before opening and the one after (a swap).
    case changed([UInt8])
    /// A system call failed for another reason than "missing" or "not readable"; `error` is the
    /// C library's text for the errno, `operation` what was being done, if not the walk itself.
    case systemError([UInt8], operation: String?, error: String)
    /// A refusal from another file source than the helper's reader (in-memory test trees).
    case other([UInt8], String)

    /// The path the problem is about.
    public var path: [UInt8] {
        switch self {
        case .notAbsolute(let p), .dotComponent(let p), .namesDirectory(let p), .symbolicLink(let p),
             .notDirectory(let p), .notRegularFile(let p), .notOwnedByRoot(let p, _), .writableByOthers(let p, _),
             .tooLarge(let p, _), .changed(let p), .systemError(let p, _, _), .other(let p, _):
            return p
        }
    }

    public var description: String {
        let shown = Escaping.escape(path)
        switch self {
        case .notAbsolute: return "\(shown): not an absolute path"
        case .dotComponent: return "\(shown): '.' and '..' are not allowed in ACL paths"
        case .namesDirectory: return "\(shown): names a directory"
        case .symbolicLink: return "\(shown) is a symbolic link; ACL paths must name the real file"
        case .notDirectory: return "\(shown) is not a directory"
        case .notRegularFile: return "\(shown) is not a regular file"
        case .notOwnedByRoot(_, let owner):
            return "\(shown) is owned by uid \(owner), not root; ACL files and their directories must be root's"
        case .writableByOthers(_, let mode):
            return "\(shown) is writable by group or others (mode \(Self.octal(mode))); run chmod go-w on it"
        case .tooLarge(_, let limit): return "\(shown) is larger than \(limit) bytes"
        case .changed: return "\(shown) changed while it was being checked"
        case .systemError(_, let operation?, let error): return "\(shown): \(operation): \(error)"
        case .systemError(_, nil, let error): return "\(shown): \(error)"
        case .other(_, let reason): return reason
        }
    }

    static func octal(_ value: UInt32) -> String {
        var digits = ""
        var rest = value
        repeat {
            digits = String(rest % 8) + digits
            rest /= 8
        } while rest > 0
        return "0" + digits
    }
}
