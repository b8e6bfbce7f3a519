import BridgeACL
import BridgeClient
import BridgeHelper
import BridgeSystem
import Glibc

/// One audit run: the ACL path, the devices of this network namespace, and the walks as users.
final class AuditSession {
    let acl: [UInt8]
    let devices = DeviceTable()
    /// User and group names of rules with match keys, resolved as the helper resolves them.
    let names = CachingResolver()
    let isRoot = getuid() == 0 && geteuid() == 0
    /// The survey of the file tree, made (as root) when walks are shared between users.
    private(set) var survey: ScopeSurvey?

    init(acl: [UInt8]) { self.acl = acl }

    /// The walks of several accounts: `results[of[i]]` is the walk of account `i`.
    struct Walks {
        var results: [WalkResult]
        var of: [Int]
    }

    /// One walk per account, each exactly as the helper run by that user would walk. As root,
    /// users are evaluated by the evaluator (`Evaluate`); with `share`, once per credential class
    /// (`ScopeSurvey`). Without root only the caller's own walk is possible.
    func walks(for accounts: [Account], share: Bool) throws(AuditError) -> Walks {
        guard isRoot else {
            let me = getuid()
            if let other = accounts.first(where: { $0.uid != me }) {
                throw AuditError("only root can evaluate the ACL as another user ('\(other.shown)', uid \(other.uid)): the files are read with that user's credentials; run it as root, or for yourself")
            }
            // The helper started from this session gets this process's own groups.
            return Walks(results: [Worker.walkHere(acl: acl)], of: accounts.map { _ in 0 })
        }
        let survey = share ? ScopeSurvey(acl: acl) : nil
        self.survey = survey
        var of: [Int] = []
        var representatives: [Identity] = []
        var index: [ScopeSurvey.ClassKey: Int] = [:]
        for account in accounts {
            // Without a complete survey nothing is proven: only identical credentials share.
            let identity = account.identity
            let key = survey.flatMap { $0.complete ? $0.key(identity) : nil }
                ?? ScopeSurvey.ClassKey(uid: identity.uid, groups: [identity.gid] + identity.groups)
            if let known = index[key] {
                of.append(known)
            } else {
                index[key] = representatives.count
                of.append(representatives.count)
                representatives.append(identity)
            }
        }
        var results = try EvaluatorClient.evaluate(EvaluationRequest(acl: acl, identities: representatives))
        guard let survey else { return Walks(results: results, of: of) }
        // A representative that walked outside the survey proves nothing for the others of its
        // class: they walk on their own (identical credentials still share).
        var own: [Identity: Int] = [:]
        var pending: [Identity] = []
        var moved: [(position: Int, identity: Identity)] = []
        for (position, account) in accounts.enumerated() {
            let shared = of[position]
            guard !survey.covers(results[shared]), representatives[shared] != account.identity else { continue }
            if own[account.identity] == nil {
                own[account.identity] = results.count + pending.count
                pending.append(account.identity)
            }
            moved.append((position, account.identity))
        }
        if !pending.isEmpty {
            results += try EvaluatorClient.evaluate(EvaluationRequest(acl: acl, identities: pending))
            for (position, identity) in moved { if let slot = own[identity] { of[position] = slot } }
        }
        return Walks(results: results, of: of)
    }

    /// The policy a walk read, rebuilt by replaying its loads through `PolicyLoader`.
    func policy(_ walk: WalkResult) throws(AuditError) -> Result<Policy, PolicyError> {
        switch walk {
        case .failed(let message):
            throw AuditError(message)
        case .loads(let records):
            guard let policy = ReplaySource.policy(acl: acl, records: records) else {
                throw AuditError("the recorded walk of \(Escaping.escape(acl)) could not be replayed")
            }
            return policy
        }
    }

    func verdict(_ policy: Result<Policy, PolicyError>, bridge: InterfaceName, account: Account) -> Verdict {
        let identity = account.identity
        let caller = CallerIdentity(uid: identity.uid, groups: [identity.gid] + identity.groups.filter { $0 != identity.gid })
        return HelperDecision.decide(policy: policy, bridge: bridge, device: devices.resolve(bridge), acl: acl,
                                     caller: caller, resolver: names)
    }
}

extension AuditSession {
    /// The names a rule can name `bridge` by, as `HelperDecision` builds `DeviceNames`: the
    /// requested one, and the device's canonical and alternative names when it exists.
    func deviceNames(_ bridge: InterfaceName) -> Set<InterfaceName> {
        var names: Set<InterfaceName> = [bridge]
        if case .success(let device?) = devices.resolve(bridge) {
            names.insert(device.canonicalName)
            names.formUnion(device.alternativeNames)
        }
        return names
    }

    /// The user's TAPs on `bridge` as the quota counts them (`max=`): TAPs whose mark
    /// (`TapMark`, the alias only the helper can set) names the uid and whose master is the
    /// bridge. Nil with the reason when the links cannot be listed or the bridge is gone.
    func tapCount(uid: UInt32, bridge: InterfaceName) -> Result<Int, AuditError> {
        guard case .success(let device?) = devices.resolve(bridge) else {
            return .failure(AuditError("bridge '\(bridge)' does not exist"))
        }
        let links: [LinkDescription]
        do throws(SystemError) {
            links = try RouteNetlink().links()
        } catch {
            return .failure(AuditError("cannot list the links: \(error)"))
        }
        let inventory = TapInventory.build(links: links, holders: HolderScan())
        return .success(inventory.taps.count(where: { tap in
            guard case .bridgekeeper(let mark) = tap.mark else { return false }
            return mark.uid == uid && tap.bridge == device.canonicalName.bytes
        }))
    }
}

/// The name service for one audit run: each name is looked up once, so every verdict of the
/// run sees the same answer (the helper looks up at its own decision time; an audit is one
/// snapshot), and `DecisionKeys` can tell which callers the rules can tell apart.
final class CachingResolver: NameResolver {
    private let service = NameService()
    private var users: [[UInt8]: NameLookup] = [:]
    private var groups: [[UInt8]: NameLookup] = [:]

    func lookUp(_ name: [UInt8], kind: NameKind) -> NameLookup {
        switch kind {
        case .user:
            if let known = users[name] { return known }
            let found = service.lookUp(name, kind: .user)
            users[name] = found
            return found
        case .group:
            if let known = groups[name] { return known }
            let found = service.lookUp(name, kind: .group)
            groups[name] = found
            return found
        }
    }
}

/// Which callers the rules about one bridge can tell apart, so that `matrix` decides once per
/// distinguishable caller and bridge instead of once per account and bridge. Why this is exact:
/// `Policy.decide` for a device looks only at the rules naming one of the device's names or
/// `all`, and at the caller only by asking whether the uid is among such a rule's `uid=` values
/// or the uids its `user=` names resolve to, and whether one of the caller's groups is among
/// `gid=` values or the gids of `group=` names (names resolved by one `CachingResolver`, so
/// every decision sees the same ids). Two callers whose uids are both outside every such list
/// (or equal), and whose groups meet those lists in the same set, get the same answer from
/// every rule. Per bridge, so that 10,000 `user=` rules spread over 10 bridges make about
/// 1,000 distinguishable callers per bridge, not 10,000.
struct DecisionKeys {
    struct Key: Hashable {
        let walk: Int
        let uid: UInt32?
        let groups: [UInt32]
    }

    private var uids = Set<UInt32>()
    private var gids = Set<UInt32>()

    /// `names`: every name of the device (`AuditSession.deviceNames`).
    init(policies: [Result<Policy, PolicyError>], names: Set<InterfaceName>, resolver: some NameResolver) {
        for case .success(let policy) in policies {
            for rule in policy.rules where !rule.match.isEmpty {
                if case .named(let name) = rule.bridge, !names.contains(name) { continue }
                uids.formUnion(rule.match.uids)
                gids.formUnion(rule.match.gids)
                for name in rule.match.users { if case .found(let id) = resolver.lookUp(name, kind: .user) { uids.insert(id) } }
                for name in rule.match.groups { if case .found(let id) = resolver.lookUp(name, kind: .group) { gids.insert(id) } }
            }
        }
    }

    func key(walk: Int, _ identity: Identity) -> Key {
        let groups = Set([identity.gid] + identity.groups).intersection(gids).sorted()
        return Key(walk: walk, uid: uids.contains(identity.uid) ? identity.uid : nil, groups: groups)
    }
}

/// What happened to one file of a walk, for `explain`.
struct FileReport: Equatable {
    enum Status: String { case read, missing, unreadable, refused }
    let path: [UInt8]
    let status: Status
    let detail: String

    /// The helper's loader says only "unavailable" for a missing and an unreadable file (so that
    /// no message tells whether a private file exists); the CLI tells them apart afterwards by
    /// looking with its own credentials (as root: always exact).
    static func reports(_ records: [LoadRecord], user: String) -> [FileReport] {
        records.enumerated().map { position, record in
            let skipped = position == 0 ? "" : "; skipped"
            switch record.result {
            case .contents:
                return FileReport(path: record.path, status: .read, detail: "")
            case .refused(let reason):
                return FileReport(path: record.path, status: .refused, detail: reason.description)
            case .unavailable:
                var info = stat()
                let found = lstat(record.path.map { CChar(bitPattern: $0) } + [0], &info)
                if found != 0 && (errno == ENOENT || errno == ENOTDIR) {
                    return FileReport(path: record.path, status: .missing, detail: "does not exist\(skipped)")
                }
                return FileReport(path: record.path, status: .unreadable, detail: "not readable by \(user)\(skipped)")
            }
        }
    }
}
