import BridgeACL
import CBridgeShims
import Glibc

/// Reads ACL files the way contract §5 requires, with the credentials the process has now (the
/// caller's, after the drop):
/// - the path is walked from `/` one component at a time with `openat`, never following a
///   symbolic link, so a path cannot be redirected between the check and the read;
/// - `/`, every directory on the way and the file itself must be owned by root and not writable
///   by group or others; the file must be a regular file of at most 1 MiB;
/// - each component is `lstat`ed before it is opened and `fstat`ed after, so FIFOs and devices are
///   never opened (no hang, no side effects) and a swap in between is caught;
/// - only ENOENT and EACCES mean "unavailable" (skip an include); every other failure refuses.
public struct SafeFileReader: ACLFileSource {
    public static let maximumSize = 1 << 20

    public init() {}

    public func load(path: [UInt8]) -> ACLFileLoad {
        let shown = Escaping.escape(path)
        guard path.first == UInt8(ascii: "/") else { return .refused("\(shown): not an absolute path") }
        let components = path.split(separator: UInt8(ascii: "/")).map(Array.init)
        if components.contains([0x2E]) || components.contains([0x2E, 0x2E]) {
            return .refused("\(shown): '.' and '..' are not allowed in ACL paths")
        }
        guard let fileName = components.last else { return .refused("\(shown): names a directory") }

        var directory: FileDescriptor
        do throws(SystemError) {
            directory = try FileDescriptor.open("/", bk_o_path | O_DIRECTORY)
        } catch {
            return classify(error.errno, at: "/", shown: shown)
        }
        if let unsafe = checkOwnership(directory.borrowed, what: "/") { return .refused(unsafe) }
        var walked: [UInt8] = []
        for component in components.dropLast() {
            walked += [UInt8(ascii: "/")] + component
            let next = openChecked(component, in: directory, directory: true, walked: walked, shown: shown)
            switch consume next {
            case .failed(let load): return load
            case .opened(let fd): directory = fd
            }
        }
        let file: FileDescriptor
        switch openChecked(fileName, in: directory, directory: false, walked: path, shown: shown) {
        case .failed(let load): return load
        case .opened(let fd): file = fd
        }
        return readAll(file, shown: shown)
    }

    /// Opens one path component below `directory` after checking what it is, and re-checks the
    /// opened object: same inode as the lstat, root-owned, not group/other-writable.
    private func openChecked(_ name: [UInt8], in directory: borrowing FileDescriptor, directory isDirectory: Bool,
                             walked: [UInt8], shown: String) -> Opened {
        var walkedText: String { Escaping.escape(walked) }  // built only for a message
        var before = stat()
        let cName = name.map { CChar(bitPattern: $0) } + [0]
        guard fstatat(directory.rawValue, cName, &before, AT_SYMLINK_NOFOLLOW) == 0 else {
            return .failed(classify(.current, at: walkedText, shown: shown))
        }
        let type = before.st_mode & S_IFMT
        if type == S_IFLNK {
            return .failed(.refused("\(walkedText) is a symbolic link; ACL paths must name the real file"))
        }
        if isDirectory && type != S_IFDIR {
            return .failed(.refused("\(walkedText) is not a directory"))
        }
        if !isDirectory && type != S_IFREG {
            return .failed(.refused("\(walkedText) is not a regular file"))
        }
        let flags = isDirectory ? (bk_o_path | O_DIRECTORY | O_NOFOLLOW) : (O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY)
        let fd = retryingOnInterrupt { bk_openat(directory.rawValue, cName, flags | O_CLOEXEC) }
        guard fd >= 0 else {
            // ELOOP from O_NOFOLLOW: it was not a symlink at the lstat, so it was swapped since.
            if errno == ELOOP { return .failed(.refused("\(walkedText) changed while it was being checked")) }
            return .failed(classify(.current, at: walkedText, shown: shown))
        }
        let opened = FileDescriptor(owning: fd)
        let after: stat
        do { after = try opened.borrowed.status() } catch { return .failed(.refused("\(walkedText): \(error)")) }
        guard after.st_dev == before.st_dev, after.st_ino == before.st_ino else {
            return .failed(.refused("\(walkedText) changed while it was being checked"))
        }
        if let unsafe = checkOwnership(opened.borrowed, what: walkedText) { return .failed(.refused(unsafe)) }
        return .opened(opened)
    }

    /// The outcome of opening one component (Result cannot hold a non-copyable value).
    private enum Opened: ~Copyable {
        case opened(FileDescriptor)
        case failed(ACLFileLoad)
    }

    private func checkOwnership(_ fd: BorrowedDescriptor, what: String) -> String? {
        let info: stat
        do { info = try fd.status() } catch { return "\(what): \(error)" }
        if info.st_uid != 0 {
            return "\(what) is owned by uid \(info.st_uid), not root; ACL files and their directories must be root's"
        }
        if info.st_mode & 0o022 != 0 {
            return "\(what) is writable by group or others (mode \(octal(info.st_mode & 0o7777))); run chmod go-w on it"
        }
        return nil
    }

    private func readAll(_ file: consuming FileDescriptor, shown: String) -> ACLFileLoad {
        let info: stat
        do { info = try file.borrowed.status() } catch { return .refused("\(shown): \(error)") }
        if info.st_size > Self.maximumSize {
            return .refused("\(shown) is larger than \(Self.maximumSize) bytes")
        }
        var contents: [UInt8] = []
        // Sized from the file (plus one byte to see EOF), so a small file costs a small buffer.
        var buffer = [UInt8](repeating: 0, count: min(65536, Int(info.st_size) + 1))
        while true {
            let count = buffer.withUnsafeMutableBytes { raw in
                retryingOnInterrupt { read(file.rawValue, raw.baseAddress, raw.count) }
            }
            if count < 0 { return .refused("\(shown): read failed: \(Errno.current)") }
            if count == 0 { break }
            contents += buffer.prefix(count)
            if contents.count > Self.maximumSize { return .refused("\(shown) is larger than \(Self.maximumSize) bytes") }
        }
        return .contents(contents, identity: FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino)))
    }

    /// ENOENT and EACCES make a file "unavailable" (one value, so the message for a private file
    /// never tells whether it exists); everything else is a refusal naming the path.
    private func classify(_ error: Errno, at walked: String, shown: String) -> ACLFileLoad {
        if error == .noSuchFile || error == .permissionDenied { return .unavailable }
        return .refused("\(walked): \(error)")
    }

    private func octal(_ value: mode_t) -> String {
        var digits = ""
        var rest = value
        repeat {
            digits = String(rest % 8) + digits
            rest /= 8
        } while rest > 0
        return "0" + digits
    }
}
