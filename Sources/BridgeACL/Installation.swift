/// Facts fixed at build time that the helper and the CLI share, so both say the same thing.
public enum Installation {
    /// The top-level ACL file. Compiled in: never derived from the executable's location or the
    /// environment (threats #19, #1).
    public static let aclFile: [UInt8] = Array("/etc/qemu/bridge.conf".utf8)
    /// The same path as text, for messages and help.
    public static let aclFileText = "/etc/qemu/bridge.conf"
    /// The version of every bridgekeeper program.
    public static let version = "0.1.0"
}
