// Shared by every fuzz target (compiled into each one; see Tests/Fuzz/run.sh).
// Everything here is written independently of Sources/, so the targets can compare against it.

/// Traps with a readable message when an invariant does not hold. libFuzzer reports the trap as
/// a crash ("deadly signal") and saves the input; the message is the first thing to read.
@inline(never)
func violated(_ what: String) -> Never {
    fatalError("fuzz invariant violated: \(what)")
}

func check(_ condition: Bool, _ what: @autoclosure () -> String) {
    if !condition { violated(what()) }
}

/// The input as an array (libFuzzer may pass a null pointer with size 0).
func fuzzInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
    guard let data, size > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: size))
}

/// Escapes every byte outside printable ASCII, for invariant messages.
func shown(_ bytes: some Sequence<UInt8>) -> String {
    var out = ""
    for byte in bytes {
        if byte >= 0x20 && byte < 0x7F && byte != UInt8(ascii: "\\") {
            out.unicodeScalars.append(Unicode.Scalar(byte))
        } else {
            let hex = Array("0123456789abcdef".unicodeScalars)
            out += "\\x"
            out.unicodeScalars.append(hex[Int(byte >> 4)])
            out.unicodeScalars.append(hex[Int(byte & 15)])
        }
    }
    return out
}

/// A message that goes to a terminal or a log must be one line of printable ASCII: no C0 control
/// (newline, ESC...), no DEL, and no non-ASCII scalar (C1 controls such as U+009B CSI, or bytes
/// that a terminal in another charset would take for controls). Escaping makes every message
/// printable ASCII, so this is the strict form of "no raw control bytes".
func checkSafeLine(_ message: String, _ what: String) {
    for byte in message.utf8 where byte < 0x20 || byte >= 0x7F {
        violated("\(what) contains the raw byte \(shown([byte])): \(shown(message.utf8))")
    }
}

/// The kernel's dev_valid_name(), written from its definition: 1...15 bytes, not "." or "..",
/// and none of NUL, '/', ':' or a byte the kernel's Latin-1 isspace() accepts
/// (space, \t \n \v \f \r, and 0xA0 no-break space).
func referenceIsValidInterfaceName(_ name: [UInt8]) -> Bool {
    if name.isEmpty || name.count > 15 { return false }
    if name == [0x2E] || name == [0x2E, 0x2E] { return false }
    let forbidden: Set<UInt8> = [0x00, 0x2F, 0x3A, 0x20, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0xA0]
    return !name.contains(where: forbidden.contains)
}

func utf8(_ text: String) -> [UInt8] { Array(text.utf8) }
