import BridgeACL
import CBridgeShims
import Glibc

/// IFF_* flags for TUNSETIFF (from <linux/if_tun.h>, through the shim).
public struct TunFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// IFF_TAP: an Ethernet device.
    public static let tap = TunFlags(rawValue: bk_iff_tap)
    /// IFF_NO_PI: no packet-information header in front of each frame.
    public static let noPacketInfo = TunFlags(rawValue: bk_iff_no_pi)
    /// IFF_VNET_HDR: a virtio-net header in front of each frame (offloads for virtio guests).
    public static let virtioNetHeader = TunFlags(rawValue: bk_iff_vnet_hdr)
}

/// The clone device, opened from its fixed path and checked to be the real thing (char 10:200),
/// so a bind mount of something else over /dev/net/tun is refused.
public struct TunControl: ~Copyable {
    public static let path = "/dev/net/tun"
    let descriptor: FileDescriptor

    public static func open() throws(SystemError) -> TunControl {
        let fd = try FileDescriptor.open(path, O_RDWR)
        let info = try fd.borrowed.status()
        guard (info.st_mode & S_IFMT) == S_IFCHR, bk_major(info.st_rdev) == 10, bk_minor(info.st_rdev) == 200 else {
            throw SystemError("\(path) is not the tun character device (10:200)", Errno(rawValue: ENODEV))
        }
        return TunControl(descriptor: fd)
    }

    /// TUNGETFEATURES.
    public func features() throws(SystemError) -> TunFlags {
        var raw: UInt32 = 0
        guard bk_tun_get_features(descriptor.rawValue, &raw) == 0 else { throw SystemError("TUNGETFEATURES") }
        return TunFlags(rawValue: raw)
    }

    /// TUNSETIFF with the kernel choosing the name from `tap%d`; then TUNSETOWNER, so that a
    /// later TUNSETIFF on this name (after someone made it persistent) needs this uid or
    /// CAP_NET_ADMIN. The device is not persistent: closing the last descriptor removes it.
    public consuming func createTap(flags: TunFlags, owner: uid_t) throws(SystemError) -> TapDevice {
        var name = [CChar](repeating: 0, count: Int(bk_ifnamsiz))
        let pattern = "tap%d"
        guard bk_tun_set_iff(descriptor.rawValue, pattern, pattern.utf8.count, flags.rawValue, &name) == 0 else {
            throw SystemError("TUNSETIFF")
        }
        let bytes = name.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }
        guard bk_tun_set_owner(descriptor.rawValue, owner) == 0 else { throw SystemError("TUNSETOWNER") }
        let interface: InterfaceName
        do { interface = try InterfaceName(validating: bytes) } catch {
            throw SystemError("TUNSETIFF returned an invalid name", Errno(rawValue: EINVAL))
        }
        return TapDevice(descriptor: descriptor, name: interface)
    }
}

/// A TAP device that exists as long as `descriptor` (or a copy sent elsewhere) is open.
public struct TapDevice: ~Copyable {
    public let descriptor: FileDescriptor
    public let name: InterfaceName
}

/// A Linux bridge found in the caller's network namespace.
public struct BridgeInfo: Sendable, Equatable {
    public let name: InterfaceName
    public let index: Int32
    public let mtu: Int32
}

/// What an interface is, as far as the helper cares.
public enum InterfaceKind: Equatable, Sendable {
    case bridge(BridgeInfo)
    case missing
    /// Exists but is not a Linux bridge; `driver` is ethtool's driver name ("veth", "tun", ...).
    case other(driver: String)
}

/// Interface ioctls through one datagram socket of the caller's network namespace. Everything
/// is looked up in that namespace only, never through sysfs (which may show another one).
public struct NetworkControl: ~Copyable {
    let socket: FileDescriptor

    public init() throws(SystemError) {
        socket = try FileDescriptor.socket(domain: AF_UNIX, type: Int32(SOCK_DGRAM.rawValue))
    }

    /// Is `name` a Linux bridge? Decided by its ethtool driver name, which the bridge driver
    /// reports as "bridge"; no TAP is created before this says yes.
    public func kind(of name: InterfaceName) throws(SystemError) -> InterfaceKind {
        var index: Int32 = 0
        if bk_if_index(socket.rawValue, name.bytes, name.bytes.count, &index) != 0 {
            if errno == ENODEV { return .missing }
            throw SystemError("SIOCGIFINDEX \(name)")
        }
        var driver = [CChar](repeating: 0, count: 32)
        if bk_if_driver(socket.rawValue, name.bytes, name.bytes.count, &driver) != 0 {
            if errno == ENODEV { return .missing }
            if errno == EOPNOTSUPP { return .other(driver: "unknown") }
            throw SystemError("SIOCETHTOOL \(name)")
        }
        let driverName = Escaping.escape(driver.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) })
        guard driverName == "bridge" else { return .other(driver: driverName) }
        var mtu: Int32 = 0
        guard bk_if_get_mtu(socket.rawValue, name.bytes, name.bytes.count, &mtu) == 0 else {
            throw SystemError("SIOCGIFMTU \(name)")
        }
        return .bridge(BridgeInfo(name: name, index: index, mtu: mtu))
    }

    public func setMTU(_ mtu: Int32, of name: InterfaceName) throws(SystemError) {
        guard bk_if_set_mtu(socket.rawValue, name.bytes, name.bytes.count, mtu) == 0 else {
            throw SystemError("setting the MTU of \(name) to \(mtu)")
        }
    }

    /// Sets the first byte of the MAC address to 0xfe. A bridge without a fixed address takes
    /// the lowest of its ports' addresses; 0xfe keeps a TAP from ever being that port, so adding a
    /// guest does not change the bridge's MAC (and the host's ARP entries on the LAN).
    public func raiseMACPrefix(of name: InterfaceName) throws(SystemError) {
        var mac = [UInt8](repeating: 0, count: 6)
        guard bk_if_get_hwaddr(socket.rawValue, name.bytes, name.bytes.count, &mac) == 0 else {
            throw SystemError("reading the MAC address of \(name)")
        }
        mac[0] = 0xFE
        guard bk_if_set_hwaddr(socket.rawValue, name.bytes, name.bytes.count, mac) == 0 else {
            throw SystemError("setting the MAC address of \(name)")
        }
    }

    /// SIOCBRADDIF: the port is named by its ifindex.
    public func addPort(index: Int32, to bridge: InterfaceName) throws(SystemError) {
        guard bk_bridge_add_port(socket.rawValue, bridge.bytes, bridge.bytes.count, index) == 0 else {
            throw SystemError("adding a port to bridge \(bridge)")
        }
    }

    public func index(of name: InterfaceName) throws(SystemError) -> Int32 {
        var index: Int32 = 0
        guard bk_if_index(socket.rawValue, name.bytes, name.bytes.count, &index) == 0 else {
            throw SystemError("SIOCGIFINDEX \(name)")
        }
        return index
    }

    public func bringUp(_ name: InterfaceName) throws(SystemError) {
        var flags: UInt32 = 0
        guard bk_if_get_flags(socket.rawValue, name.bytes, name.bytes.count, &flags) == 0,
              bk_if_set_flags(socket.rawValue, name.bytes, name.bytes.count, flags | bk_iff_up) == 0 else {
            throw SystemError("bringing \(name) up")
        }
    }
}

/// The caller's end of the QEMU/libvirt socketpair.
public enum HandoffSocket {
    /// Checks that `fd` is an open AF_UNIX stream or seqpacket socket (contract §2): anything
    /// else (a pipe, /dev/null, a UDP socket, a closed number) is refused before any work.
    public static func check(_ fd: BorrowedDescriptor) -> String? {
        let number = "--fd=\(fd.rawValue)"
        do throws(SystemError) {
            guard (try fd.status().st_mode & S_IFMT) == S_IFSOCK else {
                return "\(number) is not a socket (expected the AF_UNIX socket QEMU passes)"
            }
            let domain = try fd.socketOption(SO_DOMAIN)
            let type = try fd.socketOption(SO_TYPE)
            guard domain == AF_UNIX,
                  type == Int32(SOCK_STREAM.rawValue) || type == Int32(SOCK_SEQPACKET.rawValue) else {
                return "\(number) is not an AF_UNIX stream or seqpacket socket"
            }
            if try fd.socketOption(SO_ACCEPTCONN) != 0 {
                return "\(number) is a listening socket, not a connected one"
            }
            // An unconnected stream socket would only fail at sendmsg, after the TAP was made.
            var address = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let connected = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd.rawValue, $0, &length) }
            }
            if connected != 0 { return "\(number) is a socket that is not connected to a peer" }
            return nil
        } catch {
            if error.errno.rawValue == EBADF { return "\(number) is not an open file descriptor" }
            return "\(number): cannot query the socket: \(error.errno)"
        }
    }

    /// Sends the TAP descriptor with one data byte (0x00). MSG_NOSIGNAL, and a send timeout so a
    /// peer that stopped reading cannot hold the helper (and the TAP) forever.
    public static func send(_ tap: borrowing FileDescriptor, over socket: BorrowedDescriptor,
                            timeoutSeconds: Int = 5) throws(SystemError) {
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        _ = setsockopt(socket.rawValue, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard bk_send_fd(socket.rawValue, tap.rawValue) == 0 else { throw SystemError("sending the TAP descriptor") }
    }
}
