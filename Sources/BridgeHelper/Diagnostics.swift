import Glibc

/// The helper's only output paths. stdout is written only for --help/--version: QEMU's stdout
/// may be the guest's serial console.
public enum Diagnostics {
    /// Writes the failure's one line to stderr (fd 2) and exits 1. Messages.swift escapes
    /// anything that came from input (names, file contents), so this is one line.
    public static func fail(_ failure: HelperFailure) -> Never {
        write(failure.message + "\n", to: 2)
        exit(1)
    }

    public static func printAndExit(_ text: String) -> Never {
        write(text, to: 1)
        exit(0)
    }

    static func write(_ text: String, to fd: Int32) {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { raw -> Int in
                guard let base = raw.baseAddress else { return 0 }
                return Glibc.write(fd, base + offset, raw.count - offset)
            }
            if written < 0 && errno == EINTR { continue }
            if written <= 0 { return }
            offset += written
        }
    }
}
