// The facts `bridgekeeper doctor` judges, as plain values. The CLI's system layer reads them
// from /sys, /proc, /dev, rtnetlink and nft/iptables; the unit tests write them by hand.
// Names are already escaped for display (`Escaping.escape`): the checks only quote them.

/// A fact that may be out of reach for the user running the doctor.
public enum Probe<Value: Equatable & Sendable>: Equatable, Sendable {
    case value(Value)
    /// Not readable without root: the text says what could not be read (e.g. "nft list ruleset").
    case needsRoot(String)
    /// Could not be read for another reason (the text says why).
    case failed(String)
}

/// `stat` of a path (following symbolic links, as execve and open do).
public struct FileFacts: Equatable, Sendable {
    /// The whole st_mode (type and permission bits).
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    /// st_rdev's major and minor for device nodes.
    public var major: UInt32
    public var minor: UInt32

    public init(mode: UInt32, uid: UInt32 = 0, gid: UInt32 = 0, major: UInt32 = 0, minor: UInt32 = 0) {
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.major = major
        self.minor = minor
    }

    public var permissions: UInt32 { mode & 0o7777 }
    public var isCharacterDevice: Bool { mode & 0o170000 == 0o020000 }
    public var isRegular: Bool { mode & 0o170000 == 0o100000 }
    public var isSymbolicLink: Bool { mode & 0o170000 == 0o120000 }
    /// `0644`, `4755`: four octal digits.
    public var octal: String {
        let digits = String(permissions, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}

/// The tun driver and its node.
public struct TunFacts: Equatable, Sendable {
    /// /sys/class/misc/tun exists: the driver is registered (built in or loaded).
    public var driverPresent: Bool
    /// /dev/net/tun, nil when it does not exist.
    public var node: FileFacts?

    public init(driverPresent: Bool, node: FileFacts?) {
        self.driverPresent = driverPresent
        self.node = node
    }
}

/// What an installed helper binary is, from its contents.
public enum HelperIdentity: Equatable, Sendable {
    case bridgekeeper
    case stock
    case unknown
}

/// One place where QEMU, libvirt or bridgekeeper's own install puts a bridge helper.
public struct HelperFacts: Equatable, Sendable {
    public var path: String
    /// Who looks there, for the message: "QEMU's default helper" and the like.
    public var role: String
    /// Whether a missing file there is worth a finding (QEMU's compiled-in default is).
    public var expected: Bool
    /// lstat of the path; nil when nothing is there.
    public var file: FileFacts?
    /// `security.capability` grants cap_net_admin, permitted and effective.
    public var fileCapability: Bool
    /// The filesystem holding it is mounted nosuid (which also disables file capabilities).
    public var nosuidMount: Bool
    public var identity: Probe<HelperIdentity>

    public init(path: String, role: String, expected: Bool = false, file: FileFacts?, fileCapability: Bool = false,
                nosuidMount: Bool = false, identity: Probe<HelperIdentity> = .value(.bridgekeeper)) {
        self.path = path
        self.role = role
        self.expected = expected
        self.file = file
        self.fileCapability = fileCapability
        self.nosuidMount = nosuidMount
        self.identity = identity
    }

    /// Setuid and owned by root.
    public var isSetuidRoot: Bool { (file.map { $0.permissions & 0o4000 != 0 && $0.uid == 0 }) ?? false }
}

/// bridge.conf as `bridgekeeper lint` and the helper's loader see it.
public struct ACLFacts: Equatable, Sendable {
    public var path: String
    /// lint's error and warning lines (`FILE:LINE:COLUMN: severity: message`), in lint's order.
    public var errors: [String]
    public var warnings: [String]
    public var filesRead: Int
    /// The rules as loaded for the user running the doctor (nil when the policy could not be
    /// loaded: then `errors` says why).
    public var rules: [RuleFacts]?
    /// The uid the files were read as.
    public var readerUID: UInt32

    public init(path: String, errors: [String] = [], warnings: [String] = [], filesRead: Int = 1,
                rules: [RuleFacts]?, readerUID: UInt32 = 0) {
        self.path = path
        self.errors = errors
        self.warnings = warnings
        self.filesRead = filesRead
        self.rules = rules
        self.readerUID = readerUID
    }
}

/// One rule, as far as the doctor cares.
public struct RuleFacts: Equatable, Sendable {
    public var allow: Bool
    /// nil for `all`.
    public var bridge: String?
    /// `FILE:LINE`.
    public var location: String
    /// The rule applies to every user (no user or group qualifier).
    public var everyone: Bool
    /// The VLAN a rule puts the TAP in (`vlan=`), nil without one.
    public var vlan: UInt16?

    public init(allow: Bool, bridge: String?, location: String, everyone: Bool = true, vlan: UInt16? = nil) {
        self.allow = allow
        self.bridge = bridge
        self.location = location
        self.everyone = everyone
        self.vlan = vlan
    }

    public func matches(_ name: String) -> Bool { bridge == nil || bridge == name }
}

/// A port of a bridge.
public struct PortFacts: Equatable, Sendable {
    public var name: String
    /// A TUN/TAP device (a guest's, or a leftover).
    public var isTap: Bool
    /// /sys/class/net/NAME/wireless or phy80211 exists.
    public var isWireless: Bool
    /// For TAPs: persistent with no holder and no attached descriptor (`TapEntry.isReapable`).
    public var leftover: Bool

    public init(name: String, isTap: Bool = false, isWireless: Bool = false, leftover: Bool = false) {
        self.name = name
        self.isTap = isTap
        self.isWireless = isWireless
        self.leftover = leftover
    }
}

/// One entry of a bridge's forwarding database.
public struct FDBEntry: Equatable, Sendable {
    /// `52:54:00:12:34:56`.
    public var mac: String
    public var port: String
    public var vlan: UInt16?

    public init(mac: String, port: String, vlan: UInt16? = nil) {
        self.mac = mac
        self.port = port
        self.vlan = vlan
    }
}

/// One bridge named on the command line or by bridge.conf.
public struct BridgeFacts: Equatable, Sendable {
    public var name: String
    /// nil: no such device in this network namespace.
    public var link: LinkFacts?

    public init(name: String, link: LinkFacts?) {
        self.name = name
        self.link = link
    }
}

public struct LinkFacts: Equatable, Sendable {
    /// IFLA_INFO_KIND ("bridge", "openvswitch", "veth"...), nil when the device has none.
    public var kind: String?
    /// IFF_UP.
    public var up: Bool
    public var ports: [PortFacts]
    /// /sys/class/net/BR/bridge/stp_state (0 off, 1 kernel STP, 2 user-space STP).
    public var stpState: Int?
    /// bridge/forward_delay in seconds.
    public var forwardDelay: Int?
    /// bridge/vlan_filtering.
    public var vlanFiltering: Bool?
    /// /sys/class/net/BR/addr_assign_type (3: set by the administrator).
    public var addressAssignType: Int?
    public var address: String?
    /// Learnt (non-local) entries, from an RTM_GETNEIGH AF_BRIDGE dump.
    public var fdb: Probe<[FDBEntry]>

    public init(kind: String? = "bridge", up: Bool = true, ports: [PortFacts] = [], stpState: Int? = 0,
                forwardDelay: Int? = 15, vlanFiltering: Bool? = false, addressAssignType: Int? = 3,
                address: String? = "02:00:00:00:00:01", fdb: Probe<[FDBEntry]> = .value([])) {
        self.kind = kind
        self.up = up
        self.ports = ports
        self.stpState = stpState
        self.forwardDelay = forwardDelay
        self.vlanFiltering = vlanFiltering
        self.addressAssignType = addressAssignType
        self.address = address
        self.fdb = fdb
    }
}

/// What would drop bridged traffic in the IPv4 FORWARD path.
public struct ForwardDrop: Equatable, Sendable {
    /// "table inet filter, chain forward" or "iptables FORWARD".
    public var chain: String
    /// The chain's policy is drop (else: a rule in it drops).
    public var policy: Bool
    /// A bridge-family table: drops bridged frames whatever br_netfilter says.
    public var bridgeFamily: Bool

    public init(chain: String, policy: Bool, bridgeFamily: Bool = false) {
        self.chain = chain
        self.policy = policy
        self.bridgeFamily = bridgeFamily
    }
}

/// br_netfilter and the firewall.
public struct NetfilterFacts: Equatable, Sendable {
    /// /proc/sys/net/bridge/bridge-nf-call-iptables: nil when br_netfilter is not loaded.
    public var callIptables: Bool?
    /// The drops found in the rule sets that could be read.
    public var drops: Probe<[ForwardDrop]>

    public init(callIptables: Bool?, drops: Probe<[ForwardDrop]>) {
        self.callIptables = callIptables
        self.drops = drops
    }
}

/// Everything one doctor run looks at.
public struct HostFacts: Equatable, Sendable {
    public var tun: TunFacts
    public var helpers: [HelperFacts]
    public var acl: ACLFacts
    public var bridges: [BridgeFacts]
    /// The bridges were named on the command line (else they come from bridge.conf).
    public var bridgesNamed: Bool
    public var netfilter: NetfilterFacts
    /// Names of wireless interfaces in the namespace (for the uplink's fix).
    public var wireless: [String]

    public init(tun: TunFacts, helpers: [HelperFacts], acl: ACLFacts, bridges: [BridgeFacts],
                bridgesNamed: Bool = false, netfilter: NetfilterFacts, wireless: [String] = []) {
        self.tun = tun
        self.helpers = helpers
        self.acl = acl
        self.bridges = bridges
        self.bridgesNamed = bridgesNamed
        self.netfilter = netfilter
        self.wireless = wireless
    }
}
