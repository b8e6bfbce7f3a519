/// Escaping for everything that reaches a terminal or a log: bytes outside printable ASCII,
/// the backslash and the single quote become `\xNN`, so a name or a file line can never start a
/// new line, move the cursor (ESC, C1 controls such as `\xc2\x9b`) or fake a `key=value` field
/// boundary inside quotes.
public enum Escaping {
    public static func escape(_ bytes: some Sequence<UInt8>) -> String {
        var out = ""
        for byte in bytes {
            if byte >= 0x20, byte < 0x7F, byte != UInt8(ascii: "\\"), byte != UInt8(ascii: "'") {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += hexByte(byte)
            }
        }
        return out
    }

    /// Escapes at most `limit` bytes and marks the rest as elided, so a 1 MiB argument cannot
    /// flood the terminal.
    public static func escape(_ bytes: [UInt8], limit: Int) -> String {
        if bytes.count <= limit { return escape(bytes) }
        return escape(bytes.prefix(limit)) + "..."
    }

    static func hexByte(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef".unicodeScalars)
        var out = "\\x"
        out.unicodeScalars.append(digits[Int(byte >> 4)])
        out.unicodeScalars.append(digits[Int(byte & 0x0F)])
        return out
    }
}
