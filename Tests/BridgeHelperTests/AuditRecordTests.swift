import BridgeACL
import BridgeHelper
import BridgeSystem
import HelperArguments
import Testing

/// The audit record of every outcome, as exact strings (BridgeHelper/AuditRecord.swift).
func name(_ text: String) throws -> InterfaceName { try InterfaceName(validating: bytes(text)) }

func auditContext(bridge: [UInt8] = bytes("br0"), mode: PrivilegeMode = .setuidRoot,
                  networkNamespace: UInt64? = 4026531840) -> AuditContext {
    AuditContext(pid: 4242, user: 1001, group: 100, bridge: bridge, mode: mode, networkNamespace: networkNamespace)
}

func record(_ outcome: HelperOutcome, _ context: AuditContext = auditContext()) -> String? {
    AuditRecord.render(outcome, context: context).map { String(decoding: $0, as: UTF8.self) }
}

/// The decision the helper would refuse with for `bridge` under `acl` (names: canonical, alternatives).
func refusal(_ acl: String, includes: [String: String] = [:], asked: String = "br0", canonical: String? = nil,
             alternatives: [String] = []) throws -> HelperFailure {
    guard case .success(let loaded) = policy(acl, includes: includes) else { throw AuditTestError.policy }
    let names = DeviceNames(requested: try name(asked), canonical: try name(canonical ?? asked),
                            alternatives: try alternatives.map(name))
    return .denied(loaded.decide(device: names))
}

enum AuditTestError: Error { case policy, name }

struct RefusalRecordCase: Sendable, CustomTestStringConvertible {
    let label: String
    let failure: HelperFailure
    /// The fields between `bridge=br0 ` and ` mode=`.
    let fields: String
    var testDescription: String { label }
}

func refusalRecordCases() throws -> [RefusalRecordCase] {
    let br0 = try name("br0"), tap0 = try name("tap0")
    guard case .failure(let badName) = HelperCommandLine.bridgeName(bytes("a/b")) else { throw AuditTestError.name }
    return [
        RefusalRecordCase(label: "socket not movable", failure: .socketNotMovable(fd: 2), fields: "reason=socket"),
        RefusalRecordCase(label: "memory limit",
                          failure: .memoryLimit(MemoryLimitProblem(limit: "address-space (ulimit -v)", currentKiB: 1, neededKiB: 2)),
                          fields: "reason=memory-limit"),
        RefusalRecordCase(label: "invalid name", failure: .invalidBridgeName(badName), fields: "reason=invalid-name"),
        RefusalRecordCase(label: "socket", failure: .socket(fd: 3, .notSocket), fields: "reason=socket"),
        RefusalRecordCase(label: "tun", failure: .tun(.open(.permissionDenied), fileCapability: true), fields: "reason=tun"),
        RefusalRecordCase(label: "user namespace", failure: .privilege(.userNamespace(.inside)), fields: "reason=user-namespace"),
        RefusalRecordCase(label: "user namespace, cannot tell",
                          failure: .privilege(.userNamespace(.cannotTell(.notPermitted))), fields: "reason=user-namespace"),
        RefusalRecordCase(label: "no privilege", failure: .privilege(.noPrivilege), fields: "reason=no-privilege"),
        RefusalRecordCase(label: "capability missing", failure: .privilege(.capabilityMissing("cap_net_admin")),
                          fields: "reason=capability-missing"),
        RefusalRecordCase(label: "drop call failed", failure: .privilege(.callFailed(.setUser, .notPermitted)),
                          fields: "reason=privilege-drop"),
        RefusalRecordCase(label: "drop left a bad state", failure: .privilege(.unexpectedState("x")),
                          fields: "reason=privilege-drop"),
        RefusalRecordCase(label: "ACL error", failure: .policy(.topLevelUnavailable(path: Installation.aclFile)),
                          fields: "reason=acl-error"),
        RefusalRecordCase(label: "deny", failure: try refusal("allow br0\ndeny br0\n"),
                          fields: "reason=denied rule=/etc/qemu/bridge.conf:2"),
        RefusalRecordCase(label: "deny in an include",
                          failure: try refusal("allow all\ninclude /etc/qemu/d.conf\n", includes: ["/etc/qemu/d.conf": "\n\ndeny all\n"]),
                          fields: "reason=denied rule=/etc/qemu/d.conf:3"),
        RefusalRecordCase(label: "no allow", failure: try refusal("allow br1\n"), fields: "reason=not-allowed"),
        RefusalRecordCase(label: "no such bridge", failure: .bridgeMissing(br0), fields: "reason=no-such-bridge"),
        RefusalRecordCase(label: "not a bridge", failure: .notABridge(br0, driver: bytes("veth")), fields: "reason=not-a-bridge"),
        RefusalRecordCase(label: "lookup", failure: .lookup("RTM_GETLINK br0", .notPermitted), fields: "reason=lookup"),
        RefusalRecordCase(label: "TAP creation", failure: .tapSetup(.create, .notPermitted, bridge: br0), fields: "reason=kernel"),
        RefusalRecordCase(label: "MTU", failure: .tapSetup(.mtu(tap0, 65535), .invalidArgument, bridge: br0), fields: "reason=kernel"),
        RefusalRecordCase(label: "bridge full", failure: .tapSetup(.attach, .exchangeFull, bridge: br0), fields: "reason=bridge-full"),
        RefusalRecordCase(label: "attach failed", failure: .tapSetup(.attach, .noSuchDevice, bridge: br0), fields: "reason=kernel"),
        RefusalRecordCase(label: "attach not verified", failure: .attachNotVerified(tap: tap0, bridge: br0, master: nil),
                          fields: "reason=not-attached"),
        RefusalRecordCase(label: "hand-off", failure: .handoff(fd: 3, .sendFailed(.wouldBlock)), fields: "reason=handoff"),
        RefusalRecordCase(label: "capabilities after the drop", failure: .capabilities(.callFailed(.capSetProc, .notPermitted)),
                          fields: "reason=capabilities"),
    ]
}

@Suite struct AuditRecordTests {
    @Test func attached() throws {
        let report = AttachReport(tap: try name("tap0"), tapIndex: 7, bridge: DeviceNames(unresolved: try name("br0")),
                                  bridgeIndex: 3,
                                  rule: Rule(action: .allow, bridge: .named(try name("br0")),
                                             location: SourceLocation(path: Installation.aclFile, line: 2)))
        #expect(record(.attached(report)) ==
            "<85>bridgekeeper-helper[4242]: result=attached uid=1001 gid=100 bridge=br0 tap=tap0 ifindex=7 rule=/etc/qemu/bridge.conf:2 mode=setuid netns=4026531840")
    }

    @Test func attachedThroughAnAlternativeName() throws {
        let report = AttachReport(tap: try name("tap12"), tapIndex: 40,
                                  bridge: DeviceNames(requested: try name("lan"), canonical: try name("br0"), alternatives: [try name("lan")]),
                                  bridgeIndex: 3,
                                  rule: Rule(action: .allow, bridge: .all, location: SourceLocation(path: bytes("/etc/qemu/users.d/alice.conf"), line: 14)))
        #expect(record(.attached(report), auditContext(bridge: bytes("lan"), mode: .fileCapability)) ==
            "<85>bridgekeeper-helper[4242]: result=attached uid=1001 gid=100 bridge=lan device=br0 tap=tap12 ifindex=40 rule=/etc/qemu/users.d/alice.conf:14 mode=caps netns=4026531840")
    }

    @Test(arguments: try refusalRecordCases())
    func refused(_ item: RefusalRecordCase) {
        #expect(record(.refused(item.failure)) ==
            "<84>bridgekeeper-helper[4242]: result=refused uid=1001 gid=100 bridge=br0 \(item.fields) mode=setuid netns=4026531840")
    }

    @Test func deniedThroughAnAlternativeNameNamesTheDevice() throws {
        let failure = try refusal("allow all\ndeny br0\n", asked: "lan", canonical: "br0", alternatives: ["lan"])
        #expect(record(.refused(failure), auditContext(bridge: bytes("lan"))) ==
            "<84>bridgekeeper-helper[4242]: result=refused uid=1001 gid=100 bridge=lan device=br0 reason=denied rule=/etc/qemu/bridge.conf:2 mode=setuid netns=4026531840")
    }

    @Test func kernelFailureNamesTheDeviceWhenAskedByAnotherName() throws {
        let failure = HelperFailure.tapSetup(.up(try name("tap0")), .notPermitted, bridge: try name("br0"))
        #expect(record(.refused(failure), auditContext(bridge: bytes("lan"))) ==
            "<84>bridgekeeper-helper[4242]: result=refused uid=1001 gid=100 bridge=lan device=br0 reason=kernel mode=setuid netns=4026531840")
    }

    @Test func usageErrorsWriteNoRecord() {
        #expect(AuditRecord.render(.refused(.arguments(.usage)), context: auditContext()) == nil)
        #expect(AuditRecord.render(.refused(.arguments(.badDescriptor(bytes("abc")))), context: auditContext()) == nil)
    }

    @Test func modes() {
        let cases: [(PrivilegeMode, String)] = [
            (.setuidRoot, "setuid"), (.fileCapability, "caps"), (.root, "root"), (.none, "none"),
            (.userNamespace(.inside), "userns"), (.userNamespace(.cannotTell(.notPermitted)), "userns"),
        ]
        for (mode, token) in cases {
            #expect(record(.refused(.privilege(.noPrivilege)), auditContext(mode: mode, networkNamespace: 9)) ==
                "<84>bridgekeeper-helper[4242]: result=refused uid=1001 gid=100 bridge=br0 reason=no-privilege mode=\(token) netns=9")
        }
    }

    @Test func unknownNetworkNamespace() {
        #expect(record(.refused(.privilege(.noPrivilege)), auditContext(mode: .none, networkNamespace: nil)) ==
            "<84>bridgekeeper-helper[4242]: result=refused uid=1001 gid=100 bridge=br0 reason=no-privilege mode=none netns=unknown")
    }

    /// Hostile `--br=` values: whatever the bytes, the record stays one line of key=value fields.
    @Test func hostileBridgeNamesAreEscaped() throws {
        let cases: [([UInt8], String)] = [
            (bytes("b\nresult=allow"), "b\\x0aresult\\x3dallow"),
            ([0x1B] + bytes("[31mred"), "\\x1b[31mred"),
            ([0xC2, 0x9B] + bytes("31m"), "\\xc2\\x9b31m"),
            (bytes("result=attached"), "result\\x3dattached"),
            (bytes("a b\tc"), "a\\x20b\\x09c"),
            (bytes("a\"b'c\\d"), "a\\x22b\\x27c\\x5cd"),
            ([0x00, 0x7F, 0xFF], "\\x00\\x7f\\xff"),
            ([], "\"\""),
        ]
        for (asked, shown) in cases {
            let failure: HelperFailure
            switch HelperCommandLine.bridgeName(asked) {
            case .failure(let error): failure = .invalidBridgeName(error)
            case .success(let valid): failure = .bridgeMissing(valid)
            }
            let reason = AuditRecord.reason(failure)
            #expect(record(.refused(failure), auditContext(bridge: asked)) ==
                "<84>bridgekeeper-helper[4242]: result=refused uid=1001 gid=100 bridge=\(shown) reason=\(reason) mode=setuid netns=4026531840")
        }
    }

    @Test func longBridgeValuesAreCutAndTheirLengthGiven() {
        let asked = repeated("x", 131072)
        guard case .failure(let error) = HelperCommandLine.bridgeName(asked) else {
            Issue.record("expected 128 KiB to be an invalid name")
            return
        }
        #expect(record(.refused(.invalidBridgeName(error)), auditContext(bridge: asked)) ==
            "<84>bridgekeeper-helper[4242]: result=refused uid=1001 gid=100 bridge=\(String(repeating: "x", count: 64)) bridge_bytes=131072 reason=invalid-name mode=setuid netns=4026531840")
        // 64 bytes exactly are shown whole, without bridge_bytes.
        #expect(record(.refused(.privilege(.noPrivilege)), auditContext(bridge: repeated("y", 64))) ==
            "<84>bridgekeeper-helper[4242]: result=refused uid=1001 gid=100 bridge=\(String(repeating: "y", count: 64)) reason=no-privilege mode=setuid netns=4026531840")
    }

    @Test func rulePathsAreEscaped() throws {
        let rule = Rule(action: .deny, bridge: .all, location: SourceLocation(path: bytes("/etc/qemu/a b=\n.conf"), line: 1))
        let report = AttachReport(tap: try name("tap0"), tapIndex: 7, bridge: DeviceNames(unresolved: try name("br0")),
                                  bridgeIndex: 3, rule: rule)
        #expect(record(.attached(report)) ==
            "<85>bridgekeeper-helper[4242]: result=attached uid=1001 gid=100 bridge=br0 tap=tap0 ifindex=7 rule=/etc/qemu/a\\x20b\\x3d\\x0a.conf:1 mode=setuid netns=4026531840")
    }

    /// Every byte: a value is printable ASCII without space, `=`, `"`, `\` or `'` (except as the
    /// `\x` of an escape), and reads back to the bytes it came from.
    @Test func valueEscapingIsUnambiguous() {
        let all = (0...255).map { UInt8($0) }
        let escaped = AuditRecord.value(all)
        let forbidden: Set<UInt8> = [0x20, UInt8(ascii: "="), UInt8(ascii: "\""), UInt8(ascii: "'")]
        #expect(escaped.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && !forbidden.contains($0) })
        var decoded: [UInt8] = []
        var rest = Array(escaped.utf8)[...]
        while let first = rest.first {
            if first == UInt8(ascii: "\\") {
                guard rest.count >= 4, let value = UInt8(String(decoding: rest.dropFirst(2).prefix(2), as: UTF8.self), radix: 16) else {
                    Issue.record("bad escape in \(escaped)")
                    return
                }
                decoded.append(value)
                rest = rest.dropFirst(4)
            } else {
                decoded.append(first)
                rest = rest.dropFirst()
            }
        }
        #expect(decoded == all)
    }
}
