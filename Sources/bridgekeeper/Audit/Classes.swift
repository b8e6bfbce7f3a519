import BridgeACL
import CBridgeShims
import Glibc

/// Which users are certain to decide identically, so that one walk can stand for all of them.
///
/// Why sharing is exact: a walk is a deterministic function of the outcome of each load, and a
/// load's outcome for a user depends on the user only through the kernel's permission checks on
/// the objects it touches (`/`, every directory on the way, the file). For a caller whose
/// capabilities were dropped (as the helper's are), the kernel's check on an object
/// (generic_permission, posix_acl_permission) looks at: whether the fsuid is the object's owner
/// or named in an ACL_USER entry, else whether the fsgid or a supplementary group is the
/// object's group or named in an ACL_GROUP entry, else the other bits. So two users get the same
/// answer on an object when (a) neither uid is its owner or in its ACL_USER entries, or both are
/// the same uid, and (b) their group sets agree on its group and its ACL_GROUP entries.
///
/// `ScopeSurvey` reads, as root, every file reachable from the top-level file through includes
/// (a superset of what any user's walk can reach: a user reads only files root can read too, and
/// a file with a syntax error yields no includes to anyone), and notes the owner, group and POSIX
/// ACL ids of every object on every path. A user's class key is then their uid if it is
/// "relevant" (an owner or ACL_USER id somewhere, or 0: root is its own class), and the set of
/// their groups that are relevant. Users with one key get the same answer on every object of the
/// survey, hence the same walk. After the representative's walk, every path it loaded is checked
/// to be in the survey; if one is not (the files changed in between), or the survey could not
/// read something, sharing is not proven and every member is evaluated on its own.
struct ScopeSurvey {
    /// Every file path the survey visited (each include path named anywhere, and the top).
    private(set) var paths = Set<[UInt8]>()
    private(set) var relevantUsers: Set<UInt32> = [0]
    private(set) var relevantGroups = Set<UInt32>()
    /// False if something could not be examined: then no sharing is proven.
    private(set) var complete = true
    /// Bridge names in every rule of every file read.
    private(set) var namedBridges = Set<InterfaceName>()

    private var examined = Set<[UInt8]>()

    /// More than this many files: stop and share nothing (a bound on the survey's own cost).
    static let maximumFiles = 200_000

    init(acl: [UInt8]) {
        var queue = [acl]
        paths.insert(acl)
        while let path = queue.popLast() {
            if paths.count > Self.maximumFiles {
                complete = false
                return
            }
            for include in survey(path) where paths.insert(include).inserted {
                queue.append(include)
            }
        }
    }

    /// Notes every object on `path` and returns the includes of the file, if it is readable.
    private mutating func survey(_ path: [UInt8]) -> [[UInt8]] {
        let components = path.split(separator: UInt8(ascii: "/"))
        var prefixes: [[UInt8]] = [[UInt8(ascii: "/")]]
        var walked: [UInt8] = []
        for component in components {
            walked += [UInt8(ascii: "/")] + component
            prefixes.append(walked)
        }
        var leaf = stat()
        for prefix in prefixes {
            guard examined.insert(prefix).inserted else { continue }
            var info = stat()
            let cPath = prefix.map { CChar(bitPattern: $0) } + [0]
            guard lstat(cPath, &info) == 0 else {
                // Nothing there (or not reachable even by root): no object to examine below.
                if errno != ENOENT && errno != ENOTDIR { complete = false }
                return []
            }
            relevantUsers.insert(info.st_uid)
            relevantGroups.insert(info.st_gid)
            noteAccessACL(cPath)
            if prefix == path { leaf = info }
        }
        guard leaf.st_mode & S_IFMT == S_IFREG, leaf.st_size <= 1 << 20 else { return [] }
        let fd = open(path.map { CChar(bitPattern: $0) } + [0], O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else {
            complete = false
            return []
        }
        let contents = readAll(fd)
        close(fd)
        guard case .success(let directives) = Grammar.parse(contents, path: path) else { return [] }
        var includes: [[UInt8]] = []
        for directive in directives {
            switch directive {
            case .include(let include, _): includes.append(include)
            case .rule(let rule): if case .named(let name) = rule.bridge { namedBridges.insert(name) }
            }
        }
        return includes
    }

    /// The ACL_USER and ACL_GROUP ids of the object's access ACL (system.posix_acl_access:
    /// a 4-byte version 2, then 8-byte entries: tag u16, permissions u16, id u32, little-endian).
    private mutating func noteAccessACL(_ cPath: [CChar]) {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let size = bk_lgetxattr(cPath, "system.posix_acl_access", &buffer, buffer.count)
        if size < 0 {
            // No ACL, or a file system without them: only the mode bits count.
            if errno != ENODATA && errno != EOPNOTSUPP { complete = false }
            return
        }
        guard size >= 4, (size - 4) % 8 == 0 else {
            complete = false
            return
        }
        var offset = 4
        while offset + 8 <= size {
            let tag = UInt16(buffer[offset]) | UInt16(buffer[offset + 1]) << 8
            let id = (0..<4).reduce(UInt32(0)) { $0 | UInt32(buffer[offset + 4 + $1]) << UInt32(8 * $1) }
            if tag == 0x02 { relevantUsers.insert(id) }   // ACL_USER
            if tag == 0x08 { relevantGroups.insert(id) }  // ACL_GROUP
            offset += 8
        }
    }

    /// The part of an identity the survey's objects can tell apart.
    struct ClassKey: Hashable {
        let uid: UInt32?
        let groups: [UInt32]
    }

    /// Users with equal keys decide identically (see the type's comment).
    func key(_ identity: Identity) -> ClassKey {
        // The kernel's group check matches the fsgid and the supplementary groups alike.
        let groups = Set(identity.groups + [identity.gid]).intersection(relevantGroups).sorted()
        return ClassKey(uid: relevantUsers.contains(identity.uid) ? identity.uid : nil, groups: groups)
    }

    /// Whether a representative's walk stayed inside the survey.
    func covers(_ result: WalkResult) -> Bool {
        guard complete, case .loads(let records) = result else { return false }
        return records.allSatisfy { paths.contains($0.path) }
    }
}
