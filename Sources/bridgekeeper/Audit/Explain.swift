import ArgumentParser
import BridgeACL
import BridgeHelper
import BridgeSystem
import Glibc

/// Exit statuses of `explain` and `matrix` beyond 0 and 1.
enum AuditExit {
    static let usage: Int32 = 2
    static let cannotEvaluate: Int32 = 3

    /// The audit commands promise exit status 2 and one line on stderr for any invalid command
    /// line, ArgumentParser's own errors included (it would exit 64 with a usage block, which
    /// `try` keeps). Returns for every other error and command.
    static func exitIfUsageError(_ error: Error, command: ParsableCommand.Type) {
        let arguments = CommandLine.arguments.dropFirst()
        guard let name = arguments.first, command.exitCode(for: error) == .validationFailure,
              command.configuration.subcommands.contains(where: { $0._commandName == name && $0 is UsageErrorExitsTwo.Type })
        else { return }
        let message = command.message(for: error).split(whereSeparator: \.isNewline).joined(separator: " ")
        complain("\(message); see 'bridgekeeper \(name) --help'")
        Glibc.exit(usage)
    }
}

struct Explain: ParsableCommand, UsageErrorExitsTwo {
    static let configuration = CommandConfiguration(
        abstract: "Explain whether a user may put a guest on a bridge, and why.",
        discussion: """
            Reads the ACL the way the helper reads it when USER runs it: as root, in a child process with USER's uid, primary group and supplementary groups (from the name service) after the helper's own privilege drop; without root, only for yourself. Prints the decision with the deciding rule or the helper's reason for refusing (a user= or group= name that does not resolve refuses when the decision depends on it); for an allow, the options that would apply: vlan=N untagged, port isolated, at most N TAPs with the number the user has on the bridge now (TAPs with the user's mark). Then every file of the walk: read, missing, unreadable (not readable by USER, skipped as the helper skips it) or refused (unsafe owner or mode and the like, which makes the helper refuse).

            Exit status: 0 allowed, 1 refused, 2 for an invalid command line or an unknown user, 3 if the ACL could not be evaluated (another user without root).
            """)

    @Option(help: "The user to evaluate as (a login name).")
    var user: String

    @Option(help: "The ACL file to read.")
    var acl: String = Installation.aclFileText

    @Flag(help: "Print one JSON document instead of text.")
    var json = false

    @Argument(help: "The bridge, as QEMU would ask for it.")
    var bridge: String

    func run() throws {
        let path: [UInt8], name: InterfaceName
        switch (aclPath(acl), bridgeName(bridge)) {
        case (.failure(let error), _), (_, .failure(let error)):
            complain(error.message)
            throw ExitCode(AuditExit.usage)
        case (.success(let p), .success(let n)):
            path = p
            name = n
        }
        guard let account = Accounts.lookup(Array(user.utf8)) else {
            complain("unknown user '\(Escaping.escape(Array(user.utf8), limit: 64))' (the name service has no such login name)")
            throw ExitCode(AuditExit.usage)
        }
        let session = AuditSession(acl: path)
        let verdict: Verdict, files: [FileReport]
        var count: Result<Int, AuditError>?
        do throws(AuditError) {
            let walks = try session.walks(for: [account], share: false)
            let walk = walks.results[walks.of[0]]
            verdict = session.verdict(try session.policy(walk), bridge: name, account: account)
            guard case .loads(let records) = walk else { throw AuditError("no walk") }
            files = FileReport.reports(records, user: account.shown)
            if verdict.options?.maxTaps != nil { count = session.tapCount(uid: account.uid, bridge: name) }
        } catch {
            complain(error.description)
            throw ExitCode(AuditExit.cannotEvaluate)
        }
        let bridgeShown = Self.canonical(name, session.devices.resolve(name))
        emit(json ? Self.json(account, name, verdict, count, files)
                  : Self.text(account, name, verdict, count, bridge: bridgeShown, files))
        if !verdict.allowed { throw ExitCode(1) }
    }

    /// The device's canonical name (the quota counts TAPs on the device, whatever name was asked for).
    static func canonical(_ name: InterfaceName, _ device: Result<NetworkDevice?, HelperFailure>) -> InterfaceName {
        if case .success(let found?) = device { return found.canonicalName }
        return name
    }

    /// "vlan=20 untagged, port isolated, at most 4 TAPs: alice has 2 on br1 now"; nil without
    /// options.
    static func optionsText(_ options: RuleOptions, _ count: Result<Int, AuditError>?, user: String,
                            bridge: InterfaceName) -> String? {
        var parts: [String] = []
        if let vlan = options.vlan { parts.append("vlan=\(vlan) untagged") }
        if options.isolated { parts.append("port isolated") }
        if let limit = options.maxTaps {
            let most = "at most \(limit) TAP\(limit == 1 ? "" : "s")"
            switch count {
            case .success(let held)?:
                let full = held >= limit ? " (the limit: another is refused until one is closed)" : ""
                parts.append("\(most): \(user) has \(held) on \(bridge) now\(full)")
            case .failure(let error)?:
                parts.append("\(most) (the current count is unknown: \(error))")
            case nil:
                parts.append(most)
            }
        }
        return parts.isEmpty ? nil : parts.joined(separator: ", ")
    }

    static func text(_ account: Account, _ bridge: InterfaceName, _ verdict: Verdict, _ count: Result<Int, AuditError>?,
                     bridge canonical: InterfaceName, _ files: [FileReport]) -> String {
        var out = "\(account.shown) (uid \(account.uid)) \(verdict.allowed ? "may" : "may not") use bridge '\(bridge)'\n"
        out += "  \(verdict.reason)\n"
        if let options = verdict.options,
           let described = optionsText(options, count, user: account.shown, bridge: canonical) {
            out += "  options: \(described)\n"
        }
        // An allow that granted before the device check refused (not for an allow whose
        // application could not be decided: that one allows nothing).
        if !verdict.allowed, verdict.unresolved == nil, let rule = verdict.rule, rule.action == .allow {
            out += "  (the ACL allows it: \(rule.location) '\(rule)')\n"
        }
        out += "files, in the order the helper reads them as \(account.shown):\n"
        let width = files.map { $0.status.rawValue.count }.max() ?? 0
        for file in files {
            let status = file.status.rawValue + String(repeating: " ", count: width - file.status.rawValue.count)
            out += "  \(status)  \(Escaping.escape(file.path))\(file.detail.isEmpty ? "" : ": " + file.detail)\n"
        }
        return out
    }

    static func json(_ account: Account, _ bridge: InterfaceName, _ verdict: Verdict, _ count: Result<Int, AuditError>?,
                     _ files: [FileReport]) -> String {
        var out = "{\"user\": \(JSON.string(account.shown)), \"uid\": \(account.uid), \"bridge\": \(JSON.string(bridge.description)), "
        out += "\"allowed\": \(verdict.allowed), \"rule\": \(JSON.optional(verdict.rule.map { $0.location.description })), "
        out += "\"reason\": \(JSON.string(verdict.reason)), "
        var taps = "null"
        if case .success(let held)? = count { taps = String(held) }
        out += "\"options\": \(verdict.options.map { JSON.options($0, taps: taps) } ?? "null"), "
        out += "\"unresolved\": \(verdict.unresolved.map(JSON.unresolved) ?? "null"), \"files\": ["
        out += files.map { file in
            "\n  {\"path\": \(JSON.string(Escaping.escape(file.path))), \"status\": \(JSON.string(file.status.rawValue)), \"detail\": \(JSON.string(file.detail))}"
        }.joined(separator: ",")
        out += files.isEmpty ? "]}\n" : "\n]}\n"
        return out
    }
}
