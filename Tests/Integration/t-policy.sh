#!/bin/bash
# The issue-10 policy through the real helper, in lib.sh's three modes: user=/uid=/group=/gid=
# matches and misses, supplementary groups (given by setpriv, and from /etc/group as su gives
# them), names that do not resolve (the refusal names the name and the rule, for a deny and for
# an earlier allow; a name on a rule for another bridge is never looked up), a name that exists
# only through the second NSS source (libnss_systemd synthesises 'nobody' and 'nogroup' when
# /etc/passwd and /etc/group lack them: the dynamic glibc loads the module), qualifier errors
# with file:line, and drop-in directories (order, the .conf filter, dotfiles, symlinks,
# subdirectories, FIFOs, unsafe and unreadable entries, empty and missing directories, a bound
# on the entries).
# Users and groups: private /etc/passwd and /etc/group bind-mounted in the sandbox (testing.md).
set -u
# shellcheck source=Tests/Integration/lib.sh
source "$(dirname "$0")/lib.sh"
bk_enter_sandbox "$@"
it_setup
it_install_helpers
bk_bridge br0
bk_bridge br1

CONF=/etc/qemu/bridge.conf
P="access denied by acl file"
PASSWD=$BK_SCRATCH/passwd
GROUP=$BK_SCRATCH/group
write_users() { # [without-nobody]: nobody and nogroup left out when asked (then NSS's next source answers)
    {
        echo 'root:x:0:0:root:/root:/bin/sh'
        echo 'pb:x:65533:65533:user b:/nonexistent:/usr/sbin/nologin'
        echo 'alice:x:1000:1000:alice:/nonexistent:/usr/sbin/nologin'
        [ "${1:-}" = without-nobody ] || echo 'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin'
    } >"$PASSWD"
    {
        echo 'root:x:0:'
        echo 'pb:x:65533:'
        echo 'lab:x:1000:nobody,root'
        echo 'interns:x:1001:'
        [ "${1:-}" = without-nobody ] || echo 'nogroup:x:65534:'
    } >"$GROUP"
}
write_users
chmod 0644 "$PASSWD" "$GROUP"
it_mount /etc/passwd --bind "$PASSWD" || { it_fail "$IT_NAME/precondition/passwd" "expected to bind-mount $PASSWD over /etc/passwd"; it_abort; }
it_mount /etc/group --bind "$GROUP" || { it_fail "$IT_NAME/precondition/group" "expected to bind-mount $GROUP over /etc/group"; it_abort; }
it_precondition private-passwd bash -c '[ "$(getent passwd alice | cut -d: -f3)" = 1000 ]' || it_abort
printf '# t-policy: nsswitch.conf: %s; %s\n' "$(grep -E '^passwd:' /etc/nsswitch.conf | tr -s ' \t' ' ')" \
    "$(grep -E '^group:' /etc/nsswitch.conf | tr -s ' \t' ' ')"

# The caller of each mode by name, and the same caller with group lab (1000) as a
# supplementary group (setpriv --groups), and with the groups /etc/group gives it (--init-groups).
mode_setup() {
    it_mode "$1"
    case $1 in
        s | c) CNAME=nobody CGNAME=nogroup CGID=65534 ;;
        r) CNAME=root CGNAME=root CGID=0 ;;
    esac
    WITH_LAB=(setpriv --reuid="$CALLER_UID" --regid="$CGID" --groups=1000 --)
    INIT_GROUPS=(setpriv --reuid="$CALLER_UID" --regid="$CGID" --init-groups --)
}
acl() { it_reset_etc_qemu; it_acl_text "$1"; }
# try_as NAME EXPECT STDERR CALLER-ARRAY-NAME [BRIDGE]: one request, all the usual checks.
try_as() {
    local name=$1 expect=$2 stderr=$3 bridge=${5:-br0}
    local -n caller=$4
    local fields=()
    [ "$expect" != attached ] || fields=(bridge="$bridge" owner="$CALLER_UID")
    it_check "t-policy/$LABEL/$name" "$expect" "$stderr" "${fields[@]}" -- \
        "${caller[@]}" "$CLI" try --helper "$HELPER" --br "$bridge"
}
unresolved() { # FILE:LINE KIND NAME RULE BRIDGE
    printf "%s: %s: %s '%s' does not exist, and whether '%s' applies to you depends on it; refused for bridge '%s'" \
        "$P" "$1" "$2" "$3" "$4" "$5"
}

# ---------------------------------------------------------------------------------------------
# 1. Match keys

for m in $IT_MODES; do
    mode_setup "$m"
    acl "allow br0 user=$CNAME\n";            try_as user/match attached "" AS
    acl 'allow br0 user=pb\n';                try_as user/miss refused "$(msg_not_allowed br0)" AS
    acl "allow br0 user=pb,$CNAME\n";         try_as user/list-match attached "" AS
    acl "allow br0 uid=$CALLER_UID\n";        try_as uid/match attached "" AS
    acl 'allow br0 uid=4242,65533\n';         try_as uid/miss refused "$(msg_not_allowed br0)" AS
    acl "allow br0 gid=$CGID\n";              try_as gid/real-gid-match attached "" AS
    acl "allow br0 group=$CGNAME\n";          try_as group/real-gid-match attached "" AS
    acl 'allow br0 group=lab\n';              try_as group/miss-without-groups refused "$(msg_not_allowed br0)" AS
    try_as group/supplementary-match attached "" WITH_LAB
    try_as group/init-groups-match attached "" INIT_GROUPS
    acl 'allow br0 gid=1000\n';               try_as gid/supplementary-match attached "" WITH_LAB
    acl 'allow br0 group=interns\n';          try_as group/supplementary-miss refused "$(msg_not_allowed br0)" WITH_LAB
    # Keys AND: the user matches, the group only with lab.
    acl "allow br0 user=$CNAME group=lab\n"
    try_as and/one-key-misses refused "$(msg_not_allowed br0)" AS
    try_as and/both-match attached "" WITH_LAB
    # A deny by group applies to members only.
    acl 'deny br0 group=lab\nallow br0\n'
    try_as deny-group/member refused "$(msg_denied "$CONF:1" 'deny br0 group=lab' br0)" WITH_LAB
    try_as deny-group/non-member attached "" AS
    # The deny for another bridge does not apply.
    acl 'deny br1 group=lab\nallow br0\n';    try_as deny-group/other-bridge attached "" WITH_LAB
done

# ---------------------------------------------------------------------------------------------
# 2. Names that do not resolve (nsswitch.conf passes 'ghost' on to the next source, e.g.
# libnss_systemd: the helper must load it and must not crash)

for m in $IT_MODES; do
    mode_setup "$m"
    acl 'deny br0 user=ghost\nallow br0\n'
    try_as unresolved/deny refused "$(unresolved "$CONF:1" user ghost 'deny br0 user=ghost' br0)" AS
    acl 'allow br0 group=ghosts\nallow br0\n'
    try_as unresolved/earlier-allow refused "$(unresolved "$CONF:1" group ghosts 'allow br0 group=ghosts' br0)" AS
    # After an allow that grants, a later unresolvable allow decides nothing.
    acl "allow br0\nallow br0 user=ghost\n";  try_as unresolved/later-allow attached "" AS
    # Rules for another bridge are not looked at: their names are never looked up.
    acl 'deny br1 user=ghost\nallow br1 group=ghosts\nallow br0\n'
    try_as unresolved/other-bridge attached "" AS
done

# The second NSS source: without nobody and nogroup in the files, libnss_systemd answers for them.
write_users without-nobody
it_precondition nobody-only-from-nss-systemd bash -c '! grep -q nobody /etc/passwd && [ "$(getent passwd nobody | cut -d: -f3)" = 65534 ]' ||
    it_fail "$IT_NAME/precondition/second-source" "expected getent to find nobody through nsswitch's second source (libnss_systemd)"
for m in s c; do
    mode_setup "$m"
    acl 'allow br0 user=nobody\n';            try_as second-source/user attached "" AS
    acl 'allow br0 group=nogroup\n';          try_as second-source/group attached "" AS
    acl 'deny br0 user=nobody\nallow br0\n'
    try_as second-source/deny refused "$(msg_denied "$CONF:1" 'deny br0 user=nobody' br0)" AS
done
write_users

# ---------------------------------------------------------------------------------------------
# 3. Qualifier errors: file:line, whoever asks, for every bridge

mode_setup s
qualifier_error() { # NAME ACL-TEXT FILE:LINE MESSAGE
    acl "$2"
    try_as "qualifier-error/$1" refused "$P: $3: $4" AS
}
qualifier_error option-on-deny 'allow br0\ndeny br1 max=2\n' "$CONF:2" \
    "'max' is an option of allow rules; a deny takes only user=, uid=, group= and gid="
qualifier_error unknown-key 'allow br0 colour=red\n' "$CONF:1" \
    "unknown qualifier 'colour' (expected user=, uid=, group=, gid=, max=, vlan= or isolated)"
qualifier_error max-out-of-range 'allow br0 max=1024\n' "$CONF:1" "max=1024 is not a number in 1...1023"
qualifier_error vlan-out-of-range 'allow br0 vlan=4095\n' "$CONF:1" "vlan=4095 is not a number in 1...4094"
qualifier_error duplicate-key 'allow br0 user=pb user=alice\n' "$CONF:1" \
    "'user' is given twice in one rule (list values with commas: user=a,b)"
it_reset_etc_qemu
it_acl_text 'allow br0\ninclude /etc/qemu/site.conf\n'
it_acl_text '# site\nallow br1 vlan=0\n' /etc/qemu/site.conf
try_as qualifier-error/in-include refused "$P: /etc/qemu/site.conf:2: vlan=0 is not a number in 1...4094" AS

# ---------------------------------------------------------------------------------------------
# 4. Drop-in directories

D=/etc/qemu/bridge.d
dropins() { # a directory with every kind of entry; only 10-first.conf and 20-second.conf count
    it_reset_etc_qemu
    it_acl_text "include $D/\n"
    mkdir -m 0755 "$D"
    it_acl_text 'allow br0 user=ghost\n' "$D/10-first.conf"   # decides first: unresolvable
    it_acl_text 'allow br0\n' "$D/20-second.conf"
    it_acl_text 'allow br0 user=ghost2\n' "$D/9-last.conf"     # byte order: after 20-second
    local bad='this is not a rule\n'
    it_acl_text "$bad" "$D/.hidden.conf"
    it_acl_text "$bad" "$D/notes.conf.bak"
    it_acl_text "$bad" "$D/README"
    it_acl_text "$bad" "$D/.conf"
    it_acl_text "$bad" /etc/qemu/elsewhere.conf
    ln -s /etc/qemu/elsewhere.conf "$D/15-link.conf"
    ln -s /nonexistent "$D/16-dangling.conf"
    mkdir -m 0755 "$D/17-dir.conf"
    it_acl_text "$bad" "$D/17-dir.conf/x.conf"
    mkfifo -m 0644 "$D/18-fifo.conf"
}
for m in $IT_MODES; do
    mode_setup "$m"
    dropins
    try_as dropin/order-first-file-decides refused \
        "$(unresolved "$D/10-first.conf:1" user ghost 'allow br0 user=ghost' br0)" AS
    rm "$D/10-first.conf"
    try_as dropin/others-ignored attached "" AS
    # A drop-in that only root can read (0640) is skipped for other callers, read by root.
    it_acl_text 'deny br0\n' "$D/05-private.conf"
    chmod 0640 "$D/05-private.conf"
    if [ "$m" = r ]; then
        try_as dropin/private-read-by-root refused "$(msg_denied "$D/05-private.conf:1" 'deny br0' br0)" AS
    else
        try_as dropin/private-skipped attached "" AS
    fi
    rm "$D/05-private.conf"
    # Unsafe: the directory group-writable, or not root's; a symlink to a directory.
    chmod 0775 "$D"
    try_as dropin/group-writable-directory refused \
        "$P: $CONF:1: include refused: $D is writable by group or others (mode 0775); run chmod go-w on it" AS
    chmod 0755 "$D"
    chown 65533 "$D"
    try_as dropin/directory-not-roots refused \
        "$P: $CONF:1: include refused: $D is owned by uid 65533, not root; ACL files and their directories must be root's" AS
    chown 0 "$D"
    it_acl_text 'include /etc/qemu/link.d/\nallow br0\n'
    ln -s bridge.d /etc/qemu/link.d
    try_as dropin/directory-symlink refused \
        "$P: $CONF:1: include refused: /etc/qemu/link.d is a symbolic link; ACL paths must name the real file" AS
    it_acl_text "include /etc/qemu/README/\nallow br0\n"
    it_acl_text 'x\n' /etc/qemu/README
    try_as dropin/not-a-directory refused "$P: $CONF:1: include refused: /etc/qemu/README is not a directory" AS
    # Empty, missing and unreadable directories are skipped like a missing include.
    it_reset_etc_qemu
    it_acl_text 'include /etc/qemu/empty.d/\ninclude /etc/qemu/missing.d/\nallow br0\n'
    mkdir -m 0755 /etc/qemu/empty.d
    try_as dropin/empty-and-missing-skipped attached "" AS
    if [ "$m" != r ]; then
        it_acl_text 'include /etc/qemu/closed.d/\nallow br0\n'
        mkdir -m 0700 /etc/qemu/closed.d
        it_acl_text 'deny br0\n' /etc/qemu/closed.d/deny.conf
        try_as dropin/unreadable-directory-skipped attached "" AS
    fi
done

# Bounded: a directory with more entries than the reader lists is refused, not read to the end.
mode_setup s
it_reset_etc_qemu
it_acl_text "include $D/\nallow br0\n"
mkdir -m 0755 "$D"
(cd "$D" && seq -f 'n%05g' 1 1100 | xargs touch)
try_as dropin/too-many-entries refused \
    "$P: $CONF:1: include refused: $D/: more than 1024 entries; a drop-in directory may hold at most 1024" AS

it_summary
