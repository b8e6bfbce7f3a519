#!/bin/bash
# The admin CLI's own surface: the exact `--help` texts (golden, at a fixed width of 80 columns
# through COLUMNS, and the discussion's paragraphs unbroken at a wide one), and `try --hold`
# values that cannot be slept refused in one line before any helper runs.
set -u
# shellcheck source=Tests/Integration/lib.sh
source "$(dirname "$0")/lib.sh"
bk_enter_sandbox "$@"
it_setup

it_install_helpers
bk_bridge br0 1400
it_acl_text 'allow br0\n'

# golden NAME WIDTH EXPECTED-FILE -- ARGS...: the CLI's stdout byte for byte, empty stderr, exit 0.
# The environment is emptied but for COLUMNS, which ArgumentParser wraps to.
golden() {
    local name=$1 width=$2 expected=$3
    shift 4
    it_begin
    it_run env -i COLUMNS="$width" "$CLI" "$@"
    it_expect_finished
    it_expect "exit status" 0 "$IT_RC"
    it_expect stderr "" "$IT_ERR"
    printf '%s' "$IT_OUT" >"$BK_SCRATCH/got.txt"
    if ! cmp -s "$expected" "$BK_SCRATCH/got.txt"; then
        it_problem "expected stdout as in the golden text, got a difference: $(it_show "$(diff "$expected" "$BK_SCRATCH/got.txt" | head -n 12)")"
    fi
    it_end "$name"
}

cat >"$BK_SCRATCH/help.txt" <<'EOF'
OVERVIEW: Tools around bridgekeeper-helper, the qemu-bridge-helper replacement.

USAGE: bridgekeeper <subcommand>

OPTIONS:
  --version               Show the version.
  -h, --help              Show help information.

SUBCOMMANDS:
  try                     Run a bridge helper the way QEMU does, without a
                          guest, and describe the TAP it returns.
  explain                 Explain whether a user may put a guest on a bridge,
                          and why.
  matrix                  Show which users may put guests on which bridges.
  lint                    Check an ACL file and its includes the way
                          bridgekeeper-helper reads them (like visudo -c).
  taps                    List the TAP devices of this network namespace with
                          their holders and bridgekeeper marks.
  doctor                  Check this host for bridged guests and say how to fix
                          what is wrong.

  See 'bridgekeeper help <subcommand>' for detailed help.
EOF
golden t-cli/help/top-level 80 "$BK_SCRATCH/help.txt" -- --help

# The text ends with an empty line: ArgumentParser's own layout.
cat >"$BK_SCRATCH/try-help.txt" <<'EOF'
OVERVIEW: Run a bridge helper the way QEMU does, without a guest, and describe
the TAP it returns.

Prints one line of key=value fields on stdout: result=attached with the TAP's
name, bridge, vnet_hdr, mtu, mac, up and owner, or result=refused. The helper's
stderr is copied to stderr unchanged.

Exit status: 0 attached, 1 refused, 3 if the helper broke the protocol (exit 0
without a descriptor, or a descriptor with a non-zero exit), 64 for an invalid
command line.

USAGE: bridgekeeper try [--helper <helper>] [--br <br>] [--no-vnet] [--hold <hold>] [--hold-until-eof] [--persist] [--set-owner <uid>] [<arguments> ...]

ARGUMENTS:
  <arguments>             Exact helper arguments instead of the defaults; {fd}
                          becomes the socket's number.

OPTIONS:
  --helper <helper>       The helper to run. (default:
                          /usr/local/libexec/bridgekeeper-helper)
  --br <br>               The bridge to ask for. (default: br0)
  --no-vnet               Do not pass --use-vnet.
  --hold <hold>           Keep the TAP open this many seconds (0 to 86400)
                          after printing (closing it removes the TAP).
                          (default: 0.0)
  --hold-until-eof        Keep the TAP open until standard input reaches end of
                          file.
  --persist               Make the TAP persistent through the received
                          descriptor (what a hostile QEMU could do).
  --set-owner <uid>       Change the TAP's tun owner to UID through the
                          received descriptor (TUNSETOWNER needs no privilege).
  --version               Show the version.
  -h, --help              Show help information.

EOF
golden t-cli/help/try 80 "$BK_SCRATCH/try-help.txt" -- try --help
golden t-cli/help/try-via-help-subcommand 80 "$BK_SCRATCH/try-help.txt" -- help try

# At 400 columns nothing needs wrapping, so every paragraph of the discussion is one line: a
# hard line break inside a sentence in the source would show up here.
it_begin
it_run env -i COLUMNS=400 "$CLI" try --help
it_expect "exit status" 0 "$IT_RC"
it_expect "discussion" "Prints one line of key=value fields on stdout: result=attached with the TAP's name, bridge, vnet_hdr, mtu, mac, up and owner, or result=refused. The helper's stderr is copied to stderr unchanged.
Exit status: 0 attached, 1 refused, 3 if the helper broke the protocol (exit 0 without a descriptor, or a descriptor with a non-zero exit), 64 for an invalid command line." \
    "$(printf '%s' "$IT_OUT" | sed -n '3,5p' | grep -v '^$')"
it_end t-cli/help/try-paragraphs-unbroken

# --hold outside 0...86400 seconds (1e12 used to trap converting to microseconds): one line on
# stderr, exit status 64, nothing on stdout, and no helper ran (no TAP appeared).
for value in 1e12 86400.5 -1 nan inf 4294967296; do
    it_begin
    it_run "${NOBODY[@]}" "$CLI" try --helper "$H_SETUID" --br br0 "--hold=$value"
    it_expect_finished
    it_expect "exit status" 64 "$IT_RC"
    it_expect stdout "" "$IT_OUT"
    it_expect stderr "Error: --hold must be between 0 and 86400 seconds, got '$value' (--hold-until-eof holds the TAP longer)"$'\n' "$IT_ERR"
    it_expect_no_taps
    it_end "t-cli/hold/refused/$value"
done

# The separate form of the option is refused the same way, with the value as typed.
it_begin
it_run "${NOBODY[@]}" "$CLI" try --helper "$H_SETUID" --hold 1e300 --br br0
it_expect "exit status" 64 "$IT_RC"
it_expect stderr "Error: --hold must be between 0 and 86400 seconds, got '1e300' (--hold-until-eof holds the TAP longer)"$'\n' "$IT_ERR"
it_expect_no_taps
it_end "t-cli/hold/refused/separate-value"

# A fractional hold in range still attaches, keeps the TAP for that long, and removes it after.
it_check t-cli/hold/accepted/0.3 attached "" tap=tap0 bridge=br0 -- \
    "${NOBODY[@]}" "$CLI" try --helper "$H_SETUID" --br br0 --hold 0.3
it_begin
start=$(date +%s%N)
it_run "${NOBODY[@]}" "$CLI" try --helper "$H_SETUID" --br br0 --hold=0.5
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
it_expect "exit status" 0 "$IT_RC"
[ "$elapsed_ms" -ge 500 ] || it_problem "expected the client to hold the TAP for at least 500 ms, got $elapsed_ms ms"
it_expect_no_taps
it_end t-cli/hold/accepted/sleeps

it_summary
