#!/bin/bash
# explain, matrix and lint with the issue-10 qualifiers (golden texts, exact exit statuses), in a
# sandbox with a private /etc/passwd and /etc/group: explain as a group member and as a
# non-member, a name that does not resolve (the helper's refusal), the options of a vlan= rule
# and of a max= rule with the user's TAPs on the bridge counted (TAPs held through the setuid
# helper, made by a stock rule on the same bridge: the helper refuses options until the quota and
# VLAN code lands, and the count does not depend on the granting rule), matrix cells with
# options and a legend, JSON and CSV with options; lint's unknown names, vlan= on a bridge
# without VLAN filtering and the stock reading of qualified lines.
set -u
# shellcheck source=Tests/Integration/lib.sh
source "$(dirname "$0")/lib.sh"
bk_enter_sandbox "$@"
it_setup
it_install_helpers
bk_tun_mode 0600

IDS=$BK_SCRATCH/ids
mkdir -m 0755 "$IDS"
printf 'root:x:0:0:root:/root:/bin/sh\nalice:x:2001:2001::/:/bin/sh\nbob:x:2002:2002::/:/bin/sh\ncarol:x:2003:2003::/:/bin/sh\n' >"$IDS/passwd"
printf 'root:x:0:\nalice:x:2001:\nbob:x:2002:\ncarol:x:2003:\nlab:x:3000:alice,bob\n' >"$IDS/group"
chmod 0644 "$IDS/passwd" "$IDS/group"
it_mount /etc/passwd --bind "$IDS/passwd" || { it_fail "$IT_NAME/precondition/passwd" "cannot bind-mount a private /etc/passwd"; it_abort; }
it_mount /etc/group --bind "$IDS/group" || { it_fail "$IT_NAME/precondition/group" "cannot bind-mount a private /etc/group"; it_abort; }
it_precondition private-groups test "$(id -G alice)" = "2001 3000" || it_abort
it_precondition no-ghosts sh -c '! getent group ghosts && ! getent passwd ghost' || it_abort

bk_bridge br0
bk_bridge br1
it_reset_etc_qemu

# as USER: the command prefix that runs as USER with the groups a login gives them.
as() { printf '%s\n' setpriv --reuid="$1" --regid="$(id -g "$1")" --init-groups --; }

# --- TAPs held on br1: two for alice, one for bob (a stock rule grants them) ------------------
it_acl_text 'allow br1\n'
HOLDS=()
for user in alice alice bob; do
    mapfile -t prefix < <(as "$user")
    it_begin
    it_hold_start "${prefix[@]}" "$CLI" try --helper "$H_SETUID" --br br1 --hold-until-eof
    it_expect "the client's result" attached "$(it_field result)"
    HOLDS+=("$IT_HOLD_PID:$IT_HOLD_FD")
    it_end "$IT_NAME/hold/$user"
done
[ "$IT_FAILED" = 0 ] || it_abort
# The checks below that run the helper expect these three TAPs and no other.
IT_TAPS_EXPECTED=$(bk_taps | sort | paste -sd ' ')
it_precondition three-taps test "$(wc -w <<<"$IT_TAPS_EXPECTED")" = 3 || it_abort

G=$BK_SCRATCH/golden
mkdir "$G"

# --- the policy ------------------------------------------------------------------------------
it_acl_text 'allow br0 group=lab isolated\ndeny br1 user=carol\nallow br1 user=alice max=4\nallow br1 group=lab max=1\nallow br0\nallow br2 group=lab vlan=20\n'
it_acl_text 'allow br0 user=alice\nallow br0 group=ghosts\n' /etc/qemu/ghost.conf
it_acl_text 'deny br0 user=ghost\nallow br0\n' /etc/qemu/ghost-deny.conf

# --- explain ---------------------------------------------------------------------------------
cat >"$G/alice-br0" <<'EOF'
alice (uid 2001) may use bridge 'br0'
  allowed by /etc/qemu/bridge.conf:1 'allow br0 group=lab isolated'
  options: port isolated
files, in the order the helper reads them as alice:
  read  /etc/qemu/bridge.conf
EOF
golden explain/member 0 "$G/alice-br0" "" -- explain --user alice br0

cat >"$G/carol-br0" <<'EOF'
carol (uid 2003) may use bridge 'br0'
  allowed by /etc/qemu/bridge.conf:5 'allow br0'
files, in the order the helper reads them as carol:
  read  /etc/qemu/bridge.conf
EOF
golden explain/non-member 0 "$G/carol-br0" "" -- explain --user carol br0

cat >"$G/alice-br1" <<'EOF'
alice (uid 2001) may use bridge 'br1'
  allowed by /etc/qemu/bridge.conf:3 'allow br1 user=alice max=4'
  options: at most 4 TAPs: alice has 2 on br1 now
files, in the order the helper reads them as alice:
  read  /etc/qemu/bridge.conf
EOF
golden explain/max-counted 0 "$G/alice-br1" "" -- explain --user alice br1

cat >"$G/bob-br1" <<'EOF'
bob (uid 2002) may use bridge 'br1'
  allowed by /etc/qemu/bridge.conf:4 'allow br1 group=lab max=1'
  options: at most 1 TAP: bob has 1 on br1 now (the limit: another is refused until one is closed)
files, in the order the helper reads them as bob:
  read  /etc/qemu/bridge.conf
EOF
golden explain/max-reached 0 "$G/bob-br1" "" -- explain --user bob br1

cat >"$G/carol-br1" <<'EOF'
carol (uid 2003) may not use bridge 'br1'
  access denied by acl file: /etc/qemu/bridge.conf:2: 'deny br1 user=carol' refuses bridge 'br1'
files, in the order the helper reads them as carol:
  read  /etc/qemu/bridge.conf
EOF
golden explain/denied-by-user 1 "$G/carol-br1" "" -- explain --user carol br1

cat >"$G/alice-br1.json" <<'EOF'
{"user": "alice", "uid": 2001, "bridge": "br1", "allowed": true, "rule": "/etc/qemu/bridge.conf:3", "reason": "allowed by /etc/qemu/bridge.conf:3 'allow br1 user=alice max=4'", "options": {"vlan": null, "isolated": false, "max": 4, "taps": 2}, "unresolved": null, "files": [
  {"path": "/etc/qemu/bridge.conf", "status": "read", "detail": ""}
]}
EOF
golden explain/json/max 0 "$G/alice-br1.json" "" -- explain --json --user alice br1

cat >"$G/bob-br0.json" <<'EOF'
{"user": "bob", "uid": 2002, "bridge": "br0", "allowed": true, "rule": "/etc/qemu/bridge.conf:1", "reason": "allowed by /etc/qemu/bridge.conf:1 'allow br0 group=lab isolated'", "options": {"vlan": null, "isolated": true, "max": null, "taps": null}, "unresolved": null, "files": [
  {"path": "/etc/qemu/bridge.conf", "status": "read", "detail": ""}
]}
EOF
golden explain/json/isolated 0 "$G/bob-br0.json" "" -- explain --json --user bob br0

# vlan= on a bridge that does not filter VLANs: the helper's refusal, with the rule that allows it.
bk_bridge br2
it_precondition br2-not-filtering test "$(cat /sys/class/net/br2/bridge/vlan_filtering 2>/dev/null || echo 0)" = 0 || it_abort
cat >"$G/alice-br2" <<'EOF'
alice (uid 2001) may not use bridge 'br2'
  bridge 'br2' does not filter VLANs (vlan_filtering is 0), so the rule's vlan=20 would not be enforced; no TAP was created (an administrator can turn filtering on: ip link set br2 type bridge vlan_filtering 1)
  (the ACL allows it: /etc/qemu/bridge.conf:6 'allow br2 group=lab vlan=20')
files, in the order the helper reads them as alice:
  read  /etc/qemu/bridge.conf
EOF
golden explain/vlan-without-filtering 1 "$G/alice-br2" "" -- explain --user alice br2
mapfile -t prefix < <(as alice)
it_check "$IT_NAME/vlan-without-filtering/helper-agrees" refused "$(sed -n 2p "$G/alice-br2" | sed 's/^  //')" -- \
    "${prefix[@]}" "$CLI" try --helper "$H_SETUID" --br br2

# With a kernel that filters VLANs (not every CI kernel does: then this is said, not passed),
# the vlan= options of an allow on a filtering bridge.
if ip link add br3 type bridge vlan_filtering 1 2>/dev/null && [ "$(cat /sys/class/net/br3/bridge/vlan_filtering 2>/dev/null)" = 1 ]; then
    it_acl_text 'allow br3 group=lab vlan=30 isolated\n' /etc/qemu/vlan3.conf
    cat >"$G/bob-br3" <<'EOF'
bob (uid 2002) may use bridge 'br3'
  allowed by /etc/qemu/vlan3.conf:1 'allow br3 group=lab vlan=30 isolated'
  options: vlan=30 untagged, port isolated
files, in the order the helper reads them as bob:
  read  /etc/qemu/vlan3.conf
EOF
    golden explain/vlan-filtering 0 "$G/bob-br3" "" -- explain --acl /etc/qemu/vlan3.conf --user bob br3
else
    printf 'NOTE %s: this kernel has no VLAN filtering; the allowed vlan= case is not run here\n' "$IT_NAME/explain/vlan-filtering"
fi

# A name that does not resolve: alice is granted by the rule before it; bob's decision depends
# on it, so the helper refuses him, and says so in the same words.
cat >"$G/alice-ghost" <<'EOF'
alice (uid 2001) may use bridge 'br0'
  allowed by /etc/qemu/ghost.conf:1 'allow br0 user=alice'
files, in the order the helper reads them as alice:
  read  /etc/qemu/ghost.conf
EOF
golden explain/unresolved/decided-before 0 "$G/alice-ghost" "" -- explain --acl /etc/qemu/ghost.conf --user alice br0

GHOST_REFUSAL="access denied by acl file: /etc/qemu/ghost.conf:2: group 'ghosts' does not exist, and whether 'allow br0 group=ghosts' applies to you depends on it; refused for bridge 'br0'"
cat >"$G/bob-ghost" <<EOF
bob (uid 2002) may not use bridge 'br0'
  $GHOST_REFUSAL
files, in the order the helper reads them as bob:
  read  /etc/qemu/ghost.conf
EOF
golden explain/unresolved/refused 1 "$G/bob-ghost" "" -- explain --acl /etc/qemu/ghost.conf --user bob br0

cat >"$G/bob-ghost.json" <<EOF
{"user": "bob", "uid": 2002, "bridge": "br0", "allowed": false, "rule": "/etc/qemu/ghost.conf:2", "reason": "$GHOST_REFUSAL", "options": null, "unresolved": {"kind": "group", "name": "ghosts", "lookup": "not found", "error": null}, "files": [
  {"path": "/etc/qemu/ghost.conf", "status": "read", "detail": ""}
]}
EOF
golden explain/unresolved/json 1 "$G/bob-ghost.json" "" -- explain --json --acl /etc/qemu/ghost.conf --user bob br0

# The helper itself, run by bob with the same file as its ACL, refuses in those words.
cp /etc/qemu/bridge.conf "$BK_SCRATCH/bridge.conf.saved"
cp /etc/qemu/ghost.conf /etc/qemu/bridge.conf
mapfile -t prefix < <(as bob)
it_check "$IT_NAME/unresolved/helper-agrees" refused "${GHOST_REFUSAL/ghost.conf/bridge.conf}" -- \
    "${prefix[@]}" "$CLI" try --helper "$H_SETUID" --br br0
cp /etc/qemu/ghost-deny.conf /etc/qemu/bridge.conf
it_check "$IT_NAME/unresolved/deny/helper" refused \
    "access denied by acl file: /etc/qemu/bridge.conf:1: user 'ghost' does not exist, and whether 'deny br0 user=ghost' applies to you depends on it; refused for bridge 'br0'" -- \
    "${prefix[@]}" "$CLI" try --helper "$H_SETUID" --br br0
cp "$BK_SCRATCH/bridge.conf.saved" /etc/qemu/bridge.conf

cat >"$G/carol-ghost-deny" <<'EOF'
carol (uid 2003) may not use bridge 'br0'
  access denied by acl file: /etc/qemu/ghost-deny.conf:1: user 'ghost' does not exist, and whether 'deny br0 user=ghost' applies to you depends on it; refused for bridge 'br0'
files, in the order the helper reads them as carol:
  read  /etc/qemu/ghost-deny.conf
EOF
golden explain/unresolved/deny 1 "$G/carol-ghost-deny" "" -- explain --acl /etc/qemu/ghost-deny.conf --user carol br0

# --- matrix ----------------------------------------------------------------------------------
# root is in no rule's lists: 'allow br0' grants br0, nothing grants br1 (the TAPs came from
# the earlier file). br2 does not filter VLANs: its vlan= rule grants nothing (the helper refuses).
cat >"$G/matrix" <<'EOF'
USER   UID   br0         br1          br2
root   0     allow       -            -
alice  2001  allow(iso)  allow(max4)  -
bob    2002  allow(iso)  allow(max1)  -
carol  2003  allow       -            -

allow(...): vlanN = vlan=N (the port gets PVID N untagged), iso = isolated (port isolation), maxN = max=N (at most N TAPs per user on the bridge)
EOF
golden matrix/text 0 "$G/matrix" "" -- matrix --bridges br0,br1,br2

cat >"$G/matrix.csv" <<'EOF'
user,uid,bridge,allowed,rule,reason,vlan,isolated,max
alice,2001,br0,true,/etc/qemu/bridge.conf:1,allowed by /etc/qemu/bridge.conf:1 'allow br0 group=lab isolated',,true,
alice,2001,br1,true,/etc/qemu/bridge.conf:3,allowed by /etc/qemu/bridge.conf:3 'allow br1 user=alice max=4',,false,4
carol,2003,br0,true,/etc/qemu/bridge.conf:5,allowed by /etc/qemu/bridge.conf:5 'allow br0',,false,
carol,2003,br1,false,/etc/qemu/bridge.conf:2,access denied by acl file: /etc/qemu/bridge.conf:2: 'deny br1 user=carol' refuses bridge 'br1',,false,
root,0,br0,true,/etc/qemu/bridge.conf:5,allowed by /etc/qemu/bridge.conf:5 'allow br0',,false,
root,0,br1,false,,access denied by acl file: no rule in /etc/qemu/bridge.conf or its includes allows bridge 'br1'; an administrator can add 'allow br1',,false,
EOF
golden matrix/csv 0 "$G/matrix.csv" "" -- matrix --csv --users alice,carol,root --bridges br0,br1

cat >"$G/matrix.json" <<EOF
{"acl": "/etc/qemu/ghost.conf", "decisions": [
  {"user": "alice", "uid": 2001, "bridge": "br0", "allowed": true, "rule": "/etc/qemu/ghost.conf:1", "reason": "allowed by /etc/qemu/ghost.conf:1 'allow br0 user=alice'", "vlan": null, "isolated": false, "max": null},
  {"user": "bob", "uid": 2002, "bridge": "br0", "allowed": false, "rule": "/etc/qemu/ghost.conf:2", "reason": "$GHOST_REFUSAL", "vlan": null, "isolated": false, "max": null}
]}
EOF
golden matrix/json/unresolved 0 "$G/matrix.json" "" -- matrix --json --acl /etc/qemu/ghost.conf --users alice,bob --bridges br0

# Verdicts are shared between callers the rules cannot tell apart, never between others: alice
# and bob have the same groups, but 'user=alice' tells them apart; bob twice gets one row twice.
cat >"$G/matrix-members" <<'EOF'
USER   UID   br0         br1
bob    2002  allow(iso)  allow(max1)
alice  2001  allow(iso)  allow(max4)
carol  2003  allow       -
bob    2002  allow(iso)  allow(max1)

allow(...): vlanN = vlan=N (the port gets PVID N untagged), iso = isolated (port isolation), maxN = max=N (at most N TAPs per user on the bridge)
EOF
golden matrix/text/shared 0 "$G/matrix-members" "" -- matrix --users bob,alice,carol,bob --bridges br0,br1

# --- lint ------------------------------------------------------------------------------------
# lint_case NAME STATUS EXPECTED -- ARGS...: exact stdout (EXPECTED plus a newline), no stderr.
lines() { printf '%s\n' "$@"; }
lint_case() {
    local name=$1 status=$2 expected=$3
    shift 4
    it_begin
    it_run "$CLI" lint "$@"
    it_expect_finished
    it_expect "exit status" "$status" "$IT_RC"
    it_expect stdout "$expected"$'\n' "$IT_OUT"
    it_expect stderr "" "$IT_ERR"
    it_end "$IT_NAME/lint/$name"
}

it_acl_text 'allow br0 user=alice,ghost\ndeny br1 group=ghosts\nallow br1 group=lab\n' /etc/qemu/names.conf
lint_case unknown-names 1 "$(lines \
    "/etc/qemu/names.conf:1:11: warning: stock qemu-bridge-helper reads the bridge name 'br0 user=alice,ghost', which is too long (20 bytes), and stops reading this file there: an error in the top-level file, so stock refuses every request" \
    "/etc/qemu/names.conf:1:22: error: user 'ghost' does not exist in the name service; the helper refuses every request whose decision depends on it ('allow br0 user=alice,ghost')" \
    "/etc/qemu/names.conf:2:10: warning: stock qemu-bridge-helper reads the bridge name 'br1 group=ghosts', which is too long (16 bytes), and stops reading this file there: an error in the top-level file, so stock refuses every request" \
    "/etc/qemu/names.conf:2:16: error: group 'ghosts' does not exist in the name service; the helper refuses every request whose decision depends on it ('deny br1 group=ghosts')" \
    "/etc/qemu/names.conf:3:11: warning: stock qemu-bridge-helper ignores this allow (it reads the bridge name 'br1 group=lab', which matches no bridge): under stock it grants nothing" \
    "1 file read, 2 errors, 3 warnings")" -- /etc/qemu/names.conf

# This kernel may lack VLAN filtering altogether (no bridge/vlan_filtering in sysfs); then that
# is the error, otherwise the bridge's vlan_filtering 0 (the default).
it_acl_text 'allow br1\ninclude /etc/qemu/vlan.conf\n' /etc/qemu/vlan-top.conf
it_acl_text 'allow br0 vlan=20\ndeny br1 uid=2003\n' /etc/qemu/vlan.conf
if [ -e /sys/class/net/br0/bridge/vlan_filtering ]; then
    it_precondition vlan-filtering-off test "$(cat /sys/class/net/br0/bridge/vlan_filtering)" = 0 || it_abort
    VLAN_ERROR="/etc/qemu/vlan.conf:1:11: error: vlan=20 needs VLAN filtering, which bridge 'br0' has off (vlan_filtering 0); the helper refuses every request 'allow br0 vlan=20' grants (turn it on: ip link set dev br0 type bridge vlan_filtering 1)"
else
    VLAN_ERROR="/etc/qemu/vlan.conf:1:11: error: vlan=20 needs VLAN filtering, which this kernel does not have (CONFIG_BRIDGE_VLAN_FILTERING); the helper refuses every request 'allow br0 vlan=20' grants"
fi
lint_case vlan-without-filtering 1 "$(lines \
    "$VLAN_ERROR" \
    "/etc/qemu/vlan.conf:1:11: warning: stock qemu-bridge-helper ignores this allow (it reads the bridge name 'br0 vlan=20', which matches no bridge): under stock it grants nothing" \
    "/etc/qemu/vlan.conf:2:10: warning: stock qemu-bridge-helper ignores this deny (it reads the bridge name 'br1 uid=2003', which matches no bridge): where another rule allows 'br1', stock grants what bridgekeeper denies" \
    "2 files read, 1 error, 2 warnings")" -- /etc/qemu/vlan-top.conf

# The stock helper itself (when installed) grants carol br1 with vlan.conf as its ACL, which
# bridgekeeper's helper refuses: what the lint warning says.
cp /etc/qemu/vlan-top.conf /etc/qemu/bridge.conf
mapfile -t prefix < <(as carol)
it_check "$IT_NAME/lint/qualified-deny/bridgekeeper-refuses" refused \
    "access denied by acl file: /etc/qemu/vlan.conf:2: 'deny br1 uid=2003' refuses bridge 'br1'" -- \
    "${prefix[@]}" "$CLI" try --helper "$H_SETUID" --br br1
# Stock opens /dev/net/tun after its own privilege drop: it needs the device open to all.
it_require_exe stock-helper "$BK_STOCK" || it_abort
S_COPY=$(bk_install "$BK_STOCK" stock-setuid setuid)
bk_tun_mode 0666
it_begin
it_run "${prefix[@]}" "$CLI" try --helper "$S_COPY" --br br1
it_expect "the stock helper's result for carol on br1" attached "$(it_field result)"
it_end "$IT_NAME/lint/qualified-deny/stock-grants"
bk_tun_mode 0600
cp "$BK_SCRATCH/bridge.conf.saved" /etc/qemu/bridge.conf

# --- release the holds -----------------------------------------------------------------------
for hold in "${HOLDS[@]}"; do
    it_hold_close "${hold#*:}"
    wait "${hold%%:*}"
done
IT_TAPS_EXPECTED=""
it_begin
it_expect_no_taps
it_end "$IT_NAME/no-taps-left"

it_summary
