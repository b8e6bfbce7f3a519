import ArgumentParser
import BridgeACL
import BridgeLint
import BridgeSystem
import Foundation

/// `bridgekeeper lint [FILE]`: like `visudo -c`, for bridge.conf and its includes. Reads them with
/// the helper's own reader (`SafeFileReader`, the caller's credentials) and walks them with the
/// helper's `PolicyLoader`, so its errors are the helper's refusals.
struct Lint: ParsableCommand, UsageErrorExitsTwo {
    static let configuration = CommandConfiguration(
        abstract: "Check an ACL file and its includes the way bridgekeeper-helper reads them (like visudo -c).",
        // One source line per paragraph (see Try).
        discussion: """
            Prints one diagnostic per line, sorted by file then line: FILE:LINE:COLUMN: error|warning: MESSAGE (line 0, column 0: the file as a whole), then a summary line: N files read, N errors, N warnings.

            Errors are what makes bridgekeeper-helper refuse every request, in its words: syntax, include cycles, relative includes, unsafe owner or mode of a file or directory, symbolic links, file types, sizes, nesting depth, volume limits. Errors too: a user= or group= name the name service does not know (the helper refuses every request whose decision depends on it), and vlan= on a bridge without VLAN filtering (the helper refuses what the rule grants). Warnings: a deny in a file that some users cannot read (it denies them nothing), an allow that a deny always overrides, a missing include, a bridge that does not exist in this network namespace, a name lookup that failed, and lines the stock qemu-bridge-helper reads differently (a qualified rule is a bridge name with spaces there: a qualified deny refuses nothing under stock).

            Run it as root to read every file; as another user, the files it cannot read are warnings and the result is incomplete. A relative FILE is taken from the current directory.

            Exit status: 0 without errors (warnings allowed unless --strict), 1 with errors (or warnings, with --strict), 2 for an invalid command line.
            """)

    @Argument(help: ArgumentHelp("The ACL file to check. (default: \(Installation.aclFileText))", valueName: "file"))
    var file: String?

    @Option(help: ArgumentHelp("The ACL file to check, as in the other commands (FILE or --acl, not both).", valueName: "path"))
    var acl: String?

    @Flag(help: "Print one JSON document instead of text: {\"diagnostics\": [...]}.")
    var json = false

    @Flag(help: "Exit 1 on warnings too.")
    var strict = false

    func validate() throws {
        if file != nil && acl != nil {
            throw ValidationError("give the ACL file as FILE or with --acl, not both")
        }
    }

    func run() throws {
        let path = Self.absolute(Array((file ?? acl ?? Installation.aclFileText).utf8))
        let result = Linter.lint(path: path, source: SafeFileReader(), system: HostLintSystem(), readerUID: getuid())
        FileHandle.standardOutput.write(Data((json ? result.json : result.text).utf8))
        let status = result.exitStatus(strict: strict)
        if status != 0 { throw ExitCode(status) }
    }

    /// A relative path against the current directory (the physical one getcwd returns), so a
    /// file can be checked where it is edited; the reader then applies every rule to its path.
    static func absolute(_ path: [UInt8]) -> [UInt8] {
        if path.first == UInt8(ascii: "/") { return path }
        let directory = FileManager.default.currentDirectoryPath
        return Array(directory.utf8) + (directory.hasSuffix("/") ? [] : [UInt8(ascii: "/")]) + path
    }
}
