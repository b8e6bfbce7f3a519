import BridgeACL
import Testing

/// `Grammar.quickScan`, the loader's fast look at the lines about other bridges, held to the full
/// parser: it may answer only for lines the full parser reads the same way (a comment or blank
/// line, or a valid rule about another bridge), and must hand everything else over.
struct QuickScanTests {
    static let names = [InterfaceName.test("brmgmt"), InterfaceName.test("mgmt")]
    static let location = SourceLocation(path: bytes(topLevelPath), line: 1)

    /// What the full parser says the quick scan may answer for `line`, or nil if it must not.
    static func allowedAnswer(_ line: [UInt8]) -> Grammar.QuickScan? {
        switch Grammar.parseLine(line[...], location: location) {
        case .failure: return nil
        case .success(nil): return .nothing
        case .success(.include(let path, _)?):
            // The range of the path in the line, as the quick scan reports it.
            guard let start = line.firstIndex(of: UInt8(ascii: "/")) else { return nil }
            return .include(start..<(start + path.count))
        case .success(.rule(let rule)?):
            guard case .named(let name) = rule.bridge, !names.contains(name) else { return nil }
            return .droppedRule
        }
    }

    static func check(_ line: [UInt8]) -> Grammar.QuickScan {
        let quick = Grammar.quickScan(line, deviceNames: names)
        if quick != .slow {
            #expect(quick == allowedAnswer(line), "quick scan answered \(quick) for \(Escaping.escape(line))")
        }
        return quick
    }

    @Test(arguments: [
        ("allow br-u00001 user=u00001", Grammar.QuickScan.droppedRule),
        ("deny br1 group=interns uid=5 gid=0", .droppedRule),
        ("allow br1 group=lab max=4 vlan=20 isolated", .droppedRule),
        ("allow br1 max=1023 vlan=4094 uid=4294967294", .droppedRule),
        ("\tallow  br1\t# a comment", .droppedRule),
        ("allow br1\r", .droppedRule),
        ("allow br1 user=u1 # note", .droppedRule),
        ("", .nothing), ("   \t", .nothing), ("# comment", .nothing), ("  # allow mgmt", .nothing), ("\r", .nothing),
        // Kept (the device or all), includes and anything unusual: the full parser's.
        ("allow mgmt", .slow), ("deny brmgmt user=a", .slow), ("allow all", .slow),
        ("include /etc/qemu/x.conf", .include(8..<24)), ("  include\t/etc/qemu/d/ # c\r", .include(10..<22)),
        ("include /", .slow), ("include x.conf", .slow), ("include /a /b", .slow), ("include", .slow), ("include #/a", .slow),
        ("include /a\u{0}", .slow), ("include /a # \u{0}", .slow), ("include /a\u{85}", .slow),
        // Errors: never answered.
        ("allow br1 user=a,a", .slow), ("allow br1 bogus=1", .slow), ("deny br1 max=1", .slow), ("deny br1 isolated", .slow),
        ("allow br1 max=0", .slow), ("allow br1 max=1024", .slow), ("allow br1 vlan=0", .slow), ("allow br1 vlan=4095", .slow),
        ("allow br1 uid=4294967295", .slow), ("allow br1 uid=05", .slow), ("allow br1 user=123", .slow),
        ("allow br1 user=a:b", .slow), ("allow br1 user=", .slow), ("allow br1 user", .slow), ("allow br1 isolated=1", .slow),
        ("allow br1 user=a user=b", .slow), ("allow br1 isolated isolated", .slow), ("allow 0123456789abcdef", .slow),
        ("allow b/r", .slow), ("allow b:r", .slow), ("allow .", .slow), ("allow ..", .slow), ("allow", .slow), ("allow #x", .slow),
        ("Allow br1", .slow), ("allow br1 br2", .slow), ("# comment \u{0}", .slow), ("allow br1 # \u{0}", .slow),
        ("allow br1\u{0B}", .slow), ("allow br\u{E9}", .slow), ("allow br1 user=al\u{7F}", .slow),
    ])
    func table(_ line: String, _ expected: Grammar.QuickScan) {
        #expect(Self.check(bytes(line)) == expected, "\(line)")
    }

    /// Generated lines near the grammar's edges, from a fixed seed: the quick scan never
    /// answers differently from the full parser, and it does answer for most valid lines.
    @Test func generatedLinesAgreeWithTheFullParser() {
        let blanks = [" ", "\t", "  ", " \t"]
        let leads = ["", "", " ", "\t", "\u{0B}", "#"]
        let keywords = ["allow", "deny", "allow", "deny", "include", "Allow", "allo", "#", "", "denyy"]
        let names = ["br0", "br-u05000", "/etc/qemu/u.conf", "/etc/qemu/d/", "/", "//", "/a b", "mgmt", "brmgmt", "all", "ALL", ".", "..", "a/b", "a:b", "0123456789abcde",
                     "0123456789abcdef", "br\u{0}", "br\u{E9}", "#x", "x#", "br=1", "user=a", "/etc/qemu/a.conf", "mgmt2"]
        let qualifiers = ["user=alice", "user=1", "user=1a", "user=a,b", "user=a,a", "user=", "user=a:b", "user=a=b", "user",
                          "group=lab", "group=,", "uid=5", "uid=0", "uid=05", "uid=4294967294", "uid=4294967295", "uid=x",
                          "gid=7", "gid=1,2", "max=1", "max=0", "max=1023", "max=1024", "max=01", "vlan=1", "vlan=4094",
                          "vlan=4095", "isolated", "isolated=1", "bogus=1", "#c", "# c", "User=a", "user=\u{7F}", "user=\u{E9}"]
        let tails = ["", "", "", "\r", " ", "\t", " # c", " #", "\u{0}", "\r\r", "\u{0C}"]
        var rng = SplitMix64(seed: 0x7175_6963_6b00_0001)
        var answered = 0
        var validRules = 0
        for _ in 0..<40_000 {
            var line = leads.randomElement(using: &rng)! + keywords.randomElement(using: &rng)!
            if Int.random(in: 0..<10, using: &rng) > 0 { line += blanks.randomElement(using: &rng)! + names.randomElement(using: &rng)! }
            for _ in 0..<Int.random(in: 0...3, using: &rng) {
                line += blanks.randomElement(using: &rng)! + qualifiers.randomElement(using: &rng)!
            }
            line += tails.randomElement(using: &rng)!
            let lineBytes = bytes(line)
            if Self.check(lineBytes) != .slow { answered += 1 }
            if Self.allowedAnswer(lineBytes) == .droppedRule { validRules += 1 }
        }
        // The scan must actually carry the load it is there for (a scan that always said
        // .slow would pass the agreement above).
        #expect(validRules > 2_000)
        #expect(answered > validRules / 2, "answered \(answered) of \(validRules) valid rules about other bridges")
    }

    /// Random tokens of every length the word-at-a-time scan meets (1 to 24 bytes), from bytes
    /// that matter to it (separators of names, digits, blanks, `#`, unusual bytes), in every
    /// position of a rule.
    @Test func randomTokensAgreeWithTheFullParser() {
        let alphabet: [UInt8] = Array("abz09_-.#/:=,".utf8) + [0x20, 0x09, 0x7E, 0x21, 0x7F, 0x80, 0xFF, 0x00, 0x0D, 0x0B]
        let plain: [UInt8] = Array("abcxyz0123456789_-.".utf8)
        var rng = SplitMix64(seed: 0x7175_6963_6b00_0003)
        func token(_ rare: Bool) -> [UInt8] {
            (0..<Int.random(in: 1...24, using: &rng)).map { _ in
                rare && Int.random(in: 0..<6, using: &rng) == 0 ? alphabet.randomElement(using: &rng)! : plain.randomElement(using: &rng)!
            }
        }
        var answered = 0
        for round in 0..<30_000 {
            let rare = round % 2 == 0
            var line = bytes(["allow ", "deny ", "include /"][round % 3])
            line += token(rare)
            if round % 5 != 0 { line += bytes([" user=", " group=", " uid=", "\tmax=", " vlan="][round % 5]) + token(rare) }
            if round % 7 == 0 { line += bytes(" isolated") }
            if Self.check(line) != .slow { answered += 1 }
        }
        #expect(answered > 3_000, "answered \(answered)")
    }

    /// Every single-byte change of a typical line: no answer the full parser contradicts.
    @Test func everyByteOfATypicalLine() {
        let base = bytes("allow br-u00001 user=u00001 max=2 # x\r")
        for index in base.indices {
            for byte in UInt8.min...UInt8.max {
                var line = base
                line[index] = byte
                _ = Self.check(line)
            }
        }
        #expect(Self.check(base) == .droppedRule)
    }

    /// The loader with and without the device filter: same errors, same rules about the device,
    /// over generated multi-line files (the scan's answers are counted like parsed rules).
    @Test func loaderAgreesWithAFullLoad() {
        let lines = ["allow br1 user=a", "deny br2 uid=1", "allow mgmt", "allow all max=2", "# c", "", "allow br1 user=a,a",
                     "allow brmgmt group=g", "deny all user=b", "allow br3 isolated", "allow br4 vlan=9999", "allow br5\r"]
        let device = DeviceNames(requested: InterfaceName.test("mgmt"), canonical: InterfaceName.test("brmgmt"),
                                 alternatives: [InterfaceName.test("mgmt")])
        var rng = SplitMix64(seed: 0x7175_6963_6b00_0002)
        for _ in 0..<500 {
            let text = (0..<Int.random(in: 1...8, using: &rng)).map { _ in lines.randomElement(using: &rng)! }.joined(separator: "\n")
            let tree = MemoryACLTree([topLevelPath: text])
            var limits = ACLLimits()
            limits.maximumDirectives = Int.random(in: 1...9, using: &rng)
            let full = PolicyLoader.load(path: bytes(topLevelPath), from: tree, limits: limits)
            let partial = PolicyLoader.load(path: bytes(topLevelPath), from: tree, limits: limits, device: device)
            switch (full, partial) {
            case (.failure(let a), .failure(let b)): #expect(a == b, "\(text)")
            case (.success(let a), .success(let b)):
                let aboutDevice = a.rules.filter { rule in
                    if case .named(let name) = rule.bridge { return device.all.contains(name) }
                    return true
                }
                #expect(aboutDevice == b.rules, "\(text)")
            default: Issue.record("one load failed, the other did not: \(text)")
            }
        }
    }
}
