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

    /// A JSON string literal for the audit commands' documents: `"`, `\\` and control
    /// characters escaped (`\n`, `\t`, `\r`, else `\u00XX`), everything else as it is. Callers
    /// pass text already made printable by `escape`, so the JSON says the same bytes as the text.
    public static func json(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
