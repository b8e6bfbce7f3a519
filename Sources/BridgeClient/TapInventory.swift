import BridgeACL
import BridgeSystem
import CBridgeShims
import Glibc

// `bridgekeeper taps`: the TAPs of this network namespace as rtnetlink describes them, the
// processes that hold them (from /proc/*/fdinfo), and the bridgekeeper mark in their alias.
// Collecting is separate from rendering so that the JSON and the table are unit-tested from
// values.

/// A process with a TAP open: `iff: NAME` in one of its /proc/PID/fdinfo entries.
public struct TapHolder: Equatable, Sendable {
    public let pid: Int32
    /// /proc/PID/comm without its newline (up to 15 bytes, chosen by the process itself).
    public let command: [UInt8]

    public init(pid: Int32, command: [UInt8]) {
        self.pid = pid
        self.command = command
    }
}

/// What a TAP's interface alias says.
public enum TapMarkState: Equatable, Sendable {
    /// No alias: not made by bridgekeeper-helper (or made before it marked TAPs).
    case none
    case bridgekeeper(TapMark)
    /// An alias that is not a bridgekeeper mark (raw bytes).
    case foreign([UInt8])

    public init(alias: [UInt8]?) {
        guard let alias, !alias.isEmpty else { self = .none; return }
        self = TapMark.parse(alias).map(TapMarkState.bridgekeeper) ?? .foreign(alias)
    }
}

/// One TAP.
public struct TapEntry: Equatable, Sendable {
    public var name: [UInt8]
    public var index: Int32
    /// The name of its master (the bridge), nil when it is no port.
    public var bridge: [UInt8]?
    /// The tun owner, nil when none is set.
    public var ownerUID: UInt32?
    public var persistent: Bool
    public var holders: [TapHolder]
    public var mark: TapMarkState
    /// IFLA_CARRIER on, or queues in use (multiqueue TAPs): the kernel knows of a descriptor,
    /// whether or not /proc shows its process.
    public var attached: Bool

    public init(name: [UInt8], index: Int32, bridge: [UInt8]?, ownerUID: UInt32?, persistent: Bool,
                holders: [TapHolder], mark: TapMarkState, attached: Bool = false) {
        self.name = name
        self.index = index
        self.bridge = bridge
        self.ownerUID = ownerUID
        self.persistent = persistent
        self.holders = holders
        self.mark = mark
        self.attached = attached
    }

    /// Persistent and held by no process: what `--reap` deletes. `attached` covers descriptors
    /// that /proc did not show (a process in another PID namespace, or one root may not trace).
    public var isReapable: Bool { persistent && holders.isEmpty && !attached }
}

/// Who holds which TAP, from every /proc/PID/fdinfo/FD the caller may read.
public struct HolderScan: Equatable, Sendable {
    /// Holders by interface name, in pid order.
    public var holders: [[UInt8]: [TapHolder]]
    /// Processes whose descriptors could not be read (EACCES/EPERM: the caller is not root).
    public var unreadableProcesses: Int

    public init(holders: [[UInt8]: [TapHolder]] = [:], unreadableProcesses: Int = 0) {
        self.holders = holders
        self.unreadableProcesses = unreadableProcesses
    }

    /// The interface named by an fdinfo text (`iff:\tNAME` from tun_chr_show_fdinfo), if any.
    public static func interfaceName(fdinfo: some Collection<UInt8>) -> [UInt8]? {
        let key = Array("iff:".utf8)
        for line in fdinfo.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            guard line.starts(with: key) else { continue }
            let value = line.dropFirst(key.count).drop(while: { $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: " ") })
            return value.isEmpty ? nil : Array(value)
        }
        return nil
    }

    /// Reads /proc. Processes that exit during the scan are skipped; a TAP held several times by
    /// one process lists it once.
    ///
    /// fdinfo names a TAP only by its name, and names repeat across network namespaces (every
    /// sandbox has its `tap0`), so only processes in the caller's network namespace count, as
    /// /proc/PID/ns/net says (a process whose namespace cannot be read counts, on the safe side
    /// for reaping). A process in another namespace that holds one of these TAPs is not listed;
    /// the kernel's own sign of an attached descriptor (`TapEntry.attached`) still keeps
    /// `--reap` away from it.
    public static func scan(proc: String = "/proc") -> HolderScan {
        var scan = HolderScan()
        let ownNamespace = readLink("\(proc)/self/ns/net")
        for entry in directoryEntries(proc) {
            guard let pid = Int32(entry), pid > 0 else { continue }
            if let ownNamespace, let namespace = readLink("\(proc)/\(entry)/ns/net"), namespace != ownNamespace { continue }
            let fdinfo = "\(proc)/\(entry)/fdinfo"
            let descriptors: [String]
            switch listDirectory(fdinfo) {
            case .success(let names): descriptors = names
            case .failure(let errno):
                if errno == .permissionDenied || errno == .notPermitted { scan.unreadableProcesses += 1 }
                continue
            }
            var held: [[UInt8]] = []
            for fd in descriptors {
                guard let text = readSmallFile("\(fdinfo)/\(fd)"), let name = interfaceName(fdinfo: text),
                      !held.contains(name) else { continue }
                held.append(name)
            }
            guard !held.isEmpty else { continue }
            let comm = readSmallFile("\(proc)/\(entry)/comm") ?? []
            let command = Array(comm.prefix { $0 != 0x0A })
            for name in held { scan.holders[name, default: []].append(TapHolder(pid: pid, command: command)) }
        }
        for name in scan.holders.keys { scan.holders[name]?.sort { $0.pid < $1.pid } }
        return scan
    }

    static func directoryEntries(_ path: String) -> [String] {
        switch listDirectory(path) {
        case .success(let names): return names
        case .failure: return []
        }
    }

    static func listDirectory(_ path: String) -> Result<[String], Errno> {
        guard let directory = opendir(path) else { return .failure(.current) }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return .success(names)
    }

    static func readLink(_ path: String) -> [UInt8]? {
        var buffer = [CChar](repeating: 0, count: 256)
        let count = readlink(path, &buffer, buffer.count)
        guard count > 0 else { return nil }
        return buffer.prefix(count).map { UInt8(bitPattern: $0) }
    }

    /// A /proc file of at most 4 KiB, or nil if it cannot be opened or read.
    static func readSmallFile(_ path: String) -> [UInt8]? {
        let fd = bk_open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        let owned = FileDescriptor(owning: fd)
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { raw in read(owned.rawValue, raw.baseAddress, raw.count) }
        guard count >= 0 else { return nil }
        return Array(buffer.prefix(count))
    }
}

/// The TAPs of one network namespace.
public struct TapInventory: Equatable, Sendable {
    public var taps: [TapEntry]
    public var unreadableProcesses: Int

    public init(taps: [TapEntry], unreadableProcesses: Int) {
        self.taps = taps
        self.unreadableProcesses = unreadableProcesses
    }

    /// The TAPs among `links` (kind "tun", type IFF_TAP), by ifindex, with their holders.
    public static func build(links: [LinkDescription], holders: HolderScan) -> TapInventory {
        var names: [Int32: [UInt8]] = [:]
        for link in links { names[link.index] = link.name }
        let taps = links.filter { $0.tun?.isTap == true }.sorted { $0.index < $1.index }.map { link in
            TapEntry(name: link.name, index: link.index, bridge: link.master.flatMap { names[$0] },
                     ownerUID: link.tun?.owner, persistent: link.tun?.persistent ?? false,
                     holders: holders.holders[link.name] ?? [], mark: TapMarkState(alias: link.alias),
                     attached: isAttached(link))
        }
        return TapInventory(taps: taps, unreadableProcesses: holders.unreadableProcesses)
    }

    /// What the kernel says about descriptors attached to the TAP `link`.
    public static func isAttached(_ link: LinkDescription) -> Bool {
        link.carrier == true || (link.tun?.queues ?? 0) > 0 || (link.tun?.disabledQueues ?? 0) > 0
    }

    /// Reads this network namespace's links and /proc.
    public static func collect(netlink: RouteNetlink) throws(SystemError) -> TapInventory {
        let links = try netlink.links()
        return build(links: links, holders: HolderScan.scan())
    }
}

/// `taps --reap`: deletes the persistent TAPs nobody holds.
public enum TapReaper {
    public struct Failure: Equatable, Sendable {
        public let name: [UInt8]
        public let index: Int32
        public let errno: Errno

        public init(name: [UInt8], index: Int32, errno: Errno) {
            self.name = name
            self.index = index
            self.errno = errno
        }

        public var message: String {
            "bridgekeeper taps: cannot delete \(Escaping.escape(name)) (ifindex \(index)): \(errno)"
        }
    }

    /// Each candidate is checked again right before it is deleted (a fresh /proc scan and a fresh
    /// look at the link by index: the same name, still a persistent TAP, carrier off), and deleted
    /// by index, so a TAP that was picked up, renamed or replaced meanwhile is left alone.
    public static func reap(_ inventory: TapInventory, netlink: RouteNetlink) -> (ReapReport, [Failure]) {
        var report = ReapReport(reaped: [])
        var failures: [Failure] = []
        for tap in inventory.taps where tap.isReapable {
            guard HolderScan.scan().holders[tap.name] == nil else { continue }
            let now: LinkDescription?
            do { now = try netlink.link(index: tap.index) } catch {
                failures.append(Failure(name: tap.name, index: tap.index, errno: error.errno))
                continue
            }
            guard let now, now.name == tap.name, now.tun?.isTap == true, now.tun?.persistent == true,
                  !TapInventory.isAttached(now) else { continue }
            do {
                try netlink.change(LinkChange.delete(index: tap.index, sequence: netlink.nextSequence()), what: "RTM_DELLINK")
                report.reaped.append((name: tap.name, index: tap.index))
            } catch {
                // Gone meanwhile: nothing left to reap.
                if error.errno == .noSuchDevice { continue }
                failures.append(Failure(name: tap.name, index: tap.index, errno: error.errno))
            }
        }
        return (report, failures)
    }
}
