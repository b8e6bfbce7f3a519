import BridgeSystem
import CBridgeShims
import Glibc
import Testing

/// The values the shim mirrors from C headers, pinned to the kernel's ABI numbers (a header that
/// changed under us, or a shim that mirrored the wrong macro, fails here).
@Suite("C constants")
struct ConstantTests {
    @Test func tunFlags() {
        #expect(bk_iff_tap == 0x0002)
        #expect(bk_iff_no_pi == 0x1000)
        #expect(bk_iff_vnet_hdr == 0x4000)
        #expect(TunFlags.tap.rawValue == bk_iff_tap)
        #expect(bk_iff_up == 0x1)
        #expect(bk_ifnamsiz == 16)
    }

    @Test func prctlOptions() {
        #expect(bk_pr_set_no_new_privs == 38)
        #expect(bk_pr_get_no_new_privs == 39)
        #expect(bk_pr_set_dumpable == 4)
    }

    @Test func openPathFlag() {
        #expect(bk_o_path == 0o10000000)
    }
}
