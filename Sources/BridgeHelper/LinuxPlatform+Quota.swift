import BridgeACL
import BridgeSystem

// Per-user quotas (`max=N`) without state: no lock, no counter file. The helper makes, marks and
// attaches the TAP first, then counts with one RTM_GETLINK dump, and keeps the TAP only if it
// ranks within the first N of the caller's TAPs on the bridge by ifindex; otherwise it refuses,
// and closing the TAP's only descriptor on the way out removes it.
//
// Why ifindex order makes this race-safe (with at most N kept, and the smallest request of a
// burst always kept):
//
// 1. Within a network namespace the kernel hands out ifindexes in increasing order (the next
//    free index after the last one given; it wraps only after 2^31 - 1 of them), and it lists a
//    device in the link table before the registration that allocated its index returns, all
//    under the RTNL lock. So when the helper counts, every TAP with a smaller ifindex than its
//    own that still exists is in the table (dump taken after its own TUNSETIFF returned).
// 2. A TAP the helper makes for user U and bridge B passes through these states before the
//    count, in this order: created (kind tun, type TAP, not persistent, down, no master, no
//    alias, no tun owner), owned (tun owner U), marked (alias `bridgekeeper uid=U ...`),
//    attached (master B). Every one of them is `TapQuota.Standing.inFlight` or `.attached` for
//    U and B below; nobody else can change them meanwhile (the descriptor has not left the
//    helper, and alias, master, up and netns all need CAP_NET_ADMIN). After the count the
//    helper only brings it up; afterwards its holder can change the tun owner and make it
//    persistent, which `.attached` ignores, but not its alias, master or up flag.
// 3. Suppose N + 1 of U's TAPs on B were kept at some moment, and let T be the one of them with
//    the largest ifindex. The other N were created before T (smaller ifindex) and still exist
//    after T was kept, so they existed throughout T's count, each in a state of step 2: T
//    counted at least N ahead of itself and refused. So at most N are ever kept together.
// 4. A TAP counts only what has a smaller ifindex, whatever its state. Among simultaneous
//    requests of one user, the one with the smallest ifindex sees none of the others, so it is
//    kept whenever fewer than N of that user's TAPs were there before: a burst never ends with
//    none kept, and the first N (by ifindex) are the ones kept.
//
// The cost of step 2's conservatism: a TAP that is still being set up cannot yet say for whom
// or for which bridge, so every in-flight TAP with a smaller ifindex that could be the caller's
// counts (for a moment, while some helper sets it up). That can refuse a request that would have
// fit; it never keeps one too many. TAPs that cannot be in flight do not count: persistent ones
// without a master (`ip tuntap add`), ones that are up (a helper brings a TAP up only after its
// count), ones attached elsewhere, ones with another user's mark or a foreign alias, ones owned
// by another uid. The tun owner never makes a TAP count (the holder can TUNSETOWNER it to
// anyone); it only excludes a TAP that is still down and unattached.

/// The pure part of the quota: which links count for a caller on a bridge, and a TAP's rank.
public enum TapQuota {
    /// How one link counts for `max=` of a caller on a bridge.
    public enum Standing: Equatable, Sendable {
        /// A TAP with the caller's mark, a port of the bridge: persistent or not, whoever its
        /// tun owner now is.
        case attached
        /// A TAP that may still be in a helper's hands on its way to this bridge for the caller
        /// (down, unattached, not persistent, no alias or the caller's mark, no tun owner or
        /// the caller): counted, conservatively.
        case inFlight
        /// Anything else: another user's, another bridge's, foreign, persistent and free, up.
        case notCounted
    }

    /// What the helper counted ahead of a new TAP.
    public struct Count: Equatable, Sendable {
        public var attached: Int
        public var inFlight: Int
        public var total: Int { attached + inFlight }

        public init(attached: Int = 0, inFlight: Int = 0) {
            self.attached = attached
            self.inFlight = inFlight
        }
    }

    static let tunKind = Array("tun".utf8)

    public static func standing(of link: LinkDescription, caller: UInt32, bridge: Int32) -> Standing {
        guard link.kind == tunKind, let tun = link.tun, tun.isTap else { return .notCounted }
        let alias = link.alias.flatMap { $0.isEmpty ? nil : $0 }
        let mark = alias.flatMap { TapMark.parse($0) }
        if link.master == bridge {
            return mark?.uid == caller ? .attached : .notCounted
        }
        guard link.master == nil, !tun.persistent, !link.isUp else { return .notCounted }
        if alias != nil, mark?.uid != caller { return .notCounted }
        if let owner = tun.owner, owner != caller { return .notCounted }
        return .inFlight
    }

    /// The links that rank ahead of the TAP `tap` (an ifindex) for `caller` on `bridge`: those
    /// with a smaller ifindex that are attached or in flight. The TAP is kept when the total
    /// is below the limit.
    public static func count(ahead tap: Int32, in links: [LinkDescription], caller: UInt32, bridge: Int32) -> Count {
        var count = Count()
        for link in links where link.index < tap {
            switch standing(of: link, caller: caller, bridge: bridge) {
            case .attached: count.attached += 1
            case .inFlight: count.inFlight += 1
            case .notCounted: continue
            }
        }
        return count
    }
}

extension LinuxPlatform {
    /// How many times the count's dump is taken again when the kernel marks it interrupted.
    static let quotaDumpAttempts = 8

    /// `max=`: called on the attached, marked TAP `tap` (ifindex) before it is brought up. Does
    /// nothing without a limit. Refuses (the caller's way out closes the TAP, which removes
    /// it) when `limit` or more of the caller's TAPs rank ahead of it.
    static func enforceQuota(_ rule: Rule?, tap: Int32, caller: UInt32, bridge: NetworkDevice,
                             kernel: RouteNetlink) throws(HelperFailure) {
        guard let rule, let limit = rule.options.maxTaps else { return }
        let links: [LinkDescription]
        do { links = try kernel.consistentLinks(attempts: quotaDumpAttempts) } catch {
            throw .tapSetup(.countTaps, error.errno, bridge: bridge.canonicalName)
        }
        let ahead = TapQuota.count(ahead: tap, in: links, caller: caller, bridge: bridge.index)
        if ahead.total >= limit {
            throw .quotaExceeded(rule: rule, bridge: bridge.canonicalName, count: ahead.total, limit: limit)
        }
    }
}
