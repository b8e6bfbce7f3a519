/// The differential corpus: ordinary ACL files that the stock qemu-bridge-helper (QEMU 7.2) reads
/// the same way as bridgekeeper, and the stock decision for each requested bridge, written out
/// by hand from the stock rules: a bridge is allowed iff some `allow` rule matches it (`allow all`
/// matches everything) and no `deny` rule does (deny wins regardless of order; default deny).
/// An include that does not exist is skipped.
///
/// Plain strings only (no BridgeACL types), so a privileged integration test can install the
/// same files under /etc/qemu and run the real stock helper and bridgekeeper against them.
/// Only stock-compatible syntax appears here: no tabs directly after a keyword, no inline
/// comments, no qualifiers, no line over 4095 bytes (see contract.md §5 for the divergences).
public struct StockCase: Sendable, CustomStringConvertible {
    /// A short name for reports.
    public let name: String
    /// The contents of /etc/qemu/bridge.conf.
    public let topLevel: String
    /// Other files, by absolute path. An include naming a path not listed here does not exist.
    public let includes: [String: String]
    /// Bridges the stock helper allows with these files.
    public let allowed: [String]
    /// Bridges the stock helper refuses with "access denied by acl file".
    public let denied: [String]

    public init(_ name: String, _ topLevel: String, includes: [String: String] = [:],
                allowed: [String], denied: [String]) {
        self.name = name
        self.topLevel = topLevel
        self.includes = includes
        self.allowed = allowed
        self.denied = denied
    }

    public var description: String { name }
}

public enum StockCorpus {
    public static let topLevelPath = "/etc/qemu/bridge.conf"

    public static let cases: [StockCase] = [
        StockCase("empty file", "",
                  allowed: [], denied: ["br0", "all"]),
        StockCase("comments and blank lines only", "# bridges\n\n   # indented comment\n\t# tab comment\n\n",
                  allowed: [], denied: ["br0"]),
        StockCase("one allow", "allow br0\n",
                  allowed: ["br0"], denied: ["br1", "BR0", "br00", "br", "all"]),
        StockCase("libvirt default bridge", "allow virbr0\n",
                  allowed: ["virbr0"], denied: ["virbr1", "br0"]),
        StockCase("allow all", "allow all\n",
                  allowed: ["br0", "br1", "virbr0", "ALL", "all", "abcdefghijklmno"], denied: []),
        StockCase("allow all, deny one", "allow all\ndeny br1\n",
                  allowed: ["br0", "br2"], denied: ["br1"]),
        StockCase("deny one, allow all", "deny br1\nallow all\n",
                  allowed: ["br0", "br2"], denied: ["br1"]),
        StockCase("deny all, allow one", "deny all\nallow br0\n",
                  allowed: [], denied: ["br0", "br1"]),
        StockCase("allow one, deny all", "allow br0\ndeny all\n",
                  allowed: [], denied: ["br0", "br1"]),
        StockCase("deny only", "deny br0\n",
                  allowed: [], denied: ["br0", "br1"]),
        StockCase("two allows", "allow br0\nallow br1\n",
                  allowed: ["br0", "br1"], denied: ["br2"]),
        StockCase("repeated allows and a deny", "allow br0\nallow br0\ndeny br0\nallow br1\n",
                  allowed: ["br1"], denied: ["br0"]),
        StockCase("ALL is a bridge name", "allow ALL\n",
                  allowed: ["ALL"], denied: ["br0", "all", "All"]),
        StockCase("deny ALL does not deny everything", "allow all\ndeny ALL\n",
                  allowed: ["br0", "all"], denied: ["ALL"]),
        StockCase("keywords are case-sensitive in names too", "allow Br0\n",
                  allowed: ["Br0"], denied: ["br0", "BR0"]),
        StockCase("CRLF line ends", "allow br0\r\ndeny br1\r\nallow br2\r\n",
                  allowed: ["br0", "br2"], denied: ["br1"]),
        StockCase("surrounding whitespace", "   allow br0   \n\tdeny br1\t\n  allow br2\n",
                  allowed: ["br0", "br2"], denied: ["br1"]),
        StockCase("several spaces after the keyword", "allow    br0\n",
                  allowed: ["br0"], denied: ["br1"]),
        StockCase("comments that look like rules", "#allow br1\n# deny br0\nallow br0\n",
                  allowed: ["br0"], denied: ["br1"]),
        StockCase("names with punctuation", "allow virbr0-nic\nallow br.100\nallow br_lan\nallow br0@x\n",
                  allowed: ["virbr0-nic", "br.100", "br_lan", "br0@x"], denied: ["virbr0", "br"]),
        StockCase("15-byte name", "allow abcdefghijklmno\n",
                  allowed: ["abcdefghijklmno"], denied: ["abcdefghijklmn", "abcdefghijklm"]),
        StockCase("no final newline", "allow br0",
                  allowed: ["br0"], denied: ["br1"]),
        StockCase("include adds and denies", "allow br0\ninclude /etc/qemu/users.conf\n",
                  includes: ["/etc/qemu/users.conf": "allow br1\ndeny br0\n"],
                  allowed: ["br1"], denied: ["br0", "br2"]),
        StockCase("missing include is skipped", "include /etc/qemu/missing.conf\nallow br0\n",
                  allowed: ["br0"], denied: ["br1"]),
        StockCase("per-user include the caller cannot read", "allow br0\ninclude /etc/qemu/alice.conf\n",
                  allowed: ["br0"], denied: ["br1"]),
        StockCase("nested includes", "include /etc/qemu/a.conf\nallow br2\n",
                  includes: ["/etc/qemu/a.conf": "include /etc/qemu/b.conf\nallow br0\n",
                             "/etc/qemu/b.conf": "deny br0\nallow br1\n"],
                  allowed: ["br1", "br2"], denied: ["br0", "br3"]),
        StockCase("deny all in an include overrides allow all", "allow all\ninclude /etc/qemu/lockdown.conf\n",
                  includes: ["/etc/qemu/lockdown.conf": "deny all\n"],
                  allowed: [], denied: ["br0", "all"]),
        StockCase("allow all in an include", "deny br1\ninclude /etc/qemu/open.conf\n",
                  includes: ["/etc/qemu/open.conf": "# everything else\nallow all\n"],
                  allowed: ["br0", "br2"], denied: ["br1"]),
        StockCase("same include twice", "include /etc/qemu/common.conf\ninclude /etc/qemu/common.conf\n",
                  includes: ["/etc/qemu/common.conf": "allow br0\n"],
                  allowed: ["br0"], denied: ["br1"]),
        StockCase("diamond includes", "include /etc/qemu/b.conf\ninclude /etc/qemu/c.conf\n",
                  includes: ["/etc/qemu/b.conf": "include /etc/qemu/d.conf\nallow br1\n",
                             "/etc/qemu/c.conf": "include /etc/qemu/d.conf\ndeny br1\n",
                             "/etc/qemu/d.conf": "allow br0\n"],
                  allowed: ["br0"], denied: ["br1", "br2"]),
        StockCase("include with surrounding whitespace", "  include /etc/qemu/lab.conf  \r\n",
                  includes: ["/etc/qemu/lab.conf": "allow lab0\n"],
                  allowed: ["lab0"], denied: ["br0"]),
    ]
}
