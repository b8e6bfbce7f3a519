// The "bare kernel work" baseline (root, in-process), kept in its own file so that it can be
// pointed at the product's own TAP set-up without touching the rest of the bench.
import BridgeACL
import BridgeHelper
import BridgeSystem
import Glibc

/// What the helper does in the kernel for one TAP, without exec, ACL or privilege work: the
/// product's own code (`TunControl.open` and `LinuxPlatform.configureTap`: TUNSETIFF tap%d with
/// TAP|NO_PI|VNET_HDR, TUNSETOWNER, the bridge MTU, MAC first byte 0xfe, the mark (interface
/// alias) and its read-back, attach by index over rtnetlink and its read-back, IFF_UP). The bridge is resolved once, as the helper resolves it.
/// Returns the TAP descriptor.
func bareKernelWork(bridge: NetworkDevice, mtu: UInt32) -> Int32? {
    let control: TunControl
    do { control = try TunControl.open() } catch { return nil }
    do {
        let configured = try LinuxPlatform.configureTap(control, bridge: bridge, mtu: mtu, virtioNetHeader: true, owner: 0,
                                                        mark: TapMark(uid: 0, path: Array("/etc/qemu/bridge.conf".utf8), line: 1).rendered)
        return configured.releaseDescriptor()
    } catch {
        progress("kernel work failed: \(error.message)")
        return nil
    }
}

/// The bridge as the helper sees it (rtnetlink, any name).
func resolvedBridge(_ name: String) -> (NetworkDevice, UInt32)? {
    do {
        guard let link = try RouteNetlink().link(named: Array(name.utf8)), let mtu = link.mtu,
              link.kind == Array("bridge".utf8) else { return nil }
        let canonical = try InterfaceName(validating: link.name)
        return (NetworkDevice(index: link.index, canonicalName: canonical, alternativeNames: [], kind: .bridge(mtu: mtu)), mtu)
    } catch {
        return nil
    }
}

func runBaseline(_ options: Options) -> Int32 {
    guard getuid() == 0 else { fail("--baseline needs root (it creates TAPs in-process)") }
    guard let out = options.out else { fail("--baseline needs --out FILE") }
    guard let (bridge, mtu) = resolvedBridge(options.bridge) else { fail("--baseline: \(options.bridge) is not a Linux bridge here") }
    var all: [UInt64] = []
    var allCPU: [UInt64] = []
    var failed = 0
    for round in 0..<options.rounds {
        var fds: [Int32] = []
        var samples: [UInt64] = []
        for _ in 0..<options.calls {
            let start = now(), startCPU = threadCPU()
            let fd = bareKernelWork(bridge: bridge, mtu: mtu)
            samples.append(now() - start)
            allCPU.append(threadCPU() - startCPU)
            if let fd { fds.append(fd) } else { failed += 1 }
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
