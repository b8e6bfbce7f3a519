#!/bin/bash
# shellcheck disable=SC1083  # "{fd}" is a literal placeholder that bkrun replaces
# Hardening: what the caller's process state can do to the helper (threats #1, #2, #3, #4, #5
# partly, #6, #17, #18, #19; issue "Hardening" items 1, 2 and 8).
#
# Every helper run goes through tools/bkrun.c (compiled here with cc): it plays QEMU (a
# socketpair, --fd=N, one byte plus one SCM_RIGHTS descriptor read back, the helper reaped) and
# sets up exactly the process state a check needs at execve: argc 0, the environment, closed or
# extra descriptors, what --fd names, rlimits, ignored/blocked/pending signals, an ITIMER_REAL,
# cwd, umask. Its one-line result says whether a TAP came back, how the helper ended
# (helper_exit=N, 128 + N for signal N), what arrived on the socket besides the one byte (extra_bytes) and
# whether anything was written into the TAP (tap_rx_*). Every check asserts the exit status,
# the exact stderr, nothing on stdout, no stray bytes, no signal death and no TAP left.
#
# Modes (where the check makes sense): lib.sh's IT_MODES, selected with it_mode.
# Pause-point checks use the test-hooks build, which stops itself (SIGSTOP) after the privilege
# drop and before the send.
set -u
# shellcheck source=Tests/Integration/lib.sh
source "$(dirname "$0")/lib.sh"
bk_enter_sandbox "$@"
it_setup
ok=0
for tool in strace unshare strings; do it_precondition "tool-$tool" command -v "$tool" || ok=1; done
[ $ok = 0 ] || it_abort
it_build_tools bkrun
BKRUN=$BK_SCRATCH/bin/bkrun

it_install_helpers hooks
bk_bridge br0 1400
bk_bridge br1

ZERO=0000000000000000
SIGIGN_EXPECTED=0000000001001000  # SIGPIPE and SIGXFSZ only
MSG_ARGC0="bridgekeeper-helper: called without argv[0]; refusing"
MSG_NOT_SOCKET="is not a socket (expected the AF_UNIX socket QEMU passes)"
MSG_NOT_STREAM="is not an AF_UNIX stream or seqpacket socket"

# ---------------------------------------------------------------------------------------------
# Running the helper through bkrun

# mode_setup s|c|r: lib.sh's it_mode, and no WRAP (a check sets WRAP after this when it wants one).
mode_setup() { it_mode "$1"; WRAP=(); }

# run_bk BKRUN-ARGS...: bkrun as the mode's caller (inside WRAP, e.g. unshare); sets IT_RC,
# IT_OUT (the result line) and IT_ERR (the helper's stderr, exact bytes).
run_bk() { it_run "${AS[@]}" "${WRAP[@]}" "$BKRUN" "$@"; }

# it_summarise TEXT: TEXT for a FAIL line; long text as its first line plus its size.
it_summarise() {
    local n
    n=$(printf '%s' "$1" | wc -c)
    if [ "$n" -le 300 ]; then it_show "$1"; return; fi
    printf '%s... (%d bytes, %d lines)' "$(it_show "$(printf '%s' "$1" | head -n 1 | head -c 200)")" "$n" "$(printf '%s' "$1" | grep -c '')"
}

# expect_stderr EXACT: the helper's stderr is EXACT plus a newline ("" = nothing at all).
expect_stderr() {
    local want=$1
    [ -z "$want" ] || want+=$'\n'
    [ "$want" == "$IT_ERR" ] || it_problem "expected stderr '$(it_show "$want")', got '$(it_summarise "$IT_ERR")'"
}

# expect_stderr_line ERE: stderr is exactly one line matching the anchored ERE.
expect_stderr_line() {
    if [[ $IT_ERR != *$'\n' ]] || [ "$(printf '%s' "$IT_ERR" | grep -c '')" != 1 ] || [[ ! ${IT_ERR%$'\n'} =~ ^$1$ ]]; then
        it_problem "expected stderr one line matching /$(it_show "$1")/, got '$(it_summarise "$IT_ERR")'"
    fi
}

# expect_result attached|refused [KEY=VALUE...]: the bkrun result line and exit status, no TAP
# left. attached: exit 0, one byte 0x00 and one descriptor, the TAP on br0, nothing written into
# it; refused: exit 1 (never a signal), nothing on the socket. KEY=VALUE overrides a field.
expect_result() {
    local expect=$1 kv key want
    shift
    local -A want_fields
    case $expect in
        attached)
            it_expect "bkrun exit status" 0 "$IT_RC"
            want_fields=([result]=attached [helper_exit]=0 [byte]=0 [extra_bytes]=0 [helper_stdout_bytes]=0 [bridge]=br0 [tap_rx_packets]=0 [tap_rx_dropped]=0)
            ;;
        refused)
            it_expect "bkrun exit status" 1 "$IT_RC"
            want_fields=([result]=refused [helper_exit]=1 [byte]=- [extra_bytes]=0 [helper_stdout_bytes]=0 [tap]=-)
            ;;
    esac
    for kv in "$@"; do want_fields[${kv%%=*}]=${kv#*=}; done
    [ "$(printf '%s' "$IT_OUT" | grep -c '')" = 1 ] || it_problem "expected one result line from bkrun, got '$(it_summarise "$IT_OUT")'"
    for key in result helper_exit byte extra_bytes helper_stdout_bytes tap bridge tap_rx_packets tap_rx_dropped; do
        [ -n "${want_fields[$key]+x}" ] || continue
        want=${want_fields[$key]}
        [ "$(it_field "$key")" == "$want" ] || it_problem "expected $key=$want, got $key=$(it_field "$key")"
    done
    it_expect_no_taps
}

# bk_check NAME EXPECT STDERR [KEY=VALUE...] -- BKRUN-ARGS...: one run, all assertions.
bk_check() {
    local name=$1 expect=$2 stderr=$3
    shift 3
    local fields=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do fields+=("$1"); shift; done
    shift
    it_begin
    run_bk "$@"
    expect_stderr "$stderr"
    expect_result "$expect" "${fields[@]}"
    it_end "$name"
}

# helper_trace PREFIX PATH: of the per-process files of `strace -ff -o PREFIX`, the one whose
# process execve'd PATH successfully (the helper's own system calls, one per line).
helper_trace() {
    local f
    for f in "$1".*; do
        grep -qF "execve(\"$2\"," "$f" 2>/dev/null || continue
        grep -qE '^execve\(.*\) = 0$' "$f" && { printf '%s\n' "$f"; return; }
    done
}

# pid_of ARG0: the pid of the process whose argv[0] is exactly ARG0 (empty if none); quiet about
# processes that exit while it looks.
pid_of() {
    local p a0
    for p in /proc/[0-9]*; do
        a0=$(tr '\0' '\n' <"$p/cmdline" 2>/dev/null | head -n 1)
        [ "$a0" = "$1" ] && { printf '%s\n' "${p#/proc/}"; return; }
    done 2>/dev/null
}


# fd_list PID: "N:target" for each open descriptor, socket/pipe inode numbers removed.
fd_list() {
    local f
    for f in /proc/"$1"/fd/*; do
        printf '%s:%s\n' "${f##*/}" "$(readlink "$f" | sed -E 's/:\[[0-9]+\]$//')"
    done | sort -n | tr '\n' ' ' | sed 's/ $//'
}

acl_allow_br0() { it_reset_etc_qemu; it_acl_text 'allow br0\n'; }
acl_allow_all() { it_reset_etc_qemu; it_acl_text 'allow all\n'; }

# =============================================================================================
# 1. Arguments (threat #2)

acl_allow_br0
BIG=$(head -c 131000 /dev/zero | tr '\0' a)   # one argument just under MAX_ARG_STRLEN (128 KiB)
MANY=()                                        # 16384 arguments of 64 bytes: 1 MiB
for ((i = 0; i < 16384; i++)); do MANY+=("--br=$(printf '%059d' "$i")"); done
LONG8192="--br=$(head -c 8187 /dev/zero | tr '\0' b)"   # 8192 bytes: the longest accepted
LONG8193="--br=$(head -c 8188 /dev/zero | tr '\0' b)"
OPTS62=()
BAD_FD_VALUES=('' -1 abc 3abc +3 ' 3' '3 ' 0x3 1e3 99999999999 2147483648 $'\xd9\xa3' $'3\n' $'3\e[1m')
BAD_FD_LABELS=(empty minus-1 abc 3abc plus-3 space-3 3-space hex-0x3 1e3 11-digits int-max-plus-1 arabic-indic-digit 3-newline 3-esc)
BAD_FD_SHOWN=('' -1 abc 3abc +3 ' 3' '3 ' 0x3 1e3 99999999999 2147483648 '\xd9\xa3' '3\x0a' '3\x1b[1m')
for ((i = 0; i < 62; i++)); do OPTS62+=(--use-vnet); done

for m in $IT_MODES; do
    mode_setup $m
    p=t-h-process/$LABEL/argv
    # argc == 0 (polkit CVE-2021-4034). Since Linux 5.18 the kernel turns an empty argv into
    # argv = {""} (argc 1); the helper must still refuse with its argc-0 message, not treat ""
    # as a program name and go on to the usage line.
    bk_check "$p/argc-0" refused "$MSG_ARGC0" -- -0 "$HELPER"
    bk_check "$p/no-options" refused "$MSG_USAGE" -- "$HELPER"
    bk_check "$p/only-use-vnet" refused "$MSG_USAGE" -- "$HELPER" --use-vnet
    bk_check "$p/missing-fd" refused "$MSG_USAGE" -- "$HELPER" --use-vnet --br=br0
    bk_check "$p/missing-br" refused "$MSG_USAGE" -- "$HELPER" --use-vnet --fd={fd}
    bk_check "$p/empty-argument" refused "$MSG_USAGE" -- "$HELPER" --use-vnet "" --fd={fd} --br=br0
    bk_check "$p/br-without-equals" refused "$MSG_USAGE" -- "$HELPER" --use-vnet --fd={fd} --br br0
    bk_check "$p/uppercase-option" refused "$MSG_USAGE" -- "$HELPER" --use-vnet --fd={fd} --BR=br0
    bk_check "$p/single-dash" refused "$MSG_USAGE" -- "$HELPER" -use-vnet --fd={fd} --br=br0
    bk_check "$p/empty-br" refused "bridge name '' is empty" -- "$HELPER" --use-vnet --fd={fd} --br=
    bk_check "$p/non-utf8-br" refused "$(msg_not_allowed '\xff\xfe')" -- "$HELPER" --use-vnet --fd={fd} $'--br=\xff\xfe'
    bk_check "$p/repeated-br-last-wins" attached "" -- "$HELPER" --use-vnet --br=br9 --fd={fd} --br=br0
    bk_check "$p/repeated-fd-last-wins" attached "" -- "$HELPER" --use-vnet --fd=200 --br=br0 --fd={fd}
    bk_check "$p/repeated-fd-last-is-closed" refused "--fd=200 is not an open file descriptor" -- "$HELPER" --fd={fd} --br=br0 --fd=200
    bk_check "$p/repeated-use-vnet" attached "" -- "$HELPER" --use-vnet --use-vnet --fd={fd} --br=br0 --use-vnet
    # Malformed --fd values, each with the escaped form the message must show.
    for ((k = 0; k < ${#BAD_FD_VALUES[@]}; k++)); do
        v=${BAD_FD_VALUES[$k]}
        bk_check "$p/fd-malformed-${BAD_FD_LABELS[$k]}" refused "$(msg_bad_fd "${BAD_FD_SHOWN[$k]}")" \
            -- "$HELPER" --use-vnet --br=br0 "--fd=$v"
    done
    bk_check "$p/fd-int-max-not-open" refused "--fd=2147483647 is not an open file descriptor" -- "$HELPER" --use-vnet --br=br0 --fd=2147483647
    bk_check "$p/fd-leading-zeros" attached "" -- -F 7 "$HELPER" --use-vnet --br=br0 --fd=0007
    # Caps: 64 options and 8192 bytes per argument are accepted; one more of either is not.
    bk_check "$p/64-options" attached "" -- "$HELPER" "${OPTS62[@]}" --fd={fd} --br=br0
    bk_check "$p/65-options" refused "$MSG_USAGE" -- "$HELPER" "${OPTS62[@]}" --use-vnet --fd={fd} --br=br0
    bk_check "$p/argument-8192-bytes" attached "" -- "$HELPER" --use-vnet --fd={fd} "$LONG8192" --br=br0
    bk_check "$p/argument-8193-bytes" refused "$MSG_USAGE" -- "$HELPER" --use-vnet --fd={fd} "$LONG8193" --br=br0
    bk_check "$p/1MiB-in-16384-arguments" refused "$MSG_USAGE" -- "$HELPER" --use-vnet --fd={fd} "${MANY[@]}" --br=br0
    bk_check "$p/1MiB-in-8-arguments" refused "$MSG_USAGE" -- "$HELPER" --use-vnet --fd={fd} \
        "--br=$BIG" "--br=$BIG" "--br=$BIG" "--br=$BIG" "--br=$BIG" "--br=$BIG" "--br=$BIG" "--br=$BIG" --br=br0

    # What --fd names (contract §2: an open, connected AF_UNIX stream or seqpacket socket).
    p=t-h-process/$LABEL/fd-type
    bk_check "$p/closed" refused "--fd=200 is not an open file descriptor" -- -t closed -F 200 "$HELPER" --use-vnet --fd={fd} --br=br0
    bk_check "$p/regular-file" refused "--fd=9 $MSG_NOT_SOCKET" -- -t file -F 9 "$HELPER" --use-vnet --fd={fd} --br=br0
    bk_check "$p/pipe" refused "--fd=9 $MSG_NOT_SOCKET" -- -t pipe -F 9 "$HELPER" --use-vnet --fd={fd} --br=br0
    bk_check "$p/dev-null" refused "--fd=9 $MSG_NOT_SOCKET" -- -t devnull -F 9 "$HELPER" --use-vnet --fd={fd} --br=br0
    bk_check "$p/udp-socket" refused "--fd=9 $MSG_NOT_STREAM" -- -t udp -F 9 "$HELPER" --use-vnet --fd={fd} --br=br0
    bk_check "$p/unix-datagram" refused "--fd=9 $MSG_NOT_STREAM" -- -t unixdgram -F 9 "$HELPER" --use-vnet --fd={fd} --br=br0
    bk_check "$p/unix-listening" refused "--fd=9 is a listening socket, not a connected one" -- -t unixlisten -F 9 "$HELPER" --use-vnet --fd={fd} --br=br0
    bk_check "$p/unix-seqpacket-pair" attached "" -- -t seqpacket -F 9 "$HELPER" --use-vnet --fd={fd} --br=br0
    # An unconnected AF_UNIX stream socket passes the type checks; it must be refused before
    # anything is created, like the listening one (today the TAP is made, then sendmsg fails).
    it_begin
    run_bk -t unixunconnected -F 9 "$HELPER" --use-vnet --fd={fd} --br=br0
    expect_stderr_line '--fd=9 .*'
    [[ $IT_ERR != *TAP* ]] || it_problem "expected a refusal before any TAP was made, got '$(it_show "$IT_ERR")'"
    expect_result refused
    it_end "$p/unix-stream-unconnected"
done

# =============================================================================================
# 2. Environment (threat #1): everything the loader, glibc and the Swift runtime could read,
# pointing into a watched directory. Same outcome as without; strace (root; -u nobody runs the
# setuid/caps copy with its privilege) shows no system call of the helper naming that directory.

W=$BK_SCRATCH/watched
mkdir -m 0755 "$W"
GLIBC_ENV=()
for v in LD_PRELOAD=$W/preload.so LD_LIBRARY_PATH=$W/lib LD_AUDIT=$W/audit.so LD_DEBUG=all \
    LD_DEBUG_OUTPUT=$W/ld-debug LD_PROFILE=bk LD_PROFILE_OUTPUT=$W/profile LD_SHOW_AUXV=1 LD_WARN=1 \
    LD_BIND_NOW=1 LD_BIND_NOT=1 LD_DYNAMIC_WEAK=1 LD_HWCAP_MASK=0 LD_ORIGIN_PATH=$W \
    GCONV_PATH=$W/gconv GLIBC_TUNABLES=glibc.malloc.check=3:glibc.malloc.perturb=85:glibc.malloc.mmap_threshold=4096 \
    MALLOC_CHECK_=3 MALLOC_PERTURB_=85 MALLOC_TRACE=$W/mtrace MALLOC_ARENA_MAX=1 MALLOC_ARENA_TEST=1 \
    MALLOC_MMAP_MAX_=0 MALLOC_MMAP_THRESHOLD_=1 MALLOC_TOP_PAD_=1 MALLOC_TRIM_THRESHOLD_=1 \
    TZ=:$W/tz TZDIR=$W/zoneinfo LANG=xx_XX.UTF-8 LANGUAGE=xx LC_ALL=$W/lc-all LOCPATH=$W/locale \
    NLSPATH=$W/nls/%N HOSTALIASES=$W/hosts RES_OPTIONS=debug LOCALDOMAIN=example.invalid \
    TMPDIR=$W HOME=$W PATH=$W TERM=$W/term OUTPUT_CHARSET=$W/charset POSIXLY_CORRECT=1; do
    GLIBC_ENV+=(-e "$v")
done
for lc in CTYPE NUMERIC TIME COLLATE MONETARY MESSAGES PAPER NAME ADDRESS TELEPHONE MEASUREMENT IDENTIFICATION; do
    GLIBC_ENV+=(-e "LC_$lc=$W/lc-$lc")
done
# SWIFT_* variables. The regular runtime reads them at start-up: every name the binary contains,
# pointing into W, a few with values that switch things on. The Embedded Swift helper (the
# default) has no runtime that reads any: its binary contains no SWIFT_* name at all, and the
# regular runtime's best-known ones are set anyway to show that nothing changes.
swift_value() {
    case $1 in
        SWIFT_BACKTRACE) echo "SWIFT_BACKTRACE=enable=yes,interactive=yes,swift-backtrace=$W/swift-backtrace,output-to=$W/backtrace" ;;
        SWIFT_DEBUG_HELP) echo SWIFT_DEBUG_HELP=YES ;;
        SWIFT_ROOT) echo "SWIFT_ROOT=$W" ;;
        SWIFT_DEBUG_LIB_PRESPECIALIZED_PATH) echo "SWIFT_DEBUG_LIB_PRESPECIALIZED_PATH=$W/prespecialized.so" ;;
        *) echo "$1=$W/$1" ;;
    esac
}
SWIFT_ENV=()
# What is loaded: the debug sections (the dbgsym package's) name C macros such as
# SWIFT_ATTR_SUPPORTS_SENDING from the headers, which nothing reads.
strip --strip-debug -o "$BK_SCRATCH/helper-no-debug" "$BK_HELPER"
SWIFT_NAMES=$(strings -a "$BK_SCRATCH/helper-no-debug" | grep -oE 'SWIFT_[A-Z_]+' | sort -u)
it_begin
if [ "$BK_HELPER_RUNTIME" = embedded ]; then
    [ -z "$SWIFT_NAMES" ] ||
        it_problem "expected no SWIFT_* name in the Embedded Swift helper (strings), got '$(it_summarise "$SWIFT_NAMES")'"
    for name in SWIFT_BACKTRACE SWIFT_DEBUG_HELP SWIFT_ROOT SWIFT_DEBUG_LIB_PRESPECIALIZED_PATH \
        SWIFT_DETERMINISTIC_HASHING SWIFT_DEBUG_ENABLE_COW_CHECKS; do
        SWIFT_ENV+=(-e "$(swift_value "$name")")
    done
    SWIFT_COUNT=$((${#SWIFT_ENV[@]} / 2))
    it_end "t-h-process/env/swift-variable-names-none"
else
    while read -r name; do
        SWIFT_ENV+=(-e "$(swift_value "$name")")
    done < <(strings "$BK_HELPER" | grep -E '^SWIFT_[A-Z_]*[A-Z]$' | sort -u)
    SWIFT_COUNT=$((${#SWIFT_ENV[@]} / 2))
    [ "$SWIFT_COUNT" -ge 10 ] || it_problem "expected at least 10 SWIFT_* names in the binary (strings), got $SWIFT_COUNT"
    it_end "t-h-process/env/swift-variable-names-found"
fi

# env_check NAME ENV-ARRAY-NAME BRIDGE EXPECT STDERR
env_check() {
    local name=$1 bridge=$3 expect=$4 stderr=$5
    local -n envs=$2
    local trace=$BK_SCRATCH/env.trace user=() file touched
    [ "$LABEL" = setuid-root ] || user=(-u nobody)
    rm -f "$trace".*
    it_begin
    it_run strace -ff -qq -s 4096 "${user[@]}" -o "$trace" "$BKRUN" "${envs[@]}" "$HELPER" --use-vnet --fd={fd} "--br=$bridge"
    expect_stderr "$stderr"
    expect_result "$expect"
    file=$(helper_trace "$trace" "$HELPER")
    if [ -z "$file" ]; then
        it_problem "expected the helper's execve in the strace output, got none"
    else
        touched=$(grep -F "$W" "$file" | grep -vE '^(execve|write|read)\(' | head -n 3)
        [ -z "$touched" ] || it_problem "expected no system call of the helper naming $W, got '$(it_summarise "$touched")'"
    fi
    [ -z "$(find "$W" -mindepth 1 | head -n 1)" ] || it_problem "expected nothing created in $W, got '$(find "$W" -mindepth 1 | head -n 3 | tr '\n' ' ')'"
    it_end "$name"
}

# Root running the helper gets no AT_SECURE (no privilege is gained), so ld.so of the dynamically
# linked helper (LINK=dynamic) honours root's own LD_* variables, as for every program root runs;
# that mode checks the rest. The two unprivileged modes get them all (t-linking shows a preload
# library would have run without AT_SECURE).
GLIBC_ENV_ROOT=()
for ((i = 0; i < ${#GLIBC_ENV[@]}; i += 2)); do
    [[ ${GLIBC_ENV[i + 1]} == LD_* ]] || GLIBC_ENV_ROOT+=(-e "${GLIBC_ENV[i + 1]}")
done
readelf -lW "$BK_HELPER" | grep -q 'program interpreter' || GLIBC_ENV_ROOT=("${GLIBC_ENV[@]}")
acl_allow_br0
for m in $IT_MODES; do
    mode_setup $m
    genv=GLIBC_ENV
    [ "$LABEL" != setuid-root ] || genv=GLIBC_ENV_ROOT
    env_check "t-h-process/$LABEL/env/glibc-and-loader/attach" $genv br0 attached ""
    env_check "t-h-process/$LABEL/env/glibc-and-loader/refusal" $genv br9 refused "$(msg_not_allowed br9)"
    env_check "t-h-process/$LABEL/env/swift-runtime/attach" SWIFT_ENV br0 attached ""
    env_check "t-h-process/$LABEL/env/swift-runtime/refusal" SWIFT_ENV br9 refused "$(msg_not_allowed br9)"
done
printf '# t-h-process: environment: %d glibc/loader and %d SWIFT_* variables per run\n' $((${#GLIBC_ENV[@]} / 2)) "$SWIFT_COUNT"

# =============================================================================================
# 3. Process state (threats #3, #5, #6)

CWD=$BK_SCRATCH/cwd
mkdir -m 0755 "$CWD"
it_acl_text 'allow all\n' "$CWD/users.conf"

for m in $IT_MODES; do
    mode_setup $m
    p=t-h-process/$LABEL/state
    acl_allow_br0
    # fds 0, 1, 2 closed, each and all: attach works; a refusal goes to stderr if it is open
    # (to /dev/null if not) and never to the socket or the TAP.
    for closed in 0 1 2 012; do
        args=()
        for ((i = 0; i < ${#closed}; i++)); do args+=(-c "${closed:$i:1}"); done
        bk_check "$p/fd-${closed}-closed/attach" attached "" -- "${args[@]}" "$HELPER" --use-vnet --fd={fd} --br=br0
        msg=$(msg_not_allowed br9)
        [[ $closed != *2* ]] || msg=""
        bk_check "$p/fd-${closed}-closed/refusal" refused "$msg" -- "${args[@]}" "$HELPER" --use-vnet --fd={fd} --br=br9
    done
    # The caller had 0, 1 or 2 closed before making the socketpair, so the socket IS fd 0, 1 or
    # 2. A refusal must not be written into it (QEMU would read the message as the data byte).
    for fd in 0 1 2; do
        bk_check "$p/socket-is-fd-$fd/attach" attached "" -- -F "$fd" "$HELPER" --use-vnet --fd={fd} --br=br0
        msg=$(msg_not_allowed br9)
        [ "$fd" != 2 ] || msg=""
        bk_check "$p/socket-is-fd-$fd/refusal" refused "$msg" -- -F "$fd" "$HELPER" --use-vnet --fd={fd} --br=br9
    done
    # 1000 inherited descriptors without FD_CLOEXEC, the socket below, among and above them.
    bk_check "$p/1000-inherited-fds/socket-below" attached "" -- -n 1000 "$HELPER" --use-vnet --fd={fd} --br=br0
    bk_check "$p/1000-inherited-fds/socket-among" attached "" -- -F 500 -n 1000 "$HELPER" --use-vnet --fd={fd} --br=br0
    bk_check "$p/1000-inherited-fds/socket-above" attached "" -- -F 1010 -n 1000 "$HELPER" --use-vnet --fd={fd} --br=br0
    # Signals: SIGPIPE/SIGTERM/SIGHUP/SIGINT ignored and every signal blocked on entry.
    bk_check "$p/signals-ignored-and-blocked" attached "" -- -i 1 -i 2 -i 13 -i 15 -b "$HELPER" --use-vnet --fd={fd} --br=br0
    # umask 000 and a hostile cwd.
    bk_check "$p/umask-000" attached "" -- -u 000 "$HELPER" --use-vnet --fd={fd} --br=br0
    it_reset_etc_qemu
    it_acl_text 'include users.conf\n'
    bk_check "$p/cwd-with-users.conf/relative-include" refused \
        "access denied by acl file: /etc/qemu/bridge.conf:1: include path 'users.conf' is relative; write an absolute path" \
        -- -d "$CWD" "$HELPER" --use-vnet --fd={fd} --br=br0
    acl_allow_br0
done

# Signals pending at execve (blocked in the caller, then sent to itself): the helper resets the
# mask, so a signal that is still pending then is delivered at its default action. It happens
# before the helper does anything (nothing is created), but it is a signal death the helper can
# avoid: set every disposition to SIG_IGN first (that discards pending signals), then unblock,
# then restore SIG_DFL.
acl_allow_br0
for m in $IT_MODES; do
    mode_setup $m
    bk_check "t-h-process/$LABEL/state/pending-SIGTERM-at-exec" attached "" -- -b -k 15 "$HELPER" --use-vnet --fd={fd} --br=br0
done
mode_setup s
for sig in 14 34; do
    bk_check "t-h-process/$LABEL/state/pending-signal-$sig-at-exec" attached "" -- -b -k "$sig" "$HELPER" --use-vnet --fd={fd} --br=br0
done
# Pending signals whose default action is to ignore them change nothing.
for sig in 13 17 28; do
    bk_check "t-h-process/$LABEL/state/pending-signal-$sig-ignored-by-default" attached "" -- -b -k "$sig" "$HELPER" --use-vnet --fd={fd} --br=br0
done

# An ITIMER_REAL survives execve. Armed for a few hundred microseconds it fires before main()
# (the process is killed by SIGALRM before the helper ran any code: nothing was created); once
# main() has started the helper disarms it (the pause-point check below proves that). Each run
# must be one of the two, never a TAP left or a message.
for m in $IT_MODES; do
    mode_setup $m
    it_begin
    killed=0 attached=0
    for us in 200 200 500 500 1000 1000 2000 2000 5000; do
        run_bk -T "$us" "$HELPER" --use-vnet --fd={fd} --br=br0
        case $(it_field helper_exit) in
            0) attached=$((attached + 1)); expect_result attached ;;
            142) killed=$((killed + 1)); expect_result refused helper_exit=142 ;;  # SIGALRM
            *) it_problem "expected attached or killed by SIGALRM with a ${us} us timer, got '$(it_show "$IT_OUT")'" ;;
        esac
        expect_stderr ""
    done
    it_end "t-h-process/$LABEL/state/itimer-real-armed-at-exec"
    printf '# t-h-process: %s: ITIMER_REAL 200-5000 us at execve: %d attached, %d killed by SIGALRM before main\n' "$LABEL" "$attached" "$killed"
done

# Pause points (test-hooks build): what the helper holds after the drop and before the send.
# paused_check NAME EXPECTED-FDS BKRUN-ARGS...: runs HOOKS through both pause points; at each
# one, the descriptors, the signal state, cwd and umask; holds it stopped 0.5 s (an ITIMER_REAL
# armed by the caller must not fire); then the attach must complete.
paused_check() {
    local name=$1 fds=$2
    shift 2
    local out=$BK_SCRATCH/paused.out err=$BK_SCRATCH/paused.err pid="" i point switches=-1
    timeout -k 2 30 "${AS[@]}" "$BKRUN" "$@" "$HOOKS" --use-vnet --fd={fd} --br=br0 </dev/null >"$out" 2>"$err" &
    local client=$!
    for ((i = 0; i < 100; i++)); do
        pid=$(pid_of "$HOOKS")
        [ -n "$pid" ] && break
        sleep 0.1
    done
    it_begin
    for point in dropped before-send; do
        if [ -z "$pid" ] || ! wait_stopped "$pid" "$switches"; then
            it_problem "expected the helper to stop itself at '$point' within 10 s, got pid '$pid'"
            break
        fi
        it_expect "descriptors at $point" "$fds" "$(fd_list "$pid")"
        it_expect "SigBlk at $point" $ZERO "$(it_status_field "$pid" SigBlk)"
        it_expect "SigIgn at $point" $SIGIGN_EXPECTED "$(it_status_field "$pid" SigIgn)"
        it_expect "SigCgt at $point" $ZERO "$(it_status_field "$pid" SigCgt)"
        it_expect "SigPnd at $point" $ZERO "$(it_status_field "$pid" SigPnd)"
        it_expect "ShdPnd at $point" $ZERO "$(it_status_field "$pid" ShdPnd)"
        it_expect "cwd at $point" / "$(readlink "/proc/$pid/cwd")"
        it_expect "umask at $point" 0077 "$(it_status_field "$pid" Umask)"
        sleep 0.5
        switches=$(it_switches "$pid")
        kill -CONT "$pid"
    done
    [ -n "$pid" ] && [ "$(it_state "$pid")" = T ] && kill -KILL "$pid"
    wait "$client"
    IT_RC=$?
    IT_OUT=$(cat "$out")
    IT_ERR=$(cat "$err"; printf x)
    IT_ERR=${IT_ERR%x}
    expect_stderr ""
    expect_result attached
    it_end "$name"
}

acl_allow_br0
for m in $IT_MODES; do
    mode_setup $m
    paused_check "t-h-process/$LABEL/pause/1000-inherited-fds-only-std-socket-tun" \
        "0:/dev/null 1:pipe 2:pipe 3:/dev/net/tun 500:socket" -F 500 -n 1000
    # A closed fd 0 is /dev/full in the setuid and caps modes: glibc itself fills closed standard
    # descriptors of an AT_SECURE process (0: /dev/full write-only, 1 and 2: /dev/null
    # read-only) before main(); run by root, the helper opens /dev/null.
    std0=/dev/full
    [ $m != r ] || std0=/dev/null
    paused_check "t-h-process/$LABEL/pause/std-fds-closed-signals-blocked-ignored-itimer-cwd-umask" \
        "0:$std0 1:/dev/null 2:/dev/null 3:/dev/net/tun 9:socket" \
        -F 9 -c 0 -c 1 -c 2 -i 1 -i 13 -i 15 -i 32 -i 33 -b -T 300000 -u 000 -d "$CWD"
done

# =============================================================================================
# 4. rlimits (threat #4): allow all, then four nested includes whose innermost file denies br0.
# br0 is never attached: refused with one clear line, never a signal death.

acl_nested() {
    it_reset_etc_qemu
    mkdir -m 0755 /etc/qemu/l1 /etc/qemu/l1/l2 /etc/qemu/l1/l2/l3
    it_acl_text 'allow all\ninclude /etc/qemu/l1/a.conf\n'
    it_acl_text '# level 1\ninclude /etc/qemu/l1/l2/b.conf\n' /etc/qemu/l1/a.conf
    it_acl_text '# level 2\ninclude /etc/qemu/l1/l2/l3/c.conf\n' /etc/qemu/l1/l2/b.conf
    it_acl_text '# level 3\ninclude /etc/qemu/l1/l2/l3/d.conf\n' /etc/qemu/l1/l2/l3/c.conf
    if [ "${1:-}" = padded ]; then
        # The innermost file is large (700 KB of comments before the deny), so reading it needs memory.
        { for ((i = 1; i <= 20000; i++)); do printf '# comment line %05d padding padding\n' "$i"; done; printf 'deny br0\n'; } |
            bk_acl /etc/qemu/l1/l2/l3/d.conf
        NESTED_DENY=$(msg_denied /etc/qemu/l1/l2/l3/d.conf:20001 'deny br0' br0)
    else
        it_acl_text '# level 4\ndeny br0\n' /etc/qemu/l1/l2/l3/d.conf
        NESTED_DENY=$(msg_denied /etc/qemu/l1/l2/l3/d.conf:2 'deny br0' br0)
    fi
}
# Either the rule decides, or the walk fails for lack of descriptors and says so. (The helper
# raises the soft limit to 64 when it can; a caps copy, or root without CAP_SYS_RESOURCE in its
# bounding set as on these machines, cannot raise the hard limit.) With RLIMIT_NOFILE 3 the
# helper cannot read /proc/self/uid_map (the user-namespace check) and says so; argv no longer
# depends on /proc (the helper saves it before the Swift runtime starts).
NESTED_OR_EMFILE='(access denied by acl file: /.*|cannot ask the kernel whether this is a user namespace): Too many open files'
# With 3 descriptors a dynamically linked helper never starts: the loader's one line instead.
if it_helper_is_dynamic "$BK_HELPER"; then NESTED_OR_EMFILE="($NESTED_OR_EMFILE|$IT_LDSO_NOFILE_RE)"; fi

acl_nested
for m in $IT_MODES; do
    mode_setup $m
    for n in 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do
        it_begin
        run_bk -N "$n" "$HELPER" --use-vnet --fd={fd} --br=br0
        if [ "$IT_ERR" != "$NESTED_DENY"$'\n' ]; then expect_stderr_line "$NESTED_OR_EMFILE"; fi
        if [[ $IT_ERR =~ $IT_LDSO_NOFILE_RE ]]; then
            expect_result refused helper_exit=127   # the loader's exit status: the helper never ran
        else
            expect_result refused
        fi
        it_end "t-h-process/$LABEL/rlimit/nofile-$n/br0-never-attached"
    done
done

# RLIMIT_AS: below the size execve itself needs the kernel kills the new image before any
# helper code runs (SIGSEGV at exec); find that floor, then sweep from it. Just above the floor
# a large include cannot be read: the Swift allocator's failure is a fatal error (SIGABRT and a
# multi-line stack trace on stderr), not a one-line refusal with exit 1.
mode_setup r
AS_FLOOR=""
for ((mib = 4; mib <= 64; mib++)); do
    run_bk -M $((mib * 1048576)) "$HELPER"
    if [ "$(it_field helper_exit)" = 1 ]; then AS_FLOOR=$mib; break; fi
done
it_begin
[ -n "$AS_FLOOR" ] || it_problem "expected the helper to run with RLIMIT_AS <= 64 MiB, got no run that did"
it_end "t-h-process/rlimit/as-floor-found"
printf '# t-h-process: RLIMIT_AS floor for execve of the helper: %s MiB\n' "${AS_FLOOR:-none}"
if [ -n "$AS_FLOOR" ]; then
    AS_STEPS=()
    for mib in $AS_FLOOR $((AS_FLOOR + 1)) $((AS_FLOOR + 2)) $((AS_FLOOR + 3)) $((AS_FLOOR + 4)) 16 20 30 40 60 80 100 150 200; do
        [ "$mib" -ge "$AS_FLOOR" ] && [[ " ${AS_STEPS[*]} " != *" $mib "* ]] && AS_STEPS+=("$mib")
    done
    for variant in small padded; do
        acl_nested "$variant"
        for m in $IT_MODES; do
            mode_setup $m
            for mib in "${AS_STEPS[@]}"; do
                it_begin
                run_bk -M $((mib * 1048576)) "$HELPER" --use-vnet --fd={fd} --br=br0
                # Below 64 MiB the helper refuses at once (unless it could raise the limit, as
                # setuid root with CAP_SYS_RESOURCE can; then the nested deny decides).
                if [ "$IT_ERR" != "$NESTED_DENY"$'\n' ]; then
                    if [ "$mib" -lt 64 ]; then
                        expect_stderr_line "the address-space \\(ulimit -v\\) limit of $((mib * 1024)) KiB is below the 65536 KiB bridgekeeper-helper needs; raise it"
                    else
                        expect_stderr_line 'access denied by acl file: .*'
                    fi
                fi
                expect_result refused
                it_end "t-h-process/$LABEL/rlimit/as-${mib}MiB-$variant-acl/br0-never-attached"
            done
        done
    done
fi

# =============================================================================================
# 5. Output (threat #17): bytes outside printable ASCII, and \ and ', are escaped; one line.

for m in $IT_MODES; do
    mode_setup $m
    p=t-h-process/$LABEL/output
    acl_allow_all
    bk_check "$p/name-newline" refused "bridge name 'br\\x0a0' is not a valid interface name: it contains whitespace (\\x0a)" \
        -- "$HELPER" --use-vnet --fd={fd} $'--br=br\n0'
    bk_check "$p/name-carriage-return" refused "bridge name 'br\\x0d0' is not a valid interface name: it contains whitespace (\\x0d)" \
        -- "$HELPER" --use-vnet --fd={fd} $'--br=br\r0'
    bk_check "$p/name-esc" refused "$(msg_missing_bridge '\x1b[31mx')" -- "$HELPER" --use-vnet --fd={fd} $'--br=\e[31mx'
    bk_check "$p/name-c1-csi" refused "$(msg_missing_bridge 'br\xc2\x9b0')" -- "$HELPER" --use-vnet --fd={fd} $'--br=br\xc2\x9b0'
    bk_check "$p/name-result=allow" refused "$(msg_missing_bridge 'result=allow')" -- "$HELPER" --use-vnet --fd={fd} --br=result=allow
    bk_check "$p/name-backslash" refused "$(msg_missing_bridge 'br\x5c0')" -- "$HELPER" --use-vnet --fd={fd} '--br=br\0'
    bk_check "$p/name-quote" refused "$(msg_missing_bridge 'br\x270')" -- "$HELPER" --use-vnet --fd={fd} "--br=br'0"
    bk_check "$p/name-del" refused "$(msg_missing_bridge 'br\x7f')" -- "$HELPER" --use-vnet --fd={fd} $'--br=br\x7f'
    bk_check "$p/name-invalid-utf8" refused "$(msg_missing_bridge '\xff')" -- "$HELPER" --use-vnet --fd={fd} $'--br=\xff'
    bk_check "$p/fd-value-esc" refused "$(msg_bad_fd '3\x1b[1m')" -- "$HELPER" --use-vnet --br=br0 $'--fd=3\e[1m'
    it_acl_text 'deny br\xc2\x9b0\nallow all\n'
    bk_check "$p/deny-rule-c1-name" refused "$(msg_denied /etc/qemu/bridge.conf:1 'deny br\xc2\x9b0' 'br\xc2\x9b0')" \
        -- "$HELPER" --use-vnet --fd={fd} $'--br=br\xc2\x9b0'
    it_acl_text 'allow br0\n\e[31mAllow br0\n'
    bk_check "$p/acl-keyword-esc" refused \
        "access denied by acl file: /etc/qemu/bridge.conf:2: unknown keyword '\\x1b[31mAllow' (expected allow, deny, include or a # comment)" \
        -- "$HELPER" --use-vnet --fd={fd} --br=br0
    it_acl_text 'allow br0\nAllow\e]0;owned\a br0\n'
    bk_check "$p/acl-keyword-osc-title" refused \
        "access denied by acl file: /etc/qemu/bridge.conf:2: unknown keyword 'Allow\\x1b]0;owned\\x07' (expected allow, deny, include or a # comment)" \
        -- "$HELPER" --use-vnet --fd={fd} --br=br0
    it_acl_text 'allow br0 \xc2\x9b\n'
    bk_check "$p/acl-trailing-c1" refused \
        "access denied by acl file: /etc/qemu/bridge.conf:1: unexpected '\\xc2\\x9b' after the bridge name (one bridge per rule)" \
        -- "$HELPER" --use-vnet --fd={fd} --br=br0
    it_acl_text 'allow br0 user=\e[1m\n'
    bk_check "$p/acl-qualifier-esc" refused \
        "access denied by acl file: /etc/qemu/bridge.conf:1: user name '\\x1b[1m' contains a control byte" \
        -- "$HELPER" --use-vnet --fd={fd} --br=br0
    it_acl_text 'allow br0\0\e[2J\nresult=allow\n'
    bk_check "$p/acl-nul-byte" refused "access denied by acl file: /etc/qemu/bridge.conf:1: the line contains a NUL byte" \
        -- "$HELPER" --use-vnet --fd={fd} --br=br0
    it_acl_text 'allow br0\nresult=allow\n'
    bk_check "$p/acl-keyword-result=allow" refused \
        "access denied by acl file: /etc/qemu/bridge.conf:2: unknown keyword 'result=allow' (expected allow, deny, include or a # comment)" \
        -- "$HELPER" --use-vnet --fd={fd} --br=br0
done

# =============================================================================================
# 6. Namespaces (threat #18)

acl_allow_all
# As nobody in a new user namespace (mapped root or not) plus a new network namespace: the
# setuid bit is not honoured (root is not mapped there) and file capabilities only count inside
# that namespace.
MSG_USERNS="bridgekeeper-helper was started inside a user namespace, where its privilege does not reach the host's network; run QEMU outside the user namespace"
# uid 0 or CAP_NET_ADMIN there is no privilege over the host: the helper must say so before
# anything else, not try to work as "root" (it would then fail on whatever came first: the 0600
# tun node, or the ACL's owner, which shows as the overflow uid 65534).
for m in s c; do
    for userns in -Urn -Un; do
        for tun in 0600 0666; do
            mode_setup $m
            bk_tun_mode $tun
            WRAP=(unshare "$userns")
            bk_check "t-h-process/$LABEL/userns/unshare$userns-tun-$tun" refused "$MSG_USERNS" -- "$HELPER" --use-vnet --fd={fd} --br=br0
        done
    done
done
# A second network namespace made by root: br0 exists only in the outer one; the helper looks
# only in the caller's namespace.
mode_setup r
WRAP=(unshare -n)
bk_check "t-h-process/setuid-root/netns/bridge-only-in-outer-namespace" refused "$(msg_missing_bridge br0)" -- "$HELPER" --use-vnet --fd={fd} --br=br0
for m in s c; do
    mode_setup $m
    AS=()
    WRAP=(unshare -n "${NOBODY[@]}")
    bk_check "t-h-process/$LABEL/netns/bridge-only-in-outer-namespace" refused "$(msg_missing_bridge br0)" -- "$HELPER" --use-vnet --fd={fd} --br=br0
done

# =============================================================================================
# 7. The ACL path is compiled in (threat #19): hard links and copies elsewhere, next to an
# etc/qemu/bridge.conf that allows everything, and argv[0] pointing there, still read
# /etc/qemu/bridge.conf.

ALT=$BK_SCRATCH/alt
mkdir -m 0755 "$ALT" "$ALT/bin" "$ALT/bin/etc" "$ALT/bin/etc/qemu" "$ALT/etc" "$ALT/etc/qemu" "$ALT/libexec"
for f in "$ALT/etc/qemu/bridge.conf" "$ALT/bin/etc/qemu/bridge.conf" "$ALT/bin/bridge.conf" "$ALT/libexec/bridge.conf"; do
    it_acl_text 'allow all\n' "$f"
done
ln "$H_SETUID" "$ALT/bin/bk-hardlink"
install -o root -g root -m 4755 "$BK_HELPER" "$ALT/libexec/bk-copy"
install -o root -g root -m 0755 "$BK_HELPER" "$ALT/libexec/bk-copy-caps"
setcap cap_net_admin+ep "$ALT/libexec/bk-copy-caps"

relocation_cases() {
    local expect=$1 stderr=$2 tag=$3
    mode_setup s
    bk_check "t-h-process/$LABEL/relocation/$tag/hard-link" "$expect" "$stderr" -- "$ALT/bin/bk-hardlink" --use-vnet --fd={fd} --br=br0
    bk_check "t-h-process/$LABEL/relocation/$tag/copy" "$expect" "$stderr" -- "$ALT/libexec/bk-copy" --use-vnet --fd={fd} --br=br0
    bk_check "t-h-process/$LABEL/relocation/$tag/argv0-elsewhere" "$expect" "$stderr" -- -a "$ALT/bin/qemu-bridge-helper" "$HELPER" --use-vnet --fd={fd} --br=br0
    bk_check "t-h-process/$LABEL/relocation/$tag/argv0-relative-cwd-elsewhere" "$expect" "$stderr" -- -d "$ALT/bin" -a ./qemu-bridge-helper "$HELPER" --use-vnet --fd={fd} --br=br0
    mode_setup c
    bk_check "t-h-process/$LABEL/relocation/$tag/copy" "$expect" "$stderr" -- "$ALT/libexec/bk-copy-caps" --use-vnet --fd={fd} --br=br0
    mode_setup r
    bk_check "t-h-process/$LABEL/relocation/$tag/hard-link" "$expect" "$stderr" -- "$ALT/bin/bk-hardlink" --use-vnet --fd={fd} --br=br0
    bk_check "t-h-process/$LABEL/relocation/$tag/argv0-relative-cwd-elsewhere" "$expect" "$stderr" -- -d "$ALT/bin" -a ./qemu-bridge-helper "$HELPER" --use-vnet --fd={fd} --br=br0
}
it_reset_etc_qemu
it_acl_text 'allow br1\n'
relocation_cases refused "$(msg_not_allowed br0)" system-acl-allows-br1-only
it_acl_text 'allow br0\n'
for f in "$ALT/etc/qemu/bridge.conf" "$ALT/bin/etc/qemu/bridge.conf" "$ALT/bin/bridge.conf" "$ALT/libexec/bridge.conf"; do
    it_acl_text 'deny all\n' "$f"
done
relocation_cases attached "" system-acl-allows-br0

# Under strace: the hard-linked copy never opens, stats or reads anything under $ALT's ACL
# files. (Run by root, the Swift runtime's crash backtracer also probes for swift-backtrace next
# to the executable before main(): reported as a note, not a failure.)
for m in s r; do
    mode_setup $m
    user=()
    [ $m = r ] || user=(-u nobody)
    trace=$BK_SCRATCH/reloc.trace
    rm -f "$trace".*
    it_begin
    it_run strace -ff -qq -s 4096 "${user[@]}" -o "$trace" "$BKRUN" "$ALT/bin/bk-hardlink" --use-vnet --fd={fd} --br=br0
    expect_stderr ""
    expect_result attached
    file=$(helper_trace "$trace" "$ALT/bin/bk-hardlink")
    [ -n "$file" ] || it_problem "expected the helper's execve in the strace output, got none"
    alt_calls=$(grep -F "$ALT" "${file:-/dev/null}" | grep -vE '^(execve\(|read\(|readlink\("/proc/self/exe")')
    acl_calls=$(grep -E 'bridge\.conf|/etc/qemu' <<<"$alt_calls")
    [ -z "$acl_calls" ] || it_problem "expected no system call on an ACL file under $ALT, got '$(it_summarise "$acl_calls")'"
    it_end "t-h-process/$LABEL/relocation/hard-link-never-touches-other-acl-files"
    if [ -n "$alt_calls" ]; then
        printf '# t-h-process: %s: other system calls naming the hard link'"'"'s directory (before main): %s\n' "$LABEL" \
            "$(sed -E 's/^([a-z0-9_]+)\(AT_FDCWD, "([^"]*)".*/\1 \2/; s/^([a-z0-9_]+)\("([^"]*)".*/\1 \2/' <<<"$alt_calls" | sed "s|$ALT|ALT|" | tr '\n' ';' | sed 's/;$//')"
    fi
done

it_summary
