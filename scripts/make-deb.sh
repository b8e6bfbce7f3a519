#!/bin/bash
# `make deb`: the Debian packages, with dpkg-deb from a staged tree (README, Packaging: the
# binaries come from the Swift toolchain's release build, which debhelper cannot drive).
#   bridgekeeper_V_amd64.deb                 helper, CLI, /etc/qemu/bridge.conf, man pages,
#                                            completions, copyright, changelog
#   bridgekeeper-default-helper_V_all.deb   diverts QEMU's /usr/lib/qemu/qemu-bridge-helper
#   bridgekeeper-dbgsym_V_amd64.deb          the debug symbols stripped from both binaries
# Environment (the Makefile sets them): HELPER, CLI (the release binaries), DEB_OUT (output
# directory), DEB_VERSION (default: Installation.version; the tests bump it to build an upgrade
# from the same binaries), DEB_COMPRESS and DEB_LEVEL (dpkg-deb -Z/-z; default xz at its default
# level), BK_MAN_DIR and BK_COMPLETIONS_DIR (default man and .build/completions; the tests point
# them at an empty directory to check the warnings).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
src=packaging/deb
HELPER=${HELPER:-.build-helper/release/bridgekeeper-helper}
CLI=${CLI:-.build/release/bridgekeeper}
out=${DEB_OUT:-.build/deb}

die() { echo "make deb: $*" >&2; exit 1; }
warn() { echo "make deb: warning: $*" >&2; }

version=${DEB_VERSION:-$(sed -n 's/.*static let version = "\([^"]*\)".*/\1/p' Sources/BridgeACL/Installation.swift)}
[ -n "$version" ] || die "cannot read Installation.version from Sources/BridgeACL/Installation.swift"
for f in "$HELPER" "$CLI"; do [ -x "$f" ] || die "no release binary at $f: run make build"; done
for tool in dpkg-deb dpkg-shlibdeps strip objcopy readelf gzip; do
    command -v "$tool" >/dev/null || die "$tool is missing: apt-get install dpkg-dev binutils"
done

mkdir -p "$out"
out=$(cd "$out" && pwd)
stage=$out/stage
rm -rf "$stage"
main=$stage/bridgekeeper dflt=$stage/default-helper dbg=$stage/dbgsym

# The mtime of every file in the packages (dpkg-deb clamps to it): the changelog's date, so
# the same sources give the same packages.
SOURCE_DATE_EPOCH=$(date -d "$(sed -n 's/^ -- .*>  //p' $src/changelog | head -n 1)" +%s)
export SOURCE_DATE_EPOCH

dir() { install -d -m 0755 "$@"; }
file() { install -m 0644 "$1" "$2"; }

# strip_into SRC DEST: DEST is SRC stripped as dh_strip does (symbols, .comment, .note); the
# debug information goes to the dbgsym tree under its build id (where gdb looks for it).
build_ids=()
strip_into() {
    local id debug
    id=$(readelf -n "$1" | sed -n 's/^ *Build ID: *//p')
    if [ -n "$id" ]; then
        debug=$dbg/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug
        build_ids+=("$id")
    else
        debug=$dbg/usr/lib/debug${2#"$main"}.debug
    fi
    dir "$(dirname "$debug")"
    objcopy --only-keep-debug --compress-debug-sections "$1" "$debug"
    chmod 0644 "$debug"
    strip --remove-section=.comment --remove-section=.note --strip-all -o "$2" "$1"
    [ -n "$id" ] || objcopy --add-gnu-debuglink="$debug" "$2"
    chmod 0755 "$2"
}

# installed_size TREE: dpkg's Installed-Size, in KiB (files rounded up, one per directory).
installed_size() {
    find "$1" -path "$1/DEBIAN" -prune -o \( -type f -printf '%s\n' \) -o \( ! -type f -printf '1024\n' \) |
        awk '{ kib += int(($1 + 1023) / 1024) } END { print kib }'
}

# control TEMPLATE TREE [KEY=VALUE...]: TREE/DEBIAN/control from TEMPLATE, @KEY@ replaced.
control() {
    local template=$1 tree=$2 kv
    shift 2
    dir "$tree/DEBIAN"
    local text
    text=$(sed -e "s/@VERSION@/$version/g" -e "s/@SIZE@/$(installed_size "$tree")/" "$template")
    for kv in "$@"; do text=${text//@${kv%%=*}@/${kv#*=}}; done
    printf '%s\n' "$text" >"$tree/DEBIAN/control"
    chmod 0644 "$tree/DEBIAN/control"
}

# md5sums TREE: DEBIAN/md5sums, as dpkg --verify and debsums use it.
md5sums() {
    (cd "$1" && find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | LC_ALL=C sort | xargs -r md5sum) >"$1/DEBIAN/md5sums"
    chmod 0644 "$1/DEBIAN/md5sums"
}

# docs TREE PACKAGE: copyright and changelog (native package: changelog.gz). A version other
# than the changelog's first entry gets an entry of its own (lintian checks they agree).
docs() {
    local doc=$1/usr/share/doc/$2
    dir "$doc"
    file $src/copyright "$doc/copyright"
    {
        if [ "$(sed -n '1s/^bridgekeeper (\([^)]*\)).*/\1/p' $src/changelog)" != "$version" ]; then
            printf 'bridgekeeper (%s) unstable; urgency=medium\n\n  * Rebuilt as version %s.\n\n%s\n\n' \
                "$version" "$version" "$(grep -m 1 '^ -- ' $src/changelog)"
        fi
        cat $src/changelog
    } | gzip -9n >"$doc/changelog.gz"
    chmod 0644 "$doc/changelog.gz"
}

# --- bridgekeeper ---------------------------------------------------------------------------
dir "$main/usr/libexec" "$main/usr/bin" "$main/etc/qemu"
strip_into "$HELPER" "$main/usr/libexec/bridgekeeper-helper"
strip_into "$CLI" "$main/usr/bin/bridgekeeper"
file acl/bridge.conf "$main/etc/qemu/bridge.conf"

man_dir=${BK_MAN_DIR:-man}
for page in bridgekeeper.1 bridgekeeper-helper.8 bridge.conf.5; do
    section=${page##*.}
    if [ -f "$man_dir/$page" ]; then
        dir "$main/usr/share/man/man$section"
        gzip -9n <"$man_dir/$page" >"$main/usr/share/man/man$section/$page.gz"
        chmod 0644 "$main/usr/share/man/man$section/$page.gz"
    else
        warn "no $man_dir/$page: the package has no ${page%.*}($section) page"
    fi
done

# Completions: `make completions` writes them (ArgumentParser's generator; `make deb` runs it).
completions_dir=${BK_COMPLETIONS_DIR:-.build/completions}
# completion SHELL DEST: the first of $completions_dir/bridgekeeper.SHELL and .../SHELL.
completion() {
    local f
    for f in "$completions_dir/bridgekeeper.$1" "$completions_dir/$1"; do
        if [ -f "$f" ]; then
            dir "$(dirname "$main/$2")"
            # A completion file is sourced, never run: no #! line (lintian: bash-completion-with-hashbang).
            sed '1{/^#!/d}' "$f" >"$main/$2"
            chmod 0644 "$main/$2"
            return
        fi
    done
    warn "no $1 completion in $completions_dir: the package has none"
}
completion bash usr/share/bash-completion/completions/bridgekeeper
completion zsh usr/share/zsh/vendor-completions/_bridgekeeper
completion fish usr/share/fish/vendor_completions.d/bridgekeeper.fish

docs "$main" bridgekeeper

# Depends from the binaries themselves, so the static and the dynamic helper both get theirs.
depends=$(
    mkdir -p "$stage/shlibdeps/debian"
    printf 'Source: bridgekeeper\n\nPackage: bridgekeeper\nArchitecture: any\n' >"$stage/shlibdeps/debian/control"
    cd "$stage/shlibdeps"
    dpkg-shlibdeps -O "$main/usr/libexec/bridgekeeper-helper" "$main/usr/bin/bridgekeeper" 2>/dev/null |
        sed -n 's/^shlibs:Depends=//p'
)
rm -rf "$stage/shlibdeps"
[ -n "$depends" ] || die "dpkg-shlibdeps found no dependency for the CLI (it links glibc dynamically)"

control $src/control "$main" "DEPENDS=$depends"
install -m 0755 $src/postinst "$main/DEBIAN/postinst"
printf '/etc/qemu/bridge.conf\n' >"$main/DEBIAN/conffiles"
chmod 0644 "$main/DEBIAN/conffiles"
md5sums "$main"

# --- bridgekeeper-default-helper -----------------------------------------------------------
dir "$dflt/usr/lib/qemu"
ln -s ../../libexec/bridgekeeper-helper "$dflt/usr/lib/qemu/qemu-bridge-helper"
docs "$dflt" bridgekeeper-default-helper
control $src/default-helper.control "$dflt"
install -m 0755 $src/default-helper.preinst "$dflt/DEBIAN/preinst"
install -m 0755 $src/default-helper.postrm "$dflt/DEBIAN/postrm"
md5sums "$dflt"

# --- bridgekeeper-dbgsym -------------------------------------------------------------------
# As debhelper's dbgsym packages: the documentation is bridgekeeper's (it depends on that exact version).
dir "$dbg/usr/share/doc"
ln -s bridgekeeper "$dbg/usr/share/doc/bridgekeeper-dbgsym"
control $src/dbgsym.control "$dbg" "BUILDIDS=${build_ids[*]}"
[ ${#build_ids[@]} -gt 0 ] || sed -i '/^Build-Ids: $/d' "$dbg/DEBIAN/control"
md5sums "$dbg"

debs=("$out/bridgekeeper_${version}_amd64.deb" "$out/bridgekeeper-default-helper_${version}_all.deb"
      "$out/bridgekeeper-dbgsym_${version}_amd64.deb")
rm -f "${debs[@]}"
dpkg-deb --root-owner-group "-Z${DEB_COMPRESS:-xz}" ${DEB_LEVEL:+"-z$DEB_LEVEL"} --build "$main" "${debs[0]}" >/dev/null
dpkg-deb --root-owner-group "-Z${DEB_COMPRESS:-xz}" ${DEB_LEVEL:+"-z$DEB_LEVEL"} --build "$dflt" "${debs[1]}" >/dev/null
dpkg-deb --root-owner-group "-Z${DEB_COMPRESS:-xz}" ${DEB_LEVEL:+"-z$DEB_LEVEL"} --build "$dbg" "${debs[2]}" >/dev/null
rm -rf "$stage"
printf '%s\n' "${debs[@]}"
