import BridgeACL
import BridgeLint
import Testing

@Suite struct CleanFiles {
    @Test func aCleanFileHasNoDiagnostics() {
        let host = MemoryHost([topLevelPath: "# lab\nallow br0\n\tallow\tbr1\ndeny  br2  \r\n", "/etc/qemu/lab.conf": "allow br2\n"])
        host.device("br0")
        host.device("br1")
        host.device("br2")
        let result = lintResult(host)
        #expect(result.text == "1 file read, 0 errors, 0 warnings\n")
        #expect(result.json == "{\"diagnostics\": []}\n")
        #expect(result.exitStatus(strict: true) == 0)
    }

    @Test func includesAreCountedAndCheckedToo() {
        let host = MemoryHost([topLevelPath: "include /etc/qemu/lab.conf\n", "/etc/qemu/lab.conf": "allow br0\n"])
        host.device("br0")
        #expect(lintText(host) == ["2 files read, 0 errors, 0 warnings"])
    }
}

@Suite struct Errors {
    @Test func everySyntaxErrorIsReportedWithItsColumn() {
        let host = MemoryHost([topLevelPath: "allow br0\nAllow br1\ndeny br0 br1\ninclude rel.conf\nallow br0 user=a,\ndeny\nallow abcdefghijklmnop\nallow a\0b\n"])
        host.device("br0")
        #expect(lintText(host) == [
            "/etc/qemu/bridge.conf:2:1: error: unknown keyword 'Allow' (expected allow, deny, include or a # comment)",
            "/etc/qemu/bridge.conf:3:10: error: unexpected 'br1' after the bridge name (one bridge per rule)",
            "/etc/qemu/bridge.conf:4:9: error: include path 'rel.conf' is relative; write an absolute path",
            "/etc/qemu/bridge.conf:5:16: error: 'user=a,' has an empty element (a stray comma)",
            "/etc/qemu/bridge.conf:6:1: error: 'deny' needs a bridge name or 'all'",
            "/etc/qemu/bridge.conf:7:7: error: bridge name 'abcdefghijklmnop' is too long: 16 bytes (at most 15)",
            "/etc/qemu/bridge.conf:8:8: error: the line contains a NUL byte",
            "1 file read, 7 errors, 0 warnings",
        ])
        #expect(lintResult(host).exitStatus(strict: false) == 1)
    }

    @Test func theWalkGoesOnPastAnIncludeWithErrors() {
        // The helper stops at inc.conf's first line; lint reports it and still reads the rest.
        let host = MemoryHost([
            topLevelPath: "include /etc/qemu/inc.conf\ninclude /etc/qemu/b.conf\n",
            "/etc/qemu/inc.conf": "bogus line\ninclude /\n",
            "/etc/qemu/b.conf": "allow br0\n",
        ])
        host.device("br0")
        #expect(lintText(host) == [
            "/etc/qemu/inc.conf:1:1: error: unknown keyword 'bogus' (expected allow, deny, include or a # comment)",
            "/etc/qemu/inc.conf:2:9: error: include path '/' names the root directory; name a drop-in directory such as /etc/qemu/bridge.d/",
            "3 files read, 2 errors, 0 warnings",
        ])
    }

    @Test func cyclesRefusedIncludesAndDepth() {
        let host = MemoryHost([
            topLevelPath: "include /etc/qemu/a.conf\ninclude /etc/qemu/unsafe.conf\nallow br0\n",
            "/etc/qemu/a.conf": "include /etc/qemu/bridge.conf\n",
        ])
        host.refuse("/etc/qemu/unsafe.conf", "/etc/qemu/unsafe.conf is owned by uid 1000, not root; ACL files and their directories must be root's")
        host.device("br0")
        #expect(lintText(host) == [
            "/etc/qemu/a.conf:1:9: error: include cycle: /etc/qemu/bridge.conf is already being read",
            "/etc/qemu/bridge.conf:2:9: error: include refused: /etc/qemu/unsafe.conf is owned by uid 1000, not root; ACL files and their directories must be root's",
            "2 files read, 2 errors, 0 warnings",
        ])
    }

    @Test func nestingDepthAndFileCount() {
        let host = MemoryHost([
            topLevelPath: "include /etc/qemu/1.conf\n",
            "/etc/qemu/1.conf": "include /etc/qemu/2.conf\n",
            "/etc/qemu/2.conf": "include /etc/qemu/3.conf\n",
            "/etc/qemu/3.conf": "allow br0\n",
        ])
        host.device("br0")
        var limits = ACLLimits()
        limits.maximumDepth = 2
        #expect(lintText(host, limits: limits) == [
            "/etc/qemu/2.conf:1:9: error: includes are nested more than 2 levels deep",
            "3 files read, 1 error, 0 warnings",
        ])
        limits = ACLLimits()
        limits.maximumFiles = 2
        #expect(lintText(host, limits: limits) == [
            "/etc/qemu/1.conf:1:9: error: more than 2 files included in total",
            "2 files read, 1 error, 0 warnings",
        ])
    }

    @Test func theTopLevelFileAsAWhole() {
        #expect(lintText(MemoryHost()) == [
            "/etc/qemu/bridge.conf:0:0: error: /etc/qemu/bridge.conf does not exist or is not readable by this user",
            "0 files read, 1 error, 0 warnings",
        ])
        let host = MemoryHost()
        host.refuse(topLevelPath, "/etc/qemu is writable by group or others (mode 0777); run chmod go-w on it")
        #expect(lintText(host) == [
            "/etc/qemu/bridge.conf:0:0: error: /etc/qemu is writable by group or others (mode 0777); run chmod go-w on it",
            "0 files read, 1 error, 0 warnings",
        ])
    }
}

@Suite struct Warnings {
    @Test func missingAndUnreadableIncludes() {
        let host = MemoryHost([topLevelPath: "include /etc/qemu/gone.conf\ninclude   /etc/qemu/alice.conf\nallow br0\n"])
        host.add("/etc/qemu/alice.conf", "deny br0\n")
        host.hide("/etc/qemu/alice.conf")
        host.device("br0")
        #expect(lintText(host, uid: 65534) == [
            "/etc/qemu/bridge.conf:1:9: warning: include '/etc/qemu/gone.conf' does not exist; the helper skips it",
            "/etc/qemu/bridge.conf:2:11: warning: cannot read '/etc/qemu/alice.conf' as uid 65534: it was not checked, so this result is incomplete (run bridgekeeper lint as root)",
            "1 file read, 0 errors, 2 warnings",
        ])
        let result = lintResult(host, uid: 65534)
        #expect(result.exitStatus(strict: false) == 0)
        #expect(result.exitStatus(strict: true) == 1)
    }

    @Test func aDenyInAFileSomeUsersCannotReadDeniesThemNothing() {
        let host = MemoryHost([
            topLevelPath: "allow br0\ninclude /etc/qemu/lab.conf\n",
            "/etc/qemu/lab.conf": "deny br0\ninclude /etc/qemu/inner.conf\n",
            "/etc/qemu/inner.conf": "deny all\n",
        ])
        host.restrict("/etc/qemu/lab.conf", "/etc/qemu/lab.conf is mode 0640: others cannot read it")
        host.device("br0")
        // Neither deny kills the allow: users who cannot read lab.conf still get br0.
        #expect(lintText(host) == [
            "/etc/qemu/inner.conf:1:1: warning: 'deny all' is skipped for some users: /etc/qemu/lab.conf is mode 0640: others cannot read it; it denies nothing to users who cannot read it",
            "/etc/qemu/lab.conf:1:1: warning: 'deny br0' is skipped for some users: /etc/qemu/lab.conf is mode 0640: others cannot read it; it denies nothing to users who cannot read it",
            "3 files read, 0 errors, 2 warnings",
        ])
    }

    @Test func deadAllows() {
        let host = MemoryHost([
            topLevelPath: "allow br0\nallow br1\nallow all\ninclude /etc/qemu/lab.conf\ndeny br0\n",
            "/etc/qemu/lab.conf": "allow br2\ndeny br2\n",
        ])
        host.restrict("/etc/qemu/lab.conf", "/etc/qemu/lab.conf is mode 0640: others cannot read it")
        host.device("br0")
        host.device("br1")
        host.device("br2")
        #expect(lintText(host) == [
            "/etc/qemu/bridge.conf:1:1: warning: 'allow br0' is dead: 'deny br0' at /etc/qemu/bridge.conf:5 always overrides it",
            "/etc/qemu/lab.conf:1:1: warning: 'allow br2' is dead: 'deny br2' at /etc/qemu/lab.conf:2 always overrides it",
            "/etc/qemu/lab.conf:2:1: warning: 'deny br2' is skipped for some users: /etc/qemu/lab.conf is mode 0640: others cannot read it; it denies nothing to users who cannot read it",
            "2 files read, 0 errors, 3 warnings",
        ])
    }

    @Test func denyAllKillsEveryAllow() {
        let host = MemoryHost([topLevelPath: "allow all\nallow br0\ndeny all\n"])
        host.device("br0")
        #expect(lintText(host) == [
            "/etc/qemu/bridge.conf:1:1: warning: 'allow all' is dead: 'deny all' at /etc/qemu/bridge.conf:3 always overrides it",
            "/etc/qemu/bridge.conf:2:1: warning: 'allow br0' is dead: 'deny all' at /etc/qemu/bridge.conf:3 always overrides it",
            "1 file read, 0 errors, 2 warnings",
        ])
    }

    @Test func aDenyOfAnAlternativeNameKillsTheAllow() {
        let host = MemoryHost([topLevelPath: "allow br0\nallow lab0\nallow br1\ndeny lab1\ndeny br1\n"])
        host.device("br0", alternatives: ["lab0", "lab1"])
        host.device("br1")
        #expect(lintText(host) == [
            "/etc/qemu/bridge.conf:1:1: warning: 'allow br0' is dead: 'deny lab1' at /etc/qemu/bridge.conf:4 always overrides it ('lab1' is an alternative name of 'br0')",
            "/etc/qemu/bridge.conf:2:1: warning: 'allow lab0' is dead: 'deny lab1' at /etc/qemu/bridge.conf:4 always overrides it ('lab0' and 'lab1' are alternative names of 'br0')",
            "/etc/qemu/bridge.conf:3:1: warning: 'allow br1' is dead: 'deny br1' at /etc/qemu/bridge.conf:5 always overrides it",
            "1 file read, 0 errors, 3 warnings",
        ])
        let reverse = MemoryHost([topLevelPath: "allow lab0\ndeny br0\n"])
        reverse.device("br0", alternatives: ["lab0"])
        #expect(lintText(reverse) == [
            "/etc/qemu/bridge.conf:1:1: warning: 'allow lab0' is dead: 'deny br0' at /etc/qemu/bridge.conf:2 always overrides it ('lab0' is an alternative name of 'br0')",
            "1 file read, 0 errors, 1 warning",
        ])
    }

    @Test func bridgesThatDoNotExistOrAreNotBridges() {
        let host = MemoryHost([topLevelPath: "allow br9\ndeny  veth0\nallow all\n"])
        host.device("veth0", kind: "veth")
        #expect(lintText(host) == [
            "/etc/qemu/bridge.conf:1:7: warning: bridge 'br9' does not exist in this network namespace",
            "/etc/qemu/bridge.conf:2:7: warning: 'veth0' is not a Linux bridge (its driver is 'veth')",
            "1 file read, 0 errors, 2 warnings",
        ])
        host.linkFailure = "RTM_GETLINK br9: Permission denied"
        #expect(lintText(host) == [
            "/etc/qemu/bridge.conf:1:7: warning: cannot check the bridges named in rules: RTM_GETLINK br9: Permission denied",
            "1 file read, 0 errors, 1 warning",
        ])
    }
}

@Suite struct StockDivergences {
    func lines(_ text: String) -> [String] {
        let host = MemoryHost([topLevelPath: text])
        host.device("br0")
        return lintText(host)
    }

    @Test func inlineComments() {
        #expect(lines("allow br0 # lab\n") == [
            "/etc/qemu/bridge.conf:1:11: warning: stock qemu-bridge-helper reads the bridge name 'br0 # lab', which matches no bridge",
            "1 file read, 0 errors, 1 warning",
        ])
        #expect(lines("deny br0  # a longer comment\n") == [
            "/etc/qemu/bridge.conf:1:11: warning: stock qemu-bridge-helper reads the bridge name 'br0  # a longer comment', which is too long (23 bytes), and stops reading this file there",
            "1 file read, 0 errors, 1 warning",
        ])
        #expect(lines("include /etc/qemu/x.conf #x\n") == [
            "/etc/qemu/bridge.conf:1:9: warning: include '/etc/qemu/x.conf' does not exist; the helper skips it",
            "/etc/qemu/bridge.conf:1:26: warning: stock qemu-bridge-helper reads the include path '/etc/qemu/x.conf #x'",
            "1 file read, 0 errors, 2 warnings",
        ])
    }

    @Test func tabsAndSpaces() {
        // Stock splits at the first space, else the first tab: these read the same there.
        #expect(lines("allow\tbr0\nallow    br0\n  allow br0\t\n\t# comment\n") == ["1 file read, 0 errors, 0 warnings"])
        #expect(lines("allow\t br0\n") == [
            "/etc/qemu/bridge.conf:1:1: warning: stock qemu-bridge-helper reads the unknown command 'allow\\x09' and stops reading this file there",
            "1 file read, 0 errors, 1 warning",
        ])
        #expect(lines("allow\tbr0 \u{0B}\n") == [
            "/etc/qemu/bridge.conf:1:1: warning: stock qemu-bridge-helper reads the unknown command 'allow\\x09br0' and stops reading this file there",
            "1 file read, 0 errors, 1 warning",
        ])
    }

    @Test func whitespaceInsideTokens() {
        // A vertical tab is not whitespace for glib's g_ascii_isspace: stock keeps it in the name.
        #expect(lines("allow br0\u{0B}\n") == [
            "/etc/qemu/bridge.conf:1:10: warning: stock qemu-bridge-helper reads the bridge name 'br0\\x0b', which matches no bridge",
            "1 file read, 0 errors, 1 warning",
        ])
    }

    @Test func longLines() {
        let comment = "#" + String(repeating: "x", count: 4094)
        #expect(lines(comment + "allow br0\n") == [
            "/etc/qemu/bridge.conf:1:4096: warning: stock qemu-bridge-helper reads at most 4095 bytes of a line: it reads the rest of this line, from column 4096, as a line of its own",
            "1 file read, 0 errors, 1 warning",
        ])
        // Exactly 4095 bytes with the newline: one read. 4095 without: only the newline is left.
        #expect(lines(String(comment.dropLast()) + "\n") == ["1 file read, 0 errors, 0 warnings"])
        #expect(lines(comment + "\n") == ["1 file read, 0 errors, 0 warnings"])
    }
}

@Suite struct Rendering {
    @Test func jsonHasTheSameFactsAndEscapes() {
        let host = MemoryHost([topLevelPath: "allow br\"0\ninclude /etc/qemu/\u{1b}.conf\n"])
        host.device("br\"0")
        let result = lintResult(host)
        #expect(result.json == """
            {"diagnostics": [{"file": "/etc/qemu/bridge.conf", "line": 2, "column": 9, "severity": "warning", "message": "include '/etc/qemu/\\\\x1b.conf' does not exist; the helper skips it"}]}

            """)
        #expect(result.text == """
            /etc/qemu/bridge.conf:2:9: warning: include '/etc/qemu/\\x1b.conf' does not exist; the helper skips it
            1 file read, 0 errors, 1 warning

            """)
    }

    @Test func sortedByFileThenLineWithoutDuplicates() {
        // The same missing include twice in one file: two lines; the same file included twice
        // (a diamond): its diagnostics once.
        let host = MemoryHost([
            topLevelPath: "include /etc/qemu/b.conf\ninclude /etc/qemu/a.conf\ninclude /etc/qemu/b.conf\n",
            "/etc/qemu/a.conf": "allow br9\n",
            "/etc/qemu/b.conf": "include /etc/qemu/gone\n",
        ])
        host.device("br0")
        #expect(lintText(host) == [
            "/etc/qemu/a.conf:1:7: warning: bridge 'br9' does not exist in this network namespace",
            "/etc/qemu/b.conf:1:9: warning: include '/etc/qemu/gone' does not exist; the helper skips it",
            "3 files read, 0 errors, 2 warnings",
        ])
    }
}
