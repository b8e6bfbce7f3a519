import ArgumentParser
import BridgeClient
import BridgeSystem
import Foundation

struct Taps: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the TAP devices of this network namespace with their holders and bridgekeeper marks.",
        // One source line per paragraph: ArgumentParser wraps each line to the terminal width.
        discussion: """
            For each TAP: its name, ifindex, bridge, tun owner, whether it is persistent, the processes that hold it open (pid/command, from /proc/*/fdinfo) and its mark. Without root the descriptors of other users' processes cannot be read; a note on stderr then says how many processes were not seen.

            The mark is the interface alias that bridgekeeper-helper sets on every TAP it creates: uid=UID rule=FILE:LINE names the user who asked and the allow rule that granted it. Changing an alias needs CAP_NET_ADMIN, so the process holding the TAP cannot forge or erase its mark, while it can change the tun owner (TUNSETOWNER needs no privilege). 'none' is a TAP without an alias, 'foreign' one with another alias.

            --reap (root only) deletes every persistent TAP that no process holds, checking its holders again right before deleting it, and prints one line per TAP deleted. A TAP that a process holds is never touched.

            Exit status: 0 success, 1 if the TAPs could not be listed or one could not be deleted, 2 for --reap without root, 64 for an invalid command line.
            """)

    @Flag(help: "Print one JSON document instead of the table.")
    var json = false

    @Flag(help: "Delete the persistent TAPs that no process holds (root only).")
    var reap = false

    func run() throws {
        if reap && geteuid() != 0 {
            Self.fail("bridgekeeper taps --reap: root is needed (deleting a TAP needs CAP_NET_ADMIN, and only root sees every process's descriptors)")
            throw ExitCode(2)
        }
        let netlink: RouteNetlink
        let inventory: TapInventory
        do {
            netlink = try RouteNetlink()
            inventory = try TapInventory.collect(netlink: netlink)
        } catch {
            Self.fail("bridgekeeper taps: cannot list the links of this network namespace: \(error.errno)")
            throw ExitCode(1)
        }
        if reap {
            let (report, failures) = TapReaper.reap(inventory, netlink: netlink)
            print(json ? report.json : report.text, terminator: "")
            for failure in failures { Self.fail(failure.message) }
            if !failures.isEmpty { throw ExitCode(1) }
            return
        }
        print(json ? inventory.json : inventory.table, terminator: "")
        if let note = inventory.unreadableNote(root: geteuid() == 0) { Self.fail(note) }
    }

    static func fail(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
