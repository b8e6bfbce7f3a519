#!/bin/bash
# The TAP inventory and the mark (issue 9, items 4 and 5): every TAP the helper makes carries
# `bridgekeeper uid=UID rule=FILE:LINE` in its interface alias, in all three install modes, and
# its holder cannot change it (TUNSETOWNER changes the tun owner, not the mark; setting an alias
# is refused without CAP_NET_ADMIN). `bridgekeeper taps` shows holders (pid and command) and
# marks in text and JSON; `--reap` deletes persistent TAPs nobody holds (made persistent through
# the received descriptor, or by `ip tuntap add`), never a held one, and needs root.
set -u
# shellcheck source=Tests/Integration/lib.sh
source "$(dirname "$0")/lib.sh"
bk_enter_sandbox "$@"
it_setup
it_install_helpers
it_precondition tool-python3 command -v python3 || it_abort

bk_bridge br0
it_reset_etc_qemu
# The granting rule is on line 2: the mark must name that line, not the first one.
it_acl_text '# lab bridges\nallow br0\n'
RULE=/etc/qemu/bridge.conf:2

# taps_json [AS...]: runs `taps --json` (as root unless a prefix is given) and sets TJ_RC, TJ_OUT
# (the document), TJ_ERR.
taps_json() {
    it_run "$@" "$CLI" taps --json
    TJ_RC=$IT_RC TJ_OUT=$IT_OUT TJ_ERR=$IT_ERR
}

# tap_line NAME: one TAP of the last taps_json document as `key=value` text, "absent" if not
# listed, "bad-document: ..." if the document is not the documented shape (exact key sets).
tap_line() {
    python3 - "$1" "$TJ_OUT" <<'EOF'
import json, sys
name, text = sys.argv[1], sys.argv[2]
try:
    doc = json.loads(text)
except ValueError as error:
    print("bad-document: not JSON: %s" % error); sys.exit()
if set(doc) != {"taps", "unreadable_processes"}:
    print("bad-document: top-level keys %s" % sorted(doc)); sys.exit()
keys = {"name", "ifindex", "bridge", "owner_uid", "persistent", "holders", "mark"}
for tap in doc["taps"]:
    if set(tap) != keys:
        print("bad-document: keys %s" % sorted(tap)); sys.exit()
    if tap["name"] != name:
        continue
    holders = ",".join("%d/%s" % (h["pid"], h["comm"]) for h in tap["holders"]) or "none"
    mark = tap["mark"]
    if mark is None:
        mark = "null"
    elif set(mark) == {"uid", "rule"}:
        mark = "uid=%d rule=%s" % (mark["uid"], mark["rule"])
    else:
        mark = "foreign=%s" % json.dumps(mark.get("foreign"))
    print("ifindex=%s bridge=%s owner_uid=%s persistent=%s holders=%s mark=%s" % (
        tap["ifindex"], tap["bridge"], tap["owner_uid"], str(tap["persistent"]).lower(), holders, mark))
    sys.exit()
print("absent")
EOF
}

# tap_row NAME: the line of `taps` (text, as root) for NAME, or "absent".
tap_row() {
    "$CLI" taps 2>/dev/null | awk -v n="$1" '$1 == n { print; found = 1 } END { if (!found) print "absent" }'
}

# The root run's note, when some process (here or on the CI host) cannot be read even by root.
NOTE_ROOT='(bridgekeeper taps: the descriptors of [0-9]+ process(es)? could not be read, so their holds are not shown
)?'
IT_TAPS_EXPECTED=""

# =============================================================================================
# 1. A held TAP: its holder (the client's pid and command) and its mark, in every mode. Then
# TUNSETOWNER through the descriptor changes the tun owner but not the mark, and the holder
# cannot set the alias itself.

for m in $IT_MODES; do
    it_mode $m
    p=t-taps/$LABEL
    it_hold_start "${AS[@]}" "$CLI" try --helper "$HELPER" --br br0 --hold-until-eof
    tap=$(it_field tap)
    client=$(it_pid_of "$CLI")
    it_begin
    it_expect "try result" attached "$(it_field result)"
    [ -n "$client" ] || it_problem "expected the client's pid, got none"
    index=$(cat "/sys/class/net/$tap/ifindex" 2>/dev/null)
    taps_json
    it_expect "taps --json exit status" 0 "$TJ_RC"
    it_expect_match "taps --json stderr" "$NOTE_ROOT" "$TJ_ERR"
    it_expect "taps --json entry" \
        "ifindex=$index bridge=br0 owner_uid=$CALLER_UID persistent=false holders=$client/bridgekeeper mark=uid=$CALLER_UID rule=$RULE" \
        "$(tap_line "$tap")"
    it_expect "the alias the kernel stores" "bridgekeeper uid=$CALLER_UID rule=$RULE" "$(cat "/sys/class/net/$tap/ifalias")"
    it_expect_match "taps row" "$tap +$index +br0 +$CALLER_UID +no +$client/bridgekeeper +uid=$CALLER_UID rule=$RULE" "$(tap_row "$tap")"
    # The holder may not change the alias: it needs CAP_NET_ADMIN.
    if [ "$m" != r ]; then
        "${AS[@]}" ip link set dev "$tap" alias forged 2>/dev/null &&
            it_problem "expected the caller to be refused setting the alias, got success"
        it_expect "the alias after the holder's attempt" "bridgekeeper uid=$CALLER_UID rule=$RULE" "$(cat "/sys/class/net/$tap/ifalias")"
    fi
    it_hold_stop
    it_expect "client exit status" 0 "$IT_RC"
    it_expect_no_taps
    it_end "$p/held-tap-shows-holder-and-mark"

    # TUNSETOWNER to another uid through the received descriptor: no privilege needed.
    it_hold_start "${AS[@]}" "$CLI" try --helper "$HELPER" --br br0 --hold-until-eof --set-owner "$OTHER_UID"
    tap=$(it_field tap)
    client=$(it_pid_of "$CLI")
    it_begin
    it_expect "try result" attached "$(it_field result)"
    it_expect "try owner field" "$OTHER_UID" "$(it_field owner)"
    index=$(cat "/sys/class/net/$tap/ifindex" 2>/dev/null)
    taps_json
    it_expect "taps --json entry" \
        "ifindex=$index bridge=br0 owner_uid=$OTHER_UID persistent=false holders=$client/bridgekeeper mark=uid=$CALLER_UID rule=$RULE" \
        "$(tap_line "$tap")"
    it_hold_stop
    it_expect "client exit status" 0 "$IT_RC"
    it_expect_no_taps
    it_end "$p/set-owner-changes-owner-not-mark"
done

# A rule in a file whose path does not fit in the alias: the mark keeps the path's end after
# "...", within 254 bytes, and the kernel stores it whole (the helper reads it back).
LONGDIR=/etc/qemu/$(printf 'd%.0s' {1..60})/$(printf 'e%.0s' {1..60})/$(printf 'f%.0s' {1..60})/$(printf 'g%.0s' {1..60})/$(printf 'h%.0s' {1..60})
mkdir -p "$LONGDIR"
chmod -R 0755 /etc/qemu
it_acl_text 'allow br0\n' "$LONGDIR/inc.conf"
it_acl_text "include $LONGDIR/inc.conf\n"
it_mode s
it_hold_start "${AS[@]}" "$CLI" try --helper "$HELPER" --br br0 --hold-until-eof
tap=$(it_field tap)
it_begin
it_expect "try result" attached "$(it_field result)"
alias=$(cat "/sys/class/net/$tap/ifalias")
[ ${#alias} -le 254 ] || it_problem "expected an alias of at most 254 bytes, got ${#alias}"
[ ${#LONGDIR} -gt 254 ] || it_problem "test bug: expected a path longer than 254 bytes, got ${#LONGDIR}"
it_expect_match "alias" "bridgekeeper uid=65534 rule=\.\.\.[defgh/]+/inc\.conf:1" "$alias"
taps_json
it_expect_match "taps --json mark" ".* mark=uid=65534 rule=\.\.\.[defgh/]+/inc\.conf:1" "$(tap_line "$tap")"
tail=$(tap_line "$tap" | sed 's/.*rule=\.\.\.//; s/:1$//')
case "$LONGDIR/inc.conf" in
    *"$tail") ;;
    *) it_problem "expected the rule to end the ACL path '$LONGDIR/inc.conf', got '...$tail'" ;;
esac
it_hold_stop
it_expect "client exit status" 0 "$IT_RC"
it_expect_no_taps
it_end "t-taps/long-rule-path-is-elided-not-cut"
it_reset_etc_qemu
it_acl_text '# lab bridges\nallow br0\n'

# An owner the kernel cannot represent ((uid_t)-1): one line, exit 1, nothing on stdout, and
# the received TAP is closed (so removed).
it_mode s
it_begin
it_run "${AS[@]}" "$CLI" try --helper "$HELPER" --br br0 --set-owner 4294967295
it_expect "exit status" 1 "$IT_RC"
it_expect stdout "" "$IT_OUT"
it_expect stderr "Error: TUNSETOWNER 4294967295: Invalid argument"$'\n' "$IT_ERR"
it_expect_no_taps
it_end "t-taps/set-owner-invalid-uid"

# =============================================================================================
# 2. Persistent TAPs and --reap: one made persistent through the received descriptor (the
# client exits), one held; then TAPs made without bridgekeeper (ip tuntap): persistent and
# free, persistent and held (a python holder attaches to it), with a foreign alias.

it_mode s
# hold_raw NAME: a process that attaches to the existing TAP NAME (TUNSETIFF) and holds it.
# With "move" it then leaves for a new network namespace of its own, still attached.
HOLD_RAW='
import ctypes, fcntl, os, struct, sys
fd = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(fd, 0x400454ca, struct.pack("16sH", sys.argv[1].encode(), 0x0002 | 0x1000))
if sys.argv[2:] == ["move"] and ctypes.CDLL(None, use_errno=True).unshare(0x40000000) != 0:
    sys.exit("unshare: errno %d" % ctypes.get_errno())
print("result=attached tap=%s pid=%d" % (sys.argv[1], os.getpid()), flush=True)
sys.stdin.read()
'

it_begin
it_run "${AS[@]}" "$CLI" try --helper "$HELPER" --br br0 --persist
ptap=$(it_field tap)
it_expect "try --persist exit status" 0 "$IT_RC"
pindex=$(cat "/sys/class/net/$ptap/ifindex" 2>/dev/null)
taps_json
it_expect "taps --json entry" \
    "ifindex=$pindex bridge=br0 owner_uid=65534 persistent=true holders=none mark=uid=65534 rule=$RULE" "$(tap_line "$ptap")"
it_expect_match "taps row" "$ptap +$pindex +br0 +65534 +yes +- +uid=65534 rule=$RULE" "$(tap_row "$ptap")"
it_end "t-taps/persistent-through-descriptor-has-no-holder"

# A TAP of the same name held in another network namespace is another TAP: not a holder here.
it_hold_start unshare --net sh -c "ip tuntap add $ptap mode tap && exec python3 -c '$HOLD_RAW' $ptap"
other_fd=$IT_HOLD_FD other_pid=$IT_HOLD_PID
it_begin
it_expect_match "other namespace's holder" "result=attached tap=$ptap pid=[0-9]+" "$IT_OUT"
taps_json
it_expect "taps --json entry" \
    "ifindex=$pindex bridge=br0 owner_uid=65534 persistent=true holders=none mark=uid=65534 rule=$RULE" "$(tap_line "$ptap")"
it_end "t-taps/same-name-in-another-namespace-is-not-a-holder"
it_hold_close "$other_fd"
wait "$other_pid"

it_hold_start "${AS[@]}" "$CLI" try --helper "$HELPER" --br br0 --hold-until-eof
htap=$(it_field tap)
hold_fd=$IT_HOLD_FD hold_pid=$IT_HOLD_PID
ip tuntap add bkfree0 mode tap
ip link set bkfree0 alias "vm web"
ip tuntap add bkheld0 mode tap user 65533
it_hold_start python3 -c "$HOLD_RAW" bkheld0
raw_fd=$IT_HOLD_FD raw_pid=$IT_HOLD_PID
raw=$(it_field pid)
it_begin
it_expect "raw holder" "result=attached tap=bkheld0 pid=$raw" "$IT_OUT"
taps_json
it_expect "foreign, persistent, free" \
    "ifindex=$(cat /sys/class/net/bkfree0/ifindex) bridge=None owner_uid=None persistent=true holders=none mark=foreign=\"vm web\"" \
    "$(tap_line bkfree0)"
it_expect "unmarked, persistent, held" \
    "ifindex=$(cat /sys/class/net/bkheld0/ifindex) bridge=None owner_uid=65533 persistent=true holders=$raw/python3 mark=null" \
    "$(tap_line bkheld0)"
it_end "t-taps/tuntap-made-taps-are-unmarked-or-foreign"

# --reap as root: the two persistent TAPs nobody holds go, in ifindex order; the held ones stay.
free_index=$(cat /sys/class/net/bkfree0/ifindex)
it_begin
it_run "$CLI" taps --reap
it_expect "exit status" 0 "$IT_RC"
it_expect stdout "reaped $ptap (ifindex $pindex)"$'\n'"reaped bkfree0 (ifindex $free_index)"$'\n' "$IT_OUT"
it_expect stderr "" "$IT_ERR"
IT_TAPS_EXPECTED=$(printf '%s\n' bkheld0 "$htap" | sort | paste -sd ' ')
it_expect_no_taps
taps_json
it_expect "held TAP after --reap" "holders=$(it_pid_of "$CLI")/bridgekeeper" \
    "$(tap_line "$htap" | grep -o 'holders=[^ ]*')"
it_end "t-taps/reap-removes-free-persistent-taps-only"

# Nothing left to reap: one sentence, and the same in JSON.
it_begin
it_run "$CLI" taps --reap
it_expect "exit status" 0 "$IT_RC"
it_expect stdout "nothing to reap: no persistent TAP without a holder"$'\n' "$IT_OUT"
it_run "$CLI" taps --reap --json
it_expect "exit status (json)" 0 "$IT_RC"
it_expect "stdout (json)" '{"reaped": []}'$'\n' "$IT_OUT"
it_end "t-taps/reap-with-nothing-to-reap"

# The raw holder lets go: bkheld0 is persistent and free now, and is reaped (JSON report).
it_hold_close "$raw_fd"
wait "$raw_pid"
held_index=$(cat /sys/class/net/bkheld0/ifindex)
it_begin
it_run "$CLI" taps --reap --json
it_expect "exit status" 0 "$IT_RC"
it_expect stdout '{"reaped": [{"name": "bkheld0", "ifindex": '"$held_index"'}]}'$'\n' "$IT_OUT"
IT_TAPS_EXPECTED=$htap
it_expect_no_taps
it_end "t-taps/reap-after-the-holder-exits"

# A process that attached to a persistent TAP here and then moved to another network namespace:
# /proc shows no holder here, but the kernel says a descriptor is attached, and --reap keeps it.
ip tuntap add bkmoved0 mode tap
it_hold_start python3 -c "$HOLD_RAW" bkmoved0 move
moved_fd=$IT_HOLD_FD moved_pid=$IT_HOLD_PID
it_begin
it_expect_match "moved holder" "result=attached tap=bkmoved0 pid=[0-9]+" "$IT_OUT"
it_expect "its network namespace" different \
    "$([ "$(readlink "/proc/$(it_field pid)/ns/net")" != "$(readlink /proc/self/ns/net)" ] && echo different || echo same)"
taps_json
it_expect "taps --json entry" \
    "ifindex=$(cat /sys/class/net/bkmoved0/ifindex) bridge=None owner_uid=None persistent=true holders=none mark=null" "$(tap_line bkmoved0)"
it_run "$CLI" taps --reap
it_expect "exit status" 0 "$IT_RC"
it_expect stdout "nothing to reap: no persistent TAP without a holder"$'\n' "$IT_OUT"
IT_TAPS_EXPECTED=$(printf '%s\n' bkmoved0 "$htap" | sort | paste -sd ' ')
it_expect_no_taps
it_end "t-taps/reap-keeps-a-tap-held-from-another-namespace"
it_hold_close "$moved_fd"
wait "$moved_pid"
ip link delete bkmoved0

IT_HOLD_FD=$hold_fd IT_HOLD_PID=$hold_pid
it_hold_stop
IT_TAPS_EXPECTED=""
it_begin
it_expect "held client exit status" 0 "$IT_RC"
it_expect_no_taps
it_end "t-taps/held-tap-survived-reap-and-closes"

# =============================================================================================
# 3. --reap needs root: one line, nothing on stdout, exit 2, nothing deleted. Listing needs no
# privilege; without root, the note says how many processes were not seen.

ip tuntap add bkfree1 mode tap
it_begin
it_run "${NOBODY[@]}" "$CLI" taps --reap
it_expect "exit status" 2 "$IT_RC"
it_expect stdout "" "$IT_OUT"
it_expect stderr "bridgekeeper taps --reap: root is needed (deleting a TAP needs CAP_NET_ADMIN, and only root sees every process's descriptors)"$'\n' "$IT_ERR"
IT_TAPS_EXPECTED=bkfree1
it_expect_no_taps
it_end "t-taps/reap-as-nobody-is-refused"

it_begin
it_run "${NOBODY[@]}" "$CLI" taps --json
it_expect "exit status" 0 "$IT_RC"
it_expect_match stderr "bridgekeeper taps: the descriptors of [0-9]+ process(es)? could not be read \(not root\), so their holds are not shown"$'\n' "$IT_ERR"
TJ_OUT=$IT_OUT
it_expect "bkfree1 as nobody sees it" \
    "ifindex=$(cat /sys/class/net/bkfree1/ifindex) bridge=None owner_uid=None persistent=true holders=none mark=null" "$(tap_line bkfree1)"
it_end "t-taps/list-as-nobody"
ip link delete bkfree1
IT_TAPS_EXPECTED=""

# =============================================================================================
# 4. Golden texts: the empty inventory, the table and JSON (ifindexes substituted: they depend
# on what ran before), --help.

it_begin
it_run "$CLI" taps
it_expect "exit status" 0 "$IT_RC"
it_expect stdout "no TAP devices in this network namespace"$'\n' "$IT_OUT"
it_expect_match stderr "$NOTE_ROOT" "$IT_ERR"
it_end "t-taps/golden/empty"

ip tuntap add bkg0 mode tap user 4242
ip link set bkg0 master br0
ip link set bkg0 alias "bridgekeeper uid=4242 rule=/etc/qemu/my%20bridge.conf:12"
ip tuntap add bkg1 mode tap
ip link set bkg1 alias "vm 'web'"
i0=$(cat /sys/class/net/bkg0/ifindex)
i1=$(cat /sys/class/net/bkg1/ifindex)
it_begin
it_run "$CLI" taps
it_expect "exit status" 0 "$IT_RC"
{
    printf 'NAME  IFINDEX  BRIDGE  OWNER  PERSISTENT  HOLDERS  MARK\n'
    printf 'bkg0  %-7s  br0     4242   yes         -        uid=4242 rule=/etc/qemu/my bridge.conf:12\n' "$i0"
    printf "bkg1  %-7s  -       -      yes         -        foreign 'vm %s'\n" "$i1" '\x27web\x27'
} >"$BK_SCRATCH/table.txt"
it_expect stdout "$(cat "$BK_SCRATCH/table.txt")"$'\n' "$IT_OUT"
it_expect_match stderr "$NOTE_ROOT" "$IT_ERR"
it_run "$CLI" taps --json
it_expect "json exit status" 0 "$IT_RC"
unreadable=$(printf '%s' "$IT_OUT" | grep -o '"unreadable_processes": [0-9]*}' | tr -dc 0-9)
it_expect "json" '{"taps": [{"name": "bkg0", "ifindex": '"$i0"', "bridge": "br0", "owner_uid": 4242, "persistent": true, "holders": [], "mark": {"uid": 4242, "rule": "/etc/qemu/my bridge.conf:12"}}, {"name": "bkg1", "ifindex": '"$i1"', "bridge": null, "owner_uid": null, "persistent": true, "holders": [], "mark": {"foreign": "vm \\x27web\\x27"}}], "unreadable_processes": '"$unreadable"'}'$'\n' "$IT_OUT"
it_end "t-taps/golden/table-and-json"
ip link delete bkg0
ip link delete bkg1

cat >"$BK_SCRATCH/taps-help.txt" <<'EOF'
OVERVIEW: List the TAP devices of this network namespace with their holders and
bridgekeeper marks.

For each TAP: its name, ifindex, bridge, tun owner, whether it is persistent,
the processes that hold it open (pid/command, from /proc/*/fdinfo) and its
mark. Without root the descriptors of other users' processes cannot be read; a
note on stderr then says how many processes were not seen.

The mark is the interface alias that bridgekeeper-helper sets on every TAP it
creates: uid=UID rule=FILE:LINE names the user who asked and the allow rule
that granted it. Changing an alias needs CAP_NET_ADMIN, so the process holding
the TAP cannot forge or erase its mark, while it can change the tun owner
(TUNSETOWNER needs no privilege). 'none' is a TAP without an alias, 'foreign'
one with another alias.

--reap (root only) deletes every persistent TAP that no process holds, checking
its holders again right before deleting it, and prints one line per TAP
deleted. A TAP that a process holds is never touched.

Exit status: 0 success, 1 if the TAPs could not be listed or one could not be
deleted, 2 for --reap without root, 64 for an invalid command line.

USAGE: bridgekeeper taps [--json] [--reap]

OPTIONS:
  --json                  Print one JSON document instead of the table.
  --reap                  Delete the persistent TAPs that no process holds
                          (root only).
  --version               Show the version.
  -h, --help              Show help information.

EOF
it_begin
it_run env -i COLUMNS=80 "$CLI" taps --help
it_expect "exit status" 0 "$IT_RC"
it_expect stderr "" "$IT_ERR"
printf '%s' "$IT_OUT" >"$BK_SCRATCH/got.txt"
cmp -s "$BK_SCRATCH/taps-help.txt" "$BK_SCRATCH/got.txt" ||
    it_problem "expected taps --help as in the golden text, got a difference: $(it_show "$(diff "$BK_SCRATCH/taps-help.txt" "$BK_SCRATCH/got.txt" | head -n 12)")"
it_end "t-taps/golden/help"

it_summary
