#!/bin/bash
# The ACL reading path at volume and at scale (issue 7, items 4, 6 and 8; contract §5):
#   - total volume: 200 includes of 1 MiB of `allow all` stop at the directive limit (100,000
#     allow/deny/include lines), 200 includes of 1 MiB of comments at the byte limit (4 MiB),
#     each in one line, within 2 s, also under RLIMIT_AS 200000 KiB; both limits at the limit
#     (read, attached) and one past it (refused), the directive limit with the longest names
#     under RLIMIT_AS = the helper's 64 MiB floor (the worst-case memory fits);
#   - include path forms: a trailing '/' is a syntax error (stock: ENOTDIR, skipped), `//`
#     reads the same checked object, '.' and '..' components are refused; an include the
#     caller may not read is skipped whatever it is (file, FIFO, device, directory);
#   - 10,000 per-user includes (/etc/qemu/users/uNNNNN.conf, root:gid 0640, one gid per file):
#     the user who can read one of them gets exactly its rules; nobody gets none; root reads
#     them all and stops at 256 files; ours is timed against the stock helper on the same tree
#     (the best of 5 runs each, printed; at most 1.5x stock, a guard against the 6x of a walk
#     from / for each include); a directory verified once and reused
#     for later includes is still the verified object when a root process keeps exchanging it
#     with a user-owned directory (never attached).
# Modes: s = setuid copy run by the caller (/dev/net/tun 0600), c = file-capability copy
# (0666), r = root running the setuid copy (0600). Every check asserts the exit status, the
# exact stderr line, no byte and no descriptor on the socket, an empty stdout, no TAP left, no
# signal death and no timeout (bkrun's result line).
set -u
# shellcheck source=Tests/Integration/lib.sh
source "$(dirname "$0")/lib.sh"
bk_enter_sandbox "$@"
it_setup
it_precondition tool-python3 command -v python3 || it_abort
it_precondition stock-helper test -x "$BK_STOCK" || it_abort

it_install_helpers
it_build_tools bkrun b-client b-swap
BKRUN=$BK_SCRATCH/bin/bkrun
BCLIENT=$BK_SCRATCH/bin/b-client
BSWAP=$BK_SCRATCH/bin/b-swap
STOCK=$(bk_install "$BK_STOCK" stock-setuid setuid)
bk_bridge br0

CONF=/etc/qemu/bridge.conf
P="access denied by acl file: "
MIB=1048576
NOT_ALLOWED=$(msg_not_allowed br0)
# The one caller gid that can read /etc/qemu/users/u00042.conf.
USER42=(setpriv --reuid=65534 --regid=20042 --clear-groups --)

# mode_select MODE [AS...]: lib.sh's it_mode, with another caller than nobody where given (not
# in mode r, whose caller is root).
mode_select() {
    local mode=$1
    shift
    it_mode "$mode"
    if [ "$mode" != r ] && [ $# -gt 0 ]; then AS=("$@"); fi
}

# expect_bkrun attached|refused STDERR: bkrun's exit status and result line, the exact stderr
# (one line, or "" for none), no TAP left, no timeout or signal death.
expect_bkrun() {
    local expect=$1 stderr=$2
    it_expect_finished
    [ -z "$stderr" ] || stderr+=$'\n'
    it_expect stderr "$stderr" "$IT_ERR"
    case $expect in
        attached)
            it_expect "bkrun exit status" 0 "$IT_RC"
            it_expect_match "result line" 'result=attached helper_exit=0 helper_stdout_bytes=0 tap=[^ ]+ bridge=br0 byte=0 extra_bytes=0 .*' "${IT_OUT%$'\n'}"
            ;;
        refused)
            it_expect "bkrun exit status" 1 "$IT_RC"
            it_expect_match "result line" 'result=refused helper_exit=1 helper_stdout_bytes=0 tap=- bridge=- byte=- extra_bytes=0 .*' "${IT_OUT%$'\n'}"
            ;;
    esac
    it_expect_no_taps
}

# w_try NAME EXPECT STDERR [BKRUN-OPTION...]: one helper run for br0 in the current mode.
w_try() {
    local name=$1 expect=$2 stderr=$3
    shift 3
    it_begin
    it_run "${AS[@]}" "$BKRUN" "$@" "$HELPER" --use-vnet '--fd={fd}' --br=br0
    expect_bkrun "$expect" "$stderr"
    it_end "t-acl-walk/$LABEL/$name"
}

# w_timed_try NAME MAX_MS EXPECT STDERR [BKRUN-OPTION...]: w_try that also takes at most MAX_MS.
w_timed_try() {
    local name=$1 max_ms=$2 expect=$3 stderr=$4 start ms
    shift 4
    it_begin
    start=$(date +%s%N)
    it_run "${AS[@]}" "$BKRUN" "$@" "$HELPER" --use-vnet '--fd={fd}' --br=br0
    ms=$((($(date +%s%N) - start) / 1000000))
    expect_bkrun "$expect" "$stderr"
    [ "$ms" -le "$max_ms" ] || it_problem "expected the run to take at most $max_ms ms, got $ms ms"
    it_end "t-acl-walk/$LABEL/$name"
    printf '# t-acl-walk/%s/%s: %d ms\n' "$LABEL" "$name" "$ms"
}

# w_comments BYTES: BYTES bytes of comment lines (1024-byte lines, the last one shorter).
w_comments() {
    local bytes=$1 line
    line=$(printf '%1023s' '' | tr ' ' '#')
    { yes "$line" | head -n $((bytes / 1024)); [ $((bytes % 1024)) = 0 ] || printf '%*s\n' $((bytes % 1024 - 1)) '' | tr ' ' '#'; }
}

# w_lines COUNT LINE: COUNT copies of LINE, each followed by a newline.
w_lines() { yes "$2" | head -n "$1"; }

# ---------------------------------------------------------------------------------------------
# 1. Total volume (item 4).

# 200 includes of one 1 MiB file of `allow all` (hard links: 200 names, one file on disk; the
# loader reads each include anyway). Line 100000 of i1 is the 100,001st directive.
sc_200_allow_all() {
    it_reset_etc_qemu
    mkdir -m 0755 /etc/qemu/big
    w_lines $((MIB / 10)) 'allow all' | bk_acl /etc/qemu/big/i1.conf
    local i text=""
    for ((i = 2; i <= 200; i++)); do ln /etc/qemu/big/i1.conf "/etc/qemu/big/i$i.conf"; done
    for ((i = 1; i <= 200; i++)); do text+="include /etc/qemu/big/i$i.conf"$'\n'; done
    printf '%s' "$text" | bk_acl
}
# The same with 1 MiB of comments: the fourth include crosses 4 MiB.
sc_200_comments() {
    it_reset_etc_qemu
    mkdir -m 0755 /etc/qemu/big
    w_comments $MIB | bk_acl /etc/qemu/big/c1.conf
    local i text="allow br0"$'\n'
    for ((i = 2; i <= 200; i++)); do ln /etc/qemu/big/c1.conf "/etc/qemu/big/c$i.conf"; done
    for ((i = 1; i <= 200; i++)); do text+="include /etc/qemu/big/c$i.conf"$'\n'; done
    printf '%s' "$text" | bk_acl
}
# Exactly TOTAL bytes: the top-level file allows br0 and includes a, b, c (1 MiB of comments
# each) and d, which fills up to TOTAL.
sc_total_bytes() {
    local total=$1 top
    it_reset_etc_qemu
    top="allow br0"$'\n'"include /etc/qemu/a.conf"$'\n'"include /etc/qemu/b.conf"$'\n'"include /etc/qemu/c.conf"$'\n'"include /etc/qemu/d.conf"$'\n'
    printf '%s' "$top" | bk_acl
    local f
    for f in a b c; do w_comments $MIB | bk_acl "/etc/qemu/$f.conf"; done
    w_comments $((total - 3 * MIB - ${#top})) | bk_acl /etc/qemu/d.conf
}
# 100,000 + EXTRA directives: `allow br0` and three includes, then 33,332 (+ EXTRA in the last)
# deny rules with 15-byte names in each included file (the most memory per rule).
sc_directives() {
    local extra=$1 f
    it_reset_etc_qemu
    it_acl_text 'allow br0\ninclude /etc/qemu/a.conf\ninclude /etc/qemu/b.conf\ninclude /etc/qemu/c.conf\n'
    w_lines 33332 'deny abcdefghijklmno' | bk_acl /etc/qemu/a.conf
    w_lines 33332 'deny abcdefghijklmno' | bk_acl /etc/qemu/b.conf
    w_lines $((33332 + extra)) 'deny abcdefghijklmno' | bk_acl /etc/qemu/c.conf
}

AS_200000=$((200000 * 1024))
AS_FLOOR=$((64 * MIB))
DIRECTIVE_LIMIT_200="${P}/etc/qemu/big/i1.conf:100000: more than 100000 rules and includes in total"
BYTE_LIMIT_200="${P}$CONF:5: more than 4194304 bytes of ACL files in total"

sc_200_allow_all
for mode in s c r; do
    mode_select "$mode"
    w_timed_try volume/200-includes-of-1MiB-allow-all 2000 refused "$DIRECTIVE_LIMIT_200"
    w_timed_try volume/200-includes-of-1MiB-allow-all-ulimit-v-200000 2000 refused "$DIRECTIVE_LIMIT_200" -M "$AS_200000"
done
sc_200_comments
for mode in s c r; do
    mode_select "$mode"
    w_timed_try volume/200-includes-of-1MiB-comments 2000 refused "$BYTE_LIMIT_200"
    w_timed_try volume/200-includes-of-1MiB-comments-ulimit-v-200000 2000 refused "$BYTE_LIMIT_200" -M "$AS_200000"
done
sc_total_bytes $((4 * MIB))
for mode in s c r; do
    mode_select "$mode"
    w_try volume/exactly-4MiB-in-total-attached attached ""
    w_try volume/exactly-4MiB-in-total-at-the-64MiB-floor-attached attached "" -M "$AS_FLOOR"
done
sc_total_bytes $((4 * MIB + 1))
for mode in s c r; do
    mode_select "$mode"
    w_try volume/4MiB-plus-1-in-total-refused refused "${P}$CONF:5: more than 4194304 bytes of ACL files in total"
done
sc_directives 0
for mode in s c r; do
    mode_select "$mode"
    w_try volume/100000-directives-attached attached ""
    w_try volume/100000-directives-at-the-64MiB-floor-attached attached "" -M "$AS_FLOOR"
done
sc_directives 1
for mode in s c r; do
    mode_select "$mode"
    w_try volume/100001-directives-refused refused "${P}/etc/qemu/c.conf:33333: more than 100000 rules and includes in total" -M "$AS_FLOOR"
done

# Sanity of the fixtures (a wrong size would make the limit checks meaningless).
it_begin
sc_total_bytes $((4 * MIB))
it_expect "total size of the exactly-4-MiB tree" $((4 * MIB)) "$(cat $CONF /etc/qemu/[abcd].conf | wc -c)"
sc_directives 0
it_expect "directives in the 100,000 tree" 100000 "$(cat $CONF /etc/qemu/[abc].conf | grep -c -E '^(allow|deny|include) ')"
sc_200_allow_all
it_expect "lines of the 1 MiB allow-all file" 104857 "$(grep -c '^allow all$' /etc/qemu/big/i1.conf)"
it_end "t-acl-walk/fixtures/volume"

# ---------------------------------------------------------------------------------------------
# 2. Include path forms (item 6). /etc/qemu/d/lab.conf allows br0; the top-level file only
# includes it under another spelling, so reading it means attached.

sc_path() {
    it_reset_etc_qemu
    mkdir -m 0755 /etc/qemu/d /etc/qemu/x
    it_acl_text 'allow br0\n' /etc/qemu/d/lab.conf
    it_acl_text "# spelled $1\ninclude $1\n"
}
DOTS="'.' and '..' are not allowed in ACL paths"
PATH_CASES=(
"/etc/qemu/d/lab.conf|attached|"
"/etc/qemu/d/lab.conf/|refused|${P}$CONF:2: include refused: /etc/qemu/d/lab.conf is not a directory"
"/etc/qemu/d/|attached|"
"/etc/qemu/d//lab.conf|attached|"
"//etc//qemu//d//lab.conf|attached|"
"/etc/qemu/d/./lab.conf|refused|${P}$CONF:2: include refused: /etc/qemu/d/./lab.conf: $DOTS"
"/etc/qemu/x/../d/lab.conf|refused|${P}$CONF:2: include refused: /etc/qemu/x/../d/lab.conf: $DOTS"
"/etc/qemu/d/lab.conf/.|refused|${P}$CONF:2: include refused: /etc/qemu/d/lab.conf/.: $DOTS"
)
for row in "${PATH_CASES[@]}"; do
    IFS='|' read -r spelled expect stderr <<<"$row"
    sc_path "$spelled"
    for mode in s c r; do
        mode_select "$mode"
        w_try "path/include-$spelled" "$expect" "$stderr"
    done
done
# `//` is decided on the object: an unsafe directory under a doubled slash is still refused,
# and named in its single-slash form.
sc_path '/etc/qemu//x//lab.conf'
it_acl_text 'allow br0\n' /etc/qemu/x/lab.conf
chmod 0777 /etc/qemu/x
for mode in s c r; do
    mode_select "$mode"
    w_try "path/doubled-slash-to-a-world-writable-directory" refused \
        "${P}$CONF:2: include refused: /etc/qemu/x is writable by group or others (mode 0777); run chmod go-w on it"
done

# A file the caller may not read is skipped whatever it is (as the stock helper's fopen skips
# it): the kernel says so without anything being opened. A readable FIFO or device is still
# refused (t-h-files). The top-level file allows br0, so skipping means attached.
sc_unreadable() {
    it_reset_etc_qemu
    it_acl_text 'allow br0\ninclude /etc/qemu/private\n'
    case $1 in
        fifo) mkfifo -m 0600 /etc/qemu/private ;;
        device) mknod -m 0600 /etc/qemu/private c 1 5 ;;
        directory) mkdir -m 0700 /etc/qemu/private ;;
        file) it_acl_text 'deny br0\n' /etc/qemu/private; chmod 0600 /etc/qemu/private ;;
    esac
}
for kind in file fifo device directory; do
    sc_unreadable "$kind"
    for mode in s c; do
        mode_select "$mode"
        w_try "unreadable-$kind-include-skipped" attached ""
    done
done

# ---------------------------------------------------------------------------------------------
# 3. 10,000 per-user includes (item 8). Every file but u00042.conf says `deny br0`, so reading
# one the caller should not see would refuse.

sc_users() {
    it_reset_etc_qemu
    mkdir -m 0755 /etc/qemu/users
    python3 - <<'EOF'
import os
lines = []
for i in range(1, 10001):
    path = "/etc/qemu/users/u%05d.conf" % i
    with open(path, "w") as f:
        f.write("allow br0\n" if i == 42 else "deny br0\n")
    os.chown(path, 0, 20000 + i)
    os.chmod(path, 0o640)
    lines.append("include %s\n" % path)
with open("/etc/qemu/bridge.conf", "w") as f:
    f.write("# one include per user\n" + "".join(lines))
os.chmod("/etc/qemu/bridge.conf", 0o644)
EOF
}
sc_users
it_begin
it_expect "per-user files" 10000 "$(find /etc/qemu/users -name 'u*.conf' -user root -perm 0640 | wc -l)"
it_expect "group of u00042.conf" 20042 "$(stat -c %g /etc/qemu/users/u00042.conf)"
it_expect "includes in bridge.conf" 10000 "$(grep -c '^include /etc/qemu/users/u[0-9]*\.conf$' $CONF)"
it_end "t-acl-walk/fixtures/users"

for mode in s c; do
    mode_select "$mode" "${USER42[@]}"
    w_try users/10000-includes-gid-20042-reads-its-own attached ""
    mode_select "$mode"
    w_try users/10000-includes-nobody-reads-none refused "$NOT_ALLOWED"
done
mode_select r
w_try users/10000-includes-root-reads-all-and-stops-at-256-files refused "${P}$CONF:257: more than 256 files included in total"

# The kernel is asked about the 10,000 files at once, on up to 4 threads (one per CPU the caller
# may run on), before the includes are expanded in order. Whichever thread asked, the answers
# are the caller's: one reader of two files, u00042 (allow) and u09999 (deny), at the two ends
# of the list, gets the deny; each reads its own; with no thread to spare (RLIMIT_NPROC) or one
# CPU allowed (taskset) the answers are the same.
USER42_9999=(setpriv --reuid=65534 --regid=20042 --groups=29999 --)
USER9999=(setpriv --reuid=65534 --regid=29999 --clear-groups --)
for mode in s c; do
    mode_select "$mode" "${USER42_9999[@]}"
    w_try users/10000-includes-reader-of-the-first-and-last-gets-the-deny refused "$(msg_denied /etc/qemu/users/u09999.conf:1 'deny br0' br0)"
    mode_select "$mode" "${USER9999[@]}"
    w_try users/10000-includes-reader-of-the-last-gets-its-deny refused "$(msg_denied /etc/qemu/users/u09999.conf:1 'deny br0' br0)"
    # bkrun and the helper are the caller's two processes: no room for a thread. (RLIMIT_NPROC
    # counts every process of the uid on the machine: a uid nothing else runs as.)
    mode_select "$mode" setpriv --reuid=64999 --regid=20042 --clear-groups -- prlimit --nproc=2:2 --
    w_try users/10000-includes-no-thread-to-spare-reads-its-own attached ""
    mode_select "$mode" setpriv --reuid=64999 --regid=20042 --groups=29999 -- prlimit --nproc=2:2 --
    w_try users/10000-includes-no-thread-to-spare-gets-the-deny refused "$(msg_denied /etc/qemu/users/u09999.conf:1 'deny br0' br0)"
    mode_select "$mode" taskset -c 0 "${USER42[@]}"
    w_try users/10000-includes-one-cpu-allowed-reads-its-own attached ""
    mode_select "$mode" taskset -c 0 "${USER42_9999[@]}"
    w_try users/10000-includes-one-cpu-allowed-gets-the-deny refused "$(msg_denied /etc/qemu/users/u09999.conf:1 'deny br0' br0)"
done

# What the threads do, seen by strace (root runs the setuid copy, so it reads every file): the
# kernel is asked about each of the 10,000 files exactly once before the first of them is
# opened, by min(CPUs allowed, 4) threads, and every thread but the helper's own has exited by
# then (the includes are expanded in order by one thread, as before). Each extra thread is
# pinned to its own CPU, not the one the helper's thread was on, and asks through its own
# descriptor of the directory, opened as "." from the verified one (shared, the kernel's
# reference counting on one open file made two threads no faster than one).
it_begin
cpus=$(nproc)
threads_expected=$((cpus < 4 ? cpus : 4))
[ "$cpus" -ge 2 ] || it_problem "this check needs at least 2 CPUs to show more than one thread; this machine has $cpus"
trace=$BK_SCRATCH/strace-users.txt
bk_tun_mode 0600
it_run strace -f -qq -o "$trace" -e trace=execve,faccessat2,openat,exit,clone3,clone,sched_setaffinity "$BKRUN" "$H_SETUID" --use-vnet '--fd={fd}' --br=br0
it_expect "exit status" 1 "$IT_RC"
it_expect "stderr" "${P}$CONF:257: more than 256 files included in total"$'\n' "$IT_ERR"
helper_pid=$(grep -F "execve(\"$H_SETUID\"" "$trace" | grep ' = 0$' | awk '{print $1; exit}')
[ -n "$helper_pid" ] || it_problem "expected the helper's execve in the trace, got none"
first_open=$(grep -nE '^[0-9]+ +openat\(-?[0-9]+, "u[0-9]{5}\.conf"' "$trace" | head -n 1 | cut -d: -f1)
[ -n "$first_open" ] || it_problem "expected the helper to open u00001.conf, got no such openat"
probe=$(head -n "$((${first_open:-1} - 1))" "$trace" | grep -E '^[0-9]+ +faccessat2\(-?[0-9]+, "u[0-9]{5}\.conf"')
# (10,001: the first include's own check in order, before its open, is the last of them.)
it_expect "faccessat2 calls on per-user files before the first is opened" 10001 "$(grep -c . <<<"$probe")"
it_expect "distinct per-user files asked about" 10000 "$(grep -oE '"u[0-9]{5}\.conf"' <<<"$probe" | sort -u | wc -l)"
it_expect "threads that asked (min(CPUs, 4))" "$threads_expected" "$(awk '{print $1}' <<<"$probe" | sort -u | wc -l)"
# asked_through TID: the descriptors TID's faccessat2 calls above went through, space-separated.
asked_through() { awk -v t="$1" '$1 == t' <<<"$probe" | sed -E 's/^[0-9]+ +faccessat2\(([0-9]+),.*/\1/' | sort -u | tr '\n' ' '; }
extra_tids=$(awk -v m="$helper_pid" '$1 != m {print $1}' <<<"$probe" | sort -u)
main_used=$(asked_through "$helper_pid")
for tid in $extra_tids; do
    # ("exit(0) = ?", or "exit(0 <unfinished ...>" when another thread's line comes between.)
    line=$(grep -nE "^$tid +exit\(0[ )]" "$trace" | head -n 1 | cut -d: -f1)
    if [ -z "$line" ]; then
        it_problem "expected thread $tid to exit, got no exit in the trace"
    elif [ "$line" -gt "${first_open:-0}" ]; then
        it_problem "expected thread $tid to exit (trace line $line) before the first include is opened (line $first_open)"
    fi
    # (Lines of two threads can interleave: "<unfinished ...>" ends a call's line, its result
    # comes on a later "resumed" line; these patterns need only the start of the call.)
    it_expect "O_PATH descriptors of the directory thread $tid opened as \".\"" 1 "$(grep -cE "^$tid +openat\(-?[0-9]+, \"\.\", [^)]*O_PATH" "$trace")"
    from=$(grep -E "^$tid +openat\(-?[0-9]+, \"\.\"" "$trace" | sed -E 's/^[0-9]+ +openat\(([0-9]+),.*/\1/')
    used=$(asked_through "$tid")
    it_expect "descriptors the helper's thread asked through (the one thread $tid opened \".\" from)" "$from " "$main_used"
    it_expect "descriptors thread $tid asked through (one)" 1 "$(wc -w <<<"$used")"
    [ "$used" != "$main_used" ] || it_problem "expected thread $tid to ask through its own descriptor, got the helper thread's ($used)"
done
# glibc applies a thread's affinity from the creating thread, right after the clone: the first
# sched_setaffinity naming each thread is its pinning (a later one, to the helper thread's CPU,
# moves a thread that had not finished when the helper's thread ran out of names).
pinned=""
for tid in $extra_tids; do
    first=$(grep -E "^$helper_pid +sched_setaffinity\($tid, " "$trace" | head -n 1)
    [[ $first =~ \[([0-9]+)\] ]] || { it_problem "expected thread $tid to be pinned to one CPU when created, got '${first:-no sched_setaffinity}'"; continue; }
    pinned+="${BASH_REMATCH[1]} "
done
it_expect "CPUs the extra threads were pinned to (one each)" "$((threads_expected - 1))" "$(wc -w <<<"$pinned")"
it_expect "distinct CPUs among them" "$((threads_expected - 1))" "$(tr ' ' '\n' <<<"$pinned" | grep . | sort -u | wc -l)"
it_end "t-acl-walk/setuid-root/users/probe-threads-ask-once-and-exit-before-the-includes-are-read"

# With one CPU allowed (taskset), no thread is started: the helper's own asks about all 10,000.
it_begin
trace=$BK_SCRATCH/strace-users-one-cpu.txt
it_run taskset -c 0 strace -f -qq -o "$trace" -e trace=execve,faccessat2,clone3,clone,sched_setaffinity "$BKRUN" "$H_SETUID" --use-vnet '--fd={fd}' --br=br0
it_expect "exit status" 1 "$IT_RC"
it_expect "stderr" "${P}$CONF:257: more than 256 files included in total"$'\n' "$IT_ERR"
helper_pid=$(grep -F "execve(\"$H_SETUID\"" "$trace" | grep ' = 0$' | awk '{print $1; exit}')
it_expect "threads that asked with one CPU allowed" 1 "$(grep -E '^[0-9]+ +faccessat2\(-?[0-9]+, "u[0-9]{5}\.conf"' "$trace" | awk '{print $1}' | sort -u | wc -l)"
it_expect "threads the helper started or pinned" "" "$(grep -E "^$helper_pid +(clone3?|sched_setaffinity)\(" "$trace")"
it_end "t-acl-walk/setuid-root/users/one-cpu-allowed-no-probe-thread"

# A pinned thread cannot be moved by the scheduler, so a CPU taken by a real-time task would hold
# it (and the join) until the kernel's real-time throttling lets it run, up to about 1 s. Once the
# helper's thread has run out of names, it moves each unfinished thread to its own CPU. Here a
# SCHED_FIFO busy loop holds the last CPU for 3 s (it stops itself) while the gid-20042 user
# calls the setuid copy 4 times: each call must take well under the throttling period.
it_begin
last_cpu=$(($(nproc) - 1))
if [ "$last_cpu" -lt 1 ]; then
    it_problem "this check needs at least 2 CPUs; this machine has $(nproc)"
else
    bk_tun_mode 0600
    chrt -f 10 taskset -c "$last_cpu" bash -c 'end=$((SECONDS + 3)); while [ "$SECONDS" -lt "$end" ]; do :; done' &
    hog=$!
    sleep 0.2
    [[ $(chrt -p "$hog" 2>&1) == *"policy: SCHED_FIFO"* ]] || it_problem "expected the busy loop to run as SCHED_FIFO, chrt -p says: $(chrt -p "$hog" 2>&1 | tr '\n' ' ')"
    [ "$(taskset -pc "$hog" 2>&1 | sed 's/.*: //')" = "$last_cpu" ] || it_problem "expected the busy loop on CPU $last_cpu only, taskset -p says: $(taskset -pc "$hog" 2>&1)"
    slowest=0
    for ((call = 1; call <= 4; call++)); do
        start=$(date +%s%N)
        it_run "${USER42[@]}" "$BKRUN" "$H_SETUID" --use-vnet '--fd={fd}' --br=br0
        ms=$((($(date +%s%N) - start) / 1000000))
        [ "$ms" -le "$slowest" ] || slowest=$ms
        it_expect "exit status (call $call)" 0 "$IT_RC"
        it_expect "stderr (call $call)" "" "$IT_ERR"
        it_expect_no_taps
    done
    wait "$hog" || it_problem "expected the real-time busy loop to run its 3 s and exit 0, got status $?"
    [ "$slowest" -le 300 ] || it_problem "expected each call to take at most 300 ms with CPU $last_cpu held by a real-time task, the slowest took $slowest ms"
    echo "# t-acl-walk/users: CPU $last_cpu held by a SCHED_FIFO loop: slowest of 4 calls $slowest ms"
fi
it_end "t-acl-walk/setuid/users/real-time-task-on-a-pinned-cpu-holds-nothing-up"

# Timing against the stock helper on the same tree, as the gid-20042 user in setuid mode: the
# best of 5 alternating runs each (the machine is shared; the best run is the least disturbed).
# /dev/net/tun 0666: the stock helper opens it after giving up root.
mode_select s "${USER42[@]}"
bk_tun_mode 0666
best_ours="" best_stock=""
it_begin
for ((round = 1; round <= 5; round++)); do
    for which in ours stock; do
        binary=$HELPER
        [ "$which" = stock ] && binary=$STOCK
        start=$(date +%s%N)
        it_run "${AS[@]}" "$BKRUN" "$binary" --use-vnet '--fd={fd}' --br=br0
        us=$((($(date +%s%N) - start) / 1000))
        it_expect "$which exit status (round $round)" 0 "$IT_RC"
        it_expect "$which stderr (round $round)" "" "$IT_ERR"
        it_expect_no_taps
        if [ "$which" = ours ]; then
            [ -z "$best_ours" ] || [ "$us" -lt "$best_ours" ] && best_ours=$us
        else
            [ -z "$best_stock" ] || [ "$us" -lt "$best_stock" ] && best_stock=$us
        fi
    done
done
# A regression guard, not the benchmark (make bench): before each directory was verified once,
# ours took 6x stock; on a loaded machine the best-of-5 ratio still varies by +-30 %.
[ $((best_ours * 2)) -le $((best_stock * 3)) ] || it_problem "expected ours to take at most 1.5x stock's time, got ours $best_ours us, stock $best_stock us"
it_end "t-acl-walk/setuid/users/10000-includes-at-most-1.5x-stock"
printf '# t-acl-walk/users: 10,000 per-user includes, best of 5: ours %d us, stock %d us, ratio %s\n' \
    "$best_ours" "$best_stock" "$(awk -v a="$best_ours" -v b="$best_stock" 'BEGIN { printf "%.2f", a / b }')"

# More directories than the cache keeps (16, and a quarter of RLIMIT_NOFILE): 40 includes, each
# from its own directory, the last one allowing br0; also with RLIMIT_NOFILE 12 (soft = hard,
# which a caps copy cannot raise), where the cache keeps 3 and the rest is walked as before.
sc_many_directories() {
    it_reset_etc_qemu
    local i text=""
    for ((i = 1; i <= 40; i++)); do
        mkdir -m 0755 "/etc/qemu/d$i"
        it_acl_text "# directory $i\n" "/etc/qemu/d$i/x.conf"
        text+="include /etc/qemu/d$i/x.conf\n"
    done
    it_acl_text 'allow br0\n' /etc/qemu/d40/x.conf
    it_acl_text "$text"
}
sc_many_directories
for mode in s c r; do
    mode_select "$mode"
    w_try cache/40-directories-attached attached ""
    w_try cache/40-directories-nofile-12-attached attached "" -N 12
done

# A cached directory under a race: the top-level file allows all and includes
# /etc/qemu/sub/a.conf, then /etc/qemu/sub/x.conf (which the second include reaches through
# the directory the first one verified). A root process keeps exchanging /etc/qemu/sub with a
# user-owned directory whose files allow br0. The root side's x.conf denies br0; whatever the
# interleaving, br0 is never attached.
race_cached_directory() {
    it_reset_etc_qemu
    mkdir -m 0755 /etc/qemu/sub /etc/qemu/sub.user
    it_acl_text 'allow all\ninclude /etc/qemu/sub/a.conf\ninclude /etc/qemu/sub/x.conf\n'
    it_acl_text '# root a\n' /etc/qemu/sub/a.conf
    it_acl_text 'deny br0\n' /etc/qemu/sub/x.conf
    it_acl_text 'allow br0\n' /etc/qemu/sub.user/a.conf
    it_acl_text 'allow br0\n' /etc/qemu/sub.user/x.conf
    chown -R 65534:65534 /etc/qemu/sub.user
}
RACE_DENY="${P}/etc/qemu/sub/x.conf:1: 'deny br0' refuses bridge 'br0'"
RACE_USER="${P}$CONF:2: include refused: /etc/qemu/sub is owned by uid 65534, not root; ACL files and their directories must be root's"
RACE_CHANGED="${P}$CONF:2: include refused: /etc/qemu/sub changed while it was being checked"
for mode in s c r; do
    mode_select "$mode"
    race_cached_directory
    runs=1000
    "$BSWAP" exchange /etc/qemu/sub.user /etc/qemu/sub >"$BK_SCRATCH/swap.out" 2>&1 &
    swap_pid=$!
    timeout -k 2 120 "${AS[@]}" "$BCLIENT" repeat "$runs" "$HELPER" --use-vnet --br=br0 '--fd={fd}' \
        >"$BK_SCRATCH/race.out" 2>"$BK_SCRATCH/race.err"
    rc=$?
    kill -TERM "$swap_pid"
    wait "$swap_pid"
    swap_rc=$?
    it_begin
    it_expect "b-client exit status" 0 "$rc"
    it_expect "b-client stderr" "" "$(cat "$BK_SCRATCH/race.err")"
    it_expect "swapper exit status" 0 "$swap_rc"
    summary=$(tail -n 1 "$BK_SCRATCH/race.out")
    [[ $summary == "runs=$runs leaks=0 "* ]] || it_problem "expected 'runs=$runs leaks=0 ...', got '$(it_show "$summary")'"
    total=0
    declare -A seen=()
    while IFS=' ' read -r count key; do
        [[ $count =~ ^[0-9]+$ ]] || continue
        total=$((total + count))
        printf '# t-acl-walk/%s/race-cached-directory: %6d x %s\n' "$LABEL" "$count" "$key"
        msg=${key#exit=1 fd=0 stdout=0 stderr=}
        msg=${msg%'\n'}
        case $msg in
            "$RACE_DENY" | "$RACE_USER" | "$RACE_CHANGED") seen[$msg]=1 ;;
            *) it_problem "expected only refusals with an allowed message, got $count x '$key'" ;;
        esac
    done <"$BK_SCRATCH/race.out"
    it_expect "outcomes counted" "$runs" "$total"
    [ -n "${seen[$RACE_DENY]:-}" ] || it_problem "expected the outcome '$RACE_DENY' at least once, got none"
    [ -n "${seen[$RACE_USER]:-}" ] || it_problem "expected the outcome '$RACE_USER' at least once (the race was not exercised), got none"
    unset seen
    it_expect_no_taps
    it_end "t-acl-walk/$LABEL/race-cached-directory-${runs}-runs-never-attached"
done

it_summary
