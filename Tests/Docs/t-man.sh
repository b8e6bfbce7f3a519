#!/bin/bash
# The man pages and shell completions (issue 11, "Man pages"): each page renders with `man -l`,
# `groff -ww -z -mdoc` and `mandoc -T lint` report nothing; bridgekeeper(1) has every subcommand,
# option and argument of the CLI's --help; bridgekeeper-helper(8) has every message form of the
# helper's message files; the completion scripts load; `make install-docs` / `uninstall-docs`
# put the files where the distributions look and take them away again.
#
#   Tests/Docs/t-man.sh      BK_CLI overrides the CLI (default .build/release/bridgekeeper);
#                            the completions must be in .build/completions (make completions).
# Output: PASS/FAIL per check (a failing check's details follow, prefixed '#'), then exactly one
# `N passed, N failed` line. No root needed; nothing outside a temporary directory is written.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
cli=${BK_CLI:-$root/.build/release/bridgekeeper}
completions=$root/.build/completions
pages=(man/bridgekeeper.1 man/bridge.conf.5 man/bridgekeeper-helper.8)
messages=(Sources/BridgeHelper/Messages.swift Sources/HelperArguments/Messages.swift Sources/BridgeACL/Messages.swift)
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
finish() { echo "$pass passed, $fail failed"; [ "$fail" = 0 ]; exit; }
precondition() { echo "FAIL precondition: $*"; fail=$((fail + 1)); finish; }
for tool in man groff mandoc python3 make; do
    command -v "$tool" >/dev/null || precondition "$tool is missing (make deps-test installs groff-base, man-db, mandoc, python3)"
done
[ -x "$cli" ] || precondition "no CLI at $cli (make cli)"
for shell in bash zsh fish; do
    [ -s "$completions/bridgekeeper.$shell" ] || precondition "no $completions/bridgekeeper.$shell (make completions)"
done
tmp=$(mktemp -d) || precondition "mktemp -d failed"
trap 'rm -rf "$tmp"' EXIT

# --- rendering and lint -------------------------------------------------------------------------

# man -l with groff's warnings on: exit 0, nothing on stderr, and the page's NAME line in the text.
renders() {
    local page=$1 name
    name=$(sed -n 's/^\.Nm \([^ ]*\).*/\1/p' "$page" | head -1)
    MANWIDTH=80 man --warnings=w -l "$page" >"$tmp/out" 2>"$tmp/err" || { cat "$tmp/err"; return 1; }
    [ ! -s "$tmp/err" ] || { cat "$tmp/err"; return 1; }
    grep -q "^     $name " "$tmp/out" || { echo "no NAME line for '$name' in the rendered page"; return 1; }
}
# groff: every warning (-ww), no output (-z): must print nothing and exit 0.
groff_quiet() { local out; out=$(groff -ww -z -mdoc "$1" 2>&1) && [ -z "$out" ] || { printf '%s\n' "$out"; return 1; } }
# mandoc -T lint at every level (style included). Two STYLE messages depend on this host and
# not on the page: a cross reference to a page that is not installed here (our own pages are
# not, before `make install`) and mandoc's own database being absent or stale.
mandoc_quiet() {
    local out
    out=$(mandoc -T lint "$1" 2>&1 | grep -v -e 'STYLE: referenced manual not found' -e 'outdated mandoc.db')
    [ -z "$out" ] || { printf '%s\n' "$out"; return 1; }
}
for page in "${pages[@]}"; do
    check "man -l renders $page without a warning" renders "$page"
    check "groff -ww -z -mdoc $page prints nothing" groff_quiet "$page"
    check "mandoc -T lint $page prints nothing" mandoc_quiet "$page"
done

# --- coverage -----------------------------------------------------------------------------------

check "bridgekeeper.1 has every subcommand, option and argument of $cli --help" \
    python3 Tests/Docs/mancheck.py cli man/bridgekeeper.1 "$cli"
check "bridgekeeper-helper.8 has every message form of ${messages[*]}" \
    python3 Tests/Docs/mancheck.py messages man/bridgekeeper-helper.8 "${messages[@]}"

# Negative controls: the coverage checks must fail on a page with one item taken out.
fails_without() { # page, sed expression that removes one item, then the mancheck arguments
    local page=$1 expression=$2; shift 2
    local copy=$tmp/$(basename "$page")
    sed "$expression" "$page" >"$copy"
    cmp -s "$page" "$copy" && { echo "the sed expression '$expression' changed nothing"; return 1; }
    if python3 Tests/Docs/mancheck.py "$1" "$copy" "${@:2}" >"$tmp/neg"; then
        echo "the check passed on a page without the item"; return 1
    fi
    grep -q . "$tmp/neg" || { echo "the check failed without naming what is missing"; return 1; }
}
check "the CLI check fails when an option is missing (lint --strict)" \
    fails_without man/bridgekeeper.1 '/^\.It Fl \\-strict$/d' cli "$cli"
check "the CLI check fails when a subcommand is missing (taps)" \
    fails_without man/bridgekeeper.1 's/^\.Ss bridgekeeper taps$/.Ss bridgekeeper inventory/' cli "$cli"
check "the message check fails when a message form is missing (no free port)" \
    fails_without man/bridgekeeper-helper.8 '/has no free port/d' messages "${messages[@]}"

# --- completions --------------------------------------------------------------------------------

# The installed scripts are the generator's current output (a stale .build/completions fails).
current() {
    local shell
    for shell in bash zsh fish; do
        "$cli" --generate-completion-script "$shell" >"$tmp/now.$shell" || return 1
        cmp "$completions/bridgekeeper.$shell" "$tmp/now.$shell" || { echo "$shell: run make completions"; return 1; }
    done
}
check "the completion scripts are the CLI's current ones" current
check "bash -n accepts the bash completion" bash -n "$completions/bridgekeeper.bash"
# Sourced in a fresh interactive-less bash: `complete -p bridgekeeper` names the function.
loads() {
    local out
    out=$(bash --norc --noprofile -c 'source "$1" && complete -p bridgekeeper' _ "$completions/bridgekeeper.bash") || return 1
    case $out in "complete "*"-F _bridgekeeper bridgekeeper") ;; *) echo "unexpected: $out"; return 1 ;; esac
}
check "sourcing the bash completion registers 'complete -p bridgekeeper'" loads
# What bash offers for a command line (the words up to the cursor), one word a line.
offers() {
    bash --norc --noprofile -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
        COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; _bridgekeeper bridgekeeper "${!#}" "${@: -2:1}"
        printf "%s\n" "${COMPREPLY[@]}"' _ "$completions/bridgekeeper.bash" "$@"
}
completes() { # expected word, then the command line
    local want=$1 out; shift
    out=$(offers "$@") || return 1
    grep -qx -- "$want" <<<"$out" || { echo "'$*' offers: $out"; return 1; }
}
check "bash completes 'bridgekeeper l' to lint" completes lint bridgekeeper l
check "bash completes 'bridgekeeper lint --s' to --strict" completes --strict bridgekeeper lint --s
subcommands_offered() {
    local shell sub
    for shell in bash zsh fish; do
        for sub in try explain matrix lint taps; do
            grep -q "$sub" "$completions/bridgekeeper.$shell" || { echo "$shell: no '$sub'"; return 1; }
        done
        ! grep -q '__evaluate' "$completions/bridgekeeper.$shell" || { echo "$shell offers the internal __evaluate"; return 1; }
    done
    head -1 "$completions/bridgekeeper.zsh" | grep -qx '#compdef bridgekeeper' || { echo "zsh: no '#compdef bridgekeeper' line"; return 1; }
    grep -q "^complete -c 'bridgekeeper'" "$completions/bridgekeeper.fish" || { echo "fish: no 'complete -c bridgekeeper'"; return 1; }
}
check "the completions offer the subcommands and not the internal one" subcommands_offered

# --- install-docs / uninstall-docs --------------------------------------------------------------

installed=(share/man/man1/bridgekeeper.1 share/man/man5/bridge.conf.5 share/man/man8/bridgekeeper-helper.8
           share/bash-completion/completions/bridgekeeper share/zsh/vendor-completions/_bridgekeeper
           share/fish/vendor_completions.d/bridgekeeper.fish)
installs() {
    make -s install-docs DESTDIR="$tmp/dest" PREFIX=/usr >"$tmp/make" 2>&1 || { cat "$tmp/make"; return 1; }
    local file
    for file in "${installed[@]}"; do
        [ -f "$tmp/dest/usr/$file" ] || { echo "missing /usr/$file"; find "$tmp/dest" -type f; return 1; }
        [ "$(stat -c %a "$tmp/dest/usr/$file")" = 644 ] || { echo "/usr/$file is mode $(stat -c %a "$tmp/dest/usr/$file")"; return 1; }
    done
    cmp man/bridge.conf.5 "$tmp/dest/usr/share/man/man5/bridge.conf.5" || return 1
    # man finds the installed pages by name through a manpath.
    MANWIDTH=80 man -M "$tmp/dest/usr/share/man" 5 bridge.conf >/dev/null 2>"$tmp/err" || { cat "$tmp/err"; return 1; }
}
check "make install-docs puts the pages and completions under PREFIX/share, mode 0644" installs
uninstalls() {
    make -s uninstall-docs DESTDIR="$tmp/dest" PREFIX=/usr >"$tmp/make" 2>&1 || { cat "$tmp/make"; return 1; }
    local left
    left=$(find "$tmp/dest" -type f)
    [ -z "$left" ] || { echo "left behind: $left"; return 1; }
}
check "make uninstall-docs removes every one of them" uninstalls

finish
