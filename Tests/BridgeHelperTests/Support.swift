import BridgeACL
import BridgeHelper
import HelperArguments

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

func repeated(_ character: Character, _ count: Int) -> [UInt8] {
    [UInt8](repeating: character.asciiValue ?? 0, count: count)
}

/// An in-memory ACL tree: path -> file text; anything else is unavailable.
struct MemoryACLTree: ACLFileSource {
    let files: [String: String]
    func load(path: [UInt8]) -> ACLFileLoad {
        guard let key = String(validating: path, as: UTF8.self), let text = files[key],
              let index = files.keys.sorted().firstIndex(of: key) else { return .unavailable }
        return .contents(bytes(text), identity: FileIdentity(device: 1, inode: UInt64(index + 1)))
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
