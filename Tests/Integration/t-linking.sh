#!/bin/bash
# The dynamically linked helper (LINK=dynamic, the default: glibc is loaded by ld.so so that NSS
# modules work): in setuid and file-capability modes the kernel sets AT_SECURE and ld.so must
# ignore LD_PRELOAD and LD_LIBRARY_PATH. A real preload library (its constructor writes a marker
# file) and a library directory holding a fake libm.so.6 (its constructor writes another) are
# offered to each copy; the positive control is a plain, unprivileged copy of the same binary,
# which must load both. (t-h-process checks the whole environment with strace; this one shows
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
    "$compiler" -shared -fPIC -DMARK="\"$L/marks/libm\"" -Wl,-soname,libm.so.6 -o "$L/lib/libm.so.6" "$L/mark.c" 2>>"$L/cc.err" ||
    { it_fail "$IT_NAME/precondition/cc" "expected the two test libraries to build, got '$(it_show "$(head -c 400 "$L/cc.err")")'"; it_abort; }
chmod 0755 "$L/preload.so" "$L/lib/libm.so.6"

# loader_check NAME HELPER EXPECT-MARKS EXPECT VARIABLE...: runs HELPER as nobody with the
# variables; EXPECT is attached, no-privilege (the plain copy's refusal) or loader-error (ld.so
# loaded the fake libm, which lacks the helper's libm symbols: BIND_NOW fails before any
# constructor runs).
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
            [[ $IT_ERR == *"symbol lookup error"* ]] || it_problem "expected ld.so's 'symbol lookup error' (the fake libm.so.6 was loaded), got '$(it_show "$IT_ERR")'" ;;
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

it_summary
