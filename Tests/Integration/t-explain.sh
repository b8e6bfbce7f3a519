#!/bin/bash
# Golden tests of `bridgekeeper explain` and `matrix`: the exact --help texts, and the exact text,
# JSON and CSV output with exit status for a small fixed tree (private /etc/passwd, /etc/group and
# /etc/qemu), and the usage errors (one line on stderr, nothing on stdout, exit status 2).
# Agreement with the real helper for many users is t-oracle's job.
set -u
# shellcheck source=Tests/Integration/lib.sh
source "$(dirname "$0")/lib.sh"
bk_enter_sandbox "$@"
it_setup

IDS=$BK_SCRATCH/ids
mkdir -m 0755 "$IDS"
printf 'root:x:0:0:root:/root:/bin/sh\nalice:x:2001:2001::/:/bin/sh\nbob:x:2002:2002::/:/bin/sh\ncarol:x:2003:2003::/:/bin/sh\n' >"$IDS/passwd"
printf 'root:x:0:\nalice:x:2001:\nbob:x:2002:\ncarol:x:2003:\nlab:x:3000:alice,bob\n' >"$IDS/group"
chmod 0644 "$IDS/passwd" "$IDS/group"
it_mount /etc/passwd --bind "$IDS/passwd" || { it_fail "$IT_NAME/precondition/passwd" "cannot bind-mount a private /etc/passwd"; it_abort; }
it_mount /etc/group --bind "$IDS/group" || { it_fail "$IT_NAME/precondition/group" "cannot bind-mount a private /etc/group"; it_abort; }
it_precondition private-groups test "$(id -G bob)" = "2002 3000" || it_abort

bk_bridge br0
bk_bridge br1
it_acl_text 'allow br0\ninclude /etc/qemu/lab.conf\ninclude /etc/qemu/gone.conf\ninclude /etc/qemu/alice.conf\n'
it_acl_text 'allow br1\ndeny br0\n' /etc/qemu/lab.conf
chown root:lab /etc/qemu/lab.conf
chmod 0640 /etc/qemu/lab.conf
it_acl_text 'allow lab9\n' /etc/qemu/alice.conf
chown root:alice /etc/qemu/alice.conf
chmod 0640 /etc/qemu/alice.conf
it_acl_text 'allow br0\nallow br0 br1\n' /etc/qemu/broken.conf
it_acl_text 'allow br5\n' /etc/qemu/other.conf
it_acl_text 'alow br0\n' /etc/qemu/typo.conf

G=$BK_SCRATCH/golden
mkdir "$G"
: >"$G/empty"

# --- help ------------------------------------------------------------------------------------
cat >"$G/explain-help" <<'EOF'
OVERVIEW: Explain whether a user may put a guest on a bridge, and why.

Reads the ACL the way the helper reads it when USER runs it: as root, in a
child process with USER's uid, primary group and supplementary groups (from the
name service) after the helper's own privilege drop; without root, only for
yourself. Prints the decision with the deciding rule or the helper's reason for
refusing (a user= or group= name that does not resolve refuses when the
decision depends on it); for an allow, the options that would apply: vlan=N
untagged, port isolated, at most N TAPs with the number the user has on the
bridge now (TAPs with the user's mark). Then every file of the walk: read,
missing, unreadable (not readable by USER, skipped as the helper skips it) or
refused (unsafe owner or mode and the like, which makes the helper refuse).

Exit status: 0 allowed, 1 refused, 2 for an invalid command line or an unknown
user, 3 if the ACL could not be evaluated (another user without root).

USAGE: bridgekeeper explain --user <user> [--acl <acl>] [--json] <bridge>

ARGUMENTS:
  <bridge>                The bridge, as QEMU would ask for it.

OPTIONS:
  --user <user>           The user to evaluate as (a login name).
  --acl <acl>             The ACL file to read. (default: /etc/qemu/bridge.conf)
  --json                  Print one JSON document instead of text.
  --version               Show the version.
  -h, --help              Show help information.

EOF
golden help/explain 0 "$G/explain-help" "" -- explain --help

cat >"$G/matrix-help" <<'EOF'
OVERVIEW: Show which users may put guests on which bridges.

Decides every user against every bridge exactly as explain does (as root; users
whose credentials make no difference to any file or directory of the ACL share
one evaluation) and prints a table with a row per user and a column per bridge:
allow, allow(OPTIONS) for an allow with options (vlanN, iso for isolated, maxN;
a legend follows the table), or - where the helper refuses. --json and --csv
list every decision with its rule, reason and options.

Users: --users, or every account the name service enumerates. Bridges:
--bridges, or every bridge named in a rule and every Linux bridge in this
network namespace.

Exit status: 0 when the matrix was printed, 2 for an invalid command line or an
unknown user, 3 if the ACL could not be evaluated (other users without root).

USAGE: bridgekeeper matrix [--users <users>] [--bridges <bridges>] [--acl <acl>] [--json] [--csv]

OPTIONS:
  --users <users>         Comma-separated login names (default: every account).
  --bridges <bridges>     Comma-separated bridge names (default: those named in
                          rules and the bridges here).
  --acl <acl>             The ACL file to read. (default: /etc/qemu/bridge.conf)
  --json                  Print one JSON document instead of a table.
  --csv                   Print CSV
                          (user,uid,bridge,allowed,rule,reason,vlan,isolated,max)
                          instead of a table.
  --version               Show the version.
  -h, --help              Show help information.

EOF
golden help/matrix 0 "$G/matrix-help" "" -- matrix --help

# --- explain ---------------------------------------------------------------------------------
cat >"$G/alice-br0" <<'EOF'
alice (uid 2001) may not use bridge 'br0'
  access denied by acl file: /etc/qemu/lab.conf:2: 'deny br0' refuses bridge 'br0'
files, in the order the helper reads them as alice:
  read     /etc/qemu/bridge.conf
  read     /etc/qemu/lab.conf
  missing  /etc/qemu/gone.conf: does not exist; skipped
  read     /etc/qemu/alice.conf
EOF
golden explain/text/denied 1 "$G/alice-br0" "" -- explain --user alice br0

cat >"$G/carol-br0" <<'EOF'
carol (uid 2003) may use bridge 'br0'
  allowed by /etc/qemu/bridge.conf:1 'allow br0'
files, in the order the helper reads them as carol:
  read        /etc/qemu/bridge.conf
  unreadable  /etc/qemu/lab.conf: not readable by carol; skipped
  missing     /etc/qemu/gone.conf: does not exist; skipped
  unreadable  /etc/qemu/alice.conf: not readable by carol; skipped
EOF
golden explain/text/allowed 0 "$G/carol-br0" "" -- explain --user carol br0

cat >"$G/alice-lab9" <<'EOF'
alice (uid 2001) may not use bridge 'lab9'
  bridge 'lab9' does not exist in this network namespace; create it (ip link add lab9 type bridge) or ask an administrator
  (the ACL allows it: /etc/qemu/alice.conf:1 'allow lab9')
files, in the order the helper reads them as alice:
  read     /etc/qemu/bridge.conf
  read     /etc/qemu/lab.conf
  missing  /etc/qemu/gone.conf: does not exist; skipped
  read     /etc/qemu/alice.conf
EOF
golden explain/text/allowed-but-missing 1 "$G/alice-lab9" "" -- explain --user alice lab9

cat >"$G/carol-br1" <<'EOF'
carol (uid 2003) may not use bridge 'br1'
  access denied by acl file: no rule in /etc/qemu/bridge.conf or its includes allows bridge 'br1'; an administrator can add 'allow br1'
files, in the order the helper reads them as carol:
  read        /etc/qemu/bridge.conf
  unreadable  /etc/qemu/lab.conf: not readable by carol; skipped
  missing     /etc/qemu/gone.conf: does not exist; skipped
  unreadable  /etc/qemu/alice.conf: not readable by carol; skipped
EOF
golden explain/text/no-rule 1 "$G/carol-br1" "" -- explain --user carol br1

cat >"$G/bob-br1.json" <<'EOF'
{"user": "bob", "uid": 2002, "bridge": "br1", "allowed": true, "rule": "/etc/qemu/lab.conf:1", "reason": "allowed by /etc/qemu/lab.conf:1 'allow br1'", "options": {"vlan": null, "isolated": false, "max": null, "taps": null}, "unresolved": null, "files": [
  {"path": "/etc/qemu/bridge.conf", "status": "read", "detail": ""},
  {"path": "/etc/qemu/lab.conf", "status": "read", "detail": ""},
  {"path": "/etc/qemu/gone.conf", "status": "missing", "detail": "does not exist; skipped"},
  {"path": "/etc/qemu/alice.conf", "status": "unreadable", "detail": "not readable by bob; skipped"}
]}
EOF
golden explain/json/allowed 0 "$G/bob-br1.json" "" -- explain --json --user bob br1

cat >"$G/alice-br0.json" <<'EOF'
{"user": "alice", "uid": 2001, "bridge": "br0", "allowed": false, "rule": "/etc/qemu/lab.conf:2", "reason": "access denied by acl file: /etc/qemu/lab.conf:2: 'deny br0' refuses bridge 'br0'", "options": null, "unresolved": null, "files": [
  {"path": "/etc/qemu/bridge.conf", "status": "read", "detail": ""},
  {"path": "/etc/qemu/lab.conf", "status": "read", "detail": ""},
  {"path": "/etc/qemu/gone.conf", "status": "missing", "detail": "does not exist; skipped"},
  {"path": "/etc/qemu/alice.conf", "status": "read", "detail": ""}
]}
EOF
golden explain/json/denied 1 "$G/alice-br0.json" "" -- explain --user alice --json br0

cat >"$G/broken" <<'EOF'
carol (uid 2003) may not use bridge 'br0'
  access denied by acl file: /etc/qemu/broken.conf:2: unexpected 'br1' after the bridge name (one bridge per rule)
files, in the order the helper reads them as carol:
  read  /etc/qemu/broken.conf
EOF
golden explain/text/syntax-error 1 "$G/broken" "" -- explain --acl /etc/qemu/broken.conf --user carol br0

cat >"$G/broken.json" <<'EOF'
{"user": "carol", "uid": 2003, "bridge": "br0", "allowed": false, "rule": null, "reason": "access denied by acl file: /etc/qemu/broken.conf:2: unexpected 'br1' after the bridge name (one bridge per rule)", "options": null, "unresolved": null, "files": [
  {"path": "/etc/qemu/broken.conf", "status": "read", "detail": ""}
]}
EOF
golden explain/json/syntax-error 1 "$G/broken.json" "" -- explain --json --acl /etc/qemu/broken.conf --user carol br0

cat >"$G/nothere" <<'EOF'
carol (uid 2003) may not use bridge 'br0'
  access denied by acl file: /etc/qemu/nothere.conf does not exist or is not readable by this user
files, in the order the helper reads them as carol:
  missing  /etc/qemu/nothere.conf: does not exist
EOF
golden explain/text/missing-acl 1 "$G/nothere" "" -- explain --acl /etc/qemu/nothere.conf --user carol br0

# --acl names the file it evaluates in the no-rule message (the helper's names its fixed path).
cat >"$G/other" <<'EOF'
bob (uid 2002) may not use bridge 'br0'
  access denied by acl file: no rule in /etc/qemu/other.conf or its includes allows bridge 'br0'; an administrator can add 'allow br0'
files, in the order the helper reads them as bob:
  read  /etc/qemu/other.conf
EOF
golden explain/text/other-acl 1 "$G/other" "" -- explain --acl /etc/qemu/other.conf --user bob br0

# --- matrix ----------------------------------------------------------------------------------
cat >"$G/matrix" <<'EOF'
USER   UID   br0    br1    lab9
root   0     -      allow  -
alice  2001  -      allow  -
bob    2002  -      allow  -
carol  2003  allow  -      -
EOF
golden matrix/text/defaults 0 "$G/matrix" "" -- matrix

cat >"$G/matrix.json" <<'EOF'
{"acl": "/etc/qemu/bridge.conf", "decisions": [
  {"user": "alice", "uid": 2001, "bridge": "br0", "allowed": false, "rule": "/etc/qemu/lab.conf:2", "reason": "access denied by acl file: /etc/qemu/lab.conf:2: 'deny br0' refuses bridge 'br0'", "vlan": null, "isolated": false, "max": null},
  {"user": "alice", "uid": 2001, "bridge": "br1", "allowed": true, "rule": "/etc/qemu/lab.conf:1", "reason": "allowed by /etc/qemu/lab.conf:1 'allow br1'", "vlan": null, "isolated": false, "max": null},
  {"user": "carol", "uid": 2003, "bridge": "br0", "allowed": true, "rule": "/etc/qemu/bridge.conf:1", "reason": "allowed by /etc/qemu/bridge.conf:1 'allow br0'", "vlan": null, "isolated": false, "max": null},
  {"user": "carol", "uid": 2003, "bridge": "br1", "allowed": false, "rule": null, "reason": "access denied by acl file: no rule in /etc/qemu/bridge.conf or its includes allows bridge 'br1'; an administrator can add 'allow br1'", "vlan": null, "isolated": false, "max": null}
]}
EOF
golden matrix/json/chosen 0 "$G/matrix.json" "" -- matrix --json --users alice,carol --bridges br0,br1

cat >"$G/matrix.csv" <<'EOF'
user,uid,bridge,allowed,rule,reason,vlan,isolated,max
bob,2002,br0,false,/etc/qemu/lab.conf:2,access denied by acl file: /etc/qemu/lab.conf:2: 'deny br0' refuses bridge 'br0',,false,
bob,2002,lab9,false,,access denied by acl file: no rule in /etc/qemu/bridge.conf or its includes allows bridge 'lab9'; an administrator can add 'allow lab9',,false,
EOF
golden matrix/csv/chosen 0 "$G/matrix.csv" "" -- matrix --csv --users bob --bridges br0,lab9

# A reason with commas is quoted (RFC 4180).
cat >"$G/matrix-typo.csv" <<'EOF'
user,uid,bridge,allowed,rule,reason,vlan,isolated,max
bob,2002,br0,false,,"access denied by acl file: /etc/qemu/typo.conf:1: unknown keyword 'alow' (expected allow, deny, include or a # comment)",,false,
EOF
golden matrix/csv/quoted 0 "$G/matrix-typo.csv" "" -- matrix --csv --acl /etc/qemu/typo.conf --users bob --bridges br0

cat >"$G/matrix-other" <<'EOF'
USER   UID   br0  br1  br5
alice  2001  -    -    -
EOF
golden matrix/text/other-acl 0 "$G/matrix-other" "" -- matrix --acl /etc/qemu/other.conf --users alice

# --- usage errors: one line on stderr, nothing on stdout, exit status 2 ------------------------
golden usage/unknown-user 2 "$G/empty" "Error: unknown user 'mallory' (the name service has no such login name)"$'\n' -- explain --user mallory br0
golden usage/matrix-unknown-user 2 "$G/empty" "Error: unknown user 'mallory' (the name service has no such login name)"$'\n' -- matrix --users alice,mallory
golden usage/missing-user 2 "$G/empty" "Error: Missing expected argument '--user <user>'; see 'bridgekeeper explain --help'"$'\n' -- explain br0
golden usage/missing-bridge 2 "$G/empty" "Error: Missing expected argument '<bridge>'; see 'bridgekeeper explain --help'"$'\n' -- explain --user alice
golden usage/unknown-option 2 "$G/empty" "Error: Unknown option '--bogus'; see 'bridgekeeper matrix --help'"$'\n' -- matrix --bogus
golden usage/bad-bridge 2 "$G/empty" "Error: bridge name 'a/b' is not a valid interface name: it contains '/'"$'\n' -- explain --user alice a/b
golden usage/long-bridge 2 "$G/empty" "Error: bridge name 'abcdefghijklmnop' is too long: 16 bytes (at most 15)"$'\n' -- matrix --bridges br0,abcdefghijklmnop
golden usage/relative-acl 2 "$G/empty" "Error: --acl must be an absolute path, got 'bridge.conf'"$'\n' -- explain --acl bridge.conf --user alice br0
golden usage/json-and-csv 2 "$G/empty" "Error: --json and --csv cannot be combined"$'\n' -- matrix --json --csv

it_summary
