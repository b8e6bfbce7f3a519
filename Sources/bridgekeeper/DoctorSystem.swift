import BridgeACL
import BridgeClient
import BridgeDoctor
import BridgeLint
import BridgeSystem
import CBridgeShims
import Foundation
import Glibc

/// The facts `bridgekeeper doctor` judges, read from this host: stat and xattrs of /dev/net/tun
/// and the helpers, /sys, /proc, rtnetlink (links and the bridge forwarding database) and the
/// firewall listings. Everything but the firewall and other users' binaries and descriptors is
/// readable without root; what was out of reach is a `Probe.needsRoot`, which the checks say.
struct HostDoctor {
    /// Where QEMU, libvirt and bridgekeeper's installs put a bridge helper.
    static let helperPlaces: [(path: String, role: String, expected: Bool)] = [
        ("/usr/lib/qemu/qemu-bridge-helper", "QEMU's default helper", true),
        ("/usr/libexec/qemu-bridge-helper", "QEMU's default helper on Fedora and RHEL", false),
        ("/usr/libexec/bridgekeeper-helper", "the bridgekeeper package", false),
        ("/usr/local/libexec/bridgekeeper-helper", "make install", false),
    ]

    let root = geteuid() == 0

    func gather(bridges named: [String]) -> HostFacts {
        let links: [LinkDescription]
        do throws(SystemError) {
            links = try RouteNetlink().links()
        } catch {
            links = []
        }
        let acl = aclFacts()
        let names = named.isEmpty ? defaultBridges(rules: acl.rules ?? [], links: links) : named
        let inventory = TapInventory.build(links: links, holders: HolderScan.scan())
        let neighbours = fdbDump()
        let bridges = names.map { bridgeFacts($0, links: links, inventory: inventory, neighbours: neighbours) }
        let wireless = links.map(\.name).filter { isWireless($0) }.map { Escaping.escape($0) }
        return HostFacts(tun: tunFacts(), helpers: helpers(), acl: acl, bridges: bridges, bridgesNamed: !named.isEmpty,
                         netfilter: netfilterFacts(), wireless: wireless)
    }

    // MARK: - tun and the helpers

    func tunFacts() -> TunFacts {
        TunFacts(driverPresent: access("/sys/class/misc/tun", F_OK) == 0, node: fileFacts("/dev/net/tun"))
    }

    func fileFacts(_ path: String) -> FileFacts? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        // glibc's dev_t encoding (gnu_dev_major/minor).
        let rdev = UInt64(info.st_rdev)
        let major = UInt32(((rdev >> 8) & 0xfff) | ((rdev >> 32) & ~UInt64(0xfff)))
        let minor = UInt32((rdev & 0xff) | ((rdev >> 12) & ~UInt64(0xff)))
        return FileFacts(mode: UInt32(info.st_mode), uid: info.st_uid, gid: info.st_gid, major: major, minor: minor)
    }

    func helpers() -> [HelperFacts] {
        var places = Self.helperPlaces
        if let configured = libvirtBridgeHelper(), !places.contains(where: { $0.path == configured }) {
            places.append((configured, "libvirt's bridge_helper", true))
        }
        return places.map { place in
            let file = fileFacts(place.path)
            guard file?.isRegular == true else {
                return HelperFacts(path: place.path, role: place.role, expected: place.expected, file: file)
            }
            var mount = statvfs()
            let nosuid = statvfs(place.path, &mount) == 0 && mount.f_flag & UInt(ST_NOSUID) != 0
            return HelperFacts(path: place.path, role: place.role, expected: place.expected, file: file,
                               fileCapability: BinaryFacts.grantsNetAdmin(capabilityAttribute: capabilityAttribute(place.path)),
                               nosuidMount: nosuid, identity: identity(place.path))
        }
    }

    /// libvirt's `bridge_helper` in /etc/libvirt/qemu.conf, when set to an absolute path.
    func libvirtBridgeHelper() -> String? {
        guard let text = readText("/etc/libvirt/qemu.conf") else { return nil }
        for line in text.split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix("bridge_helper"), let equals = trimmed.firstIndex(of: "=") else { continue }
            let value = trimmed[trimmed.index(after: equals)...].trimmingCharacters(in: CharacterSet(charactersIn: " \t\""))
            if value.hasPrefix("/") { return value }
        }
        return nil
    }

    func capabilityAttribute(_ path: String) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 64)
        let size = buffer.withUnsafeMutableBytes { getxattr(path, "security.capability", $0.baseAddress, $0.count) }
        return size > 0 ? Array(buffer.prefix(size)) : []
    }

    func identity(_ path: String) -> Probe<HelperIdentity> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let error = Errno.current
            if (error == .permissionDenied || error == .notPermitted) && !root { return .needsRoot("reading it") }
            return .failed("\(error)")
        }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        // A helper is a few MB; 64 MiB bounds a mistake (a huge file at that path).
        do {
            let data = try handle.read(upToCount: 64 << 20) ?? Data()
            return .value(BinaryFacts.identity(of: [UInt8](data)))
        } catch {
            return .failed("\(error.localizedDescription)")
        }
    }

    // MARK: - bridge.conf

    func aclFacts() -> ACLFacts {
        let path = Installation.aclFile
        let lint = Linter.lint(path: path, source: SafeFileReader(), system: HostLintSystem(), readerUID: getuid())
        let rules: [RuleFacts]?
        switch PolicyLoader.load(path: path, from: SafeFileReader()) {
        case .success(let policy):
            rules = policy.rules.map { rule in
                let bridge: String?
                switch rule.bridge {
                case .all: bridge = nil
                case .named(let name): bridge = name.description
                }
                return RuleFacts(allow: rule.action == .allow, bridge: bridge, location: rule.location.description,
                                 everyone: rule.match.isEmpty, vlan: rule.options.vlan)
            }
        case .failure:
            rules = nil
        }
        return ACLFacts(path: Installation.aclFileText,
                        errors: lint.diagnostics.filter { $0.severity == .error }.map(\.description),
                        warnings: lint.diagnostics.filter { $0.severity == .warning }.map(\.description),
                        filesRead: lint.filesRead, rules: rules, readerUID: getuid())
    }

    /// The bridges bridge.conf names in allow rules, in file order; with an `allow all` for
    /// everyone, also every Linux bridge of this network namespace.
    func defaultBridges(rules: [RuleFacts], links: [LinkDescription]) -> [String] {
        var names: [String] = []
        for rule in rules where rule.allow {
            if let name = rule.bridge, !names.contains(name) { names.append(name) }
        }
        if rules.contains(where: { $0.allow && $0.bridge == nil && $0.everyone }) {
            for link in links where link.kind == Array("bridge".utf8) {
                let name = Escaping.escape(link.name)
                if !names.contains(name) { names.append(name) }
            }
        }
        return names
    }

    // MARK: - each bridge

    func bridgeFacts(_ name: String, links: [LinkDescription], inventory: TapInventory, neighbours: Probe<[NeighbourEntry]>) -> BridgeFacts {
        // The kernel resolves alternative names too; sysfs is read under the canonical name.
        let found: LinkDescription?
        do throws(SystemError) {
            found = try RouteNetlink().link(named: Array(name.utf8))
        } catch {
            found = nil
        }
        guard let link = found else { return BridgeFacts(name: name, link: nil) }
        let canonical = String(decoding: link.name, as: UTF8.self)
        let sys = "/sys/class/net/\(canonical)"
        var names: [Int32: String] = [:]
        for other in links { names[other.index] = Escaping.escape(other.name) }
        let ports = links.filter { $0.master == link.index }.sorted { $0.index < $1.index }.map { port in
            PortFacts(name: Escaping.escape(port.name), isTap: port.tun?.isTap == true, isWireless: isWireless(port.name),
                      leftover: inventory.taps.first(where: { $0.index == port.index })?.isReapable ?? false)
        }
        let fdb: Probe<[FDBEntry]>
        switch neighbours {
        case .value(let entries): fdb = .value(NeighbourEntry.learnt(entries, bridge: link.index, names: names))
        case .needsRoot(let what): fdb = .needsRoot(what)
        case .failed(let why): fdb = .failed(why)
        }
        let flags = sysfs("\(sys)/flags").flatMap { UInt32($0.dropFirst(2), radix: 16) }
        return BridgeFacts(name: name, link: LinkFacts(
            kind: link.kind.map { Escaping.escape($0) }, up: (flags ?? 0) & 1 != 0, ports: ports,
            stpState: sysfs("\(sys)/bridge/stp_state").flatMap { Int($0) },
            forwardDelay: sysfs("\(sys)/bridge/forward_delay").flatMap { Int($0) }.map { $0 / 100 },
            vlanFiltering: sysfs("\(sys)/bridge/vlan_filtering").map { $0 == "1" },
            addressAssignType: sysfs("\(sys)/addr_assign_type").flatMap { Int($0) },
            address: sysfs("\(sys)/address"), fdb: fdb))
    }

    func isWireless(_ name: [UInt8]) -> Bool {
        let base = "/sys/class/net/\(String(decoding: name, as: UTF8.self))"
        return access("\(base)/wireless", F_OK) == 0 || access("\(base)/phy80211", F_OK) == 0
    }

    /// A one-line sysfs or procfs file without its newline, nil if it cannot be read.
    func sysfs(_ path: String) -> String? {
        readText(path)?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A text file's contents, nil if it cannot be read (absent, unreadable, not UTF-8).
    func readText(_ path: String) -> String? {
        do { return try String(contentsOfFile: path, encoding: .utf8) } catch { return nil }
    }

    /// RTM_GETNEIGH (30) dump of family AF_BRIDGE (7): every bridge's forwarding database (what
    /// `bridge fdb show` asks for; no privilege needed). Answers are RTM_NEWNEIGH (28).
    func fdbDump() -> Probe<[NeighbourEntry]> {
        let getNeighbours: UInt16 = 30
        let newNeighbour: UInt16 = 28
        let bridgeFamily: UInt8 = 7
        do throws(SystemError) {
            let socket = try FileDescriptor.socket(domain: bk_af_netlink, type: Int32(SOCK_RAW.rawValue), protocol: bk_netlink_route)
            return dump(socket.borrowed, request: LinkRequest(type: getNeighbours, flags: bk_nlm_f_dump, sequence: 1, family: bridgeFamily),
                        answer: newNeighbour)
        } catch {
            return .failed("\(error)")
        }
    }

    func dump(_ socket: BorrowedDescriptor, request: LinkRequest, answer newNeighbour: UInt16) -> Probe<[NeighbourEntry]> {
        let request = request.finished
        let sent = request.withUnsafeBytes { send(socket.rawValue, $0.baseAddress, $0.count, 0) }
        guard sent == request.count else { return .failed("RTM_GETNEIGH: \(Errno.current)") }
        var entries: [NeighbourEntry] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { raw in recv(socket.rawValue, raw.baseAddress, raw.count, 0) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return .failed("RTM_GETNEIGH: \(Errno.current)") }
            for message in NetlinkMessage.split(buffer[0..<count]) where message.sequence == 1 {
                if message.type == bk_nlmsg_done || message.type == bk_nlmsg_error {
                    let code = message.errorCode ?? 0
                    return code == 0 ? .value(entries) : .failed("RTM_GETNEIGH: \(Errno(rawValue: code))")
                }
                if message.type == newNeighbour, let entry = NeighbourEntry.parse(body: message.body) { entries.append(entry) }
            }
        }
    }

    // MARK: - br_netfilter and the firewall

    func netfilterFacts() -> NetfilterFacts {
        // Per network namespace since Linux 5.3; absent while br_netfilter is not loaded.
        let call = sysfs("/proc/sys/net/bridge/bridge-nf-call-iptables").map { $0 != "0" }
        return NetfilterFacts(callIptables: call, drops: forwardDrops())
    }

    /// nft's view covers native nftables and iptables-nft; plain iptables is the fallback.
    func forwardDrops() -> Probe<[ForwardDrop]> {
        guard root else { return .needsRoot("reading the nftables and iptables rules") }
        if let nft = tool("nft") {
            return run(nft, ["list", "ruleset"]).map(RuleListings.nftDrops)
        }
        if let iptables = tool("iptables") {
            return run(iptables, ["-S", "FORWARD"]).map(RuleListings.iptablesDrops)
        }
        return .failed("neither nft nor iptables is installed")
    }

    func tool(_ name: String) -> String? {
        ["/usr/sbin/", "/sbin/", "/usr/bin/"].map { $0 + name }.first { access($0, X_OK) == 0 }
    }

    /// Runs a listing tool with an empty environment (ChildProcess, without Foundation's Process
    /// and its run loop), stdout and stderr into one pipe: its output, or why it failed.
    func run(_ path: String, _ arguments: [String]) -> ToolRun {
        let command = ([path] + arguments).joined(separator: " ")
        var ends: [Int32] = [-1, -1]
        // Close-on-exec at once: only the spawn's dup2 gives the write end to the child.
        guard pipe(&ends) == 0 else { return .failed("\(command): pipe: \(Errno.current)") }
        _ = fcntl(ends[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(ends[1], F_SETFD, FD_CLOEXEC)
        let reading = FileDescriptor(owning: ends[0])
        let words = CStringList(([path] + arguments).map { Array($0.utf8) })
        let pid: pid_t
        do throws(SystemError) {
            pid = try ChildProcess.spawn(argv: words.pointers, descriptors: [InheritedDescriptor(ends[1], as: 1), InheritedDescriptor(ends[1], as: 2)])
        } catch {
            close(ends[1])
            return .failed("\(command): \(error)")
        }
        close(ends[1])
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(reading.rawValue, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            output += buffer.prefix(count)
        }
        let status = ChildProcess.reap(pid).exitStatus
        let text = String(decoding: output, as: UTF8.self)
        guard status == 0 else {
            let first = text.split(separator: "\n").first.map(String.init) ?? ""
            return .failed("\(command) exited with \(status)\(first.isEmpty ? "" : ": \(first)")")
        }
        return .output(text)
    }

    enum ToolRun {
        case output(String)
        case failed(String)

        func map(_ parse: (String) -> [ForwardDrop]) -> Probe<[ForwardDrop]> {
            switch self {
            case .output(let text): return .value(parse(text))
            case .failed(let why): return .failed(why)
            }
        }
    }
}
