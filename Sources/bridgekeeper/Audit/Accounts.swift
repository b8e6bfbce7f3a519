import BridgeACL
import Dispatch
import Glibc

/// A user as the name service describes them, with the groups a login gives them.
struct Account: Hashable, Sendable {
    /// The login name, as bytes (names need not be UTF-8).
    let name: [UInt8]
    let identity: Identity

    var uid: UInt32 { identity.uid }
    /// The name for output: bytes outside printable ASCII escaped.
    var shown: String { Escaping.escape(name) }
}

/// Users and groups from NSS (files, sssd, LDAP: whatever nsswitch.conf says), the way a login
/// (and `setpriv --init-groups`) sets them up: getpwnam for uid and primary gid, getgrouplist
/// for the supplementary groups.
enum Accounts {
    /// The user named `name`, or nil if the name service knows no such user.
    static func lookup(_ name: [UInt8]) -> Account? {
        let cName = name.map { CChar(bitPattern: $0) } + [0]
        var entry = passwd()
        var found: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        while true {
            let status = getpwnam_r(cName, &entry, &buffer, buffer.count, &found)
            if status == ERANGE && buffer.count < 1 << 20 {
                buffer = [CChar](repeating: 0, count: buffer.count * 4)
                continue
            }
            guard status == 0, found != nil else { return nil }
            return account(name: name, uid: entry.pw_uid, gid: entry.pw_gid)
        }
    }

    /// Every account the name service enumerates (getpwent), first entry of each name only.
    static func all() -> [(name: [UInt8], uid: uid_t, gid: gid_t)] {
        var result: [(name: [UInt8], uid: uid_t, gid: gid_t)] = []
        var seen = Set<[UInt8]>()
        setpwent()
        defer { endpwent() }
        while let entry = getpwent() {
            guard let namePointer = entry.pointee.pw_name else { continue }
            let name = Array(UnsafeRawBufferPointer(start: namePointer, count: strlen(namePointer)))
            if seen.insert(name).inserted { result.append((name, entry.pointee.pw_uid, entry.pointee.pw_gid)) }
        }
        return result
    }

    /// The accounts with their groups, looked up on every processor at once. getgrouplist is
    /// MT-safe, and with the files service each call parses all of /etc/group (glibc has no
    /// index), so 10,000 users cost 10,000 parses: the lookups, not the evaluation, are what a
    /// large matrix waits for. The answers are exactly getgrouplist's; only the order of the
    /// calls changes.
    static func accounts(_ entries: [(name: [UInt8], uid: uid_t, gid: gid_t)]) -> [Account] {
        let count = entries.count
        let slots = GroupSlots(count: count)
        let workers = max(1, min(16, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))))
        DispatchQueue.concurrentPerform(iterations: min(workers, max(count, 1))) { worker in
            var index = worker
            while index < count {
                slots.store(index, groups(of: entries[index].name, primary: entries[index].gid))
                index += workers
            }
        }
        return entries.indices.map { index in
            Account(name: entries[index].name,
                    identity: Identity(uid: entries[index].uid, gid: entries[index].gid, groups: slots.load(index)))
        }
    }

    /// The account with its groups from getgrouplist.
    static func account(name: [UInt8], uid: uid_t, gid: gid_t) -> Account {
        Account(name: name, identity: Identity(uid: uid, gid: gid, groups: groups(of: name, primary: gid)))
    }

    /// getgrouplist(3): the primary group and every group that lists the user, sorted.
    static func groups(of name: [UInt8], primary: gid_t) -> [UInt32] {
        let cName = name.map { CChar(bitPattern: $0) } + [0]
        var count: Int32 = 64
        while true {
            var groups = [gid_t](repeating: 0, count: Int(count))
            var asked = count
            if getgrouplist(cName, primary, &groups, &asked) >= 0 {
                return Array(Set(groups.prefix(Int(asked)))).sorted()
            }
            // -1: `asked` now holds the number needed.
            count = max(asked, count * 2)
        }
    }

    /// This process's own credentials, as the helper would see them when started from here.
    static func current() -> Identity {
        let count = getgroups(0, nil)
        var groups = [gid_t](repeating: 0, count: Int(max(count, 0)))
        let got = getgroups(count, &groups)
        let list = got > 0 ? Array(Set(groups.prefix(Int(got)))).sorted() : []
        return Identity(uid: getuid(), gid: getgid(), groups: list)
    }
}

/// One result slot per account, each written by exactly one worker before `concurrentPerform`
/// returns (which orders those writes before every read).
private final class GroupSlots: @unchecked Sendable {
    private let slots: UnsafeMutableBufferPointer<[UInt32]>

    init(count: Int) {
        slots = .allocate(capacity: count)
        _ = slots.initialize(from: repeatElement([], count: count))
    }

    deinit {
        slots.baseAddress?.deinitialize(count: slots.count)
        slots.deallocate()
    }

    func store(_ index: Int, _ groups: [UInt32]) { slots[index] = groups }
    func load(_ index: Int) -> [UInt32] { slots[index] }
}
