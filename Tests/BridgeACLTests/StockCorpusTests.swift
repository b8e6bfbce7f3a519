import BridgeACL
import Testing

@Suite("Stock corpus")
struct StockCorpusTests {
    @Test(arguments: StockCorpus.cases)
    func bridgekeeperDecidesLikeStock(_ testCase: StockCase) throws {
        var tree = MemoryACLTree([StockCorpus.topLevelPath: testCase.topLevel])
        for (path, text) in testCase.includes.sorted(by: { $0.key < $1.key }) { tree.add(path, text) }
        let policy = try PolicyLoader.load(path: bytes(StockCorpus.topLevelPath), from: tree).get()
        for bridge in testCase.allowed {
            #expect(policy.decide(bridge: try name(bridge)).isAllowed, "\(bridge) must be allowed")
        }
        for bridge in testCase.denied {
            #expect(!policy.decide(bridge: try name(bridge)).isAllowed, "\(bridge) must be denied")
        }
    }

    @Test func corpusIsConsistent() {
        #expect(StockCorpus.cases.count == 31)
        #expect(Set(StockCorpus.cases.map(\.name)).count == StockCorpus.cases.count, "case names are unique")
        let overlapping = StockCorpus.cases.filter { !Set($0.allowed).isDisjoint(with: $0.denied) }.map(\.name)
        #expect(overlapping == [])
        let empty = StockCorpus.cases.filter { $0.allowed.isEmpty && $0.denied.isEmpty }.map(\.name)
        #expect(empty == [])
    }
}
