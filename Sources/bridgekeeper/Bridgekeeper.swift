import ArgumentParser
import BridgeACL
import BridgeClient
import BridgeSystem
import CBridgeShims
import Foundation

/// The unprivileged admin CLI. This issue ships `try`; explain/lint/list/inventory/diagnose
/// come with the admin-CLI issue and share BridgeACL with the helper.
@main
struct Bridgekeeper: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bridgekeeper",
        abstract: "Tools around bridgekeeper-helper, the qemu-bridge-helper replacement.",
        version: Installation.version,
        subcommands: [Try.self, Explain.self, Matrix.self, Lint.self, Taps.self, Evaluate.self, DoctorCommand.self])

    /// ArgumentParser's own main, except that the audit commands (`UsageErrorExitsTwo`) exit 2
    /// on an invalid command line, with one line on stderr, instead of 64 and the usage text.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            AuditExit.exitIfUsageError(error, command: Self.self)
            exit(withError: error)
        }
    }
}

/// Commands whose invalid command lines exit with status 2 (the audit commands' contract).
protocol UsageErrorExitsTwo {}

struct Try: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a bridge helper the way QEMU does, without a guest, and describe the TAP it returns.",
        // One source line per paragraph: ArgumentParser wraps each line to the terminal width,
        // so a hard line break inside a sentence would show as a ragged break in --help.
        discussion: """
            Prints one line of key=value fields on stdout: result=attached with the TAP's name, bridge, vnet_hdr, mtu, mac, up and owner, or result=refused. The helper's stderr is copied to stderr unchanged.

            Exit status: 0 attached, 1 refused, 3 if the helper broke the protocol (exit 0 without a descriptor, or a descriptor with a non-zero exit), 64 for an invalid command line.
            """)

    /// `--hold` beyond this is refused: longer holds are what --hold-until-eof is for, and the
    /// bound keeps the sleep's conversion to whole seconds and nanoseconds exact.
    static let maximumHoldSeconds = 86_400.0

    @Option(help: "The helper to run.")
    var helper: String = "/usr/local/libexec/bridgekeeper-helper"

    @Option(name: .customLong("br"), help: "The bridge to ask for.")
    var bridge: String = "br0"

    @Flag(name: .customLong("no-vnet"), help: "Do not pass --use-vnet.")
    var noVnet = false

    @Option(help: "Keep the TAP open this many seconds (0 to 86400) after printing (closing it removes the TAP).")
    var hold: Double = 0

    @Flag(help: "Keep the TAP open until standard input reaches end of file.")
    var holdUntilEOF = false

    @Flag(help: "Make the TAP persistent through the received descriptor (what a hostile QEMU could do).")
    var persist = false

    @Option(name: .customLong("set-owner"),
            help: ArgumentHelp("Change the TAP's tun owner to UID through the received descriptor (TUNSETOWNER needs no privilege).",
                               valueName: "uid"))
    var setOwner: UInt32?

    @Argument(help: "Exact helper arguments instead of the defaults; {fd} becomes the socket's number.")
    var arguments: [String] = []

    func run() throws {
        // The bridge name and explicit arguments are taken from the raw argv bytes: interface
        // names need not be UTF-8, and String would replace invalid bytes with U+FFFD.
        let raw = RawArguments.current()
        guard hold.isFinite, hold >= 0, hold <= Self.maximumHoldSeconds else {
            // One line, before any helper runs: nothing was created that would need undoing.
            let given = raw.lastValue(of: "--hold").map { String(decoding: $0, as: UTF8.self) } ?? "\(hold)"
            FileHandle.standardError.write(Data("Error: --hold must be between 0 and 86400 seconds, got '\(given)' (--hold-until-eof holds the TAP longer)\n".utf8))
            throw ExitCode.validationFailure
        }
        let bridgeBytes = raw.lastValue(of: "--br") ?? Array(bridge.utf8)
        let explicit = raw.afterSeparator ?? arguments.map { Array($0.utf8) }
        let argv: [[UInt8]] = explicit.isEmpty
            ? (noVnet ? [] : [Array("--use-vnet".utf8)]) + [Array("--br=".utf8) + bridgeBytes, Array("--fd={fd}".utf8)]
            : explicit
        var outcome = try HelperClient.run(helper: helper, arguments: argv)
        FileHandle.standardError.write(Data(outcome.standardError))
        var fields = "helper_exit=\(outcome.exitStatus) helper_stdout_bytes=\(outcome.standardOutput.count)"
        guard let tap = outcome.tap.take() else {
            print("result=refused " + fields)
            fflush(nil)  // the result line must be readable while --hold keeps the TAP open
            throw ExitCode(outcome.exitStatus == 0 ? 3 : 1)
        }
        if persist { _ = bk_tun_set_persist(tap.rawValue, 1) }
        if let setOwner, bk_tun_set_owner(tap.rawValue, setOwner) != 0 {
            FileHandle.standardError.write(Data("Error: TUNSETOWNER \(setOwner): \(Errno.current)\n".utf8))
            throw ExitCode(1)
        }
        fields += " " + (try TapFacts.inspect(tap)).fields
        guard outcome.exitStatus == 0 else {
            print("result=protocol-violation " + fields)
            throw ExitCode(3)
        }
        print("result=attached " + fields)
        fflush(nil)  // the result line must be readable while --hold keeps the TAP open
        if holdUntilEOF { _ = FileHandle.standardInput.readDataToEndOfFile() }
        if hold > 0 { sleepSeconds(hold) }
        _ = consume tap
    }
}

/// Sleeps `seconds` (0...maximumHoldSeconds), resuming after signals.
func sleepSeconds(_ seconds: Double) {
    let whole = seconds.rounded(.down)
    var request = timespec(tv_sec: Int(whole), tv_nsec: Int((seconds - whole) * 1e9))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
}

/// The process's argv as bytes, for the options whose values are interface names.
struct RawArguments {
    let words: [[UInt8]]

    static func current() -> RawArguments {
        let words = (0..<Int(CommandLine.argc)).map { index -> [UInt8] in
            guard let pointer = CommandLine.unsafeArgv[index] else { return [] }
            // Raw bytes of the C string: no binding of the CChar memory to another type needed.
            return Array(UnsafeRawBufferPointer(start: pointer, count: strlen(pointer)))
        }
        return RawArguments(words: words)
    }

    /// Words before a `--` separator.
    var options: ArraySlice<[UInt8]> {
        let end = words.firstIndex(of: Array("--".utf8)) ?? words.endIndex
        return words[..<end]
    }

    /// Words after the first `--`, or nil if there is none.
    var afterSeparator: [[UInt8]]? {
        guard let separator = words.firstIndex(of: Array("--".utf8)) else { return nil }
        return Array(words[(separator + 1)...])
    }

    /// The last value of `NAME VALUE` or `NAME=VALUE` among the options.
    func lastValue(of name: String) -> [UInt8]? {
        let flag = Array(name.utf8)
        let prefix = flag + [UInt8(ascii: "=")]
        var found: [UInt8]?
        var index = options.startIndex
        while index < options.endIndex {
            let word = options[index]
            if word == flag, index + 1 < options.endIndex {
                found = options[index + 1]
                index += 1
            } else if word.starts(with: prefix) {
                found = Array(word.dropFirst(prefix.count))
            }
            index += 1
        }
        return found
    }
}
