import BridgeACL
import HelperArguments

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

func repeated(_ character: Character, _ count: Int) -> [UInt8] {
    [UInt8](repeating: character.asciiValue ?? 0, count: count)
}

/// Parses a command line the way main.swift does and returns the arguments for `attach`.
func arguments(_ argv: [[UInt8]]) -> HelperArguments? {
    if case .success(.attach(let parsed)) = HelperCommandLine.parse(argv) { return parsed }
    return nil
}
