import BridgeSystem
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

    /// A refusal of a request: the same stderr line and exit status as `fail`, with the audit
    /// record sent after the line is written (the caller is not kept waiting for the log).
    public static func refuse(_ failure: HelperFailure, audit context: AuditContext) -> Never {
        write(failure.message + "\n", to: 2)
        audit(.refused(failure), context: context)
        exit(1)
    }

    /// Sends the outcome's audit record to the system log. Whatever happens there (no /dev/log,
    /// not a socket, a full queue) is ignored: it never blocks, prints or changes the result.
    public static func audit(_ outcome: HelperOutcome, context: AuditContext) {
        guard let record = AuditRecord.render(outcome, context: context) else { return }
        SystemLog.send(record)
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
