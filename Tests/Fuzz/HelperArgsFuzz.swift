// libFuzzer target helper-args: HelperCommandLine.parse on an argv decoded from the input.
// Compiled in one module with the whole HelperArguments module (Sources/HelperArguments), so its
// internal helpers are reachable.
//
// Input: argv elements, each terminated by a NUL byte (a final element without NUL counts too);
// the empty input is argc == 0.
//
// Invariants (each violation traps):
// - parsing never crashes and equals an independent reference parser;
// - a parsed --fd is in 0...Int32.max and is the value of the last --fd=;
// - the parsed bridge is the value of the last --br= (bytes, untouched);
// - ArgumentError.message and the bridge-name refusal are one line of printable ASCII, and the
//   name check accepts exactly the kernel's valid names, unchanged (never truncated).
import BridgeACL

@_cdecl("LLVMFuzzerTestOneInput")
public func helperArgsFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    HelperArgsFuzz.run(fuzzInput(data, size))
    return 0
}

enum HelperArgsFuzz {
    static func argv(_ input: [UInt8]) -> [[UInt8]] {
        guard !input.isEmpty else { return [] }
        var elements = input.split(separator: 0, omittingEmptySubsequences: false).map(Array.init)
        if input.last == 0 { elements.removeLast() }
        return elements
    }

    enum Outcome: Equatable {
        case attach(vnet: Bool, bridge: [UInt8], fd: Int32)
        case help, version
        case noProgramName, usage
        case badDescriptor([UInt8])
    }

    static func outcome(_ result: Result<HelperCommand, ArgumentError>) -> Outcome {
        switch result {
        case .success(.attach(let arguments)):
            return .attach(vnet: arguments.useVirtioNetHeader, bridge: arguments.bridge, fd: arguments.socket)
        case .success(.help): return .help
        case .success(.version): return .version
        case .failure(.noProgramName): return .noProgramName
        case .failure(.usage): return .usage
        case .failure(.badDescriptor(let value)): return .badDescriptor(value)
        }
    }

    /// The contract, from the helper's usage and the issue: options in any order, repeatable, the
    /// last --br=/--fd= wins; --help/--version answer at once; --fd= is plain decimal 0...INT32_MAX
    /// (leading zeros allowed); at most 64 options of at most 8192 bytes; anything else is usage.
    /// No argv, or an empty argv[0] (Linux >= 5.18 delivers argc == 0 as {""}), is refused first.
    static func reference(_ argv: [[UInt8]]) -> Outcome {
        if argv.isEmpty || argv[0].isEmpty { return .noProgramName }
        if argv.count - 1 > 64 { return .usage }
        var vnet = false
        var bridge: [UInt8]?
        var fd: Int32?
        for argument in argv[1...] {
            if argument.count > 8192 { return .usage }
            let text = String(decoding: argument, as: UTF8.self)
            let ascii = argument.allSatisfy { $0 < 0x80 }
            if ascii && text == "--use-vnet" { vnet = true; continue }
            if ascii && text == "--help" { return .help }
            if ascii && text == "--version" { return .version }
            let head = argument.prefix(5)
            let value = Array(argument.dropFirst(5))
            if head.elementsEqual(utf8("--br=")) {
                bridge = value
            } else if head.elementsEqual(utf8("--fd=")) {
                let digitsOnly = !value.isEmpty && value.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
                guard digitsOnly, let number = Int32(String(decoding: value, as: UTF8.self)) else {
                    return .badDescriptor(value)
                }
                fd = number
            } else {
                return .usage
            }
        }
        guard let bridge, let fd else { return .usage }
        return .attach(vnet: vnet, bridge: bridge, fd: fd)
    }

    static func run(_ input: [UInt8]) {
        let argv = argv(input)
        let result = HelperCommandLine.parse(argv)
        let actual = outcome(result)
        let expected = reference(argv)
        check(actual == expected, "parse gave \(describe(actual)), the reference \(describe(expected))")
        check(outcome(HelperCommandLine.parse(argv)) == actual, "parsing the same argv twice differs")

        switch result {
        case .success(.attach(let arguments)):
            check(arguments.socket >= 0, "--fd parsed to \(arguments.socket)")
            let lastBridge = argv.dropFirst().last(where: { $0.starts(with: utf8("--br=")) })
            check(lastBridge.map { Array($0.dropFirst(5)) } == arguments.bridge, "the bridge is not the last --br= value")
            let lastFD = argv.dropFirst().last(where: { $0.starts(with: utf8("--fd=")) })
            let written = lastFD.map { Array($0.dropFirst(5)) } ?? []
            check(Int32(String(decoding: written, as: UTF8.self)) == arguments.socket, "--fd is not the last --fd= value")
            checkBridgeName(arguments.bridge)
        case .success(.help), .success(.version):
            break
        case .failure(let error):
            let message = error.message
            checkSafeLine(message, "argument error message")
            check(!message.isEmpty, "empty argument error message")
        }
    }

    /// The CVE-2019-13164 check: valid names pass unchanged, anything else is refused with one line.
    static func checkBridgeName(_ bytes: [UInt8]) {
        switch HelperCommandLine.bridgeName(bytes) {
        case .success(let name):
            check(name.bytes == bytes, "the bridge name was changed from '\(shown(bytes))' to '\(shown(name.bytes))'")
            check(referenceIsValidInterfaceName(bytes), "the invalid bridge name '\(shown(bytes))' was accepted")
        case .failure(let error):
            check(!referenceIsValidInterfaceName(bytes), "the valid bridge name '\(shown(bytes))' was refused: \(error)")
            checkSafeLine(error.message, "bridge name refusal")
        }
    }

    static func describe(_ outcome: Outcome) -> String {
        switch outcome {
        case .attach(let vnet, let bridge, let fd): return "attach(vnet: \(vnet), br: '\(shown(bridge.prefix(64)))', fd: \(fd))"
        case .badDescriptor(let value): return "badDescriptor('\(shown(value.prefix(64)))')"
        default: return "\(outcome)"
        }
    }
}
