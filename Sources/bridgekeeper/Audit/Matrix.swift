import ArgumentParser
import BridgeACL

struct Matrix: ParsableCommand, UsageErrorExitsTwo {
    static let configuration = CommandConfiguration(
        abstract: "Show which users may put guests on which bridges.",
        discussion: """
            Decides every user against every bridge exactly as explain does (as root; users whose credentials make no difference to any file or directory of the ACL share one evaluation) and prints a table with a row per user and a column per bridge: allow, allow(OPTIONS) for an allow with options (vlanN, iso for isolated, maxN; a legend follows the table), or - where the helper refuses. --json and --csv list every decision with its rule, reason and options.

            Users: --users, or every account the name service enumerates. Bridges: --bridges, or every bridge named in a rule and every Linux bridge in this network namespace.

            Exit status: 0 when the matrix was printed, 2 for an invalid command line or an unknown user, 3 if the ACL could not be evaluated (other users without root).
            """)

    @Option(help: "Comma-separated login names (default: every account).")
    var users: String?

    @Option(help: "Comma-separated bridge names (default: those named in rules and the bridges here).")
    var bridges: String?

    @Option(help: "The ACL file to read.")
    var acl: String = Installation.aclFileText

    @Flag(help: "Print one JSON document instead of a table.")
    var json = false

    @Flag(help: "Print CSV (user,uid,bridge,allowed,rule,reason,vlan,isolated,max) instead of a table.")
    var csv = false

    func run() throws {
        do {
            try render(path: aclPath(acl).get())
        } catch let error as UsageError {
            complain(error.message)
            throw ExitCode(AuditExit.usage)
        } catch let error as AuditError {
            complain(error.description)
            throw ExitCode(AuditExit.cannotEvaluate)
        }
    }

    func render(path: [UInt8]) throws {
        if json && csv { throw UsageError("--json and --csv cannot be combined") }
        var chosen: [InterfaceName]?
        if let bridges {
            chosen = try Self.list(bridges).map { text throws(UsageError) in try bridgeName(text).get() }
        }
        var accounts: [Account] = []
        if let users {
            for name in Self.list(users) {
                guard let account = Accounts.lookup(Array(name.utf8)) else {
                    throw UsageError("unknown user '\(Escaping.escape(Array(name.utf8), limit: 64))' (the name service has no such login name)")
                }
                accounts.append(account)
            }
        } else {
            accounts = Accounts.accounts(Accounts.all())
        }
        let session = AuditSession(acl: path)
        let walks = try session.walks(for: accounts, share: true)
        let policies = try walks.results.map { walk throws(AuditError) in try session.policy(walk) }
        let columns = chosen ?? Self.defaultBridges(policies, survey: session.survey)
        // Verdicts depend on the walk, the bridge and, for rules with match keys, on the caller
        // as far as the bridge's rules can tell callers apart: decided once per distinguishable
        // caller and bridge.
        var table = [[Verdict]](repeating: [], count: accounts.count)
        for bridge in columns {
            let keys = DecisionKeys(policies: policies, names: session.deviceNames(bridge), resolver: session.names)
            var decided: [DecisionKeys.Key: Verdict] = [:]
            for index in accounts.indices {
                let key = keys.key(walk: walks.of[index], accounts[index].identity)
                if let known = decided[key] {
                    table[index].append(known)
                    continue
                }
                let verdict = session.verdict(policies[walks.of[index]], bridge: bridge, account: accounts[index])
                decided[key] = verdict
                table[index].append(verdict)
            }
        }
        let rows = accounts.indices.map { (accounts[$0], table[$0]) }
        if json {
            emit(Self.json(acl: path, columns: columns, rows: rows))
        } else if csv {
            emit(Self.csv(columns: columns, rows: rows))
        } else {
            emit(Self.text(columns: columns, rows: rows))
        }
    }

    static func list(_ text: String) -> [String] {
        text.split(separator: ",", omittingEmptySubsequences: true).map(String.init)
    }

    /// Every bridge named in a rule of any walk or the survey, and every bridge of this network
    /// namespace, sorted by their bytes.
    static func defaultBridges(_ policies: [Result<Policy, PolicyError>], survey: ScopeSurvey?) -> [InterfaceName] {
        var names = Set(DeviceTable.bridgesInNamespace())
        names.formUnion(survey?.namedBridges ?? [])
        for case .success(let policy) in policies {
            for rule in policy.rules { if case .named(let name) = rule.bridge { names.insert(name) } }
        }
        return names.sorted { $0.bytes.lexicographicallyPrecedes($1.bytes) }
    }

    /// `allow`, `allow(vlan20,iso,max4)` for an allow with options, `-` for a refusal.
    static func cell(_ verdict: Verdict) -> String {
        guard let options = verdict.options else { return "-" }
        var parts: [String] = []
        if let vlan = options.vlan { parts.append("vlan\(vlan)") }
        if options.isolated { parts.append("iso") }
        if let limit = options.maxTaps { parts.append("max\(limit)") }
        return parts.isEmpty ? "allow" : "allow(" + parts.joined(separator: ",") + ")"
    }

    static let legend = "allow(...): vlanN = vlan=N (the port gets PVID N untagged), iso = isolated (port isolation), maxN = max=N (at most N TAPs per user on the bridge)\n"

    static func text(columns: [InterfaceName], rows: [(Account, [Verdict])]) -> String {
        let header = ["USER", "UID"] + columns.map(\.description)
        var withOptions = false
        let lines = [header] + rows.map { account, verdicts in
            [account.shown, String(account.uid)] + verdicts.map { verdict in
                if verdict.options.map({ !$0.isEmpty }) == true { withOptions = true }
                return cell(verdict)
            }
        }
        var widths = [Int](repeating: 0, count: header.count)
        for line in lines { for (index, cell) in line.enumerated() { widths[index] = max(widths[index], cell.count) } }
        return lines.map { line in
            var out = ""
            for (index, cell) in line.enumerated() {
                if index == line.count - 1 { out += cell; break }
                out += cell + String(repeating: " ", count: widths[index] - cell.count + 2)
            }
            return out + "\n"
        }.joined() + (withOptions ? "\n" + legend : "")
    }

    static func json(acl: [UInt8], columns: [InterfaceName], rows: [(Account, [Verdict])]) -> String {
        var entries: [String] = []
        entries.reserveCapacity(rows.count * columns.count)
        for (account, verdicts) in rows {
            let user = JSON.string(account.shown)
            for (bridge, verdict) in zip(columns, verdicts) {
                entries.append("\n  {\"user\": \(user), \"uid\": \(account.uid), \"bridge\": \(JSON.string(bridge.description)), "
                    + "\"allowed\": \(verdict.allowed), \"rule\": \(JSON.optional(verdict.rule.map { $0.location.description })), "
                    + "\"reason\": \(JSON.string(verdict.reason)), \"vlan\": \(JSON.number(verdict.options?.vlan)), "
                    + "\"isolated\": \(verdict.options?.isolated ?? false), \"max\": \(JSON.number(verdict.options?.maxTaps))}")
            }
        }
        let body = entries.isEmpty ? "]" : entries.joined(separator: ",") + "\n]"
        return "{\"acl\": \(JSON.string(Escaping.escape(acl))), \"decisions\": [\(body)}\n"
    }

    static func csv(columns: [InterfaceName], rows: [(Account, [Verdict])]) -> String {
        var out = "user,uid,bridge,allowed,rule,reason,vlan,isolated,max\n"
        for (account, verdicts) in rows {
            let user = CSV.field(account.shown)
            for (bridge, verdict) in zip(columns, verdicts) {
                out += "\(user),\(account.uid),\(CSV.field(bridge.description)),\(verdict.allowed),"
                    + "\(CSV.field(verdict.rule.map { $0.location.description } ?? "")),\(CSV.field(verdict.reason)),"
                    + "\(verdict.options?.vlan.map { String($0) } ?? ""),\(verdict.options?.isolated ?? false),"
                    + "\(verdict.options?.maxTaps.map { String($0) } ?? "")\n"
            }
        }
        return out
    }
}
