import BridgeACL

// The renderings of `bridgekeeper taps`: one JSON document for machines, a table for people.
// Every byte that comes from the system (names, commands, aliases) goes through
// `Escaping.escape`, so the output is printable ASCII whatever a process or an alias holds.

extension TapInventory {
    /// `{"taps": [...], "unreadable_processes": N}` on one line.
    public var json: String {
        "{\"taps\": [" + taps.map(\.json).joined(separator: ", ") + "], \"unreadable_processes\": \(unreadableProcesses)}\n"
    }

    /// A table, one TAP a line, columns padded; or one sentence when there is none.
    public var table: String {
        guard !taps.isEmpty else { return "no TAP devices in this network namespace\n" }
        let header = ["NAME", "IFINDEX", "BRIDGE", "OWNER", "PERSISTENT", "HOLDERS", "MARK"]
        let rows = taps.map { tap in
            [Escaping.escape(tap.name), String(tap.index), tap.bridge.map { Escaping.escape($0) } ?? "-",
             tap.ownerUID.map { String($0) } ?? "-", tap.persistent ? "yes" : "no",
             tap.holders.isEmpty ? "-" : tap.holders.map(\.cell).joined(separator: ","), tap.mark.cell]
        }
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.indices.map { column in
                column == row.count - 1 ? row[column] : row[column].padding(to: widths[column])
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }

    /// The note for people when some holders could not be seen; `root`: the caller is root (who
    /// may still be refused a process it may not trace).
    public func unreadableNote(root: Bool) -> String? {
        guard unreadableProcesses > 0 else { return nil }
        let processes = unreadableProcesses == 1 ? "1 process" : "\(unreadableProcesses) processes"
        return "bridgekeeper taps: the descriptors of \(processes) could not be read\(root ? "" : " (not root)"), so their holds are not shown"
    }
}

extension TapEntry {
    var json: String {
        let holderList = holders.map { "{\"pid\": \($0.pid), \"comm\": \(JSONText.string($0.command))}" }
        return "{\"name\": \(JSONText.string(name)), \"ifindex\": \(index), "
            + "\"bridge\": \(bridge.map { JSONText.string($0) } ?? "null"), "
            + "\"owner_uid\": \(ownerUID.map { String($0) } ?? "null"), "
            + "\"persistent\": \(persistent), \"holders\": [\(holderList.joined(separator: ", "))], "
            + "\"mark\": \(mark.json)}"
    }
}

extension TapHolder {
    /// `PID/COMM`, with space and comma escaped too so the cell stays one comma-separated token.
    var cell: String {
        let escaped = Escaping.escape(command).replacingAll(" ", with: "\\x20").replacingAll(",", with: "\\x2c")
        return "\(pid)/\(escaped)"
    }
}

extension TapMarkState {
    var json: String {
        switch self {
        case .none: return "null"
        case .bridgekeeper(let mark): return "{\"uid\": \(mark.uid), \"rule\": \(JSONText.quoted(mark.rule))}"
        case .foreign(let alias): return "{\"foreign\": \(JSONText.string(alias))}"
        }
    }

    var cell: String {
        switch self {
        case .none: return "none"
        case .bridgekeeper(let mark): return "uid=\(mark.uid) rule=\(mark.rule)"
        case .foreign(let alias): return "foreign '\(Escaping.escape(alias))'"
        }
    }
}

/// Reaping's report.
public struct ReapReport: Equatable, Sendable {
    public var reaped: [(name: [UInt8], index: Int32)]

    public init(reaped: [(name: [UInt8], index: Int32)]) { self.reaped = reaped }

    public static func == (lhs: ReapReport, rhs: ReapReport) -> Bool {
        lhs.reaped.map(\.name) == rhs.reaped.map(\.name) && lhs.reaped.map(\.index) == rhs.reaped.map(\.index)
    }

    public var json: String {
        let items = reaped.map { "{\"name\": \(JSONText.string($0.name)), \"ifindex\": \($0.index)}" }
        return "{\"reaped\": [" + items.joined(separator: ", ") + "]}\n"
    }

    public var text: String {
        guard !reaped.isEmpty else { return "nothing to reap: no persistent TAP without a holder\n" }
        return reaped.map { "reaped \(Escaping.escape($0.name)) (ifindex \($0.index))\n" }.joined()
    }
}

/// JSON strings from bytes: escaped as everywhere else (printable ASCII, `\xNN`), then the
/// backslashes and quotes that leaves are escaped for JSON.
enum JSONText {
    static func string(_ bytes: some Sequence<UInt8>) -> String {
        quoted(Escaping.escape(bytes))
    }

    /// A text that is already escaped (printable ASCII), such as `SourceLocation.description`.
    static func quoted(_ text: String) -> String { Escaping.json(text) }
}

extension String {
    func padding(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }

    func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        for character in self { if character == target { out += replacement } else { out.append(character) } }
        return out
    }
}
