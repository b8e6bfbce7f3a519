#!/bin/bash
# Checks on the built release artifact (threats.md #1, issue "release gates"): what a packager
# ships must have no RUNPATH/RPATH, no shared Swift runtime, Foundation or ICU, no test hooks,
# be position-independent and really loaded at a random address, and be optimised with runtime
# checks kept (-O, never -Ounchecked: checked in the machine code, not in the build files).
# Plus one check on the sources: every target imports exactly the modules it declares.
#
#   Tests/release-gates.sh        BK_HELPER, BK_HOOKS_HELPER override the two binaries;
#                                 BK_LINK=static when the helper was built with LINK=static
#                                 (the default is the Makefile's default, dynamic);
#                                 BK_HELPER_RUNTIME=regular when it was built with
#                                 HELPER_RUNTIME=regular (default embedded, as the Makefile's).
# The dynamic helper's loader-related gates: NEEDED exactly glibc's libraries, the interpreter
# glibc's, no RUNPATH/RPATH, no text relocations. That ld.so ignores LD_PRELOAD/LD_LIBRARY_PATH
# in setuid and file-capability modes (AT_SECURE) needs root and setuid copies: t-linking.sh.
# Output: PASS/FAIL per gate (a failing gate's details follow, prefixed '#'), then exactly one
# `N passed, N failed` line. Needs readelf/objdump (binutils), python3; no root.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
helper=${BK_HELPER:-$root/.build-helper/release/bridgekeeper-helper}
hooks=${BK_HOOKS_HELPER:-$root/.build-testhooks/release/bridgekeeper-helper}
link=${BK_LINK:-dynamic}
runtime=${BK_HELPER_RUNTIME:-embedded}
cli=$root/.build/release/bridgekeeper
pass=0 fail=0
check() { # name, then a command that must succeed; what it printed is shown when it fails
    local name=$1; shift
    local out
    if out=$("$@" 2>&1); then
        echo "PASS $name"; pass=$((pass + 1))
    else
        echo "FAIL $name"; fail=$((fail + 1))
        [ -z "$out" ] || printf '%s\n' "$out" | sed 's/^/# /'
    fi
}
not() { ! "$@"; }
finish() { echo "$pass passed, $fail failed"; [ "$fail" = 0 ]; exit; }
[ -x "$helper" ] || { echo "FAIL precondition: no release helper at $helper (make helper)"; fail=1; finish; }
case $link in static|dynamic) ;; *) echo "FAIL precondition: BK_LINK must be static or dynamic, got '$link'"; fail=1; finish ;; esac
case $runtime in embedded|regular) ;; *) echo "FAIL precondition: BK_HELPER_RUNTIME must be embedded or regular, got '$runtime'"; fail=1; finish ;; esac
# The CLI runs on the regular runtime: the checks below that must be able to fail run on it too.
[ -x "$cli" ] || { echo "FAIL precondition: no CLI at $cli (make cli)"; fail=1; finish; }
for tool in readelf objdump nm strip strings python3; do
    command -v "$tool" >/dev/null || { echo "FAIL precondition: $tool is missing (binutils, python3)"; fail=1; finish; }
done

# --- position independence and address randomisation (issue 7 item 3) -------------------------

# The ELF type: EXEC is loaded at its link address every time; DYN with the PIE flag is a
# position-independent executable (a shared library is DYN too, hence the flag).
is_pie() {
    readelf -h "$1" | grep -Eq '^ *Type: +DYN ' || { readelf -h "$1" | grep -E '^ *Type:'; return 1; }
    readelf -d "$1" | grep -Eq 'FLAGS_1.*Flags:.* PIE' || { echo "DYN without the PIE flag (a shared object?)"; return 1; }
}

# Starts the binary 4 times, stopped by ptrace right after execve (before any of its code ran),
# and reads where the kernel mapped it (/proc/PID/maps). Passes only if the runs differ and none
# is at the link-time address: an EXEC binary is at its fixed address (0x400000) every time.
loaded_at_random_addresses() {
    local bin=$1 linked va
    linked=$(readelf -lW "$bin" | awk '$1 == "LOAD" { print $3; exit }')
    va=$(cat /proc/sys/kernel/randomize_va_space 2>/dev/null) || va='?'
    case $va in 1|2) ;; *) echo "precondition: kernel.randomize_va_space is $va, not 1 or 2: ASLR is off for every program"; return 1 ;; esac
    python3 - "$bin" "$linked" 4 <<'EOF'
import ctypes, os, signal, sys
binary, linked, runs = os.path.realpath(sys.argv[1]), int(sys.argv[2], 16), int(sys.argv[3])
libc = ctypes.CDLL(None, use_errno=True)
ADDR_NO_RANDOMIZE, PTRACE_TRACEME = 0x0040000, 0
if libc.personality(0xffffffff) & ADDR_NO_RANDOMIZE:
    sys.exit("precondition: this process runs with ADDR_NO_RANDOMIZE (setarch -R?): ASLR is off")

def load_address():
    pid = os.fork()
    if pid == 0:
        try:
            if libc.ptrace(PTRACE_TRACEME, 0, None, None) == 0:
                os.execv(binary, [binary, "--version"])
        finally:
            os._exit(127)
    _, status = os.waitpid(pid, 0)
    try:
        if not (os.WIFSTOPPED(status) and os.WSTOPSIG(status) == signal.SIGTRAP):
            sys.exit("expected %s to stop after execve under ptrace, got wait status %#x" % (binary, status))
        with open("/proc/%d/maps" % pid) as maps:
            starts = [int(f[0].split("-")[0], 16) for f in (line.split(None, 5) for line in maps)
                      if len(f) == 6 and f[5].rstrip("\n") == binary]
        if not starts:
            sys.exit("no mapping of %s in /proc/%d/maps" % (binary, pid))
        return min(starts)
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)

addresses = [load_address() for _ in range(runs)]
print("load addresses: %s (linked at %#x)" % (" ".join("%#x" % a for a in addresses), linked))
sys.exit(0 if len(set(addresses)) > 1 and linked not in addresses else 1)
EOF
}

check "the helper is a position-independent executable (ELF type DYN, PIE flag)" is_pie "$helper"
check "the helper is loaded at a different address on every run (ASLR, 4 runs)" loaded_at_random_addresses "$helper"
if [ "$link" = static ]; then
    check "static: no program interpreter (INTERP)" not bash -c "readelf -lW '$helper' | grep -q INTERP"
    check "static: no shared libraries (NEEDED)" not bash -c "readelf -d '$helper' | grep -q NEEDED"
else
    # glibc's own libraries only: the Swift runtime (regular), libstdc++, libgcc and libcap are
    # linked in, so no other library's search, version or constructor runs in the privileged
    # process. The Embedded build calls nothing in ld.so itself (no TLS or unwinder from
    # libstdc++/libgcc), so the loader is only its interpreter, not a NEEDED entry.
    # (Embedded: libm neither, Sources/CHelperEntry/ceil.c.)
    if [ "$runtime" = embedded ]; then glibc_needed="libc.so.6 "; else glibc_needed="ld-linux-x86-64.so.2 libc.so.6 libm.so.6 "; fi
    needed_is_glibc() {
        local got
        got=$(readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' ')
        [ "$got" = "$glibc_needed" ] || { echo "NEEDED: $got(expected $glibc_needed)"; return 1; }
    }
    check "dynamic: NEEDED is exactly glibc's ${glibc_needed% }" needed_is_glibc "$helper"
    check "dynamic: the program interpreter is glibc's /lib64/ld-linux-x86-64.so.2" \
        bash -c "readelf -lW '$helper' | grep -Fq '[Requesting program interpreter: /lib64/ld-linux-x86-64.so.2]'"
    check "dynamic: no text relocations (TEXTREL)" not bash -c "readelf -d '$helper' | grep -q TEXTREL"
    check "dynamic: ldd resolves every library from the system's directories" \
        bash -c "out=\$(ldd '$helper') || exit 1; ! printf '%s\n' \"\$out\" | grep -E '=>' | grep -vE '=> /(usr/)?lib(64)?/x86_64-linux-gnu/'"
fi
check "relocated data is made read-only after start-up (GNU_RELRO, BIND_NOW)" \
    bash -c "readelf -lW '$helper' | grep -q GNU_RELRO && readelf -d '$helper' | grep -Eq 'FLAGS.*(BIND_NOW| NOW)'"

# --- contents ---------------------------------------------------------------------------------

check "no RPATH/RUNPATH" not bash -c "readelf -d '$helper' | grep -Eq 'RPATH|RUNPATH'"
check "no shared Swift runtime, Foundation or ICU" not bash -c "ldd '$helper' 2>&1 | grep -Eiq 'swift|Foundation|icu'"
check "no test-hook marker in the release binary" not grep -q bridgekeeper-test-hooks-build "$helper"
check "the test build does carry the marker (the gate can fail)" grep -q bridgekeeper-test-hooks-build "$hooks"
check "the pre-init hook that empties the environment before the Swift runtime is linked in" bash -c "readelf -S '$helper' | grep -q preinit_array"
# The start-up the helper does not do (CHelperEntry replaces two runtime members): the helper's
# own system calls from execve to exit, run with no arguments (usage, exit 1), hold no open of
# /proc/self/maps (the runtime's argv grabber) and no look-up of swift-backtrace (its backtracer
# probe). The CLI runs on the unmodified runtime and shows both, so the gate can fail.
startup_probes() {
    local trace
    trace=$(strace -f -e trace=openat,open,newfstatat,stat,readlink "$1" 2>&1 >/dev/null) || true
    grep -E '/proc/self/maps|swift-backtrace|libexec/swift' <<<"$trace"
}
check "no /proc/self/maps read and no swift-backtrace probe at start-up (strace)" not startup_probes "$helper"
sees_both_probes() { startup_probes "$1" | grep -q /proc/self/maps && startup_probes "$1" | grep -q swift-backtrace; }
check "the probe check sees both in the CLI (unmodified runtime: the gate can fail)" sees_both_probes "$cli"
# Embedded Swift (the default helper): no Swift runtime at all, so no runtime start-up to defend.
# Its code is compiled for the Embedded mode (package modules mangled $e, none $s); it carries no
# runtime metadata (swift5_* sections) and none of the regular runtime's entry points that read
# it (conformance and metadata look-ups, dynamic casts); and no SWIFT_* variable name, since no
# code reads one. Each is checked on the CLI (regular runtime) too, which must show it.
own_modules() { for dir in "$root"/Sources/*/; do m=$(basename "$dir" | tr -- - _); printf '%s%s%s\n' "$1" "${#m}" "$m"; done; }
symbols_with_prefixes() { # binary prefix: the defined symbols of the package modules mangled with prefix ($s or $e)
    nm "$1" 2>/dev/null | awk '{ print $NF }' | grep -F -f <(own_modules "$2") | grep -c '^'"$2" || true
}
embedded_code() {
    local e s
    e=$(symbols_with_prefixes "$1" '$e'); s=$(symbols_with_prefixes "$1" '$s')
    echo "package-module symbols: $e Embedded (\$e), $s regular (\$s)"
    [ "$e" -gt 0 ] && [ "$s" = 0 ]
}
# Each lister prints what it found, one per line, and succeeds only if it found something.
runtime_pieces() { # what the regular runtime brings: metadata sections and its entry points
    local out
    out=$(readelf -SW "$1" | grep -oE 'swift5_[a-z_]+' | sort -u
          nm "$1" 2>/dev/null | awk '{ print $NF }' | grep -E '^(swift_conformsToProtocol|swift_getGenericMetadata|swift_getTypeByMangledNameInContext|swift_dynamicCast|swift_getEnumCaseMultiPayload|_swift_stdlib_getUnsafeArgvArgc|swift_copyAuxiliaryExecutablePath)$')
    [ -n "$out" ] && printf '%s\n' "$out"
}
# The strings of what is loaded: without the debug sections (they go to the dbgsym package, and
# name C macros of the headers such as SWIFT_ATTR_SUPPORTS_SENDING, which nothing reads).
loaded_strings() { local tmp; tmp=$(mktemp); strip --strip-debug -o "$tmp" "$1" && strings -a "$tmp"; rm -f "$tmp"; }
swift_variables() { local out; out=$(loaded_strings "$1" | grep -oE 'SWIFT_[A-Z_]{3,}' | sort -u); [ -n "$out" ] && printf '%s\n' "$out"; }
at_least() { # N lister binary: the lister finds at least N things
    local n=$1 got; shift
    got=$("$@" | wc -l)
    [ "$got" -ge "$n" ] || { echo "found $got, expected at least $n:"; "$@"; return 1; }
}
if [ "$runtime" = embedded ]; then
    check "embedded: the package modules are compiled for Embedded Swift (\$e-mangled, none \$s)" embedded_code "$helper"
    check "embedded: the CLI's are not (regular runtime: the gate can fail)" not embedded_code "$cli"
    check "embedded: no Swift runtime metadata sections or regular-runtime entry points" not runtime_pieces "$helper"
    check "embedded: the CLI has both (the gate can fail)" at_least 5 runtime_pieces "$cli"
    check "embedded: no SWIFT_* variable name in the helper (no runtime reads one)" not swift_variables "$helper"
    check "embedded: the CLI has at least 10 (the gate can fail)" at_least 10 swift_variables "$cli"
fi
check "no ArgumentParser symbols in the helper" not bash -c "nm '$helper' 2>/dev/null | grep -q ArgumentParser"
check "no Foundation symbols in the helper" not bash -c "nm '$helper' 2>/dev/null | grep -q '10Foundation'"

# --- runtime checks kept ----------------------------------------------------------------------

check "no -Ounchecked in the build configuration" not grep -rq -- -Ounchecked "$root/Makefile" "$root/Package.swift" "$root/scripts/embedded-helper.sh"

# Swift's checked arithmetic compiles to an add/sub/mul followed by a branch on the CPU's
# overflow flag to a trap; -Ounchecked removes them all. Counts those branches in the functions
# of the package's own modules (mangled names $s<length><Module>, or $e<length><Module> for
# Embedded Swift), not in the prebuilt runtime (which keeps its checks whatever we build with).
# Measured: -O 20, -Ounchecked 0.
overflow_checks_in_own_code() {
    local bin=$1 machine branch prefixes
    machine=$(readelf -h "$bin" | sed -n 's/^ *Machine: *//p')
    case $machine in
        *X86-64*) branch='j(n)?o' ;;
        *AArch64*) branch='b\.(vs|vc)' ;;
        *) echo "no overflow-branch pattern for machine '$machine'"; return 1 ;;
    esac
    prefixes=$(for dir in "$root"/Sources/*/; do m=$(basename "$dir" | tr -- - _); printf '%s|' "\$s${#m}$m" "\$e${#m}$m"; done)
    objdump -d --no-show-raw-insn "$bin" | awk -v prefixes="${prefixes%|}" -v branch="$branch" '
        /^[0-9a-f]+ <.*>:$/ { name = substr($2, 2); ours = 0
            n = split(prefixes, p, "|"); for (i = 1; i <= n; i++) if (index(name, p[i]) == 1) ours = 1
            functions += ours; next }
        ours && $0 ~ ("\t" branch "[ \t]") { branches++ }
        END { printf "%d overflow branches in %d functions of the package modules\n", branches, functions
              exit !(functions > 0 && branches > 0) }'
}
check "release build keeps overflow checks (overflow branches in the helper's own machine code)" overflow_checks_in_own_code "$helper"

# --- the module graph says what the code does (issue 8) -----------------------------------------

# For every target (tests included), the package modules it imports must be exactly its declared
# dependencies: an undeclared import that builds only through another target's dependency, or a
# declared dependency nobody imports, is a lie in the graph. Toolchain modules (Glibc, Foundation,
# Testing, ...) need no declaration; any other unknown import fails. C targets "import" the
# targets whose public headers they #include.
imports_match_dependencies() {
    local json
    json=$(cd "$root" && swift package dump-package 2>&1) || { echo "swift package dump-package failed:"; echo "$json"; return 1; }
    local toolchain
    toolchain=$(swift -print-target-info 2>/dev/null) || { echo "swift -print-target-info failed"; return 1; }
    python3 - "$root" "$json" "$toolchain" <<'EOF'
import json, os, re, sys
root, package, target_info = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
import_paths = target_info["paths"]["runtimeLibraryImportPaths"]
def toolchain_module(m):
    return any(os.path.exists(os.path.join(p, m + ".swiftmodule")) for p in import_paths)
def module_name(target):
    return re.sub(r"[^A-Za-z0-9_]", "_", target)
targets = {t["name"]: t for t in package["targets"]}
modules = {module_name(n): n for n in targets}
def directory(t):
    if t.get("path"):
        return os.path.join(root, t["path"])
    return os.path.join(root, "Tests" if t["type"] == "test" else "Sources", t["name"])
headers = {}  # public header file name -> target
for name, t in targets.items():
    include = os.path.join(directory(t), t.get("publicHeadersPath") or "include")
    if os.path.isdir(include):
        for h in os.listdir(include):
            headers[h] = name
swift_import = re.compile(r"^\s*(?:@\w+(?:\([^)]*\))?\s+)*(?:(?:public|package|internal|fileprivate|private)\s+)?"
                          r"import\s+(?:(?:typealias|struct|class|enum|protocol|let|var|func)\s+)?([A-Za-z_]\w*)")
c_include = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]')
problems = []
for name, t in sorted(targets.items()):
    if t["type"] in ("system", "binary", "plugin", "macro"):
        continue
    declared = set()
    for d in t["dependencies"]:
        kind, value = next(iter(d.items()))
        declared.add(module_name(value[0]))  # byName/target: a target; product: named like its module
    products = {module_name(next(iter(d.values()))[0]) for d in t["dependencies"] if "product" in d}
    imported = set()
    for base, _, files in os.walk(directory(t)):
        for f in files:
            path = os.path.join(base, f)
            with open(path, errors="replace") as source:
                for line in source:
                    if f.endswith(".swift"):
                        m = swift_import.match(line)
                        if not m:
                            continue
                        mod = m.group(1)
                        if mod in modules or mod in products:
                            if mod != module_name(name):
                                imported.add(mod)
                        elif not toolchain_module(mod):
                            problems.append("%s: %s imports %s: not a target, a declared product or a toolchain module"
                                            % (name, os.path.relpath(path, root), mod))
                    elif f.endswith((".c", ".h", ".cpp", ".m")):
                        m = c_include.match(line)
                        if m and headers.get(os.path.basename(m.group(1)), name) != name:
                            imported.add(module_name(headers[os.path.basename(m.group(1))]))
    for mod in sorted(imported - declared):
        problems.append("%s imports %s but does not declare it" % (name, modules.get(mod, mod)))
    for mod in sorted(declared - imported):
        problems.append("%s declares %s but never imports it" % (name, modules.get(mod, mod)))
print("\n".join(problems) if problems else "%d targets: imports = declared dependencies" % len(targets))
sys.exit(1 if problems else 0)
EOF
}
check "every target imports exactly its declared dependencies (Package.swift)" imports_match_dependencies

finish
