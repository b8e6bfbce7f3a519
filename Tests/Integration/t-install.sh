#!/bin/bash
# `make install` / `make uninstall` into a staging DESTDIR (never the host's /usr or /etc), in
# both install modes, and the installed helper's --help/--version (stdout, exit 0, no stderr).
#   - setuid: root:root 4755; caps: 0755 with cap_net_admin+ep and no setuid bit;
#   - the sample ACL is installed only when none exists, an existing one is never overwritten;
#   - uninstall removes the programs and keeps the administrator's bridge.conf;
#   - the installed helper actually works (attach as nobody).
set -u
# shellcheck source=Tests/Integration/lib.sh
source "$(dirname "$0")/lib.sh"
bk_enter_sandbox "$@"
it_setup
bk_bridge br0
bk_tun_mode 0666
repo=$IT_ROOT

# make_in DESTDIR MODE TARGET: the Makefile's install logic without rebuilding (-o: treat the
# build targets as up to date; the binaries were built by make test).
make_in() {
    make -s -C "$repo" -o build -o helper -o cli -o deps-build DESTDIR="$1" MODE="$2" "$3" 2>&1
}

for mode in setuid caps; do
    dest=$BK_SCRATCH/dest-$mode
    mkdir -m 0755 "$dest"
    helper=$dest/usr/local/libexec/bridgekeeper-helper
    it_begin
    out=$(make_in "$dest" "$mode" install)
    it_expect "make install output" "installed the sample $dest/etc/qemu/bridge.conf (it allows nothing until you edit it)" "$out"
    it_expect "sample content" "$(cat "$repo/acl/bridge.conf")" "$(cat "$dest/etc/qemu/bridge.conf" 2>/dev/null)"
    it_expect "sample owner and mode" "root:root 644" "$(stat -c '%U:%G %a' "$dest/etc/qemu/bridge.conf" 2>/dev/null)"
    it_expect "CLI installed" "root:root 755" "$(stat -c '%U:%G %a' "$dest/usr/local/bin/bridgekeeper" 2>/dev/null)"
    if [ "$mode" = setuid ]; then
        it_expect "helper owner and mode" "root:root 4755" "$(stat -c '%U:%G %a' "$helper" 2>/dev/null)"
        it_expect "no file capability on the setuid install" "" "$(getcap "$helper" 2>/dev/null)"
    else
        it_expect "helper owner and mode" "root:root 755" "$(stat -c '%U:%G %a' "$helper" 2>/dev/null)"
        it_expect "file capability" "$helper cap_net_admin=ep" "$(getcap "$helper" 2>/dev/null)"
    fi
    it_end "t-install/$mode/fresh-install"

    # The installed helper works for an unprivileged user (its directories are 0755).
    chmod 0755 "$dest/usr" "$dest/usr/local" "$dest/usr/local/libexec"
    it_acl_text 'allow br0\n'
    it_begin
    got=$("${NOBODY[@]}" "$CLI" try --helper "$helper" --br br0 2>&1)
    it_expect_match "attach with the installed helper" 'result=attached helper_exit=0 helper_stdout_bytes=0 tap=tap0 bridge=br0 .* owner=65534' "$got"
    it_expect "TAPs left" "" "$(bk_taps)"
    it_end "t-install/$mode/installed-helper-attaches"

    # --help and --version: stdout, exit 0, nothing on stderr, even for the setuid copy.
    for opt in --help --version; do
        it_begin
        "${NOBODY[@]}" "$helper" "$opt" >"$BK_SCRATCH/out" 2>"$BK_SCRATCH/err"
        it_expect "exit status" 0 "$?"
        it_expect "stderr" "" "$(cat "$BK_SCRATCH/err")"
        if [ "$opt" = --version ]; then
            it_expect "stdout" "bridgekeeper-helper 0.1.0" "$(cat "$BK_SCRATCH/out")"
        else
            it_expect "first line of stdout" "Usage: bridgekeeper-helper [--use-vnet] --br=bridge --fd=unixfd" "$(head -n 1 "$BK_SCRATCH/out")"
        fi
        it_end "t-install/$mode/$opt"
    done

    # An existing policy is never overwritten.
    echo "allow br7" | bk_acl "$dest/etc/qemu/bridge.conf"
    it_begin
    out=$(make_in "$dest" "$mode" install)
    it_expect "make install output" "keeping the existing $dest/etc/qemu/bridge.conf" "$out"
    it_expect "policy kept" "allow br7" "$(cat "$dest/etc/qemu/bridge.conf")"
    it_end "t-install/$mode/keeps-existing-policy"

    it_begin
    make_in "$dest" "$mode" uninstall >/dev/null
    it_expect "helper removed" "absent" "$([ -e "$helper" ] && echo present || echo absent)"
    it_expect "CLI removed" "absent" "$([ -e "$dest/usr/local/bin/bridgekeeper" ] && echo present || echo absent)"
    it_expect "policy kept after uninstall" "allow br7" "$(cat "$dest/etc/qemu/bridge.conf" 2>/dev/null)"
    it_end "t-install/$mode/uninstall-keeps-policy"
done

it_begin
out=$(make -s -C "$repo" -o build -o helper -o cli -o deps-build DESTDIR="$BK_SCRATCH/dest-bad" MODE=bogus install 2>&1)
it_expect "make install MODE=bogus exit" 2 "$?"
it_expect_match "make install MODE=bogus message" '(.|\n)*MODE must be setuid or caps(.|\n)*' "$out"
it_end "t-install/bad-mode-refused"

it_summary
