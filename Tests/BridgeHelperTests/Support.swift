import BridgeACL
import BridgeHelper
import HelperArguments

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

func repeated(_ character: Character, _ count: Int) -> [UInt8] {
    [UInt8](repeating: character.asciiValue ?? 0, count: count)
}

/// An in-memory ACL tree: path -> file text; anything else is unavailable.
final class MemoryACLTree: ACLFileSource {
    let files: [String: String]
    init(files: [String: String]) { self.files = files }
    func load(path: [UInt8]) -> ACLFileLoad {
        guard let key = String(validating: path, as: UTF8.self), let text = files[key],
              let index = files.keys.sorted().firstIndex(of: key) else { return .unavailable }
        return .contents(bytes(text), identity: FileIdentity(device: 1, inode: UInt64(index + 1)))
    }

    func list(directory path: [UInt8]) -> ACLDirectoryLoad {
        guard let prefix = String(validating: path, as: UTF8.self) else { return .unavailable }
        let names = files.keys.filter { $0.hasPrefix(prefix) && !$0.dropFirst(prefix.count).contains("/") }
            .map { Array($0.dropFirst(prefix.count).utf8) }
        return names.isEmpty ? .unavailable : .names(names)
    }
}

/// The policy the helper would load from /etc/qemu/bridge.conf containing `text`.
func policy(_ text: String, includes: [String: String] = [:]) -> Result<Policy, PolicyError> {
    var files = includes
    files["/etc/qemu/bridge.conf"] = text
    return PolicyLoader.load(path: Installation.aclFile, from: MemoryACLTree(files: files))
}

/// Parses a command line the way main.swift does and returns the arguments for `attach`.
func arguments(_ argv: [[UInt8]]) -> HelperArguments? {
    if case .success(.attach(let parsed)) = HelperCommandLine.parse(argv) { return parsed }
    return nil
}

/// A name service that knows no names (stock rules never ask it).
final class NoNames: NameResolver {
    func lookUp(_ name: [UInt8], kind: NameKind) -> NameLookup { .notFound }
}

extension Policy {
    /// The decision for an ordinary caller (uid 1000, group 1000) of a policy without names.
    func decide(device names: DeviceNames) -> DeviceDecision {
        decide(device: names, caller: CallerIdentity(uid: 1000, groups: [1000]), resolver: NoNames())
    }
}
