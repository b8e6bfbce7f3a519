#!/bin/bash
# Builds bridgekeeper-helper with Embedded Swift (-enable-experimental-feature Embedded), from
# the same sources as `make helper`, for the lean-start measurements in the README (Performance):
# no Swift runtime start-up at all (no metadata instantiation, no SWIFT_* variables, no
# backtracer), a 2 MB static PIE instead of 10 MB. Not installed by anything yet: see the
# README for the decision and what a port still needs.
#
# Usage: scripts/embedded-helper.sh [static|dynamic] [hooks]
#   static (default): static PIE like LINK=static; dynamic: PIE with dynamic glibc like
#   LINK=dynamic (NSS). hooks: compile the test-only pause points in (like testhooks-helper).
#   Output: .build-embedded/<static|dynamic>[-hooks]/bridgekeeper-helper
#   e.g. BK_HELPER=.build-embedded/static/bridgekeeper-helper \
#        BK_HOOKS_HELPER=.build-embedded/static-hooks/bridgekeeper-helper Tests/Integration/run.sh t-creds
#        OURS=.build-embedded/static/bridgekeeper-helper scripts/bench.sh
#
# How: SwiftPM is not used (its link step assumes the regular runtime). Each Swift module of the
# helper is compiled whole-module in Embedded mode in dependency order (Package.swift: BridgeACL,
# HelperArguments, BridgeSystem, BridgeHelper, then main), the C targets with clang, and the lot
# linked with clang and lld. Embedded Swift has no Glibc module: Tests/Embedded/Glibc provides
# one of the same name over the same headers, and Tests/Embedded/GlibcOverlay.swift the overlay's
# errno and fcntl, so no source file changes. Known break since main's f60c981: the ACL loader
# stores an `any ACLFileSource`, a non-class existential, which Embedded Swift rejects (2 errors
# in BridgeACL/Policy.swift); `protocol ACLFileSource: AnyObject` fixes it (README, Performance).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
LINKMODE=${1:-static}
HOOKS=${2:-}
case $LINKMODE in static|dynamic) ;; *) echo "usage: $0 [static|dynamic] [hooks]" >&2; exit 2 ;; esac
case $HOOKS in ''|hooks) ;; *) echo "usage: $0 [static|dynamic] [hooks]" >&2; exit 2 ;; esac
OUT=$REPO/.build-embedded/$LINKMODE${HOOKS:+-hooks}
SRC=$REPO/Sources
EMB=$REPO/Tests/Embedded
TOOLCHAIN=$(dirname "$(dirname "$(readlink -f "$(command -v swiftc)")")")
UNICODE=$TOOLCHAIN/lib/swift/embedded/x86_64-unknown-linux-gnu/libswiftUnicodeDataTables.a
LIBCAP=$(pkg-config --variable=libdir libcap 2>/dev/null || echo /usr/lib/x86_64-linux-gnu)/libcap.a
[ -f "$UNICODE" ] || { echo "$0: $UNICODE is missing (a toolchain without Embedded Swift for Linux?)" >&2; exit 1; }
[ -f "$LIBCAP" ] || { echo "$0: $LIBCAP is missing (apt-get install libcap-dev)" >&2; exit 1; }

rm -rf "$OUT"
mkdir -p "$OUT/obj"
CDEFS=()
[ -z "$HOOKS" ] || CDEFS=(-DBRIDGEKEEPER_TEST_HOOKS)
# Clang module maps for the C targets (SwiftPM generates these for the regular build).
mkdir -p "$OUT/modules/CBridgeShims" "$OUT/modules/CHelperEntry"
{
    echo 'module CBridgeShims {'
    for header in "$SRC"/CBridgeShims/include/*.h; do echo "    header \"$header\""; done
    echo '    export *'
    echo '}'
} > "$OUT/modules/CBridgeShims/module.modulemap"
printf 'module CHelperEntry {\n    header "%s"\n    export *\n}\n' "$SRC/CHelperEntry/include/CHelperEntry.h" \
    > "$OUT/modules/CHelperEntry/module.modulemap"

# The test hooks live in the C shims only (bk_test_hooks_enabled), so the Swift flags are the same.
SWIFTFLAGS=(-enable-experimental-feature Embedded -wmo -Osize
            -I "$EMB/Glibc" -I "$OUT/modules/CBridgeShims" -I "$OUT/modules/CHelperEntry" -I "$SRC/CLibcap"
            -I "$OUT/obj")
module() { # NAME [extra files...]: one library module, whole-module, in Embedded mode
    local name=$1
    shift
    swiftc "${SWIFTFLAGS[@]}" -parse-as-library -module-name "$name" \
        -emit-module -emit-module-path "$OUT/obj/$name.swiftmodule" \
        -c "$SRC/$name"/*.swift "$@" -o "$OUT/obj/$name.o"
}
module BridgeACL
module HelperArguments
module BridgeSystem "$EMB/GlibcOverlay.swift"
module BridgeHelper "$EMB/GlibcOverlay.swift"
swiftc "${SWIFTFLAGS[@]}" -module-name bridgekeeper_helper \
    -c "$SRC/bridgekeeper-helper/main.swift" "$EMB/GlibcOverlay.swift" -o "$OUT/obj/main.o"

for c in "$SRC"/CBridgeShims/*.c "$SRC"/CHelperEntry/*.c; do
    clang -O2 -fPIE -Wno-constant-conversion "${CDEFS[@]}" -I "$SRC/CBridgeShims/include" -I "$SRC/CHelperEntry/include" \
        -c "$c" -o "$OUT/obj/c-$(basename "$(dirname "$c")")-$(basename "$c" .c).o"
done

# The same hardening as the Makefile's link modes: PIE, RELRO + BIND_NOW, packed relocations.
LDFLAGS=(-fuse-ld=lld -Wl,-z,relro -Wl,-z,now -Wl,-z,pack-relative-relocs)
if [ "$LINKMODE" = static ]; then LDFLAGS+=(-static-pie); else LDFLAGS+=(-pie); fi
clang "${LDFLAGS[@]}" -o "$OUT/bridgekeeper-helper" "$OUT/obj/main.o" "$OUT/obj/BridgeHelper.o" \
    "$OUT/obj/BridgeSystem.o" "$OUT/obj/HelperArguments.o" "$OUT/obj/BridgeACL.o" "$OUT"/obj/c-*.o \
    "$LIBCAP" "$UNICODE" -lm
echo "$OUT/bridgekeeper-helper"
