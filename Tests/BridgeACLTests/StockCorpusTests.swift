import BridgeACL
import Testing

/// BridgeACL against Tests/Corpus/stock-decisions.txt, the corpus t-differential.sh also runs
/// through the real stock helper. Checked here: every request naming a bridge whose outcome
/// BridgeACL decides (allowed, not allowed, denied by a rule, or a load error); the file's
/// header says which requests only the privileged test can check.
@Suite("Stock corpus")
struct StockCorpusTests {
    /// t-differential's caller, and what its name service says.
    static let nobody = CallerIdentity(uid: 65534, groups: [65534])
    static func names() -> TableNames { TableNames(["user:root": 0, "user:nobody": 65534, "group:root": 0, "group:nogroup": 65534]) }

    @Test(arguments: StockCorpus.cases)
    func bridgekeeperDecidesAsTheCorpusSays(_ testCase: StockCase) throws {
        guard !testCase.needsRealReader else { return }
        let tree = MemoryACLTree()
        for file in testCase.files where !testCase.unreadable.contains(file.path) {
            tree.add(file.path, contents: file.contents)
        }
        let loaded = loadPolicy(tree)
        let top = bytes(topLevelPath)
        for request in testCase.requests {
            guard let bridge = request.bridge else { continue }
            let context = "line \(request.line): \(bridge)"
            switch (request.ours, loaded) {
            case (.refused(let text), .failure(let error)) where text.hasPrefix("access denied by acl file: "):
                #expect(ACLMessages.refusal(error) == text, "\(context)")
            case (.refused(let text), _) where !text.hasPrefix("access denied by acl file: "):
                continue  // decided outside BridgeACL (names, bridges, devices, arguments)
            case (.refusedMatching, _):
                continue
            case (_, .failure(let error)):
                Issue.record("\(context): expected \(request.ours), got the load error \(error)")
            case (let expected, .success(let policy)):
                let interface = try name(bridge)
                let decision = policy.decide(device: DeviceNames(unresolved: interface), caller: Self.nobody,
                                             resolver: Self.names()).decision
                switch expected {
                case .allowed:
                    #expect(decision.isAllowed, "\(context): expected allowed, got \(decision)")
                case .notAllowed:
                    #expect(decision == .notAllowed, "\(context)")
                    #expect(ACLMessages.refusal(decision, bridge: interface, topLevel: top)
                            == "access denied by acl file: no rule in /etc/qemu/bridge.conf or its includes allows bridge '\(bridge)'; an administrator can add 'allow \(bridge)'")
                case .denied(let location, let rule):
                    #expect(ACLMessages.refusal(decision, bridge: interface, topLevel: top)
                            == "access denied by acl file: \(location): '\(rule)' refuses bridge '\(bridge)'", "\(context)")
                case .refused(let text):
                    Issue.record("\(context): expected the refusal '\(text)', got \(decision)")
                case .refusedMatching:
                    continue
                }
            }
        }
    }

    /// The corpus itself: it parses, every case asks something, names are unique, and every
    /// divergence is a request (t-differential checks what stock does instead).
    @Test func corpusParses() {
        #expect(StockCorpus.loaded.problems == [])
        #expect(!StockCorpus.cases.isEmpty, "no cases in \(StockCorpus.path)")
        let names = StockCorpus.cases.map(\.name)
        #expect(Set(names).count == names.count, "case names are unique")
        #expect(StockCorpus.cases.filter { $0.requests.isEmpty }.map(\.name) == [])
    }

    /// The escapes the corpus uses, decoded as t-differential's printf %b (plus \*N:C) decodes them.
    @Test func escapes() {
        #expect(StockCorpus.unescape("a\\tb\\r\\n\\\\\\0 x") == bytes("a\tb\r\n\\") + [0] + bytes(" x"))
        #expect(StockCorpus.unescape("#\\*3:xy") == bytes("#xxxy"))
        #expect(StockCorpus.unescape("bad \\q") == nil)
    }
}
