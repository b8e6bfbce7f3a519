#!/bin/bash
# The oracle test for `bridgekeeper explain` and `matrix`: for every user and every bridge, what
# the audit commands say must equal what the real helper does when that user runs it (setuid
# copy, started through `bridgekeeper try` under setpriv --init-groups, so uid, primary group and
# supplementary groups come from the name service like a login's).
#
# The world: a private /etc/passwd and /etc/group (bind mounts) with root and a dozen users in
# overlapping groups; an /etc/qemu with per-user includes (root:USER 0640), per-group includes
# (root:GROUP 0640), one include readable only through a POSIX ACL entry (root:root 0600 plus
# user:u07:r), a missing include, a deny in a group-only include, an unsafe include (group
# writable, so it refuses for those who can read it), an allow of a bridge that does not exist
# and of a device that is not a bridge, and a bridge with an alternative name that rules name.
# u12 has exactly u07's groups, so walks shared without looking at ACL_USER entries would show.
# Compared: allowed or not, and for a refusal the helper's stderr line against the reason.
set -u
# shellcheck source=Tests/Integration/lib.sh
source "$(dirname "$0")/lib.sh"
bk_enter_sandbox "$@"
it_setup
it_precondition tool-setfacl command -v setfacl || it_abort
it_precondition tool-python3 command -v python3 || it_abort
it_install_helpers
bk_tun_mode 0600

# --- users and groups ------------------------------------------------------------------------
IDS=$BK_SCRATCH/ids
mkdir -m 0755 "$IDS"
USERS=(u01 u02 u03 u04 u05 u06 u07 u08 u09 u10 u11 u12)
{
    echo 'root:x:0:0:root:/root:/bin/sh'
    for i in $(seq 1 12); do printf 'u%02d:x:%d:%d::/:/bin/sh\n' "$i" $((3000 + i)) $((3000 + i)); done
} >"$IDS/passwd"
{
    echo 'root:x:0:'
    for i in $(seq 1 12); do printf 'u%02d:x:%d:\n' "$i" $((3000 + i)); done
    echo 'staff:x:3100:u01,u03,u04,u05,u06'
    echo 'lab:x:3101:u04,u05,u06,u07,u08,u12'
    echo 'ops:x:3102:u08,u09,u10'
    echo 'audit:x:3103:u06,u11'
} >"$IDS/group"
chmod 0644 "$IDS/passwd" "$IDS/group"
it_mount /etc/passwd --bind "$IDS/passwd" || { it_fail "$IT_NAME/precondition/passwd" "cannot bind-mount a private /etc/passwd"; it_abort; }
it_mount /etc/group --bind "$IDS/group" || { it_fail "$IT_NAME/precondition/group" "cannot bind-mount a private /etc/group"; it_abort; }
it_precondition private-passwd test "$(id -u u07)" = 3007 || it_abort
it_precondition private-groups test "$(id -G u06 | tr ' ' '\n' | sort -n | paste -sd,)" = "3006,3100,3101,3103" || it_abort

# --- devices ---------------------------------------------------------------------------------
for b in br0 br1 br2 br3 brlongname; do bk_bridge "$b"; done
ip link property add dev brlongname altname bralt
ip link add vethx type veth peer name vethy
it_precondition altname ip link show bralt || it_abort

# --- the ACL tree ------------------------------------------------------------------------------
mkdir -m 0755 /etc/qemu/users /etc/qemu/groups
# file OWNER:GROUP MODE PATH TEXT
file() { printf '%b' "$4" >"$3"; chown "$1" "$3"; chmod "$2" "$3"; }
file root:root 0644 /etc/qemu/bridge.conf 'allow br0\nallow vethx\ninclude /etc/qemu/users/u01.conf\ninclude /etc/qemu/users/u02.conf\ninclude /etc/qemu/users/u07.conf\ninclude /etc/qemu/groups/staff.conf\ninclude /etc/qemu/groups/lab.conf\ninclude /etc/qemu/missing.conf\ninclude /etc/qemu/groups/ops.conf\ninclude /etc/qemu/groups/audit.conf\n'
file root:u01 0640 /etc/qemu/users/u01.conf 'allow br1\n'
file root:u02 0640 /etc/qemu/users/u02.conf 'allow br2\nallow br9\n'
file root:root 0600 /etc/qemu/users/u07.conf 'allow br3\n'
setfacl -m u:u07:r /etc/qemu/users/u07.conf
file root:staff 0640 /etc/qemu/groups/staff.conf 'allow br1\nallow bralt\n'
file root:lab 0640 /etc/qemu/groups/lab.conf 'deny br0\nallow br2\ndeny bralt\n'
file root:ops 0640 /etc/qemu/groups/ops.conf 'allow br3\ninclude /etc/qemu/groups/ops-extra.conf\n'
# Group-writable: the helper refuses it for everyone who can read it (ops), and skips it for
# everyone else (they cannot read it, so they cannot tell it apart from a missing file).
file root:ops 0660 /etc/qemu/groups/ops-extra.conf 'allow br2\n'
file root:audit 0640 /etc/qemu/groups/audit.conf 'allow all\ndeny br3\n'
it_precondition posix-acl sh -c "getfacl -cp /etc/qemu/users/u07.conf | grep -qx 'user:u07:r--'" || it_abort

BRIDGES=(br0 br1 br2 br3 br9 bralt brlongname vethx)
ALL_USERS=(root "${USERS[@]}")
OUT=$BK_SCRATCH/oracle
mkdir -m 0755 "$OUT"

# --- the real helper, as each user ------------------------------------------------------------
# One line per run: user TAB bridge TAB attached|refused TAB the helper's stderr.
IT_TIMEOUT=20
for user in "${ALL_USERS[@]}"; do
    for bridge in "${BRIDGES[@]}"; do
        if [ "$user" = root ]; then as=(); else as=(setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups --); fi
        it_run "${as[@]}" "$CLI" try --helper "$H_SETUID" --br "$bridge"
        result=$(it_field result)
        printf '%s\t%s\t%s\t%s\n' "$user" "$bridge" "$result" "${IT_ERR%$'\n'}" >>"$OUT/helper.tsv"
    done
done

# --- the audit commands -----------------------------------------------------------------------
it_run "$CLI" matrix --json
it_begin
it_expect "matrix exit status" 0 "$IT_RC"
it_expect "matrix stderr" "" "$IT_ERR"
it_end "$IT_NAME/matrix-runs"
printf '%s' "$IT_OUT" >"$OUT/matrix.json"
for user in "${ALL_USERS[@]}"; do
    for bridge in "${BRIDGES[@]}"; do
        it_run "$CLI" explain --json --user "$user" "$bridge"
        printf '%s' "$IT_OUT" >"$OUT/explain-$user-$bridge.json"
        printf '%s\n' "$IT_RC" >"$OUT/explain-$user-$bridge.rc"
        printf '%s' "$IT_ERR" >"$OUT/explain-$user-$bridge.err"
    done
done

# --- the comparison ----------------------------------------------------------------------------
# Prints one "PASS<TAB>name" or "FAIL<TAB>name<TAB>why" line per check.
python3 - "$OUT" "${BRIDGES[*]}" "${ALL_USERS[*]}" >"$OUT/checks" 2>&1 <<'PY'
import json, os, sys
out, bridges, users = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
name = "t-oracle"
def check(label, problems):
    print(("FAIL\t%s/%s\t%s" % (name, label, "; ".join(problems))) if problems else ("PASS\t%s/%s" % (name, label)))

helper = {}
for line in open(os.path.join(out, "helper.tsv")):
    user, bridge, result, stderr = line.rstrip("\n").split("\t", 3)
    helper[(user, bridge)] = (result, stderr)
try:
    matrix = json.load(open(os.path.join(out, "matrix.json")))
except ValueError as error:
    matrix = None
    check("matrix-json", ["expected one JSON document, got %s" % error])
decisions = {}
if matrix is not None:
    problems = []
    if matrix.get("acl") != "/etc/qemu/bridge.conf":
        problems.append("expected acl '/etc/qemu/bridge.conf', got %r" % matrix.get("acl"))
    for d in matrix.get("decisions", []):
        decisions[(d["user"], d["bridge"])] = d
    got_users = sorted({u for u, _ in decisions})
    got_bridges = sorted({b for _, b in decisions})
    if got_users != sorted(users):
        problems.append("expected users %s, got %s" % (sorted(users), got_users))
    if got_bridges != sorted(bridges):
        problems.append("expected bridges %s (named in rules, and the bridges here), got %s" % (sorted(bridges), got_bridges))
    if len(decisions) != len(matrix.get("decisions", [])):
        problems.append("expected one decision per user and bridge, got duplicates")
    check("matrix-shape", problems)

for user in users:
    for bridge in bridges:
        problems = []
        result, stderr = helper[(user, bridge)]
        if result not in ("attached", "refused"):
            problems.append("expected the helper to attach or refuse, got result=%s (stderr %r)" % (result, stderr))
        allowed = result == "attached"
        d = decisions.get((user, bridge))
        if d is None:
            problems.append("expected a matrix decision, got none")
        else:
            if d["allowed"] != allowed:
                problems.append("matrix says allowed=%s, the helper %s (%r)" % (d["allowed"], result, stderr))
            if not allowed and d["reason"] != stderr:
                problems.append("matrix reason %r, helper stderr %r" % (d["reason"], stderr))
            if d["uid"] != (0 if user == "root" else 3000 + int(user[1:])):
                problems.append("matrix uid %r" % d["uid"])
        base = os.path.join(out, "explain-%s-%s" % (user, bridge))
        rc = open(base + ".rc").read().strip()
        if rc != ("0" if allowed else "1"):
            problems.append("explain exit status %s (stderr %r), expected %s" % (rc, open(base + ".err").read(), "0" if allowed else "1"))
        try:
            e = json.load(open(base + ".json"))
            if e["allowed"] != allowed:
                problems.append("explain says allowed=%s, the helper %s (%r)" % (e["allowed"], result, stderr))
            if not allowed and e["reason"] != stderr:
                problems.append("explain reason %r, helper stderr %r" % (e["reason"], stderr))
            if d is not None and (e["rule"], e["reason"], e["uid"]) != (d["rule"], d["reason"], d["uid"]):
                problems.append("explain (%r, %r) differs from matrix (%r, %r)" % (e["rule"], e["reason"], d["rule"], d["reason"]))
            if [f["path"] for f in e["files"]][:1] != ["/etc/qemu/bridge.conf"]:
                problems.append("explain files do not start with the top-level file: %r" % e["files"])
        except (ValueError, KeyError) as error:
            problems.append("explain JSON unreadable: %s" % error)
        check("%s/%s" % (user, bridge), problems)

# What explain says about individual files, for the cases the tree was built for.
def files(user):
    e = json.load(open(os.path.join(out, "explain-%s-br0.json" % user)))
    return {f["path"]: (f["status"], f["detail"]) for f in e["files"]}
expect = [
    ("u07", "/etc/qemu/users/u07.conf", ("read", "")),
    ("u06", "/etc/qemu/users/u07.conf", ("unreadable", "not readable by u06; skipped")),
    ("u01", "/etc/qemu/users/u01.conf", ("read", "")),
    ("u03", "/etc/qemu/users/u01.conf", ("unreadable", "not readable by u03; skipped")),
    ("u03", "/etc/qemu/missing.conf", ("missing", "does not exist; skipped")),
    ("u09", "/etc/qemu/groups/ops-extra.conf", ("refused", "/etc/qemu/groups/ops-extra.conf is writable by group or others (mode 0660); run chmod go-w on it")),
    ("u11", "/etc/qemu/groups/ops.conf", ("unreadable", "not readable by u11; skipped")),
]
for user, path, want in expect:
    got = files(user).get(path)
    check("files/%s%s" % (user, path.replace("/etc/qemu", "")), [] if got == want else ["expected %r, got %r" % (want, got)])
PY
while IFS=$'\t' read -r verdict check why; do
    case $verdict in
        PASS) it_pass "$check" ;;
        FAIL) it_fail "$check" "$why" ;;
        *) it_fail "$IT_NAME/comparison" "expected PASS/FAIL lines from the comparison, got '$(it_show "$verdict $check $why")'" ;;
    esac
done <"$OUT/checks"

# The comparison must have covered every pair (a silent python failure is a FAIL, not a pass).
it_begin
it_expect "pair checks" $((${#ALL_USERS[@]} * ${#BRIDGES[@]})) "$(grep -cE $'^(PASS|FAIL)\tt-oracle/(root|u[0-9]+)/[a-z0-9]+(\t|$)' "$OUT/checks")"
# Both outcomes must occur, or the comparison proves little.
it_expect_match "helper attaches" '[1-9][0-9]*' "$(grep -c $'\tattached\t' "$OUT/helper.tsv")"
it_expect_match "helper refusals" '[1-9][0-9]*' "$(grep -c $'\trefused\t' "$OUT/helper.tsv")"
it_end "$IT_NAME/coverage"

# Without root, explain works for oneself and says that others need root.
it_run setpriv --reuid=u03 --regid=u03 --init-groups -- "$CLI" explain --json --user u03 br1
it_begin
it_expect "exit status" 0 "$IT_RC"
it_expect "stderr" "" "$IT_ERR"
expected=$(cat "$OUT/explain-u03-br1.json"; printf x)
it_expect "stdout (as root's)" "${expected%x}" "$IT_OUT"
it_end "$IT_NAME/unprivileged-self"
it_run setpriv --reuid=u03 --regid=u03 --init-groups -- "$CLI" explain --user u04 br1
it_begin
it_expect "exit status" 3 "$IT_RC"
it_expect "stdout" "" "$IT_OUT"
it_expect "stderr" "Error: only root can evaluate the ACL as another user ('u04', uid 3004): the files are read with that user's credentials; run it as root, or for yourself"$'\n' "$IT_ERR"
it_end "$IT_NAME/unprivileged-other"

it_summary
