#!/bin/bash
# The Debian packages (`make deb`), installed with the host's dpkg and its real database, but
# inside a sandbox whose /usr, /var and /etc are copy-on-write overlays of the host's: dpkg,
# dpkg-divert and dpkg-statoverride see and change the host's state only in this mount
# namespace, so other test suites running at the same time (t-differential uses the stock
# /usr/lib/qemu/qemu-bridge-helper as its oracle) never see a diverted helper. Around the
# sandbox, the host's state is snapshotted before and compared after (dpkg -l, diversions,
# statoverrides, /etc/qemu, /usr/lib/qemu, the package's paths); a difference is a FAIL, and the
# EXIT trap then purges what this test could have left and removes its diversion/statoverride.
#   - build: the three packages, their contents (man pages and completions included), lintian;
#   - install: files, owners, modes (setuid root by default), conffile, stripped binaries, the
#     sample ACL allows nothing;
#   - upgrade (same binaries, bumped package version): an edited bridge.conf and a root:kvm 4750
#     statoverride are kept; a statoverride without the setuid bit selects the file capability,
#     which every upgrade sets again;
#   - bridgekeeper-default-helper and make install-default-helper: QEMU's -netdev bridge without
#     helper=, run by nobody, gets bridgekeeper's refusal for a denied bridge and a TAP on an
#     allowed one; removing either puts the stock helper back byte for byte;
#   - remove keeps bridge.conf, purge removes it; afterwards dpkg's state is what it was.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=Tests/Integration/lib.sh
source "$here/../Integration/lib.sh"
IT_NAME=t-deb
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
STOCK=/usr/lib/qemu/qemu-bridge-helper
HELPER_PATH=/usr/libexec/bridgekeeper-helper
PACKAGES=(bridgekeeper-default-helper bridgekeeper-dbgsym bridgekeeper)

# deb_snapshot: everything a package install could change that this test must leave as it was.
deb_snapshot() {
    echo "## dpkg"
    dpkg-query -W -f='${db:Status-Abbrev} ${binary:Package} ${Version}\n' | LC_ALL=C sort
    echo "## diversions"
    dpkg-divert --list | LC_ALL=C sort
    echo "## statoverrides"
    dpkg-statoverride --list | LC_ALL=C sort
    local p
    for p in /etc/qemu /usr/lib/qemu "$HELPER_PATH" /usr/bin/bridgekeeper /usr/share/doc/bridgekeeper \
        /usr/share/doc/bridgekeeper-default-helper /usr/share/man/man8/bridgekeeper-helper.8.gz; do
        echo "## $p"
        if [ -e "$p" ] || [ -L "$p" ]; then
            find "$p" -printf '%p %y %m %u:%g %s %l\n' | LC_ALL=C sort
            find "$p" -type f -exec sha256sum {} + | LC_ALL=C sort
            getcap -r "$p" 2>/dev/null | LC_ALL=C sort
        else
            echo absent
        fi
    done
}

# ---------------------------------------------------------------------------------------------
# Outside the sandbox: snapshot, run the sandboxed part, compare, restore if needed.
if [ "${BK_SANDBOX:-}" != 1 ]; then
    [ "$(id -u)" = 0 ] || bk_die "must run as root (dpkg, namespaces)"
    host=$(mktemp -d /tmp/bk-deb-host.XXXXXX)
    deb_snapshot >"$host/before"

    # deb_restore: undoes on the host what this test could have left (only what was not there
    # before), after a difference was found.
    deb_restore() {
        local pkg
        for pkg in "${PACKAGES[@]}"; do
            grep -q " $pkg " "$host/before" && continue
            dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null | grep -q '^[a-z][ic]' &&
                dpkg --purge "$pkg" >/dev/null 2>&1
        done
        if ! grep -q "^diversion of $STOCK " "$host/before"; then
            local by
            by=$(dpkg-divert --listpackage "$STOCK")
            if [ -n "$by" ]; then
                [ -L "$STOCK" ] && rm -f "$STOCK"
                if [ "$by" = LOCAL ]; then
                    dpkg-divert --local --rename --divert "$STOCK.distrib" --remove "$STOCK" >/dev/null
                else
                    dpkg-divert --package "$by" --rename --divert "$STOCK.distrib" --remove "$STOCK" >/dev/null
                fi
            fi
        fi
        grep -q " $HELPER_PATH\$" "$host/before" ||
            dpkg-statoverride --remove "$HELPER_PATH" >/dev/null 2>&1
        return 0
    }
    deb_host_check() {
        deb_snapshot >"$host/after"
        it_begin
        if ! cmp -s "$host/before" "$host/after"; then
            it_problem "expected the host's packages, diversions, statoverrides and files as before the test, got: $(diff "$host/before" "$host/after" | grep '^[<>]' | head -20 | paste -sd '|')"
            deb_restore
            deb_snapshot >"$host/restored"
            cmp -s "$host/before" "$host/restored" ||
                it_problem "expected the restore to bring the host back, got: $(diff "$host/before" "$host/restored" | grep '^[<>]' | head -20 | paste -sd '|')"
        fi
        it_end "t-deb/host-unchanged"
    }
    trap 'deb_host_check; rm -rf "$host"; it_summary_outer' EXIT
    trap 'exit 143' TERM INT
    it_summary_outer() {
        IT_PASSED=$((IT_PASSED + inner_passed)) IT_FAILED=$((IT_FAILED + inner_failed))
        [ "$inner_status" = 0 ] || [ "$inner_failed" -gt 0 ] ||
            it_fail "t-deb/sandbox" "expected exit status 0 from the sandboxed part, got $inner_status"
        it_summary
        exit $?
    }
    inner_passed=0 inner_failed=0 inner_status=""
    while IFS= read -r line; do
        case $line in
            "PASS "*) inner_passed=$((inner_passed + 1)); printf '%s\n' "$line" ;;
            "FAIL "*) inner_failed=$((inner_failed + 1)); printf '%s\n' "$line" ;;
            "__status="*) inner_status=${line#__status=} ;;
            *) printf '%s\n' "$line" ;;
        esac
    done < <(BK_SANDBOX=1 BK_IT_RUNNER=1 unshare --mount --net --propagation private --fork -- bash "$0" "$@" 2>&1 </dev/null
             echo "__status=$?")
    exit 0
fi

# ---------------------------------------------------------------------------------------------
# Inside the sandbox.
bk_enter_sandbox "$@"
it_setup
for tool in dpkg-deb lintian qemu-system-x86_64 getcap groupadd readelf; do
    it_precondition "tool-$tool" command -v "$tool" || it_abort
done
it_precondition "stock helper at $STOCK" test -f "$STOCK" || it_abort
repo=$IT_ROOT
version=$(sed -n 's/.*static let version = "\([^"]*\)".*/\1/p' "$repo/Sources/BridgeACL/Installation.swift")
bumped=$version+t2

# Copy-on-write /usr and /var over the host's (/etc already is one): dpkg changes them here only.
for d in usr var; do
    mkdir "$BK_SCRATCH/$d-upper" "$BK_SCRATCH/$d-work"
    it_mount "/$d" -t overlay overlay -o "lowerdir=/$d,upperdir=$BK_SCRATCH/$d-upper,workdir=$BK_SCRATCH/$d-work" ||
        { it_fail "t-deb/precondition/overlay-$d" "expected an overlay over /$d, got a mount failure"; it_abort; }
done
rmdir /etc/qemu                        # as on a host without QEMU's ACL: dpkg creates it
rm -f /var/lib/man-db/auto-update      # no mandb run per dpkg call (seconds each)
getent group kvm >/dev/null || groupadd -r kvm
kvm_gid=$(getent group kvm | cut -d: -f3)
stock_sum=$(sha256sum "$STOCK" | cut -d' ' -f1)
stock_stat=$(stat -c '%U:%G %a %s' "$STOCK")
# The same snapshot without /etc/qemu (the sandbox's own, made for the tests).
sandbox_snapshot() { deb_snapshot | sed '/^## \/etc\/qemu$/,/^## /{/^## \/usr/!d}'; }
sandbox_before=$(sandbox_snapshot)

# dpkg_do NAME ARGS...: dpkg ARGS, output in $BK_SCRATCH/NAME.log; its status in DPKG_RC.
dpkg_do() {
    local log=$BK_SCRATCH/$1.log
    shift
    dpkg "$@" </dev/null >"$log" 2>&1
    DPKG_RC=$?
    DPKG_LOG=$(tail -n 5 "$log")
}
expect_dpkg_ok() { [ "$DPKG_RC" = 0 ] || it_problem "expected dpkg to succeed, got status $DPKG_RC: $(it_show "$DPKG_LOG")"; }
status_of() { dpkg-query -W -f='${db:Status-Abbrev}${Version}' "$1" 2>/dev/null; }
mode_of() { stat -c '%U:%G %a' "$1" 2>&1; }
present() { if [ -e "$1" ] || [ -L "$1" ]; then echo present; else echo absent; fi; }
has_symtab() { if readelf -S "$1" 2>/dev/null | grep -q ' \.symtab '; then echo symbols; else echo stripped; fi; }

# --- build ------------------------------------------------------------------------------------
# gzip -1: the same packages as `make deb` (xz) 50 s faster; the test builds two versions.
build_deb() {
    DEB_COMPRESS=gzip DEB_LEVEL=1 make -s -C "$repo" -o build -o helper -o cli -o deps-build \
        DEB_OUT="$1" DEB_VERSION="$2" deb 2>"$BK_SCRATCH/make-deb.err"
}
v1=$BK_SCRATCH/v1 v2=$BK_SCRATCH/v2
it_begin
out=$(build_deb "$v1" "")
it_expect "make deb exit status" 0 "$?"
it_expect "make deb output" "$v1/bridgekeeper_${version}_amd64.deb
$v1/bridgekeeper-default-helper_${version}_all.deb
$v1/bridgekeeper-dbgsym_${version}_amd64.deb" "$out"
it_end "t-deb/build/make-deb"
MAIN1=$v1/bridgekeeper_${version}_amd64.deb
it_precondition "package built" test -f "$MAIN1" || it_abort

it_begin
out=$(build_deb "$v2" "$bumped")
it_expect "make deb DEB_VERSION=$bumped exit status" 0 "$?"
it_end "t-deb/build/bumped-version"
MAIN2=$v2/bridgekeeper_${bumped}_amd64.deb DFLT2=$v2/bridgekeeper-default-helper_${bumped}_all.deb
DBG1=$v1/bridgekeeper-dbgsym_${version}_amd64.deb

# The man pages and completions come from other targets (man/, make completions): a package
# without them is a failure, never a skip.
it_begin
listing=$(dpkg-deb -c "$MAIN1" | awk '{print $6}')
for path in ./usr/libexec/bridgekeeper-helper ./usr/bin/bridgekeeper ./etc/qemu/bridge.conf \
    ./usr/share/doc/bridgekeeper/copyright ./usr/share/doc/bridgekeeper/changelog.gz \
    ./usr/share/man/man1/bridgekeeper.1.gz ./usr/share/man/man8/bridgekeeper-helper.8.gz \
    ./usr/share/man/man5/bridge.conf.5.gz ./usr/share/bash-completion/completions/bridgekeeper \
    ./usr/share/zsh/vendor-completions/_bridgekeeper ./usr/share/fish/vendor_completions.d/bridgekeeper.fish; do
    grep -qxF "$path" <<<"$listing" || it_problem "expected $path in the package, got none"
done
it_expect "make deb warnings" "" "$(cat "$BK_SCRATCH/make-deb.err")"
it_end "t-deb/build/contents-with-man-pages-and-completions"

it_begin
it_expect "conffiles" "/etc/qemu/bridge.conf" "$(dpkg-deb -I "$MAIN1" conffiles)"
it_expect "default-helper link" "lrwxrwxrwx root/root ./usr/lib/qemu/qemu-bridge-helper -> ../../libexec/bridgekeeper-helper" \
    "$(dpkg-deb -c "$DFLT2" | awk '$6 == "./usr/lib/qemu/qemu-bridge-helper" {print $1, $2, $6, $7, $8}')"
it_expect "default-helper Depends" "bridgekeeper (>= $bumped)" "$(dpkg-deb -f "$DFLT2" Depends)"
it_end "t-deb/build/control"

# lintian: no error; the only warning allowed is the one the README explains (a static-PIE
# helper looks like a shared library without dependencies; absent with LINK=dynamic).
# The warnings for missing man pages and completions, and the refusals (scripts/make-deb.sh
# itself, with small stand-in binaries: only the messages matter here).
mkdir -m 0755 "$BK_SCRATCH/empty"
it_begin
BK_MAN_DIR=$BK_SCRATCH/empty BK_COMPLETIONS_DIR=$BK_SCRATCH/empty DEB_COMPRESS=gzip DEB_LEVEL=1 \
    HELPER=/usr/bin/true CLI=/usr/bin/true DEB_OUT="$BK_SCRATCH/warn" "$repo/scripts/make-deb.sh" >/dev/null 2>"$BK_SCRATCH/warn.err"
it_expect "exit status" 0 "$?"
e=$BK_SCRATCH/empty
it_expect "stderr" "make deb: warning: no $e/bridgekeeper.1: the package has no bridgekeeper(1) page
make deb: warning: no $e/bridgekeeper-helper.8: the package has no bridgekeeper-helper(8) page
make deb: warning: no $e/bridge.conf.5: the package has no bridge.conf(5) page
make deb: warning: no bash completion in $e: the package has none
make deb: warning: no zsh completion in $e: the package has none
make deb: warning: no fish completion in $e: the package has none" "$(cat "$BK_SCRATCH/warn.err")"
it_end "t-deb/build/warnings-without-man-pages-and-completions"

it_begin
it_run make -s -C "$repo" -o build -o helper -o cli -o deps-build HELPER=/nonexistent/helper DEB_OUT="$BK_SCRATCH/none" deb
it_expect "exit status" 2 "$IT_RC"
it_expect "stdout" "" "$IT_OUT"
it_expect "first line of stderr" "make deb: no release binary at /nonexistent/helper: run make build" "$(head -n 1 <<<"$IT_ERR")"
it_end "t-deb/build/refused-without-release-build"

it_begin
it_precondition busybox-static test -x /bin/busybox || it_abort
it_run env HELPER=/bin/busybox CLI=/bin/busybox DEB_OUT="$BK_SCRATCH/static" "$repo/scripts/make-deb.sh"
it_expect "exit status" 1 "$IT_RC"
it_expect "first line of stderr (after any warning)" "make deb: dpkg-shlibdeps found no dependency for the CLI (it links glibc dynamically)" \
    "$(grep -v '^make deb: warning: ' <<<"$IT_ERR" | head -n 1)"
mkdir "$BK_SCRATCH/path"
for f in /usr/bin/*; do [ "$f" = /usr/bin/readelf ] || ln -s "$f" "$BK_SCRATCH/path/"; done
it_run env PATH="$BK_SCRATCH/path" DEB_OUT="$BK_SCRATCH/none" /usr/bin/bash "$repo/scripts/make-deb.sh"
it_expect "without readelf: exit status" 1 "$IT_RC"
it_expect "without readelf: stderr" "make deb: readelf is missing: apt-get install dpkg-dev binutils
" "$IT_ERR"
it_end "t-deb/build/refusals"

# lintian runs (about 20 s) while the rest of the test does; its check is at the end.
lintian "$MAIN1" "$v1/bridgekeeper-default-helper_${version}_all.deb" "$DBG1" >"$BK_SCRATCH/lintian" 2>"$BK_SCRATCH/lintian.err" &
lint_pid=$!
lintian_check() {
    it_begin
    wait "$lint_pid"
    lint_rc=$?
    unexplained=$(grep -E '^[EW]: ' "$BK_SCRATCH/lintian" |
        grep -vxF 'W: bridgekeeper: shared-library-lacks-prerequisites [usr/libexec/bridgekeeper-helper]')
    it_expect "lintian errors and unexplained warnings" "" "$unexplained"
    it_expect "lintian exit status" 0 "$lint_rc"
    it_end "t-deb/lintian"
}

# The debug symbols: one .debug per binary, under the build id of the stripped binary.
it_begin
dpkg-deb -x "$MAIN1" "$BK_SCRATCH/x1"
dpkg-deb -x "$DBG1" "$BK_SCRATCH/xdbg"
for bin in usr/libexec/bridgekeeper-helper usr/bin/bridgekeeper; do
    id=$(readelf -n "$BK_SCRATCH/x1/$bin" | sed -n 's/^ *Build ID: *//p')
    it_expect "$bin stripped" stripped "$(has_symtab "$BK_SCRATCH/x1/$bin")"
    debug=$BK_SCRATCH/xdbg/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug
    it_expect "$bin debug file with symbols" symbols "$(has_symtab "$debug")"
    readelf -S "$debug" 2>/dev/null | grep -q ' \.debug_info ' || it_problem "expected .debug_info in $debug, got none"
done
it_end "t-deb/dbgsym"

# make install strips too.
it_begin
make -s -C "$repo" -o build -o helper -o cli -o deps-build DESTDIR="$BK_SCRATCH/inst" install >/dev/null 2>&1
it_expect "make install: helper" stripped "$(has_symtab "$BK_SCRATCH/inst/usr/local/libexec/bridgekeeper-helper")"
it_expect "make install: CLI" stripped "$(has_symtab "$BK_SCRATCH/inst/usr/local/bin/bridgekeeper")"
it_end "t-deb/make-install-strips"

# --- install ----------------------------------------------------------------------------------
bk_bridge br0
bk_bridge br1
it_begin
dpkg_do install-v1 -i "$MAIN1"
expect_dpkg_ok
it_expect "status" "ii $version" "$(status_of bridgekeeper)"
it_expect "helper" "root:root 4755" "$(mode_of "$HELPER_PATH")"
it_expect "helper capability" "" "$(getcap "$HELPER_PATH")"
it_expect "CLI" "root:root 755" "$(mode_of /usr/bin/bridgekeeper)"
it_expect "bridge.conf" "root:root 644" "$(mode_of /etc/qemu/bridge.conf)"
it_expect "bridge.conf content" "$(cat "$repo/acl/bridge.conf")" "$(cat /etc/qemu/bridge.conf)"
it_expect "registered conffile" " /etc/qemu/bridge.conf $(md5sum <"$repo/acl/bridge.conf" | cut -d' ' -f1)" \
    "$(dpkg-query -W -f='${Conffiles}' bridgekeeper | grep bridge.conf)"
it_expect "copyright" "root:root 644" "$(mode_of /usr/share/doc/bridgekeeper/copyright)"
it_expect "changelog version" "bridgekeeper ($version) unstable; urgency=medium" "$(zcat /usr/share/doc/bridgekeeper/changelog.gz | head -n 1)"
it_expect "installed helper" stripped "$(has_symtab "$HELPER_PATH")"
it_expect "installed CLI" stripped "$(has_symtab /usr/bin/bridgekeeper)"
it_expect "helper --version" "bridgekeeper-helper $version" "$("${NOBODY[@]}" "$HELPER_PATH" --version 2>&1)"
it_end "t-deb/install/files-and-modes"

it_begin
it_run "${NOBODY[@]}" /usr/bin/bridgekeeper try --helper "$HELPER_PATH" --br br0
it_assert_try refused "$(msg_not_allowed br0)"
it_end "t-deb/install/sample-acl-allows-nothing"

# --- the administrator's choices, then an upgrade ---------------------------------------------
printf '# edited by the administrator\nallow br0\n' >/etc/qemu/bridge.conf
dpkg-statoverride --update --add root kvm 4750 "$HELPER_PATH"
it_begin
dpkg_do upgrade -i "$MAIN2"
expect_dpkg_ok
it_expect "status" "ii $bumped" "$(status_of bridgekeeper)"
it_expect "edited bridge.conf kept" "# edited by the administrator
allow br0" "$(cat /etc/qemu/bridge.conf)"
it_expect "helper (statoverride)" "root:kvm 4750" "$(mode_of "$HELPER_PATH")"
it_expect "statoverride kept" "root kvm 4750 $HELPER_PATH" "$(dpkg-statoverride --list "$HELPER_PATH")"
it_expect "helper capability" "" "$(getcap "$HELPER_PATH")"
# Through sh: setpriv itself still holds root's capabilities when it calls execve, so only a
# program it starts sees the execute bits as nobody does.
it_run "${NOBODY[@]}" sh -c "exec $HELPER_PATH --version"
it_expect "nobody (not in kvm) cannot run it" 126 "$IT_RC"
it_run setpriv --reuid=65534 --regid=65534 --groups="$kvm_gid" -- /usr/bin/bridgekeeper try --helper "$HELPER_PATH" --br br0
it_assert_try attached "" tap=tap0 bridge=br0 owner=65534
it_end "t-deb/upgrade/keeps-edited-conffile-and-statoverride"

# A statoverride without the setuid bit selects the file capability; an upgrade (here a
# reinstall, which unpacks the file again and so loses the capability) sets it again.
dpkg-statoverride --remove "$HELPER_PATH"
dpkg-statoverride --update --add root root 0755 "$HELPER_PATH"
setcap cap_net_admin+ep "$HELPER_PATH"
# Without setcap (libcap2-bin is only recommended), that choice fails the configuration loudly.
it_begin
it_run env PATH=/usr/bin:/bin sh /var/lib/dpkg/info/bridgekeeper.postinst configure "$version"
it_expect "postinst exit status" 1 "$IT_RC"
it_expect "postinst stderr" "bridgekeeper: the statoverride 'root root 755 $HELPER_PATH' selects the file capability, but setcap is missing: apt-get install libcap2-bin
" "$IT_ERR"
it_end "t-deb/upgrade/file-capability-choice-without-setcap"

it_begin
dpkg_do reinstall-caps -i "$MAIN2"
expect_dpkg_ok
it_expect "helper" "root:root 755" "$(mode_of "$HELPER_PATH")"
it_expect "helper capability" "$HELPER_PATH cap_net_admin=ep" "$(getcap "$HELPER_PATH")"
bk_tun_mode 0666
it_run "${NOBODY[@]}" /usr/bin/bridgekeeper try --helper "$HELPER_PATH" --br br0
it_assert_try attached "" tap=tap0 bridge=br0 owner=65534
bk_tun_mode 0600
it_end "t-deb/upgrade/file-capability-choice-survives"

# Back to the default as the README says: remove the override, dpkg-reconfigure.
dpkg-statoverride --remove "$HELPER_PATH"
it_begin
it_run env DEBIAN_FRONTEND=noninteractive dpkg-reconfigure bridgekeeper
it_expect "dpkg-reconfigure exit status" 0 "$IT_RC"
it_expect "helper" "root:root 4755" "$(mode_of "$HELPER_PATH")"
it_expect "helper capability" "" "$(getcap "$HELPER_PATH")"
it_end "t-deb/upgrade/no-statoverride-is-setuid-root"

# --- QEMU's default helper --------------------------------------------------------------------
QEMU=(qemu-system-x86_64 -machine none -nodefaults -display none -monitor none -serial none)

# qemu_refused LABEL: QEMU without helper= asks for br1 (no rule allows it): our message, then QEMU's.
qemu_refused() {
    it_begin
    it_run "${NOBODY[@]}" "${QEMU[@]}" -netdev bridge,id=n0,br=br1
    it_expect "QEMU exit status" 1 "$IT_RC"
    it_expect "QEMU stderr" "$(msg_not_allowed br1)
qemu-system-x86_64: -netdev bridge,id=n0,br=br1: bridge helper failed
" "$IT_ERR"
    it_expect_no_taps
    it_end "t-deb/$1/qemu-denied-bridge-refused"
}

# qemu_attached LABEL: QEMU without helper= gets a TAP on br0 owned by nobody, gone once it exits.
qemu_attached() {
    local tap="" i
    "${NOBODY[@]}" "${QEMU[@]}" -netdev bridge,id=n0,br=br0 </dev/null >"$BK_SCRATCH/qemu.out" 2>"$BK_SCRATCH/qemu.err" &
    local qemu=$!
    for ((i = 0; i < 100; i++)); do
        tap=$(ip -o link show master br0 | awk -F': ' '{print $2}' | sed 's/@.*//')
        [ -n "$tap" ] && [ "$(cat "/sys/class/net/$tap/owner" 2>/dev/null)" = 65534 ] && break
        kill -0 "$qemu" 2>/dev/null || break
        sleep 0.1
    done
    it_begin
    it_expect "TAP on br0 while QEMU runs (10 s)" tap0 "$tap"
    it_expect "tap0 owner" 65534 "$(cat /sys/class/net/tap0/owner 2>/dev/null)"
    # QEMU catches SIGTERM only once its main loop is set up, which can be after the TAP
    # exists: wait (10 s) for the handler (bit 15 of SigCgt) so the exit is QEMU's own.
    for ((i = 0; i < 100; i++)); do
        local caught
        caught=$(it_status_field "$qemu" SigCgt)
        [ -n "$caught" ] || break
        [ $((0x$caught >> 14 & 1)) = 1 ] && break
        sleep 0.1
    done
    kill -TERM "$qemu" 2>/dev/null
    wait "$qemu"
    it_expect "QEMU exit status after SIGTERM" 0 "$?"
    it_expect_no_taps
    it_expect_match "QEMU stderr" 'qemu-system-x86_64: warning: netdev n0 has no peer
qemu-system-x86_64: terminating on signal 15 from pid [0-9]+ \([^)]*\)' "$(cat "$BK_SCRATCH/qemu.err")"
    it_end "t-deb/$1/qemu-allowed-bridge-attached"
}

# stock_back LABEL: the stock helper under its name again, byte for byte, no diversion left.
stock_back() {
    it_begin
    it_expect "stock helper sha256" "$stock_sum" "$(sha256sum "$STOCK" 2>&1 | cut -d' ' -f1)"
    it_expect "stock helper owner, mode, size" "$stock_stat" "$(stat -c '%U:%G %a %s' "$STOCK" 2>&1)"
    it_expect "a regular file" yes "$([ -f "$STOCK" ] && [ ! -L "$STOCK" ] && echo yes || echo no)"
    it_expect "diverted copy" absent "$(present "$STOCK.distrib")"
    it_expect "diversion" "" "$(dpkg-divert --listpackage "$STOCK")"
    it_end "t-deb/$1/stock-helper-restored"
}

it_begin
dpkg_do install-default-helper -i "$DFLT2"
expect_dpkg_ok
it_expect "diversion" "diversion of $STOCK to $STOCK.distrib by bridgekeeper-default-helper" "$(dpkg-divert --list "$STOCK")"
it_expect "link" "../../libexec/bridgekeeper-helper" "$(readlink "$STOCK")"
it_expect "stock helper kept aside" "$stock_sum" "$(sha256sum "$STOCK.distrib" 2>&1 | cut -d' ' -f1)"
it_end "t-deb/default-helper-package/installed"
qemu_refused default-helper-package
qemu_attached default-helper-package

it_begin
out=$(make -s -C "$repo" LIBEXECDIR=/usr/libexec install-default-helper 2>&1)
it_expect "exit status" 2 "$?"
it_expect "first line" "$STOCK is already diverted by bridgekeeper-default-helper; undo that first (dpkg-divert --list $STOCK)" "$(head -n 1 <<<"$out")"
it_end "t-deb/make-install-default-helper/refused-while-the-package-diverts"

it_begin
out=$(make -s -C "$repo" LIBEXECDIR=/usr/libexec uninstall-default-helper 2>&1)
it_expect "exit status" 2 "$?"
it_expect "first line" "$STOCK is diverted by the package bridgekeeper-default-helper; remove that package instead (apt-get remove bridgekeeper-default-helper)" "$(head -n 1 <<<"$out")"
it_end "t-deb/make-uninstall-default-helper/refused-while-the-package-diverts"

it_begin
dpkg_do remove-default-helper -r bridgekeeper-default-helper
expect_dpkg_ok
it_end "t-deb/default-helper-package/removed"
stock_back default-helper-package

# The same switch without the package: make install-default-helper / uninstall-default-helper.
it_begin
out=$(make -s -C "$repo" LIBEXECDIR=/nonexistent install-default-helper 2>&1)
it_expect "exit status" 2 "$?"
it_expect "first line" "no helper at /nonexistent/bridgekeeper-helper: run make install first (with the same PREFIX or LIBEXECDIR)" "$(head -n 1 <<<"$out")"
it_run "${NOBODY[@]}" "$repo/scripts/default-helper.sh" install "$HELPER_PATH"
it_expect "as nobody: exit status" 1 "$IT_RC"
it_expect "as nobody: stderr" "install-default-helper must run as root (it changes $STOCK with dpkg-divert)
" "$IT_ERR"
it_run "$repo/scripts/default-helper.sh" frobnicate "$HELPER_PATH"
it_expect "unknown action: exit status" 1 "$IT_RC"
it_expect "unknown action: stderr" "usage: default-helper.sh install|uninstall HELPER
" "$IT_ERR"
it_expect "nothing diverted" "" "$(dpkg-divert --listpackage "$STOCK")"
it_end "t-deb/make-install-default-helper/refusals"

it_begin
out=$(make -s -C "$repo" LIBEXECDIR=/usr/libexec install-default-helper 2>&1)
it_expect "exit status" 0 "$?"
it_expect "output" "diverted $STOCK to $STOCK.distrib; $STOCK now runs $HELPER_PATH" "$out"
it_expect "diversion" "local diversion of $STOCK to $STOCK.distrib" "$(dpkg-divert --list "$STOCK")"
it_expect "link" "$HELPER_PATH" "$(readlink "$STOCK")"
out=$(make -s -C "$repo" LIBEXECDIR=/usr/libexec install-default-helper 2>&1)
it_expect "second run" "$STOCK already runs $HELPER_PATH" "$out"
it_end "t-deb/make-install-default-helper/installed"
qemu_refused make-install-default-helper
qemu_attached make-install-default-helper

# Something else in the symlink's place is never deleted.
rm "$STOCK"
echo "not ours" >"$STOCK"
it_begin
out=$(make -s -C "$repo" LIBEXECDIR=/usr/libexec uninstall-default-helper 2>&1)
it_expect "exit status" 2 "$?"
it_expect "first line" "$STOCK is not the symlink to $HELPER_PATH that install-default-helper made; remove it yourself, then run this again" "$(head -n 1 <<<"$out")"
it_expect "the file left alone" "not ours" "$(cat "$STOCK")"
it_end "t-deb/make-uninstall-default-helper/refuses-a-file-it-did-not-make"
rm "$STOCK"
ln -s "$HELPER_PATH" "$STOCK"

it_begin
out=$(make -s -C "$repo" LIBEXECDIR=/usr/libexec uninstall-default-helper 2>&1)
it_expect "exit status" 0 "$?"
it_expect "output" "restored the stock $STOCK" "$out"
out=$(make -s -C "$repo" LIBEXECDIR=/usr/libexec uninstall-default-helper 2>&1)
it_expect "second run" "$STOCK is not diverted; nothing to undo" "$out"
it_end "t-deb/make-uninstall-default-helper/uninstalled"
stock_back make-install-default-helper

# Without QEMU's directory there is nothing to divert (the move is undone at once).
mv /usr/lib/qemu "$BK_SCRATCH/qemu-away"
it_begin
out=$(make -s -C "$repo" LIBEXECDIR=/usr/libexec install-default-helper 2>&1)
it_expect "exit status" 2 "$?"
it_expect "first line" "/usr/lib/qemu does not exist: install QEMU (apt-get install qemu-system-x86) first" "$(head -n 1 <<<"$out")"
it_expect "nothing diverted" "" "$(dpkg-divert --listpackage "$STOCK")"
it_end "t-deb/make-install-default-helper/refused-without-qemu"
mv "$BK_SCRATCH/qemu-away" /usr/lib/qemu

# --- remove and purge -------------------------------------------------------------------------
it_begin
dpkg_do remove -r bridgekeeper
expect_dpkg_ok
it_expect "status" "rc $bumped" "$(status_of bridgekeeper)"
it_expect "helper" absent "$(present "$HELPER_PATH")"
it_expect "CLI" absent "$(present /usr/bin/bridgekeeper)"
it_expect "edited bridge.conf kept" "# edited by the administrator
allow br0" "$(cat /etc/qemu/bridge.conf 2>&1)"
it_end "t-deb/remove-keeps-conffile"

it_begin
dpkg_do purge -P bridgekeeper bridgekeeper-default-helper
expect_dpkg_ok
it_expect_match "status (not installed)" "(un )?" "$(status_of bridgekeeper)"
it_expect "bridge.conf" absent "$(present /etc/qemu/bridge.conf)"
it_expect "documentation" absent "$(present /usr/share/doc/bridgekeeper)"
it_expect "changes to dpkg's state, diversions, statoverrides and files since before the install" "" \
    "$(diff <(printf '%s\n' "$sandbox_before") <(sandbox_snapshot) | grep '^[<>]')"
it_end "t-deb/purge"

lintian_check
it_summary
