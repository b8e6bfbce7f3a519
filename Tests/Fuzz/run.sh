#!/bin/bash
# libFuzzer targets for the ACL parser, the ACL loader and the helper's argument parser.
#
#   Tests/Fuzz/run.sh [SECONDS [TARGET...]]
#
# SECONDS per target: the argument, else $FUZZ_SECONDS, else 60 (what `make test` runs);
# `make fuzz FUZZ_SECONDS=N` passes N (default 300). TARGETs: acl-parser acl-loader helper-args.
#
# Builds every target with swiftc -sanitize=fuzzer,address into .build/fuzz/ (SwiftPM cannot
# link a libFuzzer main into an executable), then for each target:
#  1. replays Tests/Fuzz/corpus-regressions/<target>/* (every saved input must pass);
#  2. fuzzes for SECONDS with the corpus .build/fuzz/corpus/<target> (kept between runs), seeded
#     from Tests/Fuzz/seeds/<target> (generated from the unit-test tables by make-seeds.py).
# A crash, timeout or out-of-memory is a FAIL, and the input (minimized when large) is copied to
# Tests/Fuzz/corpus-regressions/<target>/ so the next run replays it.
# Output: `PASS fuzz/<target>` or `FAIL fuzz/<target>: ...` per target, details prefixed with
# '#', then exactly one `N passed, N failed` line. Logs: .build/fuzz/logs/.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

seconds=${1:-${FUZZ_SECONDS:-60}}
shift $(($# > 0 ? 1 : 0))
all_targets=(acl-parser acl-loader helper-args)
if [ $# -gt 0 ]; then targets=("$@"); else targets=("${all_targets[@]}"); fi

export SWIFT_BACKTRACE=enable=no
out=.build/fuzz
logs=$out/logs
mkdir -p "$out/modules" "$logs"
passed=0 failed=0
pass() { echo "PASS fuzz/$1"; passed=$((passed + 1)); }
fail() { echo "FAIL fuzz/$1: $2"; failed=$((failed + 1)); }
finish() { echo "$passed passed, $failed failed"; [ "$failed" = 0 ]; exit; }

case $seconds in
    ''|*[!0-9]*|0) fail precondition "expected SECONDS to be a positive number, got '$seconds'"; finish ;;
esac
for t in "${targets[@]}"; do
    case " ${all_targets[*]} " in *" $t "*) ;; *) fail precondition "unknown target '$t' (expected one of: ${all_targets[*]})"; finish ;; esac
done

swiftc=${SWIFTC:-$(command -v swiftc)}
if [ -z "$swiftc" ]; then fail precondition "expected swiftc on PATH, found none"; finish; fi
toolchain_bin=$(dirname "$(readlink -f "$swiftc")")
flags=(-parse-as-library -swift-version 6 -O -sanitize=fuzzer,address)
# The toolchain's lld links quietly (gold warns about every ASan symbol).
[ -x "$toolchain_bin/ld.lld" ] && flags+=(-use-ld=lld)
[ -x "$toolchain_bin/llvm-symbolizer" ] && export ASAN_SYMBOLIZER_PATH="$toolchain_bin/llvm-symbolizer"

# Per target: module name, sources besides Support.swift, maximum input length.
module_of() {
    case $1 in acl-parser) echo FuzzACLParser ;; acl-loader) echo FuzzACLLoader ;; helper-args) echo FuzzHelperArgs ;; esac
}
sources_of() {
    case $1 in
        acl-parser) echo Tests/Fuzz/ReferenceGrammar.swift Tests/Fuzz/ACLParserFuzz.swift ;;
        acl-loader) echo Tests/Fuzz/ReferenceGrammar.swift Tests/Fuzz/ACLLoaderFuzz.swift ;;
        # The whole HelperArguments module (it needs only BridgeACL), compiled into the target.
        helper-args) echo Sources/HelperArguments/*.swift Tests/Fuzz/HelperArgsFuzz.swift ;;
    esac
}
max_len_of() {
    case $1 in acl-parser) echo 8192 ;; acl-loader) echo 4096 ;; helper-args) echo 16384 ;; esac
}

# Build: BridgeACL once (a module, as in the package: Arguments.swift imports it), then each
# target linked against it.
build_started=$(date +%s)
if ! "$swiftc" "${flags[@]}" -module-name BridgeACL -wmo -emit-module \
        -emit-module-path "$out/modules/BridgeACL.swiftmodule" \
        -c Sources/BridgeACL/*.swift -o "$out/BridgeACL.o" >"$logs/build-BridgeACL.log" 2>&1; then
    sed 's/^/# /' "$logs/build-BridgeACL.log" | head -40
    for t in "${targets[@]}"; do fail "$t" "BridgeACL did not build with -sanitize=fuzzer,address (see above)"; done
    finish
fi
built=()
for t in "${targets[@]}"; do
    # shellcheck disable=SC2046
    if "$swiftc" "${flags[@]}" -module-name "$(module_of "$t")" -I "$out/modules" \
            Tests/Fuzz/Support.swift $(sources_of "$t") "$out/BridgeACL.o" \
            -o "$out/$t" >"$logs/build-$t.log" 2>&1; then
        built+=("$t")
    else
        sed 's/^/# /' "$logs/build-$t.log" | head -40
        fail "$t" "the target did not build (see above, $logs/build-$t.log)"
    fi
done
echo "# built ${built[*]:-nothing} in $(($(date +%s) - build_started)) s; fuzzing ${seconds} s per target"

# The crash report's essentials: the invariant or sanitizer message and the top frames.
crash_summary() {
    local log=$1
    local demangle=(cat)
    [ -x "$toolchain_bin/swift-demangle" ] && demangle=("$toolchain_bin/swift-demangle" --simplified)
    grep -E 'Fatal error|ERROR: (AddressSanitizer|libFuzzer|LeakSanitizer)|SUMMARY:|^ *#[0-9]+ 0x' "$log" \
        | grep -vE 'in (fuzzer::|__sanitizer|__asan|__libc_start|_start|main )|libFuzzer|\?\?' | head -14 \
        | "${demangle[@]}" | sed 's/^/#   /'
}

shopt -s nullglob
for t in "${built[@]}"; do
    bin=$out/$t
    regressions=Tests/Fuzz/corpus-regressions/$t
    mkdir -p "$regressions"

    # 1. Every saved input, once each.
    saved=("$regressions"/*)
    if [ ${#saved[@]} -gt 0 ]; then
        if ! "$bin" -timeout=30 -rss_limit_mb=4096 "${saved[@]}" >"$logs/$t-regressions.log" 2>&1; then
            input=$(sed -n 's/^Running: //p' "$logs/$t-regressions.log" | tail -1)
            crash_summary "$logs/$t-regressions.log"
            fail "$t" "the saved input ${input:-in $regressions} fails again (log: $logs/$t-regressions.log)"
            continue
        fi
    fi

    # 2. Fuzz. New inputs go to the first corpus directory; seeds and regressions are read only.
    corpus=$out/corpus/$t
    artifacts=$out/artifacts/$t
    rm -rf "$artifacts"
    mkdir -p "$corpus" "$artifacts"
    "$bin" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=4096 -max_len="$(max_len_of "$t")" \
        -dict="Tests/Fuzz/dicts/$t.dict" -artifact_prefix="$artifacts/" -print_final_stats=1 \
        "$corpus" "Tests/Fuzz/seeds/$t" "$regressions" >"$logs/$t.log" 2>&1
    status=$?

    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$t.log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$logs/$t.log" | tail -1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$logs/$t.log" | tail -1)
    coverage=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$logs/$t.log" | tail -1)
    echo "# $t: ${seconds} s, ${#saved[@]} saved inputs replayed, ${runs:-?} runs, ${speed:-?} exec/s," \
        "${coverage:-no coverage line}, peak RSS ${rss:-?} MB"

    if [ "$status" = 0 ]; then
        pass "$t"
        continue
    fi
    found=("$artifacts"/crash-* "$artifacts"/timeout-* "$artifacts"/oom-* "$artifacts"/leak-*)
    crash_summary "$logs/$t.log"
    if [ ${#found[@]} = 0 ]; then
        fail "$t" "libFuzzer exited with status $status without saving an input (log: $logs/$t.log)"
        continue
    fi
    for input in "${found[@]}"; do
        name=$(basename "$input")
        # Large inputs are minimized first (best effort), so the saved corpus stays small.
        if [ "$(stat -c %s "$input")" -gt 1024 ] && "$bin" -minimize_crash=1 -max_total_time=30 -timeout=30 \
                -exact_artifact_path="$artifacts/min-$name" "$input" >"$logs/$t-minimize.log" 2>&1 \
                && [ -s "$artifacts/min-$name" ]; then
            input=$artifacts/min-$name
        fi
        cp "$input" "$regressions/$name"
        echo "# saved $regressions/$name ($(stat -c %s "$input") bytes)"
    done
    fail "$t" "libFuzzer found an input that fails (status $status); saved as $regressions/$(basename "${found[0]}") (log: $logs/$t.log)"
done
finish
