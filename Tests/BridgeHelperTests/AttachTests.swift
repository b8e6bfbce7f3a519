import BridgeACL
import BridgeHelper
import Testing

/// Every call of a successful run, in order (contract §3, threats #12).
func successCalls(bridge: String = "br0", mtu: Int32 = 1500, vnet: Bool = true, fd: Int32 = 3) -> [String] {
    [
        "checkHandoffSocket(\(fd))",
        "openTun",
        "dropPrivileges",
        "pausePoint(dropped)",
        "loadPolicy",
        "findBridge(\(bridge))",
        "createAttachedTap(\(bridge), mtu: \(mtu), vnet: \(vnet))",
        "dropAllCapabilities",
        "pausePoint(before-send)",
        "handOff(\(fd))",
    ]
}

struct StepFailureCase: Sendable, CustomTestStringConvertible {
    let step: FakePlatform.Step
    /// The calls made, the failing one last.
    let calls: [String]
    let message: String
    var testDescription: String { "fails at \(step.rawValue)" }
}

let stepFailureCases: [StepFailureCase] = [
    StepFailureCase(step: .checkHandoffSocket, calls: Array(successCalls().prefix(1)),
                    message: FakePlatform.failure(.checkHandoffSocket)),
    StepFailureCase(step: .openTun, calls: Array(successCalls().prefix(2)), message: FakePlatform.failure(.openTun)),
    StepFailureCase(step: .dropPrivileges, calls: Array(successCalls().prefix(3)),
                    message: FakePlatform.failure(.dropPrivileges)),
    StepFailureCase(step: .loadPolicy, calls: Array(successCalls().prefix(5)),
                    message: "access denied by acl file: /etc/qemu/bridge.conf does not exist or is not readable by this user"),
    StepFailureCase(step: .findBridge, calls: Array(successCalls().prefix(6)), message: FakePlatform.failure(.findBridge)),
    StepFailureCase(step: .createAttachedTap, calls: Array(successCalls().prefix(7)),
                    message: FakePlatform.failure(.createAttachedTap)),
    StepFailureCase(step: .dropAllCapabilities, calls: Array(successCalls().prefix(8)),
                    message: FakePlatform.failure(.dropAllCapabilities)),
    StepFailureCase(step: .handOff, calls: successCalls(), message: FakePlatform.failure(.handOff)),
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

@Suite("Helper.attach")
struct AttachTests {
    func run(_ platform: FakePlatform, _ options: [String]) throws -> Result<TapSummary, HelperFailure> {
        let parsed = try #require(arguments([bytes("bridgekeeper-helper")] + options.map(bytes)))
        return Helper.attach(parsed, platform: platform)
    }

    @Test func successCallsEverythingInOrder() throws {
        let platform = FakePlatform(policy: policy("allow br0\n"))
        let result = try run(platform, ["--use-vnet", "--br=br0", "--fd=3"])
        #expect(platform.calls == successCalls())
        let summary = try result.get()
        #expect(summary.name.bytes == bytes("tap0"))
        #expect(summary.bridge.bytes == bytes("br0"))
    }

    @Test(arguments: [true, false])
    func virtioNetHeaderIsPassedThrough(_ vnet: Bool) throws {
        let platform = FakePlatform(policy: policy("allow all\n"))
        let result = try run(platform, (vnet ? ["--use-vnet"] : []) + ["--br=br1", "--fd=7"])
        #expect(platform.calls == successCalls(bridge: "br1", vnet: vnet, fd: 7))
        #expect(result.map(\.bridge.bytes) == .success(bytes("br1")))
    }

    @Test func bridgeMTUIsPassedToTheTap() throws {
        let platform = FakePlatform(policy: policy("allow br0\n"))
        platform.bridgeMTU = 9000
        platform.tapName = bytes("tap17")
        let result = try run(platform, ["--br=br0", "--fd=3"])
        #expect(platform.calls == successCalls(mtu: 9000, vnet: false))
        #expect(result.map(\.name.bytes) == .success(bytes("tap17")))
    }

    @Test(arguments: stepFailureCases)
    func failureStopsAtThatStep(_ testCase: StepFailureCase) throws {
        let platform = FakePlatform(policy: policy("allow br0\n"), failAt: testCase.step)
        let result = try run(platform, ["--use-vnet", "--br=br0", "--fd=3"])
        #expect(result == .failure(HelperFailure(testCase.message)))
        #expect(platform.calls == testCase.calls)
    }

    /// No platform call at all: not even the socket check, so nothing was opened or dropped.
    @Test(arguments: badNameCases)
    func badBridgeNameFailsBeforeAnyPlatformCall(_ testCase: BadNameCase) throws {
        let platform = FakePlatform(policy: policy("allow all\n"))
        let parsed = try #require(arguments([bytes("bridgekeeper-helper"), bytes("--br=") + testCase.bridge, bytes("--fd=3")]))
        let result = Helper.attach(parsed, platform: platform)
        #expect(result == .failure(HelperFailure(testCase.message)))
        #expect(platform.calls == [])
    }

    @Test func aclDenialStopsBeforeFindBridge() throws {
        let platform = FakePlatform(policy: policy("allow all\ndeny br0\n"))
        let result = try run(platform, ["--br=br0", "--fd=3"])
        #expect(result == .failure(HelperFailure(
            "access denied by acl file: /etc/qemu/bridge.conf:2: 'deny br0' refuses bridge 'br0'")))
        #expect(platform.calls == Array(successCalls().prefix(5)))
    }

    @Test func noMatchingRuleStopsBeforeFindBridge() throws {
        let platform = FakePlatform(policy: policy("allow br1\n"))
        let result = try run(platform, ["--br=br0", "--fd=3"])
        #expect(result == .failure(HelperFailure(
            "access denied by acl file: no rule in /etc/qemu/bridge.conf or its includes allows bridge 'br0'; an administrator can add 'allow br0'")))
        #expect(platform.calls == Array(successCalls().prefix(5)))
    }

    @Test func denialInAnIncludeNamesTheInclude() throws {
        let platform = FakePlatform(policy: policy("allow all\ninclude /etc/qemu/lab.conf\n",
                                                   includes: ["/etc/qemu/lab.conf": "# lab\ndeny all\n"]))
        let result = try run(platform, ["--br=br0", "--fd=3"])
        #expect(result == .failure(HelperFailure(
            "access denied by acl file: /etc/qemu/lab.conf:2: 'deny all' refuses bridge 'br0'")))
        #expect(platform.calls == Array(successCalls().prefix(5)))
    }

    @Test func policyErrorRefusesBeforeFindBridge() throws {
        let platform = FakePlatform(policy: policy("allow all\ninclude /etc/qemu/lab.conf\n",
                                                   includes: ["/etc/qemu/lab.conf": "allow br0 user=alice\n"]))
        let result = try run(platform, ["--br=br0", "--fd=3"])
        #expect(result == .failure(HelperFailure(
            "access denied by acl file: /etc/qemu/lab.conf:1: qualifier 'user=alice' is not supported yet (only 'allow BRIDGE' and 'deny BRIDGE')")))
        #expect(platform.calls == Array(successCalls().prefix(5)))
    }

    @Test func capabilitiesAreDroppedBeforeTheHandOff() throws {
        let platform = FakePlatform(policy: policy("allow all\n"))
        _ = try run(platform, ["--br=br0", "--fd=3"])
        let drop = try #require(platform.calls.firstIndex(of: "dropAllCapabilities"))
        let handOff = try #require(platform.calls.firstIndex(of: "handOff(3)"))
        let create = try #require(platform.calls.firstIndex(of: "createAttachedTap(br0, mtu: 1500, vnet: false)"))
        #expect(create < drop)
        #expect(drop < handOff)
        #expect(platform.calls.last == "handOff(3)")
    }

    @Test func fifteenByteNameIsUsedWhole() throws {
        let platform = FakePlatform(policy: policy("allow 012345678901234\n"))
        let result = try run(platform, ["--br=012345678901234", "--fd=3"])
        #expect(result.map(\.bridge.bytes) == .success(bytes("012345678901234")))
        #expect(platform.calls == successCalls(bridge: "012345678901234", vnet: false))
    }
}
