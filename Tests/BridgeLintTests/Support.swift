import BridgeACL
import BridgeLint
import Testing

let topLevelPath = "/etc/qemu/bridge.conf"

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// An in-memory host for lint (like BridgeACLTests' MemoryACLTree): files with identities,
/// paths that are refused as the real reader would, paths that exist but cannot be read,
/// restricted files (not readable by every user) and the devices of the network namespace.
/// Anything else is missing.
final class MemoryHost: ACLFileSource, LintSystem {
    private(set) var files: [[UInt8]: ACLFileLoad] = [:]
    private var nextInode: UInt64 = 1
    var unreadable: Set<[UInt8]> = []
    var restricted: [[UInt8]: String] = [:]
    /// Devices by every name: (canonical, alternatives, kind).
    var devices: [[UInt8]: LinkLookup] = [:]
    var linkFailure: String?
    /// VLAN filtering by any name of a bridge; `.on` for bridges not listed.
    var filtering: [[UInt8]: VlanFiltering] = [:]
    /// The name service: known users and groups, and names whose lookup fails (errno).
    var users: [[UInt8]: UInt32] = [:]
    var groups: [[UInt8]: UInt32] = [:]
    var failing: [[UInt8]: Int32] = [:]

    init(_ texts: KeyValuePairs<String, String> = [:]) {
        for (path, text) in texts { add(path, text) }
    }

    func add(_ path: String, _ text: String) { add(path, contents: bytes(text)) }

    func add(_ path: String, contents: [UInt8]) {
        files[bytes(path)] = .contents(contents, identity: FileIdentity(device: 1, inode: nextInode))
        nextInode += 1
    }

    func link(_ path: String, to existing: String) { files[bytes(path)] = files[bytes(existing)] }
    func refuse(_ path: String, _ reason: String) { files[bytes(path)] = .refused(.other(bytes(path), reason)) }
    func hide(_ path: String) { unreadable.insert(bytes(path)) }
    func restrict(_ path: String, _ reason: String) { restricted[bytes(path)] = reason }

    /// A device with its names; kind "bridge" unless given.
    func device(_ canonical: String, alternatives: [String] = [], kind: String? = "bridge") {
        let lookup = LinkLookup.present(canonical: bytes(canonical), alternatives: alternatives.map(bytes),
                                        kind: kind.map(bytes))
        for name in [canonical] + alternatives { devices[bytes(name)] = lookup }
    }

    func load(path: [UInt8]) -> ACLFileLoad {
        if unreadable.contains(path) { return .unavailable }
        return files[path] ?? .unavailable
    }

    /// Drop-in directories: the regular `*.conf` files directly below `path`.
    func list(directory path: [UInt8]) -> ACLDirectoryLoad {
        if unreadable.contains(path) { return .unavailable }
        let names = files.keys.filter { $0.count > path.count && $0.starts(with: path) && !$0[path.count...].contains(UInt8(ascii: "/")) }
            .map { Array($0[path.count...]) }
        return names.isEmpty ? .unavailable : .names(names)
    }

    func absence(of path: [UInt8]) -> Absence { unreadable.contains(path) ? .unreadable : .missing }
    func restriction(of path: [UInt8]) -> String? { restricted[path] }
    func user(_ name: String, _ uid: UInt32) { users[bytes(name)] = uid }
    func group(_ name: String, _ gid: UInt32) { groups[bytes(name)] = gid }
    func failLookUp(_ name: String, errno: Int32) { failing[bytes(name)] = errno }
    func filter(_ bridge: String, _ state: VlanFiltering) { filtering[bytes(bridge)] = state }

    func vlanFiltering(of name: InterfaceName) -> VlanFiltering { filtering[name.bytes] ?? .on }

    func lookUp(_ name: [UInt8], kind: NameKind) -> NameLookup {
        if let errno = failing[name] { return .failed(errno: errno) }
        let id = kind == .user ? users[name] : groups[name]
        return id.map(NameLookup.found) ?? .notFound
    }

    func errorText(_ errno: Int32) -> String { errno == 111 ? "Connection refused" : "error \(errno)" }

    func link(named name: InterfaceName) -> LinkLookup {
        if let linkFailure { return .failed(linkFailure) }
        return devices[name.bytes] ?? .absent
    }
}

/// Lints `host`'s top-level file as uid 0 and returns the text lines (diagnostics, then summary).
func lintText(_ host: MemoryHost, uid: UInt32 = 0, limits: ACLLimits = ACLLimits()) -> [String] {
    lintResult(host, uid: uid, limits: limits).text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
}

func lintResult(_ host: MemoryHost, uid: UInt32 = 0, limits: ACLLimits = ACLLimits()) -> LintResult {
    Linter.lint(path: bytes(topLevelPath), source: host, system: host, readerUID: uid, limits: limits)
}
