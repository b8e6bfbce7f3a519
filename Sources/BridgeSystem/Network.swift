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

    public enum OpenError: Error, Equatable, Sendable {
        /// open(2) failed with this errno.
        case open(Errno)
        /// fstat(2) of the opened node failed.
        case status(Errno)
        /// The node is not the character device 10:200 (something else was mounted there).
        case notTunDevice
    }

    public static func open() throws(OpenError) -> TunControl {
        let fd: FileDescriptor
        do { fd = try FileDescriptor.open(path, O_RDWR) } catch { throw .open(error.errno) }
        let info: stat
        do { info = try fd.borrowed.status() } catch { throw .status(error.errno) }
        guard (info.st_mode & S_IFMT) == S_IFCHR, bk_major(info.st_rdev) == 10, bk_minor(info.st_rdev) == 200 else {
            throw .notTunDevice
        }
        return TunControl(descriptor: fd)
    }

    /// TUNGETFEATURES.
    public func features() throws(SystemError) -> TunFlags {
        var raw: UInt32 = 0
        guard bk_tun_get_features(descriptor.rawValue, &raw) == 0 else { throw SystemError("TUNGETFEATURES") }
        return TunFlags(rawValue: raw)
    }

    public enum CreateError: Error, Equatable, Sendable {
        case setInterface(Errno)
        case setOwner(Errno)
    }

    /// TUNSETIFF with the kernel choosing the name from `tap%d`; then TUNSETOWNER, so that a
    /// later TUNSETIFF on this name (after someone made it persistent) needs this uid or
    /// CAP_NET_ADMIN. The device is not persistent: closing the last descriptor removes it.
    public consuming func createTap(flags: TunFlags, owner: uid_t) throws(CreateError) -> TapDevice {
        var name = [CChar](repeating: 0, count: Int(bk_ifnamsiz))
        let pattern = "tap%d"
        guard bk_tun_set_iff(descriptor.rawValue, pattern, pattern.utf8.count, flags.rawValue, &name) == 0 else {
            throw .setInterface(.current)
        }
        let bytes = name.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }
        guard bk_tun_set_owner(descriptor.rawValue, owner) == 0 else { throw .setOwner(.current) }
        let interface: InterfaceName
        do { interface = try InterfaceName(validating: bytes) } catch {
            throw .setInterface(.invalidArgument)
        }
        return TapDevice(descriptor: descriptor, name: interface)
    }
}

/// A TAP device that exists as long as `descriptor` (or a copy sent elsewhere) is open.
public struct TapDevice: ~Copyable {
    public let descriptor: FileDescriptor
    public let name: InterfaceName

    /// Gives up ownership of the descriptor without closing it.
    public consuming func releaseDescriptor() -> Int32 { descriptor.release() }

    /// SIOCGIFHWADDR on the TUN descriptor: the TAP's own MAC address, without a name lookup.
    public func hardwareAddress() throws(SystemError) -> [UInt8] {
        var mac = [UInt8](repeating: 0, count: 6)
        guard bk_tun_get_hwaddr(descriptor.rawValue, &mac) == 0 else { throw SystemError("SIOCGIFHWADDR") }
        return mac
    }

    /// SIOCSIFHWADDR on the TUN descriptor.
    public func setHardwareAddress(_ mac: [UInt8]) throws(SystemError) {
        guard mac.count == 6, bk_tun_set_hwaddr(descriptor.rawValue, mac) == 0 else { throw SystemError("SIOCSIFHWADDR") }
    }
}

/// Interface ioctls that name a device, through one datagram socket of the caller's network
/// namespace. Only for what rtnetlink does not say: the ethtool driver name (shown when a
/// device is not a bridge) and the index of the TAP the helper just created.
public struct InterfaceIoctls: ~Copyable {
    let socket: FileDescriptor

    public init() throws(SystemError) {
        socket = try FileDescriptor.socket(domain: AF_UNIX, type: Int32(SOCK_DGRAM.rawValue))
    }

    /// SIOCETHTOOL ETHTOOL_GDRVINFO: "bridge", "veth", "tun", "openvswitch"..., raw bytes.
    public func driver(of name: InterfaceName) throws(SystemError) -> [UInt8] {
        var driver = [CChar](repeating: 0, count: 32)
        guard bk_if_driver(socket.rawValue, name.bytes, name.bytes.count, &driver) == 0 else {
            throw SystemError("SIOCETHTOOL \(name)")
        }
        return driver.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }
    }

    /// SIOCGIFINDEX.
    public func index(of name: InterfaceName) throws(SystemError) -> Int32 {
        var index: Int32 = 0
        guard bk_if_index(socket.rawValue, name.bytes, name.bytes.count, &index) == 0 else {
            throw SystemError("SIOCGIFINDEX \(name)")
        }
        return index
    }
}

/// The caller's end of the QEMU/libvirt socketpair.
public enum HandoffSocket {
    /// What is wrong with the descriptor named by `--fd`.
    public enum Problem: Error, Equatable, Sendable {
        case notOpen
        case notSocket
        case wrongKind
        case listening
        case notConnected
        case queryFailed(Errno)
    }

    /// Checks that `fd` is an open, connected AF_UNIX stream or seqpacket socket (contract §2):
    /// anything else (a pipe, /dev/null, a UDP socket, a closed number) is refused before any work.
    public static func check(_ fd: BorrowedDescriptor) -> Problem? {
        do throws(SystemError) {
            guard (try fd.status().st_mode & S_IFMT) == S_IFSOCK else { return .notSocket }
            let domain = try fd.socketOption(SO_DOMAIN)
            let type = try fd.socketOption(SO_TYPE)
            guard domain == AF_UNIX,
                  type == Int32(SOCK_STREAM.rawValue) || type == Int32(SOCK_SEQPACKET.rawValue) else {
                return .wrongKind
            }
            if try fd.socketOption(SO_ACCEPTCONN) != 0 { return .listening }
            // An unconnected stream socket would only fail at sendmsg, after the TAP was made.
            guard fd.peerAddressLength() != nil else { return .notConnected }
            return nil
        } catch {
            return error.errno.rawValue == EBADF ? .notOpen : .queryFailed(error.errno)
        }
    }

    /// Is `fd` (one of 0-2) possibly the peer socket of a QEMU-style client: an AF_UNIX stream or
    /// seqpacket socket whose peer has no address, as both ends of a socketpair(2) have? A
    /// journald stream on stderr has a named peer and stays.
    public static func looksLikeClientSocket(_ fd: BorrowedDescriptor) -> Bool {
        do throws(SystemError) {
            guard (try fd.status().st_mode & S_IFMT) == S_IFSOCK, try fd.socketOption(SO_DOMAIN) == AF_UNIX else {
                return false
            }
            let type = try fd.socketOption(SO_TYPE)
            guard type == Int32(SOCK_STREAM.rawValue) || type == Int32(SOCK_SEQPACKET.rawValue) else { return false }
        } catch {
            return false
        }
        // sa_family only (2 bytes): an unnamed peer. Not connected at all: not a peer either.
        return fd.peerAddressLength() == socklen_t(MemoryLayout<sa_family_t>.size)
    }

    public enum SendError: Error, Equatable, Sendable {
        /// SO_SNDTIMEO could not be set: the hang guard would be missing, so nothing is sent.
        case timeoutNotSet(Errno)
        case sendFailed(Errno)
    }

    /// Sends the TAP descriptor with one data byte (0x00). MSG_NOSIGNAL, and a send timeout so a
    /// peer that stopped reading cannot hold the helper (and the TAP) forever.
    public static func send(_ tap: borrowing FileDescriptor, over socket: BorrowedDescriptor,
                            timeoutSeconds: Int = 5) throws(SendError) {
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        guard setsockopt(socket.rawValue, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size)) == 0 else {
            throw .timeoutNotSet(.current)
        }
        guard bk_send_fd(socket.rawValue, tap.rawValue) == 0 else { throw .sendFailed(.current) }
    }
}
