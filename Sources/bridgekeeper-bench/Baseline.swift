// The "bare kernel work" baseline (root, in-process), kept in its own file so that it can be
// pointed at the product's own TAP set-up without touching the rest of the bench.
import BridgeSystem
import CBridgeShims
import Glibc

/// What the helpers do in the kernel for one TAP, without exec, ACL or privilege work:
/// open /dev/net/tun, TUNGETFEATURES, TUNSETIFF tap%d (TAP|NO_PI|VNET_HDR), copy the bridge MTU,
/// MAC first byte 0xfe, SIOCBRADDIF, IFF_UP. Returns the TAP descriptor.
func bareKernelWork(bridge: [UInt8]) -> Int32? {
    let tun = bk_open("/dev/net/tun", O_RDWR | O_CLOEXEC)
    guard tun >= 0 else { return nil }
    var features: UInt32 = 0
    _ = bk_tun_get_features(tun, &features)
    var flags = bk_iff_tap | bk_iff_no_pi
    if features & bk_iff_vnet_hdr != 0 { flags |= bk_iff_vnet_hdr }
    var name = [CChar](repeating: 0, count: Int(bk_ifnamsiz))
    let pattern = "tap%d"
    let sock = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    defer { if sock >= 0 { close(sock) } }
    var mtu: Int32 = 0, index: Int32 = 0, ifFlags: UInt32 = 0
    var mac = [UInt8](repeating: 0, count: 6)
    guard sock >= 0, bk_tun_set_iff(tun, pattern, pattern.utf8.count, flags, &name) == 0 else { close(tun); return nil }
    let tap = name.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }
    guard bk_if_get_mtu(sock, bridge, bridge.count, &mtu) == 0,
          bk_if_set_mtu(sock, tap, tap.count, mtu) == 0,
          bk_if_get_hwaddr(sock, tap, tap.count, &mac) == 0 else { close(tun); return nil }
    mac[0] = 0xFE
    guard bk_if_set_hwaddr(sock, tap, tap.count, mac) == 0,
          bk_if_index(sock, tap, tap.count, &index) == 0,
          bk_bridge_add_port(sock, bridge, bridge.count, index) == 0,
          bk_if_get_flags(sock, tap, tap.count, &ifFlags) == 0,
          bk_if_set_flags(sock, tap, tap.count, ifFlags | bk_iff_up) == 0 else { close(tun); return nil }
    return tun
}

func runBaseline(_ options: Options) -> Int32 {
    guard getuid() == 0 else { fail("--baseline needs root (it creates TAPs in-process)") }
    guard let out = options.out else { fail("--baseline needs --out FILE") }
    let bridge = Array(options.bridge.utf8)
    var all: [UInt64] = []
    var allCPU: [UInt64] = []
    var failed = 0
    for round in 0..<options.rounds {
        var fds: [Int32] = []
        var samples: [UInt64] = []
        for _ in 0..<options.calls {
            let start = now(), startCPU = threadCPU()
            let fd = bareKernelWork(bridge: bridge)
            samples.append(now() - start)
            allCPU.append(threadCPU() - startCPU)
            if let fd { fds.append(fd) } else { failed += 1; progress("kernel work failed: \(Errno.current)") }
        }
        let teardown = checkCloseAndWait(fds, bridge: options.bridge)
        failed += teardown.notOnBridge.count + teardown.leftOver.count
        progress("kernel work, series \(round + 1): p50 \(ms(Stats(samples)?.p50 ?? .nan)) ms; removed in \(fixed(teardown.goneSeconds, 2)) s")
        all += samples
        sleepSeconds(options.pause)
    }
    let text = zip(all, allCPU).map { "\($0) \($1)" }.joined(separator: "\n") + "\n"
    let fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { fail("cannot write \(out): \(Errno.current)") }
    _ = text.utf8CString.withUnsafeBytes { write(fd, $0.baseAddress, $0.count - 1) }
    close(fd)
    return failed == 0 ? 0 : 1
}
