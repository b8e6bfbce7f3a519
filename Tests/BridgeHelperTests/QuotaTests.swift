import BridgeACL
import BridgeHelper
import BridgeSystem
import HelperArguments
import Testing

// `max=` (LinuxPlatform+Quota.swift): which links count, the rank by ifindex, the refusal's
// message and record, and a simulation of concurrent helpers under adversarial schedules.

let quotaCaller: UInt32 = 1000
let quotaBridge: Int32 = 5
let otherBridge: Int32 = 6

/// A link as a dump describes it. `tun: nil` with kind "tun" never happens; kind other than
/// "tun" has no tun info.
func quotaLink(_ index: Int32, kind: String? = "tun", type: UInt8 = 2, owner: UInt32? = nil, persistent: Bool = false,
               master: Int32? = nil, alias: String? = nil, up: Bool = false) -> LinkDescription {
    var link = LinkDescription(index: index, name: bytes("tap\(index)"), kind: kind.map(bytes), master: master,
                               alias: alias.map(bytes),
                               tun: kind == "tun" ? TunInfo(owner: owner, type: type, persistent: persistent) : nil)
    link.interfaceFlags = up ? 1 : 0  // IFF_UP
    return link
}

func markText(_ uid: UInt32, line: Int = 2) -> String {
    String(decoding: TapMark(uid: uid, path: Installation.aclFile, line: line).rendered, as: UTF8.self)
}

struct StandingCase: Sendable, CustomTestStringConvertible {
    let label: String
    let link: LinkDescription
    let standing: TapQuota.Standing
    var testDescription: String { label }
}

let standingCases: [StandingCase] = [
    // Counted: the caller's mark on a port of the bridge, whatever the holder did since.
    StandingCase(label: "attached, up, owned by the caller",
                 link: quotaLink(1, owner: quotaCaller, master: quotaBridge, alias: markText(quotaCaller), up: true), standing: .attached),
    StandingCase(label: "attached, persistent (TUNSETPERSIST by the holder)",
                 link: quotaLink(1, owner: quotaCaller, persistent: true, master: quotaBridge, alias: markText(quotaCaller), up: true),
                 standing: .attached),
    StandingCase(label: "attached, tun owner moved to another uid (TUNSETOWNER by the holder)",
                 link: quotaLink(1, owner: 4242, master: quotaBridge, alias: markText(quotaCaller), up: true), standing: .attached),
    StandingCase(label: "attached, tun owner unset",
                 link: quotaLink(1, master: quotaBridge, alias: markText(quotaCaller), up: true), standing: .attached),
    StandingCase(label: "attached, not yet up (counting now)",
                 link: quotaLink(1, owner: quotaCaller, master: quotaBridge, alias: markText(quotaCaller)), standing: .attached),
    StandingCase(label: "attached by another rule line of the caller",
                 link: quotaLink(1, owner: quotaCaller, master: quotaBridge, alias: markText(quotaCaller, line: 9), up: true),
                 standing: .attached),
    // In flight: every state a helper's TAP passes through before it is attached.
    StandingCase(label: "in flight: just created (no owner, no alias)", link: quotaLink(1), standing: .inFlight),
    StandingCase(label: "in flight: owned by the caller", link: quotaLink(1, owner: quotaCaller), standing: .inFlight),
    StandingCase(label: "in flight: owned and marked", link: quotaLink(1, owner: quotaCaller, alias: markText(quotaCaller)),
                 standing: .inFlight),
    StandingCase(label: "in flight: empty alias", link: quotaLink(1, owner: quotaCaller, alias: ""), standing: .inFlight),
    // Another user's.
    StandingCase(label: "another user's mark on the bridge",
                 link: quotaLink(1, owner: quotaCaller, master: quotaBridge, alias: markText(4242), up: true), standing: .notCounted),
    StandingCase(label: "another user's TAP in flight (owned)", link: quotaLink(1, owner: 4242), standing: .notCounted),
    StandingCase(label: "another user's TAP in flight (marked)", link: quotaLink(1, alias: markText(4242)), standing: .notCounted),
    StandingCase(label: "the caller's mark, tun owner another uid, unattached",
                 link: quotaLink(1, owner: 4242, alias: markText(quotaCaller)), standing: .notCounted),
    // Other bridges.
    StandingCase(label: "the caller's TAP on another bridge",
                 link: quotaLink(1, owner: quotaCaller, master: otherBridge, alias: markText(quotaCaller), up: true), standing: .notCounted),
    StandingCase(label: "the caller's TAP attached to another bridge, not yet up",
                 link: quotaLink(1, owner: quotaCaller, master: otherBridge, alias: markText(quotaCaller)), standing: .notCounted),
    // Foreign aliases and unmarked ports.
    StandingCase(label: "foreign alias on the bridge",
                 link: quotaLink(1, master: quotaBridge, alias: "vm web", up: true), standing: .notCounted),
    StandingCase(label: "near-miss alias on the bridge (leading zero)",
                 link: quotaLink(1, master: quotaBridge, alias: "bridgekeeper uid=01000 rule=/etc/qemu/bridge.conf:2", up: true),
                 standing: .notCounted),
    StandingCase(label: "foreign alias, unattached and down", link: quotaLink(1, alias: "vm web"), standing: .notCounted),
    StandingCase(label: "no alias on the bridge (attached by hand)", link: quotaLink(1, master: quotaBridge, up: true),
                 standing: .notCounted),
    // Cannot be in flight.
    StandingCase(label: "persistent and unattached (ip tuntap add)", link: quotaLink(1, persistent: true), standing: .notCounted),
    StandingCase(label: "the caller's persistent TAP left without its bridge",
                 link: quotaLink(1, owner: quotaCaller, persistent: true, alias: markText(quotaCaller), up: true), standing: .notCounted),
    StandingCase(label: "up and unattached (a routed TAP)", link: quotaLink(1, up: true), standing: .notCounted),
    StandingCase(label: "the caller's TAP whose bridge was deleted (up)",
                 link: quotaLink(1, owner: quotaCaller, alias: markText(quotaCaller), up: true), standing: .notCounted),
    StandingCase(label: "a TUN (IP-level) device", link: quotaLink(1, type: 1), standing: .notCounted),
    StandingCase(label: "a veth with the caller's mark on the bridge",
                 link: quotaLink(1, kind: "veth", master: quotaBridge, alias: markText(quotaCaller), up: true), standing: .notCounted),
    StandingCase(label: "a device without a kind", link: quotaLink(1, kind: nil), standing: .notCounted),
]

@Suite struct QuotaRankingTests {
    @Test(arguments: standingCases)
    func standing(_ item: StandingCase) {
        #expect(TapQuota.standing(of: item.link, caller: quotaCaller, bridge: quotaBridge) == item.standing)
    }

    /// Only links with a smaller ifindex rank ahead; each counted kind is counted once.
    @Test func countsOnlySmallerIndexes() {
        let links = [
            quotaLink(3, owner: quotaCaller, master: quotaBridge, alias: markText(quotaCaller), up: true),   // attached
            quotaLink(4, owner: 4242, master: quotaBridge, alias: markText(quotaCaller), up: true),          // attached, owner moved
            quotaLink(5, owner: quotaCaller, persistent: true, master: quotaBridge, alias: markText(quotaCaller), up: true),
            quotaLink(6, owner: 4242, master: quotaBridge, alias: markText(4242), up: true),                 // other user
            quotaLink(7, owner: quotaCaller, master: otherBridge, alias: markText(quotaCaller), up: true),   // other bridge
            quotaLink(8, persistent: true),                                                                  // ip tuntap add
            quotaLink(9),                                                                                    // in flight
            quotaLink(10, owner: quotaCaller, alias: markText(quotaCaller)),                                 // in flight
            quotaLink(11, owner: quotaCaller, master: quotaBridge, alias: markText(quotaCaller)),            // the new TAP
            quotaLink(12, owner: quotaCaller, master: quotaBridge, alias: markText(quotaCaller)),            // later
            quotaLink(13),                                                                                   // later, in flight
        ]
        #expect(TapQuota.count(ahead: 11, in: links, caller: quotaCaller, bridge: quotaBridge)
                == TapQuota.Count(attached: 3, inFlight: 2))
        #expect(TapQuota.count(ahead: 3, in: links, caller: quotaCaller, bridge: quotaBridge) == TapQuota.Count())
        #expect(TapQuota.count(ahead: 9, in: links, caller: quotaCaller, bridge: quotaBridge).total == 3)
        #expect(TapQuota.count(ahead: 100, in: links, caller: quotaCaller, bridge: quotaBridge)
                == TapQuota.Count(attached: 5, inFlight: 3))
        // The other user sees only its own TAP (index 6) and the unowned in-flight ones.
        #expect(TapQuota.count(ahead: 100, in: links, caller: 4242, bridge: quotaBridge)
                == TapQuota.Count(attached: 1, inFlight: 2))
        #expect(TapQuota.count(ahead: 100, in: links, caller: quotaCaller, bridge: otherBridge)
                == TapQuota.Count(attached: 1, inFlight: 3))
    }
}

// ---------------------------------------------------------------------------------------------
// Concurrent helpers, simulated: every helper advances one kernel step at a time in an order a
// seeded generator picks (an adversary that may stop any helper anywhere: the caller can
// SIGSTOP its own helpers). Holders of kept TAPs move the tun owner, make them persistent or
// close them. After every step: at most `limit` of the caller's TAPs on the bridge are kept.

struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}

struct SimulatedHelper {
    let uid: UInt32
    let bridge: Int32
    /// 0 not started, 1 created, 2 owned, 3 marked, 4 attached, 5 counted: kept or gone.
    var step = 0
    var index: Int32 = 0
    var kept = false
    var done = false
}

struct QuotaWorld {
    var links: [Int32: LinkDescription] = [:]
    var nextIndex: Int32 = 10
    var helpers: [SimulatedHelper] = []
    let limit: Int

    /// One step of helper `h` (the helper's order in configureTap).
    mutating func advance(_ h: Int) {
        var helper = helpers[h]
        switch helper.step {
        case 0:
            helper.index = nextIndex
            nextIndex += 1
            links[helper.index] = quotaLink(helper.index)
        case 1: links[helper.index]?.tun?.owner = helper.uid
        case 2: links[helper.index]?.alias = bytes(markText(helper.uid))
        case 3: links[helper.index]?.master = helper.bridge
        case 4:
            let ahead = TapQuota.count(ahead: helper.index, in: Array(links.values), caller: helper.uid, bridge: helper.bridge)
            if ahead.total < limit {
                links[helper.index]?.interfaceFlags = 1
                helper.kept = true
            } else {
                links[helper.index] = nil
            }
            helper.done = true
        default: return
        }
        helper.step += 1
        helpers[h] = helper
    }

    /// The holder of kept TAP `h` does something it may do without privilege.
    mutating func holderActs(_ h: Int, _ what: Int) {
        let index = helpers[h].index
        switch what {
        case 0: links[index]?.tun?.owner = 4242          // TUNSETOWNER
        case 1: links[index]?.tun?.persistent = true     // TUNSETPERSIST
        default:                                         // closes (unless persistent)
            if links[index]?.tun?.persistent == false {
                links[index] = nil
                helpers[h].kept = false
            }
        }
    }

    func keptCount(uid: UInt32, bridge: Int32) -> Int {
        helpers.filter { $0.kept && $0.uid == uid && $0.bridge == bridge && links[$0.index] != nil }.count
    }
}

@Suite struct QuotaRaceSimulationTests {
    /// Twenty requests of one user under max=3, 200 schedules: never more than 3 kept, at the
    /// end exactly 3 (the three smallest ifindexes), whatever the order of steps.
    @Test func burstOfOneUser() {
        var random = SplitMix64(state: 1)
        for schedule in 0..<200 {
            var world = QuotaWorld(limit: 3)
            world.helpers = (0..<20).map { _ in SimulatedHelper(uid: quotaCaller, bridge: quotaBridge) }
            var pending = Array(world.helpers.indices)
            while !pending.isEmpty {
                let pick = random.below(pending.count)
                world.advance(pending[pick])
                if world.helpers[pending[pick]].done { pending.remove(at: pick) }
                if world.keptCount(uid: quotaCaller, bridge: quotaBridge) > 3 {
                    Issue.record("schedule \(schedule): more than 3 kept")
                    return
                }
            }
            let kept = world.helpers.filter(\.kept).map(\.index).sorted()
            let smallest = world.helpers.map(\.index).sorted().prefix(3)
            #expect(kept == Array(smallest), "schedule \(schedule)")
        }
    }

    /// Mixed traffic: the caller on two bridges, another user on the same bridge, holders that
    /// move owners, persist and close. The caller never has more than its limit kept on a
    /// bridge, nor the other user.
    @Test func mixedTrafficNeverExceedsTheLimit() {
        var random = SplitMix64(state: 7)
        for limit in 1...3 {
            for _ in 0..<60 {
                var world = QuotaWorld(limit: limit)
                for _ in 0..<16 {
                    let kind = random.below(4)
                    world.helpers.append(SimulatedHelper(uid: kind == 3 ? 4242 : quotaCaller,
                                                         bridge: kind == 2 ? otherBridge : quotaBridge))
                }
                var moves = 0
                while moves < 200 {
                    moves += 1
                    let pending = world.helpers.indices.filter { !world.helpers[$0].done }
                    let kept = world.helpers.indices.filter { world.helpers[$0].kept }
                    if pending.isEmpty && kept.isEmpty { break }
                    if !kept.isEmpty && (pending.isEmpty || random.below(5) == 0) {
                        world.holderActs(kept[random.below(kept.count)], random.below(3))
                        // A new request now and then, reusing nothing: ifindexes keep growing.
                        if random.below(3) == 0 { world.helpers.append(SimulatedHelper(uid: quotaCaller, bridge: quotaBridge)) }
                    } else if !pending.isEmpty {
                        world.advance(pending[random.below(pending.count)])
                    }
                    for (uid, bridge) in [(quotaCaller, quotaBridge), (quotaCaller, otherBridge), (UInt32(4242), quotaBridge)] {
                        let count = world.keptCount(uid: uid, bridge: bridge)
                        if count > limit {
                            Issue.record("uid \(uid) has \(count) TAPs kept on bridge \(bridge) under max=\(limit)")
                            return
                        }
                    }
                }
            }
        }
    }

    /// Counting only marked and attached TAPs would not be enough: the same schedules without
    /// the in-flight ones exceed the limit (so the simulation can tell a safe count from an
    /// unsafe one).
    @Test func countingOnlyAttachedTapsIsUnsafe() {
        var world = QuotaWorld(limit: 1)
        world.helpers = [SimulatedHelper(uid: quotaCaller, bridge: quotaBridge), SimulatedHelper(uid: quotaCaller, bridge: quotaBridge)]
        world.advance(0)                          // A created (smaller ifindex), then stopped
        for _ in 0..<5 { world.advance(1) }       // B runs to its count: A ranks ahead, in flight
        #expect(world.helpers[1].done && !world.helpers[1].kept)
        // The unsafe count, for contrast: A would not have counted, B would have been kept, and
        // A (ranking first) kept too when it resumes.
        let unsafe = world.links.values.filter {
            $0.index < world.helpers[1].index
                && TapQuota.standing(of: $0, caller: quotaCaller, bridge: quotaBridge) == .attached
        }
        #expect(unsafe.isEmpty)
        for _ in 0..<4 { world.advance(0) }
        #expect(world.helpers[0].kept)
        #expect(world.keptCount(uid: quotaCaller, bridge: quotaBridge) == 1)
    }
}

// ---------------------------------------------------------------------------------------------
// The refusal as people and the audit trail see it.

func quotaRule(_ max: Int, line: Int = 2, bridge: String = "br0") -> Rule {
    Rule(action: .allow, bridge: .named(InterfaceName.fake(bridge)), location: SourceLocation(path: Installation.aclFile, line: line),
         options: RuleOptions(maxTaps: max))
}

@Suite struct QuotaRefusalTests {
    @Test func message() {
        #expect(HelperFailure.quotaExceeded(rule: quotaRule(3), bridge: InterfaceName.fake("br0"), count: 3, limit: 3).message ==
            "quota reached on bridge 'br0': /etc/qemu/bridge.conf:2: 'allow br0 max=3' allows 3 TAPs per user, and 3 of yours are attached or being attached there; to free one, close a guest, or have root remove persistent TAPs nobody holds with 'bridgekeeper taps --reap'; no TAP was left")
    }

    @Test func messageForOne() {
        let rule = Rule(action: .allow, bridge: .all, location: SourceLocation(path: bytes("/etc/qemu/bridge.d/lab.conf"), line: 7),
                        match: RuleMatch(groups: [bytes("lab")]), options: RuleOptions(maxTaps: 1))
        #expect(HelperFailure.quotaExceeded(rule: rule, bridge: InterfaceName.fake("br1"), count: 1, limit: 1).message ==
            "quota reached on bridge 'br1': /etc/qemu/bridge.d/lab.conf:7: 'allow all group=lab max=1' allows 1 TAP per user, and 1 of yours is attached or being attached there; to free one, close a guest, or have root remove persistent TAPs nobody holds with 'bridgekeeper taps --reap'; no TAP was left")
    }

    @Test func countingFailed() {
        #expect(HelperFailure.tapSetup(.countTaps, .wouldBlock, bridge: InterfaceName.fake("br0")).message ==
            "counting your TAPs on bridge br0 for the rule's max= (RTM_GETLINK dump): Resource temporarily unavailable; no TAP was left")
    }

    @Test func auditRecord() {
        let failure = HelperFailure.quotaExceeded(rule: quotaRule(3), bridge: InterfaceName.fake("br0"), count: 4, limit: 3)
        #expect(record(.refused(failure)) ==
            "<84>bridgekeeper-helper[4242]: result=refused uid=1001 gid=100 bridge=br0 reason=quota rule=/etc/qemu/bridge.conf:2 count=4 max=3 mode=setuid netns=4026531840")
        #expect(record(.refused(failure), auditContext(bridge: bytes("lan"))) ==
            "<84>bridgekeeper-helper[4242]: result=refused uid=1001 gid=100 bridge=lan device=br0 reason=quota rule=/etc/qemu/bridge.conf:2 count=4 max=3 mode=setuid netns=4026531840")
        #expect(record(.refused(.tapSetup(.countTaps, .wouldBlock, bridge: InterfaceName.fake("br0")))) ==
            "<84>bridgekeeper-helper[4242]: result=refused uid=1001 gid=100 bridge=br0 reason=kernel mode=setuid netns=4026531840")
    }

    /// The helper passes the granting rule (with max=) to the platform, and a quota refusal ends
    /// the run there: no capability drop, no hand-off.
    @Test func refusalStopsBeforeTheHandOff() throws {
        let platform = FakePlatform(policy: policy("allow br0 max=2\n"))
        try platform.addBridge("br0")
        platform.tapFailure = .quotaExceeded(rule: quotaRule(2, line: 1), bridge: InterfaceName.fake("br0"), count: 2, limit: 2)
        let outcome = Helper.attach(try #require(arguments([bytes("h"), bytes("--br=br0"), bytes("--fd=3")])), platform: platform)
        #expect(outcome == .refused(.quotaExceeded(rule: quotaRule(2, line: 1), bridge: InterfaceName.fake("br0"), count: 2, limit: 2)))
        #expect(platform.calls.last == "createAttachedTap(br0#10, mtu: 1500, vnet: false, rule: /etc/qemu/bridge.conf:1, max=2)")
        #expect(!platform.calls.contains("handOff(3)"))
    }
}
