#!/bin/bash
# The dynamically linked helper (LINK=dynamic, the default: glibc is loaded by ld.so so that NSS
# modules work): in setuid and file-capability modes the kernel sets AT_SECURE and ld.so must
# ignore LD_PRELOAD and LD_LIBRARY_PATH. A real preload library (its constructor writes a marker
# file) and a library directory holding a fake libc.so.6 (the helper's only NEEDED library; it
# defines nothing) are offered to each copy; the positive control is a plain, unprivileged copy
# of the same binary, which must load both. (t-h-process checks the whole environment with strace; this one shows
# the loader's variables would have had an effect.)
set -u
# shellcheck source=Tests/Integration/lib.sh
source "$(dirname "$0")/lib.sh"
bk_enter_sandbox "$@"
it_setup
it_install_helpers
it_build_tools bkrun
BKRUN=$BK_SCRATCH/bin/bkrun
H_PLAIN=$(bk_install "$BK_HELPER" bk-plain plain)
bk_bridge br0
it_reset_etc_qemu
it_acl_text 'allow br0\n'

if ! readelf -lW "$BK_HELPER" | grep -q 'program interpreter'; then
    it_fail "$IT_NAME/precondition/dynamic" "expected a dynamically linked helper (LINK=dynamic, the default), got a static one"
    it_abort
fi

L=$BK_SCRATCH/loader
mkdir -m 0777 "$L" "$L/marks"
mkdir -m 0755 "$L/lib"
cat >"$L/mark.c" <<'EOF'
#include <fcntl.h>
#include <unistd.h>
__attribute__((constructor)) static void mark(void) {
    int fd = open(MARK, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd >= 0) close(fd);
}
EOF
compiler=$(command -v cc || command -v clang)
"$compiler" -shared -fPIC -DMARK="\"$L/marks/preload\"" -o "$L/preload.so" "$L/mark.c" 2>"$L/cc.err" &&
    "$compiler" -shared -fPIC -nostdlib -Wl,-soname,libc.so.6 -o "$L/lib/libc.so.6" -x c - <<<'int bk_fake_libc;' 2>>"$L/cc.err" ||
    { it_fail "$IT_NAME/precondition/cc" "expected the two test libraries to build, got '$(it_show "$(head -c 400 "$L/cc.err")")'"; it_abort; }
chmod 0755 "$L/preload.so" "$L/lib/libc.so.6"

# loader_check NAME HELPER EXPECT-MARKS EXPECT VARIABLE...: runs HELPER as nobody with the
# variables; EXPECT is attached, no-privilege (the plain copy's refusal) or loader-error (ld.so
# loaded the fake libc, which lacks every symbol the helper needs: it stops before any of the
# helper's code runs).
loader_check() {
    local name=$1 helper=$2 want=$3 expect=$4 got v
    shift 4
    local env=()
    for v in "$@"; do env+=(-e "$v"); done
    rm -f "$L/marks/"*
    it_begin
    it_run setpriv --reuid=65534 --regid=65534 --clear-groups -- "$BKRUN" "${env[@]}" "$helper" --use-vnet --fd={fd} --br=br0
    got=$(cd "$L/marks" && ls | paste -sd ' ')
    it_expect "marker files (library constructors that ran)" "$want" "$got"
    case $expect in
        attached)
            it_expect "exit status" 0 "$IT_RC"
            it_expect stderr "" "$IT_ERR"
            [[ $IT_OUT == "result=attached "* ]] || it_problem "expected result=attached, got '$(it_show "$IT_OUT")'" ;;
        no-privilege) it_expect stderr "$MSG_NO_PRIVILEGE"$'\n' "$IT_ERR" ;;
        loader-error)
            [[ $IT_ERR == *"$L/lib/libc.so.6"* && $IT_ERR == *"symbol lookup error"* ]] ||
                it_problem "expected ld.so's 'symbol lookup error' after loading $L/lib/libc.so.6, got '$(it_show "$IT_ERR")'" ;;
    esac
    it_expect_no_taps
    it_end "t-linking/$name"
}

BOTH=("LD_PRELOAD=$L/preload.so" "LD_LIBRARY_PATH=$L/lib")
bk_tun_mode 0600
loader_check setuid-nobody/ld-preload-and-library-path-ignored "$H_SETUID" "" attached "${BOTH[@]}"
bk_tun_mode 0666
loader_check caps-nobody/ld-preload-and-library-path-ignored "$H_CAPS" "" attached "${BOTH[@]}"
# The controls: without privilege there is no AT_SECURE and ld.so honours each variable.
loader_check plain-nobody/control-ld-preload-honoured "$H_PLAIN" preload no-privilege "LD_PRELOAD=$L/preload.so"
loader_check plain-nobody/control-ld-library-path-honoured "$H_PLAIN" "" loader-error "LD_LIBRARY_PATH=$L/lib"
loader_check plain-nobody/control-without-variables "$H_PLAIN" "" no-privilege

# The Embedded helper's own ceil (Sources/CHelperEntry/ceil.c, so that libm.so.6 is not loaded):
# bit for bit glibc's ceil on edge cases (signed zeros, halves, 2^52 and 2^53 neighbours,
# subnormals, the largest finite values, infinities, NaN) and on 1,000,000 random bit patterns
# and as many values near integers.
it_begin
cat >"$L/ceil-check.c" <<'EOF'
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
double bk_ceil(double);
static uint64_t bits(double x) { uint64_t b; memcpy(&b, &x, sizeof b); return b; }
static double from(uint64_t b) { double x; memcpy(&x, &b, sizeof x); return x; }
static int bad = 0;
static void check(double x) {
    double want = ceil(x), got = bk_ceil(x);
    if (isnan(want) ? !isnan(got) : bits(want) != bits(got)) {
        if (bad++ < 5) printf("ceil(%a): want %a, got %a\n", x, want, got);
    }
}
int main(void) {
    const double edges[] = {0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 1.5, -1.5, 0x1p-1074, -0x1p-1074, 0x1p-1022, -0x1p-1022,
                            0x1p52, -0x1p52, 0x1p52 - 0.5, -(0x1p52 - 0.5), 0x1p53, -0x1p53, 0x1p53 - 1, 0x1p63, -0x1p63,
                            0x1.fffffffffffffp1023, -0x1.fffffffffffffp1023, INFINITY, -INFINITY, NAN, -NAN, 4503599627370495.5};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) { check(edges[i]); check(nextafter(edges[i], 0)); check(nextafter(edges[i], INFINITY)); }
    uint64_t state = 0x6365696c00000001u;
    for (int i = 0; i < 1000000; i++) {
        state = state * 6364136223846793005u + 1442695040888963407u;
        uint64_t r = state ^ (state >> 29);
        check(from(r));
        check((double)(int64_t)(r >> 10) / 1024.0 * ((r & 1) ? 1 : -1));
    }
    printf("%d\n", bad);
    return 0;
}
EOF
if "$compiler" -O2 -DBK_CEIL_TEST_NAME=bk_ceil -o "$L/ceil-check" "$L/ceil-check.c" "$IT_ROOT/Sources/CHelperEntry/ceil.c" -lm 2>"$L/cc.err"; then
    it_run "$L/ceil-check"
    it_expect "ceil-check exit status" 0 "$IT_RC"
    it_expect "values where the helper's ceil differs from glibc's" "0"$'\n' "$IT_OUT"
else
    it_problem "expected the ceil check to build, got '$(it_show "$(head -c 400 "$L/cc.err")")'"
fi
it_end "t-linking/embedded-ceil-is-glibcs"

it_summary
