import BridgeACL
import BridgeSystem
import Glibc

/// Small renderers for the audit commands' JSON and CSV. The JSON is written by hand so that
/// keys keep the documented order and every document is the same bytes for the same facts.
enum JSON {
    /// A JSON string literal (one writer for every command: `Escaping.json`).
    static func string(_ value: String) -> String { Escaping.json(value) }

    static func optional(_ value: String?) -> String { value.map(string) ?? "null" }

    static func number(_ value: (some BinaryInteger)?) -> String { value.map { String($0) } ?? "null" }

    /// `{"vlan": 20, "isolated": true, "max": 4, "taps": 2}`; absent options are null (false
    /// for isolated); `taps` is the count of the user's TAPs on the bridge, null when not counted.
    static func options(_ options: RuleOptions, taps: String) -> String {
        "{\"vlan\": \(number(options.vlan)), \"isolated\": \(options.isolated), \"max\": \(number(options.maxTaps)), \"taps\": \(taps)}"
    }

    /// `{"kind": "group", "name": "lab", "lookup": "not found", "error": null}`; for a failed
    /// lookup `"lookup": "failed"` and the error's words.
    static func unresolved(_ name: UnresolvedName) -> String {
        var lookup = "not found", error = "null"
        if case .failed(let errno) = name.lookup {
            lookup = "failed"
            error = string(Errno(rawValue: errno).description)
        }
        return "{\"kind\": \(string(name.kind.word)), \"name\": \(string(Escaping.escape(name.name))), \"lookup\": \(string(lookup)), \"error\": \(error)}"
    }
}

enum CSV {
    /// RFC 4180: quoted when it holds a comma, a quote or a line break; quotes doubled.
    static func field(_ value: String) -> String {
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return value }
        return "\"" + value.replacingAll("\"", with: "\"\"") + "\""
    }
}

extension String {
    /// Every occurrence of `target` replaced (Foundation-free, for the few places that need it).
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound] + replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}

/// Writes `text` to stdout in one go (large outputs: one write path, no per-line flushing).
func emit(_ text: String) {
    _ = writeAll(STDOUT_FILENO, Array(text.utf8))
}

/// One line on stderr: `Error: MESSAGE`.
func complain(_ message: String) {
    _ = writeAll(STDERR_FILENO, Array("Error: \(message)\n".utf8))
}

/// Parses a bridge name as the helper would accept it, or says why not (a usage error).
func bridgeName(_ text: String) -> Result<InterfaceName, UsageError> {
    do {
        return .success(try InterfaceName(validating: Array(text.utf8)))
    } catch {
        return .failure(UsageError("bridge name '\(Escaping.escape(Array(text.utf8), limit: 64))' \(error.explanation)"))
    }
}

/// A bad command line that ArgumentParser could not catch: one line, exit status 2.
struct UsageError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// The ACL path given with --acl, which must be absolute (the helper's reader refuses others).
func aclPath(_ text: String) -> Result<[UInt8], UsageError> {
    guard text.hasPrefix("/") else { return .failure(UsageError("--acl must be an absolute path, got '\(Escaping.escape(Array(text.utf8), limit: 256))'")) }
    return .success(Array(text.utf8))
}
