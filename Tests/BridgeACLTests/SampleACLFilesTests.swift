import BridgeACL
import Foundation
import Testing

/// Every sample under acl/ must parse: they are what administrators copy.
@Suite("Sample ACL files")
struct SampleACLFilesTests {
    /// The package root, from this file's path: Tests/BridgeACLTests/<this file>.
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let sampleDirectory = packageRoot.appendingPathComponent("acl", isDirectory: true)

    static func sampleFiles() -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: sampleDirectory.path)) ?? []
        return names.filter { $0.hasSuffix(".conf") }.sorted().map { sampleDirectory.appendingPathComponent($0) }
    }

    @Test func everySampleParses() throws {
        let files = Self.sampleFiles()
        if files.isEmpty {
            Issue.record("no sample ACL files were found: expected at least one \(Self.sampleDirectory.path)/*.conf")
            return
        }
        for file in files {
            let contents = try #require(FileManager.default.contents(atPath: file.path),
                                        "cannot read \(file.path)")
            let result = Grammar.parse(Array(contents), path: Array(file.path.utf8))
            if case .failure(let error) = result {
                Issue.record("\(error)")
            }
        }
    }
}
