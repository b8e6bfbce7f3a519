import BridgeACL
import BridgeLint
import Testing

/// Lint and the issue-10 qualifiers: names the name service does not know, `vlan=` on a bridge
/// without VLAN filtering, and what the stock helper makes of qualified lines.
@Suite struct QualifierNames {
    func host(_ text: String) -> MemoryHost {
        let host = MemoryHost([topLevelPath: text])
        host.device("br0")
        host.device("br1")
        host.user("alice", 2001)
        host.group("lab", 3000)
        return host
    }

    @Test func knownNamesAndNumericIdsAreClean() {
        let text = "allow br0 user=alice group=lab\ndeny br1 uid=4711 gid=4711\n"
        #expect(lintText(host(text)) == [
            "/etc/qemu/bridge.conf:1:11: warning: stock qemu-bridge-helper reads the bridge name 'br0 user=alice group=lab', which is too long (24 bytes), and stops reading this file there: an error in the top-level file, so stock refuses every request",
            "/etc/qemu/bridge.conf:2:10: warning: stock qemu-bridge-helper reads the bridge name 'br1 uid=4711 gid=4711', which is too long (21 bytes), and stops reading this file there: an error in the top-level file, so stock refuses every request",
            "1 file read, 0 errors, 2 warnings",
        ])
    }

    @Test func unknownNamesAreErrorsAtTheirColumn() {
        let host = MemoryHost([
            topLevelPath: "include /etc/qemu/lab.conf\n",
            "/etc/qemu/lab.conf": "deny br0 user=ghost\nallow br1 user=alice,ghost group=lab,nolab\nallow br0 group=nolab\n",
        ])
        host.device("br0")
        host.device("br1")
        host.user("alice", 2001)
        host.group("lab", 3000)
        let found = lintText(host).filter { !$0.contains("stock") }
        #expect(found == [
            "/etc/qemu/lab.conf:1:15: error: user 'ghost' does not exist in the name service; the helper refuses every request whose decision depends on it ('deny br0 user=ghost')",
            "/etc/qemu/lab.conf:2:22: error: user 'ghost' does not exist in the name service; the helper refuses every request whose decision depends on it ('allow br1 user=alice,ghost group=lab,nolab')",
            "/etc/qemu/lab.conf:2:38: error: group 'nolab' does not exist in the name service; the helper refuses every request whose decision depends on it ('allow br1 user=alice,ghost group=lab,nolab')",
            "/etc/qemu/lab.conf:3:17: error: group 'nolab' does not exist in the name service; the helper refuses every request whose decision depends on it ('allow br0 group=nolab')",
            "2 files read, 4 errors, 3 warnings",
        ])
        #expect(lintResult(host).exitStatus(strict: false) == 1)
    }

    @Test func aUserAndAGroupOfOneNameAreLookedUpApart() {
        let host = host("allow br0 user=lab\nallow br1 group=alice\n")
        host.device("br0")
        let found = lintText(host).filter { $0.contains("error:") }
        #expect(found == [
            "/etc/qemu/bridge.conf:1:16: error: user 'lab' does not exist in the name service; the helper refuses every request whose decision depends on it ('allow br0 user=lab')",
            "/etc/qemu/bridge.conf:2:17: error: group 'alice' does not exist in the name service; the helper refuses every request whose decision depends on it ('allow br1 group=alice')",
        ])
    }

    @Test func aFailedLookupIsOneWarningPerName() {
        let host = host("deny br0 group=ldapgroup\nallow br1 group=ldapgroup\nallow br1 user=alice\n")
        host.failLookUp("ldapgroup", errno: 111)
        let found = lintText(host).filter { !$0.contains("stock") }
        #expect(found == [
            "/etc/qemu/bridge.conf:1:16: warning: cannot check group 'ldapgroup': the name service lookup failed (Connection refused); while it fails, the helper refuses every request whose decision depends on it ('deny br0 group=ldapgroup')",
            "1 file read, 0 errors, 4 warnings",
        ])
        #expect(lintResult(host).exitStatus(strict: false) == 0)
    }

    @Test func linesWithSyntaxErrorsAreNotLookedUp() {
        // `max=` on a deny is a syntax error at its column (the grammar's); the line's names
        // are not looked up, since the line is not a rule.
        #expect(lintText(host("deny br0 user=ghost max=4\nallow br0 max=0 user=ghost\n")) == [
            "/etc/qemu/bridge.conf:1:21: error: 'max' is an option of allow rules; a deny takes only user=, uid=, group= and gid=",
            "/etc/qemu/bridge.conf:2:15: error: max=0 is not a number in 1...1023",
            "1 file read, 2 errors, 0 warnings",
        ])
    }
}

@Suite struct QualifierVlans {
    func lines(_ text: String, _ state: VlanFiltering?, kind: String? = "bridge") -> [String] {
        let host = MemoryHost([topLevelPath: text])
        host.device("br0", alternatives: ["lab0"], kind: kind)
        if let state { host.filter("br0", state) }
        return lintText(host).filter { !$0.contains("stock") }
    }

    @Test func filteringOnIsClean() {
        #expect(lines("allow br0 vlan=20\n", .on) == ["1 file read, 0 errors, 1 warning"])
    }

    @Test func filteringOffIsAnError() {
        #expect(lines("allow br0 vlan=20 isolated\nallow br0 isolated\n", .off) == [
            "/etc/qemu/bridge.conf:1:11: error: vlan=20 needs VLAN filtering, which bridge 'br0' has off (vlan_filtering 0); the helper refuses every request 'allow br0 vlan=20 isolated' grants (turn it on: ip link set dev br0 type bridge vlan_filtering 1)",
            "1 file read, 1 error, 2 warnings",
        ])
    }

    @Test func aKernelWithoutFilteringIsAnError() {
        #expect(lines("allow br0 group=lab max=2 vlan=4094\n", .unsupported).filter { $0.contains("error: vlan") } == [
            "/etc/qemu/bridge.conf:1:27: error: vlan=4094 needs VLAN filtering, which this kernel does not have (CONFIG_BRIDGE_VLAN_FILTERING); the helper refuses every request 'allow br0 group=lab max=2 vlan=4094' grants",
        ])
    }

    @Test func anAlternativeNameIsChecked() {
        let host = MemoryHost([topLevelPath: "allow lab0 vlan=30\n"])
        host.device("br0", alternatives: ["lab0"])
        host.filter("lab0", .off)
        #expect(lintText(host).contains(
            "/etc/qemu/bridge.conf:1:12: error: vlan=30 needs VLAN filtering, which bridge 'lab0' has off (vlan_filtering 0); the helper refuses every request 'allow lab0 vlan=30' grants (turn it on: ip link set dev lab0 type bridge vlan_filtering 1)"))
    }

    @Test func anUncheckableBridgeIsAWarning() {
        #expect(lines("allow br0 vlan=20\n", .unknown("sysfs is elsewhere")) == [
            "/etc/qemu/bridge.conf:1:11: warning: cannot check the VLAN filtering of bridge 'br0': sysfs is elsewhere",
            "1 file read, 0 errors, 2 warnings",
        ])
    }

    @Test func missingBridgesOtherDevicesAndAllAreLeftToOtherChecks() {
        #expect(lines("allow br9 vlan=20\n", .off) == [
            "/etc/qemu/bridge.conf:1:7: warning: bridge 'br9' does not exist in this network namespace",
            "1 file read, 0 errors, 2 warnings",
        ])
        #expect(lines("allow br0 vlan=20\n", .off, kind: "veth") == [
            "/etc/qemu/bridge.conf:1:7: warning: 'br0' is not a Linux bridge (its driver is 'veth')",
            "1 file read, 0 errors, 2 warnings",
        ])
        #expect(lines("allow all vlan=20\n", .off) == ["1 file read, 0 errors, 1 warning"])
    }
}

@Suite struct QualifierStockReading {
    func lines(_ files: KeyValuePairs<String, String>) -> [String] {
        let host = MemoryHost(files)
        host.device("br0")
        host.device("br1")
        host.group("lab", 3000)
        return lintText(host)
    }

    @Test func shortQualifiedLinesAreIgnoredByStock() {
        #expect(lines([topLevelPath: "allow br0\ndeny br0 gid=7\ndeny all uid=0\nallow br1 isolated\n"]) == [
            "/etc/qemu/bridge.conf:2:10: warning: stock qemu-bridge-helper ignores this deny (it reads the bridge name 'br0 gid=7', which matches no bridge): where another rule allows 'br0', stock grants what bridgekeeper denies",
            "/etc/qemu/bridge.conf:3:10: warning: stock qemu-bridge-helper ignores this deny (it reads the bridge name 'all uid=0', which matches no bridge): where another rule allows a bridge, stock grants what bridgekeeper denies",
            "/etc/qemu/bridge.conf:4:11: warning: stock qemu-bridge-helper ignores this allow (it reads the bridge name 'br1 isolated', which matches no bridge): under stock it grants nothing",
            "1 file read, 0 errors, 3 warnings",
        ])
    }

    @Test func longQualifiedLinesStopStock() {
        #expect(lines([
            topLevelPath: "allow br0 group=lab max=4\ninclude /etc/qemu/lab.conf\n",
            "/etc/qemu/lab.conf": "allow br1 group=lab max=4\ndeny br0 group=lab,lab2\n",
        ]).filter { $0.contains("stock") } == [
            "/etc/qemu/bridge.conf:1:11: warning: stock qemu-bridge-helper reads the bridge name 'br0 group=lab max=4', which is too long (19 bytes), and stops reading this file there: an error in the top-level file, so stock refuses every request",
            "/etc/qemu/lab.conf:1:11: warning: stock qemu-bridge-helper reads the bridge name 'br1 group=lab max=4', which is too long (19 bytes), and stops reading this file there: under stock this allow grants nothing, nor do the lines after it in this file",
            "/etc/qemu/lab.conf:2:10: warning: stock qemu-bridge-helper reads the bridge name 'br0 group=lab,lab2', which is too long (18 bytes), and stops reading this file there: this deny never applies under stock, where another rule allows 'br0', stock grants what bridgekeeper denies",
        ])
    }

    @Test func anInlineCommentAfterQualifiers() {
        #expect(lines([topLevelPath: "allow br0 uid=1 # x\n"]) == [
            "/etc/qemu/bridge.conf:1:11: warning: stock qemu-bridge-helper ignores this allow (it reads the bridge name 'br0 uid=1 # x', which matches no bridge): under stock it grants nothing",
            "1 file read, 0 errors, 1 warning",
        ])
    }
}
