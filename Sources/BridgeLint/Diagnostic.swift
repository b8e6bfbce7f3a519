import BridgeACL

public enum LintSeverity: String, Sendable, Comparable {
    case error
    case warning

    public static func < (lhs: LintSeverity, rhs: LintSeverity) -> Bool { lhs == .error && rhs == .warning }
}

/// One finding: `file:line:column: severity: message`. Line 0, column 0 stands for the file as a
/// whole (the top-level file is missing, unreadable or unsafe). Columns are 1-based byte columns.
public struct LintDiagnostic: Equatable, Sendable, CustomStringConvertible {
    public let path: [UInt8]
    public let line: Int
    public let column: Int
    public let severity: LintSeverity
    public let message: String

    public init(path: [UInt8], line: Int, column: Int, severity: LintSeverity, message: String) {
        self.path = path
        self.line = line
        self.column = column
        self.severity = severity
        self.message = message
    }

    public var description: String {
        "\(Escaping.escape(path)):\(line):\(column): \(severity.rawValue): \(message)"
    }

    /// Sorted by file (path bytes), then line, column, severity (errors first) and message.
    static func ordered(_ lhs: LintDiagnostic, _ rhs: LintDiagnostic) -> Bool {
        if lhs.path != rhs.path { return lhs.path.lexicographicallyPrecedes(rhs.path) }
        if lhs.line != rhs.line { return lhs.line < rhs.line }
        if lhs.column != rhs.column { return lhs.column < rhs.column }
        if lhs.severity != rhs.severity { return lhs.severity < rhs.severity }
        return lhs.message < rhs.message
    }
}

/// Everything lint found about one ACL file and its includes.
public struct LintResult: Equatable, Sendable {
    /// Sorted (`LintDiagnostic.ordered`), without duplicates.
    public let diagnostics: [LintDiagnostic]
    /// How many files were read (the top-level file and every include that was read).
    public let filesRead: Int

    public var errors: Int { diagnostics.count(where: { $0.severity == .error }) }
    public var warnings: Int { diagnostics.count(where: { $0.severity == .warning }) }

    /// 0 without errors (and, with `strict`, without warnings), else 1.
    public func exitStatus(strict: Bool) -> Int32 {
        if errors > 0 { return 1 }
        if strict && warnings > 0 { return 1 }
        return 0
    }

    /// One diagnostic a line, then `N files read, N errors, N warnings` (singular for 1).
    public var text: String {
        var out = ""
        for diagnostic in diagnostics { out += "\(diagnostic)\n" }
        out += "\(Self.count(filesRead, "file")) read, \(Self.count(errors, "error")), \(Self.count(warnings, "warning"))\n"
        return out
    }

    /// `{"diagnostics": [{"file": ..., "line": ..., "column": ..., "severity": ..., "message": ...}]}`
    /// on one line. File names are escaped as in the text form (bytes outside printable ASCII as
    /// `\xNN`), so the document is ASCII whatever the path bytes are.
    public var json: String {
        let entries = diagnostics.map { diagnostic in
            "{\"file\": \(Self.jsonString(Escaping.escape(diagnostic.path))), \"line\": \(diagnostic.line), "
                + "\"column\": \(diagnostic.column), \"severity\": \"\(diagnostic.severity.rawValue)\", "
                + "\"message\": \(Self.jsonString(diagnostic.message))}"
        }
        return "{\"diagnostics\": [" + entries.joined(separator: ", ") + "]}\n"
    }

    static func count(_ value: Int, _ noun: String) -> String { "\(value) \(noun)\(value == 1 ? "" : "s")" }

    /// A JSON string literal (one writer for every command: `Escaping.json`).
    static func jsonString(_ text: String) -> String { Escaping.json(text) }
}
