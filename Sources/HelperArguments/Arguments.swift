import BridgeACL

/// What the command line asks for.
public enum HelperCommand: Equatable, Sendable {
    case attach(HelperArguments)
    case help
    case version
}

/// `--use-vnet`, `--br=NAME`, `--fd=N` (contract §2). The bridge name is raw bytes here; it is
/// validated as an `InterfaceName` separately so that the message can say exactly what is wrong.
public struct HelperArguments: Equatable, Sendable {
    public var useVirtioNetHeader: Bool
    public var bridge: [UInt8]
    public var socket: Int32

    /// The same request with the socket at another descriptor number.
    public func using(socket: Int32) -> HelperArguments {
        var copy = self
        copy.socket = socket
        return copy
    }
}

public enum ArgumentError: Error, Equatable, Sendable {
    /// argv is empty (argc == 0, or argv[0] is "": the kernel turns an empty argv into {""}),
    /// as in the polkit CVE-2021-4034 attack.
    case noProgramName
    /// Unknown or missing option, or too many/too long arguments: the usage line.
    case usage
    /// `--fd=` is not a plain decimal number in 0...Int32.max.
    case badDescriptor([UInt8])
}

/// A strict, byte-level parser. Unlike the stock helper's `atoi`, `--fd=4junk`, `--fd=`, `--fd=-1`
/// and `--fd=+3` are errors, not 4, 0, -1 and 3. Options may come in any order and repeat (QEMU's
/// `/bin/sh -c` form appends its own); the last `--br=`/`--fd=` wins, as in the stock helper.
public enum HelperCommandLine {
    public static let programName = "bridgekeeper-helper"
    public static let usageLine = "Usage: \(programName) [--use-vnet] --br=bridge --fd=unixfd"
    /// Caps that keep a hostile argv from costing time or memory; real clients pass 3-4 short options.
    public static let maximumArguments = 64
    public static let maximumArgumentLength = 8192

    public static func parse(_ argv: [[UInt8]]) -> Result<HelperCommand, ArgumentError> {
        // Since Linux 5.18 an empty argv arrives as {""}: an empty program name is the same attack.
        guard let program = argv.first, !program.isEmpty else { return .failure(.noProgramName) }
        let options = argv.dropFirst()
        guard options.count <= maximumArguments else { return .failure(.usage) }
        var useVnet = false
        var bridge: [UInt8]?
        var socket: Int32?
        for option in options {
            guard option.count <= maximumArgumentLength else { return .failure(.usage) }
            switch option {
            case Array("--use-vnet".utf8): useVnet = true
            case Array("--help".utf8): return .success(.help)
            case Array("--version".utf8): return .success(.version)
            default:
                if let value = value(of: "--br=", in: option) {
                    bridge = value
                } else if let value = value(of: "--fd=", in: option) {
                    guard let number = parseDescriptor(value) else { return .failure(.badDescriptor(value)) }
                    socket = number
                } else {
                    return .failure(.usage)
                }
            }
        }
        guard let bridge, let socket else { return .failure(.usage) }
        return .success(.attach(HelperArguments(useVirtioNetHeader: useVnet, bridge: bridge, socket: socket)))
    }

    static func value(of prefix: String, in option: [UInt8]) -> [UInt8]? {
        let prefix = Array(prefix.utf8)
        guard option.starts(with: prefix) else { return nil }
        return Array(option.dropFirst(prefix.count))
    }

    /// Plain decimal digits only, 0...Int32.max.
    static func parseDescriptor(_ written: [UInt8]) -> Int32? {
        guard !written.isEmpty else { return nil }
        // Leading zeros are harmless ("007" is 7); the length cap applies to the significant digits.
        let digits = written.drop(while: { $0 == UInt8(ascii: "0") })
        guard digits.count <= 10 else { return nil }
        var value: Int64 = 0
        for digit in digits {
            guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int64(digit - UInt8(ascii: "0"))
        }
        return value <= Int64(Int32.max) ? Int32(value) : nil
    }

    public static let helpText = """
        Usage: \(programName) [--use-vnet] --br=bridge --fd=unixfd

        Creates a TAP device, checks BRIDGE against \(Installation.aclFileText) (and its includes),
        attaches the TAP to the bridge and sends its descriptor over the AF_UNIX socket FD.
        A drop-in replacement for qemu-bridge-helper: QEMU runs it for -netdev bridge and
        -netdev tap,helper=..., libvirt session mode through bridge_helper in qemu.conf.

          --use-vnet   enable the virtio-net header (IFF_VNET_HDR) when the kernel supports it
          --br=NAME    the bridge to attach to (1-15 bytes)
          --fd=N       the socket to send the TAP descriptor over
          --help       this text
          --version    the version

        Install setuid root (chown root, chmod 4755) or with 'setcap cap_net_admin+ep'.

        """

    public static let versionText = "\(programName) \(Installation.version)\n"
}
