import BridgeACL
import BridgeHelper
import BridgeSystem
import Testing

/// A bridge's port table as the kernel keeps it, driven by the requests' bytes: a new port holds
/// the bridge's default PVID untagged; RTM_SETLINK with a VLAN adds it (a new PVID takes the flag
/// from the old one), RTM_DELLINK removes it, IFLA_PROTINFO sets the isolation flag. Knobs make
/// it behave like kernels that do not take a setting.
final class ScriptedPortKernel: BridgePortKernel {
    // The kernel's numbers (pinned to the headers in BridgeSystemTests): RTM_SETLINK,
    // IFLA_PROTINFO, IFLA_AF_SPEC, IFLA_BRIDGE_VLAN_INFO, IFLA_BRPORT_ISOLATED.
    static let setLink: UInt16 = 19, protinfo: UInt16 = 12, afSpec: UInt16 = 26, vlanInfo: UInt16 = 2, isolatedFlag: UInt16 = 33

    var port: BridgePortState?
    var bridgeIndex: Int32
    var filteringAfter = true
    /// A kernel before 4.18: acknowledges IFLA_BRPORT_ISOLATED, stores nothing, reports nothing.
    var knowsIsolation = true
    /// A kernel (or a racing administrator) that drops the VLAN change after acknowledging it.
    var ignoresVLANs = false
    /// `what` of the change that fails, and its errno.
    var failing: (what: String, errno: Errno)?
    var failReadBack: Errno?
    private(set) var calls: [String] = []
    private(set) var sent: [[UInt8]] = []
    private var sequence: UInt32 = 0

    init(portIndex: Int32 = 7, bridgeIndex: Int32 = 4, defaultPVID: UInt16? = 1) {
        self.bridgeIndex = bridgeIndex
        let vlans = defaultPVID.map { $0 == 0 ? [] : [BridgeVLAN(vid: $0, flags: 6)] } ?? []
        port = BridgePortState(index: portIndex, master: bridgeIndex, vlans: vlans, isolated: false)
    }

    func nextSequence() -> UInt32 {
        sequence += 1
        return sequence
    }

    func change(_ request: LinkRequest, what: String) throws(SystemError) {
        calls.append(what)
        let bytes = request.finished
        sent.append(bytes)
        if let failing, failing.what == what { throw SystemError(what, failing.errno) }
        let type = UInt16(bytes[4]) | UInt16(bytes[5]) << 8
        for (attribute, payload) in NetlinkAttributes(bytes[32...]) {
            if attribute == Self.afSpec, !ignoresVLANs, let info = NetlinkAttributes(payload).first(Self.vlanInfo) {
                let flags = UInt16(info[info.startIndex]) | UInt16(info[info.startIndex + 1]) << 8
                let vid = UInt16(info[info.startIndex + 2]) | UInt16(info[info.startIndex + 3]) << 8
                var vlans = port?.vlans.filter { $0.vid != vid } ?? []
                if type == Self.setLink {
                    if flags & 2 != 0 { vlans = vlans.map { BridgeVLAN(vid: $0.vid, flags: $0.flags & ~2) } }
                    vlans.append(BridgeVLAN(vid: vid, flags: flags))
                }
                port?.vlans = vlans
            }
            if attribute == Self.protinfo {
                let flag = NetlinkAttributes(payload).first(Self.isolatedFlag)?.first
                port?.isolated = knowsIsolation ? flag.map { $0 != 0 } : nil
            }
        }
        if !knowsIsolation { port?.isolated = nil }
    }

    func bridgePort(index: Int32) throws(SystemError) -> BridgePortState? {
        calls.append("read port")
        if let failReadBack { throw SystemError("dump", failReadBack) }
        return port?.index == index ? port : nil
    }

    func link(index: Int32) throws(SystemError) -> LinkDescription? {
        calls.append("read bridge")
        return LinkDescription(index: index, name: Array("trunk0".utf8), kind: Array("bridge".utf8),
                               bridge: BridgeInfo(vlanFiltering: filteringAfter, defaultPVID: 1))
    }
}

@Suite("port settings: vlan= and isolated on the attached TAP")
struct PortSettingTests {
    static let tap = InterfaceName.fake("tap3")

    static func bridge(filtering: Bool = true, defaultPVID: UInt16? = 1) -> NetworkDevice {
        NetworkDevice(index: 4, canonicalName: .fake("trunk0"), alternativeNames: [], kind: .bridge(mtu: 1500),
                      vlanFiltering: filtering, defaultPVID: defaultPVID)
    }

    static func configure(_ kernel: ScriptedPortKernel, vlan: UInt16?, isolated: Bool,
                          bridge: NetworkDevice = bridge()) -> HelperFailure? {
        do throws(HelperFailure) {
            try LinuxPlatform.configurePort(vlan: vlan, isolated: isolated, tap: tap, index: 7, bridge: bridge, kernel: kernel)
            return nil
        } catch {
            return error
        }
    }

    @Test func noOptionsSendsNothing() {
        let kernel = ScriptedPortKernel()
        #expect(Self.configure(kernel, vlan: nil, isolated: false) == nil)
        #expect(kernel.calls.isEmpty)
    }

    /// PVID 20 untagged, the default PVID (1, as the bridge reports it) removed, then both the
    /// port and the bridge's filtering read back; the bytes are kernel-notes.md's.
    @Test func vlanSetsPVIDAndRemovesTheDefault() {
        let kernel = ScriptedPortKernel()
        #expect(Self.configure(kernel, vlan: 20, isolated: false) == nil)
        #expect(kernel.calls == ["vlan", "default vlan", "read port", "read bridge"])
        #expect(kernel.sent[0][16] == 7 && Array(kernel.sent[0][20..<24]) == [7, 0, 0, 0])  // AF_BRIDGE, ifindex 7
        #expect(Array(kernel.sent[0][4..<6]) == [19, 0] && Array(kernel.sent[0].suffix(8)) == [8, 0, 2, 0, 6, 0, 20, 0])
        #expect(Array(kernel.sent[1][4..<6]) == [17, 0] && Array(kernel.sent[1].suffix(8)) == [8, 0, 2, 0, 0, 0, 1, 0])
        #expect(kernel.port?.vlans == [BridgeVLAN(vid: 20, flags: 6)])
    }

    /// The default PVID is read from the bridge, not assumed to be 1.
    @Test func defaultPVIDComesFromTheBridge() {
        let kernel = ScriptedPortKernel(defaultPVID: 42)
        #expect(Self.configure(kernel, vlan: 20, isolated: false, bridge: Self.bridge(defaultPVID: 42)) == nil)
        #expect(Array(kernel.sent[1].suffix(8)) == [8, 0, 2, 0, 0, 0, 42, 0])
        #expect(kernel.port?.vlans == [BridgeVLAN(vid: 20, flags: 6)])
    }

    /// vlan= equal to the default PVID keeps it; a bridge without a default PVID (0, or none
    /// reported) has nothing to remove.
    @Test(arguments: [(UInt16(20), UInt16?.some(20)), (20, 0), (20, nil)])
    func nothingToRemove(vlan: UInt16, defaultPVID: UInt16?) {
        let kernel = ScriptedPortKernel(defaultPVID: defaultPVID)
        #expect(Self.configure(kernel, vlan: vlan, isolated: false, bridge: Self.bridge(defaultPVID: defaultPVID)) == nil)
        #expect(kernel.calls == ["vlan", "read port", "read bridge"])
        #expect(kernel.port?.vlans == [BridgeVLAN(vid: vlan, flags: 6)])
    }

    @Test func isolatedSetsTheFlagAndReadsItBack() {
        let kernel = ScriptedPortKernel()
        #expect(Self.configure(kernel, vlan: nil, isolated: true) == nil)
        #expect(kernel.calls == ["isolated", "read port"])
        #expect(Array(kernel.sent[0].suffix(12)) == [0x0c, 0, 0x0c, 0x80, 5, 0, 33, 0, 1, 0, 0, 0])
        #expect(kernel.port?.isolated == true)
    }

    @Test func bothOptions() {
        let kernel = ScriptedPortKernel()
        #expect(Self.configure(kernel, vlan: 30, isolated: true) == nil)
        #expect(kernel.calls == ["vlan", "default vlan", "isolated", "read port", "read bridge"])
    }

    /// Checked again here (the helper checks before any TAP exists): nothing is sent.
    @Test func filteringOffRefusesBeforeSending() {
        let kernel = ScriptedPortKernel()
        #expect(Self.configure(kernel, vlan: 20, isolated: true, bridge: Self.bridge(filtering: false))
                == .vlanFilteringOff(bridge: .fake("trunk0"), vlan: 20))
        #expect(kernel.calls.isEmpty)
    }

    @Test func kernelWithoutIsolationIsRefused() {
        let kernel = ScriptedPortKernel()
        kernel.knowsIsolation = false
        #expect(Self.configure(kernel, vlan: nil, isolated: true)
                == .portNotVerified(tap: Self.tap, bridge: .fake("trunk0"), .isolated(found: nil)))
    }

    @Test func vlanNotTakenIsRefused() {
        let kernel = ScriptedPortKernel()
        kernel.ignoresVLANs = true
        #expect(Self.configure(kernel, vlan: 20, isolated: false)
                == .portNotVerified(tap: Self.tap, bridge: .fake("trunk0"),
                                    .vlans(expected: 20, found: [BridgeVLAN(vid: 1, flags: 6)])))
    }

    /// Another VLAN on the port (tagged or not) means the guest would not see only its own.
    @Test func anExtraVLANIsRefused() {
        let kernel = ScriptedPortKernel()
        kernel.port?.vlans.append(BridgeVLAN(vid: 99, flags: 0))
        #expect(Self.configure(kernel, vlan: 20, isolated: false)
                == .portNotVerified(tap: Self.tap, bridge: .fake("trunk0"),
                                    .vlans(expected: 20, found: [BridgeVLAN(vid: 99, flags: 0), BridgeVLAN(vid: 20, flags: 6)])))
    }

    @Test func portMissingOrElsewhereIsRefused() {
        let missing = ScriptedPortKernel()
        missing.port = nil
        #expect(Self.configure(missing, vlan: nil, isolated: true)
                == .portNotVerified(tap: Self.tap, bridge: .fake("trunk0"), .notListed))
        let moved = ScriptedPortKernel()
        moved.port?.master = 5
        #expect(Self.configure(moved, vlan: nil, isolated: true)
                == .portNotVerified(tap: Self.tap, bridge: .fake("trunk0"), .notListed))
    }

    @Test func filteringTurnedOffMeanwhileIsRefused() {
        let kernel = ScriptedPortKernel()
        kernel.filteringAfter = false
        #expect(Self.configure(kernel, vlan: 20, isolated: false)
                == .portNotVerified(tap: Self.tap, bridge: .fake("trunk0"), .filteringOff))
    }

    @Test(arguments: ["vlan", "default vlan", "isolated"])
    func aFailingChangeStopsThere(what: String) {
        let kernel = ScriptedPortKernel()
        kernel.failing = (what, .notPermitted)
        let step: TapStep
        switch what {
        case "vlan": step = .portVLAN(Self.tap, 20)
        case "default vlan": step = .removeDefaultVLAN(Self.tap, 1)
        default: step = .isolate(Self.tap)
        }
        #expect(Self.configure(kernel, vlan: 20, isolated: true) == .tapSetup(step, .notPermitted, bridge: .fake("trunk0")))
        #expect(kernel.calls.last == what)
    }

    @Test func aFailingReadBack() {
        let kernel = ScriptedPortKernel()
        kernel.failReadBack = Errno(rawValue: 105)  // ENOBUFS
        #expect(Self.configure(kernel, vlan: nil, isolated: true)
                == .tapSetup(.portReadBack(Self.tap), Errno(rawValue: 105), bridge: .fake("trunk0")))
    }
}

@Suite("port settings: messages")
struct PortMessageTests {
    static let tap = InterfaceName.fake("tap3")
    static let bridge = InterfaceName.fake("trunk0")

    @Test func filteringOff() {
        #expect(HelperFailure.vlanFilteringOff(bridge: Self.bridge, vlan: 20).message ==
            "bridge 'trunk0' does not filter VLANs (vlan_filtering is 0), so the rule's vlan=20 would not be enforced; no TAP was created (an administrator can turn filtering on: ip link set trunk0 type bridge vlan_filtering 1)")
    }

    @Test func kernelCalls() {
        #expect(HelperFailure.tapSetup(.portVLAN(Self.tap, 20), .invalidArgument, bridge: Self.bridge).message ==
            "setting VLAN 20 (PVID, untagged) on tap3: Invalid argument; no TAP was left")
        #expect(HelperFailure.tapSetup(.portVLAN(Self.tap, 20), .notPermitted, bridge: Self.bridge).message ==
            "setting VLAN 20 (PVID, untagged) on tap3: Operation not permitted (is CAP_NET_ADMIN available in this network namespace?); no TAP was left")
        #expect(HelperFailure.tapSetup(.removeDefaultVLAN(Self.tap, 1), Errno(rawValue: 95), bridge: Self.bridge).message ==
            "removing the bridge's default VLAN 1 from tap3: Operation not supported; no TAP was left")
        #expect(HelperFailure.tapSetup(.isolate(Self.tap), Errno(rawValue: 95), bridge: Self.bridge).message ==
            "turning port isolation on for tap3: Operation not supported; no TAP was left")
        #expect(HelperFailure.tapSetup(.portReadBack(Self.tap), Errno(rawValue: 105), bridge: Self.bridge).message ==
            "reading back the port settings of tap3: No buffer space available; no TAP was left")
    }

    @Test func notVerified() {
        func message(_ problem: PortProblem) -> String {
            HelperFailure.portNotVerified(tap: Self.tap, bridge: Self.bridge, problem).message
        }
        #expect(message(.notListed) ==
            "tap3 is not listed as a port of bridge 'trunk0' when its settings are read back; no TAP was left")
        #expect(message(.vlans(expected: 20, found: [BridgeVLAN(vid: 1, flags: 6), BridgeVLAN(vid: 20, flags: 4)])) ==
            "the kernel did not keep VLAN 20 (PVID, untagged) as the only VLAN of tap3 on bridge 'trunk0' (it lists: 1 pvid untagged, 20 untagged); no TAP was left")
        #expect(message(.vlans(expected: 20, found: [])) ==
            "the kernel did not keep VLAN 20 (PVID, untagged) as the only VLAN of tap3 on bridge 'trunk0' (it lists: none); no TAP was left")
        #expect(message(.vlans(expected: 20, found: (100...109).map { BridgeVLAN(vid: $0, flags: 0) })) ==
            "the kernel did not keep VLAN 20 (PVID, untagged) as the only VLAN of tap3 on bridge 'trunk0' (it lists: 100, 101, 102, 103, 104, 105, 106, 107, and 2 more); no TAP was left")
        #expect(message(.isolated(found: nil)) ==
            "the kernel does not report port isolation for tap3 on bridge 'trunk0' (it needs Linux 4.18 or later), so the rule's isolated cannot be enforced; no TAP was left")
        #expect(message(.isolated(found: false)) ==
            "the kernel did not keep tap3 isolated on bridge 'trunk0'; no TAP was left")
        #expect(message(.filteringOff) ==
            "bridge 'trunk0' stopped filtering VLANs while tap3 was being set up; no TAP was left")
    }
}

@Suite("vlan= and isolated through Helper.attach")
struct PortOrderTests {
    func run(_ acl: String, filtering: Bool) throws -> (FakePlatform, HelperOutcome) {
        let platform = FakePlatform(policy: policy(acl))
        try platform.addBridge("trunk0", vlanFiltering: filtering)
        let parsed = try #require(arguments([bytes("bridgekeeper-helper"), bytes("--br=trunk0"), bytes("--fd=3")]))
        return (platform, Helper.attach(parsed, platform: platform))
    }

    /// No TAP is made for a VLAN the bridge would not enforce: the refusal comes right after the
    /// device is resolved, before createAttachedTap.
    @Test func noTapBeforeTheFilteringCheck() throws {
        let (platform, outcome) = try run("allow trunk0 vlan=20\n", filtering: false)
        #expect(outcome == .refused(.vlanFilteringOff(bridge: .fake("trunk0"), vlan: 20)))
        #expect(platform.calls == Array(successCalls(bridge: "trunk0", vnet: false).prefix(6)))
        #expect(!platform.calls.contains { $0.hasPrefix("createAttachedTap") })
    }

    /// The options reach the TAP's creation, which sets and reads them back before the
    /// capabilities go and before the hand-off.
    @Test(arguments: [("allow trunk0 vlan=20\n", true, ", vlan=20"), ("allow trunk0 vlan=20 isolated\n", true, ", vlan=20, isolated"),
                      ("allow trunk0 isolated\n", false, ", isolated")])
    func settingsBeforeTheHandOff(acl: String, filtering: Bool, rendered: String) throws {
        let (platform, outcome) = try run(acl, filtering: filtering)
        guard case .attached(let report) = outcome else { Issue.record("expected attached, got \(outcome)"); return }
        var expected = successCalls(bridge: "trunk0", vnet: false)
        expected[6] = String(expected[6].dropLast()) + rendered + ")"
        #expect(platform.calls == expected)
        #expect(report.rule.options.rendered.map { ", " + $0 }.joined() == rendered)
    }

    /// Only the granting rule's options apply: an earlier rule for other users does not.
    @Test func onlyTheGrantingRulesOptions() throws {
        let (platform, outcome) = try run("allow trunk0 uid=0 vlan=20\nallow trunk0\n", filtering: false)
        guard case .attached = outcome else { Issue.record("expected attached, got \(outcome)"); return }
        #expect(platform.calls == successCalls(bridge: "trunk0", vnet: false, rule: "/etc/qemu/bridge.conf:2"))
    }

    @Test func auditRecords() throws {
        let rule = Rule(action: .allow, bridge: .named(.fake("trunk0")), location: SourceLocation(path: Installation.aclFile, line: 3),
                        options: RuleOptions(vlan: 20, isolated: true))
        let report = AttachReport(tap: .fake("tap5"), tapIndex: 9, bridge: DeviceNames(unresolved: .fake("trunk0")),
                                  bridgeIndex: 4, rule: rule)
        let context = auditContext(bridge: bytes("trunk0"))
        #expect(record(.attached(report), context) ==
            "<85>bridgekeeper-helper[4242]: result=attached uid=1001 gid=100 bridge=trunk0 tap=tap5 ifindex=9 rule=/etc/qemu/bridge.conf:3 vlan=20 isolated=1 mode=setuid netns=4026531840")
        let vlanOnly = Rule(action: .allow, bridge: .all, location: SourceLocation(path: Installation.aclFile, line: 1),
                            options: RuleOptions(vlan: 4094))
        #expect(record(.attached(AttachReport(tap: .fake("tap5"), tapIndex: 9, bridge: DeviceNames(unresolved: .fake("trunk0")),
                                              bridgeIndex: 4, rule: vlanOnly)), context) ==
            "<85>bridgekeeper-helper[4242]: result=attached uid=1001 gid=100 bridge=trunk0 tap=tap5 ifindex=9 rule=/etc/qemu/bridge.conf:1 vlan=4094 mode=setuid netns=4026531840")
        #expect(record(.refused(.vlanFilteringOff(bridge: .fake("trunk0"), vlan: 20)), context) ==
            "<84>bridgekeeper-helper[4242]: result=refused uid=1001 gid=100 bridge=trunk0 reason=vlan-filtering-off mode=setuid netns=4026531840")
        #expect(record(.refused(.portNotVerified(tap: .fake("tap5"), bridge: .fake("trunk0"), .isolated(found: nil))),
                       auditContext(bridge: bytes("lan"))) ==
            "<84>bridgekeeper-helper[4242]: result=refused uid=1001 gid=100 bridge=lan device=trunk0 reason=port-not-verified mode=setuid netns=4026531840")
    }
}
