import BridgeACL
import BridgeClient
import BridgeSystem
import Glibc
import Testing

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// The links of a namespace with a bridge, three TAPs and a TUN device.
func sampleLinks() -> [LinkDescription] {
    [
        LinkDescription(index: 1, name: bytes("lo")),
        LinkDescription(index: 3, name: bytes("br0"), kind: bytes("bridge"), mtu: 1500),
        LinkDescription(index: 9, name: bytes("tap1"), kind: bytes("tun"),
                        tun: TunInfo(owner: nil, type: 2, persistent: true)),
        LinkDescription(index: 7, name: bytes("tap0"), kind: bytes("tun"), master: 3,
                        alias: bytes("bridgekeeper uid=1001 rule=/etc/qemu/bridge.conf:2"),
                        tun: TunInfo(owner: 1001, type: 2, persistent: false), carrier: true),
        LinkDescription(index: 10, name: bytes("tap2"), kind: bytes("tun"),
                        alias: bytes("vm 'web'\n"), tun: TunInfo(owner: 0, type: 2, persistent: true)),
        LinkDescription(index: 11, name: bytes("tun0"), kind: bytes("tun"), tun: TunInfo(owner: 5, type: 1, persistent: true)),
        LinkDescription(index: 12, name: bytes("veth0"), kind: bytes("veth")),
    ]
}

func sampleScan() -> HolderScan {
    HolderScan(holders: [bytes("tap0"): [TapHolder(pid: 123, command: bytes("qemu-system-x86"))],
                         bytes("tap2"): [TapHolder(pid: 5, command: bytes("a b,c")), TapHolder(pid: 6, command: [0x1B, 0x5B])]],
               unreadableProcesses: 2)
}

@Suite("bridgekeeper taps: inventory")
struct TapInventoryTests {
    @Test func fdinfoOfATapNamesIt() {
        let text = bytes("pos:\t0\nflags:\t0100002\nmnt_id:\t25\nino:\t1045\niff:\ttap0\n")
        #expect(HolderScan.interfaceName(fdinfo: text) == bytes("tap0"))
        #expect(HolderScan.interfaceName(fdinfo: bytes("pos:\t0\nflags:\t02\nmnt_id:\t25\nino:\t1\n")) == nil)
        #expect(HolderScan.interfaceName(fdinfo: bytes("iff:\t\n")) == nil)
        // Only a line that starts with the key counts.
        #expect(HolderScan.interfaceName(fdinfo: bytes("xiff:\ttap9\n")) == nil)
    }

    @Test func buildKeepsTapsOnlyInIndexOrder() {
        let inventory = TapInventory.build(links: sampleLinks(), holders: sampleScan())
        #expect(inventory.taps.map(\.name) == [bytes("tap0"), bytes("tap1"), bytes("tap2")])
        #expect(inventory.unreadableProcesses == 2)
        let tap0 = inventory.taps[0]
        #expect(tap0 == TapEntry(name: bytes("tap0"), index: 7, bridge: bytes("br0"), ownerUID: 1001, persistent: false,
                                 holders: [TapHolder(pid: 123, command: bytes("qemu-system-x86"))],
                                 mark: .bridgekeeper(TapMark(uid: 1001, path: bytes("/etc/qemu/bridge.conf"), line: 2)),
                                 attached: true))
        #expect(inventory.taps[1].mark == .none)
        #expect(inventory.taps[1].ownerUID == nil)
        #expect(inventory.taps[2].mark == .foreign(bytes("vm 'web'\n")))
        #expect(inventory.taps.map(\.isReapable) == [false, true, false])
    }

    /// What the kernel knows of attached descriptors keeps a TAP that /proc shows no holder for.
    @Test func attachedTapsAreNeverReapable() {
        var carrier = LinkDescription(index: 4, name: bytes("tap4"), kind: bytes("tun"), tun: TunInfo(type: 2, persistent: true))
        carrier.carrier = true
        let queues = LinkDescription(index: 5, name: bytes("tap5"), kind: bytes("tun"),
                                     tun: TunInfo(type: 2, persistent: true, queues: 1, disabledQueues: 0))
        let disabled = LinkDescription(index: 6, name: bytes("tap6"), kind: bytes("tun"),
                                       tun: TunInfo(type: 2, persistent: true, queues: 0, disabledQueues: 1))
        let free = LinkDescription(index: 8, name: bytes("tap8"), kind: bytes("tun"),
                                   tun: TunInfo(type: 2, persistent: true, queues: 0, disabledQueues: 0))
        let inventory = TapInventory.build(links: [carrier, queues, disabled, free], holders: HolderScan())
        #expect(inventory.taps.map(\.isReapable) == [false, false, false, true])
    }

    @Test func json() {
        let inventory = TapInventory.build(links: sampleLinks(), holders: sampleScan())
        #expect(inventory.json == """
            {"taps": [{"name": "tap0", "ifindex": 7, "bridge": "br0", "owner_uid": 1001, "persistent": false, \
            "holders": [{"pid": 123, "comm": "qemu-system-x86"}], "mark": {"uid": 1001, "rule": "/etc/qemu/bridge.conf:2"}}, \
            {"name": "tap1", "ifindex": 9, "bridge": null, "owner_uid": null, "persistent": true, "holders": [], "mark": null}, \
            {"name": "tap2", "ifindex": 10, "bridge": null, "owner_uid": 0, "persistent": true, \
            "holders": [{"pid": 5, "comm": "a b,c"}, {"pid": 6, "comm": "\\\\x1b["}], "mark": {"foreign": "vm \\\\x27web\\\\x27\\\\x0a"}}], \
            "unreadable_processes": 2}

            """)
    }

    @Test func jsonOfNothing() {
        #expect(TapInventory(taps: [], unreadableProcesses: 0).json == "{\"taps\": [], \"unreadable_processes\": 0}\n")
    }

    /// A mark whose path holds a quote and a backslash: escaped once, then quoted for JSON.
    @Test func jsonOfAHostileRule() {
        let mark = TapMark(uid: 7, path: bytes("/q/\"\\ x"), line: 3)
        let link = LinkDescription(index: 4, name: bytes("tap4"), kind: bytes("tun"), alias: mark.rendered,
                                   tun: TunInfo(type: 2))
        let json = TapInventory.build(links: [link], holders: HolderScan()).json
        #expect(json.contains(#""mark": {"uid": 7, "rule": "/q/\"\\x5c x:3"}"#))
    }

    @Test func table() {
        let inventory = TapInventory.build(links: sampleLinks(), holders: sampleScan())
        #expect(inventory.table == """
            NAME  IFINDEX  BRIDGE  OWNER  PERSISTENT  HOLDERS                MARK
            tap0  7        br0     1001   no          123/qemu-system-x86    uid=1001 rule=/etc/qemu/bridge.conf:2
            tap1  9        -       -      yes         -                      none
            tap2  10       -       0      yes         5/a\\x20b\\x2cc,6/\\x1b[  foreign 'vm \\x27web\\x27\\x0a'

            """)
        #expect(TapInventory(taps: [], unreadableProcesses: 0).table == "no TAP devices in this network namespace\n")
    }

    @Test func notes() {
        let inventory = TapInventory.build(links: sampleLinks(), holders: sampleScan())
        #expect(inventory.unreadableNote(root: false) ==
            "bridgekeeper taps: the descriptors of 2 processes could not be read (not root), so their holds are not shown")
        #expect(TapInventory(taps: [], unreadableProcesses: 1).unreadableNote(root: true) ==
            "bridgekeeper taps: the descriptors of 1 process could not be read, so their holds are not shown")
        #expect(TapInventory(taps: [], unreadableProcesses: 0).unreadableNote(root: false) == nil)
    }

    @Test func reapReport() {
        let report = ReapReport(reaped: [(name: bytes("tap1"), index: 9), (name: bytes("tap2"), index: 10)])
        #expect(report.text == "reaped tap1 (ifindex 9)\nreaped tap2 (ifindex 10)\n")
        #expect(report.json == "{\"reaped\": [{\"name\": \"tap1\", \"ifindex\": 9}, {\"name\": \"tap2\", \"ifindex\": 10}]}\n")
        #expect(ReapReport(reaped: []).text == "nothing to reap: no persistent TAP without a holder\n")
        #expect(ReapReport(reaped: []).json == "{\"reaped\": []}\n")
        let failure = TapReaper.Failure(name: bytes("tap1"), index: 9, errno: .notPermitted)
        #expect(failure.message == "bridgekeeper taps: cannot delete tap1 (ifindex 9): Operation not permitted")
    }

    /// A /proc-like tree: holders found by their fdinfo, each process once per TAP, pid order,
    /// processes of other network namespaces left out.
    @Test func scanReadsFdinfo() throws {
        var template = Array("/tmp/bk-proc-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress.flatMap { mkdtemp($0) }.map { String(cString: $0) }
        }
        let root = try #require(made)
        defer { _ = system("rm -rf '\(root)'") }
        func write(_ path: String, _ text: String) {
            let file = fopen("\(root)/\(path)", "w")
            fputs(text, file)
            fclose(file)
        }
        for pid in ["42", "7", "99", "300"] {
            mkdir("\(root)/\(pid)", 0o755)
            mkdir("\(root)/\(pid)/fdinfo", 0o755)
            mkdir("\(root)/\(pid)/ns", 0o755)
        }
        mkdir("\(root)/self", 0o755)
        mkdir("\(root)/self/ns", 0o755)
        // Network namespaces: ours, 7's and 42's are the same; 300 holds a tap0 of another one;
        // 99 has no readable link and counts.
        symlink("net:[4026531840]", "\(root)/self/ns/net")
        symlink("net:[4026531840]", "\(root)/42/ns/net")
        symlink("net:[4026531840]", "\(root)/7/ns/net")
        symlink("net:[4026532999]", "\(root)/300/ns/net")
        write("300/comm", "qemu-other-ns\n")
        write("300/fdinfo/3", "pos:\t0\niff:\ttap0\n")
        write("42/comm", "qemu-system-x86\n")
        write("42/fdinfo/3", "pos:\t0\nflags:\t02\niff:\ttap0\n")
        write("42/fdinfo/4", "pos:\t0\nflags:\t02\niff:\ttap0\n")
        write("42/fdinfo/5", "pos:\t0\nflags:\t02\n")
        write("7/comm", "bridgekeeper\n")
        write("7/fdinfo/9", "pos:\t0\niff:\ttap0\n")
        write("7/fdinfo/10", "pos:\t0\niff:\ttap3\n")
        write("99/comm", "bash\n")
        write("99/fdinfo/0", "pos:\t0\n")
        write("99/fdinfo/1", "pos:\t0\niff:\ttap7\n")
        let scan = HolderScan.scan(proc: root)
        #expect(scan.holders == [
            bytes("tap0"): [TapHolder(pid: 7, command: bytes("bridgekeeper")), TapHolder(pid: 42, command: bytes("qemu-system-x86"))],
            bytes("tap3"): [TapHolder(pid: 7, command: bytes("bridgekeeper"))],
            bytes("tap7"): [TapHolder(pid: 99, command: bytes("bash"))],
        ])
        #expect(scan.unreadableProcesses == 0)
    }
}
