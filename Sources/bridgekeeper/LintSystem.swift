import BridgeACL
import BridgeLint
import BridgeSystem
import CBridgeShims
import Glibc

/// The facts `bridgekeeper lint` takes from this host: why an include was unavailable (lstat),
/// who can read a file (mode bits and POSIX ACL entries of the file and every directory above
/// it), and the devices of this network namespace (rtnetlink, which resolves alternative names).
/// Only for warnings: whether the helper reads a file at all is decided by `SafeFileReader`.
final class HostLintSystem: LintSystem {
    private let netlink: RouteNetlink?
    private let netlinkError: String?
    private let names = NameService()

    init() {
        do throws(SystemError) {
            netlink = try RouteNetlink()
            netlinkError = nil
        } catch {
            netlink = nil
            netlinkError = error.description
        }
    }

    func absence(of path: [UInt8]) -> Absence {
        var info = stat()
        let found = cString(path) { lstat($0, &info) }
        // ENOENT (also for a missing directory on the way) is the only sure "does not exist".
        return found != 0 && errno == ENOENT ? .missing : .unreadable
    }

    func restriction(of path: [UInt8]) -> String? {
        // "/", then each directory on the way (search permission), then the file (read).
        var prefixes: [[UInt8]] = [[UInt8(ascii: "/")]]
        var walked: [UInt8] = []
        let components = path.split(separator: UInt8(ascii: "/"))
        for component in components.dropLast() {
            walked += [UInt8(ascii: "/")] + component
            prefixes.append(walked)
        }
        for directory in prefixes {
            if let problem = problem(directory, needed: 0o1, verb: "enter") { return problem }
        }
        return problem(path, needed: 0o4, verb: "read")
    }

    /// Why some user lacks `needed` (4 read, 1 search) on `path`; nil if everyone has it. Owner
    /// root needs nothing (root passes); the group class and others must have it, and so must
    /// every named user and group entry of an access ACL (after the mask).
    private func problem(_ path: [UInt8], needed: UInt16, verb: String) -> String? {
        let shown = Escaping.escape(path)
        var info = stat()
        guard cString(path, { lstat($0, &info) }) == 0 else { return "\(shown) cannot be examined: \(Errno.current)" }
        let mode = UInt16(info.st_mode & 0o7777)
        let octal = "0" + String(mode, radix: 8)
        if mode & needed == 0 { return "\(shown) is mode \(octal): others cannot \(verb) it" }
        if (mode >> 3) & needed == 0 { return "\(shown) is mode \(octal): its group cannot \(verb) it" }
        for entry in accessACL(path) where entry.tag == 0x02 || entry.tag == 0x08 || entry.tag == 0x04 {
            if entry.permissions & needed != 0 { continue }
            let who = entry.tag == 0x02 ? "user \(entry.id)" : entry.tag == 0x08 ? "group \(entry.id)" : "its owning group"
            return "\(shown) has an ACL entry that keeps \(who) from being able to \(verb) it"
        }
        return nil
    }

    /// The entries of `system.posix_acl_access` (a 4-byte version header, then 8-byte entries:
    /// tag, permissions, id), with the mask applied to named entries and the owning group.
    private func accessACL(_ path: [UInt8]) -> [(tag: UInt16, permissions: UInt16, id: UInt32)] {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let size = cString(path) { name in
            buffer.withUnsafeMutableBytes { lgetxattr(name, "system.posix_acl_access", $0.baseAddress, $0.count) }
        }
        guard size >= 4 else { return [] }
        func read16(_ at: Int) -> UInt16 { UInt16(buffer[at]) | UInt16(buffer[at + 1]) << 8 }
        func read32(_ at: Int) -> UInt32 { UInt32(read16(at)) | UInt32(read16(at + 2)) << 16 }
        var entries: [(tag: UInt16, permissions: UInt16, id: UInt32)] = []
        var offset = 4
        while offset + 8 <= size {
            entries.append((read16(offset), read16(offset + 2), read32(offset + 4)))
            offset += 8
        }
        guard let mask = entries.first(where: { $0.tag == 0x10 })?.permissions else { return entries }
        return entries.map { ($0.tag, $0.tag == 0x01 || $0.tag == 0x20 || $0.tag == 0x10 ? $0.permissions : $0.permissions & mask, $0.id) }
    }

    func link(named name: InterfaceName) -> LinkLookup {
        guard let netlink else { return .failed(netlinkError ?? "no rtnetlink socket") }
        do throws(SystemError) {
            guard let link = try netlink.link(named: name.bytes) else { return .absent }
            return .present(canonical: link.name, alternatives: link.alternativeNames, kind: link.kind)
        } catch {
            return .failed(error.description)
        }
    }

    /// sysfs's `bridge/vlan_filtering` of the device, after checking that /sys shows this
    /// network namespace's device (its `ifindex` there equals rtnetlink's): /sys is the
    /// namespace of whoever mounted it, which need not be ours. No `vlan_filtering` file on a
    /// bridge: the kernel was built without VLAN filtering.
    func vlanFiltering(of name: InterfaceName) -> VlanFiltering {
        guard let netlink else { return .unknown(netlinkError ?? "no rtnetlink socket") }
        let link: LinkDescription
        do throws(SystemError) {
            guard let found = try netlink.link(named: name.bytes) else { return .unknown("it no longer exists") }
            link = found
        } catch {
            return .unknown(error.description)
        }
        let directory = "/sys/class/net/" + String(decoding: link.name, as: UTF8.self)
        guard let index = smallFile(directory + "/ifindex"), Int32(index) == link.index else {
            return .unknown("\(directory) is not this network namespace's device (sysfs mounted for another namespace)")
        }
        guard let value = smallFile(directory + "/bridge/vlan_filtering") else {
            if errno == ENOENT { return .unsupported }
            return .unknown("cannot read \(directory)/bridge/vlan_filtering: \(Errno.current)")
        }
        switch value {
        case "1": return .on
        case "0": return .off
        default: return .unknown("\(directory)/bridge/vlan_filtering holds '\(value)'")
        }
    }

    /// A sysfs attribute without its trailing newline; nil (errno set) if it cannot be read.
    private func smallFile(_ path: String) -> String? {
        let fd = cString(Array(path.utf8)) { open($0, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count >= 0 else { return nil }
        return String(decoding: buffer.prefix(count), as: UTF8.self).filter { $0 != "\n" }
    }

    func lookUp(_ name: [UInt8], kind: NameKind) -> NameLookup { names.lookUp(name, kind: kind) }

    func errorText(_ errno: Int32) -> String { Errno(rawValue: errno).description }

    private func cString<T>(_ path: [UInt8], _ body: (UnsafePointer<CChar>) -> T) -> T {
        let terminated = path.map { CChar(bitPattern: $0) } + [0]
        return terminated.withUnsafeBufferPointer { buffer in
            // A non-empty buffer always has a base address.
            guard let base = buffer.baseAddress else { return body("") }
            return body(base)
        }
    }
}
