// TAP bookkeeping: which bridge a held TAP is on, and waiting until closed TAPs are gone.
import CBridgeShims
import Glibc

/// The interface name behind a TAP descriptor (TUNGETIFF, allowed for the holder).
func tapName(_ fd: Int32) -> String? {
    var name = [CChar](repeating: 0, count: Int(bk_ifnamsiz))
    var flags: UInt32 = 0
    guard bk_tun_get_iff(fd, &name, &flags) == 0 else { return nil }
    return String(decoding: name.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// The bridge an interface is a port of ("-" if none), from sysfs (mounted for this namespace).
func masterOf(_ name: String) -> String {
    var link = [CChar](repeating: 0, count: 4096)
    let n = readlink("/sys/class/net/\(name)/master", &link, link.count - 1)
    guard n > 0 else { return "-" }
    let path = String(decoding: link.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return path.split(separator: "/").last.map(String.init) ?? "-"
}

/// How many ports the bridge has now.
func portCount(_ bridge: String) -> Int {
    guard let dir = opendir("/sys/class/net/\(bridge)/brif") else { return -1 }
    defer { closedir(dir) }
    var count = 0
    while let entry = readdir(dir) {
        let name = withUnsafePointer(to: entry.pointee.d_name) {
            $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
        }
        if name != "." && name != ".." { count += 1 }
    }
    return count
}

/// What happened to a batch of held TAPs.
struct Teardown {
    var notOnBridge: [String] = []
    var goneSeconds = 0.0
    var leftOver: [String] = []
}

/// Checks every held TAP is a port of `bridge`, closes them all, and waits (up to 120 s) until
/// the kernel has removed every one of them and the bridge has no port left.
func checkCloseAndWait(_ fds: [Int32], bridge: String) -> Teardown {
    var result = Teardown()
    var names: [String] = []
    for fd in fds {
        guard let name = tapName(fd) else { result.notOnBridge.append("fd \(fd): TUNGETIFF failed"); continue }
        names.append(name)
        let master = masterOf(name)
        if master != bridge { result.notOnBridge.append("\(name) (master \(master))") }
    }
    let start = now()
    for fd in fds { close(fd) }
    let closed = now()
    while true {
        let remaining = names.filter { if_nametoindex($0) != 0 }
        let ports = portCount(bridge)
        if remaining.isEmpty && ports <= 0 { break }
        if Double(now() - closed) / 1e9 > 120 {
            result.leftOver = remaining + (ports > 0 ? ["\(ports) port(s) still on \(bridge)"] : [])
            break
        }
        sleepSeconds(0.01)
    }
    result.goneSeconds = Double(now() - start) / 1e9
    return result
}
