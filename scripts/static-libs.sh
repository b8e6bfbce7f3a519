#!/bin/bash
# Writes DIR/libcap.pc, DIR/libcap.so and DIR/libstdc++.so for the LINK=dynamic helper build
# (Makefile): SwiftPM reads libcap.pc through PKG_CONFIG_PATH and puts its -L DIR ahead of the
# system's library directory, so the `-lcap` and `-lstdc++` of the link find these files first.
# Each is a linker script naming the static archive, so the helper's only shared libraries are
# glibc's (libc, libm, the loader). Fails loudly if an archive is missing (libcap-dev, libstdc++-dev).
set -euo pipefail
dir=${1:?usage: scripts/static-libs.sh DIR}
clang=$(dirname "$(readlink -f "$(command -v swift)")")/clang
libcap_dir=$(pkg-config --variable=libdir libcap) || { echo "static-libs.sh: pkg-config knows no libcap (apt-get install libcap-dev)" >&2; exit 1; }
libcap=$libcap_dir/libcap.a
libstdcxx=$("$clang" -print-file-name=libstdc++.a)
for archive in "$libcap" "$libstdcxx"; do
    [ -f "$archive" ] || { echo "static-libs.sh: $archive is missing (libcap-dev, libstdc++-12-dev)" >&2; exit 1; }
done
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
printf 'INPUT(%s)\n' "$libcap" >"$dir/libcap.so"
printf 'INPUT(%s)\n' "$libstdcxx" >"$dir/libstdc++.so"
printf 'Name: libcap\nDescription: libcap, linked statically into bridgekeeper-helper\nVersion: %s\nLibs: -L%s -lcap\nCflags:\n' \
    "$(pkg-config --modversion libcap)" "$dir" >"$dir/libcap.pc"
