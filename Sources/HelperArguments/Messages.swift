import BridgeACL

// The lines for the two refusals that come from the command line alone. They live with the
// parser so that the fuzz target checks exactly the text the helper prints.

extension ArgumentError {
    /// The one stderr line for this error.
    public var message: String {
        switch self {
        case .noProgramName: return "\(HelperCommandLine.programName): called without argv[0]; refusing"
        case .usage: return HelperCommandLine.usageLine
        case .badDescriptor(let value):
            return "invalid --fd value '\(Escaping.escape(value, limit: 64))': expected a decimal descriptor number 0..2147483647"
        }
    }
}

extension HelperCommandLine {
    /// The CVE-2019-13164 check: `--br=` must be a valid interface name as it is, never truncated.
    public static func bridgeName(_ bytes: [UInt8]) -> Result<InterfaceName, BridgeNameError> {
        do {
            return .success(try InterfaceName(validating: bytes))
        } catch {
            return .failure(BridgeNameError(bytes: bytes, problem: error))
        }
    }
}

/// `--br=` is not a valid interface name.
public struct BridgeNameError: Error, Equatable, Sendable {
    public let bytes: [UInt8]
    public let problem: InterfaceName.Problem

    public var message: String { "bridge name '\(Escaping.escape(bytes, limit: 64))' \(problem.explanation)" }
}
