#!/bin/bash
# Hardening: the safety of the ACL files (threats #7 and #13; contract §5).
#   - user-owned, group-writable and world-writable files and directories, for the top-level
#     file and for includes (also a directory deeper in an include's path, and a missing
#     include below an unsafe directory, which is refused, not skipped);
#   - symbolic links are never followed (to root-owned and to user-owned targets, dangling,
#     looping, a symlinked directory, /etc/qemu itself);
#   - racing renames: a root process swaps what /etc/qemu/inc names (symlink <-> symlink,
#     root file <-> user file by rename(2), root file <-> symlink and a root directory <-> a
#     user-owned directory by renameat2(RENAME_EXCHANGE)) while the helper runs thousands of
#     times with `allow all` + `include /etc/qemu/inc`: br0 is never attached; the outcomes are
#     counted by message;
#   - FIFOs, devices (/dev/zero, a node, a bind mount, a block node), directories, sizes
#     (exactly 1 MiB is read, 1 MiB + 1 and a sparse 1 GiB are refused unread): never a hang;
#   - include cycles (two, three, self, back to the top, through a hard link), diamonds (not a
#     cycle), depth 16 (read) and 17 (refused, also when the 17th does not exist), 256 files
#     (read) and 257 (refused);
#   - "missing" and "unreadable" private files give identical results (includes and the
#     top-level file).
# Modes: lib.sh's IT_MODES (it_mode). Every check asserts the exit status, the exact stderr
# line, an empty stdout, no TAP left, no signal death and no timeout.
set -u
# shellcheck source=Tests/Integration/lib.sh
source "$(dirname "$0")/lib.sh"
bk_enter_sandbox "$@"
it_setup

it_install_helpers
it_build_tools b-client b-swap
BCLIENT=$BK_SCRATCH/bin/b-client
BSWAP=$BK_SCRATCH/bin/b-swap
bk_bridge br0

CONF=/etc/qemu/bridge.conf
P="access denied by acl file: "
OWNED="not root; ACL files and their directories must be root's"
GOW="run chmod go-w on it"
LINKMSG="is a symbolic link; ACL paths must name the real file"
NOT_ALLOWED=$(msg_not_allowed br0)
UNAVAILABLE_TOP="${P}$CONF does not exist or is not readable by this user"
MIB=1048576

# ---------------------------------------------------------------------------------------------
# Helpers

# f_reset: /etc back to 0755, no /etc/qemu.real, no bind mounts of ours, an empty /etc/qemu.
F_MOUNTS=()
f_reset() {
    local m
    for m in "${F_MOUNTS[@]}"; do umount "$m" 2>/dev/null; done
    F_MOUNTS=()
    chmod 0755 /etc
    rm -rf /etc/qemu.real
    it_reset_etc_qemu
}
# f_bind SOURCE TARGET: bind mount, undone by the next f_reset (and the final cleanup).
f_bind() { mount --bind "$1" "$2" && F_MOUNTS+=("$2") && IT_MOUNTS+=("$2"); }

# f_user_file PATH TEXT: an attacker's file (owned by nobody, 0644).
f_user_file() { it_acl_text "$2" "$1"; chown 65534:65534 "$1"; }

# f_comments BYTES: BYTES bytes of comment lines (1024-byte lines, the last one shorter).
f_comments() {
    local bytes=$1 line
    line=$(printf '%1023s' '' | tr ' ' '#')
    { yes "$line" | head -n $((bytes / 1024)); [ $((bytes % 1024)) = 0 ] || printf '%*s\n' $((bytes % 1024 - 1)) '' | tr ' ' '#'; }
}

# h_try NAME EXPECT STDERR [KEY=GLOB...]: one `bridgekeeper try --br br0` in the current mode,
# with every standard assertion.
h_try() {
    local name=$1 expect=$2 stderr=$3
    shift 3
    local fields=("$@")
    [ "$expect" = refused ] || fields=(bridge=br0 owner="$CALLER_UID" "${fields[@]}")
    it_begin
    it_run "${AS[@]}" "$CLI" try --helper "$HELPER" --br br0
    it_expect_finished
    it_assert_try "$expect" "$stderr" "${fields[@]}"
    it_end "t-h-files/$LABEL/$name"
}

# ---------------------------------------------------------------------------------------------
# Scenarios: each sets up /etc/qemu from scratch. The attacker's content is `allow br0`; the
# top-level file does not allow br0 unless the case says so, so honouring an unsafe file (or
# skipping a refused include) would attach.

# Top-level file and the directories above it.
sc_top_user_owned() { f_reset; it_acl_text 'allow br0\n'; chown 65534 "$CONF"; }
sc_top_group_writable() { f_reset; it_acl_text 'allow br0\n'; chmod 0664 "$CONF"; }
sc_top_world_writable() { f_reset; it_acl_text 'allow br0\n'; chmod 0646 "$CONF"; }
sc_top_group_is_users_ok() { f_reset; it_acl_text 'allow br0\n'; chown root:65534 "$CONF"; }
sc_qemu_dir_group_writable() { f_reset; it_acl_text 'allow br0\n'; chmod 0775 /etc/qemu; }
sc_qemu_dir_world_writable() { f_reset; it_acl_text 'allow br0\n'; chmod 0757 /etc/qemu; }
sc_qemu_dir_sticky_1777() { f_reset; it_acl_text 'allow br0\n'; chmod 01777 /etc/qemu; }
sc_qemu_dir_user_owned() { f_reset; it_acl_text 'allow br0\n'; chown 65534 /etc/qemu; }
sc_etc_world_writable() { f_reset; it_acl_text 'allow br0\n'; chmod 0777 /etc; }
sc_top_symlink_to_user_file() {
    f_reset
    f_user_file /etc/qemu/user.conf 'allow br0\n'
    ln -s /etc/qemu/user.conf "$CONF"
}
sc_top_dangling_symlink() { f_reset; ln -s /etc/qemu/absent.conf "$CONF"; }
sc_qemu_dir_is_symlink() {
    f_reset
    rm -rf /etc/qemu
    mkdir -m 0755 /etc/qemu.real
    it_acl_text 'allow br0\n' /etc/qemu.real/bridge.conf
    ln -s /etc/qemu.real /etc/qemu
}

# Includes: the top-level file only includes X; X (or the file below an unsafe directory) allows br0.
sc_inc_user_owned() { f_reset; it_acl_text 'include /etc/qemu/inc.conf\n'; f_user_file /etc/qemu/inc.conf 'allow br0\n'; }
sc_inc_group_writable() { f_reset; it_acl_text 'include /etc/qemu/inc.conf\n'; it_acl_text 'allow br0\n' /etc/qemu/inc.conf; chmod 0664 /etc/qemu/inc.conf; }
sc_inc_world_writable() { f_reset; it_acl_text 'include /etc/qemu/inc.conf\n'; it_acl_text 'allow br0\n' /etc/qemu/inc.conf; chmod 0646 /etc/qemu/inc.conf; }
# sub_with_file PATH: PATH's directories (0755, umask 022) and PATH allowing br0.
sub_with_file() { mkdir -p "$(dirname "$1")"; it_acl_text 'allow br0\n' "$1"; }
sc_inc_dir_world_writable() { f_reset; it_acl_text 'include /etc/qemu/sub/x.conf\n'; sub_with_file /etc/qemu/sub/x.conf; chmod 0777 /etc/qemu/sub; }
sc_inc_dir_group_writable() { f_reset; it_acl_text 'include /etc/qemu/sub/x.conf\n'; sub_with_file /etc/qemu/sub/x.conf; chmod 0775 /etc/qemu/sub; }
sc_inc_dir_user_owned() { f_reset; it_acl_text 'include /etc/qemu/sub/x.conf\n'; sub_with_file /etc/qemu/sub/x.conf; chown 65534 /etc/qemu/sub; }
sc_inc_deep_middle_dir_world_writable() {
    f_reset
    it_acl_text 'include /etc/qemu/sub/deep/x.conf\n'
    sub_with_file /etc/qemu/sub/deep/x.conf
    chmod 0777 /etc/qemu/sub
}
sc_inc_deep_leaf_dir_user_owned() {
    f_reset
    it_acl_text 'include /etc/qemu/sub/deep/x.conf\n'
    sub_with_file /etc/qemu/sub/deep/x.conf
    chown 65534 /etc/qemu/sub/deep
}
sc_inc_missing_below_unsafe_dir() {
    f_reset
    it_acl_text 'allow br0\ninclude /etc/qemu/sub/absent.conf\n'
    mkdir -m 0777 /etc/qemu/sub
    chmod 0777 /etc/qemu/sub
}
sc_inc_in_tmp() { f_reset; it_acl_text 'allow br0\ninclude /tmp/bk-h-files-absent.conf\n'; }
sc_inc_nested_unsafe_dir() {
    f_reset
    it_acl_text 'include /etc/qemu/a.conf\n'
    it_acl_text '# site policy\ninclude /etc/qemu/sub/x.conf\n' /etc/qemu/a.conf
    sub_with_file /etc/qemu/sub/x.conf
    chmod 0777 /etc/qemu/sub
}
sc_inc_symlink_to_root_file() {
    f_reset
    it_acl_text 'include /etc/qemu/link.conf\n'
    it_acl_text 'allow br0\n' /etc/qemu/real.conf
    ln -s /etc/qemu/real.conf /etc/qemu/link.conf
}
sc_inc_symlink_to_user_file() {
    f_reset
    it_acl_text 'include /etc/qemu/link.conf\n'
    f_user_file /etc/qemu/user.conf 'allow br0\n'
    ln -s /etc/qemu/user.conf /etc/qemu/link.conf
}
sc_inc_dangling_symlink() { f_reset; it_acl_text 'allow br0\ninclude /etc/qemu/link.conf\n'; ln -s /etc/qemu/absent.conf /etc/qemu/link.conf; }
sc_inc_symlink_loop() { f_reset; it_acl_text 'allow br0\ninclude /etc/qemu/link.conf\n'; ln -s /etc/qemu/link.conf /etc/qemu/link.conf; }
sc_inc_symlinked_dir() {
    f_reset
    it_acl_text 'include /etc/qemu/sub/x.conf\n'
    sub_with_file /etc/qemu/real/x.conf
    ln -s /etc/qemu/real /etc/qemu/sub
}

# Special files: the top-level file allows br0 and includes X, so skipping X would attach.
sc_inc_fifo() { f_reset; it_acl_text 'allow br0\ninclude /etc/qemu/fifo\n'; mkfifo -m 0644 /etc/qemu/fifo; }
sc_top_fifo() { f_reset; mkfifo -m 0644 "$CONF"; }
sc_inc_dev_zero() { f_reset; it_acl_text 'allow br0\ninclude /dev/zero\n'; }
sc_inc_zero_node() { f_reset; it_acl_text 'allow br0\ninclude /etc/qemu/zero\n'; mknod -m 0644 /etc/qemu/zero c 1 5; }
sc_inc_zero_bind_mount() {
    f_reset
    it_acl_text 'allow br0\ninclude /etc/qemu/zero.conf\n'
    it_acl_text '' /etc/qemu/zero.conf
    f_bind /dev/zero /etc/qemu/zero.conf
}
sc_top_zero_bind_mount() { f_reset; it_acl_text 'allow br0\n'; f_bind /dev/zero "$CONF"; }
sc_inc_block_node() { f_reset; it_acl_text 'allow br0\ninclude /etc/qemu/blk\n'; mknod -m 0644 /etc/qemu/blk b 7 0; }
sc_inc_directory() { f_reset; it_acl_text 'allow br0\ninclude /etc/qemu/dir\n'; mkdir -m 0755 /etc/qemu/dir; }
sc_top_directory() { f_reset; mkdir -m 0755 "$CONF"; }

# Sizes.
sc_inc_exactly_1mib_comments() {
    f_reset
    it_acl_text 'include /etc/qemu/big.conf\n'
    { f_comments $((MIB - 10)); printf 'allow br0\n'; } | bk_acl /etc/qemu/big.conf
}
sc_inc_exactly_1mib_deny_at_the_end() {
    f_reset
    it_acl_text 'allow all\ninclude /etc/qemu/big.conf\n'
    { f_comments $((MIB - 9)); printf 'deny br0\n'; } | bk_acl /etc/qemu/big.conf
}
sc_inc_1mib_plus_1() {
    f_reset
    it_acl_text 'allow br0\ninclude /etc/qemu/big.conf\n'
    f_comments $((MIB + 1)) | bk_acl /etc/qemu/big.conf
}
sc_top_exactly_1mib() { f_reset; { printf 'allow br0\n'; f_comments $((MIB - 10)); } | bk_acl; }
sc_top_1mib_plus_1() { f_reset; { printf 'allow br0\n'; f_comments $((MIB - 9)); } | bk_acl; }
sc_inc_sparse_1gib() {
    f_reset
    it_acl_text 'allow br0\ninclude /etc/qemu/sparse.conf\n'
    it_acl_text '' /etc/qemu/sparse.conf
    truncate -s 1G /etc/qemu/sparse.conf
}

# Cycles, diamonds, depth and file count.
sc_cycle_a_b() {
    f_reset
    it_acl_text 'allow br0\ninclude /etc/qemu/a.conf\n'
    it_acl_text 'include /etc/qemu/b.conf\n' /etc/qemu/a.conf
    it_acl_text 'include /etc/qemu/a.conf\n' /etc/qemu/b.conf
}
sc_cycle_a_b_c() {
    f_reset
    it_acl_text 'allow br0\ninclude /etc/qemu/a.conf\n'
    it_acl_text 'include /etc/qemu/b.conf\n' /etc/qemu/a.conf
    it_acl_text 'include /etc/qemu/c.conf\n' /etc/qemu/b.conf
    it_acl_text '# back\ninclude /etc/qemu/a.conf\n' /etc/qemu/c.conf
}
sc_cycle_include_includes_itself() {
    f_reset
    it_acl_text 'allow br0\ninclude /etc/qemu/a.conf\n'
    it_acl_text '# me\ninclude /etc/qemu/a.conf\n' /etc/qemu/a.conf
}
sc_cycle_top_includes_itself() { f_reset; it_acl_text "allow br0\ninclude $CONF\n"; }
sc_cycle_back_to_top() {
    f_reset
    it_acl_text 'allow br0\ninclude /etc/qemu/a.conf\n'
    it_acl_text "include $CONF\n" /etc/qemu/a.conf
}
sc_cycle_through_hard_link() {
    f_reset
    it_acl_text 'allow br0\ninclude /etc/qemu/a.conf\n'
    it_acl_text 'include /etc/qemu/a-link.conf\n' /etc/qemu/a.conf
    ln /etc/qemu/a.conf /etc/qemu/a-link.conf
}
sc_diamond_is_not_a_cycle() {
    f_reset
    it_acl_text 'include /etc/qemu/a.conf\ninclude /etc/qemu/b.conf\n'
    it_acl_text 'include /etc/qemu/c.conf\n' /etc/qemu/a.conf
    it_acl_text 'include /etc/qemu/c.conf\n' /etc/qemu/b.conf
    it_acl_text 'allow br0\n' /etc/qemu/c.conf
}
sc_same_include_twice() { f_reset; it_acl_text 'include /etc/qemu/c.conf\ninclude /etc/qemu/c.conf\n'; it_acl_text 'allow br0\n' /etc/qemu/c.conf; }
# chain N LAST: bridge.conf -> d1 -> ... -> dN; dN holds LAST.
chain() {
    local n=$1 last=$2 i
    it_acl_text 'include /etc/qemu/d1.conf\n'
    for ((i = 1; i < n; i++)); do it_acl_text "include /etc/qemu/d$((i + 1)).conf\n" "/etc/qemu/d$i.conf"; done
    it_acl_text "$last" "/etc/qemu/d$n.conf"
}
sc_depth_16_is_read() { f_reset; chain 16 'allow br0\n'; }
sc_depth_17_is_refused() { f_reset; chain 17 'allow br0\n'; }
sc_depth_17_missing_is_refused() { f_reset; chain 16 'include /etc/qemu/absent.conf\n'; sed -i '1i allow br0' "$CONF"; }
# files N: bridge.conf includes f1..fN (each a comment); fN allows br0.
files() {
    local n=$1 i text=""
    for ((i = 1; i <= n; i++)); do text+="include /etc/qemu/f$i.conf\n"; it_acl_text "# file $i\n" "/etc/qemu/f$i.conf"; done
    it_acl_text "$text"
    it_acl_text 'allow br0\n' "/etc/qemu/f$n.conf"
}
sc_256_files_are_read() { f_reset; files 255; }
sc_257_files_are_refused() { f_reset; files 256; }

# The table: SCENARIO|MODES|EXPECT|STDERR (MODES: subset of "s c r"; EXPECT attached|refused).
CASES=(
"sc_top_user_owned|s c r|refused|${P}$CONF is owned by uid 65534, $OWNED"
"sc_top_group_writable|s c r|refused|${P}$CONF is writable by group or others (mode 0664); $GOW"
"sc_top_world_writable|s c r|refused|${P}$CONF is writable by group or others (mode 0646); $GOW"
"sc_top_group_is_users_ok|s c r|attached|"
"sc_qemu_dir_group_writable|s c r|refused|${P}/etc/qemu is writable by group or others (mode 0775); $GOW"
"sc_qemu_dir_world_writable|s c r|refused|${P}/etc/qemu is writable by group or others (mode 0757); $GOW"
"sc_qemu_dir_sticky_1777|s c r|refused|${P}/etc/qemu is writable by group or others (mode 01777); $GOW"
"sc_qemu_dir_user_owned|s c r|refused|${P}/etc/qemu is owned by uid 65534, $OWNED"
"sc_etc_world_writable|s c r|refused|${P}/etc is writable by group or others (mode 0777); $GOW"
"sc_top_symlink_to_user_file|s c r|refused|${P}$CONF $LINKMSG"
"sc_top_dangling_symlink|s c r|refused|${P}$CONF $LINKMSG"
"sc_qemu_dir_is_symlink|s c r|refused|${P}/etc/qemu $LINKMSG"
"sc_inc_user_owned|s c r|refused|${P}$CONF:1: include refused: /etc/qemu/inc.conf is owned by uid 65534, $OWNED"
"sc_inc_group_writable|s c r|refused|${P}$CONF:1: include refused: /etc/qemu/inc.conf is writable by group or others (mode 0664); $GOW"
"sc_inc_world_writable|s c r|refused|${P}$CONF:1: include refused: /etc/qemu/inc.conf is writable by group or others (mode 0646); $GOW"
"sc_inc_dir_world_writable|s c r|refused|${P}$CONF:1: include refused: /etc/qemu/sub is writable by group or others (mode 0777); $GOW"
"sc_inc_dir_group_writable|s c r|refused|${P}$CONF:1: include refused: /etc/qemu/sub is writable by group or others (mode 0775); $GOW"
"sc_inc_dir_user_owned|s c r|refused|${P}$CONF:1: include refused: /etc/qemu/sub is owned by uid 65534, $OWNED"
"sc_inc_deep_middle_dir_world_writable|s c r|refused|${P}$CONF:1: include refused: /etc/qemu/sub is writable by group or others (mode 0777); $GOW"
"sc_inc_deep_leaf_dir_user_owned|s c r|refused|${P}$CONF:1: include refused: /etc/qemu/sub/deep is owned by uid 65534, $OWNED"
"sc_inc_missing_below_unsafe_dir|s c r|refused|${P}$CONF:2: include refused: /etc/qemu/sub is writable by group or others (mode 0777); $GOW"
"sc_inc_in_tmp|s c r|refused|${P}$CONF:2: include refused: /tmp is writable by group or others (mode 01777); $GOW"
"sc_inc_nested_unsafe_dir|s c r|refused|${P}/etc/qemu/a.conf:2: include refused: /etc/qemu/sub is writable by group or others (mode 0777); $GOW"
"sc_inc_symlink_to_root_file|s c r|refused|${P}$CONF:1: include refused: /etc/qemu/link.conf $LINKMSG"
"sc_inc_symlink_to_user_file|s c r|refused|${P}$CONF:1: include refused: /etc/qemu/link.conf $LINKMSG"
"sc_inc_dangling_symlink|s c r|refused|${P}$CONF:2: include refused: /etc/qemu/link.conf $LINKMSG"
"sc_inc_symlink_loop|s c r|refused|${P}$CONF:2: include refused: /etc/qemu/link.conf $LINKMSG"
"sc_inc_symlinked_dir|s c r|refused|${P}$CONF:1: include refused: /etc/qemu/sub $LINKMSG"
"sc_inc_fifo|s c r|refused|${P}$CONF:2: include refused: /etc/qemu/fifo is not a regular file"
"sc_top_fifo|s c r|refused|${P}$CONF is not a regular file"
"sc_inc_dev_zero|s c r|refused|${P}$CONF:2: include refused: /dev/zero is not a regular file"
"sc_inc_zero_node|s c r|refused|${P}$CONF:2: include refused: /etc/qemu/zero is not a regular file"
"sc_inc_zero_bind_mount|s c r|refused|${P}$CONF:2: include refused: /etc/qemu/zero.conf is not a regular file"
"sc_top_zero_bind_mount|s c r|refused|${P}$CONF is not a regular file"
"sc_inc_block_node|s c r|refused|${P}$CONF:2: include refused: /etc/qemu/blk is not a regular file"
"sc_inc_directory|s c r|refused|${P}$CONF:2: include refused: /etc/qemu/dir is not a regular file"
"sc_top_directory|s c r|refused|${P}$CONF is not a regular file"
"sc_inc_exactly_1mib_comments|s c r|attached|"
"sc_inc_exactly_1mib_deny_at_the_end|s c r|refused|$(msg_denied /etc/qemu/big.conf:1025 'deny br0' br0)"
"sc_inc_1mib_plus_1|s c r|refused|${P}$CONF:2: include refused: /etc/qemu/big.conf is larger than $MIB bytes"
"sc_top_exactly_1mib|s c r|attached|"
"sc_top_1mib_plus_1|s c r|refused|${P}$CONF is larger than $MIB bytes"
"sc_inc_sparse_1gib|s c r|refused|${P}$CONF:2: include refused: /etc/qemu/sparse.conf is larger than $MIB bytes"
"sc_cycle_a_b|s c r|refused|${P}/etc/qemu/b.conf:1: include cycle: /etc/qemu/a.conf is already being read"
"sc_cycle_a_b_c|s c r|refused|${P}/etc/qemu/c.conf:2: include cycle: /etc/qemu/a.conf is already being read"
"sc_cycle_include_includes_itself|s c r|refused|${P}/etc/qemu/a.conf:2: include cycle: /etc/qemu/a.conf is already being read"
"sc_cycle_top_includes_itself|s c r|refused|${P}$CONF:2: include cycle: $CONF is already being read"
"sc_cycle_back_to_top|s c r|refused|${P}/etc/qemu/a.conf:1: include cycle: $CONF is already being read"
"sc_cycle_through_hard_link|s c r|refused|${P}/etc/qemu/a.conf:1: include cycle: /etc/qemu/a-link.conf is already being read"
"sc_diamond_is_not_a_cycle|s c r|attached|"
"sc_same_include_twice|s c r|attached|"
"sc_depth_16_is_read|s c r|attached|"
"sc_depth_17_is_refused|s c r|refused|${P}/etc/qemu/d16.conf:1: includes are nested more than 16 levels deep"
"sc_depth_17_missing_is_refused|s c r|refused|${P}/etc/qemu/d16.conf:1: includes are nested more than 16 levels deep"
"sc_256_files_are_read|s c r|attached|"
"sc_257_files_are_refused|s c r|refused|${P}$CONF:256: more than 256 files included in total"
)

# The scenario is set up once per row, then run in each mode (none of them changes the files).
for row in "${CASES[@]}"; do
    IFS='|' read -r scenario modes expect stderr <<<"$row"
    "$scenario"
    for mode in $modes; do
        it_mode "$mode"
        h_try "${scenario#sc_}" "$expect" "$stderr"
    done
done
f_reset

# Sanity of the size fixtures (a wrong fixture would make the size checks meaningless).
it_begin
sc_inc_exactly_1mib_comments
it_expect "size of the exactly-1-MiB include" "$MIB" "$(stat -c %s /etc/qemu/big.conf)"
sc_inc_exactly_1mib_deny_at_the_end
it_expect "size of the 1-MiB include ending in deny" "$MIB" "$(stat -c %s /etc/qemu/big.conf)"
it_expect "line of its deny" 1025 "$(grep -n '^deny br0$' /etc/qemu/big.conf | cut -d: -f1)"
sc_inc_1mib_plus_1
it_expect "size of the 1-MiB+1 include" $((MIB + 1)) "$(stat -c %s /etc/qemu/big.conf)"
sc_top_exactly_1mib
it_expect "size of the exactly-1-MiB top-level file" "$MIB" "$(stat -c %s "$CONF")"
sc_top_1mib_plus_1
it_expect "size of the 1-MiB+1 top-level file" $((MIB + 1)) "$(stat -c %s "$CONF")"
it_end "t-h-files/fixtures/sizes"
f_reset

# ---------------------------------------------------------------------------------------------
# Missing and unreadable private files give the same result (threat #13: no existence oracle).
# Each variant is compared with the "missing" one: exit status, stdout and stderr identical.

# private_variant NAME TOPTEXT: sets up one way of "the caller cannot see /etc/qemu/p/x.conf".
private_variant() {
    f_reset
    it_acl_text "$2"
    case $1 in
        missing-file) mkdir -m 0755 /etc/qemu/p ;;
        missing-directory) ;;
        unreadable-file) mkdir -m 0755 /etc/qemu/p; it_acl_text 'allow br0\ndeny br1\n' /etc/qemu/p/x.conf; chmod 0600 /etc/qemu/p/x.conf ;;
        unreadable-file-mode-0000) mkdir -m 0755 /etc/qemu/p; it_acl_text 'allow br0\n' /etc/qemu/p/x.conf; chmod 0000 /etc/qemu/p/x.conf ;;
        file-in-0700-directory) mkdir -m 0700 /etc/qemu/p; it_acl_text 'allow br0\n' /etc/qemu/p/x.conf ;;
        file-in-0711-directory) mkdir -m 0711 /etc/qemu/p; it_acl_text 'allow br0\n' /etc/qemu/p/x.conf; chmod 0600 /etc/qemu/p/x.conf ;;
        missing-in-0711-directory) mkdir -m 0711 /etc/qemu/p ;;
        fifo-in-0700-directory) mkdir -m 0700 /etc/qemu/p; mkfifo -m 0644 /etc/qemu/p/x.conf ;;
        symlink-in-0700-directory) mkdir -m 0700 /etc/qemu/p; ln -s /etc/qemu/user.conf /etc/qemu/p/x.conf ;;
    esac
}
PRIVATE_VARIANTS=(missing-directory unreadable-file unreadable-file-mode-0000 file-in-0700-directory
    file-in-0711-directory missing-in-0711-directory fifo-in-0700-directory symlink-in-0700-directory)

# compare_private LABEL TOPTEXT EXPECT STDERR: every variant gives exactly what missing-file gives.
compare_private() {
    local label=$1 top=$2 expect=$3 stderr=$4 v ref_rc ref_out ref_err
    private_variant missing-file "$top"
    it_begin
    it_run "${AS[@]}" "$CLI" try --helper "$HELPER" --br br0
    it_expect_finished
    local fields=()
    [ "$expect" = refused ] || fields=(bridge=br0 owner="$CALLER_UID")
    it_assert_try "$expect" "$stderr" "${fields[@]}"
    it_end "t-h-files/$LABEL/private-include-$label/missing-file"
    ref_rc=$IT_RC ref_out=$IT_OUT ref_err=$IT_ERR
    for v in "${PRIVATE_VARIANTS[@]}"; do
        private_variant "$v" "$top"
        it_begin
        it_run "${AS[@]}" "$CLI" try --helper "$HELPER" --br br0
        it_expect_finished
        it_expect "exit status (as for a missing file)" "$ref_rc" "$IT_RC"
        it_expect "stderr (as for a missing file)" "$ref_err" "$IT_ERR"
        # The result lines differ only in the TAP's random MAC address.
        it_expect "stdout without the MAC (as for a missing file)" \
            "$(printf '%s' "$ref_out" | sed 's/ mac=[^ ]*//')" "$(printf '%s' "$IT_OUT" | sed 's/ mac=[^ ]*//')"
        it_expect_no_taps
        it_end "t-h-files/$LABEL/private-include-$label/$v-same-as-missing"
    done
}

for mode in s c; do
    it_mode "$mode"
    # Without another rule: refused, "no rule allows" for every variant.
    compare_private only-rule 'include /etc/qemu/p/x.conf\n' refused "$NOT_ALLOWED"
    # With `allow br0` around it: attached for every variant (the include is skipped).
    compare_private skipped 'allow br0\ninclude /etc/qemu/p/x.conf\n' attached ""
done

# The top-level file: missing, unreadable (0600, 0000), in a 0700 or 0711 directory: one text.
top_variant() {
    f_reset
    case $1 in
        missing) ;;
        mode-0600) it_acl_text 'allow br0\n'; chmod 0600 "$CONF" ;;
        mode-0000) it_acl_text 'allow br0\n'; chmod 0000 "$CONF" ;;
        directory-0700) it_acl_text 'allow br0\n'; chmod 0700 /etc/qemu ;;
        directory-0711-file-0600) it_acl_text 'allow br0\n'; chmod 0600 "$CONF"; chmod 0711 /etc/qemu ;;
        directory-missing) rm -rf /etc/qemu ;;
    esac
}
for mode in $IT_MODES; do
    it_mode "$mode"
    # Root (no CAP_DAC_OVERRIDE after the drop) can still read its own 0600 file and 0700
    # directory: there only the variants root cannot read are compared.
    case $mode in
        r) variants=(missing mode-0000 directory-missing) ;;
        *) variants=(missing mode-0600 mode-0000 directory-0700 directory-0711-file-0600 directory-missing) ;;
    esac
    for v in "${variants[@]}"; do
        top_variant "$v"
        h_try "top-level-$v" refused "$UNAVAILABLE_TOP"
    done
done
f_reset

# ---------------------------------------------------------------------------------------------
# Racing renames. A root process swaps what /etc/qemu/inc (or the directory /etc/qemu/sub)
# names, as fast as it can, while nobody's helper runs RUNS times with `allow all` + an include
# of it. The root-owned side says `deny br0`, the attacker's side says `allow br0`. Whatever the
# interleaving, br0 must never be attached and nothing may leak; each outcome is counted.

RACE_DENY="${P}/etc/qemu/inc:1: 'deny br0' refuses bridge 'br0'"
RACE_USER="${P}$CONF:2: include refused: /etc/qemu/inc is owned by uid 65534, $OWNED"
RACE_LINK="${P}$CONF:2: include refused: /etc/qemu/inc $LINKMSG"
RACE_CHANGED="${P}$CONF:2: include refused: /etc/qemu/inc changed while it was being checked"
RACE_ELOOP="${P}$CONF:2: include refused: /etc/qemu/inc: Too many levels of symbolic links"
RACE_DIR_DENY="${P}/etc/qemu/sub/x.conf:1: 'deny br0' refuses bridge 'br0'"
RACE_DIR_USER="${P}$CONF:2: include refused: /etc/qemu/sub is owned by uid 65534, $OWNED"
RACE_DIR_CHANGED="${P}$CONF:2: include refused: /etc/qemu/sub changed while it was being checked"

race_files() {
    f_reset
    it_acl_text 'deny br0\n' /etc/qemu/deny.conf
    mkdir -m 0755 /etc/qemu/home
    chown 65534:65534 /etc/qemu/home
    f_user_file /etc/qemu/home/allow.conf 'allow br0\n'
    f_user_file /etc/qemu/allow.conf 'allow br0\n'
}
race_symlink_symlink() {
    race_files
    it_acl_text "allow all\ninclude /etc/qemu/inc\n"
    ln -s /etc/qemu/deny.conf /etc/qemu/inc
    SWAP=("$BSWAP" symlink /etc/qemu/deny.conf /etc/qemu/home/allow.conf /etc/qemu/inc)
}
race_rename_files() {
    race_files
    it_acl_text "allow all\ninclude /etc/qemu/inc\n"
    ln /etc/qemu/deny.conf /etc/qemu/inc
    SWAP=("$BSWAP" link /etc/qemu/deny.conf /etc/qemu/allow.conf /etc/qemu/inc)
}
race_exchange_file_symlink() {
    race_files
    it_acl_text "allow all\ninclude /etc/qemu/inc\n"
    cp /etc/qemu/deny.conf /etc/qemu/inc
    ln -s /etc/qemu/home/allow.conf /etc/qemu/inc.other
    SWAP=("$BSWAP" exchange /etc/qemu/inc.other /etc/qemu/inc)
}
race_exchange_directories() {
    race_files
    it_acl_text "allow all\ninclude /etc/qemu/sub/x.conf\n"
    mkdir -m 0755 /etc/qemu/sub /etc/qemu/sub.user
    it_acl_text 'deny br0\n' /etc/qemu/sub/x.conf
    it_acl_text 'allow br0\n' /etc/qemu/sub.user/x.conf
    chown 65534:65534 /etc/qemu/sub.user
    SWAP=("$BSWAP" exchange /etc/qemu/sub.user /etc/qemu/sub)
}

# race NAME RUNS "REQUIRED..." "ALLOWED...": messages (stderr lines) separated by '|'. Every
# outcome must be exit 1, no descriptor, empty stdout and one ALLOWED line; each REQUIRED line
# must occur at least once (proof that the swap really raced the helper).
race() {
    local name=$1 runs=$2 required=$3 allowed=$4
    "race_$name"
    local swap_out=$BK_SCRATCH/swap.out table=$BK_SCRATCH/race.out
    "${SWAP[@]}" >"$swap_out" 2>&1 &
    local swap_pid=$!
    timeout -k 2 120 "${AS[@]}" "$BCLIENT" repeat "$runs" "$HELPER" --use-vnet --br=br0 '--fd={fd}' \
        >"$table" 2>"$BK_SCRATCH/race.err"
    local rc=$?
    kill -TERM "$swap_pid"
    wait "$swap_pid"
    local swap_rc=$?
    it_begin
    it_expect "b-client exit status" 0 "$rc"
    it_expect "b-client stderr" "" "$(cat "$BK_SCRATCH/race.err")"
    it_expect "swapper exit status" 0 "$swap_rc"
    local swaps
    swaps=$(sed -n 's/^swaps=//p' "$swap_out")
    [ "${swaps:-0}" -ge "$runs" ] 2>/dev/null ||
        it_problem "expected at least $runs swaps during the run, got '$(it_show "$(cat "$swap_out")")'"
    local summary
    summary=$(tail -n 1 "$table")
    [[ $summary == "runs=$runs leaks=0 "* ]] || it_problem "expected 'runs=$runs leaks=0 ...', got '$(it_show "$summary")'"
    local -A seen=()
    local count key msg ok a total=0
    local IFS_save=$IFS
    while IFS=' ' read -r count key; do
        [[ $count =~ ^[0-9]+$ ]] || continue
        total=$((total + count))
        printf '# t-h-files/%s/race-%s: %6d x %s\n' "$LABEL" "$name" "$count" "$key"
        msg=${key#exit=1 fd=0 stdout=0 stderr=}
        ok=0
        if [ "$msg" != "$key" ] && [[ $msg == *'\n' ]]; then
            msg=${msg%'\n'}
            IFS='|'
            for a in $allowed; do [ "$a" = "$msg" ] && ok=1; done
            IFS=$IFS_save
        fi
        [ $ok = 1 ] || it_problem "expected only refusals with an allowed message, got $count x '$key'"
        seen[$msg]=1
    done <"$table"
    IFS=$IFS_save
    it_expect "outcomes counted" "$runs" "$total"
    IFS='|'
    for a in $required; do
        IFS=$IFS_save
        [ -n "${seen[$a]:-}" ] || it_problem "expected the outcome '$a' at least once (the race was not exercised), got none"
        IFS='|'
    done
    IFS=$IFS_save
    it_expect_no_taps
    it_end "t-h-files/$LABEL/race-$name-${runs}-runs-never-attached"
    printf '# t-h-files/%s/race-%s: %s swaps while the helper ran\n' "$LABEL" "$name" "${swaps:-?}"
}

for mode in $IT_MODES; do
    it_mode "$mode"
    runs=1000
    [ "$mode" = s ] && runs=3000
    race symlink_symlink "$runs" "$RACE_LINK" "$RACE_LINK"
    race rename_files "$runs" "$RACE_DENY|$RACE_USER" "$RACE_DENY|$RACE_USER|$RACE_CHANGED"
    race exchange_file_symlink "$runs" "$RACE_DENY|$RACE_LINK" "$RACE_DENY|$RACE_LINK|$RACE_ELOOP|$RACE_CHANGED"
    race exchange_directories "$runs" "$RACE_DIR_DENY|$RACE_DIR_USER" "$RACE_DIR_DENY|$RACE_DIR_USER|$RACE_DIR_CHANGED"
done
f_reset

it_summary
