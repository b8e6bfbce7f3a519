import BridgeACL

/// Why a file loaded as `.unavailable` (the helper's reader deliberately gives one value for
/// both, so that no message tells a private file's existence; lint, run by an administrator,
/// asks the system again).
public enum Absence: Sendable, Equatable {
    case missing
    case unreadable
}

/// What the kernel says about a name in this network namespace.
public enum LinkLookup: Sendable, Equatable {
    case absent
    /// The device the name resolves to: canonical name, alternative names, driver (IFLA_INFO_KIND).
    case present(canonical: [UInt8], alternatives: [[UInt8]], kind: [UInt8]?)
    case failed(String)
}

/// Whether a bridge filters by VLAN (what a `vlan=` rule needs: the kernel accepts a PVID on a
/// port of a non-filtering bridge and silently does not enforce it, so the helper refuses).
public enum VlanFiltering: Sendable, Equatable {
    case on
    case off
    /// The kernel has no VLAN filtering at all (built without CONFIG_BRIDGE_VLAN_FILTERING).
    case unsupported
    /// Could not be checked; the reason names what failed.
    case unknown(String)
}

/// The facts lint needs beyond the files' contents. The CLI answers with lstat, POSIX ACLs,
/// rtnetlink, sysfs and the name service; unit tests with a table.
public protocol LintSystem {
    /// Why `path`, which the reader could not load, is unavailable.
    func absence(of path: [UInt8]) -> Absence
    /// nil when every user can read `path` (the file and the directories above it); otherwise
    /// why not, naming the path (e.g. "/etc/qemu/lab.conf is mode 0640: others cannot read it").
    func restriction(of path: [UInt8]) -> String?
    func link(named name: InterfaceName) -> LinkLookup
    /// The VLAN filtering of the bridge `name` (any of its names), which exists.
    func vlanFiltering(of name: InterfaceName) -> VlanFiltering
    /// A user or group name as the helper resolves it (NSS in the CLI).
    func lookUp(_ name: [UInt8], kind: NameKind) -> NameLookup
    /// The words for an errno of a failed lookup (strerror in the CLI).
    func errorText(_ errno: Int32) -> String
}

public enum Linter {
    /// Checks `path` and its includes. Files are read through `source` (the helper's own reader
    /// in the CLI) and walked by the helper's `PolicyLoader`, so every error is one the helper
    /// would refuse with, in its words. Where the helper stops at the first error, lint blanks the
    /// offending line (or include) and walks again, so one run reports every error it can reach.
    public static func lint(path: [UInt8], source: some ACLFileSource, system: some LintSystem,
                            readerUID: UInt32, limits: ACLLimits = ACLLimits()) -> LintResult {
        let files = RepairingSource(source)
        var found: [LintDiagnostic] = []
        walk: while true {
            guard case .failure(let error) = PolicyLoader.load(path: path, from: files, limits: limits) else { break }
            found.append(diagnostic(for: error, topLevel: path, files: files))
            switch error {
            case .syntax(let syntax):
                guard files.blank(syntax.location) else { break walk }
            case .refused(_, _, let at?), .includeCycle(_, let at), .tooDeep(let at, _):
                guard files.blank(at) else { break walk }
            case .refused(_, _, nil), .topLevelUnavailable, .tooManyFiles, .tooManyBytes, .tooManyDirectives:
                // The top-level file itself, or a volume limit: nothing past it can be walked.
                break walk
            }
        }
        for syntax in files.syntaxErrors {
            found.append(LintDiagnostic(path: syntax.location.path, line: syntax.location.line, column: syntax.column,
                                        severity: .error, message: syntax.message))
        }
        var analysis = Analysis(topLevel: path, files: files, system: system, readerUID: readerUID)
        found += analysis.warnings()
        var unique: [LintDiagnostic] = []
        for diagnostic in found.sorted(by: LintDiagnostic.ordered) where unique.last != diagnostic {
            unique.append(diagnostic)
        }
        return LintResult(diagnostics: unique, filesRead: files.read.count)
    }

    static func diagnostic(for error: PolicyError, topLevel: [UInt8], files: RepairingSource<some ACLFileSource>) -> LintDiagnostic {
        if case .syntax(let syntax) = error {
            return LintDiagnostic(path: syntax.location.path, line: syntax.location.line, column: syntax.column,
                                  severity: .error, message: syntax.message)
        }
        guard let location = error.location else {
            var file = topLevel
            if case .refused(let path, _, _) = error { file = path }
            return LintDiagnostic(path: file, line: 0, column: 0, severity: .error, message: error.message)
        }
        return LintDiagnostic(path: location.path, line: location.line, column: files.argumentColumn(location),
                              severity: .error, message: error.message)
    }
}

/// The source the loader walks during lint: each file is read once through the real source;
/// the loader gets the contents with the lines lint has reported replaced by spaces (same
/// length, so byte counts stay the same), and sees no syntax error twice.
final class RepairingSource<Inner: ACLFileSource>: ACLFileSource {
    let inner: Inner
    /// What the real source returned for each path, in the order the paths were first loaded.
    private(set) var loads: [[UInt8]: ACLFileLoad] = [:]
    private(set) var order: [[UInt8]] = []
    private(set) var syntaxErrors: [SyntaxError] = []
    private var patched: [[UInt8]: [UInt8]] = [:]

    init(_ inner: Inner) { self.inner = inner }

    /// The files that were read, in reading order, with their original contents.
    var read: [(path: [UInt8], contents: [UInt8])] {
        order.compactMap { path in
            guard case .contents(let bytes, _)? = loads[path] else { return nil }
            return (path, bytes)
        }
    }

    func load(path: [UInt8]) -> ACLFileLoad {
        if let known = loads[path] { return repaired(path, known) }
        let load = inner.load(path: path)
        loads[path] = load
        order.append(path)
        if case .contents(let bytes, _) = load {
            // Every line the helper would refuse, reported and blanked before the first walk.
            for (number, range) in Lines.ranges(bytes).enumerated() {
                let location = SourceLocation(path: path, line: number + 1)
                if case .failure(let error) = Grammar.parseLine(bytes[range], location: location) {
                    syntaxErrors.append(error)
                    blank(location)
                }
            }
        }
        return repaired(path, load)
    }

    func list(directory path: [UInt8]) -> ACLDirectoryLoad { inner.list(directory: path) }

    private func repaired(_ path: [UInt8], _ load: ACLFileLoad) -> ACLFileLoad {
        guard case .contents(_, let identity) = load, let bytes = patched[path] else { return load }
        return .contents(bytes, identity: identity)
    }

    /// Replaces the line at `location` with spaces. False when there is no such line or it is
    /// blank already (a repeated error: the walk must stop instead of looping).
    @discardableResult
    func blank(_ location: SourceLocation) -> Bool {
        guard case .contents(let original, _)? = loads[location.path] else { return false }
        var bytes = patched[location.path] ?? original
        let ranges = Lines.ranges(bytes)
        guard location.line >= 1, location.line <= ranges.count else { return false }
        let range = ranges[location.line - 1]
        if bytes[range].allSatisfy({ $0 == 0x20 }) { return false }
        bytes.replaceSubrange(range, with: repeatElement(0x20, count: range.count))
        patched[location.path] = bytes
        return true
    }

    /// The original bytes of the line at `location` (empty if unknown).
    func line(_ location: SourceLocation) -> ArraySlice<UInt8> {
        guard case .contents(let bytes, _)? = loads[location.path] else { return [] }
        let ranges = Lines.ranges(bytes)
        guard location.line >= 1, location.line <= ranges.count else { return [] }
        return bytes[ranges[location.line - 1]]
    }

    /// The column of an include's path (of a rule's keyword) at `location`.
    func argumentColumn(_ location: SourceLocation) -> Int {
        let text = line(location)
        let pieces = Lines.pieces(text)
        guard let first = pieces.first else { return 1 }
        let piece = first.elementsEqual("include".utf8) && pieces.count > 1 ? pieces[1] : first
        return piece.startIndex - text.startIndex + 1
    }
}

/// Line and token positions, for columns only (what a line means is Grammar's business).
enum Lines {
    /// The ranges of the lines of `bytes` without their `\n`, as Grammar numbers them (the text
    /// after the last `\n` is a line too).
    static func ranges(_ bytes: [UInt8]) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var start = 0
        for (index, byte) in bytes.enumerated() where byte == 0x0A {
            ranges.append(start..<index)
            start = index + 1
        }
        ranges.append(start..<bytes.count)
        return ranges
    }

    /// The line's space/tab-separated pieces trimmed of C `isspace` bytes, empty ones dropped
    /// (where Grammar finds its tokens).
    static func pieces(_ line: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || (0x09...0x0D).contains(byte) }
        var pieces: [ArraySlice<UInt8>] = []
        for piece in line.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 }) {
            guard let first = piece.firstIndex(where: { !isSpace($0) }),
                  let last = piece.lastIndex(where: { !isSpace($0) }) else { continue }
            pieces.append(piece[first...last])
        }
        return pieces
    }
}
