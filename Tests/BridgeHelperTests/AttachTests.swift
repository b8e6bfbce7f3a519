import BridgeACL
import BridgeHelper
import BridgeSystem
import HelperArguments
import Testing

/// Every call of a successful run, in order (contract §3, threats #12).
func successCalls(bridge: String = "br0", index: Int32 = 10, mtu: UInt32 = 1500, vnet: Bool = true, fd: Int32 = 3,
                  rule: String = "/etc/qemu/bridge.conf:1") -> [String] {
    [
        "checkHandoffSocket(\(fd))",
        "openTun",
        "dropPrivileges",
        "pausePoint(dropped)",
        "resolveDevice(\(bridge))",
        "loadPolicy",
        "createAttachedTap(\(bridge)#\(index), mtu: \(mtu), vnet: \(vnet), rule: \(rule))",
        "dropAllCapabilities",
        "pausePoint(before-send)",
        "handOff(\(fd))",
    ]
}

struct StepFailureCase: Sendable, CustomTestStringConvertible {
    let step: FakePlatform.Step
    /// How many calls were made, the failing one last.
    let callCount: Int
    let message: String
    var testDescription: String { "fails at \(step.rawValue)" }
}

let stepFailureCases: [StepFailureCase] = [
    StepFailureCase(step: .checkHandoffSocket, callCount: 1,
                    message: "--fd=3 is not a socket (expected the AF_UNIX socket QEMU passes)"),
    StepFailureCase(step: .openTun, callCount: 2,
                    message: "cannot open /dev/net/tun: /dev/net/tun is not the tun character device (10:200): No such device"),
    StepFailureCase(step: .dropPrivileges, callCount: 3,
                    message: "bridgekeeper-helper has no privilege: install it setuid root (chown root, chmod 4755) or with 'setcap cap_net_admin+ep' on a filesystem mounted without nosuid; no_new_privs in the caller also disables both"),
    StepFailureCase(step: .loadPolicy, callCount: 6,
                    message: "access denied by acl file: /etc/qemu/bridge.conf does not exist or is not readable by this user"),
    StepFailureCase(step: .resolveDevice, callCount: 5, message: "RTM_GETLINK br0: Operation not permitted"),
    StepFailureCase(step: .createAttachedTap, callCount: 7,
                    message: "bridge 'br0' has no free port (a Linux bridge holds at most 1023 ports); no TAP was created"),
    StepFailureCase(step: .dropAllCapabilities, callCount: 8, message: "fake"),
    StepFailureCase(step: .handOff, callCount: 10,
                    message: "could not send the TAP descriptor over --fd=3: the peer did not read within 5 seconds; the TAP was removed"),
]

struct BadNameCase: Sendable, CustomTestStringConvertible {
    let label: String
    let bridge: [UInt8]
    let message: String
    var testDescription: String { label }
}

let badNameCases: [BadNameCase] = [
    // CVE-2019-13164: a 16-byte name was once truncated to a 15-byte allowed one.
    BadNameCase(label: "16 bytes", bridge: bytes("0123456789abcdef"),
                message: "bridge name '0123456789abcdef' is too long: 16 bytes (at most 15)"),
    BadNameCase(label: "allowed name plus one byte", bridge: bytes("br0aaaaaaaaaaaaX"),
                message: "bridge name 'br0aaaaaaaaaaaaX' is too long: 16 bytes (at most 15)"),
    BadNameCase(label: "4096 bytes", bridge: repeated("x", 4096),
                message: "bridge name '" + String(repeating: "x", count: 64) + "...' is too long: 4096 bytes (at most 15)"),
    BadNameCase(label: "empty", bridge: [], message: "bridge name '' is empty"),
    BadNameCase(label: "dot", bridge: bytes("."),
                message: "bridge name '.' is not a valid interface name: '.' and '..' are reserved"),
    BadNameCase(label: "slash", bridge: bytes("../x"),
                message: "bridge name '../x' is not a valid interface name: it contains '/'"),
    BadNameCase(label: "colon", bridge: bytes("br0:1"),
                message: "bridge name 'br0:1' is not a valid interface name: it contains ':'"),
    BadNameCase(label: "trailing space", bridge: bytes("br0 "),
                message: "bridge name 'br0 ' is not a valid interface name: it contains whitespace (\\x20)"),
    BadNameCase(label: "newline and a fake field", bridge: bytes("b\nresult=allow"),
                message: "bridge name 'b\\x0aresult=allow' is not a valid interface name: it contains whitespace (\\x0a)"),
    BadNameCase(label: "ESC and a tab", bridge: [0x1B] + bytes("[2J\t"),
                message: "bridge name '\\x1b[2J\\x09' is not a valid interface name: it contains whitespace (\\x09)"),
    BadNameCase(label: "NUL", bridge: [0x62, 0x00],
                message: "bridge name 'b\\x00' is not a valid interface name: it contains a NUL byte"),
]

/// Names of one device: the refusal says through which name a deny matched.
struct AltNameCase: Sendable, CustomTestStringConvertible {
    let label: String
    let acl: String
    let requested: String
    /// nil: attached to brmgmt.
    let refusal: String?
    var testDescription: String { label }
}

let altNameCases: [AltNameCase] = [
    AltNameCase(label: "deny canonical, ask alternative", acl: "allow all\ndeny brmgmt\n", requested: "mgmt",
                refusal: "access denied by acl file: /etc/qemu/bridge.conf:2: 'deny brmgmt' refuses bridge 'mgmt' ('mgmt' is an alternative name of 'brmgmt')"),
    AltNameCase(label: "deny alternative, ask canonical", acl: "allow all\ndeny mgmt\n", requested: "brmgmt",
                refusal: "access denied by acl file: /etc/qemu/bridge.conf:2: 'deny mgmt' refuses bridge 'brmgmt' ('mgmt' is an alternative name of 'brmgmt')"),
    AltNameCase(label: "deny one alternative, ask the other", acl: "allow all\ndeny mgmt\n", requested: "mgmt2",
                refusal: "access denied by acl file: /etc/qemu/bridge.conf:2: 'deny mgmt' refuses bridge 'mgmt2' ('mgmt2' and 'mgmt' are alternative names of 'brmgmt')"),
    AltNameCase(label: "deny and ask the same alternative", acl: "allow all\ndeny mgmt\n", requested: "mgmt",
                refusal: "access denied by acl file: /etc/qemu/bridge.conf:2: 'deny mgmt' refuses bridge 'mgmt'"),
    AltNameCase(label: "deny all", acl: "allow brmgmt\ndeny all\n", requested: "mgmt",
                refusal: "access denied by acl file: /etc/qemu/bridge.conf:2: 'deny all' refuses bridge 'mgmt'"),
    AltNameCase(label: "allow canonical, ask alternative", acl: "allow brmgmt\n", requested: "mgmt", refusal: nil),
    AltNameCase(label: "allow alternative, ask canonical", acl: "allow mgmt2\n", requested: "brmgmt", refusal: nil),
    AltNameCase(label: "allow another device only", acl: "allow br0\n", requested: "mgmt",
                refusal: "access denied by acl file: no rule in /etc/qemu/bridge.conf or its includes allows bridge 'mgmt'; an administrator can add 'allow mgmt'"),
]

@Suite("Helper.attach")
struct AttachTests {
    func run(_ platform: FakePlatform, _ options: [String]) throws -> HelperOutcome {
        let parsed = try #require(arguments([bytes("bridgekeeper-helper")] + options.map(bytes)))
        return Helper.attach(parsed, platform: platform)
    }

    func platform(_ acl: String, includes: [String: String] = [:], failAt: FakePlatform.Step? = nil) throws -> FakePlatform {
        let platform = FakePlatform(policy: policy(acl, includes: includes), failAt: failAt)
        try platform.addBridge("br0")
        try platform.addBridge("br1")
        try platform.addBridge("brmgmt", alternatives: ["mgmt", "mgmt2"])
        try platform.addOther("veth0", driver: "veth")
        return platform
    }

    func refusal(_ outcome: HelperOutcome) -> String? {
        if case .refused(let failure) = outcome { return failure.message }
        return nil
    }

    @Test func successCallsEverythingInOrder() throws {
        let platform = try platform("allow br0\n")
        let outcome = try run(platform, ["--use-vnet", "--br=br0", "--fd=3"])
        #expect(platform.calls == successCalls())
        guard case .attached(let report) = outcome else { Issue.record("expected attached, got \(outcome)"); return }
        #expect(report.tap.bytes == bytes("tap0"))
        #expect(report.tapIndex == 99)
        #expect(report.bridge.requested.bytes == bytes("br0"))
        #expect(report.bridgeIndex == 10)
        #expect(report.rule.description == "allow br0")
        #expect(report.rule.location.description == "/etc/qemu/bridge.conf:1")
    }

    @Test(arguments: [true, false])
    func virtioNetHeaderIsPassedThrough(_ vnet: Bool) throws {
        let platform = try platform("allow all\n")
        _ = try run(platform, (vnet ? ["--use-vnet"] : []) + ["--br=br1", "--fd=7"])
        #expect(platform.calls == successCalls(bridge: "br1", index: 11, vnet: vnet, fd: 7))
    }

    @Test func bridgeMTUIsPassedToTheTap() throws {
        let platform = FakePlatform(policy: policy("allow br0\n"))
        try platform.addBridge("br0", mtu: 9000)
        platform.tapName = bytes("tap17")
        let outcome = try run(platform, ["--br=br0", "--fd=3"])
        #expect(platform.calls == successCalls(mtu: 9000, vnet: false))
        guard case .attached(let report) = outcome else { Issue.record("expected attached"); return }
        #expect(report.tap.bytes == bytes("tap17"))
    }

    @Test(arguments: stepFailureCases)
    func failureStopsAtThatStep(_ testCase: StepFailureCase) throws {
        let platform = try platform("allow br0\n", failAt: testCase.step)
        let outcome = try run(platform, ["--use-vnet", "--br=br0", "--fd=3"])
        #expect(outcome == .refused(FakePlatform.failure(testCase.step)))
        #expect(refusal(outcome) == testCase.message)
        #expect(platform.calls == Array(successCalls().prefix(testCase.callCount)))
    }

    /// No platform call at all: not even the socket check, so nothing was opened or dropped.
    @Test(arguments: badNameCases)
    func badBridgeNameFailsBeforeAnyPlatformCall(_ testCase: BadNameCase) throws {
        let platform = try platform("allow all\n")
        let parsed = try #require(arguments([bytes("bridgekeeper-helper"), bytes("--br=") + testCase.bridge, bytes("--fd=3")]))
        let outcome = Helper.attach(parsed, platform: platform)
        #expect(refusal(outcome) == testCase.message)
        #expect(platform.calls == [])
    }

    @Test(arguments: altNameCases)
    func everyNameOfADeviceIsTheDevice(_ testCase: AltNameCase) throws {
        let platform = try platform(testCase.acl)
        let outcome = try run(platform, ["--br=\(testCase.requested)", "--fd=3"])
        #expect(refusal(outcome) == testCase.refusal)
        if testCase.refusal == nil {
            #expect(platform.calls.contains("createAttachedTap(brmgmt#12, mtu: 1500, vnet: false, rule: /etc/qemu/bridge.conf:1)"))
        } else {
            #expect(platform.calls == Array(successCalls(bridge: testCase.requested).prefix(6)))
        }
    }

    @Test func aclDenialStopsBeforeCreatingAnything() throws {
        let platform = try platform("allow all\ndeny br0\n")
        let outcome = try run(platform, ["--br=br0", "--fd=3"])
        #expect(refusal(outcome) == "access denied by acl file: /etc/qemu/bridge.conf:2: 'deny br0' refuses bridge 'br0'")
        #expect(platform.calls == Array(successCalls().prefix(6)))
    }

    @Test func noMatchingRuleStopsBeforeCreatingAnything() throws {
        let platform = try platform("allow br1\n")
        let outcome = try run(platform, ["--br=br0", "--fd=3"])
        #expect(refusal(outcome) ==
            "access denied by acl file: no rule in /etc/qemu/bridge.conf or its includes allows bridge 'br0'; an administrator can add 'allow br0'")
        #expect(platform.calls == Array(successCalls().prefix(6)))
    }

    /// Stock's order: a denied name is refused as denied even when no such device exists.
    @Test func denialComesBeforeExistence() throws {
        let platform = try platform("allow all\ndeny br9\n")
        let outcome = try run(platform, ["--br=br9", "--fd=3"])
        #expect(refusal(outcome) == "access denied by acl file: /etc/qemu/bridge.conf:2: 'deny br9' refuses bridge 'br9'")
    }

    @Test func missingAndNonBridgeDevices() throws {
        let platform = try platform("allow all\n")
        #expect(refusal(try run(platform, ["--br=br9", "--fd=3"])) ==
            "bridge 'br9' does not exist in this network namespace; create it (ip link add br9 type bridge) or ask an administrator")
        #expect(refusal(try run(platform, ["--br=veth0", "--fd=3"])) ==
            "'veth0' is not a Linux bridge (its driver is 'veth'); no TAP was created")
    }

    @Test func denialInAnIncludeNamesTheInclude() throws {
        let platform = try platform("allow all\ninclude /etc/qemu/lab.conf\n", includes: ["/etc/qemu/lab.conf": "# lab\ndeny all\n"])
        let outcome = try run(platform, ["--br=br0", "--fd=3"])
        #expect(refusal(outcome) == "access denied by acl file: /etc/qemu/lab.conf:2: 'deny all' refuses bridge 'br0'")
        #expect(platform.calls == Array(successCalls().prefix(6)))
    }

    /// The device is looked up first (the loader builds only the rules about it); a policy
    /// error then refuses before any name is looked up or anything is created.
    @Test func policyErrorRefusesBeforeAnythingIsCreated() throws {
        let platform = try platform("allow all\ninclude /etc/qemu/lab.conf\n", includes: ["/etc/qemu/lab.conf": "allow br0 user=alice,alice\n"])
        let outcome = try run(platform, ["--br=br0", "--fd=3"])
        #expect(refusal(outcome) ==
            "access denied by acl file: /etc/qemu/lab.conf:1: user 'alice' is listed twice")
        #expect(platform.calls == Array(successCalls().prefix(6)))
    }

    @Test func capabilitiesAreDroppedBeforeTheHandOff() throws {
        let platform = try platform("allow all\n")
        _ = try run(platform, ["--br=br0", "--fd=3"])
        let drop = try #require(platform.calls.firstIndex(of: "dropAllCapabilities"))
        let handOff = try #require(platform.calls.firstIndex(of: "handOff(3)"))
        let create = try #require(platform.calls.firstIndex(of: "createAttachedTap(br0#10, mtu: 1500, vnet: false, rule: /etc/qemu/bridge.conf:1)"))
        #expect(create < drop)
        #expect(drop < handOff)
        #expect(platform.calls.last == "handOff(3)")
    }

    /// The mark names the allow rule that granted the TAP, in whichever file it is.
    @Test func theGrantingRuleReachesTheTap() throws {
        let platform = try platform("allow br1\ninclude /etc/qemu/lab.conf\nallow br0\n",
                                    includes: ["/etc/qemu/lab.conf": "# lab\nallow br0\n"])
        let outcome = try run(platform, ["--br=br0", "--fd=3"])
        #expect(platform.calls == successCalls(vnet: false, rule: "/etc/qemu/lab.conf:2"))
        guard case .attached(let report) = outcome else { Issue.record("expected attached"); return }
        #expect(report.rule.location.description == "/etc/qemu/lab.conf:2")
    }

    @Test func markMessages() {
        let tap = InterfaceName.fake("tap3")
        let bridge = InterfaceName.fake("br0")
        #expect(HelperFailure.tapSetup(.mark(tap), .notPermitted, bridge: bridge).message ==
            "setting the mark (interface alias) of tap3: Operation not permitted (is CAP_NET_ADMIN available in this network namespace?); no TAP was left")
        #expect(HelperFailure.tapSetup(.mark(tap), .invalidArgument, bridge: bridge).message ==
            "setting the mark (interface alias) of tap3: Invalid argument; no TAP was left")
        #expect(HelperFailure.tapSetup(.markReadBack(tap), .invalidArgument, bridge: bridge).message ==
            "the mark (interface alias) of tap3 did not read back as it was set; no TAP was left")
    }

    @Test func fifteenByteNameIsUsedWhole() throws {
        let platform = FakePlatform(policy: policy("allow 012345678901234\n"))
        try platform.addBridge("012345678901234")
        let outcome = try run(platform, ["--br=012345678901234", "--fd=3"])
        guard case .attached(let report) = outcome else { Issue.record("expected attached"); return }
        #expect(report.bridge.requested.bytes == bytes("012345678901234"))
        #expect(platform.calls == successCalls(bridge: "012345678901234", vnet: false))
    }
}
