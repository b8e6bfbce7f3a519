import BridgeACL

/// The warnings: what the helper accepts but probably does not mean what its author thinks.
struct Analysis<Source: ACLFileSource, System: LintSystem> {
    let topLevel: [UInt8]
    let files: RepairingSource<Source>
    let system: System
    let readerUID: UInt32

    /// A rule or include that parsed, with where its tokens are.
    struct Entry {
        let directive: Directive
        let path: [UInt8]
        let line: Int
        let pieces: [ArraySlice<UInt8>]
        let lineStart: Int

        func column(_ piece: Int) -> Int {
            pieces.indices.contains(piece) ? pieces[piece].startIndex - lineStart + 1 : 1
        }
    }

    private var links: [InterfaceName: LinkLookup] = [:]
    private var restrictions: [[UInt8]: String?] = [:]
    private var filtering: [InterfaceName: VlanFiltering] = [:]
    private var names: [NameKey: NameLookup] = [:]

    struct NameKey: Hashable {
        let name: [UInt8]
        let kind: NameKind
    }

    init(topLevel: [UInt8], files: RepairingSource<Source>, system: System, readerUID: UInt32) {
        self.topLevel = topLevel
        self.files = files
        self.system = system
        self.readerUID = readerUID
    }

    mutating func warnings() -> [LintDiagnostic] {
        var out: [LintDiagnostic] = []
        var entries: [Entry] = []
        for (path, bytes) in files.read {
            for (index, range) in Lines.ranges(bytes).enumerated() {
                let line = bytes[range]
                let location = SourceLocation(path: path, line: index + 1)
                guard case .success(let directive) = Grammar.parseLine(line, location: location) else { continue }
                if let warning = Self.stockDivergence(line, directive: directive, hasNewline: range.upperBound < bytes.count,
                                                      topLevel: path == topLevel) {
                    out.append(LintDiagnostic(path: path, line: index + 1, column: warning.column, severity: .warning,
                                              message: warning.message))
                }
                if let directive {
                    entries.append(Entry(directive: directive, path: path, line: index + 1, pieces: Lines.pieces(line),
                                         lineStart: range.lowerBound))
                }
            }
        }
        out += includeWarnings(entries)
        let reasons = restrictedFiles(entries)
        out += denyWarnings(entries, restricted: reasons)
        out += deadRules(entries, restricted: reasons)
        out += bridgeWarnings(entries)
        out += nameDiagnostics(entries)
        out += vlanDiagnostics(entries)
        return out
    }

    // MARK: Stock qemu-bridge-helper

    static func stockDivergence(_ line: ArraySlice<UInt8>, directive: Directive?, hasNewline: Bool,
                                topLevel: Bool) -> (column: Int, message: String)? {
        let length = line.count + (hasNewline ? 1 : 0)
        if length > StockReading.longestLine {
            let tail = line.dropFirst(StockReading.longestLine)
            guard tail.contains(where: { !StockReading.isGlibSpace($0) }) else { return nil }
            return (StockReading.longestLine + 1,
                    "stock qemu-bridge-helper reads at most \(StockReading.longestLine) bytes of a line: it reads the rest of this line, from column \(StockReading.longestLine + 1), as a line of its own")
        }
        return StockReading.divergence(line: line, directive: directive, topLevel: topLevel)
    }

    // MARK: Includes

    func includeWarnings(_ entries: [Entry]) -> [LintDiagnostic] {
        var out: [LintDiagnostic] = []
        for entry in entries {
            guard case .include(let path, _) = entry.directive, case .unavailable? = files.loads[path] else { continue }
            let shown = Escaping.escape(path)
            let message: String
            switch system.absence(of: path) {
            case .missing:
                message = "include '\(shown)' does not exist; the helper skips it"
            case .unreadable:
                message = "cannot read '\(shown)' as uid \(readerUID): it was not checked, so this result is incomplete (run bridgekeeper lint as root)"
            }
            out.append(LintDiagnostic(path: entry.path, line: entry.line, column: entry.column(1), severity: .warning,
                                      message: message))
        }
        return out
    }

    /// The files that some users do not read although the helper reads them for others, with
    /// why: the file or a directory above it is not readable by everyone, or every include that
    /// reaches it is in such a file. The top-level file counts as read by everyone: a user who
    /// cannot read it is refused everything.
    mutating func restrictedFiles(_ entries: [Entry]) -> [[UInt8]: String] {
        var includes: [[UInt8]: [[UInt8]]] = [:]
        for entry in entries {
            guard case .include(let path, _) = entry.directive, case .contents? = files.loads[path] else { continue }
            includes[entry.path, default: []].append(path)
        }
        var everyone: Set<[UInt8]> = [topLevel]
        var queue = [topLevel]
        while let file = queue.popLast() {
            for child in includes[file] ?? [] where !everyone.contains(child) && restriction(of: child) == nil {
                everyone.insert(child)
                queue.append(child)
            }
        }
        var reasons: [[UInt8]: String] = [:]
        for (path, _) in files.read where !everyone.contains(path) {
            if let own = restriction(of: path) { reasons[path] = own }
        }
        // Readable files reached only through restricted ones inherit a reason from an includer.
        var changed = true
        while changed {
            changed = false
            for (path, _) in files.read where !everyone.contains(path) && reasons[path] == nil {
                let includers = includes.filter { $0.value.contains(path) }.keys.sorted { $0.lexicographicallyPrecedes($1) }
                if let reason = includers.lazy.compactMap({ reasons[$0] }).first {
                    reasons[path] = reason
                    changed = true
                }
            }
        }
        for (path, _) in files.read where !everyone.contains(path) && reasons[path] == nil {
            reasons[path] = "\(Escaping.escape(path)) is only included from files not every user can read"
        }
        return reasons
    }

    mutating func restriction(of path: [UInt8]) -> String? {
        if let known = restrictions[path] { return known }
        let found = system.restriction(of: path)
        restrictions[path] = found
        return found
    }

    func denyWarnings(_ entries: [Entry], restricted: [[UInt8]: String]) -> [LintDiagnostic] {
        entries.compactMap { entry in
            guard case .rule(let rule) = entry.directive, rule.action == .deny, let reason = restricted[entry.path] else { return nil }
            return LintDiagnostic(path: entry.path, line: entry.line, column: entry.column(0), severity: .warning,
                                  message: "'\(rule)' is skipped for some users: \(reason); it denies nothing to users who cannot read it")
        }
    }

    // MARK: Dead rules

    /// An allow is dead when a deny that every reader of the allow also reads matches every
    /// bridge it names: `deny all`, a deny of the same name, or of another name of the same
    /// device in this network namespace (deny wins regardless of order).
    mutating func deadRules(_ entries: [Entry], restricted: [[UInt8]: String]) -> [LintDiagnostic] {
        // A deny with match keys refuses only some callers: it never makes an allow dead.
        let denies = entries.filter {
            if case .rule(let rule) = $0.directive { return rule.action == .deny && rule.match.isEmpty }
            return false
        }
        var out: [LintDiagnostic] = []
        for entry in entries {
            guard case .rule(let allow) = entry.directive, allow.action == .allow else { continue }
            for deny in denies where restricted[deny.path] == nil || deny.path == entry.path {
                guard case .rule(let denyRule) = deny.directive,
                      let note = overrides(denyRule.bridge, allow.bridge) else { continue }
                let suffix = note.isEmpty ? "" : " (\(note))"
                out.append(LintDiagnostic(path: entry.path, line: entry.line, column: entry.column(0), severity: .warning,
                                          message: "'\(allow)' is dead: '\(denyRule)' at \(denyRule.location) always overrides it\(suffix)"))
                break
            }
        }
        return out
    }

    /// nil when `deny` does not refuse every bridge `allow` grants; otherwise "" or a note on
    /// how two different names are one device.
    mutating func overrides(_ deny: BridgeSelector, _ allow: BridgeSelector) -> String? {
        switch (deny, allow) {
        case (.all, _): return ""
        case (.named, .all): return nil
        case (.named(let denied), .named(let allowed)):
            if denied == allowed { return "" }
            guard case .present(let canonicalBytes, let alternatives, _) = link(allowed),
                  ([canonicalBytes] + alternatives).contains(denied.bytes) else { return nil }
            let canonical = Escaping.escape(canonicalBytes)
            if allowed.bytes == canonicalBytes { return "'\(denied)' is an alternative name of '\(allowed)'" }
            if denied.bytes == canonicalBytes { return "'\(allowed)' is an alternative name of '\(denied)'" }
            return "'\(allowed)' and '\(denied)' are alternative names of '\(canonical)'"
        }
    }

    // MARK: Bridges

    mutating func link(_ name: InterfaceName) -> LinkLookup {
        if let known = links[name] { return known }
        let found = system.link(named: name)
        links[name] = found
        return found
    }

    mutating func bridgeWarnings(_ entries: [Entry]) -> [LintDiagnostic] {
        var out: [LintDiagnostic] = []
        var lookupFailed = false
        for entry in entries {
            guard case .rule(let rule) = entry.directive, case .named(let name) = rule.bridge else { continue }
            let message: String
            switch link(name) {
            case .absent:
                message = "bridge '\(name)' does not exist in this network namespace"
            case .present(_, _, let kind):
                if kind.map({ $0.elementsEqual("bridge".utf8) }) == true { continue }
                message = "'\(name)' is not a Linux bridge (its driver is '\(Escaping.escape(kind ?? Array("unknown".utf8)))')"
            case .failed(let reason):
                if lookupFailed { continue }
                lookupFailed = true
                message = "cannot check the bridges named in rules: \(reason)"
            }
            out.append(LintDiagnostic(path: entry.path, line: entry.line, column: entry.column(1), severity: .warning,
                                      message: message))
        }
        return out
    }

    // MARK: Names (user=, group=)

    /// Every user and group name of a rule, looked up as the helper does. A name the name
    /// service does not know is an error: the helper refuses every request whose decision
    /// depends on it (a deny naming a deleted account refuses its bridge to everyone the other
    /// keys do not rule out). A failed lookup is a warning, once per name: it says something
    /// about the name service now, not about the file, but the helper refuses meanwhile.
    mutating func nameDiagnostics(_ entries: [Entry]) -> [LintDiagnostic] {
        var out: [LintDiagnostic] = []
        var failedOnce = Set<NameKey>()
        for entry in entries {
            guard case .rule(let rule) = entry.directive else { continue }
            for (kind, list) in [(NameKind.user, rule.match.users), (NameKind.group, rule.match.groups)] {
                for name in list {
                    let shown = Escaping.escape(name, limit: 64)
                    let column = entry.column(ofName: name, key: kind.word)
                    switch lookUp(name, kind: kind) {
                    case .found:
                        continue
                    case .notFound:
                        out.append(LintDiagnostic(path: entry.path, line: entry.line, column: column, severity: .error,
                                                  message: "\(kind.word) '\(shown)' does not exist in the name service; the helper refuses every request whose decision depends on it ('\(rule)')"))
                    case .failed(let errno):
                        guard failedOnce.insert(NameKey(name: name, kind: kind)).inserted else { continue }
                        out.append(LintDiagnostic(path: entry.path, line: entry.line, column: column, severity: .warning,
                                                  message: "cannot check \(kind.word) '\(shown)': the name service lookup failed (\(system.errorText(errno))); while it fails, the helper refuses every request whose decision depends on it ('\(rule)')"))
                    }
                }
            }
        }
        return out
    }

    mutating func lookUp(_ name: [UInt8], kind: NameKind) -> NameLookup {
        let key = NameKey(name: name, kind: kind)
        if let known = names[key] { return known }
        let found = system.lookUp(name, kind: kind)
        names[key] = found
        return found
    }

    // MARK: VLANs

    /// `vlan=` on an existing Linux bridge that does not filter by VLAN: the helper refuses
    /// every request the rule grants (an error). A missing bridge or another device is
    /// `bridgeWarnings`' business; `allow all vlan=N` names no bridge to check.
    mutating func vlanDiagnostics(_ entries: [Entry]) -> [LintDiagnostic] {
        var out: [LintDiagnostic] = []
        for entry in entries {
            guard case .rule(let rule) = entry.directive, let vlan = rule.options.vlan,
                  case .named(let name) = rule.bridge,
                  case .present(_, _, let kind) = link(name), kind.map({ $0.elementsEqual("bridge".utf8) }) == true
            else { continue }
            let state: VlanFiltering
            if let known = filtering[name] {
                state = known
            } else {
                state = system.vlanFiltering(of: name)
                filtering[name] = state
            }
            let column = entry.column(ofKey: "vlan")
            let refuses = "the helper refuses every request '\(rule)' grants"
            switch state {
            case .on:
                continue
            case .off:
                out.append(LintDiagnostic(path: entry.path, line: entry.line, column: column, severity: .error,
                                          message: "vlan=\(vlan) needs VLAN filtering, which bridge '\(name)' has off (vlan_filtering 0); \(refuses) (turn it on: ip link set dev \(name) type bridge vlan_filtering 1)"))
            case .unsupported:
                out.append(LintDiagnostic(path: entry.path, line: entry.line, column: column, severity: .error,
                                          message: "vlan=\(vlan) needs VLAN filtering, which this kernel does not have (CONFIG_BRIDGE_VLAN_FILTERING); \(refuses)"))
            case .unknown(let reason):
                out.append(LintDiagnostic(path: entry.path, line: entry.line, column: column, severity: .warning,
                                          message: "cannot check the VLAN filtering of bridge '\(name)': \(reason)"))
            }
        }
        return out
    }
}

extension Analysis.Entry {
    /// The column of the piece `KEY=...` (the rule's first piece if there is none).
    func column(ofKey key: String) -> Int {
        let prefix = Array((key + "=").utf8)
        guard let index = pieces.indices.first(where: { pieces[$0].starts(with: prefix) }) else { return column(0) }
        return column(index)
    }

    /// The column of `name` in the comma list of `KEY=` (of the key if not found).
    func column(ofName name: [UInt8], key: String) -> Int {
        let prefix = Array((key + "=").utf8)
        guard let piece = pieces.first(where: { $0.starts(with: prefix) }) else { return column(0) }
        let value = piece.dropFirst(prefix.count)
        for element in value.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) where element.elementsEqual(name) {
            return element.startIndex - lineStart + 1
        }
        return piece.startIndex - lineStart + 1
    }
}
