import BridgeACL

/// How the stock qemu-bridge-helper (QEMU 7.2, `parse_acl_file`) reads one line, modelled from its
/// source so that lint can say where the same file decides otherwise on a host that still runs it:
/// - skip leading `g_ascii_isspace` bytes (space, \t, \n, \f, \r; not \v); `#` or the end: ignored;
/// - the command ends at the first space of the rest of the line, or at its first tab when there
///   is no space at all (`allow\t br0` is the command `allow\t`); neither: "Invalid config line";
/// - the argument is everything after that byte, `g_ascii_isspace` trimmed on both sides, so
///   `allow br0 # lab` names the bridge `br0 # lab`;
/// - an argument of 16 bytes or more is an error unless the command is `include`;
/// - an error stops the file (for an include, the rules read before it stay).
/// Lines are read with `fgets` into 4096 bytes: a longer line is read as several (checked apart).
enum StockReading: Equatable {
    case ignored
    case invalidLine
    case unknownCommand(command: ArraySlice<UInt8>, column: Int)
    case nameTooLong(argument: ArraySlice<UInt8>, column: Int)
    case rule(RuleAction, argument: ArraySlice<UInt8>, column: Int)
    case include(argument: ArraySlice<UInt8>, column: Int)

    /// The longest line `fgets(line, 4096, f)` returns whole, with its `\n`.
    static let longestLine = 4095

    static func isGlibSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0C || byte == 0x0D
    }

    /// Reads one line (without its `\n`, no NUL: such lines are errors for bridgekeeper anyway).
    init(_ line: ArraySlice<UInt8>) {
        func column(_ index: Int) -> Int { index - line.startIndex + 1 }
        guard let start = line.firstIndex(where: { !Self.isGlibSpace($0) }), line[start] != UInt8(ascii: "#") else {
            self = .ignored
            return
        }
        let rest = line[start...]
        guard let separator = rest.firstIndex(of: 0x20) ?? rest.firstIndex(of: 0x09) else {
            self = .invalidLine
            return
        }
        let command = line[start..<separator]
        var argument = line[(separator + 1)...]
        while let first = argument.first, Self.isGlibSpace(first) { argument = argument.dropFirst() }
        while let last = argument.last, Self.isGlibSpace(last) { argument = argument.dropLast() }
        let isInclude = command.elementsEqual("include".utf8)
        if !isInclude && argument.count > InterfaceName.maximumLength {
            self = .nameTooLong(argument: argument, column: column(argument.startIndex))
        } else if command.elementsEqual("allow".utf8) {
            self = .rule(.allow, argument: argument, column: column(argument.startIndex))
        } else if command.elementsEqual("deny".utf8) {
            self = .rule(.deny, argument: argument, column: column(argument.startIndex))
        } else if isInclude {
            self = .include(argument: argument, column: column(argument.startIndex))
        } else {
            self = .unknownCommand(command: command, column: column(start))
        }
    }

    /// A warning when stock reads `line` otherwise than bridgekeeper's `directive` (nil: a blank
    /// line or a comment); nil when both read the same.
    /// `topLevel`: the line is in the top-level file, where an error makes stock refuse every
    /// request (in an include, stock keeps the rules read before the error).
    static func divergence(line: ArraySlice<UInt8>, directive: Directive?, topLevel: Bool = false) -> (column: Int, message: String)? {
        let stock = StockReading(line)
        let stops = "and stops reading this file there"
        switch (stock, directive) {
        case (.ignored, nil):
            return nil
        case (.rule(let action, let argument, let column), .rule(let rule)) where action == rule.action && !rule.isStock:
            // A qualified rule: stock takes the qualifiers for part of a bridge name with a space,
            // which no device has. Say what that means for who gets which bridge.
            let read = "it reads the bridge name '\(Escaping.escape(Array(argument), limit: 64))', which matches no bridge"
            let at = divergingColumn(argument, rule.bridge.description.utf8, column, in: line)
            if rule.action == .allow {
                return (at, "stock qemu-bridge-helper ignores this allow (\(read)): under stock it grants nothing")
            }
            return (at, "stock qemu-bridge-helper ignores this deny (\(read)): \(grantsWhatWeDeny(rule))")
        case (.rule(let action, let argument, let column), .rule(let rule)) where action == rule.action:
            let ours: [UInt8]
            switch rule.bridge {
            case .all: ours = Array("all".utf8)
            case .named(let name): ours = name.bytes
            }
            if argument.elementsEqual(ours) { return nil }
            let matches = isInterfaceName(argument) ? "" : ", which matches no bridge"
            return (divergingColumn(argument, ours, column, in: line),
                    "stock qemu-bridge-helper reads the bridge name '\(Escaping.escape(Array(argument), limit: 64))'\(matches)")
        case (.include(let argument, let column), .include(let path, _)):
            if argument.elementsEqual(path) { return nil }
            return (divergingColumn(argument, path, column, in: line),
                    "stock qemu-bridge-helper reads the include path '\(Escaping.escape(Array(argument), limit: 256))'")
        case (.ignored, _):
            return (firstColumn(line), "stock qemu-bridge-helper ignores this line")
        case (.invalidLine, _):
            return (firstColumn(line), "stock qemu-bridge-helper reads an invalid line here (no space or tab after the command) \(stops)")
        case (.unknownCommand(let command, let column), _):
            return (column, "stock qemu-bridge-helper reads the unknown command '\(Escaping.escape(Array(command), limit: 64))' \(stops)")
        case (.nameTooLong(let argument, let column), _):
            // Where it parts from bridgekeeper's name (an inline comment) when there is one.
            var at = column
            if case .rule(let rule)? = directive, case .named(let name) = rule.bridge {
                at = divergingColumn(argument, name.bytes, column, in: line)
            }
            var consequence = ""
            if case .rule(let rule)? = directive, !rule.isStock {
                if topLevel {
                    consequence = ": an error in the top-level file, so stock refuses every request"
                } else if rule.action == .allow {
                    consequence = ": under stock this allow grants nothing, nor do the lines after it in this file"
                } else {
                    consequence = ": this deny never applies under stock, \(grantsWhatWeDeny(rule))"
                }
            }
            return (at, "stock qemu-bridge-helper reads the bridge name '\(Escaping.escape(Array(argument), limit: 64))', which is too long (\(argument.count) bytes), \(stops)\(consequence)")
        case (.rule(_, let argument, let column), _), (.include(let argument, let column), _):
            // Stock reads a directive where bridgekeeper reads another one or none (a comment).
            return (column, "stock qemu-bridge-helper reads a rule or include here with the argument '\(Escaping.escape(Array(argument), limit: 64))'")
        }
    }

    /// What ignoring a qualified deny does: stock grants its bridge where another rule allows
    /// it, to callers bridgekeeper refuses.
    static func grantsWhatWeDeny(_ rule: Rule) -> String {
        switch rule.bridge {
        case .all: return "where another rule allows a bridge, stock grants what bridgekeeper denies"
        case .named(let name): return "where another rule allows '\(name)', stock grants what bridgekeeper denies"
        }
    }

    /// The column where stock's argument stops agreeing with bridgekeeper's token: the first byte
    /// after the common prefix that is not a space or tab (the `#` of an inline comment, a stray
    /// \v), else the end of the common prefix.
    static func divergingColumn(_ argument: ArraySlice<UInt8>, _ ours: some Collection<UInt8>, _ column: Int,
                                in line: ArraySlice<UInt8>) -> Int {
        var common = 0
        for (a, b) in zip(argument, ours) {
            if a != b { break }
            common += 1
        }
        var index = argument.startIndex + common
        while index < argument.endIndex, argument[index] == 0x20 || argument[index] == 0x09 { index += 1 }
        if index >= argument.endIndex { index = argument.startIndex + common }
        return index - line.startIndex + 1
    }

    static func isInterfaceName(_ bytes: ArraySlice<UInt8>) -> Bool {
        do {
            _ = try InterfaceName(validating: bytes)
            return true
        } catch {
            return false
        }
    }

    static func firstColumn(_ line: ArraySlice<UInt8>) -> Int {
        (line.firstIndex(where: { $0 != 0x20 && $0 != 0x09 }) ?? line.startIndex) - line.startIndex + 1
    }
}
