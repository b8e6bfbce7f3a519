# shellcheck shell=bash disable=SC2034
# (SC2034: the variables here are used by the scripts that source this file.)
# Shared by Tests/Integration/t-*.sh: configuration, result counting and the checks that every
# test makes. Usage at the top of a test:
#     source "$(dirname "$0")/lib.sh"     # also sources Tests/lib/sandbox.sh
#     bk_enter_sandbox "$@"               # re-executes the script inside the sandbox
#     it_setup                            # preconditions, client copy, bridges...
#
# Output: one `PASS name` or `FAIL name: expected ... got ...` line per check. Run alone, a test
# ends with `N passed, N failed`; under run.sh (BK_IT_RUNNER=1) run.sh prints the total instead.
# Exit status: 0 if every check passed.

IT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IT_ROOT=$(cd "$IT_DIR/../.." && pwd)
# shellcheck source=Tests/lib/sandbox.sh
source "$IT_ROOT/Tests/lib/sandbox.sh"

it_abs() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s/%s\n' "$IT_ROOT" "$1" ;; esac; }
BK_HELPER=$(it_abs "${BK_HELPER:-.build-helper/release/bridgekeeper-helper}")
BK_HOOKS_HELPER=$(it_abs "${BK_HOOKS_HELPER:-.build-testhooks/release/bridgekeeper-helper}")
BK_CLI=$(it_abs "${BK_CLI:-.build/release/bridgekeeper}")
BK_STOCK=$(it_abs "${BK_STOCK:-/usr/lib/qemu/qemu-bridge-helper}")
# The helper's Swift runtime: embedded (the Makefile's default, HELPER_RUNTIME) or regular.
BK_HELPER_RUNTIME=${BK_HELPER_RUNTIME:-embedded}
export BK_HELPER BK_HOOKS_HELPER BK_CLI BK_STOCK BK_HELPER_RUNTIME

IT_NAME=$(basename "$0" .sh)
IT_PASSED=0
IT_FAILED=0
IT_TIMEOUT=10

# The callers. setpriv keeps nothing but the given ids; --clear-groups drops root's groups.
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
NOBODY_GROUPS=(setpriv --reuid=65534 --regid=65534 "--groups=100,1000" --)
USER_B=(setpriv --reuid=65533 --regid=65533 --clear-groups --)
AS_ROOT=()

# The messages the helper prints, from Sources/ (kept in one place so a wording change is one edit).
MSG_NO_PRIVILEGE="bridgekeeper-helper has no privilege: install it setuid root (chown root, chmod 4755) or with 'setcap cap_net_admin+ep' on a filesystem mounted without nosuid; no_new_privs in the caller also disables both"
MSG_TUN_CAPS="cannot open /dev/net/tun: Permission denied; the file-capability install needs it mode 0666 (the usual default), or install the helper setuid root"
MSG_USAGE="Usage: bridgekeeper-helper [--use-vnet] --br=bridge --fd=unixfd"
msg_not_allowed() { printf "access denied by acl file: no rule in /etc/qemu/bridge.conf or its includes allows bridge '%s'; an administrator can add 'allow %s'" "$1" "$1"; }
msg_denied() { printf "access denied by acl file: %s: '%s' refuses bridge '%s'" "$1" "$2" "$3"; }
msg_missing_bridge() { printf "bridge '%s' does not exist in this network namespace; create it (ip link add %s type bridge) or ask an administrator" "$1" "$1"; }
msg_not_bridge() { printf "'%s' is not a Linux bridge (its driver is '%s'); no TAP was created" "$1" "$2"; }
msg_bad_fd() { printf "invalid --fd value '%s': expected a decimal descriptor number 0..2147483647" "$1"; }
msg_setuid_missing_cap() { printf "bridgekeeper-helper runs setuid root but %s is not available (dropped from the caller's bounding set?); refusing" "$1"; }

# ---------------------------------------------------------------------------------------------
# Counting

it_pass() { printf 'PASS %s\n' "$1"; IT_PASSED=$((IT_PASSED + 1)); }
it_fail() { printf 'FAIL %s: %s\n' "$1" "$2"; IT_FAILED=$((IT_FAILED + 1)); }

# it_show TEXT: TEXT on one line, newlines and tabs made visible.
it_show() {
    local s=$1
    s=${s//$'\n'/\\n}
    s=${s//$'\t'/\\t}
    printf '%s' "$s"
}

# A check collects problems, then reports once: it_begin; it_expect...; it_end NAME.
it_begin() { IT_PROBLEMS=(); }
it_problem() { IT_PROBLEMS+=("$1"); }
# it_expect WHAT EXPECTED GOT: exact string equality.
it_expect() {
    [ "$2" == "$3" ] || it_problem "expected $1 '$(it_show "$2")', got '$(it_show "$3")'"
}
# it_expect_match WHAT ERE GOT: GOT must match the anchored extended regular expression.
it_expect_match() {
    [[ $3 =~ ^$2$ ]] || it_problem "expected $1 matching /$(it_show "$2")/, got '$(it_show "$3")'"
}
it_end() {
    if [ ${#IT_PROBLEMS[@]} -eq 0 ]; then it_pass "$1"; else
        local joined=""
        local p
        for p in "${IT_PROBLEMS[@]}"; do joined+="${joined:+; }$p"; done
        it_fail "$1" "$joined"
    fi
}

# it_summary: the per-test total (unless run.sh prints the grand total) and the exit status.
it_summary() {
    [ "${BK_IT_RUNNER:-}" = 1 ] || printf '%d passed, %d failed\n' "$IT_PASSED" "$IT_FAILED"
    [ "$IT_FAILED" -eq 0 ]
}

# it_precondition NAME CONDITION-COMMAND... : a loud FAIL (never a skip) when it does not hold.
it_precondition() {
    local name=$1
    shift
    if "$@" >/dev/null 2>&1; then return 0; fi
    it_fail "$IT_NAME/precondition/$name" "expected '$*' to succeed, got failure"
    return 1
}

# it_require_exe NAME PATH: an executable regular file (else a precondition FAIL).
it_require_exe() {
    if [ -f "$2" ] && [ -x "$2" ]; then return 0; fi
    it_fail "$IT_NAME/precondition/$1" "expected an executable file at $2, got $( [ -e "$2" ] && echo 'a non-executable or non-regular file' || echo 'nothing')"
    return 1
}

# it_abort: after a failed precondition, end the test with what was counted.
it_abort() { it_summary; exit 1; }

# ---------------------------------------------------------------------------------------------
# Setup inside the sandbox

# it_setup: common preconditions (root, the client, the release helper, tools), a copy of the
# client that nobody can run, and the cleanup of anything this library mounts.
it_setup() {
    local ok=0
    it_precondition root test "$(id -u)" = 0 || ok=1
    it_require_exe client "$BK_CLI" || ok=1
    it_require_exe helper "$BK_HELPER" || ok=1
    local tool
    for tool in ip setpriv setcap timeout mkfifo stdbuf; do
        it_precondition "tool-$tool" command -v "$tool" || ok=1
    done
    [ $ok = 0 ] || it_abort
    install -o root -g root -m 0755 "$BK_CLI" "$BK_SCRATCH/bin/bridgekeeper"
    CLI=$BK_SCRATCH/bin/bridgekeeper
    IT_MOUNTS=()
    trap 'it_cleanup; bk_leave_sandbox' EXIT
}

# it_install_helpers [hooks]: root-owned copies of the release helper, setuid (H_SETUID) and with
# the file capability (H_CAPS); with "hooks", also of the test-hooks build (HK_SETUID, HK_CAPS),
# whose absence is a precondition FAIL.
it_install_helpers() {
    H_SETUID=$(bk_install "$BK_HELPER" bk-setuid setuid)
    H_CAPS=$(bk_install "$BK_HELPER" bk-caps caps)
    [ "${1:-}" = hooks ] || return 0
    it_require_exe hooks-helper "$BK_HOOKS_HELPER" || it_abort
    HK_SETUID=$(bk_install "$BK_HOOKS_HELPER" hk-setuid setuid)
    HK_CAPS=$(bk_install "$BK_HOOKS_HELPER" hk-caps caps)
}

# it_build_tools TOOL...: compiles Tests/Integration/tools/TOOL.c to $BK_SCRATCH/bin/TOOL with cc
# (gcc), else the Swift toolchain's clang; a missing compiler or a failed build is a precondition
# FAIL that ends the test.
it_build_tools() {
    local compiler tool
    compiler=$(command -v cc || command -v clang) ||
        { it_fail "$IT_NAME/precondition/c-compiler" "expected cc or clang on PATH, got neither"; it_abort; }
    for tool in "$@"; do
        "$compiler" -O2 -Wall -o "$BK_SCRATCH/bin/$tool" "$IT_DIR/tools/$tool.c" 2>"$BK_SCRATCH/cc.err" ||
            it_fail "$IT_NAME/precondition/cc-$tool" "expected $tool to compile, got '$(it_show "$(head -c 400 "$BK_SCRATCH/cc.err")")'"
    done
    [ "$IT_FAILED" = 0 ] || it_abort
    chmod 0755 "${@/#/$BK_SCRATCH/bin/}"
}

# Unmounts what it_mount mounted (the sandbox's own cleanup removes the scratch directory, which
# fails on a mount point), keeping the exit status for bk_leave_sandbox.
it_cleanup() {
    local status=$? m
    for m in "${IT_MOUNTS[@]}"; do umount -l "$m" 2>/dev/null; done
    return $status
}

# it_mount TARGET MOUNT-ARGS...: mount, remembered for the cleanup.
it_mount() {
    local target=$1
    shift
    mount "$@" "$target" && IT_MOUNTS+=("$target")
}

# it_reset_etc_qemu: an empty /etc/qemu (root:root 0755) in the sandbox's /etc overlay.
it_reset_etc_qemu() {
    rm -rf /etc/qemu
    mkdir -m 0755 /etc/qemu
    chown root:root /etc/qemu
}

# it_acl_text TEXT [FILE]: writes TEXT (printf %b escapes: \n, \t, \r, \0) as an ACL file.
it_acl_text() { printf '%b' "$1" | bk_acl "${2:-/etc/qemu/bridge.conf}"; }

# ---------------------------------------------------------------------------------------------
# The three ways the helper runs. Scripts loop over IT_MODES (or a subset) and call it_mode.
#   s  setuid-nobody  the setuid copy run by nobody, /dev/net/tun 0600
#   c  caps-nobody    the file-capability copy run by nobody, /dev/net/tun 0666 (the caps
#                     install needs it: the open happens without privilege)
#   r  setuid-root    root running the setuid copy, /dev/net/tun 0600
IT_MODES="s c r"

# it_mode s|c|r: selects a mode (after it_install_helpers). Sets HELPER (the release copy), HOOKS
# (the test-hooks copy, empty unless installed), AS (the caller's command prefix), CALLER_UID,
# OTHER and OTHER_UID (another user than the caller), LABEL (for check names), and the mode of
# the sandbox's /dev/net/tun.
it_mode() {
    case $1 in
        s) HELPER=$H_SETUID HOOKS=${HK_SETUID:-} LABEL=setuid-nobody; AS=("${NOBODY[@]}"); CALLER_UID=65534
           OTHER=("${USER_B[@]}"); OTHER_UID=65533; bk_tun_mode 0600 ;;
        c) HELPER=$H_CAPS HOOKS=${HK_CAPS:-} LABEL=caps-nobody; AS=("${NOBODY[@]}"); CALLER_UID=65534
           OTHER=("${USER_B[@]}"); OTHER_UID=65533; bk_tun_mode 0666 ;;
        r) HELPER=$H_SETUID HOOKS=${HK_SETUID:-} LABEL=setuid-root; AS=("${AS_ROOT[@]}"); CALLER_UID=0
           OTHER=("${NOBODY[@]}"); OTHER_UID=65534; bk_tun_mode 0600 ;;
        *) it_fail "$IT_NAME/test-bug" "expected mode s, c or r, got '$1'"; it_abort ;;
    esac
}

# ---------------------------------------------------------------------------------------------
# Running

# it_run COMMAND...: runs COMMAND under a timeout; sets IT_RC, IT_OUT and IT_ERR (exact bytes,
# trailing newlines kept). stdin is /dev/null.
it_run() {
    local out=$BK_SCRATCH/it.out err=$BK_SCRATCH/it.err
    timeout -k 2 "$IT_TIMEOUT" "$@" </dev/null >"$out" 2>"$err"
    IT_RC=$?
    IT_OUT=$(cat "$out"; printf x)
    IT_OUT=${IT_OUT%x}
    IT_ERR=$(cat "$err"; printf x)
    IT_ERR=${IT_ERR%x}
}

# it_field KEY: the value of KEY=... in the client's result line ("<missing>" if absent).
it_field() {
    local token
    for token in ${IT_OUT}; do
        case $token in "$1="*) printf '%s' "${token#*=}"; return ;; esac
    done
    printf '<missing>'
}

# it_expect_no_taps: no TUN/TAP device exists in the sandbox now, except those a check holds on
# purpose: IT_TAPS_EXPECTED (sorted names, space separated; "" = none, the default).
IT_TAPS_EXPECTED=""
it_expect_no_taps() {
    local taps
    taps=$(bk_taps | sort | paste -sd ' ')
    [ "$taps" == "$IT_TAPS_EXPECTED" ] && return
    if [ -z "$IT_TAPS_EXPECTED" ]; then
        it_problem "expected no TAP left, got '$(it_show "$taps")'"
        return
    fi
    local want=$IT_TAPS_EXPECTED got=${taps:-none}
    [ ${#want} -lt 200 ] || want="$(printf '%s' "$want" | wc -w) devices"
    [ ${#got} -lt 200 ] || got="$(printf '%s' "$got" | wc -w) devices (differing)"
    it_problem "expected TUN/TAP devices left: $want, got $got"
}

# it_escape BYTES: BYTES as the helper escapes names in its messages (Escaping.escape): bytes
# outside printable ASCII, '\' and "'" as \xNN. Also keeps raw bytes out of FAIL lines.
it_escape() {
    perl -e 'print join "", map { my $o = ord; ($o >= 0x20 && $o < 0x7f && $_ ne "\\" && $_ ne "\x27") ? $_ : sprintf("\\x%02x", $o) } split //, $ARGV[0]' "$1"
}

# it_assert_try EXPECT STDERR [KEY=GLOB...]: the assertions on one `bridgekeeper try` run (after
# it_run). EXPECT is attached or refused. STDERR is the helper's exact stderr (one line per line,
# without the final newline; "" for none). Every KEY=GLOB must match the result line's field.
it_assert_try() {
    local expect=$1 stderr=$2
    shift 2
    # Exact bytes: each expected line ends with a newline; "" means nothing at all.
    [ -z "$stderr" ] || stderr+=$'\n'
    it_expect stderr "$stderr" "$IT_ERR"
    case $expect in
        attached)
            it_expect "exit status" 0 "$IT_RC"
            it_expect result attached "$(it_field result)"
            it_expect helper_exit 0 "$(it_field helper_exit)"
            it_expect "stdout line count" 1 "$(printf '%s' "$IT_OUT" | grep -c '')"
            local kv key want got
            for kv in helper_stdout_bytes=0 no_pi=1 up=1 'mac=fe:*' "$@"; do
                key=${kv%%=*}
                want=${kv#*=}
                got=$(it_field "$key")
                # shellcheck disable=SC2053
                [[ $got == $want ]] || it_problem "expected $key=$want, got $key=$got"
            done
            ;;
        refused)
            it_expect "exit status" 1 "$IT_RC"
            it_expect stdout "result=refused helper_exit=1 helper_stdout_bytes=0"$'\n' "$IT_OUT"
            ;;
        *) it_problem "test bug: unknown expectation $expect" ;;
    esac
    it_expect_no_taps
}

# it_expect_finished: the last it_run neither timed out nor died of a signal.
it_expect_finished() {
    case $IT_RC in
        124 | 137) it_problem "expected the run to finish within ${IT_TIMEOUT} s, got a timeout (status $IT_RC)" ;;
        *) [ "$IT_RC" -lt 128 ] || it_problem "expected no signal death, got status $IT_RC" ;;
    esac
}

# wait_stopped PID SWITCHES: waits (10 s) until PID is stopped after having run since SWITCHES
# context switches were counted (so a second stop is not mistaken for the first).
wait_stopped() {
    local pid=$1 before=$2 i
    for ((i = 0; i < 100; i++)); do
        [ -d "/proc/$pid" ] || return 1
        if [ "$(it_state "$pid")" = T ] && [ "$(it_switches "$pid")" != "$before" ]; then return 0; fi
        sleep 0.1
    done
    return 1
}

# it_check NAME EXPECT STDERR [KEY=GLOB...] -- COMMAND...: run, assert, report.
it_check() {
    local name=$1 expect=$2 stderr=$3
    shift 3
    local fields=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do fields+=("$1"); shift; done
    shift
    it_begin
    it_run "$@"
    it_expect_finished
    it_assert_try "$expect" "$stderr" "${fields[@]}"
    it_end "$name"
}

# ---------------------------------------------------------------------------------------------
# Holding a TAP: `bridgekeeper try --hold-until-eof` with its stdin on a FIFO we keep open.

# it_hold_start [--no-stdbuf] COMMAND...: starts COMMAND (a `try --hold-until-eof` invocation)
# in the background and waits up to IT_HOLD_WAIT (10) s for its result line. Sets IT_HOLD_PID,
# IT_HOLD_FD (our end of the FIFO) and IT_OUT (the line). The client's stdout is made line
# buffered with stdbuf: it prints the line with Swift's print and only fsyncs (no fflush), so
# without stdbuf the line reaches a file or pipe only when it exits (reported as a client bug;
# t-attach has a check for it that uses --no-stdbuf).
IT_HOLD_FDS=()
it_hold_start() {
    local fifo=$BK_SCRATCH/hold.fifo out=$BK_SCRATCH/hold.out stdbuf=(stdbuf -oL)
    if [ "$1" = --no-stdbuf ]; then stdbuf=(); shift; fi
    IT_HOLD_ERR=$BK_SCRATCH/hold.err
    rm -f "$fifo" "$out" "$IT_HOLD_ERR"
    mkfifo -m 0600 "$fifo"
    (
        # Other holds' FIFO ends must not leak into this client, or they never see end of file.
        for fd in "${IT_HOLD_FDS[@]}"; do exec {fd}>&-; done
        exec timeout -k 2 30 "${stdbuf[@]}" "$@" <"$fifo" >"$out" 2>"$IT_HOLD_ERR"
    ) &
    IT_HOLD_PID=$!
    exec {IT_HOLD_FD}>"$fifo"
    IT_HOLD_FDS+=("$IT_HOLD_FD")
    local i
    for ((i = 0; i < ${IT_HOLD_WAIT:-10} * 10; i++)); do
        [ -s "$out" ] && [ "$(tail -c 1 "$out" | od -An -c | tr -d ' ')" = '\n' ] && break
        kill -0 "$IT_HOLD_PID" 2>/dev/null || break
        sleep 0.1
    done
    IT_OUT=$(cat "$out")
}

# it_hold_stop: closes the FIFO (end of file for the client, which then closes the TAP) and
# waits for the client. Sets IT_RC and IT_ERR.
it_hold_stop() {
    it_hold_close "$IT_HOLD_FD"
    wait "$IT_HOLD_PID"
    IT_RC=$?
    IT_ERR=$(cat "$IT_HOLD_ERR"; printf x)
    IT_ERR=${IT_ERR%x}
}

# it_hold_close FD: closes one hold's FIFO end.
it_hold_close() {
    local fd=$1 kept=() f
    exec {fd}>&-
    for f in "${IT_HOLD_FDS[@]}"; do [ "$f" = "$1" ] || kept+=("$f"); done
    IT_HOLD_FDS=("${kept[@]}")
}

# ---------------------------------------------------------------------------------------------
# /proc helpers

# it_pid_of ARG0: the pid of the process whose argv[0] is exactly ARG0 (empty if none).
it_pid_of() {
    local p a0
    for p in /proc/[0-9]*; do
        a0=$(tr '\0' '\n' 2>/dev/null <"$p/cmdline" | head -n 1)
        [ "$a0" = "$1" ] && { printf '%s\n' "${p#/proc/}"; return; }
    done
}

# it_status_field PID FIELD: a /proc/PID/status field's value, whitespace squeezed.
it_status_field() {
    awk -v f="$2:" '$1 == f { $1 = ""; sub(/^ +/, ""); print; exit }' "/proc/$1/status" 2>/dev/null
}

# it_state PID: the one-letter process state (T = stopped).
it_state() { it_status_field "$1" State | cut -c1; }

# it_switches PID: voluntary + non-voluntary context switches (changes whenever it ran).
it_switches() {
    echo $(($(it_status_field "$1" voluntary_ctxt_switches) + $(it_status_field "$1" nonvoluntary_ctxt_switches)))
}

# The helper links glibc dynamically (LINK=dynamic, the default: NSS modules need it). Under
# RLIMIT_NOFILE 3 with fds 0-2 open, the dynamic loader cannot open libc.so.6 and exits 127
# with one line on fd 2 before any of the helper's code runs (README: "Where bridgekeeper
# differs"); a static build (LINK=static) keeps the helper's own refusal. Tests that lower the
# descriptor limit to 3 expect whichever applies to the helper under test. (The loader names the
# first library it could not open: libc.so.6 for the Embedded helper, libm.so.6 or libc.so.6 for
# the regular one, in NEEDED order.)
it_helper_is_dynamic() {
    readelf -lW "${1:-$BK_HELPER}" 2>/dev/null | grep -q 'Requesting program interpreter'
}
IT_LDSO_NOFILE_RE='[^ ]*bk[^:]*: error while loading shared libraries: lib[a-z]+\.so\.6: cannot open shared object file: (Error 24|Too many open files)'

# it_copy_loader BINARY ROOT: the dynamic loader and libraries BINARY needs, at their paths
# under ROOT (for tests that run the helper in a chroot).
it_copy_loader() {
    local lib
    for lib in $(ldd "$1" 2>/dev/null | grep -o '/[^ ]*'); do
        mkdir -p "$2$(dirname "$lib")"
        cp -L "$lib" "$2$lib"
    done
}

# golden NAME STATUS EXPECTED-STDOUT-FILE EXPECTED-STDERR -- ARGS...: exact stdout, stderr and
# exit status of the CLI ($CLI) run as root with an empty environment and COLUMNS=80
# (t-explain, t-cli-policy; t-cli has its own form with a width).
golden() {
    local name=$1 status=$2 expected=$3 stderr=$4
    shift 5
    it_begin
    it_run env -i COLUMNS=80 "$CLI" "$@"
    it_expect_finished
    it_expect "exit status" "$status" "$IT_RC"
    it_expect stderr "$stderr" "$IT_ERR"
    printf '%s' "$IT_OUT" >"$BK_SCRATCH/got.txt"
    if ! cmp -s "$expected" "$BK_SCRATCH/got.txt"; then
        it_problem "expected stdout as in the golden text, got a difference: $(it_show "$(diff "$expected" "$BK_SCRATCH/got.txt" | head -n 12)")"
    fi
    it_end "$IT_NAME/$name"
}
