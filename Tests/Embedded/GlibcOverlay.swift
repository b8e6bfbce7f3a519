// The Swift parts of the Glibc overlay that the helper's modules use, for the Embedded Swift
// build only (scripts/embedded-helper.sh compiles this file into each module that imports Glibc;
// internal, so each module has its own copy and nothing is exported).
import Glibc

var errno: Int32 {
    get { bk_embedded_errno_location().pointee }
    set { bk_embedded_errno_location().pointee = newValue }
}

// fcntl is variadic in C, which Swift cannot call; the overlay has these two.
func fcntl(_ fd: Int32, _ cmd: Int32) -> Int32 { bk_embedded_fcntl2(fd, cmd) }
func fcntl(_ fd: Int32, _ cmd: Int32, _ arg: Int32) -> Int32 { bk_embedded_fcntl3(fd, cmd, arg) }
