import Testing
import Foundation

/// The differential corpus, read from Tests/Corpus/stock-decisions.txt: the one file that both
/// these unit tests and the privileged Tests/Integration/t-differential.sh (which runs every
/// request through the real stock qemu-bridge-helper and through ours) take their cases from.
/// The file's header documents the syntax; this type reads only what a unit test can check.
struct StockCase: Sendable, CustomTestStringConvertible {
    /// The case's name in the file.
    let name: String
    /// Files by absolute path, in file order.
    let files: [(path: String, contents: [UInt8])]
    /// Paths the caller cannot read (`unreadable`, `group`): they load as unavailable.
    let unreadable: Set<String>
    /// A file is owned by a user (`owner`): only the real file reader refuses that.
    let needsRealReader: Bool
    let requests: [StockRequest]

    var testDescription: String { name }
}

/// One `ask` line: the bridge asked for (nil for an explicit argv) and bridgekeeper's outcome.
struct StockRequest: Sendable {
    let line: Int
    let bridge: String?
    let ours: OursOutcome
    let diverges: Bool
}

enum OursOutcome: Sendable, Equatable {
    case allowed
    case notAllowed
    case denied(location: String, rule: String)
    /// Exact stderr text.
    case refused(String)
    /// Anchored regular expression for the stderr line.
    case refusedMatching(String)
}

enum StockCorpus {
    static let path: String = {
        // #filePath = .../Tests/BridgeACLTests/StockCorpus.swift
        var url = URL(fileURLWithPath: #filePath)
        url.deleteLastPathComponent()
        url.deleteLastPathComponent()
        return url.appendingPathComponent("Corpus/stock-decisions.txt").path
    }()

    /// The parsed file, or the problems that kept it from parsing.
    static let loaded: (cases: [StockCase], problems: [String]) = {
        guard let data = FileManager.default.contents(atPath: path) else {
            return ([], ["cannot read \(path)"])
        }
        return parse(String(decoding: data, as: UTF8.self))
    }()

    static var cases: [StockCase] { loaded.cases }

    /// The `file` escapes: \n \t \r \\ \0 and \*N:C (N copies of C).
    static func unescape(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        var chars = Array(text.utf8)[...]
        while let c = chars.popFirst() {
            guard c == UInt8(ascii: "\\") else { out.append(c); continue }
            switch chars.popFirst() {
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "0"): out.append(0)
            case UInt8(ascii: "*"):
                let digits = chars.prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
                chars = chars.dropFirst(digits.count)
                guard let count = Int(String(decoding: digits, as: UTF8.self)),
                      chars.popFirst() == UInt8(ascii: ":"), let repeated = chars.popFirst() else { return nil }
                out += [UInt8](repeating: repeated, count: count)
            default: return nil
            }
        }
        return out
    }

    static func parse(_ text: String) -> (cases: [StockCase], problems: [String]) {
        var cases: [StockCase] = []
        var problems: [String] = []
        var name: String?
        var files: [(path: String, contents: [UInt8])] = []
        var unreadable: Set<String> = []
        var owned = false
        var requests: [StockRequest] = []

        func finish() {
            guard let current = name else { return }
            cases.append(StockCase(name: current, files: files, unreadable: unreadable,
                                   needsRealReader: owned, requests: requests))
        }

        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = String(raw)
            let number = index + 1
            if line.isEmpty || line.hasPrefix("#") { continue }
            let words = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            func problem(_ what: String) { problems.append("line \(number): \(what): \(line)") }
            switch words[0] {
            case "bridge", "veth", "cwdfile":
                continue
            case "case":
                finish()
                name = words.count > 1 ? words[1...].joined(separator: " ") : ""
                files = []
                unreadable = []
                owned = false
                requests = []
            case "file":
                guard words.count >= 2, name != nil else { problem("file outside a case"); continue }
                guard let contents = unescape(words.count > 2 ? words[2] : "") else { problem("bad escape"); continue }
                files.append((words[1], contents))
            case "unreadable", "group":
                guard words.count >= 2 else { problem("no path"); continue }
                unreadable.insert(words[1])
            case "owner":
                owned = true
            case "ask":
                guard name != nil else { problem("ask outside a case"); continue }
                let fields = line.dropFirst(4).components(separatedBy: " | ")
                guard fields.count >= 2 else { problem("expected REQUEST | OURS"); continue }
                let diverges = fields.count >= 4 && fields[3].hasPrefix("diverges: ")
                guard fields.count < 4 || diverges, fields.count <= 4 else { problem("bad field 4"); continue }
                guard let ours = outcome(fields[1]) else { problem("bad OURS"); continue }
                if case .refused = ours, fields.count < 3 { problem("a refusal needs STOCK") }
                if case .refusedMatching = ours, fields.count < 3 { problem("a refusal needs STOCK") }
                requests.append(StockRequest(line: number, bridge: bridge(of: fields[0]), ours: ours, diverges: diverges))
            default:
                problem("unknown directive")
            }
        }
        finish()
        return (cases, problems)
    }

    /// The bridge of a REQUEST: a name, "novnet NAME", "tun0600 NAME"; nil for "-- ARGV".
    static func bridge(of request: String) -> String? {
        if request.hasPrefix("-- ") { return nil }
        for prefix in ["novnet ", "tun0600 "] where request.hasPrefix(prefix) {
            return String(request.dropFirst(prefix.count))
        }
        return request
    }

    static func outcome(_ text: String) -> OursOutcome? {
        let parts = text.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        switch parts[0] {
        case "allowed" where parts.count == 1: return .allowed
        case "not-allowed" where parts.count == 1: return .notAllowed
        case "denied" where parts.count == 2:
            let rest = parts[1].split(separator: " ", maxSplits: 1).map(String.init)
            return rest.count == 2 ? .denied(location: rest[0], rule: rest[1]) : nil
        case "refused" where parts.count == 2:
            return unescape(parts[1]).map { .refused(String(decoding: $0, as: UTF8.self)) }
        case "refused-re" where parts.count == 2: return .refusedMatching(parts[1])
        default: return nil
        }
    }
}
