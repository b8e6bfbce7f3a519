#!/bin/bash
# Builds bridgekeeper-helper with Embedded Swift (-enable-experimental-feature Embedded): what
# `make helper` and `make testhooks-helper` run (HELPER_RUNTIME=embedded, the default). No Swift
# runtime start-up at all (no metadata instantiation, no SWIFT_* variables, no backtracer), under
# 1 MB stripped instead of 6 MB. `HELPER_RUNTIME=regular make helper` builds the same sources with
# SwiftPM on the regular runtime instead (the bench comparison in the README).
#
# Usage: scripts/embedded-helper.sh static|dynamic [hooks] [OUTPUT]
#   static: static PIE (LINK=static: names from /etc/passwd and /etc/group only);
#   dynamic: PIE with dynamic glibc (LINK=dynamic, NSS), everything else static, no RUNPATH.
#   hooks: compile the test-only pause points in (testhooks-helper).
#   OUTPUT: the executable to write (default .build-embedded/<static|dynamic>[-hooks]/bridgekeeper-helper).
# Environment: BK_EMBEDDED_ANY_TOOLCHAIN=1 accepts a toolchain other than the pinned one.
#
# How: SwiftPM is not used (its link step assumes the regular runtime). Each Swift module of the
# helper is compiled whole-module in Embedded mode in dependency order (Package.swift: BridgeACL,
# HelperArguments, BridgeSystem, BridgeHelper, then main), the C targets with clang, and the lot
# linked with clang and lld. Embedded Swift has no Glibc module: Tests/Embedded/Glibc provides
# one of the same name over the same headers, and Tests/Embedded/GlibcOverlay.swift the overlay's
# errno and fcntl, so no source file changes. The Swift objects do not depend on the link mode
# or the test hooks (those are C defines), so the four variants share one set, kept in
# .build-embedded/swift and rebuilt only when an input changes (sources, headers, this script,
# the compiler); the C files and the link (about 2 s) are redone every time.
set -euo pipefail

# Embedded Swift is an experimental feature: the build is pinned to the toolchain it was tested
# with (every project machine has it) and refuses any other unless told otherwise.
PINNED_SWIFT="6.3.1"

die() { echo "embedded-helper.sh: $*" >&2; exit 1; }
usage() { echo "usage: scripts/embedded-helper.sh static|dynamic [hooks] [OUTPUT]" >&2; exit 2; }
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
LINKMODE=${1:-}
HOOKS=${2:-}
case $LINKMODE in static|dynamic) ;; *) usage ;; esac
case $HOOKS in ''|hooks) ;; *) usage ;; esac
OUTPUT=${3:-$REPO/.build-embedded/$LINKMODE${HOOKS:+-hooks}/bridgekeeper-helper}
SRC=$REPO/Sources
EMB=$REPO/Tests/Embedded

command -v swiftc >/dev/null || die "swiftc is not on PATH"
VERSION_LINE=$(swiftc --version 2>&1 | head -1)
case $VERSION_LINE in
    *"Swift version $PINNED_SWIFT "*) ;;
    *) [ "${BK_EMBEDDED_ANY_TOOLCHAIN:-}" = 1 ] ||
        die "the Embedded Swift helper is pinned to Swift $PINNED_SWIFT (an experimental feature), found '$VERSION_LINE': set BK_EMBEDDED_ANY_TOOLCHAIN=1 to try it anyway, or build with HELPER_RUNTIME=regular" ;;
esac
TOOLCHAIN=$(dirname "$(dirname "$(readlink -f "$(command -v swiftc)")")")
CLANG=$TOOLCHAIN/bin/clang
EMBEDDED_STDLIB=$TOOLCHAIN/lib/swift/embedded/Swift.swiftmodule/x86_64-unknown-linux-gnu.swiftmodule
UNICODE=$TOOLCHAIN/lib/swift/embedded/x86_64-unknown-linux-gnu/libswiftUnicodeDataTables.a
for f in "$EMBEDDED_STDLIB" "$UNICODE"; do
    [ -f "$f" ] || die "this toolchain has no Embedded Swift for x86_64 Linux ($f is missing): build with HELPER_RUNTIME=regular"
done
[ -x "$CLANG" ] || die "$CLANG is missing (the toolchain's clang links the helper)"
LIBCAP=$(pkg-config --variable=libdir libcap 2>/dev/null || echo /usr/lib/x86_64-linux-gnu)/libcap.a
[ -f "$LIBCAP" ] || die "$LIBCAP is missing (apt-get install libcap-dev)"

# --- the Swift modules (shared by every variant) ---------------------------------------------

CACHE=$REPO/.build-embedded/swift
mkdir -p "$CACHE"
SWIFT_MODULES=(BridgeACL HelperArguments BridgeSystem BridgeHelper bridgekeeper-helper)
# Clang module maps for the C targets (SwiftPM generates these for the regular build).
module_maps() {
    mkdir -p "$CACHE/modules/CBridgeShims" "$CACHE/modules/CHelperEntry"
    {
        echo 'module CBridgeShims {'
        for header in "$SRC"/CBridgeShims/include/*.h; do echo "    header \"$header\""; done
        echo '    export *'
        echo '}'
    } > "$CACHE/modules/CBridgeShims/module.modulemap"
    printf 'module CHelperEntry {\n    header "%s"\n    export *\n}\n' "$SRC/CHelperEntry/include/CHelperEntry.h" \
        > "$CACHE/modules/CHelperEntry/module.modulemap"
}
# -g: the debug information goes to the dbgsym package (make-deb.sh strips the shipped binary).
SWIFTFLAGS=(-enable-experimental-feature Embedded -wmo -Osize -g
            -I "$EMB/Glibc" -I "$CACHE/modules/CBridgeShims" -I "$CACHE/modules/CHelperEntry" -I "$SRC/CLibcap"
            -I "$CACHE/obj")
# Everything the Swift objects depend on; a change anywhere rebuilds all of them (about 40 s).
inputs_key() {
    {
        echo "$VERSION_LINE"
        printf '%s\n' "${SWIFTFLAGS[@]}"
        for m in "${SWIFT_MODULES[@]}"; do ls "$SRC/$m"/*.swift; done
        cat "${BASH_SOURCE[0]}" "$EMB"/Glibc/* "$EMB"/GlibcOverlay.swift "$SRC"/CLibcap/* \
            "$SRC"/CBridgeShims/include/*.h "$SRC"/CHelperEntry/include/*.h
        for m in "${SWIFT_MODULES[@]}"; do cat "$SRC/$m"/*.swift; done
    } | sha256sum | cut -d' ' -f1
}
module() { # NAME [extra files...]: one library module, whole-module, in Embedded mode
    local name=$1
    shift
    swiftc "${SWIFTFLAGS[@]}" -parse-as-library -module-name "$name" \
        -emit-module -emit-module-path "$CACHE/obj/$name.swiftmodule" \
        -c "$SRC/$name"/*.swift "$@" -o "$CACHE/obj/$name.o"
}
build_swift() {
    rm -rf "$CACHE/obj" "$CACHE/key"
    mkdir -p "$CACHE/obj"
    module_maps
    module BridgeACL
    module HelperArguments
    module BridgeSystem "$EMB/GlibcOverlay.swift"
    module BridgeHelper "$EMB/GlibcOverlay.swift"
    swiftc "${SWIFTFLAGS[@]}" -module-name bridgekeeper_helper \
        -c "$SRC/bridgekeeper-helper/main.swift" "$EMB/GlibcOverlay.swift" -o "$CACHE/obj/main.o"
    echo "$KEY" > "$CACHE/key"
}
# One build at a time (make -j builds helper and testhooks-helper together); held to the end, so
# the objects do not change under a link.
exec 9>"$CACHE/lock"
flock 9
KEY=$(inputs_key)
if [ "$(cat "$CACHE/key" 2>/dev/null)" = "$KEY" ]; then
    echo "embedded-helper.sh: Swift modules up to date"
else
    echo "embedded-helper.sh: compiling the Swift modules in Embedded mode (about 40 s)"
    build_swift
fi

# --- C targets and link (per variant) -----------------------------------------------------------

WORK=$(mktemp -d "$CACHE/link.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
# BRIDGEKEEPER_EMBEDDED leaves out CHelperEntry's replacements of regular-runtime members.
CDEFS=(-DBRIDGEKEEPER_EMBEDDED)
[ -z "$HOOKS" ] || CDEFS+=(-DBRIDGEKEEPER_TEST_HOOKS)
[ "$LINKMODE" = dynamic ] || CDEFS+=(-DBRIDGEKEEPER_STATIC_NSS)
for c in "$SRC"/CBridgeShims/*.c "$SRC"/CHelperEntry/*.c; do
    "$CLANG" -O2 -gdwarf-4 -fPIE -Wno-constant-conversion "${CDEFS[@]}" -I "$SRC/CBridgeShims/include" -I "$SRC/CHelperEntry/include" \
        -c "$c" -o "$WORK/c-$(basename "$(dirname "$c")")-$(basename "$c" .c).o"
done

# The same hardening as the Makefile's regular link modes: PIE, RELRO + BIND_NOW, packed
# relocations. Nothing is exported (no -export-dynamic), so dynamic mode's ld.so has no symbol
# table of ours to hash. A build id (the Swift driver adds one; lld does not by default) names
# the debug file in the dbgsym package.
LDFLAGS=(-fuse-ld=lld -Wl,-z,relro -Wl,-z,now -Wl,-z,pack-relative-relocs -Wl,--build-id=sha1)
if [ "$LINKMODE" = static ]; then LDFLAGS+=(-static-pie); else LDFLAGS+=(-pie); fi
mkdir -p "$(dirname "$OUTPUT")"
"$CLANG" "${LDFLAGS[@]}" -o "$WORK/bridgekeeper-helper" "$CACHE/obj/main.o" "$CACHE/obj/BridgeHelper.o" \
    "$CACHE/obj/BridgeSystem.o" "$CACHE/obj/HelperArguments.o" "$CACHE/obj/BridgeACL.o" "$WORK"/c-*.o \
    "$LIBCAP" "$UNICODE"
mv -f "$WORK/bridgekeeper-helper" "$OUTPUT"
echo "$OUTPUT (Embedded Swift, $LINKMODE${HOOKS:+, test hooks})"
