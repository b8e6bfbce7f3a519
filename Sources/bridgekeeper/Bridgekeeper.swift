import ArgumentParser
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
        version: "0.1.0",
        subcommands: [Try.self])
}

struct Try: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a bridge helper the way QEMU does, without a guest, and describe the TAP it returns.",
        discussion: """
            Prints one line of key=value fields on stdout: result=attached with the TAP's name,
            bridge, vnet_hdr, mtu, mac, up and owner, or result=refused. The helper's stderr is
            copied to stderr unchanged. Exit status: 0 attached, 1 refused, 3 if the helper broke
            the protocol (exit 0 without a descriptor, or a descriptor with a non-zero exit).
            """)

    @Option(help: "The helper to run.")
    var helper: String = "/usr/local/libexec/bridgekeeper-helper"

    @Option(name: .customLong("br"), help: "The bridge to ask for.")
    var bridge: String = "br0"

    @Flag(name: .customLong("no-vnet"), help: "Do not pass --use-vnet.")
    var noVnet = false

    @Option(help: "Keep the TAP open this many seconds after printing (closing it removes the TAP).")
    var hold: Double = 0

    @Flag(help: "Keep the TAP open until standard input reaches end of file.")
    var holdUntilEOF = false

    @Flag(help: "Make the TAP persistent through the received descriptor (what a hostile QEMU could do).")
    var persist = false

    @Argument(help: "Exact helper arguments instead of the defaults; {fd} becomes the socket's number.")
    var arguments: [String] = []

    func run() throws {
        let argv = arguments.isEmpty ? (noVnet ? [] : ["--use-vnet"]) + ["--br=\(bridge)", "--fd={fd}"] : arguments
        var outcome = try HelperClient.run(helper: helper, arguments: argv)
        FileHandle.standardError.write(Data(outcome.standardError))
        var fields = "helper_exit=\(outcome.exitStatus) helper_stdout_bytes=\(outcome.standardOutput.count)"
        guard let tap = outcome.tap.take() else {
            print("result=refused " + fields)
            fflush(nil)  // the result line must be readable while --hold keeps the TAP open
            throw ExitCode(outcome.exitStatus == 0 ? 3 : 1)
        }
        if persist { _ = bk_tun_set_persist(tap.rawValue, 1) }
        fields += " " + (try TapFacts.inspect(tap)).fields
        guard outcome.exitStatus == 0 else {
            print("result=protocol-violation " + fields)
            throw ExitCode(3)
        }
        print("result=attached " + fields)
        fflush(nil)  // the result line must be readable while --hold keeps the TAP open
        if holdUntilEOF { _ = FileHandle.standardInput.readDataToEndOfFile() }
        if hold > 0 { usleep(UInt32(hold * 1_000_000)) }
        _ = consume tap
    }
}
