#!/bin/bash
# `bridgekeeper lint`: a table of broken, unsafe and stock-divergent ACL trees in the sandbox's
# private /etc/qemu, each with its exact diagnostics (text, and JSON for some), summary line and
# exit status; where lint reports one error, the real helper (setuid, run by nobody) refuses with
# the same words. Also: a clean file, --strict, a FILE outside /etc/qemu, runs as nobody, the
# command line's refusals (exit 2) and the golden `lint --help`.
set -u
# shellcheck source=Tests/Integration/lib.sh
source "$(dirname "$0")/lib.sh"
bk_enter_sandbox "$@"
it_setup
it_precondition tool-setfacl command -v setfacl || it_abort

it_install_helpers
bk_bridge br0
ip link add veth0 type veth peer name veth1
it_precondition altname ip link property add dev br0 altname lab0 || it_abort

CONF=/etc/qemu/bridge.conf
# lines LINE...: the lines, each with its newline (an expected stdout).
lines() { printf '%s\n' "$@"; }

# lint_case NAME STATUS EXPECTED [CALLER...] -- ARGS...: `bridgekeeper lint ARGS` (run by CALLER,
# root if none) prints exactly EXPECTED and a newline on stdout (EXPECTED: `lines ...`, whose
# last newline $(...) removes), nothing on stderr, and exits with STATUS.
lint_case() {
    local name=$1 status=$2 expected=$3 as=()
    shift 3
    while [ "$1" != -- ]; do as+=("$1"); shift; done
    shift
    it_begin
    it_run "${as[@]}" "$CLI" lint "$@"
    it_expect_finished
    it_expect "exit status" "$status" "$IT_RC"
    it_expect stdout "$expected"$'\n' "$IT_OUT"
    it_expect stderr "" "$IT_ERR"
    it_end "t-lint/$name"
}

# same_as_helper NAME: the last lint_case reported one error (its first line); the helper run by
# nobody refuses br0 with the same message: "access denied by acl file: FILE:LINE: MESSAGE" (for
# line 0, the file as a whole: without FILE:LINE).
same_as_helper() {
    local first=${IT_OUT%%$'\n'*} expected
    if [[ $first =~ ^(.*):([0-9]+):[0-9]+:\ error:\ (.*)$ ]]; then
        if [ "${BASH_REMATCH[2]}" = 0 ]; then
            expected="access denied by acl file: ${BASH_REMATCH[3]}"
        else
            expected="access denied by acl file: ${BASH_REMATCH[1]}:${BASH_REMATCH[2]}: ${BASH_REMATCH[3]}"
        fi
    else
        it_begin
        it_problem "expected an error line from lint, got '$(it_show "$first")'"
        it_end "t-lint/$1/same-as-helper"
        return
    fi
    it_mode s
    it_check "t-lint/$1/same-as-helper" refused "$expected" -- "${NOBODY[@]}" "$CLI" try --helper "$HELPER" --br br0
}

SUMMARY_CLEAN="1 file read, 0 errors, 0 warnings"

# ---------------------------------------------------------------------------------------------
# Clean files

it_reset_etc_qemu
it_acl_text '# lab bridges\nallow br0\n\n  deny all  \nallow br0\n' /etc/qemu/unused.conf
it_acl_text 'allow br0\ninclude /etc/qemu/more.conf\n'
it_acl_text 'allow\tlab0\n' /etc/qemu/more.conf
lint_case clean/text 0 "$(lines "2 files read, 0 errors, 0 warnings")" -- 
lint_case clean/json 0 "$(lines '{"diagnostics": []}')" -- --json
lint_case clean/strict 0 "$(lines "2 files read, 0 errors, 0 warnings")" -- --strict
lint_case clean/acl-option 0 "$(lines "$SUMMARY_CLEAN")" -- --acl /etc/qemu/more.conf
lint_case clean/as-nobody 0 "$(lines "2 files read, 0 errors, 0 warnings")" "${NOBODY[@]}" --

# ---------------------------------------------------------------------------------------------
# Errors: what makes the helper refuse. Each case: the tree, lint's exact output, and for a
# single error the helper's refusal in the same words.

it_reset_etc_qemu
it_acl_text 'allow br0\nAllow br0\n'
lint_case error/unknown-keyword 1 "$(lines \
    "/etc/qemu/bridge.conf:2:1: error: unknown keyword 'Allow' (expected allow, deny, include or a # comment)" \
    "1 file read, 1 error, 0 warnings")" --
same_as_helper error/unknown-keyword

it_reset_etc_qemu
it_acl_text 'allow br0\ninclude /etc/qemu/inc.conf\n'
it_acl_text 'allow br0 br1\ndeny br0 max=2\ndeny abcdefghijklmnop\ninclude users.conf\ninclude /\nallow br0\0 junk\n' /etc/qemu/inc.conf
lint_case error/syntax-every-line 1 "$(lines \
    "/etc/qemu/inc.conf:1:11: error: unexpected 'br1' after the bridge name (one bridge per rule)" \
    "/etc/qemu/inc.conf:2:10: error: 'max' is an option of allow rules; a deny takes only user=, uid=, group= and gid=" \
    "/etc/qemu/inc.conf:3:6: error: bridge name 'abcdefghijklmnop' is too long: 16 bytes (at most 15)" \
    "/etc/qemu/inc.conf:4:9: error: include path 'users.conf' is relative; write an absolute path" \
    "/etc/qemu/inc.conf:5:9: error: include path '/' names the root directory; name a drop-in directory such as /etc/qemu/bridge.d/" \
    "/etc/qemu/inc.conf:6:10: error: the line contains a NUL byte" \
    "2 files read, 6 errors, 0 warnings")" --
lint_case error/syntax-every-line/json 1 "$(lines '{"diagnostics": [{"file": "/etc/qemu/inc.conf", "line": 1, "column": 11, "severity": "error", "message": "unexpected '"'br1'"' after the bridge name (one bridge per rule)"}, {"file": "/etc/qemu/inc.conf", "line": 2, "column": 10, "severity": "error", "message": "'"'max'"' is an option of allow rules; a deny takes only user=, uid=, group= and gid="}, {"file": "/etc/qemu/inc.conf", "line": 3, "column": 6, "severity": "error", "message": "bridge name '"'abcdefghijklmnop'"' is too long: 16 bytes (at most 15)"}, {"file": "/etc/qemu/inc.conf", "line": 4, "column": 9, "severity": "error", "message": "include path '"'users.conf'"' is relative; write an absolute path"}, {"file": "/etc/qemu/inc.conf", "line": 5, "column": 9, "severity": "error", "message": "include path '"'/'"' names the root directory; name a drop-in directory such as /etc/qemu/bridge.d/"}, {"file": "/etc/qemu/inc.conf", "line": 6, "column": 10, "severity": "error", "message": "the line contains a NUL byte"}]}')" -- --json

it_reset_etc_qemu
it_acl_text 'allow br0\ninclude /etc/qemu/a.conf\n'
it_acl_text 'include /etc/qemu/b.conf\n' /etc/qemu/a.conf
it_acl_text 'include /etc/qemu/a.conf\n' /etc/qemu/b.conf
lint_case error/include-cycle 1 "$(lines \
    "/etc/qemu/b.conf:1:9: error: include cycle: /etc/qemu/a.conf is already being read" \
    "3 files read, 1 error, 0 warnings")" --
same_as_helper error/include-cycle

it_reset_etc_qemu
it_acl_text 'allow br0\ninclude /etc/qemu/user.conf\ninclude /etc/qemu/gw.conf\n'
it_acl_text 'deny br0\n' /etc/qemu/user.conf
chown 65534:65534 /etc/qemu/user.conf
it_acl_text 'deny br0\n' /etc/qemu/gw.conf
chmod 0664 /etc/qemu/gw.conf
lint_case error/unsafe-includes 1 "$(lines \
    "/etc/qemu/bridge.conf:2:9: error: include refused: /etc/qemu/user.conf is owned by uid 65534, not root; ACL files and their directories must be root's" \
    "/etc/qemu/bridge.conf:3:9: error: include refused: /etc/qemu/gw.conf is writable by group or others (mode 0664); run chmod go-w on it" \
    "1 file read, 2 errors, 0 warnings")" --

it_reset_etc_qemu
it_acl_text 'allow all\ninclude /etc/qemu/d/deny.conf\n'
mkdir -m 0755 /etc/qemu/d
it_acl_text 'deny br0\n' /etc/qemu/d/deny.conf
chown 65534 /etc/qemu/d
lint_case error/user-owned-directory 1 "$(lines \
    "/etc/qemu/bridge.conf:2:9: error: include refused: /etc/qemu/d is owned by uid 65534, not root; ACL files and their directories must be root's" \
    "1 file read, 1 error, 0 warnings")" --
same_as_helper error/user-owned-directory

it_reset_etc_qemu
it_acl_text 'allow br0\n'
chmod 0777 /etc/qemu
lint_case error/world-writable-top-directory 1 "$(lines \
    "/etc/qemu/bridge.conf:0:0: error: /etc/qemu is writable by group or others (mode 0777); run chmod go-w on it" \
    "0 files read, 1 error, 0 warnings")" --
same_as_helper error/world-writable-top-directory
lint_case error/world-writable-top-directory/json 1 "$(lines \
    '{"diagnostics": [{"file": "/etc/qemu/bridge.conf", "line": 0, "column": 0, "severity": "error", "message": "/etc/qemu is writable by group or others (mode 0777); run chmod go-w on it"}]}')" -- --json

it_reset_etc_qemu
it_acl_text 'allow br0\ninclude /etc/qemu/link.conf\ninclude /etc/qemu/fifo.conf\ninclude /etc/qemu/dir.conf\ninclude /etc/qemu/big.conf\n'
it_acl_text 'deny br0\n' /etc/qemu/real.conf
ln -s /etc/qemu/real.conf /etc/qemu/link.conf
mkfifo -m 0644 /etc/qemu/fifo.conf
mkdir -m 0755 /etc/qemu/dir.conf
head -c 1048577 /dev/zero | tr '\0' '#' | bk_acl /etc/qemu/big.conf
lint_case error/types-and-size 1 "$(lines \
    "/etc/qemu/bridge.conf:2:9: error: include refused: /etc/qemu/link.conf is a symbolic link; ACL paths must name the real file" \
    "/etc/qemu/bridge.conf:3:9: error: include refused: /etc/qemu/fifo.conf is not a regular file" \
    "/etc/qemu/bridge.conf:4:9: error: include refused: /etc/qemu/dir.conf is not a regular file" \
    "/etc/qemu/bridge.conf:5:9: error: include refused: /etc/qemu/big.conf is larger than 1048576 bytes" \
    "1 file read, 4 errors, 0 warnings")" --

# 17 levels of includes: the 17th is one too deep.
it_reset_etc_qemu
it_acl_text 'allow br0\ninclude /etc/qemu/d1.conf\n'
for i in $(seq 1 16); do it_acl_text "include /etc/qemu/d$((i + 1)).conf\n" "/etc/qemu/d$i.conf"; done
it_acl_text 'deny br0\n' /etc/qemu/d17.conf
lint_case error/depth 1 "$(lines \
    "/etc/qemu/d16.conf:1:9: error: includes are nested more than 16 levels deep" \
    "17 files read, 1 error, 0 warnings")" --
same_as_helper error/depth

# ---------------------------------------------------------------------------------------------
# Warnings: exit 0, or 1 with --strict.

it_reset_etc_qemu
it_acl_text 'allow br0\nallow br9\ndeny veth0\ninclude /etc/qemu/gone.conf\ninclude /etc/qemu/lab.conf\n'
it_acl_text 'deny br0\n' /etc/qemu/lab.conf
chmod 0640 /etc/qemu/lab.conf
WARNINGS=(
    "/etc/qemu/bridge.conf:2:7: warning: bridge 'br9' does not exist in this network namespace"
    "/etc/qemu/bridge.conf:3:6: warning: 'veth0' is not a Linux bridge (its driver is 'veth')"
    "/etc/qemu/bridge.conf:4:9: warning: include '/etc/qemu/gone.conf' does not exist; the helper skips it"
    "/etc/qemu/lab.conf:1:1: warning: 'deny br0' is skipped for some users: /etc/qemu/lab.conf is mode 0640: others cannot read it; it denies nothing to users who cannot read it"
)
lint_case warning/root 0 "$(lines "${WARNINGS[@]}" "2 files read, 0 errors, 4 warnings")" --
lint_case warning/strict 1 "$(lines "${WARNINGS[@]}" "2 files read, 0 errors, 4 warnings")" -- --strict
lint_case warning/json 0 "$(lines '{"diagnostics": [{"file": "/etc/qemu/bridge.conf", "line": 2, "column": 7, "severity": "warning", "message": "bridge '"'br9'"' does not exist in this network namespace"}, {"file": "/etc/qemu/bridge.conf", "line": 3, "column": 6, "severity": "warning", "message": "'"'veth0'"' is not a Linux bridge (its driver is '"'veth'"')"}, {"file": "/etc/qemu/bridge.conf", "line": 4, "column": 9, "severity": "warning", "message": "include '"'/etc/qemu/gone.conf'"' does not exist; the helper skips it"}, {"file": "/etc/qemu/lab.conf", "line": 1, "column": 1, "severity": "warning", "message": "'"'deny br0'"' is skipped for some users: /etc/qemu/lab.conf is mode 0640: others cannot read it; it denies nothing to users who cannot read it"}]}')" -- --json
# As nobody, lab.conf cannot be read: said so, and the result is incomplete.
lint_case warning/as-nobody 0 "$(lines \
    "${WARNINGS[@]:0:3}" \
    "/etc/qemu/bridge.conf:5:9: warning: cannot read '/etc/qemu/lab.conf' as uid 65534: it was not checked, so this result is incomplete (run bridgekeeper lint as root)" \
    "1 file read, 0 errors, 4 warnings")" "${NOBODY[@]}" --

# Readable by others, but a POSIX ACL entry keeps one user out: the deny is skipped for them.
it_reset_etc_qemu
it_acl_text 'allow br0\ninclude /etc/qemu/lab.conf\n'
it_acl_text 'deny br0\n' /etc/qemu/lab.conf
it_precondition setfacl-entry setfacl -m u:65533:- /etc/qemu/lab.conf || it_abort
lint_case warning/acl-entry 0 "$(lines \
    "/etc/qemu/lab.conf:1:1: warning: 'deny br0' is skipped for some users: /etc/qemu/lab.conf has an ACL entry that keeps user 65533 from being able to read it; it denies nothing to users who cannot read it" \
    "2 files read, 0 errors, 1 warning")" --

# Dead rules: deny all; a deny of an alternative name of the allowed bridge.
it_reset_etc_qemu
it_acl_text 'allow br0\ninclude /etc/qemu/deny.conf\n'
it_acl_text 'deny all\n' /etc/qemu/deny.conf
lint_case warning/dead-deny-all 0 "$(lines \
    "/etc/qemu/bridge.conf:1:1: warning: 'allow br0' is dead: 'deny all' at /etc/qemu/deny.conf:1 always overrides it" \
    "2 files read, 0 errors, 1 warning")" --
it_reset_etc_qemu
it_acl_text 'allow br0\ndeny lab0\n'
lint_case warning/dead-alternative-name 0 "$(lines \
    "/etc/qemu/bridge.conf:1:1: warning: 'allow br0' is dead: 'deny lab0' at /etc/qemu/bridge.conf:2 always overrides it ('lab0' is an alternative name of 'br0')" \
    "1 file read, 0 errors, 1 warning")" --
it_mode s
it_check t-lint/warning/dead-alternative-name/helper-refuses refused \
    "access denied by acl file: /etc/qemu/bridge.conf:2: 'deny lab0' refuses bridge 'br0' ('lab0' is an alternative name of 'br0')" -- \
    "${NOBODY[@]}" "$CLI" try --helper "$HELPER" --br br0

# Stock qemu-bridge-helper reads these lines otherwise (README, "Where bridgekeeper differs").
it_reset_etc_qemu
it_acl_text 'allow br0 # lab\nallow\t br0\nallow\tbr0\nallow lab0   # a longer comment\ninclude /etc/qemu/x.conf\t#x\n'
it_acl_text '' /etc/qemu/x.conf
lint_case warning/stock-divergences 0 "$(lines \
    "/etc/qemu/bridge.conf:1:11: warning: stock qemu-bridge-helper reads the bridge name 'br0 # lab', which matches no bridge" \
    "/etc/qemu/bridge.conf:2:1: warning: stock qemu-bridge-helper reads the unknown command 'allow\\x09' and stops reading this file there" \
    "/etc/qemu/bridge.conf:4:14: warning: stock qemu-bridge-helper reads the bridge name 'lab0   # a longer comment', which is too long (25 bytes), and stops reading this file there" \
    "/etc/qemu/bridge.conf:5:26: warning: stock qemu-bridge-helper reads the include path '/etc/qemu/x.conf\\x09#x'" \
    "2 files read, 0 errors, 4 warnings")" --
lint_case warning/stock-divergences/strict 1 "$(lines \
    "/etc/qemu/bridge.conf:1:11: warning: stock qemu-bridge-helper reads the bridge name 'br0 # lab', which matches no bridge" \
    "/etc/qemu/bridge.conf:2:1: warning: stock qemu-bridge-helper reads the unknown command 'allow\\x09' and stops reading this file there" \
    "/etc/qemu/bridge.conf:4:14: warning: stock qemu-bridge-helper reads the bridge name 'lab0   # a longer comment', which is too long (25 bytes), and stops reading this file there" \
    "/etc/qemu/bridge.conf:5:26: warning: stock qemu-bridge-helper reads the include path '/etc/qemu/x.conf\\x09#x'" \
    "2 files read, 0 errors, 4 warnings")" -- --strict

# ---------------------------------------------------------------------------------------------
# The top-level file as nobody, and files outside /etc/qemu.

it_reset_etc_qemu
it_acl_text 'allow br0\n'
chmod 0600 "$CONF"
lint_case top-level/unreadable-as-nobody 1 "$(lines \
    "/etc/qemu/bridge.conf:0:0: error: /etc/qemu/bridge.conf does not exist or is not readable by this user" \
    "0 files read, 1 error, 0 warnings")" "${NOBODY[@]}" --
lint_case top-level/readable-as-root 0 "$(lines "$SUMMARY_CLEAN")" --
rm -f "$CONF"
lint_case top-level/missing 1 "$(lines \
    "/etc/qemu/bridge.conf:0:0: error: /etc/qemu/bridge.conf does not exist or is not readable by this user" \
    "0 files read, 1 error, 0 warnings")" --

# A candidate file checked before it is installed: in a safe directory, by path or relative to
# the current directory; in a directory the helper would refuse (under /tmp), the reason.
mkdir -m 0755 /etc/bk-staging
it_acl_text 'allow br0\ninclude /etc/qemu/site.conf\n' /etc/bk-staging/new.conf
lint_case outside/safe-directory 0 "$(lines \
    "/etc/bk-staging/new.conf:2:9: warning: include '/etc/qemu/site.conf' does not exist; the helper skips it" \
    "1 file read, 0 errors, 1 warning")" -- /etc/bk-staging/new.conf
it_begin
it_run bash -c 'cd /etc/bk-staging && exec "$0" lint new.conf' "$CLI"
it_expect "exit status" 0 "$IT_RC"
it_expect stdout "$(lines \
    "/etc/bk-staging/new.conf:2:9: warning: include '/etc/qemu/site.conf' does not exist; the helper skips it" \
    "1 file read, 0 errors, 1 warning")"$'\n' "$IT_OUT"
it_end t-lint/outside/relative-path
install -d -m 0755 "$BK_SCRATCH/staging"
it_acl_text 'allow br0\n' "$BK_SCRATCH/staging/new.conf"
lint_case outside/unsafe-directory 1 "$(lines \
    "$BK_SCRATCH/staging/new.conf:0:0: error: /tmp is writable by group or others (mode 01777); run chmod go-w on it" \
    "0 files read, 1 error, 0 warnings")" -- "$BK_SCRATCH/staging/new.conf"

# ---------------------------------------------------------------------------------------------
# The command line: invalid ones exit 2 with one line on stderr and nothing on stdout.

lint_usage() {
    local name=$1 message=$2
    shift 2
    it_begin
    it_run "$CLI" lint "$@"
    it_expect "exit status" 2 "$IT_RC"
    it_expect stdout "" "$IT_OUT"
    it_expect stderr "$message"$'\n' "$IT_ERR"
    it_end "t-lint/usage/$name"
}
lint_usage file-and-acl "Error: give the ACL file as FILE or with --acl, not both; see 'bridgekeeper lint --help'" /etc/qemu/a.conf --acl /etc/qemu/b.conf
lint_usage unknown-option "Error: Unknown option '--bogus'; see 'bridgekeeper lint --help'" --bogus
lint_usage two-files "Error: Unexpected argument '/b'; see 'bridgekeeper lint --help'" /a /b

cat >"$BK_SCRATCH/lint-help.txt" <<'EOF'
OVERVIEW: Check an ACL file and its includes the way bridgekeeper-helper reads
them (like visudo -c).

Prints one diagnostic per line, sorted by file then line: FILE:LINE:COLUMN:
error|warning: MESSAGE (line 0, column 0: the file as a whole), then a summary
line: N files read, N errors, N warnings.

Errors are what makes bridgekeeper-helper refuse every request, in its words:
syntax, include cycles, relative includes, unsafe owner or mode of a file or
directory, symbolic links, file types, sizes, nesting depth, volume limits.
Errors too: a user= or group= name the name service does not know (the helper
refuses every request whose decision depends on it), and vlan= on a bridge
without VLAN filtering (the helper refuses what the rule grants). Warnings: a
deny in a file that some users cannot read (it denies them nothing), an allow
that a deny always overrides, a missing include, a bridge that does not exist
in this network namespace, a name lookup that failed, and lines the stock
qemu-bridge-helper reads differently (a qualified rule is a bridge name with
spaces there: a qualified deny refuses nothing under stock).

Run it as root to read every file; as another user, the files it cannot read
are warnings and the result is incomplete. A relative FILE is taken from the
current directory.

Exit status: 0 without errors (warnings allowed unless --strict), 1 with errors
(or warnings, with --strict), 2 for an invalid command line.

USAGE: bridgekeeper lint [<file>] [--acl <path>] [--json] [--strict]

ARGUMENTS:
  <file>                  The ACL file to check. (default:
                          /etc/qemu/bridge.conf)

OPTIONS:
  --acl <path>            The ACL file to check, as in the other commands (FILE
                          or --acl, not both).
  --json                  Print one JSON document instead of text:
                          {"diagnostics": [...]}.
  --strict                Exit 1 on warnings too.
  --version               Show the version.
  -h, --help              Show help information.

EOF
it_begin
it_run env -i COLUMNS=80 "$CLI" lint --help
it_expect "exit status" 0 "$IT_RC"
it_expect stderr "" "$IT_ERR"
printf '%s' "$IT_OUT" >"$BK_SCRATCH/got.txt"
cmp -s "$BK_SCRATCH/lint-help.txt" "$BK_SCRATCH/got.txt" ||
    it_problem "expected the golden help text, got a difference: $(it_show "$(diff "$BK_SCRATCH/lint-help.txt" "$BK_SCRATCH/got.txt" | head -n 12)")"
it_end t-lint/help

it_summary
