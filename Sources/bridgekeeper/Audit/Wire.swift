import BridgeACL

/// The bytes that pass between `bridgekeeper` and its evaluator child (`__evaluate`) and between
/// the evaluator and its per-user workers. Both ends are this program, built together, so the
/// format is private: little-endian integers, length-prefixed byte strings, no versioning.
struct WireWriter {
    private(set) var bytes: [UInt8] = []

    mutating func u8(_ value: UInt8) { bytes.append(value) }

    mutating func u32(_ value: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }

    mutating func u64(_ value: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    mutating func data(_ value: some Collection<UInt8>) {
        u32(UInt32(value.count))
        bytes += value
    }

    mutating func string(_ value: String) { data(Array(value.utf8)) }
}

/// Reads what `WireWriter` wrote; any short or malformed input is `WireError`.
struct WireReader {
    let bytes: [UInt8]
    private(set) var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { offset == bytes.count }

    mutating func u8() throws(WireError) -> UInt8 {
        guard offset < bytes.count else { throw WireError() }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u32() throws(WireError) -> UInt32 {
        guard bytes.count - offset >= 4 else { throw WireError() }
        var value: UInt32 = 0
        for index in 0..<4 { value |= UInt32(bytes[offset + index]) << UInt32(8 * index) }
        offset += 4
        return value
    }

    mutating func u64() throws(WireError) -> UInt64 {
        guard bytes.count - offset >= 8 else { throw WireError() }
        var value: UInt64 = 0
        for index in 0..<8 { value |= UInt64(bytes[offset + index]) << UInt64(8 * index) }
        offset += 8
        return value
    }

    mutating func data() throws(WireError) -> [UInt8] {
        let count = Int(try u32())
        guard bytes.count - offset >= count else { throw WireError() }
        defer { offset += count }
        return Array(bytes[offset..<(offset + count)])
    }

    mutating func string() throws(WireError) -> String { String(decoding: try data(), as: UTF8.self) }
}

struct WireError: Error {}

/// One `ACLFileSource.load` call of a walk and what it returned, in call order.
struct LoadRecord: Equatable, Sendable {
    let path: [UInt8]
    let result: ACLFileLoad
}

/// A drop-in directory's listing travels as a record too: its path ends with `/` (no file load's
/// does), and `.contents` holds the listed names, each ended by a NUL (a name has no NUL byte).
/// So the wire format and the file reports stay as they are (a listed directory shows as read).
extension LoadRecord {
    static func listing(_ path: [UInt8], _ result: ACLDirectoryLoad) -> LoadRecord {
        switch result {
        case .names(let names):
            return LoadRecord(path: path, result: .contents(names.flatMap { $0 + [0] }, identity: FileIdentity(device: 0, inode: 0)))
        case .unavailable:
            return LoadRecord(path: path, result: .unavailable)
        case .refused(let problem):
            return LoadRecord(path: path, result: .refused(problem))
        }
    }

    /// The listing this record holds; nil if it is a file load.
    var listing: ACLDirectoryLoad? {
        guard path.last == UInt8(ascii: "/") else { return nil }
        switch result {
        case .contents(let bytes, _): return .names(bytes.split(separator: 0, omittingEmptySubsequences: true).map { Array($0) })
        case .unavailable: return .unavailable
        case .refused(let problem): return .refused(problem)
        }
    }
}

/// What evaluating the ACL as one user produced.
enum WalkResult: Equatable, Sendable {
    /// Every load of the walk, in order: replaying them through `PolicyLoader` yields the same
    /// `Policy` or `PolicyError` the walk did (the loader is deterministic in what it is given).
    case loads([LoadRecord])
    /// The evaluation itself failed (the privilege drop, a crashed worker); the message says how.
    case failed(String)
}

extension WalkResult {
    func encode(into writer: inout WireWriter) {
        switch self {
        case .failed(let message):
            writer.u8(0)
            writer.string(message)
        case .loads(let records):
            writer.u8(1)
            writer.u32(UInt32(records.count))
            for record in records {
                writer.data(record.path)
                switch record.result {
                case .contents(let bytes, let identity):
                    writer.u8(0)
                    writer.data(bytes)
                    writer.u64(identity.device)
                    writer.u64(identity.inode)
                case .unavailable:
                    writer.u8(1)
                case .refused(let problem):
                    // The wording is all the parent needs: replayed as `.other`, it renders the
                    // same line the helper prints.
                    writer.u8(2)
                    writer.string(problem.description)
                }
            }
        }
    }

    static func decode(from reader: inout WireReader) throws(WireError) -> WalkResult {
        switch try reader.u8() {
        case 0:
            return .failed(try reader.string())
        case 1:
            let count = try reader.u32()
            var records: [LoadRecord] = []
            for _ in 0..<count {
                let path = try reader.data()
                switch try reader.u8() {
                case 0:
                    let bytes = try reader.data()
                    let identity = FileIdentity(device: try reader.u64(), inode: try reader.u64())
                    records.append(LoadRecord(path: path, result: .contents(bytes, identity: identity)))
                case 1:
                    records.append(LoadRecord(path: path, result: .unavailable))
                case 2:
                    records.append(LoadRecord(path: path, result: .refused(.other(path, try reader.string()))))
                default:
                    throw WireError()
                }
            }
            return .loads(records)
        default:
            throw WireError()
        }
    }
}

/// Who to evaluate as: the credentials the helper would run with when this user starts it.
struct Identity: Hashable, Sendable {
    let uid: UInt32
    let gid: UInt32
    /// Supplementary groups as the name service lists them (getgrouplist), sorted, no duplicates.
    let groups: [UInt32]
}

/// The evaluator's input: the ACL path and the identities, one walk each.
struct EvaluationRequest: Equatable {
    let acl: [UInt8]
    let identities: [Identity]

    func encoded() -> [UInt8] {
        var writer = WireWriter()
        writer.data(acl)
        writer.u32(UInt32(identities.count))
        for identity in identities {
            writer.u32(identity.uid)
            writer.u32(identity.gid)
            writer.u32(UInt32(identity.groups.count))
            for group in identity.groups { writer.u32(group) }
        }
        return writer.bytes
    }

    static func decode(_ bytes: [UInt8]) throws(WireError) -> EvaluationRequest {
        var reader = WireReader(bytes)
        let acl = try reader.data()
        var identities: [Identity] = []
        for _ in 0..<(try reader.u32()) {
            let uid = try reader.u32(), gid = try reader.u32()
            var groups: [UInt32] = []
            for _ in 0..<(try reader.u32()) { groups.append(try reader.u32()) }
            identities.append(Identity(uid: uid, gid: gid, groups: groups))
        }
        guard reader.atEnd else { throw WireError() }
        return EvaluationRequest(acl: acl, identities: identities)
    }
}
