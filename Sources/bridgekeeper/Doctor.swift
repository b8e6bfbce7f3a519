import ArgumentParser
import BridgeACL
import BridgeDoctor
import Foundation

/// `bridgekeeper doctor [BRIDGE...]`: the host-side questions people ask about bridged guests,
/// one finding a line. The checks are BridgeDoctor's (pure); HostDoctor reads the facts.
struct DoctorCommand: ParsableCommand, UsageErrorExitsTwo {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check this host for bridged guests and say how to fix what is wrong.",
        // One source line per paragraph (see Try).
        discussion: """
            Checks the tun driver and /dev/net/tun against the helper's install mode, the helpers where QEMU, libvirt and bridgekeeper's installs look for them (mode, owner, setuid bit or file capability, nosuid mounts, bridgekeeper or the stock helper), bridge.conf (lint and which bridges every user may use), br_netfilter with the FORWARD chains, and each bridge: exists, is a Linux bridge, is up, has a (non-wireless) uplink, STP, vlan_filtering for vlan= rules, an explicitly set MAC, MACs learnt on two ports or QEMU's default MAC, and persistent TAPs nobody holds.

            Without BRIDGE, the bridges bridge.conf allows by name (and, with 'allow all', every Linux bridge of this network namespace).

            Prints one line per finding: ok|warning|error CHECK: what was found; fix: what to do. Some facts need root (the firewall rules, other users' descriptors, a helper only root may read); without it the findings say so.

            Exit status: 0 without errors (warnings allowed), 1 with errors, 2 for an invalid command line.
            """)

    @Argument(help: ArgumentHelp("The bridges to check (default: those bridge.conf allows).", valueName: "bridge"))
    var bridges: [String] = []

    @Flag(help: "Print one JSON document instead of text: {\"findings\": [...], \"errors\": N, \"warnings\": N}.")
    var json = false

    func validate() throws {
        for bridge in bridges {
            do throws(InterfaceName.Problem) {
                _ = try InterfaceName(validating: Array(bridge.utf8))
            } catch {
                throw ValidationError("bridge name '\(Escaping.escape(Array(bridge.utf8)))' \(error.explanation)")
            }
        }
    }

    func run() throws {
        let report = DoctorChecks.examine(HostDoctor().gather(bridges: bridges))
        FileHandle.standardOutput.write(Data((json ? report.json : report.text).utf8))
        if report.exitStatus != 0 { throw ExitCode(report.exitStatus) }
    }
}
